"""One chat completion: plan it from the request, run it on the Cat, shape the output.

Both the JSON answer and the SSE stream come from the same turn events and the
same `AnswerCutter`, so `max_tokens`, `stop` and usage mean the same thing in
both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import AsyncIterator, Callable, List, Optional, Tuple, Union

from . import sse, tokens
from .completions import CompletionIds, Usage, chunk, usage_chunk, why_chunk
from .errors import BridgeError, invalid_request, server_error, upstream_failed, upstream_timeout
from .port import CatFailure, CatPort, CatTurn, TextDelta, TurnEvent, TurnResult
from .tools import ToolCall
from .requests import ChatCompletionRequest
from .settings import BridgeSettings
from .shaping import AnswerCutter, reconcile


@dataclass(frozen=True)
class Plan:
    """The request's output rules, checked against the bridge's settings."""

    stream: bool
    include_usage: bool
    limit: Optional[int]
    stops: List[str]
    timeout: float
    heartbeat: float = 0.0  # seconds of Cat silence before an SSE comment keeps proxies awake (0 = never)


def plan(body: ChatCompletionRequest, settings: BridgeSettings, allow_tools: bool = False) -> Plan:
    if body.n is not None and body.n > 1:
        raise invalid_request("Only n=1 is supported: the Cat gives one answer per turn.", "n", "unsupported_value")
    if body.tools and not allow_tools:
        raise invalid_request(
            "Client-declared tools are not supported on this Cat version (its agent cannot hand tool calls back); "
            "send the request without 'tools'.", "tools", "unsupported_parameter"
        )
    if body.logprobs:
        raise invalid_request("logprobs are not available from the Cat.", "logprobs", "unsupported_parameter")
    fmt = (body.response_format or {}).get("type", "text")
    if fmt != "text":
        raise invalid_request(
            f"response_format '{fmt}' is not supported; only 'text' is.", "response_format.type", "unsupported_value"
        )
    check_message_count(len(body.messages), settings, "messages")
    stops = body.stop_sequences()
    if len(stops) > 4:
        raise invalid_request("Invalid 'stop': at most 4 stop sequences are allowed.", "stop", "invalid_value")
    stream = bool(body.stream)
    if body.stream_options is not None and not stream:
        raise invalid_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value"
        )
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return output_plan(settings, stream, body.completion_limit(), param, stops, include_usage)


def check_message_count(count: int, settings: BridgeSettings, param: str) -> None:
    """`max_messages` holds for every route that takes a conversation (Chat Completions `messages`, Responses `input`)."""
    if count > settings.max_messages:
        raise invalid_request(
            f"Too many messages: {count}. This bridge accepts at most {settings.max_messages}.", param, "too_many_messages"
        )


def output_plan(settings: BridgeSettings, stream: bool, asked: Optional[int], param: str,
                stops: Optional[List[str]] = None, include_usage: bool = False) -> Plan:
    """The rules every protocol shares: streaming allowed, the token ceiling, the timeout."""
    if stream and not settings.enable_streaming:
        raise invalid_request(
            "Streaming is disabled on this Cat (setting enable_streaming).", "stream", "streaming_disabled"
        )
    ceiling = settings.max_tokens or None
    if asked is not None and ceiling is not None and asked > ceiling:
        raise invalid_request(
            f"{param} is too large: {asked}. This Cat allows at most {ceiling} completion tokens.", param, "invalid_value"
        )
    return Plan(stream, include_usage, asked if asked is not None else ceiling, stops or [], settings.request_timeout,
                settings.stream_heartbeat_seconds)


class Heartbeat:
    """Returned instead of an event when the Cat has been silent for a heartbeat interval."""


HEARTBEAT = Heartbeat()


class Pump:
    """Reads a turn's events against a deadline, without cancelling a pending read for a heartbeat."""

    def __init__(self, events: AsyncIterator[TurnEvent], timeout: float, heartbeat: float = 0.0) -> None:
        self._events = events
        self._deadline = asyncio.get_running_loop().time() + timeout
        self._heartbeat = heartbeat
        self._pending: "Optional[asyncio.Future[TurnEvent]]" = None

    async def next(self, beat: bool = False) -> "Optional[TurnEvent] | Heartbeat":
        remaining = self._deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise asyncio.TimeoutError
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._events.__anext__())
        wait = min(remaining, self._heartbeat) if beat and self._heartbeat else remaining
        done, _ = await asyncio.wait({self._pending}, timeout=wait)
        if not done:
            if wait < remaining:
                return HEARTBEAT
            raise asyncio.TimeoutError
        pending, self._pending = self._pending, None
        try:
            return pending.result()
        except StopAsyncIteration:
            return None

    async def close(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pending
        await self._events.aclose()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Answer:
    content: str
    finish_reason: str
    usage: Usage
    tool_calls: Tuple[ToolCall, ...] = ()
    why: Optional[dict] = None


async def run_to_end(cat: CatPort, turn: CatTurn, p: Plan) -> Tuple[str, str, Usage]:
    """The whole answer: (content, finish_reason, usage). Raises BridgeError."""
    answer = await run_answer(cat, turn, p)
    return answer.content, answer.finish_reason, answer.usage


async def run_answer(cat: CatPort, turn: CatTurn, p: Plan) -> Answer:
    """The whole answer, tool calls included. Raises BridgeError."""
    events = Pump(cat.run(turn), p.timeout)
    result: Optional[TurnResult] = None
    try:
        while True:
            ev = await events.next()
            if ev is None:
                break
            if isinstance(ev, TurnResult):
                result = ev
    except asyncio.TimeoutError:
        raise upstream_timeout(p.timeout) from None
    except CatFailure as exc:
        raise upstream_failed(str(exc)) from None
    finally:
        await events.close()
    if result is None:
        raise upstream_failed("the turn ended without an answer")
    cutter = AnswerCutter(p.limit, p.stops)
    content = cutter.feed(result.text) + cutter.finish()
    calls = result.tool_calls
    usage = Usage(result.prompt_tokens, tokens.count_text(content) + result.extra_completion_tokens + _call_tokens(calls))
    if calls and not cutter.cut:
        return Answer(content, "tool_calls", usage, calls, result.why)
    return Answer(content, cutter.finish_reason or "stop", usage, (), result.why)


def _call_tokens(calls: Tuple[ToolCall, ...]) -> int:
    return sum(tokens.count_text(c.name) + tokens.count_text(c.arguments) for c in calls)


def _call_deltas(calls: Tuple[ToolCall, ...]) -> List[dict]:
    """OpenAI streams a call as its header (id, name) then its arguments; the Cat gives them whole."""
    deltas = []
    for index, call in enumerate(calls):
        deltas.append({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                       "function": {"name": call.name, "arguments": ""}}]})
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": call.arguments}}]})
    return deltas


