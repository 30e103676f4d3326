"""Validated `messages` and `tools` -> the neutral conversation and client tools the Cat gets.

The whole array is kept (clients resend the history; regenerate and edit rely
on it), system and developer messages are gathered for the agent's prompt, and
what the Cat cannot take is refused here with the field that caused it. The
shapes were checked by the protocol models; this checks meaning: roles in
order, tool results answering a call, images the Cat can see.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

from ...turn.conversation import ClientTool, Conversation, ImagePart, Part, TextPart, ToolCall, Turn
from ...turn.demands import ANY_TOOL
from ...turn.errors import invalid_request
from .protocol import (
    AssistantMessage,
    AudioContentPart,
    ChatMessage,
    Content,
    CustomTool,
    FileContentPart,
    FunctionMessage,
    FunctionTool,
    ImageContentPart,
    RefusalContentPart,
    SystemMessage,
    TextContentPart,
    Tool,
    ToolChoice,
    ToolMessage,
)

_DATA_URL = re.compile(r"^data:(?P<mime>image/[A-Za-z0-9.+-]+);base64,(?P<data>.*)$", re.S)


def content_parts(content: Content, param: str, allow_images: bool) -> list[Part]:
    """A message's content as parts the Cat takes (text, and images where it sees them)."""
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for i, part in enumerate(content):
        where = f"{param}.[{i}]"
        if isinstance(part, TextContentPart):
            parts.append(TextPart(part.text))
        elif isinstance(part, ImageContentPart) and allow_images:
            parts.append(_image(part.url, f"{where}.image_url.url"))
        elif isinstance(part, ImageContentPart):
            raise invalid_request(
                "Images are not supported on this Cat version: its pipeline takes text only (Cat v2 accepts images).",
                f"{where}.type",
                "unsupported_content",
            )
        elif isinstance(part, (AudioContentPart, FileContentPart, RefusalContentPart)):
            raise invalid_request(
                f"Content parts of type '{part.type}' are not supported in '{param}'.",
                f"{where}.type",
                "unsupported_content",
            )
    return parts


def _image(url: str, param: str) -> ImagePart:
    match = _DATA_URL.match(url)
    if not match:
        raise invalid_request(
            "Only inline images (data:image/...;base64 URLs) are accepted; the bridge does not fetch remote URLs.",
            param,
            "unsupported_image_url",
        )
    data = match.group("data").strip()
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request("The image data URL is not valid base64.", param, "invalid_image") from None
    return ImagePart(match.group("mime"), data)


def _required(content: Content | None, param: str) -> Content:
    if content is None:
        raise invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")
    return content


def _tool_turn(msg: ToolMessage, param: str, turns: list[Turn]) -> Turn:
    if not msg.tool_call_id:
        raise invalid_request(
            f"Missing required parameter: '{param}.tool_call_id'.",
            f"{param}.tool_call_id",
            "missing_required_parameter",
        )
    content = _required(msg.content, f"{param}.content")
    asked = {c.id for t in turns if t.role == "assistant" for c in t.tool_calls}
    if msg.tool_call_id not in asked:
        raise invalid_request(
            "Invalid parameter: messages with role 'tool' must be a response to a preceding message "
            f"with 'tool_calls' of the same id ({msg.tool_call_id!r}).",
            f"{param}.role",
            "invalid_value",
        )
    return Turn("tool", content_parts(content, f"{param}.content", False), (), msg.tool_call_id)


def _calls_turn(msg: AssistantMessage, param: str) -> Turn:
    calls = []
    for j, call in enumerate(msg.tool_calls or ()):
        if not call.id:
            where = f"{param}.tool_calls.[{j}].id"
            raise invalid_request(f"Missing required parameter: '{where}'.", where, "missing_required_parameter")
        calls.append(ToolCall(call.id, call.function.name, call.function.arguments))
    parts = content_parts(msg.content, f"{param}.content", False) if msg.content is not None else []
    return Turn("assistant", parts, tuple(calls))


