"""Chat Completions on the wire: the request we read and the `chat.completion` objects and chunks we send.

Named like openai-python's types (`openai.types.chat`), whose models the
contract tests parse every emitted body and chunk with. Validators check
meaning only; the Cat's own limits (which features a Cat version has) come in
through the validation context.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, model_validator

from ..engine.parsing import refuse
from ..engine.wire import RequestModel, WireModel

# -- request: content parts, messages, tools -------------------------------------------------------------------


class TextContentPart(RequestModel):
    type: Literal["text"]
    text: str


class ImageURL(RequestModel):
    url: str
    detail: Optional[str] = None


class ImageContentPart(RequestModel):
    type: Literal["image_url"]
    image_url: Union[ImageURL, str]

    @property
    def url(self) -> str:
        return self.image_url if isinstance(self.image_url, str) else self.image_url.url


class AudioContentPart(RequestModel):
    type: Literal["input_audio"]
    input_audio: Any = None


class FileContentPart(RequestModel):
    type: Literal["file"]
    file: Any = None


class RefusalContentPart(RequestModel):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    Union[TextContentPart, ImageContentPart, AudioContentPart, FileContentPart, RefusalContentPart],
    Field(discriminator="type"),
]
Content = Union[str, list[ContentPart]]


class FunctionCallParam(RequestModel):
    name: str
    arguments: str = "{}"


class ToolCallParam(RequestModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallParam


class SystemMessage(RequestModel):
    role: Literal["system", "developer"]
    content: Optional[Content] = None
    name: Optional[str] = None


class UserMessage(RequestModel):
    role: Literal["user"]
    content: Optional[Content] = None
    name: Optional[str] = None


class AssistantMessage(RequestModel):
    role: Literal["assistant"]
    content: Optional[Content] = None
    name: Optional[str] = None
    tool_calls: Optional[list[ToolCallParam]] = None


class ToolMessage(RequestModel):
    role: Literal["tool"]
    content: Optional[Content] = None
    tool_call_id: Optional[str] = None


class FunctionMessage(RequestModel):
    role: Literal["function"]
    content: Optional[Content] = None
    name: Optional[str] = None


ChatMessage = Annotated[
    Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage, FunctionMessage],
    Field(discriminator="role"),
]


class FunctionDefinition(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    strict: Optional[bool] = None


class FunctionTool(RequestModel):
    type: Literal["function"]
    function: FunctionDefinition


class CustomTool(RequestModel):
    type: Literal["custom"]
    custom: Any = None


Tool = Annotated[Union[FunctionTool, CustomTool], Field(discriminator="type")]


class NamedFunction(RequestModel):
    name: str


class NamedToolChoice(RequestModel):
    type: Literal["function"]
    function: NamedFunction


ToolChoice = Union[Literal["none", "auto", "required"], NamedToolChoice]


class TextFormat(RequestModel):
    type: Literal["text"]


class JSONObjectFormat(RequestModel):
    type: Literal["json_object"]


class JSONSchema(RequestModel):
    name: str
    description: Optional[str] = None
    schema_: Optional[dict[str, Any]] = Field(None, alias="schema")
    strict: Optional[bool] = None


class JSONSchemaFormat(RequestModel):
    type: Literal["json_schema"]
    json_schema: JSONSchema


ResponseFormat = Annotated[Union[TextFormat, JSONObjectFormat, JSONSchemaFormat], Field(discriminator="type")]


class StreamOptions(RequestModel):
    include_usage: Optional[bool] = None


class ChatCompletionRequest(RequestModel):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: Optional[bool] = None
    stream_options: Optional[StreamOptions] = None
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    n: Optional[int] = Field(None, ge=1, le=128)
    temperature: Optional[float] = Field(None, ge=0, le=2)
    top_p: Optional[float] = Field(None, ge=0, le=1)
    presence_penalty: Optional[float] = Field(None, ge=-2, le=2)
    frequency_penalty: Optional[float] = Field(None, ge=-2, le=2)
    seed: Optional[int] = None
    stop: Optional[Union[str, list[str]]] = None
    user: Optional[str] = None
    metadata: Optional[dict[str, Any]] = None
    tools: Optional[list[Tool]] = None
    tool_choice: Optional[ToolChoice] = None
    response_format: Optional[ResponseFormat] = None
    logprobs: Optional[bool] = None
    top_logprobs: Optional[int] = Field(None, ge=0, le=20)
    cat_why: Optional[bool] = None  # extension: add the Cat's reasons to the answer (admins only)

    @model_validator(mode="before")
    @classmethod
    def _cat_can_take_tools(cls, data: Any, info: Any) -> Any:
        """A Cat without client tools refuses `tools` as a whole, before looking at their details."""
        if isinstance(data, dict) and data.get("tools") and (info.context or {}).get("client_tools") is False:
            raise refuse("Client-declared tools are not supported on this Cat version (its agent cannot hand tool "
                         "calls back); send the request without 'tools'.", "tools", "unsupported_parameter")
        return data

    def completion_limit(self) -> Optional[int]:
        """The client's cap on completion tokens (`max_completion_tokens` wins)."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


# -- response: the chat.completion object and its chunks ---------------------------------------------------------


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
    content: Optional[str]
    refusal: Optional[str]
    tool_calls: Optional[list[ChatCompletionMessageToolCall]] = None


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
    usage: Optional[CompletionUsage]
    system_fingerprint: Optional[str]
    cat_why: Optional[dict[str, Any]] = None  # extension, admins only


class ChoiceDeltaToolCallFunction(WireModel):
    name: Optional[str] = None
    arguments: Optional[str] = None


class ChoiceDeltaToolCall(WireModel):
    index: int
    id: Optional[str] = None
    type: Optional[Literal["function"]] = None
    function: Optional[ChoiceDeltaToolCallFunction] = None


class ChoiceDelta(WireModel):
    role: Optional[Literal["assistant"]] = None
    content: Optional[str] = None
    refusal: Optional[str] = None
    tool_calls: Optional[list[ChoiceDeltaToolCall]] = None


class ChunkChoice(WireModel):
    index: int = 0
    delta: ChoiceDelta
    logprobs: None
    finish_reason: Optional[str]


class ChatCompletionChunk(WireModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    system_fingerprint: Optional[str]
    choices: list[ChunkChoice]
    usage: Optional[CompletionUsage] = None  # sent (as null until the end) only when the client asked for usage
    cat_why: Optional[dict[str, Any]] = None  # extension, admins only
