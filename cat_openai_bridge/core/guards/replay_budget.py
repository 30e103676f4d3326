"""What the idempotency store may keep, in bytes: in all, per identity, and per answer.

A Responses stream repeats the request's `metadata`, `instructions` and
`tools` in three events, so a count of entries says nothing about memory:
one keyed request with 3 MiB of metadata kept about 9 MiB. The bounds are
bytes, defined once here (`ReplayLimits`, from the settings) with the
accounting that enforces them (`Budget`); a store that keeps answers
elsewhere applies the same limits.

Entries that are still running are never evicted, only passed over: the
oldest finished entries go first. A running entry's recording is charged as
it grows, so a stream being recorded cannot grow past the bounds either;
when no room can be made, the recording is dropped and the key is simply not
replayable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

ENTRY_OVERHEAD = 512  # bytes an entry costs beyond its answer: key, fingerprint, headers, bookkeeping


class _Settings(Protocol):
    idempotency_store_bytes: int
    idempotency_identity_bytes: int
    idempotency_answer_bytes: int


@dataclass(frozen=True)
class ReplayLimits:
    total: int = 64 * 1024 * 1024  # every identity's kept answers together
    per_identity: int = 8 * 1024 * 1024  # one identity's kept answers
    per_answer: int = 2 * 1024 * 1024  # one answer (a whole stream as sent); a larger one is not kept

    @classmethod
    def of(cls, settings: _Settings) -> ReplayLimits:
        return cls(
            settings.idempotency_store_bytes, settings.idempotency_identity_bytes, settings.idempotency_answer_bytes
        )

    def keeps(self, answer_bytes: int) -> bool:
        """Whether an answer this large may be kept at all."""
        return answer_bytes <= min(self.per_answer, self.per_identity, self.total)


K = TypeVar("K")


class _Held:
    __slots__ = ("identity", "size", "running")

    def __init__(self, identity: str, size: int) -> None:
        self.identity = identity
        self.size = size
        self.running = True


class Budget(Generic[K]):
    """Bytes held per entry, per identity and in all; evicts the oldest finished entries to make room.

    Order is the order entries were added, or finished (`finish` moves an entry to the end).
    """

    def __init__(self) -> None:
        self._held: OrderedDict[K, _Held] = OrderedDict()
        self._by_identity: dict[str, OrderedDict[K, None]] = {}
        self._identity_bytes: dict[str, int] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, key: K) -> bool:
        return key in self._held

    def used_by(self, identity: str) -> int:
        return self._identity_bytes.get(identity, 0)

    def in_order(self) -> Iterator[tuple[K, bool]]:
        """(key, running) from the oldest to the newest; nothing may be added or removed while it is read."""
        return ((key, held.running) for key, held in self._held.items())

    def add(self, key: K, identity: str, size: int = ENTRY_OVERHEAD) -> None:
        """A new running entry (its first bytes are not checked: a claim is small and must not fail)."""
        self.remove(key)
        self._held[key] = _Held(identity, size)
        self._by_identity.setdefault(identity, OrderedDict())[key] = None
        self._charge(identity, size)

    def remove(self, key: K) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        self._charge(held.identity, -held.size)
        mine = self._by_identity[held.identity]
        del mine[key]
        if not mine:
            del self._by_identity[held.identity]
            del self._identity_bytes[held.identity]

    def finish(self, key: K) -> None:
        """The entry's answer is whole: it may be evicted from now on, after those that finished before it."""
        held = self._held.get(key)
        if held is not None:
            held.running = False
            self._held.move_to_end(key)
            self._by_identity[held.identity].move_to_end(key)

    def resize(self, key: K, size: int, limits: ReplayLimits) -> list[K] | None:
        """Charge `key` for `size` bytes, evicting finished entries for room: the evicted keys, or None (and
        nothing changed) when the limits cannot be met."""
        held = self._held.get(key)
        if held is None:
            return None
        grow = size - held.size
        if grow <= 0:
            held.size = size
            self._charge(held.identity, grow)
            return []
        if not limits.keeps(size - ENTRY_OVERHEAD):
            return None
        mine = self._by_identity[held.identity]
        victims = self._oldest_finished(mine, self.used_by(held.identity) + grow - limits.per_identity, [])
        victims = self._oldest_finished(self._held, self.total + grow - self._sizes(victims) - limits.total, victims)
        freed_mine = sum(self._held[v].size for v in victims if v in mine)
        if (
            self.used_by(held.identity) + grow - freed_mine > limits.per_identity
            or self.total + grow - self._sizes(victims) > limits.total
        ):
            return None
        for victim in victims:
            self.remove(victim)
        held.size = size
        self._charge(held.identity, grow)
        return victims

    def _charge(self, identity: str, size: int) -> None:
        self._identity_bytes[identity] = self._identity_bytes.get(identity, 0) + size
        self.total += size

    def _sizes(self, keys: list[K]) -> int:
        return sum(self._held[k].size for k in keys)

    def _oldest_finished(self, order: OrderedDict, needed: int, taken: list[K]) -> list[K]:
        """`taken`, then finished entries of `order`, oldest first, until `needed` more bytes are covered
        (running ones are passed over)."""
        victims = list(taken)
        chosen = set(taken)
        for key in order:
            if needed <= 0:
                break
            held = self._held[key]
            if held.running or key in chosen:
                continue
            victims.append(key)
            needed -= held.size
        return victims
