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

from ..chat_completion.messages import build_conversation
from ..engine import sse
from ..engine.answer import (
    HEARTBEAT,
    Answer,
    OutputRules,
    Usage,
    answer_stream,
    check_message_count,
    output_rules,
    run_answer,
)
from ..engine.conversation import ClientTool, ToolCall
from ..engine.errors import BridgeError, error_of
from ..engine.parsing import parse_body
from ..engine.pipeline import Call, Job, Reply, Route
from ..port import CatTurn
from ..settings import BridgeSettings
from .input_items import function_tools, messages_of
from .protocol import (
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ContentPartEvent,
    FunctionToolOut,
    IncompleteDetails,
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
    TextDeltaEvent,
    TextDoneEvent,
)

# The last event of a stream that ended well (what an Idempotency-Key may replay).
FINISHED = (b"event: response.completed\n", b"event: response.incomplete\n")

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
) -> Response:
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
        previous_response_id=None,
        reasoning=Reasoning(effort=None, summary=None),
        temperature=body.temperature,
        tool_choice=body.tool_choice if isinstance(body.tool_choice, str) else "auto",
        tools=[
            FunctionToolOut(name=t.name, description=t.description, parameters=t.parameters, strict=None) for t in tools
        ],
        top_p=body.top_p,
        usage=_usage(answer.usage) if answer is not None else None,
        user=body.user,
        metadata=body.metadata or {},
    )


@dataclass
class ResponsesJob(Job):
    body: ResponsesRequest | None = None
    rules: OutputRules | None = None
    tools: tuple[ClientTool, ...] = ()


class Responses(Route[ResponsesJob]):
    def parse(self, request: Request, raw: bytes, settings: BridgeSettings) -> ResponsesJob:
        body = parse_body(ResponsesRequest, raw)
        if isinstance(body.input, list):
            check_message_count(len(body.input), settings, "input")
        rules = output_rules(settings, bool(body.stream), body.max_output_tokens, "max_output_tokens")
        tools = function_tools(body, allowed=self.cat.supports_client_tools)
        conversation = build_conversation(
            messages_of(body), allow_images=self.cat.supports_images, allow_tools=self.cat.supports_client_tools
        )
        return ResponsesJob(body.model, body.user, conversation, False, body, rules, tools)

    async def run(self, job: ResponsesJob, call: Call) -> Reply:
        body, rules, conversation = job.body, job.rules, job.conversation
        assert body is not None and rules is not None and conversation is not None
        turn = call.turn(conversation, rules.stream, job.tools, body.metadata)
        ids = ResponseIds(body.model)
        if rules.stream:
            return Reply(events=self.stream(turn, rules, ids, body, call), ends=FINISHED)
        answer = await run_answer(self.cat, turn, rules)
        call.lease.report(answer.usage.total_tokens)
        return Reply(response_object(ids, body, "completed", answer, tools=job.tools))

    async def stream(
        self, turn: CatTurn, rules: OutputRules, ids: ResponseIds, body: ResponsesRequest, call: Call
    ) -> AsyncIterator[bytes]:
        """The typed events in OpenAI's order; a failure ends the stream with `response.failed`."""
        out = _EventWriter(ids)
        started = response_object(ids, body, "in_progress", tools=turn.tools)
        yield out.lifecycle("response.created", started)
        yield out.lifecycle("response.in_progress", started)
        try:
            async with contextlib.aclosing(
                answer_stream(self.cat, turn, rules, self.cat.log, wait_for_result=True)
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
                ids, body, "failed", error=error_of(exc, self.cat.log, call.audience), tools=turn.tools
            )
            yield out.lifecycle("response.failed", failed)
            return
        call.lease.report(ending.usage.total_tokens)
        final = response_object(ids, body, "completed", ending, tools=turn.tools)
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
