"""One Cat turn as an answer, whatever protocol asked for it.

Every protocol's JSON answer and stream come from the same turn events and the
same `AnswerCutter`, so `max_tokens`, `stop` and usage mean the same thing in
every mode; the protocol folders only encode what comes out of here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from ..port import CatFailure, CatPort, CatTimeout, CatTurn, TextDelta, TurnEvent, TurnResult
from ..settings import BridgeSettings
from . import tokens
from .conversation import ToolCall
from .cutting import AnswerCutter, reconcile
from .errors import invalid_request


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class OutputRules:
    """What a request may get out of the Cat, checked against the bridge's settings."""

    stream: bool
    limit: int | None
    timeout: float
    stops: list[str] = field(default_factory=list)
    include_usage: bool = False
    heartbeat: float = 0.0  # seconds of Cat silence before an SSE comment keeps proxies awake (0 = never)


def output_rules(
    settings: BridgeSettings,
    stream: bool,
    asked: int | None,
    param: str,
    stops: list[str] | None = None,
    include_usage: bool = False,
) -> OutputRules:
    """The rules every protocol shares: streaming allowed, the token ceiling, the timeout."""
    if stream and not settings.enable_streaming:
        raise invalid_request(
            "Streaming is disabled on this Cat (setting enable_streaming).", "stream", "streaming_disabled"
        )
    ceiling = settings.max_tokens or None
    if asked is not None and ceiling is not None and asked > ceiling:
        raise invalid_request(
            f"{param} is too large: {asked}. This Cat allows at most {ceiling} completion tokens.",
            param,
            "invalid_value",
        )
    return OutputRules(
        stream,
        asked if asked is not None else ceiling,
        settings.request_timeout,
        stops or [],
        include_usage,
        settings.stream_heartbeat_seconds,
    )


def check_message_count(count: int, settings: BridgeSettings, param: str) -> None:
    """`max_messages` holds for every route that takes a conversation."""
    if count > settings.max_messages:
        raise invalid_request(
            f"Too many messages: {count}. This bridge accepts at most {settings.max_messages}.",
            param,
            "too_many_messages",
        )


class Heartbeat:
    """Returned instead of an event when the Cat has been silent for a heartbeat interval."""


HEARTBEAT = Heartbeat()


class Pump:
    """Reads a turn's events against a deadline, without cancelling a pending read for a heartbeat."""

    def __init__(self, events: AsyncIterator[TurnEvent], timeout: float, heartbeat: float = 0.0) -> None:
        self._events = events
        self._timeout = timeout
        self._deadline = asyncio.get_running_loop().time() + timeout
        self._heartbeat = heartbeat
        self._pending: asyncio.Future[TurnEvent] | None = None

    async def next(self, beat: bool = False) -> TurnEvent | None | Heartbeat:
        remaining = self._deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise CatTimeout(self._timeout)
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._events.__anext__())
        wait = min(remaining, self._heartbeat) if beat and self._heartbeat else remaining
        done, _ = await asyncio.wait({self._pending}, timeout=wait)
        if not done:
            if wait < remaining:
                return HEARTBEAT
            raise CatTimeout(self._timeout)
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
    """How an answer ended, once its text is out (or, for JSON, with all of it)."""

    content: str
    finish_reason: str
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()
    why: dict | None = None
    prompt_counted: bool = True  # False: a stream cut before the Cat's turn ended, its prompt not yet known
    stop_sequence: str | None = None  # the client's stop sequence the answer was cut at


def _call_tokens(calls: tuple[ToolCall, ...]) -> int:
    return sum(tokens.count_text(c.name) + tokens.count_text(c.arguments) for c in calls)


async def run_answer(cat: CatPort, turn: CatTurn, rules: OutputRules) -> Answer:
    """The whole answer, tool calls included. Raises CatFailure or CatTimeout."""
    events = Pump(cat.run(turn), rules.timeout)
    result: TurnResult | None = None
    try:
        while (ev := await events.next()) is not None:
            if isinstance(ev, TurnResult):
                result = ev
    finally:
        await events.close()
    if result is None:
        raise CatFailure("the turn ended without an answer")
    cutter = AnswerCutter(rules.limit, rules.stops)
    content = cutter.feed(result.text) + cutter.finish()
    calls = result.tool_calls
    usage = Usage(
        result.prompt_tokens, tokens.count_text(content) + result.extra_completion_tokens + _call_tokens(calls)
    )
    if calls and not cutter.cut:
        return Answer(content, "tool_calls", usage, calls, result.why)
    return Answer(content, cutter.finish_reason or "stop", usage, (), result.why, stop_sequence=cutter.stop_sequence)


StreamItem = str | Heartbeat | Answer


async def _result_of(events: Pump) -> TurnResult:
    """Read on to the turn's result (after a cut: its prompt still counts)."""
    while (ev := await events.next()) is not None:
        if isinstance(ev, TurnResult):
            return ev
    raise CatFailure("the turn ended without an answer")


def _tail(cutter: AnswerCutter, streamed: list[str], result: TurnResult | None, log: Callable[[str, str], None]) -> str:
    """What is left to send once the Cat's turn ended: the final answer's missing tail, cut by the rules."""
    if result is None:
        raise CatFailure("the turn ended without an answer")
    tail, consistent = reconcile("".join(streamed), result.text)
    if not consistent:
        log("debug", "streamed tokens differ from the Cat's final answer; the stream keeps what was sent")
    return cutter.feed(tail) + cutter.finish()


async def answer_stream(
    cat: CatPort, turn: CatTurn, rules: OutputRules, log: Callable[[str, str], None], wait_for_result: bool = False
) -> AsyncIterator[StreamItem]:
    """The answer's text as the Cat produces it, cut by the rules, then one `Answer` (its `content` what was sent).

    Raises CatTimeout or CatFailure; the encoders turn them into their error events.
    """
    events = Pump(cat.run(turn), rules.timeout, rules.heartbeat)
    cutter = AnswerCutter(rules.limit, rules.stops)
    streamed: list[str] = []
    result: TurnResult | None = None
    try:
        while not cutter.done and (ev := await events.next(beat=True)) is not None:
            if ev is HEARTBEAT:
                yield HEARTBEAT
            elif isinstance(ev, TextDelta):
                streamed.append(ev.text)
                if out := cutter.feed(ev.text):
                    yield out
            elif isinstance(ev, TurnResult):
                result = ev
        if not cutter.done and (out := _tail(cutter, streamed, result, log)):
            yield out
        calls = result.tool_calls if result is not None and not cutter.cut else ()
        if wait_for_result and result is None:
            result = await _result_of(events)
        sent = tokens.count_text(cutter.sent) + _call_tokens(calls)
        usage = Usage(result.prompt_tokens, sent + result.extra_completion_tokens) if result else Usage(0, sent)
        reason = "tool_calls" if calls else (cutter.finish_reason or "stop")
        why = result.why if result else None
        yield Answer(cutter.sent, reason, usage, calls, why, result is not None, cutter.stop_sequence)
    finally:
        await events.close()
