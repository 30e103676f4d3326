"""What a store of answers may keep, in bytes: in all, per identity and per answer; and for how long.

Bytes, not entries: a Responses stream repeats the request's metadata, instructions and tools in three events (3 MiB
of metadata kept about 9 MiB). `Budget` enforces them in process, `charge_lua` per identity in Redis. Running entries
are never evicted, only passed over, and are charged as they grow: a recording with no room left is dropped.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..config.settings import BridgeSettings

ENTRY_OVERHEAD = 512  # bytes an entry costs beyond its answer: key, fingerprint, headers, bookkeeping


@dataclass(frozen=True)
class ReplayLimits:
    total: int = 64 * 1024 * 1024  # every identity's kept answers together
    per_identity: int = 8 * 1024 * 1024  # one identity's kept answers
    per_answer: int = 2 * 1024 * 1024  # one answer (a whole stream as sent); a larger one is not kept

    @classmethod
    def of(cls, settings: BridgeSettings) -> ReplayLimits:
        return cls(
            settings.idempotency_store_bytes, settings.idempotency_identity_bytes, settings.idempotency_answer_bytes
        )


def charge_lua(member: str, size: str, bound: str, ttl_ms: str, victim: str = "id", evictable: str = "true") -> str:
    """Lua: push `member` (`size` bytes) on the identity's index KEYS[2] ("member size", newest first), count it in
    KEYS[3], and evict the oldest (`victim`: the key of a popped `id`) until the identity is within `bound`."""
    return f"""
redis.call('LPUSH', KEYS[2], {member} .. ' ' .. {size})
local used = redis.call('INCRBY', KEYS[3], {size})
while used > tonumber({bound}) do
  local oldest = redis.call('RPOP', KEYS[2])
  if not oldest then break end
  local id, size = string.match(oldest, '^(%S+) (%d+)$')
  if id ~= {member} and {evictable} then redis.call('DEL', {victim}) end
  used = redis.call('DECRBY', KEYS[3], size)
end
redis.call('PEXPIRE', KEYS[2], {ttl_ms})
redis.call('PEXPIRE', KEYS[3], {ttl_ms})
"""


K = TypeVar("K")
V = TypeVar("V")


@dataclass(slots=True)
class _Held:
    identity: str
    size: int
    value: Any
    until: float  # running: when it is taken for never finished; finished: when it expires
    running: bool = True


class Budget(Generic[K, V]):
    """Entries and their bytes, in the order they were added or finished; the oldest finished are evicted first."""

    def __init__(self) -> None:
        self._held: OrderedDict[K, _Held] = OrderedDict()
        self._by_identity: dict[str, OrderedDict[K, None]] = {}
        self._identity_bytes: dict[str, int] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._held)

    def used_by(self, identity: str) -> int:
        return self._identity_bytes.get(identity, 0)

    def get(self, key: K, now: float | None = None) -> V | None:
        """With `now`, an expired finished entry is dropped (its window may end before older ones': `expire` stops)."""
        held = self._held.get(key)
        if held is not None and now is not None and not held.running and held.until <= now:
            self.remove(key)
            return None
        return None if held is None else held.value

    def expire(self, now: float) -> list[V]:
        """Drop (and return) the expired entries up to the first finished one still valid."""
        gone = []
        for key, held in self._held.items():
            if held.until <= now:
                gone.append(key)
            elif not held.running:
                break  # the later ones finished later
        return [self.remove(key) for key in gone]

    def add(self, key: K, identity: str, value: V, until: float = math.inf, size: int = ENTRY_OVERHEAD) -> None:
        """A new running entry (its first bytes are not checked: a claim is small and must not fail)."""
        self.remove(key)
        self._held[key] = _Held(identity, size, value, until)
        self._by_identity.setdefault(identity, OrderedDict())[key] = None
        self._charge(identity, size)

    def remove(self, key: K) -> V | None:
        held = self._held.pop(key, None)
        if held is None:
            return None
        self._charge(held.identity, -held.size)
        mine = self._by_identity[held.identity]
        del mine[key]
        if not mine:
            del self._by_identity[held.identity]
            del self._identity_bytes[held.identity]
        return held.value

    def finish(self, key: K, until: float) -> None:
        held = self._held.get(key)
        if held is not None:
            held.running, held.until = False, until
            self._held.move_to_end(key)
            self._by_identity[held.identity].move_to_end(key)

    def resize(self, key: K, size: int, limits: ReplayLimits) -> bool:
        """Charge `key` for `size` bytes, evicting finished entries; False (nothing changed) if it cannot fit."""
        held = self._held.get(key)
        if held is None:
            return False
        grow = size - held.size
        if grow > 0:
            if size - ENTRY_OVERHEAD > min(limits.per_answer, limits.per_identity, limits.total):
                return False
            victims: list[K] = []  # the identity's oldest first, then anyone's for the bound in all
            mine = self._by_identity[held.identity]
            if self._oldest_finished(mine, self.used_by(held.identity) + grow - limits.per_identity, victims) > 0:
                return False
            freed = sum(self._held[victim].size for victim in victims)
            if self._oldest_finished(self._held, self.total + grow - freed - limits.total, victims) > 0:
                return False
            for victim in victims:
                self.remove(victim)
        held.size = size
        self._charge(held.identity, grow)
        return True

    def _charge(self, identity: str, size: int) -> None:
        self._identity_bytes[identity] = self._identity_bytes.get(identity, 0) + size
        self.total += size

    def _oldest_finished(self, order: OrderedDict, needed: int, victims: list[K]) -> int:
        """Add `order`'s oldest finished entries to `victims` until `needed` bytes are covered: what is still needed."""
        chosen = set(victims)
        for key in order:
            if needed <= 0:
                break
            held = self._held[key]
            if not (held.running or key in chosen):
                victims.append(key)
                needed -= held.size
        return needed
