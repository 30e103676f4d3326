"""`POST /v1/responses`: the same Cat turn as a chat completion, as a `response` object or its typed events.

The answer comes from the same `answer_stream`; function calls become
`function_call` items. Nothing is stored server-side, so
`previous_response_id` is refused rather than silently ignored.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ...config.settings import BridgeSettings
from ...http import sse
from ...http.parsing import parse_body
from ...http.pipeline import Call, Job, Reply, Route
from ...turn.answer import (
    HEARTBEAT,
    Answer,
    OutputRules,
    Usage,
    check_message_count,
    output_rules,
)
from ...turn.conversation import ClientTool, ToolCall
from ...turn.demands import Demands, demanded_answer, demanded_stream, json_output, strict_parameters
from ...turn.errors import BridgeError, error_of
from ...turn.port import CatTurn, Identity
from ..chat.convert import build_conversation, function_specs
from .convert import function_tools, messages_of
from .protocol import (
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ContentPartEvent,
    FormatJSONObject,
    FormatJSONObjectOut,
    FormatJSONSchema,
    FormatJSONSchemaOut,
    FormatTextOut,
    FunctionToolOut,
    FunctionToolParam,
    IncompleteDetails,
    NamedToolChoice,
    OutputItem,
    OutputItemEvent,
    Reasoning,
    Response,
    ResponseError,
    ResponseEvent,
    ResponseFunctionToolCall,
    ResponseLifecycleEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponsesRequest,
    ResponseUsage,
    TextConfig,
    TextDeltaEvent,
    TextDoneEvent,
    ToolChoiceFunctionOut,
)
from .stored_routes import Keeper, continued, own_items, wants_store

# The last event of a stream that ended well (what an Idempotency-Key may replay).
FINISHED = (b"event: response.completed\n", b"event: response.incomplete\n")
OUTPUT = (b"event: response.output_text.delta\n", b"event: response.function_call_arguments.delta\n")

# The codes a Response's `error.code` may take (openai-python's ResponseError): typed clients parse that enum,
# so a Cat failure or timeout is a `server_error` whose message says which.
_RESPONSE_ERROR_CODES = {"server_error", "rate_limit_exceeded", "invalid_prompt"}


@dataclass
class ResponseIds:
    model: str
    id: str = field(default_factory=lambda: f"resp_{uuid.uuid4().hex}")
    message_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    call_base: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: int = field(default_factory=lambda: int(time.time()))

    def call_item_id(self, index: int) -> str:
        return f"fc_{self.call_base}_{index}"


def _text_part(text: str) -> ResponseOutputText:
    return ResponseOutputText(text=text)


def _message(ids: ResponseIds, text: str | None, status: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(id=ids.message_id, status=status, content=[] if text is None else [_text_part(text)])


def call_item(
    call: ToolCall, item_id: str, arguments: str | None = None, status: str = "completed"
) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=item_id,
        call_id=call.id,
        name=call.name,
        status=status,
        arguments=call.arguments if arguments is None else arguments,
    )


def _output(ids: ResponseIds, text: str | None, status: str, calls: Sequence[ToolCall]) -> list[OutputItem]:
    """The message (left out when the model only called tools), then one `function_call` item per call."""
    message: list[OutputItem] = [] if text is None or (calls and not text) else [_message(ids, text, status)]
    return message + [call_item(c, ids.call_item_id(i)) for i, c in enumerate(calls)]


def _error(error: BridgeError) -> ResponseError:
    code = error.code if error.code in _RESPONSE_ERROR_CODES else "server_error"
    return ResponseError(code=code, message=error.message, param=error.param, type=error.type)


def _usage(usage: Usage) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens, total_tokens=usage.total_tokens
    )


def response_object(
    ids: ResponseIds,
    body: ResponsesRequest,
    status: str,
    answer: Answer | None = None,
    error: BridgeError | None = None,
    tools: Sequence[ClientTool] = (),
    store: bool = False,
) -> Response:
    strict = {t.name: t.strict for t in body.tools or () if isinstance(t, FunctionToolParam)}
    incomplete = status == "completed" and answer is not None and answer.finish_reason == "length"
    text, calls = (answer.content, answer.tool_calls) if answer is not None else (None, ())
    return Response(
        id=ids.id,
        created_at=ids.created_at,
        status="incomplete" if incomplete else status,
        error=_error(error) if error else None,
        incomplete_details=IncompleteDetails() if incomplete else None,
        instructions=body.instructions,
        max_output_tokens=body.max_output_tokens,
        model=ids.model,
        output=_output(ids, text, "incomplete" if incomplete else "completed", calls),
        previous_response_id=body.previous_response_id,
        store=store,
        reasoning=Reasoning(effort=None, summary=None),
        temperature=body.temperature,
        text=TextConfig(format=_format_out(body)),
        tool_choice=_tool_choice_out(body),
        tools=[
            FunctionToolOut(name=t.name, description=t.description, parameters=t.parameters, strict=strict.get(t.name))
            for t in tools
        ],
        top_p=body.top_p,
        usage=_usage(answer.usage) if answer is not None else None,
        user=body.user,
        metadata=body.metadata or {},
    )


def _format_out(body: ResponsesRequest) -> FormatTextOut | FormatJSONObjectOut | FormatJSONSchemaOut:
    fmt = body.text.format if body.text is not None else None
    if isinstance(fmt, FormatJSONSchema):
        return FormatJSONSchemaOut(
            name=fmt.name, schema=fmt.schema_ or {}, description=fmt.description, strict=fmt.strict
        )
    if isinstance(fmt, FormatJSONObject):
        return FormatJSONObjectOut()
    return FormatTextOut()


def _tool_choice_out(body: ResponsesRequest) -> str | ToolChoiceFunctionOut:
    choice = body.tool_choice
    if isinstance(choice, NamedToolChoice):
        return ToolChoiceFunctionOut(name=choice.name)
    return choice or "auto"


def demands_of(body: ResponsesRequest, tools: tuple[ClientTool, ...], call: str | None, nested: list) -> Demands:
    """`text.format`, a forced `tool_choice` and `strict` functions, checked as OpenAI checks them."""
    fmt = body.text.format if body.text is not None else None
    output = None
    if isinstance(fmt, FormatJSONSchema):
        output = json_output("json_schema", "text.format.schema", fmt.name, fmt.schema_, fmt.description, fmt.strict)
    elif fmt is not None:
        output = json_output(fmt.type, "text.format")
    strict = strict_parameters(function_specs(nested), "tools.[{i}].parameters")
    return Demands(output, call, strict, tuple(t.name for t in tools))


@dataclass
class ResponsesJob(Job):
    body: ResponsesRequest | None = None
    rules: OutputRules | None = None
    tools: tuple[ClientTool, ...] = ()
    demands: Demands = field(default_factory=Demands)
    own: list = field(default_factory=list)  # this request's input, as stored items
    history: list = field(default_factory=list)  # the stored conversation it continues
    store: bool = False

    def completion_cap(self) -> int:
        return (self.rules.limit or 0) if self.rules is not None else 0

    def replay_floor(self) -> int:
        """A response repeats the request's `metadata` and `instructions`; a stream does so in three events."""
        if self.body is None:
            return 0
        echoed = sum(len(k) + len(v) for k, v in (self.body.metadata or {}).items()) + len(self.body.instructions or "")
        return echoed * (3 if self.body.stream else 1)