def _turn(msg: ChatMessage, param: str, turns: list[Turn], allow_images: bool, allow_tools: bool) -> Turn | None:
    if isinstance(msg, AssistantMessage) and msg.tool_calls and allow_tools:
        return _calls_turn(msg, param)
    if isinstance(msg, ToolMessage) and allow_tools:
        return _tool_turn(msg, param, turns)
    if isinstance(msg, (ToolMessage, FunctionMessage)):
        raise invalid_request(
            f"Messages with role '{msg.role}' are not supported by this Cat adapter.",
            f"{param}.role",
            "unsupported_value",
        )
    if isinstance(msg, AssistantMessage) and msg.tool_calls:
        raise invalid_request(
            "Assistant tool calls are not supported by this Cat adapter.",
            f"{param}.tool_calls",
            "unsupported_parameter",
        )
    content = _required(msg.content, f"{param}.content")
    return Turn(msg.role, content_parts(content, f"{param}.content", allow_images and msg.role == "user"))


def build_conversation(
    messages: Sequence[ChatMessage], *, allow_images: bool = True, allow_tools: bool = False
) -> Conversation:
    """Raise a 400 naming the field on the first problem."""
    system: list[str] = []
    turns: list[Turn] = []
    for i, msg in enumerate(messages):
        param = f"messages.[{i}]"
        if isinstance(msg, SystemMessage):
            if msg.content is not None:
                text = "".join(
                    p.text for p in content_parts(msg.content, f"{param}.content", False) if isinstance(p, TextPart)
                )
                if text:
                    system.append(text)
            continue
        turns.append(_turn(msg, param, turns, allow_images, allow_tools))
    if not turns or turns[-1].role not in ("user", "tool"):
        raise invalid_request(
            "The last message must come from the user (or carry tool results): the Cat answers a user turn.",
            "messages",
            "invalid_value",
        )
    if not turns[-1].parts and turns[-1].role == "user":
        raise invalid_request(
            "The last user message has no content.", f"messages.[{len(messages) - 1}].content", "invalid_value"
        )
    return Conversation("\n\n".join(system), turns)


def client_tools(tools: list[Tool] | None, choice: ToolChoice | None) -> tuple[tuple[ClientTool, ...], str | None]:
    """The functions to offer the Cat's model for this request, and the call `tool_choice` demands (or None).

    "none" offers nothing; "required" demands a call to any of them (ANY_TOOL); a named function is offered
    alone and demanded.
    """
    if not tools:
        if choice is not None and choice not in ("auto", "none"):
            raise invalid_request("'tool_choice' needs 'tools' to choose from.", "tool_choice", "invalid_value")
        return (), None
    offered = []
    for i, tool in enumerate(tools):
        if isinstance(tool, CustomTool):
            raise invalid_request(
                f"Invalid value for 'tools.[{i}].type': only 'function' tools are supported.",
                f"tools.[{i}].type",
                "invalid_value",
            )
        fn = tool.function
        parameters = fn.parameters if fn.parameters is not None else {"type": "object", "properties": {}}
        offered.append(ClientTool(fn.name, fn.description or "", parameters))
    if len({t.name for t in offered}) != len(offered):
        raise invalid_request("Tool names must be unique.", "tools", "invalid_value")
    if choice is None or choice == "auto":
        return tuple(offered), None
    if choice == "none":
        return (), None
    if choice == "required":
        return tuple(offered), ANY_TOOL
    return _named(offered, choice.function.name, "tool_choice.function.name")


def _named(offered: list[ClientTool], name: str, param: str) -> tuple[tuple[ClientTool, ...], str]:
    chosen = [t for t in offered if t.name == name]
    if not chosen:
        raise invalid_request(
            f"Invalid value for '{param}': no function named '{name}' was given in 'tools'.", param, "invalid_value"
        )
    return tuple(chosen), name


def function_specs(tools: list[Tool] | None) -> list[tuple[str, dict | None, bool]]:
    """(name, parameters, strict) of each function tool, for the strict-mode checks."""
    return [
        (t.function.name, t.function.parameters, bool(t.function.strict))
        for t in tools or ()
        if isinstance(t, FunctionTool)
    ]
