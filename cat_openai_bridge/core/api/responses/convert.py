"""Responses `instructions`, `input` items and `tools` -> the neutral conversation and client tools of a Cat turn."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from ...turn.builder import ConversationBuilder, client_tool, offer, role_refused
from ...turn.conversation import ClientTool, Conversation, Part, TextPart, ToolCall
from ...turn.errors import invalid_request
from .protocol import (
    FunctionCallInput,
    FunctionCallOutput,
    FunctionToolParam,
    InputItem,
    InputText,
    NamedToolChoice,
    ResponsesRequest,
)

STORED_ITEMS = TypeAdapter(list[InputItem])


def _parts(content: str | list, where: str, builder: ConversationBuilder, user: bool) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    return [
        TextPart(part.text)
        if isinstance(part, InputText)
        else builder.image(part.image_url or "", f"{where}.[{j}]", "image_url", user=user)
        for j, part in enumerate(content)
    ]


def _add(item: InputItem, param: str, builder: ConversationBuilder) -> None:
    if isinstance(item, FunctionCallInput):
        builder.calls([ToolCall(item.call_id, item.name, item.arguments)], [], f"{param}.type", join=True)
    elif isinstance(item, FunctionCallOutput):
        if not builder.allow_tools:
            raise role_refused("tool", f"{param}.type")
        builder.check_answers(item.call_id, f"{param}.call_id")
        output = item.output if isinstance(item.output, str) else "".join(p.text for p in item.output)
        builder.add("tool", [TextPart(output)] if output else [], item.call_id)
    elif item.role in ("system", "developer"):
        parts = _parts(item.content, f"{param}.content", builder, False)
        builder.instruct("".join(p.text for p in parts if isinstance(p, TextPart)))
    else:
        builder.add(item.role, _parts(item.content, f"{param}.content", builder, item.role == "user"))


def conversation_of(
    body: ResponsesRequest, stored: list[dict[str, Any]], *, allow_images: bool, allow_tools: bool
) -> Conversation:
    """`instructions`, then the stored items a continued response carries on from, then `input`."""
    builder = ConversationBuilder(allow_images=allow_images, allow_tools=allow_tools)
    builder.instruct(body.instructions or "")
    for i, item in enumerate(STORED_ITEMS.validate_python(stored)):
        _add(item, f"previous_response_id.[{i}]", builder)
    if not body.input:
        code = "invalid_value" if isinstance(body.input, str) else "empty_array"
        raise invalid_request("'input' must not be empty.", "input", code)
    if isinstance(body.input, str):
        builder.add("user", [TextPart(body.input)])
        return builder.finish("input", "input")
    for i, item in enumerate(body.input):
        _add(item, f"input.[{i}]", builder)
    return builder.finish("input", f"input.[{len(body.input) - 1}].content")


def function_tools(body: ResponsesRequest, allowed: bool) -> tuple[tuple[ClientTool, ...], str | None, list]:
    """The offered tools, the call `tool_choice` demands, and (name, parameters, strict) of each function."""
    declared = []
    for i, tool in enumerate(body.tools or []):
        if not isinstance(tool, FunctionToolParam):
            raise invalid_request(
                f"Invalid value for 'tools.[{i}].type': only 'function' tools are supported, got {tool.type!r}.",
                f"tools.[{i}].type",
                "unsupported_value",
            )
        declared.append(tool)
    offered = [client_tool(t.name, t.description, t.parameters) for t in declared]
    if isinstance(body.tool_choice, NamedToolChoice):  # Responses names the function flat
        tools, call = offer(offered, body.tool_choice.name, "tool_choice.name", allowed=allowed)
    else:
        tools, call = offer(offered, body.tool_choice, allowed=allowed)
    return tools, call, [(t.name, t.parameters, bool(t.strict)) for t in declared]
