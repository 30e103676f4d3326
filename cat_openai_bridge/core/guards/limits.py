"""Per-identity limits: requests and tokens per minute (GCRA), and requests in flight (leases that expire).

GCRA keeps one number per identity and limit: memory stays flat, and a minute's quota may be spent in a burst. A lease
expires, so a replica that dies cannot hold a slot forever. With `redis_url` the same algorithm runs as Lua in Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..turn.demands import spent
from ..turn.errors import limiter_unavailable
from .quota import CONCURRENCY_RETRY, WINDOW, Quota, RateLimited, Verdict, duration
from .redis_client import RedisReplyError, RedisUnavailable
from .redis_limits import RedisStore

__all__ = ["Lease", "Limiter", "MemoryStore", "Quota", "Verdict", "duration"]

# Whatever Redis does wrong is one of these: the failure mode decides, never a 500.
BACKEND_ERRORS = (RedisUnavailable, RedisReplyError)


class MemoryStore:
    """One process's limits; pruned so idle identities cost nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, prune_above: int = 10_000) -> None:
        self._clock = clock
        self._requests: dict[str, float] = {}
        self._tokens: dict[str, float] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._prune_above = prune_above

    async def admit(self, key: str, quota: Quota, cost: int, lease: str, requests: int = 1) -> Verdict:
        """`requests` Cat turns and `cost` tokens at once; more than a limit holds is never admitted."""
        with self._lock:
            now = self._clock()
            rpm, tpm = quota.requests_per_minute, quota.tokens_per_minute
            req_tat = max(self._requests.get(key, now), now)
            tok_tat = max(self._tokens.get(key, now), now)
            req_new = req_tat + requests * WINDOW / rpm if rpm else now
            tok_new = tok_tat + cost * WINDOW / tpm if tpm else now
            if rpm and req_new - now > WINDOW + 1e-9:
                return Verdict.of(quota, "requests", req_tat - now, tok_tat - now, req_new - WINDOW - now)
            if tpm and tok_new - now > WINDOW + 1e-9:
                return Verdict.of(quota, "tokens", req_tat - now, tok_tat - now, tok_new - WINDOW - now)
            if quota.max_concurrent:
                leases = {k: v for k, v in self._leases.get(key, {}).items() if v > now}
                self._leases[key] = leases
                if len(leases) >= quota.max_concurrent:
                    return Verdict.of(quota, "concurrency", req_tat - now, tok_tat - now, CONCURRENCY_RETRY)
                leases[lease] = now + quota.lease_seconds
            if rpm:
                self._requests[key] = req_new
            if tpm:
                self._tokens[key] = tok_new
            self._prune(now)
            return Verdict.of(quota, "", req_new - now, tok_new - now, 0.0)

    async def settle(self, key: str, quota: Quota, correction: int, lease: str) -> None:
        with self._lock:
            now = self._clock()
            if quota.tokens_per_minute and correction:
                tat = max(self._tokens.get(key, now), now)
                self._tokens[key] = max(now, tat + correction * WINDOW / quota.tokens_per_minute)
            leases = self._leases.get(key, {})
            leases.pop(lease, None)
            if not leases:
                self._leases.pop(key, None)

    def _prune(self, now: float) -> None:
        for table in (self._requests, self._tokens):
            if len(table) > self._prune_above:
                for k in [k for k, v in table.items() if v <= now]:
                    del table[k]

    def __len__(self) -> int:
        return len(set(self._requests) | set(self._tokens) | set(self._leases))


