"""Idempotency-Key replays kept in Redis, so a retry replays its first answer whichever replica it reaches.

One Redis hash per (identity, key), in the identity's hash slot: `running` (a short lease, `CLAIM_SECONDS`, renewed
while the run works, so a dead replica's claim lapses within seconds) or `done` (the answer as it went out, kept for
the window). A duplicate polls until done, claims if the run failed or lapsed, and gets the 409 after waiting the
request's time. When Redis fails, `redis_failure_mode` decides: `open` serves without replay protection, `closed` 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable

from ..turn.errors import BridgeError, key_in_progress, key_reused
from .idempotency import ClaimFunction, Keyed, Stored, fingerprint
from .redis_client import RedisClient, RedisReplyError, RedisUnavailable, Script
from .replay_budget import charge_lua

CLAIM_SECONDS = 6.0  # a running claim's lease: how soon a dead replica's key is free again
RENEW_EVERY = 2.0
POLL_FIRST, POLL_MAX = 0.05, 0.5


# KEYS[1] the entry. ARGV: fingerprint, owner, claim ms.
# -> {'claimed'} | {'reused'} | {'running'} | {'done', status, media type, headers JSON, body}
CLAIM = Script(
    """
local state = redis.call('HGET', KEYS[1], 's')
if not state then
  redis.call('HSET', KEYS[1], 's', 'running', 'fp', ARGV[1], 'owner', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[1] then return {'reused'} end
if state == 'done' then
  local kept = redis.call('HMGET', KEYS[1], 'status', 'media', 'headers', 'body')
  return {'done', kept[1], kept[2], kept[3], kept[4]}
end
return {'running'}
"""
)

# KEYS: the entry, the identity's index, the identity's kept bytes (replay_budget.charge_lua).
# ARGV: owner, status, media type, headers JSON, body, window ms, size, the identity's byte bound.
COMPLETE = Script(
    """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 's', 'done', 'status', ARGV[2], 'media', ARGV[3], 'headers', ARGV[4], 'body', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])"""
    + charge_lua("KEYS[1]", "ARGV[7]", "ARGV[8]", "ARGV[6]", evictable="redis.call('HGET', id, 's') == 'done'")
    + "return 1"
)

# KEYS[1] the entry. ARGV: owner, then the claim ms to renew with, or nothing to release the claim.
HOLD = Script(
    """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HGET', KEYS[1], 's') ~= 'running' then
  return 0
end
if ARGV[2] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
"""
)

BACKEND_ERRORS = (RedisUnavailable, RedisReplyError, ValueError, IndexError, TypeError)


def idempotency_unavailable() -> BridgeError:
    message = "The Redis that keeps Idempotency-Key answers is unreachable and this bridge is set to fail closed. "
    message += "Please retry shortly."
    return BridgeError(503, message, "server_error", None, "idempotency_unavailable", {"retry-after": "1"})


class RedisClaim:
    """One run's claim on a key: renewed while it runs, then completed with its answer or released."""

    def __init__(self, store: RedisReplays, keys: tuple[str, str, str], owner: str, keyed: Keyed) -> None:
        self._store = store
        self._keys = keys
        self.owner = owner
        self._keyed = keyed
        self._renewing = asyncio.ensure_future(self._renew(keyed.wait + 60))

    def room(self, answer_bytes: int) -> bool:
        """Redis makes the room when it is completed."""
        return answer_bytes <= min(self._keyed.limits.per_answer, self._keyed.limits.per_identity)

    async def _renew(self, lifetime: float) -> None:
        """At most `lifetime`: a stream whose body never ran is never completed, and lapses like a dead replica's."""
        deadline = time.monotonic() + lifetime
        while time.monotonic() < deadline:
            await asyncio.sleep(RENEW_EVERY)
            with contextlib.suppress(*BACKEND_ERRORS):
                if not await self._store.client.run(HOLD, self._keys[:1], [self.owner, int(CLAIM_SECONDS * 1000)]):
                    return  # no longer ours

    async def complete(self, stored: Stored) -> None:
        if not self.room(len(stored.body)):
            await self.abandon()  # too large to keep: the key is simply not replayable
            return
        answer = [stored.status, stored.media_type, json.dumps(stored.headers), stored.body]
        bounds = [int(self._keyed.window * 1000), len(stored.body), self._keyed.limits.per_identity]
        await self._end(COMPLETE, self._keys, [self.owner, *answer, *bounds])

    async def abandon(self) -> None:
        await self._end(HOLD, self._keys[:1], [self.owner])

    async def _end(self, script: Script, keys: tuple[str, ...], args: list) -> None:
        """A failure loses only the replay: the answer is out, and the claim lapses within CLAIM_SECONDS."""
        self._renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewing
        try:
            await self._store.client.run(script, keys, args)
        except BACKEND_ERRORS as exc:
            self._store.failed(exc)


class RedisReplays:
    def __init__(self, url: str, prefix: str = "openai-bridge", warn: Callable[[str], None] = lambda _: None) -> None:
        self.client = RedisClient(url)
        self.prefix = prefix
        self._warn = warn
        self._last_warning = 0.0
        self.failure_count = 0

    def failed(self, exc: Exception) -> None:
        self.failure_count += 1
        now = time.monotonic()
        if now - self._last_warning > 10:  # a warning, not a flood
            self._last_warning = now
            self._warn(f"idempotency store (Redis) failed: {exc}")

    def keys(self, identity: str, key: str) -> tuple[str, str, str]:
        base = f"{self.prefix}:{{{identity}}}"  # the identity's hash slot, as the limits' keys
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        return f"{base}:idem:{digest}", f"{base}:idem-index", f"{base}:idem-bytes"

    async def claim(self, keyed: Keyed) -> tuple[RedisClaim | None, Stored | None]:
        keys = self.keys(keyed.identity, keyed.key or "")
        digest = fingerprint(keyed.route, keyed.body)
        deadline = time.monotonic() + keyed.wait
        delay = POLL_FIRST
        owner = uuid.uuid4().hex
        while True:
            reply = await self.client.run(CLAIM, keys[:1], [digest, owner, int(CLAIM_SECONDS * 1000)])
            if reply[0] == "claimed":
                return RedisClaim(self, keys, owner, keyed), None
            if reply[0] == "reused":
                raise key_reused()
            if reply[0] == "done":
                status, media_type, headers, text = reply[1:5]
                return None, Stored(int(status), media_type, json.loads(headers), text.encode("utf-8"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise key_in_progress()
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, POLL_MAX)

    def claimer(self, fail_open: bool = True) -> ClaimFunction:
        async def claim_or_fail(keyed: Keyed):
            try:
                return await self.claim(keyed)
            except BACKEND_ERRORS as exc:
                self.failed(exc)
                if fail_open:
                    return None, None  # served, without replay protection
                raise idempotency_unavailable() from None

        return claim_or_fail
