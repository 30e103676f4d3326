"""The Anthropic Messages API on the wire, named like `anthropic.types` (the contract tests parse with them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ...turn.wire import RequestModel, WireModel


class TextBlockParam(RequestModel):
    type: Literal["text"]
    text: str
    cache_control: dict[str, Any] | None = None  # prompt caching: accepted, nothing to cache
    citations: list[Any] | None = None


class Base64ImageSource(RequestModel):
    type: Literal["base64"]
    media_type: str
    data: str


class URLImageSource(RequestModel):
    type: Literal["url"]
    url: str


class FileImageSource(RequestModel):
    type: Literal["file"]
    file_id: str


ImageSource = Annotated[Base64ImageSource | URLImageSource | FileImageSource, Field(discriminator="type")]


class ImageBlockParam(RequestModel):
    type: Literal["image"]
    source: ImageSource
    cache_control: dict[str, Any] | None = None


class ToolUseBlockParam(RequestModel):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None


ToolResultContent = Annotated[TextBlockParam | ImageBlockParam, Field(discriminator="type")]


class ToolResultBlockParam(RequestModel):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None
    cache_control: dict[str, Any] | None = None


class ThinkingBlockParam(RequestModel):
    """The model's own reasoning, resent by clients: the Cat's answers have none, so it is dropped."""

    type: Literal["thinking", "redacted_thinking"]


class UnsupportedBlockParam(RequestModel):
    """Declared so a request naming them gets a 400 that says so."""

    type: Literal["document", "search_result", "server_tool_use", "web_search_tool_result", "container_upload"]


ContentBlockParam = Annotated[
    TextBlockParam
    | ImageBlockParam
    | ToolUseBlockParam
    | ToolResultBlockParam
    | ThinkingBlockParam
    | UnsupportedBlockParam,
    Field(discriminator="type"),
]


class MessageParam(RequestModel):
    """`system` messages (text only) may stand anywhere in the conversation: Claude Code sends them."""

    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlockParam]


class ToolParam(RequestModel):
    type: str | None = None
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None


class ToolChoice(RequestModel):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(RequestModel):
    user_id: str | None = None


class OutputFormat(RequestModel):
    type: str
    schema_: dict[str, Any] | None = Field(None, alias="schema")


class OutputConfig(RequestModel):
    effort: str | None = None
    format: OutputFormat | None = None


class MessageTokensRequest(RequestModel):
    model: str = Field(min_length=1)
    messages: list[MessageParam] = Field(min_length=1)
    system: str | list[TextBlockParam] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    thinking: dict[str, Any] | None = None


class MessageRequest(MessageTokensRequest):
    """Sampling parameters are type-checked and left to the Cat's LLM settings."""

    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    metadata: Metadata | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0)
    service_tier: str | None = None
    output_config: OutputConfig | None = None


class TextBlock(WireModel):
    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(WireModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


ContentBlock = TextBlock | ToolUseBlock


class Usage(WireModel):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0  # nothing is cached: said as Anthropic says it, not left out
    cache_read_input_tokens: int = 0


StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


class Message(WireModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


class MessageTokensCount(WireModel):
    input_tokens: int


class StreamEvent(WireModel):
    type: str


class MessageStartEvent(StreamEvent):
    message: Message


class ContentBlockEvent(StreamEvent):
    index: int


class ContentBlockStartEvent(ContentBlockEvent):
    content_block: ContentBlock


class TextDelta(WireModel):
    type: Literal["text_delta"] = "text_delta"
    text: str


class InputJSONDelta(WireModel):
    type: Literal["input_json_delta"] = "input_json_delta"
    partial_json: str


class ContentBlockDeltaEvent(ContentBlockEvent):
    delta: TextDelta | InputJSONDelta


class MessageDelta(WireModel):
    stop_reason: StopReason
    stop_sequence: str | None


class MessageDeltaUsage(WireModel):
    output_tokens: int
    input_tokens: int  # the turn's real prompt: message_start could only estimate it


class MessageDeltaEvent(StreamEvent):
    delta: MessageDelta
    usage: MessageDeltaUsage


class ErrorObject(WireModel):
    type: str
    message: str


class ErrorResponse(WireModel):
    type: Literal["error"] = "error"
    error: ErrorObject
    request_id: str | None = None
