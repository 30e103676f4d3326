"""Ollama's API on the wire, named like the `ollama` client's types (`ollama._types`, which the tests parse with).

Numbers arrive as floats from some clients (Home Assistant sends `num_ctx: 8192.0`), so numeric options take both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...turn.wire import RequestModel, WireModel

Number = int | float


class Options(RequestModel):
    """What the bridge honours (the cut); every other option (`num_ctx`, `temperature`, ...) is accepted, unused."""

    num_predict: Number | None = None  # -1 (infinite) and -2 (fill the context) mean no cap
    stop: list[str] | None = None


class ToolCallFunction(RequestModel):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)  # an object; JSON text from OpenAI-minded clients


class ToolCallParam(RequestModel):
    function: ToolCallFunction
    id: str | None = None  # sent by newer clients; Home Assistant's calls have none


class Message(RequestModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    images: list[str] | None = None  # base64, no data-URL prefix
    tool_calls: list[ToolCallParam] | None = None
    tool_name: str | None = None  # a tool result may name its call's function
    tool_call_id: str | None = None
    thinking: str | None = None  # the model's reasoning, resent by clients: the Cat has none, dropped


class FunctionDefinition(RequestModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(RequestModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class BaseGenerateRequest(RequestModel):
    model: str = Field(min_length=1)
    stream: bool = True  # Ollama streams unless told not to
    format: Literal["", "json"] | dict[str, Any] | None = None  # JSON, or a JSON Schema
    options: Options | None = None
    keep_alive: Number | str | None = None  # the Cat's models stay loaded: accepted
    think: bool | Literal["low", "medium", "high"] | None = None  # the Cat does not think aloud: accepted


class ChatRequest(BaseGenerateRequest):
    messages: list[Message] = Field(default_factory=list)
    tools: list[Tool] | None = None


class GenerateRequest(BaseGenerateRequest):
    prompt: str = ""
    system: str | None = None
    images: list[str] | None = None
    suffix: str | None = None
    raw: bool | None = None
    template: str | None = None
    context: list[int] | None = None  # a previous answer's context: the Cat keeps its own memory, so ignored


class EmbedRequest(RequestModel):
    model: str = Field(min_length=1)
    input: str | list[str]
    truncate: bool | None = None
    dimensions: int | None = Field(None, ge=1)
    options: dict[str, Any] | None = None
    keep_alive: Number | str | None = None


class ModelRequest(RequestModel):
    """`/api/show` and `/api/pull`."""

    model: str = Field(min_length=1)
    stream: bool = True
    insecure: bool | None = None
    verbose: bool | None = None


# What the bridge sends


class ToolCallFunctionOut(WireModel):
    name: str
    arguments: dict[str, Any]


class ToolCallOut(WireModel):
    function: ToolCallFunctionOut


class MessageOut(WireModel):
    role: Literal["assistant"] = "assistant"
    content: str
    tool_calls: list[ToolCallOut] | None = None


class AnswerLine(WireModel):
    """One line of an answer; the last (`done`) says why it ended, with Ollama's counts and durations (ns)."""

    model: str
    created_at: str
    done: bool
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class ChatResponse(AnswerLine):
    message: MessageOut


class GenerateResponse(AnswerLine):
    response: str


class ModelDetails(WireModel):
    parent_model: str = ""
    format: str = "cheshire-cat"
    family: str = "cheshire-cat"
    families: list[str] = ["cheshire-cat"]
    parameter_size: str = ""
    quantization_level: str = ""


class ListedModel(WireModel):
    name: str  # what older clients read; Ollama sends it next to `model`
    model: str
    modified_at: str
    size: int = 0
    digest: str
    details: ModelDetails = ModelDetails()


class ListResponse(WireModel):
    models: list[ListedModel]


class ShowResponse(WireModel):
    modified_at: str
    license: str = ""
    modelfile: str = ""
    parameters: str = ""
    template: str = ""
    details: ModelDetails = ModelDetails()
    model_info: dict[str, Any]
    capabilities: list[str]


class EmbedResponse(WireModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int = 0
    prompt_eval_count: int


class StatusResponse(WireModel):
    status: str


class VersionResponse(WireModel):
    version: str


class ErrorResponse(WireModel):
    error: str
