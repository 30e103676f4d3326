"""Chat Completions on the wire, named like `openai.types.chat` (the contract tests parse with them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ...http.parsing import refuse
from ...turn.builder import OfferWords
from ...turn.wire import RequestModel, WireModel


class TextContentPart(RequestModel):
    type: Literal["text"]
    text: str


class ImageURL(RequestModel):
    url: str
    detail: str | None = None


class ImageContentPart(RequestModel):
    type: Literal["image_url"]
    image_url: ImageURL | str

    @property
    def url(self) -> str:
        return self.image_url if isinstance(self.image_url, str) else self.image_url.url


class UnsupportedContentPart(RequestModel):
    """Declared so a request naming them gets a 400 that says so."""

    type: Literal["input_audio", "file"]


class RefusalContentPart(RequestModel):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    TextContentPart | ImageContentPart | UnsupportedContentPart | RefusalContentPart, Field(discriminator="type")
]
Content = str | list[ContentPart]


class FunctionCallParam(RequestModel):
    name: str
    arguments: str = "{}"


class ToolCallParam(RequestModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallParam


class MessageParam(RequestModel):
    role: Literal["system", "developer", "user"]
    content: Content | None = None
    name: str | None = None


class AssistantMessage(MessageParam):
    role: Literal["assistant"]
    tool_calls: list[ToolCallParam] | None = None


class ToolMessage(RequestModel):
    role: Literal["tool"]
    content: Content | None = None
    tool_call_id: str | None = None


class FunctionMessage(MessageParam):
    role: Literal["function"]


ChatMessage = Annotated[MessageParam | AssistantMessage | ToolMessage | FunctionMessage, Field(discriminator="role")]


class FunctionDefinition(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(RequestModel):
    type: Literal["function"]
    function: FunctionDefinition


class CustomTool(RequestModel):
    type: Literal["custom"]


Tool = Annotated[FunctionTool | CustomTool, Field(discriminator="type")]


class NamedFunction(RequestModel):
    name: str


class NamedToolChoice(RequestModel):
    type: Literal["function"]
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class PlainFormat(RequestModel):
    type: Literal["text", "json_object"]


class JSONSchema(RequestModel):
    name: str
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class JSONSchemaFormat(RequestModel):
    type: Literal["json_schema"]
    json_schema: JSONSchema


ResponseFormat = Annotated[PlainFormat | JSONSchemaFormat, Field(discriminator="type")]


class StreamOptions(RequestModel):
    include_usage: bool | None = None


class CreateParamsBase(RequestModel):
    """What Chat Completions and legacy completions (completions/protocol.py) both take, checked alike."""

    model: str = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    n: int | None = Field(None, ge=1, le=128)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    user: str | None = None

    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(CreateParamsBase):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    metadata: dict[str, Any] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    cat_why: bool | None = None  # extension: add the Cat's reasons to the answer (admins only)

    @model_validator(mode="before")
    @classmethod
    def _cat_can_take_tools(cls, data: Any, info: Any) -> Any:
        """A Cat without client tools refuses `tools` as a whole, before looking at their details."""
        if isinstance(data, dict) and data.get("tools") and (info.context or {}).get("client_tools") is False:
            raise refuse(OfferWords.refused, "tools", "unsupported_parameter")
        return data

    def completion_limit(self) -> int | None:
        """The client's cap on completion tokens (`max_completion_tokens` wins)."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionUsage(WireModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Function(WireModel):
    name: str
    arguments: str


class ChatCompletionMessageToolCall(WireModel):
    id: str
    type: Literal["function"] = "function"
    function: Function


class ChatCompletionMessage(WireModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None
    tool_calls: list[ChatCompletionMessageToolCall] | None = None


class Choice(WireModel):
    index: int = 0
    message: ChatCompletionMessage
    logprobs: None
    finish_reason: str


class ChatCompletion(WireModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage | None
    system_fingerprint: str | None
    cat_why: dict[str, Any] | None = None  # extension, admins only


class ChoiceDeltaToolCallFunction(WireModel):
    name: str | None = None
    arguments: str | None = None


class ChoiceDeltaToolCall(WireModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ChoiceDeltaToolCallFunction | None = None


class ChoiceDelta(WireModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None


class ChunkChoice(WireModel):
    index: int = 0
    delta: ChoiceDelta
    logprobs: None
    finish_reason: str | None


class ChatCompletionChunk(WireModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    system_fingerprint: str | None
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None  # sent (as null until the end) only when the client asked for usage
    cat_why: dict[str, Any] | None = None  # extension, admins only
