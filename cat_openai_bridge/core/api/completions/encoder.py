"""Legacy completions' chunks: a chat stream's, with `text_completion` choices and the echoed prompt first."""

from __future__ import annotations

from collections.abc import Iterable

from ...http.encoder import Event
from ..chat.encoder import ChunkEncoder, CompletionIds
from .protocol import Completion, CompletionChoice


class TextChunkEncoder(ChunkEncoder):
    kind = Completion
    closing = ""

    def __init__(self, ids: CompletionIds, include_usage: bool, echo: str) -> None:
        super().__init__(ids, include_usage)
        self.echo = echo

    def choice(self, text: str, finish_reason: str | None) -> CompletionChoice:
        return CompletionChoice(text=text, logprobs=None, finish_reason=finish_reason)

    def start(self) -> Iterable[Event]:
        if self.echo:  # an echoed prompt is a text chunk too, but no output of the Cat's
            yield self.event(self.echo)

    def text(self, delta: str) -> Iterable[Event]:
        yield self.event(delta, output=True)
