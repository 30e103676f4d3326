"""Validated Anthropic `system`, `messages` and `tools` -> the neutral conversation and client tools of a Cat turn."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from ...turn.builder import ConversationBuilder, OfferWords, images_refused, is_base64, offer
from ...turn.conversation import ClientTool, Conversation, ImagePart, Part, TextPart, ToolCall, Turn
from ...turn.errors import BridgeError, invalid_request
from .protocol import (
    Base64ImageSource,
    ContentBlockParam,
    ImageBlockParam,
    MessageParam,
    MessageTokensRequest,
    TextBlockParam,
    ThinkingBlockParam,
    ToolChoice,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
TAKES = {
    "user": " (a user message takes text, image and tool_result blocks)",
    "assistant": " (an assistant message takes text and tool_use blocks)",
}


def system_text(system: str | list[TextBlockParam] | None) -> str:
    if system is None:
        return ""
    return system if isinstance(system, str) else "\n\n".join(block.text for block in system if block.text)


def _text_blocks(blocks: Sequence[ContentBlockParam], param: str, why: str) -> list[TextBlockParam]:
    for j, block in enumerate(blocks):
        if not isinstance(block, TextBlockParam):
            raise _unsupported(block, f"{param}.{j}", why)
    return [b for b in blocks if isinstance(b, TextBlockParam)]


def _image(block: ImageBlockParam, param: str, allowed: bool) -> ImagePart:
    if not allowed:
        raise images_refused(f"{param}.type")
    source = block.source
    if not isinstance(source, Base64ImageSource):
        raise invalid_request(
            f"Only base64 image sources are accepted, not {source.type!r}: the bridge fetches no URLs or files.",
            f"{param}.source.type",
            "unsupported_image_url",
        )
    if source.media_type not in IMAGE_TYPES:
        raise invalid_request(
            f"{param}.source.media_type: must be one of {', '.join(IMAGE_TYPES)}.",
            f"{param}.source.media_type",
            "invalid_value",
        )
    if not is_base64(source.data):
        raise invalid_request(
            f"{param}.source.data: the image data is not valid base64.", f"{param}.source.data", "invalid_image"
        )
    return ImagePart(source.media_type, source.data)


def _unsupported(block: ContentBlockParam, param: str, why: str = "") -> BridgeError:
    return invalid_request(
        f"{param}: content blocks of type '{block.type}' are not supported here{why}.",
        f"{param}.type",
        "unsupported_content",
    )


def _tool_result_text(block: ToolResultBlockParam, param: str) -> str:
    if block.content is None or isinstance(block.content, str):
        return block.content or ""
    texts = _text_blocks(block.content, f"{param}.content", " (tool results reach the Cat as text)")
    return "".join(text.text for text in texts)


class _Builder(ConversationBuilder):
    """Walks the messages once; a tool result must answer a call asked before it (Anthropic's words)."""

    def _tools_allowed(self, param: str) -> None:
        if not self.allow_tools:
            raise invalid_request(
                "tool_use and tool_result blocks are not supported on this Cat version (its agent cannot hand "
                "tool calls back); send the conversation as text.",
                f"{param}.type",
                "unsupported_content",
            )

    def _result(self, block: ToolResultBlockParam, where: str) -> None:
        self._tools_allowed(where)
        if not self.asked(block.tool_use_id):
            raise invalid_request(
                f"{where}: tool_result block(s) must answer a tool_use block of the previous assistant "
                f"message (unknown tool_use_id {block.tool_use_id!r}).",
                f"{where}.tool_use_id",
                "invalid_value",
            )
        self.add("tool", [TextPart(_tool_result_text(block, where))], block.tool_use_id, where)

    def message(self, role: Literal["user", "assistant"], blocks: list[ContentBlockParam], param: str) -> None:
        """A user's tool results are turns of their own, before its text (Anthropic sends them first)."""
        parts: list[Part] = []
        calls: list[ToolCall] = []
        for j, block in enumerate(blocks):
            where = f"{param}.{j}"
            if isinstance(block, TextBlockParam):
                if block.text:
                    parts.append(TextPart(block.text))
            elif role == "user" and isinstance(block, ImageBlockParam):
                parts.append(_image(block, where, self.allow_images))
            elif role == "user" and isinstance(block, ToolResultBlockParam):
                self._result(block, where)
            elif role == "assistant" and isinstance(block, ToolUseBlockParam):
                self._tools_allowed(where)
                calls.append(ToolCall(block.id, block.name, json.dumps(block.input)))
            elif not (role == "assistant" and isinstance(block, ThinkingBlockParam)):
                raise _unsupported(block, where, TAKES[role])
        if calls:
            self.calls(calls, parts, param)
        elif parts:
            self.add(role, parts, param=param)


def build_conversation(
    body: MessageTokensRequest, *, allow_images: bool = True, allow_tools: bool = False, max_parts: int | None = None
) -> Conversation:
    builder = _Builder(allow_images=allow_images, allow_tools=allow_tools, max_parts=max_parts)
    builder.instruct(system_text(body.system))  # the agent has one system prompt: system messages join it, in order
    for i, message in enumerate(body.messages):
        param = f"messages.{i}.content"
        blocks = message.content
        if isinstance(blocks, str):
            blocks = [TextBlockParam(type="text", text=blocks)]
        if message.role == "system":
            builder.instruct(system_text(_text_blocks(blocks, param, " (a system message takes text blocks)")))
        else:
            builder.message(message.role, blocks, param)
    _check_last(body.messages, builder.turns)
    return builder.conversation()


def _check_last(messages: Sequence[MessageParam], turns: list[Turn]) -> None:
    last = max((i for i, m in enumerate(messages) if m.role != "system"), default=len(messages) - 1)
    if messages[last].role != "user":
        raise invalid_request(
            "The last message must have role 'user': the Cat answers a user turn (prefilling the assistant's "
            "answer is not supported).",
            f"messages.{last}.role",
            "invalid_value",
        )
    if not turns or turns[-1].role not in ("user", "tool"):
        raise invalid_request(
            f"messages.{last}.content: the last user message has no content.",
            f"messages.{last}.content",
            "invalid_value",
        )


ANTHROPIC_WORDS = OfferWords(
    needs_tools="tool_choice: forcing a tool needs 'tools'.",
    unique="tools: tool names must be unique.",
    refused="Client tools are not supported on this Cat version (its agent cannot hand tool calls back); "
    "send the request without 'tools'.",
    unknown="{param}: no tool named '{name}' was given in 'tools'.",
)
CHOICES = {"auto": "auto", "none": "none", "any": "required"}  # chat's words; `tool` is chat's named function


def client_tools(
    tools: list[ToolParam] | None, choice: ToolChoice | None, allowed: bool
) -> tuple[tuple[ClientTool, ...], str | None]:
    """`any` and `tool` force a call, as chat's `required` and a named function do (turn/demands.py)."""
    offered = []
    for i, tool in enumerate(tools or []):
        if tool.type not in (None, "custom"):
            raise invalid_request(
                f"tools.{i}.type: Anthropic's server tools ('{tool.type}') are not available through the Cat; "
                "only client tools (with an input_schema) are.",
                f"tools.{i}.type",
                "unsupported_value",
            )
        if tool.input_schema is None:
            raise invalid_request(
                f"tools.{i}.input_schema: Field required", f"tools.{i}.input_schema", "missing_required_parameter"
            )
        offered.append(ClientTool(tool.name, tool.description or "", tool.input_schema))
    if choice is not None and choice.type == "tool":
        return offer(offered, choice.name, "tool_choice.name", allowed=allowed, words=ANTHROPIC_WORDS)
    return offer(offered, None if choice is None else CHOICES[choice.type], allowed=allowed, words=ANTHROPIC_WORDS)
