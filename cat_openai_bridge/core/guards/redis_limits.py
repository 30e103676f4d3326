"""The limiter's algorithm as Lua scripts in Redis: one round trip to admit, one to settle, shared by replicas."""

from __future__ import annotations

import math
from typing import Any

from .quota import Quota, Verdict
from .redis_client import RedisClient, RedisProtocolError, Script

ADMIT = Script(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local W = 60000
local rpm, tpm, maxc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, lease, lease_ms, requests = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local req_tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local tok_tat = math.max(tonumber(redis.call('GET', KEYS[2]) or now), now)
local req_new, tok_new = now, now
if rpm > 0 then req_new = req_tat + requests * W / rpm end
if tpm > 0 then tok_new = tok_tat + cost * W / tpm end
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
return {reason, string.format('%.3f', req_new - now), string.format('%.3f', tok_new - now),
        string.format('%.3f', retry)}
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


LIMITER_BULK = 4096  # the limiter's scripts answer a few short numbers: a longer string is not from them


class RedisStore:
    """The same limits held in Redis, shared by every replica that points at it."""

    def __init__(self, url: str, prefix: str = "openai-bridge") -> None:
        self.client = RedisClient(url, max_bulk=LIMITER_BULK)
        self.prefix = prefix

    def _keys(self, key: str) -> tuple[str, str, str]:
        base = f"{self.prefix}:{{{key}}}"  # one hash slot per identity, for Redis Cluster
        return f"{base}:req", f"{base}:tok", f"{base}:inflight"

    async def admit(self, key: str, quota: Quota, cost: int, lease: str, requests: int = 1) -> Verdict:
        rpm, tpm, lease_ms = quota.requests_per_minute, quota.tokens_per_minute, int(quota.lease_seconds * 1000)
        args = [rpm, tpm, quota.max_concurrent, cost, lease, lease_ms, requests]
        return Verdict.of(quota, *await self.client.run(ADMIT, self._keys(key), args, check=_admitted))

    async def settle(self, key: str, quota: Quota, correction: int, lease: str) -> None:
        await self.client.run(SETTLE, self._keys(key)[1:], [quota.tokens_per_minute, correction, lease], check=_settled)


REASONS = ("", "requests", "tokens", "concurrency")
MAX_AHEAD = 1e12  # seconds: a token limit far overspent is far ahead, but never this far


def _admitted(reply: Any) -> tuple[str, float, float, float]:
    """ADMIT's reply, checked: a reason and three durations in seconds; any other shape is a protocol error."""
    if not (isinstance(reply, list) and len(reply) == 4 and all(isinstance(x, str) for x in reply)):
        raise RedisProtocolError(f"ADMIT answered {str(reply)[:80]!r}, not four strings")
    if reply[0] not in REASONS:
        raise RedisProtocolError(f"ADMIT answered an unknown reason {reply[0][:40]!r}")
    seconds = []
    for text in reply[1:]:
        try:
            value = float(text) / 1000
        except ValueError:
            value = math.nan  # refused below
        if not (math.isfinite(value) and -1.0 <= value <= MAX_AHEAD):
            raise RedisProtocolError(f"ADMIT answered {text[:40]!r} for a duration")
        seconds.append(value)
    return reply[0], seconds[0], seconds[1], seconds[2]


def _settled(reply: Any) -> int:
    if reply != 1:
        raise RedisProtocolError(f"SETTLE answered {str(reply)[:80]!r}, not 1")
    return reply
