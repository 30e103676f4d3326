"""Legacy completions on the wire: a `text_completion` object, or its chunks.

A stream (one prompt) is the echoed prompt (when asked), one chunk per Cat
token, a finish chunk, usage when asked, `[DONE]`; a failure ends it with an
error event instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...http import sse
from ...http.encoder import Encoder, Event
from ...turn.answer import Answer
from ...turn.errors import BridgeError
from ..chat.encoder import CompletionIds, completion_usage
from .protocol import Completion, CompletionChoice


class TextChunkEncoder(Encoder):
    def __init__(self, ids: CompletionIds, include_usage: bool, echo: str) -> None:
        self.ids = ids
        self.include_usage = include_usage
        self.waits_for_usage = include_usage
        self.echo = echo

    def chunk(self, text: str | None, finish_reason: str | None = None, **extra: object) -> bytes:
        choices = [] if text is None else [CompletionChoice(text=text, logprobs=None, finish_reason=finish_reason)]
        if self.include_usage and text is not None:
            extra["usage"] = None
        ids = self.ids
        return sse.event(
            Completion(
                id=ids.id, created=ids.created, model=ids.model, choices=choices, system_fingerprint=None, **extra
            )
        )

    def start(self) -> Iterable[Event]:
        if self.echo:  # an echoed prompt is a text chunk too, but no output of the Cat's
            yield Event(self.chunk(self.echo))

    def text(self, delta: str) -> Iterable[Event]:
        yield Event(self.chunk(delta), output=True)

    def finish(self, answer: Answer) -> Iterable[Event]:
        yield Event(self.chunk("", answer.finish_reason))
        if self.include_usage:
            yield Event(self.chunk(None, usage=completion_usage(answer.usage)))
        yield Event(sse.DONE)

    def failed(self, error: BridgeError) -> Event:
        return Event(sse.event(error.wire()))
