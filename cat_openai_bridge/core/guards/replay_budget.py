"""What a store of answers may keep, in bytes: in all, per identity, and per answer; and for how long.

A Responses stream repeats the request's `metadata`, `instructions` and
`tools` in three events, so a count of entries says nothing about memory:
one keyed request with 3 MiB of metadata kept about 9 MiB. The bounds are
bytes, defined once here (`ReplayLimits`, from the settings) with the
in-process accounting that enforces them (`Budget`, which holds the entries
too: the idempotency store's and the stored Responses'); `charge_lua` is the
same accounting per identity for the Redis stores.

Entries that are still running are never evicted, only passed over: the
oldest finished entries go first. A running entry's recording is charged as
it grows, so a stream being recorded cannot grow past the bounds either;
when no room can be made, the recording is dropped and the key is simply not
replayable.
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

    def keeps(self, answer_bytes: int) -> bool:
        """Whether an answer this large may be kept at all."""
        return answer_bytes <= min(self.per_answer, self.per_identity, self.total)


def charge_lua(member: str, size: str, bound: str, ttl_ms: str, victim: str = "id", evictable: str = "true") -> str:
    """Lua for a Redis store: push `member` (`size` bytes) on the identity's index KEYS[2] (a list of "member size",
    newest first), count it in KEYS[3], evict the oldest (`victim`: the key of a popped `id`) until the identity is
    within `bound`, and keep index and count as long as the newest entry. Leaves `used` set."""
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
    """Entries with the bytes each holds, per identity and in all; evicts the oldest finished ones to make room.

    Order is the order entries were added, or finished (`finish` moves an entry to the end).
    """

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
        """The entry's value; with `now`, a finished one that expired is dropped instead (a shorter window than
        the entries before it, which `expire` stops at)."""
        held = self._held.get(key)
        if held is not None and now is not None and not held.running and held.until <= now:
            self.remove(key)
            return None
        return None if held is None else held.value

    def expire(self, now: float) -> list[V]:
        """Drop the finished entries whose time is over, oldest first, and the running ones never finished
        before them: their values."""
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
        """The entry is whole until `until`: it may be evicted from now on, after those that finished before it."""
        held = self._held.get(key)
        if held is not None:
            held.running, held.until = False, until
            self._held.move_to_end(key)
            self._by_identity[held.identity].move_to_end(key)

    def resize(self, key: K, size: int, limits: ReplayLimits) -> bool:
        """Charge `key` for `size` bytes, evicting finished entries for room; False (and nothing changed) when
        the limits cannot be met."""
        held = self._held.get(key)
        if held is None:
            return False
        grow = size - held.size
        if grow > 0:
            if not limits.keeps(size - ENTRY_OVERHEAD):
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
        """Add finished entries of `order` to `victims`, oldest first, until `needed` more bytes are covered
        (running ones are passed over): the bytes still needed."""
        chosen = set(victims)
        for key in order:
            if needed <= 0:
                break
            held = self._held[key]
            if not (held.running or key in chosen):
                victims.append(key)
                needed -= held.size
        return needed
