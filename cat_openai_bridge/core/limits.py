"""Per-identity request rate limiting (GCRA).

GCRA keeps one number per identity (its "theoretical arrival time"), so memory
stays flat however many requests a user sends, and a full minute's quota may
be spent in a burst and then refills smoothly.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict

WINDOW = 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float  # until the quota is full again
    retry_after: float  # until one more request would be allowed (0 if allowed)

    def headers(self) -> Dict[str, str]:
        out = {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(self.remaining),
            "x-ratelimit-reset-requests": duration(self.reset_seconds),
        }
        if not self.allowed:
            out["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            out["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return out


def duration(seconds: float) -> str:
    """OpenAI's reset format: `1m30s`, `6s`, `250ms`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    if minutes >= 1:
        return f"{int(minutes)}m{secs:.0f}s"
    return f"{secs:.3g}s"


class RateLimiter:
    """In-process limiter: the one piece of mutable state the bridge keeps."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, prune_above: int = 10_000) -> None:
        self._clock = clock
        self._tat: Dict[str, float] = {}
        self._lock = threading.Lock()
        self._prune_above = prune_above

    def check(self, key: str, per_minute: int) -> Decision:
        if per_minute <= 0:
            return Decision(True, 0, 0, 0.0, 0.0)
        interval = WINDOW / per_minute
        with self._lock:
            now = self._clock()
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + interval
            if new_tat - now > WINDOW + 1e-9:
                retry = new_tat - WINDOW - now
                return Decision(False, per_minute, 0, tat - now, retry)
            self._tat[key] = new_tat
            if len(self._tat) > self._prune_above:
                self._tat = {k: v for k, v in self._tat.items() if v > now}
            remaining = int((WINDOW - (new_tat - now)) / interval + 1e-9)
            return Decision(True, per_minute, remaining, new_tat - now, 0.0)

    def __len__(self) -> int:
        return len(self._tat)