@dataclass(frozen=True)
class Ending:
    """How a streamed answer ended, once its text is out."""

    finish_reason: str
    usage: Usage
    tool_calls: Tuple[ToolCall, ...] = ()
    why: Optional[dict] = None


StreamItem = Union[str, Heartbeat, Ending]


async def answer_stream(cat: CatPort, turn: CatTurn, p: Plan, log: Callable[[str, str], None],
                        wait_for_result: bool = False) -> AsyncIterator[StreamItem]:
    """The answer's text as the Cat produces it, cut by the plan, then one `Ending`.

    Protocol-neutral: Chat Completions and Responses encode the same items.
    Raises asyncio.TimeoutError or CatFailure; the encoders turn them into
    their error events.
    """
    events = Pump(cat.run(turn), p.timeout, p.heartbeat)
    cutter = AnswerCutter(p.limit, p.stops)
    streamed: List[str] = []
    result: Optional[TurnResult] = None
    try:
        while not cutter.done:
            ev = await events.next(beat=True)
            if ev is None:
                break
            if ev is HEARTBEAT:
                yield HEARTBEAT
            elif isinstance(ev, TextDelta):
                streamed.append(ev.text)
                out = cutter.feed(ev.text)
                if out:
                    yield out
            elif isinstance(ev, TurnResult):
                result = ev
        if not cutter.done:
            if result is None:
                raise CatFailure("the turn ended without an answer")
            tail, consistent = reconcile("".join(streamed), result.text)
            if not consistent:
                log("debug", "streamed tokens differ from the Cat's final answer; the stream keeps what was sent")
            out = cutter.feed(tail) + cutter.finish()
            if out:
                yield out
        calls = result.tool_calls if result is not None and not cutter.cut else ()
        while wait_for_result and result is None:  # cut early: let the turn end to count its prompt
            ev = await events.next()
            if ev is None:
                raise CatFailure("the turn ended without an answer")
            if isinstance(ev, TurnResult):
                result = ev
        sent = tokens.count_text(cutter.sent) + _call_tokens(calls)
        usage = Usage(result.prompt_tokens, sent + result.extra_completion_tokens) if result else Usage(0, sent)
        reason = "tool_calls" if calls else (cutter.finish_reason or "stop")
        yield Ending(reason, usage, calls, result.why if result is not None else None)
    finally:
        await events.close()


async def stream(
    cat: CatPort,
    turn: CatTurn,
    p: Plan,
    ids: CompletionIds,
    log: Callable[[str, str], None],
    on_usage: Callable[[Usage], None] = lambda usage: None,
) -> AsyncIterator[bytes]:
    """SSE body: role chunk, one chunk per Cat token, finish chunk, usage, [DONE].

    A failure after the headers went out ends the stream with an OpenAI error
    event and no `finish_reason`, so no client mistakes half an answer for a
    whole one.
    """
    with_usage = p.include_usage
    yield sse.event(chunk(ids, {"role": "assistant", "content": "", "refusal": None}, with_usage_field=with_usage))
    try:
        async with contextlib.aclosing(answer_stream(cat, turn, p, log, with_usage or turn.why)) as items:
            async for item in items:
                if item is HEARTBEAT:
                    yield sse.PING
                elif isinstance(item, str):
                    yield sse.event(chunk(ids, {"content": item}, with_usage_field=with_usage))
                elif isinstance(item, Ending):
                    ending = item
        for delta in _call_deltas(ending.tool_calls):
            yield sse.event(chunk(ids, delta, with_usage_field=with_usage))
        yield sse.event(chunk(ids, {}, ending.finish_reason, with_usage_field=with_usage))
        on_usage(ending.usage)
        if with_usage:
            yield sse.event(usage_chunk(ids, ending.usage))
        if turn.why and ending.why is not None:
            yield sse.event(why_chunk(ids, ending.why))
        yield sse.DONE
    except asyncio.TimeoutError:
        yield sse.event(upstream_timeout(p.timeout).body())
    except CatFailure as exc:
        yield sse.event(upstream_failed(str(exc)).body())
    except BridgeError as exc:
        yield sse.event(exc.body())
    except Exception as exc:  # never a trace on the wire
        log("error", f"stream failed: {exc!r}")
        yield sse.event(server_error().body())
