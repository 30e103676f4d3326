"""The in-process Idempotency-Key store: recent answers by (identity, key), in this process only.

What `once` (idempotency.py) claims through unless `redis_url` is set (then
redis_replays.py, shared by every replica). A duplicate that arrives while
the first run is still going waits on that run's future and replays its
answer; a run that fails, or whose claim is never finished, frees its key.
Bounded in bytes by replay_budget.py (in all, and per identity) and in time
(each answer's window).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..turn.errors import key_in_progress, key_reused
from .idempotency import ClaimFunction, Stored, fingerprint
from .replay_budget import ENTRY_OVERHEAD, Budget, ReplayLimits

Scope = tuple[str, str]  # (identity, key)


@dataclass
class _Entry:
    fingerprint: str
    window: float  # seconds the answer replays once it is whole
    expires: float
    stale: float  # a claim still open after this was never finished (a stream whose body never ran)
    done: asyncio.Future[Stored | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Claim:
    """The right to produce the answer for a key; complete it or give it up, once."""

    def __init__(self, replays: Replays, scope: Scope, entry: _Entry | None, limits: ReplayLimits) -> None:
        self._replays = replays
        self._scope = scope
        self._entry = entry
        self._limits = limits

    def room(self, answer_bytes: int) -> bool:
        """Make room for an answer (or a recording) this large, evicting older answers; False: it cannot be kept."""
        return self._entry is not None and self._replays._resize(self._scope, self._entry, answer_bytes, self._limits)

    async def complete(self, stored: Stored) -> None:
        entry, self._entry = self._entry, None
        if entry is not None and not entry.done.done():
            self._replays._finish(self._scope, entry)
            entry.done.set_result(stored)

    async def abandon(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._replays._forget(self._scope, entry)
            if not entry.done.done():
                entry.done.set_result(None)


class Replays:
    """Recent answers by (identity, key); bounded in bytes (in all and per identity) and in time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[Scope, _Entry] = {}
        self.budget: Budget[Scope] = Budget()

    def __len__(self) -> int:
        return len(self._entries)

    def _forget(self, scope: Scope, entry: _Entry) -> None:
        if self._entries.get(scope) is entry:
            del self._entries[scope]
            self.budget.remove(scope)

    def _finish(self, scope: Scope, entry: _Entry) -> None:
        if self._entries.get(scope) is entry:
            entry.expires = self._clock() + entry.window
            self.budget.finish(scope)

    def _resize(self, scope: Scope, entry: _Entry, answer_bytes: int, limits: ReplayLimits) -> bool:
        if self._entries.get(scope) is not entry:
            return False
        evicted = self.budget.resize(scope, ENTRY_OVERHEAD + len(scope[1]) + answer_bytes, limits)
        for victim in evicted or ():
            self._entries.pop(victim, None)
        return evicted is not None

    def _prune(self) -> None:
        """Drop finished answers whose window is over, and claims that were never finished."""
        now = self._clock()
        gone: list[tuple[Scope, _Entry]] = []
        for scope, running in self.budget.in_order():
            entry = self._entries[scope]
            if running:
                if entry.stale <= now:
                    gone.append((scope, entry))
            elif entry.expires <= now:
                gone.append((scope, entry))
            else:
                break  # the later ones finished later
        for scope, entry in gone:
            self._forget(scope, entry)
            if not entry.done.done():
                entry.done.set_result(None)

    async def claim(
        self,
        identity: str,
        key: str,
        route: str,
        body: bytes,
        window: float,
        wait: float,
        limits: ReplayLimits = ReplayLimits(),
    ) -> tuple[Claim | None, Stored | None]:
        """Either a claim to run the request, or the stored answer to replay."""
        scope = (identity, key)
        digest = fingerprint(route, body)
        deadline = self._clock() + wait
        while True:
            self._prune()
            entry = self._entries.get(scope)
            if entry is not None and entry.done.done() and entry.expires <= self._clock():
                self._forget(scope, entry)
                entry = None
            if entry is None:
                now = self._clock()
                entry = _Entry(digest, window, now + window, now + wait + 5)
                self._entries[scope] = entry
                self.budget.add(scope, identity, ENTRY_OVERHEAD + len(key))
                return Claim(self, scope, entry, limits), None
            if entry.fingerprint != digest:
                raise key_reused()
            if entry.done.done():
                stored = entry.done.result()
                if stored is not None:
                    return None, stored
                self._forget(scope, entry)
                continue
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise key_in_progress()
            try:
                await asyncio.wait_for(asyncio.shield(entry.done), remaining)
            except asyncio.TimeoutError:
                continue

    def claimer(self, fail_open: bool = True) -> ClaimFunction:
        """This store's claim, for `once` (in process nothing can fail: `fail_open` is for the Redis store)."""
        return self.claim
