"""The Responses API on the wire: the request we read, the `response` object and the stream events we send.

Named like openai-python's `openai.types.responses`, whose models the contract
tests parse every emitted object and event with. Input items are a union
discriminated on `type`; a message item may leave `type` out, as OpenAI allows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, model_validator

from ..engine.parsing import refuse
from ..engine.wire import RequestModel, WireModel

# -- request ---------------------------------------------------------------------------------------------------


class InputText(RequestModel):
    type: Literal["input_text", "output_text", "text"]
    text: str


class InputImage(RequestModel):
    type: Literal["input_image"]
    image_url: Optional[str] = None
    detail: Optional[str] = None


InputContent = Annotated[Union[InputText, InputImage], Field(discriminator="type")]


class InputMessage(RequestModel):
    type: Literal["message"]
    role: Literal["user", "assistant", "system", "developer"]
    content: Union[str, list[InputContent]]


class FunctionCallInput(RequestModel):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str
    arguments: str = "{}"


class FunctionCallOutput(RequestModel):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: Union[str, list[InputText]]


InputItem = Annotated[Union[InputMessage, FunctionCallInput, FunctionCallOutput], Field(discriminator="type")]


class FunctionToolParam(RequestModel):
    type: Literal["function"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    strict: Optional[bool] = None


class HostedToolParam(RequestModel):
    """OpenAI's own tools (web search, file search, ...): declared so a request names them; refused when run."""

    type: Literal["web_search", "web_search_preview", "file_search", "computer_use_preview", "code_interpreter",
                  "image_generation", "mcp", "local_shell", "custom"]


ToolParam = Annotated[Union[FunctionToolParam, HostedToolParam], Field(discriminator="type")]


class NamedToolChoice(RequestModel):
    type: Literal["function"]
    name: str


class FormatText(RequestModel):
    type: Literal["text"]


class FormatJSONObject(RequestModel):
    type: Literal["json_object"]


class FormatJSONSchema(RequestModel):
    type: Literal["json_schema"]
    name: str
    schema_: Optional[dict[str, Any]] = Field(None, alias="schema")
    description: Optional[str] = None
    strict: Optional[bool] = None


TextFormat = Annotated[Union[FormatText, FormatJSONObject, FormatJSONSchema], Field(discriminator="type")]


class TextConfigParam(RequestModel):
    format: Optional[TextFormat] = None


class ResponsesRequest(RequestModel):
    model: str = Field(min_length=1)
    input: Union[str, list[InputItem]]
    instructions: Optional[str] = None
    stream: Optional[bool] = None
    max_output_tokens: Optional[int] = Field(None, ge=1)
    temperature: Optional[float] = Field(None, ge=0, le=2)
    top_p: Optional[float] = Field(None, ge=0, le=1)
    user: Optional[str] = None
    metadata: Optional[dict[str, str]] = None
    previous_response_id: Optional[str] = None
    store: Optional[bool] = None
    tools: Optional[list[ToolParam]] = None
    tool_choice: Optional[Union[Literal["none", "auto", "required"], NamedToolChoice]] = None
    text: Optional[TextConfigParam] = None

    @model_validator(mode="before")
    @classmethod
    def _items_default_to_messages(cls, data: Any, info: Any) -> Any:
        """OpenAI takes an item without `type` as a message; a Cat without client tools refuses `tools` first."""
        if not isinstance(data, dict):
            return data
        if data.get("tools") and (info.context or {}).get("client_tools") is False:
            raise refuse("Client-declared tools are not supported on this Cat version (its agent cannot hand tool "
                         "calls back); send the request without 'tools'.", "tools", "unsupported_parameter")
        items = data.get("input")
        if isinstance(items, list) and any(isinstance(i, dict) and "type" not in i for i in items):
            data = {**data, "input": [{**i, "type": "message"} if isinstance(i, dict) and "type" not in i else i
                                      for i in items]}
        return data


# -- response --------------------------------------------------------------------------------------------------


class ResponseOutputText(WireModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


class ResponseOutputMessage(WireModel):
    type: Literal["message"] = "message"
    id: str
    status: str
    role: Literal["assistant"] = "assistant"
    content: list[ResponseOutputText]


class ResponseFunctionToolCall(WireModel):
    type: Literal["function_call"] = "function_call"
    id: str
    call_id: str
    name: str
    arguments: str
    status: str


OutputItem = Union[ResponseOutputMessage, ResponseFunctionToolCall]


class InputTokensDetails(WireModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(WireModel):
    reasoning_tokens: int = 0


class ResponseUsage(WireModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int


class ResponseError(WireModel):
    code: str
    message: str
    param: Optional[str]
    type: str


class IncompleteDetails(WireModel):
    reason: Literal["max_output_tokens"] = "max_output_tokens"


class Reasoning(WireModel):
    effort: Optional[str]
    summary: Optional[str]


class FormatTextOut(WireModel):
    type: Literal["text"] = "text"


class TextConfig(WireModel):
    format: FormatTextOut = Field(default_factory=FormatTextOut)


class FunctionToolOut(WireModel):
    type: Literal["function"] = "function"
    name: str
    description: Optional[str]
    parameters: Optional[dict[str, Any]]
    strict: Optional[bool]


class Response(WireModel):
    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: str
    error: Optional[ResponseError]
    incomplete_details: Optional[IncompleteDetails]
    instructions: Optional[str]
    max_output_tokens: Optional[int]
    model: str
    output: list[OutputItem]
    parallel_tool_calls: bool = True
    previous_response_id: Optional[str]
    reasoning: Reasoning
    store: bool = False
    temperature: Optional[float]
    text: TextConfig = Field(default_factory=TextConfig)
    tool_choice: str
    tools: list[FunctionToolOut]
    top_p: Optional[float]
    truncation: Literal["disabled"] = "disabled"
    usage: Optional[ResponseUsage]
    user: Optional[str]
    metadata: dict[str, str]


# -- stream events (each carries `type` and `sequence_number`, and leaves with an `event:` line) --------------


class ResponseEvent(WireModel):
    type: str
    sequence_number: int


class ResponseLifecycleEvent(ResponseEvent):
    response: Response


class OutputItemEvent(ResponseEvent):
    output_index: int
    item: OutputItem


class ContentPartEvent(ResponseEvent):
    item_id: str
    output_index: int
    content_index: int
    part: ResponseOutputText


class TextDeltaEvent(ResponseEvent):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] = Field(default_factory=list)


class TextDoneEvent(ResponseEvent):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any] = Field(default_factory=list)


class ArgumentsDeltaEvent(ResponseEvent):
    item_id: str
    output_index: int
    delta: str


class ArgumentsDoneEvent(ResponseEvent):
    item_id: str
    output_index: int
    arguments: str
