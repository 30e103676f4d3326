"""One Cat turn as an answer: every protocol and mode cuts and counts it here, so `max_tokens`, `stop` and usage
mean the same thing everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import KW_ONLY, dataclass, field, replace

from ..config.settings import BridgeSettings
from . import tokens
from .conversation import ToolCall
from .cutting import AnswerCutter, reconcile
from .errors import invalid_request
from .port import CatFailure, CatPort, CatTimeout, CatTurn, TextDelta, TurnEvent, TurnResult


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class OutputRules:
    stream: bool
    limit: int | None
    timeout: float
    stops: list[str] = field(default_factory=list)
    include_usage: bool = False
    heartbeat: float = 0.0  # seconds of Cat silence before an SSE comment keeps proxies awake (0 = never)
    clamped: bool = False  # the request asked more than the settings' ceiling: `limit` is the ceiling

    def headers(self) -> dict[str, str]:
        """What the answer's response says of its rules: the limit that applied, when it is not the one asked."""
        return {"x-openai-bridge-max-tokens": str(self.limit)} if self.clamped else {}


def output_rules(
    settings: BridgeSettings,
    stream: bool,
    asked: int | None,
    param: str,
    stops: list[str] | None = None,
    include_usage: bool = False,
) -> OutputRules:
    if stream and not settings.enable_streaming:
        raise invalid_request(
            "Streaming is disabled on this Cat (setting enable_streaming).", "stream", "streaming_disabled"
        )
    ceiling = settings.max_tokens or None
    # Clients ask the most their model allows, not what they need: the ceiling is the admin's policy, so it cuts.
    clamped = asked is not None and ceiling is not None and asked > ceiling
    if clamped and settings.max_tokens_over_ceiling == "refuse":
        raise invalid_request(
            f"{param} is too large: {asked}. This Cat allows at most {ceiling} completion tokens.",
            param,
            "invalid_value",
        )
    limit = ceiling if clamped or asked is None else asked
    return OutputRules(
        stream, limit, settings.request_timeout, stops or [], include_usage, settings.stream_heartbeat_seconds, clamped
    )


class AnswerLengths:
    """What this Cat's answers run to, in tokens: whether watching a turn for its cut is likely to pay.

    Watching means streaming inside the bridge, and a Cat v2 streaming costs its one event loop about 7 ms a turn
    plus 0.13 ms a token (bench/cost.py: 60 ms against 6 ms for a 200-token answer, 604 against 7 ms at 2,000), on
    every token up to the cut whether or not the cut comes. Unwatched, the Cat makes one LLM call and the answer
    is cut afterwards (the same text, `finish_reason` and usage); what that wastes is the LLM's time past the cut,
    10-50 ms a token on a local model. So a turn is watched for a stop sequence, for a limit under the median of
    the recent answers (a cut more likely than not), or for a limit so small that watching costs little (under
    `always_below` tokens: at most ~40 ms); never for the settings' ceiling alone (4,000 by default).
    """

    def __init__(self, window: int = 64, assumed: int = 1024, always_below: int = 256) -> None:
        self._recent: deque[int] = deque(maxlen=window)
        self._assumed = assumed  # until a few answers are known
        self._always_below = always_below

    def typical(self) -> int:
        return int(statistics.median(self._recent)) if len(self._recent) >= 8 else self._assumed

    def record(self, produced: int) -> None:
        self._recent.append(produced)

    def worth_watching(self, cat: CatPort, rules: OutputRules) -> bool:
        if not cat.stops_turns:
            return False
        return bool(rules.stops) or (rules.limit is not None and rules.limit < max(self._always_below, self.typical()))


def check_message_count(count: int, settings: BridgeSettings, param: str) -> None:
    if count > settings.max_messages:
        raise invalid_request(
            f"Too many messages: {count}. This bridge accepts at most {settings.max_messages}.",
            param,
            "too_many_messages",
        )


class Heartbeat:
    """Returned instead of an event when the Cat has been silent for a heartbeat interval."""


HEARTBEAT = Heartbeat()


class Pump(contextlib.AbstractAsyncContextManager["Pump"]):
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

    async def __aexit__(self, *exc: object) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pending
        await self._events.aclose()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Answer:
    content: str
    finish_reason: str
    usage: Usage  # what the client is told: its prompt, and the completion it received (plus tool steps)
    tool_calls: tuple[ToolCall, ...] = ()
    _: KW_ONLY
    why: dict | None = None
    prompt_counted: bool = True  # False: a stream cut before the Cat's turn ended, its prompt not yet known
    charged: int = 0  # what the token limit counts: the prompt and everything the LLM produced, sent or not
    stop_sequence: str | None = None  # the client's stop sequence the answer was cut at


