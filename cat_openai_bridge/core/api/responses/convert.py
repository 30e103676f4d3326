"""Responses `instructions`, `input` and `tools` as the chat messages and client tools a Cat turn takes.

Responses declares tools flat (`{"type": "function", "name", "parameters"}`),
returns calls as `function_call` output items and takes results back as
`function_call_output` input items; the Cat's turn sees the same client tools,
assistant `tool_calls` and `tool` messages as a chat completion.
"""

from __future__ import annotations

from ...turn.conversation import ClientTool
from ...turn.errors import BridgeError, invalid_request
from ..chat.convert import client_tools
from ..chat.protocol import (
    AssistantMessage,
    ChatMessage,
    ContentPart,
    FunctionCallParam,
    FunctionDefinition,
    FunctionTool,
    ImageContentPart,
    NamedFunction,
    SystemMessage,
    TextContentPart,
    ToolCallParam,
    ToolMessage,
    UserMessage,
)
from ..chat.protocol import (
    NamedToolChoice as ChatNamedToolChoice,
)
from .protocol import (
    FunctionCallInput,
    FunctionCallOutput,
    FunctionToolParam,
    InputItem,
    InputText,
    NamedToolChoice,
    ResponsesRequest,
)

_ROLES = {"user": UserMessage, "assistant": AssistantMessage, "system": SystemMessage, "developer": SystemMessage}


def _content(content: str | list) -> str | list[ContentPart]:
    if isinstance(content, str):
        return content
    return [
        TextContentPart(type="text", text=part.text)
        if isinstance(part, InputText)
        else ImageContentPart(type="image_url", image_url=part.image_url or "")
        for part in content
    ]


def _add_call(messages: list[ChatMessage], item: FunctionCallInput) -> None:
    call = ToolCallParam(id=item.call_id, function=FunctionCallParam(name=item.name, arguments=item.arguments))
    last = messages[-1] if messages else None
    if isinstance(last, AssistantMessage):  # the text before the calls, or parallel calls
        messages[-1] = AssistantMessage(
            role="assistant", content=last.content, tool_calls=[*(last.tool_calls or []), call]
        )
    else:
        messages.append(AssistantMessage(role="assistant", content=None, tool_calls=[call]))


def _add_item(messages: list[ChatMessage], item: InputItem) -> None:
    if isinstance(item, FunctionCallInput):
        _add_call(messages, item)
    elif isinstance(item, FunctionCallOutput):
        output = item.output if isinstance(item.output, str) else "".join(p.text for p in item.output)
        messages.append(ToolMessage(role="tool", tool_call_id=item.call_id, content=output))
    else:
        messages.append(_ROLES[item.role](role=item.role, content=_content(item.content)))


def messages_of(body: ResponsesRequest) -> list[ChatMessage]:
    """`instructions` + `input` as chat messages."""
    messages: list[ChatMessage] = []
    if body.instructions:
        messages.append(SystemMessage(role="system", content=body.instructions))
    if isinstance(body.input, str):
        if not body.input:
            raise invalid_request("'input' must not be empty.", "input", "invalid_value")
        return [*messages, UserMessage(role="user", content=body.input)]
    if not body.input:
        raise invalid_request("'input' must not be empty.", "input", "empty_array")
    for item in body.input:
        _add_item(messages, item)
    return messages


def function_tools(body: ResponsesRequest, allowed: bool) -> tuple[tuple[ClientTool, ...], str | None, list]:
    """The request's function tools (validated with Responses' own parameter names, refused where the Cat
    cannot hand calls back), the call `tool_choice` demands, and the tools in chat form."""
    nested = []
    for i, tool in enumerate(body.tools or []):
        if not isinstance(tool, FunctionToolParam):
            raise invalid_request(
                f"Invalid value for 'tools.[{i}].type': only 'function' tools are supported, got {tool.type!r}.",
                f"tools.[{i}].type",
                "unsupported_value",
            )
        nested.append(
            FunctionTool(
                type="function",
                function=FunctionDefinition(
                    name=tool.name, description=tool.description, parameters=tool.parameters, strict=tool.strict
                ),
            )
        )
    if nested and not allowed:
        raise invalid_request(
            "Client-declared tools are not supported on this Cat version (its agent cannot hand tool calls back); "
            "send the request without 'tools'.",
            "tools",
            "unsupported_parameter",
        )
    choice = body.tool_choice
    if isinstance(choice, NamedToolChoice):  # Responses names the function flat
        choice = ChatNamedToolChoice(type="function", function=NamedFunction(name=choice.name))
    try:
        offered, call = client_tools(nested, choice)
    except BridgeError as exc:
        if exc.param == "tool_choice.function.name":
            exc.param = "tool_choice.name"
        raise
    return offered, call, nested
