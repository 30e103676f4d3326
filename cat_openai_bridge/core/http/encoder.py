"""The one stream loop: an `Encoder` says what each moment of an answer looks like on its wire, `encode` runs
them in the one order all protocols share; an `Event`'s flags spare the layers above a search of its bytes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from ..turn.answer import HEARTBEAT, Answer, StreamItem
from ..turn.conversation import ToolCall
from ..turn.errors import BridgeError
from . import sse
from .edge import STREAM_MEDIA_TYPE


@dataclass(frozen=True)
class Event:
    data: bytes
    output: bool = False  # carries the answer's output (text, a tool call): the first one is the first token
    final: bool = False  # the last event of a stream that ended well: a replay may end only with one


class Encoder:
    """One protocol's stream, moment by moment. Subclasses define `text`, `finish` and `failed`."""

    ping: bytes = sse.PING
    media_type: str = STREAM_MEDIA_TYPE  # of the events on the wire (server-sent events, or Ollama's NDJSON)
    waits_for_usage: bool = True  # after a cut, wait for the Cat's turn to end so its usage can be reported

    def start(self) -> Iterable[Event]:
        return ()

    def text(self, delta: str) -> Iterable[Event]:
        raise NotImplementedError

    def heartbeat(self) -> Iterable[Event]:
        yield Event(self.ping)

    def close_text(self, answer: Answer) -> Iterable[Event]:
        return ()

    def tool_call(self, index: int, call: ToolCall) -> Iterable[Event]:
        return ()

    def finish(self, answer: Answer) -> Iterable[Event]:
        raise NotImplementedError

    def failed(self, error: BridgeError) -> Event:
        raise NotImplementedError


def ending(encoder: Encoder, answer: Answer) -> list[Event]:
    events = [*encoder.close_text(answer)]
    for index, call in enumerate(answer.tool_calls):
        events += encoder.tool_call(index, call)
    *events, last = [*events, *encoder.finish(answer)]
    return [*events, replace(last, final=True)]


async def encode(
    encoder: Encoder,
    items: AsyncIterator[StreamItem],
    settle: Callable[[Answer], Awaitable[None]],
    failure: Callable[[BaseException], BridgeError],
) -> AsyncIterator[Event]:
    """`settle` reports the answer's usage before the ending goes out; after the headers, any failure is the
    protocol's error event, never a trace."""
    for event in encoder.start():
        yield event
    try:
        answer: Answer | None = None
        async with contextlib.aclosing(items) as stream:  # type: ignore[type-var]
            async for item in stream:
                if isinstance(item, Answer):
                    answer = item
                else:
                    for event in encoder.heartbeat() if item is HEARTBEAT else encoder.text(item):  # type: ignore[arg-type]
                        yield event
        if answer is None:
            raise AssertionError("an answer stream ended without its Answer")
        await settle(answer)
        for event in ending(encoder, answer):
            yield event
    except Exception as exc:
        yield encoder.failed(failure(exc))
