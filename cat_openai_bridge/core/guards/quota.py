"""What a limit is and says: quotas, verdicts and their OpenAI headers, for both stores (limits.py, redis_limits.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..turn.errors import NO_RETRY, BridgeError

WINDOW = 60.0
CONCURRENCY_RETRY = 0.5  # seconds a client is told to wait for a free slot


@dataclass(frozen=True)
class Quota:
    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    max_concurrent: int = 0
    lease_seconds: float = 600.0  # an unreleased in-flight slot frees itself after this

    @property
    def active(self) -> bool:
        return bool(self.requests_per_minute or self.tokens_per_minute or self.max_concurrent)


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset_seconds: float  # until the quota is full again


@dataclass(frozen=True)
class Verdict:
    reason: str  # "" when admitted, else "requests", "tokens" or "concurrency"
    requests: Window | None = None
    tokens: Window | None = None
    retry_after: float = 0.0

    @classmethod
    def of(cls, quota: Quota, reason: str, requests_ahead: float, tokens_ahead: float, retry: float) -> Verdict:
        """From how far each limit's theoretical arrival time is ahead of now (seconds)."""
        rpm, tpm = quota.requests_per_minute, quota.tokens_per_minute
        requests = window_of(rpm, requests_ahead, 0.0) if rpm else None
        return cls(reason, requests, window_of(tpm, tokens_ahead, 0.0) if tpm else None, retry)

    @property
    def allowed(self) -> bool:
        return not self.reason

    def headers(
        self,
        name: str = "x-ratelimit-{what}-{unit}",
        reset: Callable[[Window], str] = lambda w: duration(w.reset_seconds),
    ) -> dict[str, str]:
        """OpenAI's limit headers; another dialect says its own `name`s and `reset` format."""
        out: dict[str, str] = {}
        for unit, window in (("requests", self.requests), ("tokens", self.tokens)):
            if window is not None:
                for what, value in (("limit", window.limit), ("remaining", window.remaining), ("reset", reset(window))):
                    out[name.format(what=what, unit=unit)] = str(value)
        if not self.allowed:  # the SDKs read retry-after-ms first, then retry-after
            out["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            out["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return out


class RateLimited(BridgeError):
    """A 429 that keeps its verdict, so each dialect can say the limits in its own headers."""

    def __init__(self, verdict: Verdict) -> None:
        kind = verdict.reason
        if kind == "concurrency":
            kind, message = "requests", "Too many requests in flight for this user. Please retry when one has finished."
        else:
            window = verdict.requests if kind == "requests" else verdict.tokens
            message = (
                f"Rate limit reached for {kind} per minute: limit {window.limit if window else '?'}. "
                f"Please try again in {verdict.retry_after:.1f}s."
            )
        super().__init__(429, message, kind, None, "rate_limit_exceeded", verdict.headers())
        self.verdict = verdict


def too_large_for(unit: str, limit: int, requested: int, param: str, model: str) -> BridgeError:
    """OpenAI's refusal of a request that no wait would admit (its cost alone exceeds a per-minute limit): a 429
    with OpenAI's type, code and words, so a client that knows them knows this one; `x-should-retry: false` stops
    the SDKs from retrying, and there is no retry-after, as waiting cannot help."""
    abbr, advice = ("TPM", "The input") if unit == "tokens" else ("RPM", "The number of prompts")
    message = (
        f"Request too large for {model} on {unit} per min ({abbr}): Limit {limit}, Requested {requested}. "
        f"{advice} must be reduced in order to run successfully."
    )
    return BridgeError(429, message, unit, param, "rate_limit_exceeded", NO_RETRY)


def duration(seconds: float) -> str:
    """OpenAI's reset format: `1m30s`, `6s`, `250ms`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    if minutes >= 1:
        return f"{int(minutes)}m{secs:.0f}s"
    return f"{secs:.3g}s"


def window_of(limit: int, tat: float, now: float) -> Window:
    interval = WINDOW / limit
    return Window(limit, max(0, int((WINDOW - (tat - now)) / interval + 1e-9)), max(0.0, tat - now))
