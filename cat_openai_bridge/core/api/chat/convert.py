"""Validated `messages` and `tools` -> the neutral conversation (the whole history: regenerate relies on it)."""

from __future__ import annotations

from collections.abc import Sequence

from ...turn.builder import ConversationBuilder, client_tool, missing, offer, role_refused
from ...turn.conversation import ClientTool, Conversation, Part, TextPart, ToolCall
from ...turn.errors import invalid_request
from .protocol import (
    AssistantMessage,
    ChatMessage,
    Content,
    CustomTool,
    FunctionMessage,
    FunctionTool,
    ImageContentPart,
    NamedToolChoice,
    RefusalContentPart,
    TextContentPart,
    Tool,
    ToolChoice,
    ToolMessage,
    UnsupportedContentPart,
)


def content_parts(content: Content, param: str, builder: ConversationBuilder, user: bool = False) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for i, part in enumerate(content):
        where = f"{param}.[{i}]"
        if isinstance(part, TextContentPart):
            parts.append(TextPart(part.text))
        elif isinstance(part, ImageContentPart):
            parts.append(builder.image(part.url, where, "image_url.url", user=user))
        elif isinstance(part, (UnsupportedContentPart, RefusalContentPart)):
            raise invalid_request(
                f"Content parts of type '{part.type}' are not supported in '{param}'.",
                f"{where}.type",
                "unsupported_content",
            )
    return parts


def _required(content: Content | None, param: str) -> Content:
    if content is None:
        raise missing(param)
    return content


def _tool_turn(msg: ToolMessage, param: str, builder: ConversationBuilder) -> None:
    if not msg.tool_call_id:
        raise missing(f"{param}.tool_call_id")
    content = _required(msg.content, f"{param}.content")
    builder.check_answers(msg.tool_call_id, f"{param}.role")
    builder.add("tool", content_parts(content, f"{param}.content", builder), msg.tool_call_id, f"{param}.content")


def _calls_turn(msg: AssistantMessage, param: str, builder: ConversationBuilder) -> None:
    builder.check_calls(f"{param}.tool_calls")  # before the calls' own fields
    calls = []
    for j, call in enumerate(msg.tool_calls or ()):
        if not call.id:
            raise missing(f"{param}.tool_calls.[{j}].id")
        calls.append(ToolCall(call.id, call.function.name, call.function.arguments))
    parts = content_parts(msg.content, f"{param}.content", builder) if msg.content is not None else []
    builder.calls(calls, parts, f"{param}.tool_calls")


def _add(msg: ChatMessage, param: str, builder: ConversationBuilder) -> None:
    if msg.role in ("system", "developer"):
        if msg.content is not None:
            parts = content_parts(msg.content, f"{param}.content", builder)
            builder.instruct("".join(p.text for p in parts if isinstance(p, TextPart)))
    elif isinstance(msg, FunctionMessage) or (isinstance(msg, ToolMessage) and not builder.allow_tools):
        raise role_refused(msg.role, f"{param}.role")
    elif isinstance(msg, ToolMessage):
        _tool_turn(msg, param, builder)
    elif isinstance(msg, AssistantMessage) and msg.tool_calls:
        _calls_turn(msg, param, builder)
    else:
        where = f"{param}.content"
        content = _required(msg.content, where)
        builder.add(msg.role, content_parts(content, where, builder, user=msg.role == "user"), param=where)


def build_conversation(
    messages: Sequence[ChatMessage],
    *,
    allow_images: bool = True,
    allow_tools: bool = False,
    max_parts: int | None = None,
) -> Conversation:
    builder = ConversationBuilder(allow_images=allow_images, allow_tools=allow_tools, max_parts=max_parts)
    for i, msg in enumerate(messages):
        _add(msg, f"messages.[{i}]", builder)
    return builder.finish("messages", f"messages.[{len(messages) - 1}].content")


def client_tools(tools: list[Tool] | None, choice: ToolChoice | None) -> tuple[tuple[ClientTool, ...], str | None]:
    offered = []
    for i, tool in enumerate(tools or ()):
        if isinstance(tool, CustomTool):
            raise invalid_request(
                f"Invalid value for 'tools.[{i}].type': only 'function' tools are supported.",
                f"tools.[{i}].type",
                "invalid_value",
            )
        offered.append(client_tool(tool.function.name, tool.function.description, tool.function.parameters))
    if isinstance(choice, NamedToolChoice):
        return offer(offered, choice.function.name, "tool_choice.function.name")
    return offer(offered, choice)


def function_specs(tools: list[Tool] | None) -> list[tuple[str, dict | None, bool]]:
    """(name, parameters, strict) of each function tool, for the strict-mode checks."""
    return [
        (t.function.name, t.function.parameters, bool(t.function.strict))
        for t in tools or ()
        if isinstance(t, FunctionTool)
    ]