class Responses(Route[ResponsesJob]):
    name = "responses"

    def __init__(self, pipeline, keeper: Keeper) -> None:
        super().__init__(pipeline)
        self.keeper = keeper

    def _conversation(self, body: ResponsesRequest, settings: BridgeSettings):
        if isinstance(body.input, list):
            check_message_count(len(body.input), settings, "input")
        return build_conversation(
            messages_of(body), allow_images=self.cat.supports_images, allow_tools=self.cat.supports_client_tools
        )

    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ResponsesJob:
        body = parse_body(ResponsesRequest, raw)
        rules = output_rules(settings, bool(body.stream), body.max_output_tokens, "max_output_tokens")
        tools, forced, nested = function_tools(body, allowed=self.cat.supports_client_tools)
        demands = demands_of(body, tools, forced, nested)
        # A continued conversation is built once the stored one is loaded (prepare), for the user it belongs to.
        conversation = None if body.previous_response_id else self._conversation(body, settings)
        own = own_items(body) if wants_store(body, settings) else []
        job = ResponsesJob(body.model, body.user, conversation, False, body, rules, tools, demands, own)
        job.store = wants_store(body, settings)
        return job

    async def prepare(self, job: ResponsesJob, identity: Identity, settings: BridgeSettings) -> ResponsesJob:
        body = job.body
        assert body is not None
        if body.previous_response_id:
            stored = await self.keeper.load(identity, settings, body.previous_response_id, "previous_response_id")
            job.history = stored.history
            job.conversation = self._conversation(continued(body, stored.history), settings)
        return job

    async def run(self, job: ResponsesJob, call: Call) -> Reply:
        body, rules, conversation = job.body, job.rules, job.conversation
        assert body is not None and rules is not None and conversation is not None
        demands = job.demands
        turn = call.turn(conversation, rules.stream, job.tools, body.metadata, demands=demands)
        ids = ResponseIds(body.model)
        if rules.stream:
            return Reply(events=self.stream(turn, rules, ids, job, call), ends=FINISHED, output=OUTPUT)
        answer = await demanded_answer(self.cat, turn, rules, demands)
        call.report(answer.usage, charged=answer.charged)
        final = response_object(ids, body, "completed", answer, tools=job.tools, store=job.store)
        if job.store:
            await self.keeper.keep(call.identity, call.settings, final, job.own, job.history)
        return Reply(final)

    async def stream(
        self, turn: CatTurn, rules: OutputRules, ids: ResponseIds, job: ResponsesJob, call: Call
    ) -> AsyncIterator[bytes]:
        """The typed events in OpenAI's order; a failure ends the stream with `response.failed`."""
        body, demands, store = job.body, job.demands, job.store
        assert body is not None
        out = _EventWriter(ids)
        started = response_object(ids, body, "in_progress", tools=turn.tools, store=store)
        yield out.lifecycle("response.created", started)
        yield out.lifecycle("response.in_progress", started)
        try:
            async with contextlib.aclosing(
                demanded_stream(self.cat, turn, rules, demands, wait_for_result=True)
            ) as items:
                async for item in items:
                    if item is HEARTBEAT:
                        yield sse.PING
                    elif isinstance(item, str):
                        for event in out.text(item):
                            yield event
                    elif isinstance(item, Answer):
                        ending = item
        except Exception as exc:  # after the headers, a failure is an event, never a trace
            failed = response_object(
                ids, body, "failed", error=error_of(exc, self.cat.log, call.audience), tools=turn.tools, store=store
            )
            yield out.lifecycle("response.failed", failed)
            return
        call.report(ending.usage, ending.prompt_counted, ending.charged)
        final = response_object(ids, body, "completed", ending, tools=turn.tools, store=store)
        if store:
            await self.keeper.keep(call.identity, call.settings, final, job.own, job.history)
        for event in out.ending(ending, final):
            yield event
        # A cut answer ends as OpenAI ends it: `response.incomplete`, not `response.completed`.
        yield out.lifecycle("response.incomplete" if final.status == "incomplete" else "response.completed", final)


