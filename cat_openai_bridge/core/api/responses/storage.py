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


def output_items(response: dict[str, Any]) -> list[dict[str, Any]]:
    """A response's output as input items for the next turn of the chain."""
    items = []
    for out in response.get("output", []):
        if out.get("type") == "message":
            text = "".join(p.get("text", "") for p in out.get("content", []))
            content = [{"type": "output_text", "text": text}]
            items.append({"type": "message", "role": "assistant", "id": out["id"], "content": content})
        elif out.get("type") in ("function_call", "custom_tool_call"):
            keep = ("type", "id", "call_id", "namespace", "name", "arguments", "input")
            items.append({k: out[k] for k in keep if k in out})
    return items


OFF_LOOP_BYTES = 64 * 1024  # an entry larger than this is decoded in a thread, an item at a time
OFF_LOOP_ITEMS = 64  # an entry of more items than this is encoded likewise


@dataclass(frozen=True)
class StoredResponse:
    """Each part kept once (the history to continue from is derived), as lines of JSON: the response, the two
    counts, then one item a line. A read takes what it needs (the response line, one page of items) without
    decoding the rest, and a whole decode in a thread yields the event loop between items."""

    response: dict[str, Any]  # the Response object as it was sent
    input_items: list[dict[str, Any]]  # this request's own input, as items with ids
    earlier: list[dict[str, Any]]  # the chain it continued (input items), before this request

    @property
    def history(self) -> list[dict[str, Any]]:
        """Input items to continue from: the chain so far, this input, then this output."""
        return [*self.earlier, *self.input_items, *output_items(self.response)]

    def encode(self) -> bytes:
        """JSON escapes every newline in a string (ensure_ascii), so a line is one value."""
        parts = [self.response, [len(self.input_items), len(self.earlier)], *self.input_items, *self.earlier]
        return b"\n".join(json.dumps(part, separators=(",", ":")).encode("utf-8") for part in parts)

    @classmethod
    def decode(cls, data: bytes) -> StoredResponse:
        if b"\n" not in data:  # one JSON object, kept before #22 with the whole history beside its parts
            raw = json.loads(data)
            whole = raw.pop("history")
            raw["earlier"] = whole[: len(whole) - len(raw["input_items"]) - len(output_items(raw["response"]))]
            return cls(**raw)
        lines = data.split(b"\n")
        mine = json.loads(lines[1])[0]
        items = [json.loads(line) for line in lines[2:]]
        return cls(json.loads(lines[0]), items[:mine], items[mine:])

    @classmethod
    def response_line(cls, data: bytes) -> bytes:
        """The response as it was sent, undecoded."""
        if b"\n" not in data:
            return json.dumps(cls.decode(data).response, separators=(",", ":")).encode("utf-8")
        return data[: data.index(b"\n")]

    @classmethod
    def input_lines(cls, data: bytes) -> list[bytes]:
        """This request's own input items, one undecoded JSON line each."""
        if b"\n" not in data:
            return [json.dumps(item).encode("utf-8") for item in cls.decode(data).input_items]
        lines = data.split(b"\n")
        return lines[2 : 2 + json.loads(lines[1])[0]]


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