async def _answer(cutter: AnswerCutter, result: TurnResult | None, lengths: AnswerLengths, stopped: bool) -> Answer:
    """The charge may exceed the client's usage: the LLM may have produced more than the client got."""
    calls = result.tool_calls if result is not None and not cutter.cut else ()
    completion = await tokens.count_texts_off_loop([cutter.sent] + [t for c in calls for t in (c.name, c.arguments)])
    produced = await tokens.count_texts_off_loop([result.text]) if result and result.text != cutter.sent else completion
    if result is not None and not stopped:  # an answer the Cat stopped early says nothing of how long it runs
        lengths.record(produced)
    prompt = result.prompt_tokens if result else 0
    extra = result.extra_completion_tokens if result else 0
    return Answer(
        cutter.sent,
        "tool_calls" if calls else (cutter.finish_reason or "stop"),
        Usage(prompt, completion + extra),
        calls,
        why=result.why if result else None,
        prompt_counted=result is not None,
        charged=prompt + max(completion, produced) + extra,
        stop_sequence=cutter.stop_sequence,
    )


def _ended(result: TurnResult | None) -> TurnResult:
    if result is None:
        raise CatFailure("the turn ended without an answer")
    return result


async def run_answer(cat: CatPort, turn: CatTurn, rules: OutputRules, lengths: AnswerLengths) -> Answer:
    # Streamed inside the bridge only when a cut is likely, so the Cat's LLM stops there instead of at its end.
    watched = replace(turn, stream=True) if lengths.worth_watching(cat, rules) else None
    cutter = AnswerCutter(rules.limit, rules.stops)  # what a stream would have sent: where the run may stop
    result: TurnResult | None = None
    async with Pump(cat.run(watched or turn), rules.timeout) as events:
        while (ev := await events.next()) is not None:
            if isinstance(ev, TurnResult):
                result = ev
            elif watched is not None and isinstance(ev, TextDelta) and not cutter.done:
                cutter.feed(ev.text)
                if cutter.done:
                    turn.stop.set()  # the answer is complete: the Cat ends its run and says what it used
    result = _ended(result)
    if not cutter.done:  # the Cat's final answer, which hooks may have edited since it streamed
        cutter = AnswerCutter(rules.limit, rules.stops)
        cutter.feed(result.text)
        cutter.finish()
    return await _answer(cutter, result, lengths, turn.stop.is_set())


StreamItem = str | Heartbeat | Answer


async def _result_of(events: Pump) -> TurnResult | None:
    while (ev := await events.next()) is not None:
        if isinstance(ev, TurnResult):
            return ev
    return None


def _tail(cutter: AnswerCutter, streamed: list[str], result: TurnResult | None, log: Callable[[str, str], None]) -> str:
    tail, consistent = reconcile("".join(streamed), _ended(result).text)
    if not consistent:
        log("debug", "streamed tokens differ from the Cat's final answer; the stream keeps what was sent")
    return cutter.feed(tail) + cutter.finish()


async def answer_stream(
    cat: CatPort,
    turn: CatTurn,
    rules: OutputRules,
    log: Callable[[str, str], None],
    lengths: AnswerLengths,
    wait_for_result: bool = False,
) -> AsyncIterator[StreamItem]:
    """The answer's text, cut by the rules, then one `Answer`. After a cut, a Cat that cannot stop (v1) is waited for
    only when `wait_for_result` (the ending reports usage); otherwise its prompt is charged as reserved."""
    cutter = AnswerCutter(rules.limit, rules.stops)
    streamed: list[str] = []
    result: TurnResult | None = None
    async with Pump(cat.run(turn), rules.timeout, rules.heartbeat) as events:
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
        if result is None:
            turn.stop.set()  # cut: the client's answer is complete, the Cat may stop its LLM
            if wait_for_result or cat.stops_turns:
                with contextlib.suppress(CatFailure, CatTimeout):  # whatever happens next, the answer is whole
                    result = await _result_of(events)  # after a cut, its prompt still counts
        yield await _answer(cutter, result, lengths, turn.stop.is_set())
