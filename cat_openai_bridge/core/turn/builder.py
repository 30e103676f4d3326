"""The meaning checks every protocol's conversion shares (roles in order, tool results answering calls, images,
offered tools), in OpenAI's words; Anthropic words its own refusals (OfferWords)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Literal

from .conversation import ClientTool, Conversation, ImagePart, Part, TextPart, ToolCall, Turn
from .demands import ANY_TOOL
from .errors import BridgeError, invalid_request

_DATA_URL = re.compile(r"^data:(?P<mime>image/[A-Za-z0-9.+-]+);base64,(?P<data>.*)$", re.S)


def images_refused(param: str) -> BridgeError:
    return invalid_request(
        "Images are not supported on this Cat version: its pipeline takes text only (Cat v2 accepts images).",
        param,
        "unsupported_content",
    )


def role_refused(role: str, param: str) -> BridgeError:
    return invalid_request(
        f"Messages with role '{role}' are not supported by this Cat adapter.", param, "unsupported_value"
    )


def missing(param: str) -> BridgeError:
    return invalid_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def too_many_parts(limit: int, param: str | None) -> BridgeError:
    return invalid_request(
        f"Too many content parts: this bridge sends the Cat at most {limit} (max_content_parts) per request, its "
        "stored conversation included: each text (adjacent texts count as one), image, tool call and tool result.",
        param,
        "too_many_content_parts",
    )


def merged(parts: list[Part]) -> list[Part]:
    """Adjacent texts as one, joined as they are read (the Cat's `Message.text`, its v1 turn, the token counts)."""
    if len(parts) < 2:
        return parts
    out: list[Part] = []
    for is_text, run in groupby(parts, lambda p: isinstance(p, TextPart)):
        out.extend([TextPart("".join(p.text for p in run))] if is_text else run)  # type: ignore[union-attr]
    return out


def is_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error is one
        return False
    return True


class ConversationBuilder:
    """Every turn's adjacent texts are merged, and the parts the Cat is sent are counted up to `max_parts`."""

    def __init__(self, *, allow_images: bool, allow_tools: bool, max_parts: int | None = None) -> None:
        self.allow_images = allow_images
        self.allow_tools = allow_tools
        self.max_parts = max_parts
        self.parts = 0  # sent so far: merged texts, images, tool calls and tool results
        self.system: list[str] = []
        self.turns: list[Turn] = []
        self._asked: set[str] = set()  # the ids of the calls so far, that a tool result must answer

    def _count(self, parts: int, param: str | None) -> None:
        self.parts += parts
        if self.max_parts is not None and self.parts > self.max_parts:
            raise too_many_parts(self.max_parts, param)

    def image(self, url: str, where: str, url_field: str, *, user: bool) -> ImagePart:
        if not (user and self.allow_images):
            raise images_refused(f"{where}.type")
        param = f"{where}.{url_field}"
        match = _DATA_URL.match(url)
        if not match:
            raise invalid_request(
                "Only inline images (data:image/...;base64 URLs) are accepted; the bridge does not fetch remote URLs.",
                param,
                "unsupported_image_url",
            )
        data = match.group("data").strip()
        if not is_base64(data):
            raise invalid_request("The image data URL is not valid base64.", param, "invalid_image")
        return ImagePart(match.group("mime"), data)

    def instruct(self, text: str) -> None:
        if text:
            self.system.append(text)

    def add(
        self,
        role: Literal["user", "assistant", "tool"],
        parts: list[Part],
        call_id: str | None = None,
        param: str | None = None,
    ) -> None:
        """A tool result is one part, whatever it holds (the Cat reads it as one text)."""
        parts = merged(parts)
        self._count(1 if role == "tool" else len(parts), param)
        self.turns.append(Turn(role, parts, (), call_id))

    def check_calls(self, param: str) -> None:
        if not self.allow_tools:
            raise invalid_request(
                "Assistant tool calls are not supported by this Cat adapter.", param, "unsupported_parameter"
            )

    def calls(self, calls: list[ToolCall], parts: list[Part], param: str, *, join: bool = False) -> None:
        """`join` adds the calls to an assistant turn just before."""
        self.check_calls(param)
        parts = merged(parts)
        self._count(len(calls) + len(parts), param)
        self._asked.update(call.id for call in calls)
        if join and self.turns and (last := self.turns[-1]).role == "assistant":
            self.turns[-1] = Turn("assistant", last.parts, (*last.tool_calls, *calls))
        else:
            self.turns.append(Turn("assistant", parts, tuple(calls)))

    def asked(self, call_id: str) -> bool:
        return call_id in self._asked

    def check_answers(self, call_id: str, param: str) -> None:
        if not self.asked(call_id):
            raise invalid_request(
                "Invalid parameter: messages with role 'tool' must be a response to a preceding message "
                f"with 'tool_calls' of the same id ({call_id!r}).",
                param,
                "invalid_value",
            )

    def conversation(self) -> Conversation:
        return Conversation("\n\n".join(self.system), self.turns)

    def finish(self, last_param: str, content_param: str) -> Conversation:
        if not self.turns or self.turns[-1].role not in ("user", "tool"):
            raise invalid_request(
                "The last message must come from the user (or carry tool results): the Cat answers a user turn.",
                last_param,
                "invalid_value",
            )
        if not self.turns[-1].parts and self.turns[-1].role == "user":
            raise invalid_request("The last user message has no content.", content_param, "invalid_value")
        return self.conversation()


def client_tool(name: str, description: str | None, parameters: dict[str, Any] | None) -> ClientTool:
    return ClientTool(
        name, description or "", parameters if parameters is not None else {"type": "object", "properties": {}}
    )


@dataclass(frozen=True)
class OfferWords:
    """`unknown` is formatted with the choice's `param` and `name`."""

    needs_tools: str = "'tool_choice' needs 'tools' to choose from."
    unique: str = "Tool names must be unique."
    refused: str = (
        "Client-declared tools are not supported on this Cat version (its agent cannot hand tool calls back); "
        "send the request without 'tools'."
    )
    unknown: str = "Invalid value for '{param}': no function named '{name}' was given in 'tools'."


def offer(
    tools: list[ClientTool],
    choice: str | None,
    name_param: str | None = None,
    *,
    allowed: bool = True,
    words: OfferWords = OfferWords(),
) -> tuple[tuple[ClientTool, ...], str | None]:
    """The functions to offer and the call `tool_choice` demands (or None). `choice` is "auto", "none", "required"
    or None, or a function's name when `name_param` says where it came from."""
    if not tools:
        if choice not in (None, "auto", "none") or name_param is not None:
            raise invalid_request(words.needs_tools, "tool_choice", "invalid_value")
        return (), None
    if len({t.name for t in tools}) != len(tools):
        raise invalid_request(words.unique, "tools", "invalid_value")
    if not allowed:
        raise invalid_request(words.refused, "tools", "unsupported_parameter")
    if name_param is not None:
        chosen = tuple(t for t in tools if t.name == choice)
        if not chosen:
            raise invalid_request(words.unknown.format(param=name_param, name=choice), name_param, "invalid_value")
        return chosen, choice
    if choice == "none":
        return (), None
    return tuple(tools), ANY_TOOL if choice == "required" else None
