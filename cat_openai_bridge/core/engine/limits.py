"""Per-identity limits: requests and tokens per minute, and requests in flight.

Requests and tokens use GCRA: one number per identity and limit (its
"theoretical arrival time"), so memory stays flat however much a user sends,
a minute's quota may be spent in a burst, and it refills smoothly. Tokens are
reserved at admission (an estimate of the prompt) and settled with the real
usage when the answer is done. In-flight requests are leases that expire, so a
replica that dies cannot hold a slot forever.

The in-process store is the default; with `redis_url` set the same algorithm
runs as Lua scripts in Redis, one round trip to admit and one to settle, so
the limits hold across replicas.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Dict, List, Optional, Protocol, Tuple

from .errors import BridgeError, limiter_unavailable, rate_limited
from .redis_client import RedisClient, RedisReplyError, RedisUnavailable, Script

BACKEND_ERRORS = (RedisUnavailable, RedisReplyError, ValueError, IndexError)

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
    requests: Optional[Window] = None
    tokens: Optional[Window] = None
    retry_after: float = 0.0

    @property
    def allowed(self) -> bool:
        return not self.reason

    def headers(self) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for name, window in (("requests", self.requests), ("tokens", self.tokens)):
            if window is not None:
                out[f"x-ratelimit-limit-{name}"] = str(window.limit)
                out[f"x-ratelimit-remaining-{name}"] = str(window.remaining)
                out[f"x-ratelimit-reset-{name}"] = duration(window.reset_seconds)
        if not self.allowed:
            out["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            out["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return out

    def error(self) -> BridgeError:
        if self.reason == "concurrency":
            message = "Too many requests in flight for this user. Please retry when one has finished."
            kind = "requests"
        else:
            window = self.requests if self.reason == "requests" else self.tokens
            unit = "requests" if self.reason == "requests" else "tokens"
            message = (
                f"Rate limit reached for {unit} per minute: limit {window.limit if window else '?'}. "
                f"Please try again in {self.retry_after:.1f}s."
            )
            kind = unit
        return rate_limited(message, kind, self.headers())


def duration(seconds: float) -> str:
    """OpenAI's reset format: `1m30s`, `6s`, `250ms`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    if minutes >= 1:
        return f"{int(minutes)}m{secs:.0f}s"
    return f"{secs:.3g}s"


def _window(limit: int, tat: float, now: float) -> Window:
    interval = WINDOW / limit
    return Window(limit, max(0, int((WINDOW - (tat - now)) / interval + 1e-9)), max(0.0, tat - now))


class Store(Protocol):
    async def admit(self, key: str, quota: Quota, cost: int, lease: str) -> Verdict: ...

    async def settle(self, key: str, quota: Quota, correction: int, lease: str) -> None: ...


