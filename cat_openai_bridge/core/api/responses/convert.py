"""Responses `instructions`, `input` items and `tools` -> the neutral conversation and client tools of a Cat turn."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from ...turn.builder import ConversationBuilder, client_tool, missing, offer, role_refused
from ...turn.conversation import ClientTool, Conversation, Part, TextPart, ToolCall
from ...turn.demands import strict_parameters
from ...turn.errors import invalid_request
from .protocol import (
    HOSTED_TOOLS,
    CustomToolCallInput,
    CustomToolParam,
    FunctionCallInput,
    FunctionCallOutput,
    HostedToolParam,
    InputItem,
    InputText,
    NamedToolChoice,
    NamespaceToolParam,
    OtherToolChoice,
    ResponsesRequest,
)

STORED_ITEMS = TypeAdapter(list[InputItem])
CUSTOM_INPUT = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


def cat_name(namespace: str | None, name: str) -> str:
    """A namespaced tool's name for the Cat's agent: a plain name has no `__` after a namespace's."""
    return f"{namespace}__{name}" if namespace else name


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
    if isinstance(item, (FunctionCallInput, CustomToolCallInput)):
        arguments = item.arguments if isinstance(item, FunctionCallInput) else json.dumps({"input": item.input})
        call = ToolCall(item.call_id, cat_name(item.namespace, item.name), arguments)
        builder.calls([call], [], f"{param}.type", join=True)
    elif isinstance(item, FunctionCallOutput):
        if not builder.allow_tools:
            raise role_refused("tool", f"{param}.type")
        builder.check_answers(item.call_id, f"{param}.call_id")
        output = item.output if isinstance(item.output, str) else "".join(p.text for p in item.output)
        builder.add("tool", [TextPart(output)] if output else [], item.call_id, f"{param}.output")
    elif item.role in ("system", "developer"):
        parts = _parts(item.content, f"{param}.content", builder, False)
        builder.instruct("".join(p.text for p in parts if isinstance(p, TextPart)))
    else:
        where = f"{param}.content"
        builder.add(item.role, _parts(item.content, where, builder, item.role == "user"), param=where)


def conversation_of(
    body: ResponsesRequest,
    stored: list[dict[str, Any]],
    *,
    allow_images: bool,
    allow_tools: bool,
    max_parts: int | None = None,
) -> Conversation:
    """`instructions`, then the stored items a continued response carries on from, then `input`: `max_parts`
    counts them all, as the Cat is sent them all again."""
    builder = ConversationBuilder(allow_images=allow_images, allow_tools=allow_tools, max_parts=max_parts)
    builder.instruct(body.instructions or "")
    for i, item in enumerate(STORED_ITEMS.validate_python(stored)):
        _add(item, f"previous_response_id.[{i}]", builder)
    if not body.input:
        code = "invalid_value" if isinstance(body.input, str) else "empty_array"
        raise invalid_request("'input' must not be empty.", "input", code)
    if isinstance(body.input, str):
        builder.add("user", [TextPart(body.input)], param="input")
        return builder.finish("input", "input")
    for i, item in enumerate(body.input):
        _add(item, f"input.[{i}]", builder)
    return builder.finish("input", f"input.[{len(body.input) - 1}].content")


class Offered(NamedTuple):
    tools: tuple[ClientTool, ...]  # what the Cat's agent is offered
    call: str | None  # the call `tool_choice` demands
    strict: dict[str, dict]  # the checked parameters of each strict function
    skipped: tuple[str, ...]  # the hosted tool types left out


def _custom(tool: CustomToolParam, namespace: str | None) -> ClientTool:
    """Its free text goes in one string; a grammar is described to the model, not enforced."""
    fmt = tool.format or {}
    grammar = ""
    if fmt.get("type") == "grammar":
        grammar = f" It must match this {fmt.get('syntax', '')} grammar:\n{fmt.get('definition', '')}"
    text = f"{tool.description or ''}\n\nPass the tool's whole input as free text in `input`.{grammar}".strip()
    return ClientTool(cat_name(namespace, tool.name), text, CUSTOM_INPUT, namespace, custom=True)


def _forced(choice: OtherToolChoice) -> Exception:
    if choice.type in ("function", "custom"):
        return missing("tool_choice.name")
    if choice.type in (*HOSTED_TOOLS, "computer_use"):
        message = f"'tool_choice' forces the hosted tool {choice.type!r}, which this Cat cannot run."
        return invalid_request(message, "tool_choice", "unsupported_value")
    message = f"'tool_choice' of type {choice.type!r} is not supported."
    return invalid_request(message, "tool_choice.type", "invalid_value")


def function_tools(body: ResponsesRequest, allowed: bool) -> Offered:
    """Namespaces flattened (their tools named `<namespace>__<name>`), hosted tools left out unless forced."""
    declared: list[tuple[ClientTool, dict | None, bool, str]] = []  # the tool, its parameters, strict, where
    skipped: list[str] = []
    for i, tool in enumerate(body.tools or []):
        if isinstance(tool, HostedToolParam):
            skipped.append(tool.type)
            continue
        namespace = tool.name if isinstance(tool, NamespaceToolParam) else None
        for j, inner in enumerate(tool.tools if isinstance(tool, NamespaceToolParam) else [tool]):
            where = f"tools.[{i}].tools.[{j}]" if namespace else f"tools.[{i}]"
            if len(cat_name(namespace, inner.name)) > 64:
                message = f"'{namespace}__{inner.name}' (a namespace and its tool's name) is over 64 characters."
                raise invalid_request(message, f"{where}.name", "invalid_value")
            if isinstance(inner, CustomToolParam):
                declared.append((_custom(inner, namespace), None, False, where))
            else:
                offered = client_tool(cat_name(namespace, inner.name), inner.description, inner.parameters)
                declared.append((replace(offered, namespace=namespace), inner.parameters, bool(inner.strict), where))
    tools = [tool for tool, *_ in declared]
    choice = body.tool_choice
    if isinstance(choice, OtherToolChoice):
        raise _forced(choice)
    if isinstance(choice, NamedToolChoice):  # by its own name: `tool_choice` names no namespace
        named = [t.name for t in tools if t.own_name == choice.name and t.custom == (choice.type == "custom")]
        if len(named) > 1:
            message = f"Invalid value for 'tool_choice.name': {len(named)} tools are named '{choice.name}'."
            raise invalid_request(message, "tool_choice.name", "invalid_value")
        offered, call = offer(tools, named[0] if named else choice.name, "tool_choice.name", allowed=allowed)
    else:
        offered, call = offer(tools, choice, allowed=allowed)
    strict = {}
    for tool, parameters, is_strict, where in declared:
        strict.update(strict_parameters([(tool.name, parameters, is_strict)], f"{where}.parameters"))
    return Offered(offered, call, strict, tuple(dict.fromkeys(skipped)))
