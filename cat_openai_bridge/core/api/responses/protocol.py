"""The Responses API on the wire, named like `openai.types.responses` (the contract tests parse with them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ...http.parsing import refuse
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
    namespace: str | None = None


class CustomToolCallInput(RequestModel):
    type: Literal["custom_tool_call"]
    call_id: str = Field(min_length=1)
    name: str
    input: str
    namespace: str | None = None


class FunctionCallOutput(RequestModel):
    type: Literal["function_call_output", "custom_tool_call_output"]  # one shape, either call's output
    call_id: str = Field(min_length=1)
    output: str | list[InputText]


InputItem = Annotated[
    InputMessage | FunctionCallInput | CustomToolCallInput | FunctionCallOutput, Field(discriminator="type")
]


class FunctionToolParam(FunctionDefinition):
    type: Literal["function"]  # Responses declares chat's function flat


class CustomToolParam(RequestModel):
    type: Literal["custom"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    format: dict[str, Any] | None = None  # {"type": "text"}, or "grammar" with its "syntax" and "definition"


NamespacedTool = Annotated[FunctionToolParam | CustomToolParam, Field(discriminator="type")]


class NamespaceToolParam(RequestModel):
    type: Literal["namespace"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    tools: list[NamespacedTool] = Field(min_length=1)


# The other tools of openai-python's `ToolParam`: hosted by OpenAI, the Cat cannot run them (left out unless forced)
HOSTED_TOOLS = tuple(
    "file_search computer computer_use_preview web_search web_search_2025_08_26 mcp code_interpreter "
    "programmatic_tool_calling image_generation local_shell shell tool_search web_search_preview "
    "web_search_preview_2025_03_11 apply_patch".split()
)


class HostedToolParam(RequestModel):
    type: Literal[HOSTED_TOOLS]  # type: ignore[valid-type]


ToolParam = Annotated[
    FunctionToolParam | CustomToolParam | NamespaceToolParam | HostedToolParam, Field(discriminator="type")
]


class NamedToolChoice(RequestModel):
    type: Literal["function", "custom"]
    name: str


class OtherToolChoice(RequestModel):  # a hosted tool ({"type": "web_search"}, ...), allowed_tools...: refused
    type: str


class FormatJSONSchema(JSONSchema):
    type: Literal["json_schema"]  # likewise flat
    schema_: dict[str, Any] = Field(alias="schema")  # required here (chat's may be left out)


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
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | OtherToolChoice | None = None
    text: TextConfigParam | None = None

    @model_validator(mode="before")
    @classmethod
    def _items_default_to_messages(cls, data: Any) -> Any:
        """OpenAI takes an item without `type` as a message."""
        if isinstance(data, dict) and isinstance(data.get("input"), list):
            items = [{**i, "type": "message"} if isinstance(i, dict) and "type" not in i else i for i in data["input"]]
            data = {**data, "input": items}
        return data

    @model_validator(mode="before")
    @classmethod
    def _tool_types_known(cls, data: Any) -> Any:
        """An unknown tool type names what is run and what is left out, not every tag of the union."""
        tools = data.get("tools") if isinstance(data, dict) else None
        for i, tool in enumerate(tools if isinstance(tools, list) else ()):
            kind = tool.get("type") if isinstance(tool, dict) else None
            if isinstance(kind, str) and kind not in ("function", "custom", "namespace", *HOSTED_TOOLS):
                message = (
                    f"Invalid value: {kind!r}. Supported values are: 'function', 'custom' and 'namespace'; "
                    f"accepted but left out (this Cat cannot run them): {', '.join(map(repr, HOSTED_TOOLS))}."
                )
                raise refuse(message, f"tools.[{i}].type", "invalid_value")
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
    namespace: str | None = None


class ResponseCustomToolCall(WireModel):
    type: Literal["custom_tool_call"] = "custom_tool_call"
    id: str
    call_id: str
    name: str
    input: str
    namespace: str | None = None


OutputItem = ResponseOutputMessage | ResponseFunctionToolCall | ResponseCustomToolCall


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
    type: Literal["function", "custom"] = "function"
    name: str


class FunctionToolOut(WireModel):
    type: Literal["function"] = "function"
    name: str
    description: str | None
    parameters: dict[str, Any] | None
    strict: bool | None


class CustomToolOut(WireModel):
    type: Literal["custom"] = "custom"
    name: str
    description: str | None = None
    format: dict[str, Any] | None = None


class NamespaceToolOut(WireModel):
    type: Literal["namespace"] = "namespace"
    name: str
    description: str
    tools: list[FunctionToolOut | CustomToolOut]


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
    tools: list[FunctionToolOut | CustomToolOut | NamespaceToolOut]
    top_p: float | None
    truncation: Literal["disabled"] = "disabled"
    usage: ResponseUsage | None
    user: str | None
    metadata: dict[str, str]