class MemoryStore:
    """One process's limits; pruned so idle identities cost nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, prune_above: int = 10_000) -> None:
        self._clock = clock
        self._requests: Dict[str, float] = {}
        self._tokens: Dict[str, float] = {}
        self._leases: Dict[str, Dict[str, float]] = {}
        self._lock = threading.Lock()
        self._prune_above = prune_above

    async def admit(self, key: str, quota: Quota, cost: int, lease: str) -> Verdict:
        return self.admit_now(key, quota, cost, lease)

    def admit_now(self, key: str, quota: Quota, cost: int, lease: str) -> Verdict:
        with self._lock:
            now = self._clock()
            rpm, tpm = quota.requests_per_minute, quota.tokens_per_minute
            req_tat = max(self._requests.get(key, now), now)
            tok_tat = max(self._tokens.get(key, now), now)
            req_new = req_tat + WINDOW / rpm if rpm else now
            tok_new = tok_tat + min(cost, tpm) * WINDOW / tpm if tpm else now
            reason, retry = "", 0.0
            if rpm and req_new - now > WINDOW + 1e-9:
                reason, retry = "requests", req_new - WINDOW - now
            elif tpm and tok_new - now > WINDOW + 1e-9:
                reason, retry = "tokens", tok_new - WINDOW - now
            elif quota.max_concurrent:
                leases = {k: v for k, v in self._leases.get(key, {}).items() if v > now}
                self._leases[key] = leases
                if len(leases) >= quota.max_concurrent:
                    reason, retry = "concurrency", CONCURRENCY_RETRY
            if not reason:
                if rpm:
                    self._requests[key] = req_new
                if tpm:
                    self._tokens[key] = tok_new
                if quota.max_concurrent:
                    self._leases[key][lease] = now + quota.lease_seconds
                self._prune(now)
            else:
                req_new, tok_new = req_tat, tok_tat
            return Verdict(
                reason,
                _window(rpm, req_new, now) if rpm else None,
                _window(tpm, tok_new, now) if tpm else None,
                retry,
            )

    async def settle(self, key: str, quota: Quota, correction: int, lease: str) -> None:
        with self._lock:
            now = self._clock()
            if quota.tokens_per_minute and correction:
                tat = max(self._tokens.get(key, now), now)
                self._tokens[key] = max(now, tat + correction * WINDOW / quota.tokens_per_minute)
            leases = self._leases.get(key)
            if leases is not None:
                leases.pop(lease, None)
                if not leases:
                    del self._leases[key]

    def _prune(self, now: float) -> None:
        for table in (self._requests, self._tokens):
            if len(table) > self._prune_above:
                stale = [k for k, v in table.items() if v <= now]
                for k in stale:
                    del table[k]

    def __len__(self) -> int:
        return len(set(self._requests) | set(self._tokens) | set(self._leases))


ADMIT = Script(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local W = 60000
local rpm, tpm, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, lease, lease_ms = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local req_tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local tok_tat = math.max(tonumber(redis.call('GET', KEYS[2]) or now), now)
local req_new, tok_new = now, now
if rpm > 0 then req_new = req_tat + W / rpm end
if tpm > 0 then tok_new = tok_tat + math.min(cost, tpm) * W / tpm end
local reason, retry = '', 0
if rpm > 0 and req_new - now > W then
  reason, retry = 'requests', req_new - W - now
elseif tpm > 0 and tok_new - now > W then
  reason, retry = 'tokens', tok_new - W - now
elseif maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= maxc then reason, retry = 'concurrency', 500 end
end
if reason == '' then
  if rpm > 0 then redis.call('SET', KEYS[1], string.format('%.3f', req_new), 'PX', math.ceil(req_new - now) + 1000) end
  if tpm > 0 then redis.call('SET', KEYS[2], string.format('%.3f', tok_new), 'PX', math.ceil(tok_new - now) + 1000) end
  if maxc > 0 then
    redis.call('ZADD', KEYS[3], now + lease_ms, lease)
    redis.call('PEXPIRE', KEYS[3], lease_ms + 1000)
  end
else
  req_new, tok_new = req_tat, tok_tat
end
return {reason, string.format('%.3f', req_new - now), string.format('%.3f', tok_new - now), string.format('%.3f', retry)}
"""
)

