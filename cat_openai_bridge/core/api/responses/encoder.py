"""The Responses API on the wire: the `response` object, and its typed stream events.

The message item opens with the first text, so a turn that only calls tools streams just its `function_call` items.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...http import sse
from ...http.encoder import Encoder, Event
from ...turn.answer import Answer, Usage
from ...turn.conversation import ClientTool, ToolCall
from ...turn.errors import BridgeError
from .events import (
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ContentPartEvent,
    CustomInputDoneEvent,
    OutputItemEvent,
    ResponseEvent,
    ResponseLifecycleEvent,
    TextDeltaEvent,
    TextDoneEvent,
)
from .protocol import (
    CustomToolOut,
    CustomToolParam,
    FormatJSONSchema,
    FormatJSONSchemaOut,
    FunctionToolOut,
    FunctionToolParam,
    IncompleteDetails,
    NamedToolChoice,
    NamespaceToolOut,
    NamespaceToolParam,
    OutputItem,
    PlainFormatOut,
    Reasoning,
    Response,
    ResponseCustomToolCall,
    ResponseError,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponsesRequest,
    ResponseUsage,
    TextConfig,
    ToolChoiceFunctionOut,
)

# The codes a Response's `error.code` may take (openai-python's ResponseError): typed clients parse that enum,
# so a Cat failure or timeout is a `server_error` whose message says which, and a final failure (a 400, e.g. a
# structured answer that failed its re-ask) `invalid_prompt`, the one code Codex does not retry the turn on.
_RESPONSE_ERROR_CODES = {"server_error", "rate_limit_exceeded", "invalid_prompt"}
ECHOED = {"instructions", "max_output_tokens", "previous_response_id", "temperature", "top_p", "user"}  # as asked


@dataclass
class ResponseIds:
    model: str
    id: str = field(default_factory=lambda: f"resp_{uuid.uuid4().hex}")
    message_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    call_base: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: int = field(default_factory=lambda: int(time.time()))

    def call_item_id(self, index: int) -> str:
        return f"fc_{self.call_base}_{index}"


def _message(ids: ResponseIds, text: str | None, status: str) -> ResponseOutputMessage:
    content = [] if text is None else [ResponseOutputText(text=text)]
    return ResponseOutputMessage(id=ids.message_id, status=status, content=content)


def _call_item(
    call: ToolCall, item_id: str, tools: Sequence[ClientTool], status: str = "completed"
) -> ResponseFunctionToolCall | ResponseCustomToolCall:
    """A `function_call`, or a `custom_tool_call` with its `input` text; in progress, its arguments are to come."""
    tool = next((t for t in tools if t.name == call.name), ClientTool(call.name, "", {}))
    done = status == "completed"
    fields: dict[str, Any] = {"id": item_id, "call_id": call.id, "name": tool.own_name}
    if tool.namespace:
        fields["namespace"] = tool.namespace
    if not tool.custom:
        return ResponseFunctionToolCall(**fields, arguments=call.arguments if done else "", status=status)
    value = call.args().get("input", call.arguments)
    return ResponseCustomToolCall(**fields, input=(value if isinstance(value, str) else json.dumps(value)) * done)


def _output(
    ids: ResponseIds, text: str | None, status: str, calls: Sequence[ToolCall], tools: Sequence[ClientTool]
) -> list[OutputItem]:
    """The message (left out when the model only called tools), then one item per call."""
    message: list[OutputItem] = [] if text is None or (calls and not text) else [_message(ids, text, status)]
    return message + [_call_item(c, ids.call_item_id(i), tools) for i, c in enumerate(calls)]


def _tools_out(body: ResponsesRequest, tools: Sequence[ClientTool]) -> list:
    """The offered tools as declared: a namespace's under it."""
    declared: dict[tuple[str | None, str], Any] = {}
    about = {}  # each namespace's description
    for tool in body.tools or ():
        if isinstance(tool, NamespaceToolParam):
            about[tool.name] = tool.description
            declared.update({(tool.name, t.name): t for t in tool.tools})
        elif isinstance(tool, (FunctionToolParam, CustomToolParam)):
            declared[(None, tool.name)] = tool
    out: list = []
    spaces: dict[str, NamespaceToolOut] = {}
    for t in tools:
        param = declared.get((t.namespace, t.own_name))
        if isinstance(param, CustomToolParam):
            item: Any = CustomToolOut(**param.model_dump(include={"name", "description", "format"}, exclude_none=True))
        else:
            strict = getattr(param, "strict", None)
            item = FunctionToolOut(name=t.own_name, description=t.description, parameters=t.parameters, strict=strict)
        if t.namespace is None:
            out.append(item)
        elif t.namespace in spaces:
            spaces[t.namespace].tools.append(item)
        else:
            spaces[t.namespace] = NamespaceToolOut(name=t.namespace, description=about[t.namespace], tools=[item])
            out.append(spaces[t.namespace])
    return out


def _error(error: BridgeError) -> ResponseError:
    final = "invalid_prompt" if error.status == 400 else "server_error"
    code = error.code if error.code in _RESPONSE_ERROR_CODES else final
    return ResponseError(code=code, message=error.message, param=error.param, type=error.type)


def _usage(usage: Usage) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens, total_tokens=usage.total_tokens
    )


