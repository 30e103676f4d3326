"""The Responses API on the wire, named like `openai.types.responses` (the contract tests parse with them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ...turn.wire import RequestModel, WireModel
from ..chat.protocol import FunctionDefinition, JSONSchema, PlainFormat  # Responses names them flat


class InputText(RequestModel):
    type: Literal["input_text", "output_text", "text"]
    text: str


class InputImage(RequestModel):
    type: Literal["input_image"]
    image_url: str | None = None
    detail: str | None = None


InputContent = Annotated[InputText | InputImage, Field(discriminator="type")]


class InputMessage(RequestModel):
    type: Literal["message"]
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputContent]


class FunctionCallInput(RequestModel):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str
    arguments: str = "{}"


class FunctionCallOutput(RequestModel):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[InputText]


InputItem = Annotated[InputMessage | FunctionCallInput | FunctionCallOutput, Field(discriminator="type")]


class FunctionToolParam(FunctionDefinition):
    type: Literal["function"]  # Responses declares chat's function flat


class HostedToolParam(RequestModel):
    """OpenAI's own tools (web search, file search, ...): declared so a request names them; refused when run."""

    type: Literal[
        "web_search",
        "web_search_preview",
        "file_search",
        "computer_use_preview",
        "code_interpreter",
        "image_generation",
        "mcp",
        "local_shell",
        "custom",
    ]


ToolParam = Annotated[FunctionToolParam | HostedToolParam, Field(discriminator="type")]


class NamedToolChoice(RequestModel):
    type: Literal["function"]
    name: str


class FormatJSONSchema(JSONSchema):
    type: Literal["json_schema"]  # likewise flat


TextFormat = Annotated[PlainFormat | FormatJSONSchema, Field(discriminator="type")]


class TextConfigParam(RequestModel):
    format: TextFormat | None = None


class ResponsesRequest(RequestModel):
    model: str = Field(min_length=1)
    input: str | list[InputItem]
    instructions: str | None = None
    stream: bool | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    user: str | None = None
    metadata: dict[str, str] | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    tools: list[ToolParam] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    text: TextConfigParam | None = None

    @model_validator(mode="before")
    @classmethod
    def _items_default_to_messages(cls, data: Any) -> Any:
        """OpenAI takes an item without `type` as a message."""
        if isinstance(data, dict) and isinstance(data.get("input"), list):
            items = [{**i, "type": "message"} if isinstance(i, dict) and "type" not in i else i for i in data["input"]]
            return {**data, "input": items}
        return data


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


OutputItem = ResponseOutputMessage | ResponseFunctionToolCall


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
    param: str | None
    type: str


class IncompleteDetails(WireModel):
    reason: Literal["max_output_tokens"] = "max_output_tokens"


class Reasoning(WireModel):
    effort: str | None
    summary: str | None


class PlainFormatOut(WireModel):
    type: Literal["text", "json_object"] = "text"


class FormatJSONSchemaOut(WireModel):
    type: Literal["json_schema"] = "json_schema"
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(WireModel):
    format: PlainFormatOut | FormatJSONSchemaOut = Field(default_factory=PlainFormatOut)


class ToolChoiceFunctionOut(WireModel):
    type: Literal["function"] = "function"
    name: str


class FunctionToolOut(WireModel):
    type: Literal["function"] = "function"
    name: str
    description: str | None
    parameters: dict[str, Any] | None
    strict: bool | None


class Response(WireModel):
    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: str
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | None
    max_output_tokens: int | None
    model: str
    output: list[OutputItem]
    parallel_tool_calls: bool = True
    previous_response_id: str | None
    reasoning: Reasoning
    store: bool = False
    temperature: float | None
    text: TextConfig = Field(default_factory=TextConfig)
    tool_choice: str | ToolChoiceFunctionOut
    tools: list[FunctionToolOut]
    top_p: float | None
    truncation: Literal["disabled"] = "disabled"
    usage: ResponseUsage | None
    user: str | None
    metadata: dict[str, str]