@dataclass(eq=False)
class Lease:
    """An admitted request, settled once with the tokens it used however it ends; `Lease()`: no limit applies."""

    store: MemoryStore | RedisStore | None = None
    key: str = ""
    quota: Quota = Quota()
    reserved: int = 0  # tokens taken at admission: `cost` (0: the limit is off)
    slot: str = ""  # its id among the identity's requests in flight
    on_error: Callable[[Exception], None] = lambda exc: None
    prompt: int = 0  # the prompt's share of the cost, as far as it is known
    cap: int = 0  # the rest: the answer's cap
    turns: int = 1  # the Cat turns it runs (`prompt` covers them all)
    used: int | None = None  # tokens the request used, once known (reported, or what a failure says it spent)
    streaming: bool = False  # a stream's body owns it now (`guard`)

    @property
    def turn_prompt(self) -> int:
        """What an attempt whose usage the Cat never said costs: its prompt (what admission counted of one turn)."""
        return self.prompt // max(1, self.turns)

    def report(self, tokens: int, prompt_counted: bool = True) -> None:
        """An uncounted prompt (a cut stream on a Cat that cannot stop its turn) costs its reservation."""
        self.used = tokens if prompt_counted else tokens + self.turn_prompt

    def failed(self, exc: BaseException) -> None:
        """A request that fails pays what its attempts used (`spent`: a failed demand, a timeout, a client gone)
        on top of what was reported before (the earlier prompts of a batch); a Cat failure alone pays nothing."""
        tokens, unreported = spent(exc)
        self.used = (self.used or 0) + tokens + unreported * self.turn_prompt

    async def recount(self, prompt: int) -> None:
        """The prompt, counted precisely after admission: the reservation follows now, not only at the end."""
        store, limit = self.store, self.quota.tokens_per_minute
        if store is None or not limit or prompt >= self.prompt:
            return
        reserved = min(prompt + self.cap, limit)
        correction = reserved - self.reserved
        self.prompt, self.reserved = prompt, reserved
        if not correction:
            return
        try:
            await store.settle(self.key, self.quota, correction, "")  # no slot id: the slot stays held
        except BACKEND_ERRORS as exc:
            self.on_error(exc)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[Lease]:
        try:
            yield self
        except BaseException as exc:
            if not self.streaming:
                self.failed(exc)
            raise
        finally:
            if not self.streaming:
                await self.settle(self.used or 0)

    def guard(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The stream body that owns the lease from now on, before the body first runs."""
        self.streaming = True
        return self._settled_after(events)

    async def _settled_after(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            if self.used is None:  # the client left before the answer was whole: its turn read the prompt
                self.used = self.turn_prompt
            await self.settle(self.used)

    async def settle(self, used_tokens: int) -> None:
        store, self.store = self.store, None
        if store is None:
            return
        correction = used_tokens - self.reserved if self.quota.tokens_per_minute else 0
        try:
            await store.settle(self.key, self.quota, correction, self.slot)
        except BACKEND_ERRORS as exc:  # settling must never fail a finished answer
            self.on_error(exc)


class Limiter:
    """The one piece of mutable state the bridge keeps: its stores, by backend."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, warn: Callable[[str], None] = lambda _: None
    ) -> None:
        self.memory = MemoryStore(clock)
        self._redis: dict[str, RedisStore] = {}
        self._warn = warn
        self._last_warning = 0.0
        self.failures: list[str] = []  # recent backend failures, newest last (bounded)
        self.failure_count = 0  # all of them, for the metrics

    def store(self, redis_url: str) -> MemoryStore | RedisStore:
        if not redis_url:
            return self.memory
        if redis_url not in self._redis:
            self._redis = {redis_url: RedisStore(redis_url)}  # one backend at a time
        return self._redis[redis_url]

    def _failed(self, exc: Exception) -> None:
        message = f"rate limiter backend failed: {exc}"
        self.failure_count += 1
        self.failures = [*self.failures[-9:], message]
        now = time.monotonic()
        if now - self._last_warning > 10:  # a warning, not a flood
            self._last_warning = now
            self._warn(message)

    async def admit(
        self,
        key: str,
        quota: Quota,
        cost: int = 0,
        redis_url: str = "",
        fail_open: bool = True,
        prompt: int = 0,
        turns: int = 1,
    ) -> tuple[Lease, Verdict]:
        """Admit a request of `turns` Cat turns costing `cost` tokens, or raise its 429 (503: Redis is down and
        failing closed). A cost beyond a limit is refused before (pipeline `_admit`); the stores refuse it too."""
        if not quota.active:
            return Lease(), Verdict("")
        lease = uuid.uuid4().hex
        store = self.store(redis_url)
        try:
            verdict = await store.admit(key, quota, cost, lease, turns)
        except BACKEND_ERRORS as exc:
            self._failed(exc)
            if fail_open:
                return Lease(), Verdict("")
            raise limiter_unavailable() from None
        if not verdict.allowed:
            raise RateLimited(verdict)
        reserved = cost if quota.tokens_per_minute else 0
        lease_of = Lease(store, key, quota, reserved, lease, self._failed, prompt, max(0, cost - prompt), turns)
        return lease_of, verdict