def response_object(
    ids: ResponseIds,
    body: ResponsesRequest,
    status: str,
    answer: Answer | None,
    error: BridgeError | None,
    tools: Sequence[ClientTool],
    store: bool,
) -> Response:
    incomplete = status == "completed" and answer is not None and answer.finish_reason == "length"
    text, calls = (answer.content, answer.tool_calls) if answer is not None else (None, ())
    choice = body.tool_choice
    choice_out = ToolChoiceFunctionOut(name=choice.name) if isinstance(choice, NamedToolChoice) else choice or "auto"
    return Response(
        id=ids.id,
        created_at=ids.created_at,
        status="incomplete" if incomplete else status,
        error=_error(error) if error else None,
        incomplete_details=IncompleteDetails() if incomplete else None,
        model=ids.model,
        output=_output(ids, text, "incomplete" if incomplete else "completed", calls, tools),
        store=store,
        reasoning=Reasoning(effort=None, summary=None),
        text=TextConfig(format=_format_out(body)),
        tool_choice=choice_out,
        tools=_tools_out(body, tools),
        usage=_usage(answer.usage) if answer is not None else None,
        metadata=body.metadata or {},
        **body.model_dump(include=ECHOED),
    )


def _format_out(body: ResponsesRequest) -> PlainFormatOut | FormatJSONSchemaOut:
    fmt = body.text.format if body.text is not None else None
    if isinstance(fmt, FormatJSONSchema):
        return FormatJSONSchemaOut(**{**fmt.model_dump(by_alias=True), "schema": fmt.schema_ or {}})
    return PlainFormatOut(type=fmt.type) if fmt is not None else PlainFormatOut()


class ResponseEncoder(Encoder):
    def __init__(self, ids: ResponseIds, body: ResponsesRequest, tools: Sequence[ClientTool], store: bool) -> None:
        self.ids = ids
        self.body = body
        self.tools = tools
        self.store = store
        self.numbers = iter(range(1_000_000_000))
        self.opened = False
        self.where = {"item_id": ids.message_id, "output_index": 0, "content_index": 0}
        self._final: tuple[Answer, Response] | None = None

    def response(self, status: str, answer: Answer | None = None, error: BridgeError | None = None) -> Response:
        return response_object(self.ids, self.body, status, answer, error, self.tools, self.store)

    def final(self, answer: Answer) -> Response:
        """The whole response, built once: what the stream ends with is what is stored."""
        if self._final is None or self._final[0] is not answer or self._final[1].store != self.store:
            self._final = (answer, self.response("completed", answer))
        return self._final[1]

    def event(self, kind: type[ResponseEvent], name: str, output: bool = False, **fields: Any) -> Event:
        return Event(sse.event(kind(type=name, sequence_number=next(self.numbers), **fields), name), output)

    def lifecycle(self, name: str, response: Response) -> Event:
        return self.event(ResponseLifecycleEvent, name, response=response)

    def start(self) -> Iterable[Event]:
        started = self.response("in_progress")
        yield self.lifecycle("response.created", started)
        yield self.lifecycle("response.in_progress", started)

    def _open(self) -> Iterator[Event]:
        if not self.opened:
            self.opened = True
            item = _message(self.ids, None, "in_progress")
            yield self.event(OutputItemEvent, "response.output_item.added", output_index=0, item=item)
            yield self.event(
                ContentPartEvent, "response.content_part.added", **self.where, part=ResponseOutputText(text="")
            )

    def text(self, delta: str) -> Iterable[Event]:
        yield from self._open()
        yield self.event(TextDeltaEvent, "response.output_text.delta", True, **self.where, delta=delta)

    def close_text(self, answer: Answer) -> Iterable[Event]:
        if not answer.tool_calls:
            yield from self._open()
        if self.opened:
            part = ResponseOutputText(text=answer.content)
            yield self.event(TextDoneEvent, "response.output_text.done", **self.where, text=part.text)
            yield self.event(ContentPartEvent, "response.content_part.done", **self.where, part=part)
            item = self.final(answer).output[0]
            yield self.event(OutputItemEvent, "response.output_item.done", output_index=0, item=item)

    def tool_call(self, index: int, call: ToolCall) -> Iterable[Event]:
        index, item_id = (1 if self.opened else 0) + index, self.ids.call_item_id(index)
        added = _call_item(call, item_id, self.tools, "in_progress")
        yield self.event(OutputItemEvent, "response.output_item.added", output_index=index, item=added)
        where: dict[str, Any] = {"item_id": item_id, "output_index": index}
        done = _call_item(call, item_id, self.tools)
        if isinstance(done, ResponseCustomToolCall):
            kind, ending, last = "response.custom_tool_call_input", CustomInputDoneEvent, {"input": done.input}
        else:
            kind, ending, last = "response.function_call_arguments", ArgumentsDoneEvent, {"arguments": done.arguments}
        yield self.event(ArgumentsDeltaEvent, f"{kind}.delta", True, **where, delta=next(iter(last.values())))
        yield self.event(ending, f"{kind}.done", **where, **last)
        yield self.event(OutputItemEvent, "response.output_item.done", output_index=index, item=done)

    def finish(self, answer: Answer) -> Iterable[Event]:
        final = self.final(answer)
        yield self.lifecycle("response.incomplete" if final.status == "incomplete" else "response.completed", final)

    def failed(self, error: BridgeError) -> Event:
        return self.lifecycle("response.failed", self.response("failed", error=error))
