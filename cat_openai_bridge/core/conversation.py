"""OpenAI `messages` -> a neutral conversation the adapters hand to their Cat.

The whole array is kept (clients resend the history; regenerate and edit rely
on it), system and developer messages are gathered for the agent's prompt, and
anything the Cat cannot take is refused here with the field that caused it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import List, Literal, Optional, Sequence, Tuple, Union

from .errors import invalid_request
from .requests import ChatMessage
from .tools import ToolCall, tool_call_of

_DATA_URL = re.compile(r"^data:(?P<mime>image/[A-Za-z0-9.+-]+);base64,(?P<data>.*)$", re.S)


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    mime: str
    data: str  # base64, validated


Part = Union[TextPart, ImagePart]


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant", "tool"]
    parts: List[Part]
    tool_calls: Tuple[ToolCall, ...] = ()  # an assistant turn that called client tools
    tool_call_id: Optional[str] = None  # a tool turn: the result of that call

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True)
class Conversation:
    system: str
    turns: List[Turn] = field(default_factory=list)

    @property
    def last_user_text(self) -> str:
        users = [t for t in self.turns if t.role == "user"]
        return users[-1].text if users else ""

    def pairs(self) -> List[Tuple[str, str]]:
        """(role, text) of what the Cat's LLM will see from the client, for token estimates."""
        head = [("system", self.system)] if self.system else []
        return head + [(t.role, t.text) for t in self.turns]


def _text_of(content: object, param: str, allow_images: bool) -> List[Part]:
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    if not isinstance(content, list):
        raise invalid_request(
            f"Invalid type for '{param}': expected a string or an array of content parts.", param, "invalid_type"
        )
    parts: List[Part] = []
    for i, raw in enumerate(content):
        where = f"{param}.[{i}]"
        if not isinstance(raw, dict):
            raise invalid_request(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
        kind = raw.get("type")
        if kind == "text":
            text = raw.get("text")
            if not isinstance(text, str):
                raise invalid_request(f"Invalid type for '{where}.text': expected a string.", f"{where}.text", "invalid_type")
            parts.append(TextPart(text))
        elif kind == "image_url" and allow_images:
            parts.append(_image(raw.get("image_url"), f"{where}.image_url"))
        elif kind == "image_url":
            raise invalid_request(
                "Images are not supported on this Cat version: its pipeline takes text only (Cat v2 accepts images).",
                f"{where}.type", "unsupported_content",
            )
        elif kind in ("input_audio", "file"):
            raise invalid_request(
                f"Content parts of type '{kind}' are not supported in '{param}'.", f"{where}.type", "unsupported_content"
            )
        else:
            raise invalid_request(
                f"Invalid value for '{where}.type': expected 'text' or 'image_url', got {kind!r}.",
                f"{where}.type",
                "invalid_value",
            )
    return parts


def _image(spec: object, param: str) -> ImagePart:
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str):
        raise invalid_request(f"Missing required parameter: '{param}.url'.", f"{param}.url", "missing_required_parameter")
    match = _DATA_URL.match(url)
    if not match:
        raise invalid_request(
            "Only inline images (data:image/...;base64 URLs) are accepted; the bridge does not fetch remote URLs.",
            f"{param}.url",
            "unsupported_image_url",
        )
    data = match.group("data").strip()
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request("The image data URL is not valid base64.", f"{param}.url", "invalid_image") from None
    return ImagePart(match.group("mime"), data)


def build_conversation(messages: Sequence[ChatMessage], *, allow_images: bool = True,
                       allow_tools: bool = False) -> Conversation:
    """Validate roles and contents; raise a 400 naming the field on the first problem."""
    system: List[str] = []
    turns: List[Turn] = []
    for i, msg in enumerate(messages):
        param = f"messages.[{i}]"
        if msg.role in ("system", "developer"):
            parts = _text_of(msg.content, f"{param}.content", allow_images=False)
            text = "".join(p.text for p in parts if isinstance(p, TextPart))
            if text:
                system.append(text)
        elif msg.role == "assistant" and msg.tool_calls and allow_tools:
            calls = tuple(tool_call_of(c, f"{param}.tool_calls.[{j}]") for j, c in enumerate(msg.tool_calls))
            parts = _text_of(msg.content, f"{param}.content", False) if msg.content is not None else []
            turns.append(Turn("assistant", parts, calls))
        elif msg.role == "tool" and allow_tools:
            if not isinstance(msg.tool_call_id, str) or not msg.tool_call_id:
                raise invalid_request(f"Missing required parameter: '{param}.tool_call_id'.", f"{param}.tool_call_id",
                                      "missing_required_parameter")
            if msg.content is None:
                raise invalid_request(
                    f"Missing required parameter: '{param}.content'.", f"{param}.content", "missing_required_parameter"
                )
            asked = {c.id for t in turns if t.role == "assistant" for c in t.tool_calls}
            if msg.tool_call_id not in asked:
                raise invalid_request(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceding message with "
                    f"'tool_calls' of the same id ({msg.tool_call_id!r}).", f"{param}.role", "invalid_value",
                )
            turns.append(Turn("tool", _text_of(msg.content, f"{param}.content", False), (), msg.tool_call_id))
        elif msg.role in ("user", "assistant"):
            if msg.tool_calls:
                raise invalid_request(
                    "Assistant tool calls are not supported by this Cat adapter.", f"{param}.tool_calls", "unsupported_parameter"
                )
            if msg.content is None:
                raise invalid_request(
                    f"Missing required parameter: '{param}.content'.", f"{param}.content", "missing_required_parameter"
                )
            parts = _text_of(msg.content, f"{param}.content", allow_images and msg.role == "user")
            turns.append(Turn(msg.role, parts))
        elif msg.role in ("tool", "function"):
            raise invalid_request(
                f"Messages with role '{msg.role}' are not supported by this Cat adapter.", f"{param}.role", "unsupported_value"
            )
        else:
            raise invalid_request(
                f"Invalid value: '{msg.role}'. Supported values are: 'system', 'developer', 'user' and 'assistant'.",
                f"{param}.role",
                "invalid_value",
            )
    if not turns or turns[-1].role not in ("user", "tool"):
        raise invalid_request(
            "The last message must come from the user (or carry tool results): the Cat answers a user turn.",
            "messages", "invalid_value"
        )
    if not turns[-1].parts and turns[-1].role == "user":
        last = len(messages) - 1
        raise invalid_request(
            "The last user message has no content.", f"messages.[{last}].content", "invalid_value"
        )
    return Conversation("\n\n".join(system), turns)