class _EventWriter:
    """Numbers and frames one stream's events. The message item opens with the first text, so a turn that only
    calls tools streams just its `function_call` items, as OpenAI does."""

    def __init__(self, ids: ResponseIds) -> None:
        self.ids = ids
        self.numbers = iter(range(1_000_000_000))
        self.opened = False
        self.where = {"item_id": ids.message_id, "output_index": 0, "content_index": 0}

    def event(self, kind: type[ResponseEvent], name: str, **fields: Any) -> bytes:
        return sse.event(kind(type=name, sequence_number=next(self.numbers), **fields), name)

    def lifecycle(self, name: str, response: Response) -> bytes:
        return self.event(ResponseLifecycleEvent, name, response=response)

    def _open(self) -> Iterator[bytes]:
        if not self.opened:
            self.opened = True
            item = _message(self.ids, None, "in_progress")
            yield self.event(OutputItemEvent, "response.output_item.added", output_index=0, item=item)
            yield self.event(ContentPartEvent, "response.content_part.added", **self.where, part=_text_part(""))

    def text(self, delta: str) -> Iterator[bytes]:
        yield from self._open()
        yield self.event(TextDeltaEvent, "response.output_text.delta", **self.where, delta=delta)

    def ending(self, ending: Answer, final: Response) -> Iterator[bytes]:
        if not ending.tool_calls:
            yield from self._open()
        if self.opened:
            yield self.event(TextDoneEvent, "response.output_text.done", **self.where, text=ending.content)
            yield self.event(
                ContentPartEvent, "response.content_part.done", **self.where, part=_text_part(ending.content)
            )
            yield self.event(OutputItemEvent, "response.output_item.done", output_index=0, item=final.output[0])
        first = 1 if self.opened else 0
        for i, tool_call in enumerate(ending.tool_calls):  # the Cat hands calls over whole: one delta each
            index, item_id = first + i, self.ids.call_item_id(i)
            added = call_item(tool_call, item_id, arguments="", status="in_progress")
            yield self.event(OutputItemEvent, "response.output_item.added", output_index=index, item=added)
            where = {"item_id": item_id, "output_index": index}
            yield self.event(
                ArgumentsDeltaEvent, "response.function_call_arguments.delta", **where, delta=tool_call.arguments
            )
            yield self.event(
                ArgumentsDoneEvent, "response.function_call_arguments.done", **where, arguments=tool_call.arguments
            )
            yield self.event(
                OutputItemEvent, "response.output_item.done", output_index=index, item=call_item(tool_call, item_id)
            )