SETTLE = Script(
    """
local tpm, correction = tonumber(ARGV[1]), tonumber(ARGV[2])
if tpm > 0 and correction ~= 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
  local new = math.max(now, tat + correction * 60000 / tpm)
  if new > now then
    redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', math.ceil(new - now) + 1000)
  else
    redis.call('DEL', KEYS[1])
  end
end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""
)


class RedisStore:
    """The same limits held in Redis, shared by every replica that points at it."""

    def __init__(self, url: str, prefix: str = "openai-bridge") -> None:
        self.client = RedisClient(url)
        self.prefix = prefix

    def _keys(self, key: str) -> Tuple[str, str, str]:
        base = f"{self.prefix}:{{{key}}}"  # one hash slot per identity, for Redis Cluster
        return f"{base}:req", f"{base}:tok", f"{base}:inflight"

    async def admit(self, key: str, quota: Quota, cost: int, lease: str) -> Verdict:
        reply = await self.client.run(
            ADMIT,
            self._keys(key),
            [quota.requests_per_minute, quota.tokens_per_minute, quota.max_concurrent, cost, lease,
             int(quota.lease_seconds * 1000)],
        )
        reason, req_ahead, tok_ahead, retry = reply[0], *(float(x) / 1000 for x in reply[1:])
        rpm, tpm = quota.requests_per_minute, quota.tokens_per_minute
        return Verdict(
            reason,
            _window(rpm, req_ahead, 0.0) if rpm else None,
            _window(tpm, tok_ahead, 0.0) if tpm else None,
            retry,
        )

    async def settle(self, key: str, quota: Quota, correction: int, lease: str) -> None:
        req, tok, inflight = self._keys(key)
        await self.client.run(SETTLE, [tok, inflight], [quota.tokens_per_minute, correction, lease])


class Lease:
    """An admitted request: settled once, with the tokens it really used, however the request ends.

    The pipeline holds it around a JSON answer (`held`); a stream takes it over
    (`guard`) and settles it when its body ends, disconnects included.
    """

    def __init__(self, store: Optional[Store], key: str, quota: Quota, reserved: int, lease: str,
                 on_error: Callable[[Exception], None]) -> None:
        self._store = store
        self._key = key
        self._quota = quota
        self._reserved = reserved
        self._lease = lease
        self._on_error = on_error
        self.used = 0  # total tokens, as the answer reports them; 0 when it failed
        self._streaming = False

    @classmethod
    def free(cls) -> "Lease":
        """The lease of a request no limit applies to: settling it does nothing."""
        return cls(None, "", Quota(), 0, "", lambda exc: None)

    def report(self, total_tokens: int) -> None:
        self.used = total_tokens

    @asynccontextmanager
    async def held(self) -> AsyncIterator["Lease"]:
        try:
            yield self
        finally:
            if not self._streaming:
                await self.settle(self.used)

    def guard(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The stream body that now owns the lease (taken over now, before the body first runs)."""
        self._streaming = True
        return self._settled_after(events)

    async def _settled_after(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            await self.settle(self.used)

    async def settle(self, used_tokens: int) -> None:
        store, self._store = self._store, None
        if store is None:
            return
        correction = used_tokens - self._reserved if self._quota.tokens_per_minute else 0
        try:
            await store.settle(self._key, self._quota, correction, self._lease)
        except BACKEND_ERRORS as exc:  # settling must never fail a finished answer
            self._on_error(exc)


class Limiter:
    """The one piece of mutable state the bridge keeps: its stores, by backend."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 warn: Callable[[str], None] = lambda message: None) -> None:
        self.memory = MemoryStore(clock)
        self._redis: Dict[str, RedisStore] = {}
        self._warn = warn
        self._last_warning = 0.0
        self.failures: List[str] = []  # recent backend failures, newest last (bounded)

    def store(self, redis_url: str) -> Store:
        if not redis_url:
            return self.memory
        if redis_url not in self._redis:
            self._redis = {redis_url: RedisStore(redis_url)}  # one backend at a time
        return self._redis[redis_url]

    def _failed(self, exc: Exception) -> None:
        message = f"rate limiter backend failed: {exc}"
        self.failures = [*self.failures[-9:], message]
        now = time.monotonic()
        if now - self._last_warning > 10:  # a warning, not a flood
            self._last_warning = now
            self._warn(message)

    async def admit(self, key: str, quota: Quota, cost: int = 0, redis_url: str = "",
                    fail_open: bool = True) -> Tuple[Lease, Verdict]:
        """Admit one request or raise its 429 (or 503 when Redis is down and failing closed)."""
        if not quota.active:
            return Lease(None, key, quota, 0, "", self._failed), Verdict("")
        lease = uuid.uuid4().hex
        store = self.store(redis_url)
        try:
            verdict = await store.admit(key, quota, cost, lease)
        except BACKEND_ERRORS as exc:
            self._failed(exc)
            if fail_open:
                return Lease(None, key, quota, 0, "", self._failed), Verdict("")
            raise limiter_unavailable() from None
        if not verdict.allowed:
            raise verdict.error()
        reserved = min(cost, quota.tokens_per_minute) if quota.tokens_per_minute else 0
        return Lease(store, key, quota, reserved, lease, self._failed), verdict
