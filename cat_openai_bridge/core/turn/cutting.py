"""Cutting the Cat's answer at `max_tokens` and `stop` as it streams: the Cat's LLM knows nothing of the client's
limits, so only as many characters are held back as could start a stop sequence."""

from __future__ import annotations

from . import tokens


class AnswerCutter:
    def __init__(self, limit: int | None, stops: list[str]) -> None:
        self.limit = limit
        self.stops = [s for s in stops if s]
        self._hold = max((len(s) for s in self.stops), default=1) - 1
        self._pending = ""  # received, not yet released (may start a stop)
        self.sent = ""  # released to the client
        self._estimate = 0  # running token estimate of `sent`
        self.finish_reason: str | None = None
        self.stop_sequence: str | None = None  # the stop sequence the answer was cut at
        self.cut = False  # cut short (max tokens or a stop sequence), not ended by the Cat

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def feed(self, delta: str) -> str:
        if self.done or not delta:
            return ""
        self._pending += delta
        if (hit := self._find_stop()) is not None:
            at, i = hit
            out = self._release(self._pending[:at])
            self.cut = True
            if not self.done:
                self.finish_reason = "stop"
                self.stop_sequence = self.stops[i]
            return out
        keep = min(self._hold, len(self._pending))
        ready, self._pending = self._pending[: len(self._pending) - keep], self._pending[len(self._pending) - keep :]
        return self._release(ready)

    def finish(self) -> str:
        if self.done:
            return ""
        out = self._release(self._pending)
        self._pending = ""
        self.finish_reason = self.finish_reason or "stop"
        return out

    def _find_stop(self) -> tuple[int, int] | None:
        """Where the first stop sequence starts, and its index (the earliest; the first listed on a tie)."""
        return min(((at, i) for i, at in enumerate(self._pending.find(s) for s in self.stops) if at >= 0), default=None)

    def _release(self, text: str) -> str:
        if not text:
            return ""
        if self.limit is not None:
            self._estimate += tokens.count_text(text)
        if self.limit is not None and self._estimate > self.limit:
            whole = self.sent + text
            self._estimate = tokens.count_text(whole)
            if self._estimate > self.limit:
                allowed = tokens.head(whole, self.limit)
                out = allowed[len(self.sent) :]
                self.sent += out
                self._pending = ""
                self.finish_reason = "length"
                self.cut = True
                return out
        self.sent += text
        return text


def reconcile(streamed: str, final: str) -> tuple[str, bool]:
    """(tail, consistent): tool calls or a hook may rewrite the answer after it streamed, and what was sent cannot be
    taken back, so only a missing tail is added."""
    if streamed == final or streamed.endswith(final):
        return "", True
    if final.startswith(streamed):
        return final[len(streamed) :], True
    return "", False
