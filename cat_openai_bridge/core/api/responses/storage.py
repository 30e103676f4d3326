"""Stored responses: what `previous_response_id` continues and `GET /v1/responses/{id}` reads back.

Kept per identity (another user's id is simply not found), bounded in bytes and age, oldest first. With
`redis_url` set every replica reads the same store, and Redis's own `maxmemory` bounds it in all.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from ...guards.redis_client import RedisClient, Script
from ...guards.replay_budget import ENTRY_OVERHEAD, Budget, ReplayLimits, charge_lua


@dataclass(frozen=True)
class StoreLimits(ReplayLimits):
    ttl: float = 0.0  # seconds a response is kept (and `per_answer` bounds one response)


@dataclass(frozen=True)
class StoredResponse:
    response: dict[str, Any]  # the Response object as it was sent
    input_items: list[dict[str, Any]]  # this request's own input, as items with ids
    history: list[dict[str, Any]]  # input items to continue from: the chain so far, then this output

    def encode(self) -> bytes:
        return json.dumps(vars(self), separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> StoredResponse:
        return cls(**json.loads(data))


class MemoryResponseStore:
    """In process: charged in bytes per user and in all by the idempotency store's `Budget`, oldest first."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._budget: Budget[tuple[str, str], bytes] = Budget()

    async def put(self, identity: str, response_id: str, data: bytes, limits: StoreLimits) -> bool:
        key = (identity, response_id)
        self._budget.expire(self._clock())
        self._budget.add(key, identity, data)  # running while it is charged: never its own victim
        if not self._budget.resize(key, ENTRY_OVERHEAD + len(data), limits):
            self._budget.remove(key)
            return False
        self._budget.finish(key, self._clock() + limits.ttl)
        return True

    async def get(self, identity: str, response_id: str) -> bytes | None:
        self._budget.expire(self._clock())
        return self._budget.get((identity, response_id), self._clock())

    async def delete(self, identity: str, response_id: str) -> bool:
        self._budget.expire(self._clock())
        return self._budget.remove((identity, response_id)) is not None


# KEYS: the entry, the identity's index, its byte count (replay_budget.charge_lua; the index holds ids).
# ARGV: data, size, ttl ms, the identity's byte limit, id, the entry key's prefix.
_PUT = Script(
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])"
    + charge_lua("ARGV[5]", "ARGV[2]", "ARGV[4]", "ARGV[3]", victim="ARGV[6] .. id")
    + "return used"
)
# KEYS as above; ARGV: id. Deletes the entry and its place in the index.
_DELETE = Script(
    """
local existed = redis.call('DEL', KEYS[1])
for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local id, size = string.match(entry, '^(%S+) (%d+)$')
  if id == ARGV[1] then
    redis.call('LREM', KEYS[2], 1, entry)
    redis.call('DECRBY', KEYS[3], size)
  end
end
return existed
"""
)


class RedisResponseStore:
    """Shared by every replica: one key per response with the ttl as its expiry, an index per identity."""

    def __init__(self, url: str, prefix: str = "cat-openai-bridge:responses") -> None:
        self.client = RedisClient(url)
        self.prefix = prefix

    def _keys(self, identity: str, response_id: str) -> tuple[str, str, str]:
        who = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return f"{self.prefix}:{who}:{response_id}", f"{self.prefix}:{who}:index", f"{self.prefix}:{who}:bytes"

    async def put(self, identity: str, response_id: str, data: bytes, limits: StoreLimits) -> bool:
        if len(data) > min(limits.per_answer, limits.per_identity):
            return False
        keys = self._keys(identity, response_id)
        prefix = keys[0][: -len(response_id)]
        await self.client.run(
            _PUT, keys, [data, len(data), max(1, int(limits.ttl)) * 1000, limits.per_identity, response_id, prefix]
        )
        return True

    async def get(self, identity: str, response_id: str) -> bytes | None:
        value = await self.client.call("GET", self._keys(identity, response_id)[0])
        return value.encode("utf-8") if isinstance(value, str) else None  # the client decodes bulk strings

    async def delete(self, identity: str, response_id: str) -> bool:
        return bool(await self.client.run(_DELETE, self._keys(identity, response_id), [response_id]))


class ResponseStores:
    """The in-process store, or the Redis store of the current `redis_url` (one at a time)."""

    def __init__(self) -> None:
        self.memory = MemoryResponseStore()
        self._redis: dict[str, RedisResponseStore] = {}

    def of(self, redis_url: str) -> MemoryResponseStore | RedisResponseStore:
        if redis_url and redis_url not in self._redis:
            self._redis = {redis_url: RedisResponseStore(redis_url)}
        return self._redis[redis_url] if redis_url else self.memory
