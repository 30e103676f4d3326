"""Ollama's `messages` (or a `prompt`), `tools`, `format` and `options` -> the neutral conversation and rules.

Ollama's tool calls carry no id and its tool results name no call (Home Assistant's never do): the bridge numbers
the calls, and a result answers the first call of the turn before it that has none yet (by `tool_name` if given).
"""

from __future__ import annotations

import base64
import binascii
import json

from ...config.settings import BridgeSettings
from ...turn.answer import OutputRules, check_message_count, output_rules
from ...turn.builder import ConversationBuilder, client_tool, offer, role_refused
from ...turn.conversation import ClientTool, Conversation, ImagePart, TextPart, ToolCall
from ...turn.demands import JsonOutput, json_output
from ...turn.errors import invalid_request
from .protocol import BaseGenerateRequest, ChatRequest, GenerateRequest, Message, Tool

LATEST = ":latest"
_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif", b"RIFF": "image/webp"}


def model_of(name: str) -> str:
    """The Cat's model for an Ollama name: `cheshire-cat:latest` is `cheshire-cat` (the tags list adds `:latest`)."""
    return name.removesuffix(LATEST)


def _image(data: str, where: str, builder: ConversationBuilder, user: bool) -> ImagePart:
    """Ollama sends bare base64: the type is read from the image's first bytes."""
    try:
        head = base64.b64decode(data[:16] + "=" * (-len(data[:16]) % 4))
    except (binascii.Error, ValueError):
        head = b""
    mime = next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), "image/jpeg")
    return builder.image(f"data:{mime};base64,{data}", where, "images", user=user)


class _Calls:
    """The calls of the last assistant turn that wait for their results, in order."""

    def __init__(self) -> None:
        self.waiting: list[ToolCall] = []

    def made(self, message: Message, at: int) -> list[ToolCall]:
        self.waiting = [
            ToolCall(
                c.id or f"call_{at}_{j}",
                c.function.name,
                c.function.arguments if isinstance(c.function.arguments, str) else json.dumps(c.function.arguments),
            )
            for j, c in enumerate(message.tool_calls or ())
        ]
        return list(self.waiting)

    def answered(self, message: Message, param: str) -> str:
        match = [c for c in self.waiting if message.tool_call_id in (None, c.id)]
        match = [c for c in match if message.tool_name in (None, c.name)]
        if not match:
            raise invalid_request(
                "A 'tool' message must answer a tool call of the assistant message before it, and every call of "
                "that message has its result already (or none has this tool_name / tool_call_id).",
                param,
                "invalid_value",
            )
        self.waiting.remove(match[0])
        return match[0].id


def _add(message: Message, i: int, builder: ConversationBuilder, calls: _Calls) -> None:
    param = f"messages.[{i}]"
    text = [TextPart(message.content)] if message.content else []
    if message.role == "system":
        builder.instruct(message.content or "")
    elif message.role == "tool":
        if not builder.allow_tools:
            raise role_refused("tool", f"{param}.role")
        builder.add("tool", text, calls.answered(message, f"{param}.role"), f"{param}.content")
    elif message.role == "assistant" and message.tool_calls:
        builder.calls(calls.made(message, i), text, f"{param}.tool_calls")
    else:
        user = message.role == "user"
        images = [_image(d, f"{param}.images.[{k}]", builder, user) for k, d in enumerate(message.images or ())]
        builder.add(message.role, [*text, *images], param=f"{param}.images")  # type: ignore[arg-type]  # user or assistant


def chat_conversation(
    body: ChatRequest, *, allow_images: bool, allow_tools: bool, max_parts: int | None = None
) -> Conversation:
    builder = ConversationBuilder(allow_images=allow_images, allow_tools=allow_tools, max_parts=max_parts)
    calls = _Calls()
    for i, message in enumerate(body.messages):
        _add(message, i, builder, calls)
    last = f"messages.[{max(len(body.messages) - 1, 0)}]"
    return builder.finish("messages", f"{last}.content")


def prompt_conversation(body: GenerateRequest, *, allow_images: bool, max_parts: int | None = None) -> Conversation:
    if body.suffix:
        raise invalid_request("'suffix' (fill in the middle) is not supported: the Cat answers turns.", "suffix")
    builder = ConversationBuilder(allow_images=allow_images, allow_tools=False, max_parts=max_parts)
    builder.instruct(body.system or "")
    images = [_image(d, f"images.[{k}]", builder, True) for k, d in enumerate(body.images or ())]
    builder.add("user", [*([TextPart(body.prompt)] if body.prompt else []), *images], param="images")
    return builder.finish("prompt", "prompt")


def client_tools(tools: list[Tool] | None, allowed: bool) -> tuple[ClientTool, ...]:
    offered = [client_tool(t.function.name, t.function.description, t.function.parameters) for t in tools or ()]
    return offer(offered, None, allowed=allowed)[0]


def json_format(body: BaseGenerateRequest) -> JsonOutput | None:
    """`"json"`, or a JSON Schema the answer must match: the structured-output path of every protocol."""
    if not body.format:
        return None
    if body.format == "json":
        return json_output("json_object", "format")
    return json_output("json_schema", "format", "response", body.format)


def rules_of(body: BaseGenerateRequest, settings: BridgeSettings, messages: int = 1) -> OutputRules:
    """`options.num_predict` and `options.stop` are the cut; a negative `num_predict` means none."""
    check_message_count(messages, settings, "messages")
    options = body.options
    asked = options.num_predict if options is not None else None
    limit = int(asked) if asked is not None and asked > 0 else None
    stops = options.stop if options is not None and options.stop else []
    return output_rules(settings, body.stream, limit, "options.num_predict", stops)
