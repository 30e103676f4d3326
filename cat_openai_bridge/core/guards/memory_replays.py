"""The in-process Idempotency-Key store (without `redis_url`): a duplicate waits on the first run's future."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..turn.errors import key_in_progress, key_reused
from .idempotency import ClaimFunction, Keyed, Stored, fingerprint
from .replay_budget import ENTRY_OVERHEAD, Budget

Scope = tuple[str, str]  # (identity, key)


class Claim:
    """The right to produce a key's answer, completed or given up once; the budget holds it until its replays end."""

    def __init__(self, replays: Replays, scope: Scope, keyed: Keyed, digest: str) -> None:
        self._replays = replays
        self._scope = scope
        self._keyed = keyed
        self.fingerprint = digest
        self.done: asyncio.Future[Stored | None] = asyncio.get_running_loop().create_future()

    def _held(self) -> bool:
        return not self.done.done() and self._replays.budget.get(self._scope) is self

    def room(self, answer_bytes: int) -> bool:
        """Make room for an answer this large, evicting older ones; False: it cannot be kept."""
        size = ENTRY_OVERHEAD + len(self._scope[1]) + answer_bytes
        return self._held() and self._replays.budget.resize(self._scope, size, self._keyed.limits)

    async def complete(self, stored: Stored) -> None:
        if self._held():
            self._replays.budget.finish(self._scope, self._replays.clock() + self._keyed.window)
        self.end(stored)

    async def abandon(self) -> None:
        if self._held():
            self._replays.budget.remove(self._scope)
        self.end(None)

    def end(self, stored: Stored | None) -> None:
        if not self.done.done():
            self.done.set_result(stored)


class Replays:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.budget: Budget[Scope, Claim] = Budget()

    async def claim(self, keyed: Keyed) -> tuple[Claim | None, Stored | None]:
        scope = (keyed.identity, keyed.key or "")
        digest = fingerprint(keyed.route, keyed.body)
        deadline = self.clock() + keyed.wait
        while True:
            now = self.clock()
            for stale in self.budget.expire(now):  # a claim never finished: whoever waits on it claims again
                stale.end(None)
            entry = self.budget.get(scope, now)
            if entry is None:
                claim = Claim(self, scope, keyed, digest)
                self.budget.add(scope, keyed.identity, claim, now + keyed.wait + 5, ENTRY_OVERHEAD + len(scope[1]))
                return claim, None
            if entry.fingerprint != digest:
                raise key_reused()
            if entry.done.done():  # only a completed claim's entry is still held once done
                return None, entry.done.result()
            if deadline <= now:
                raise key_in_progress()
            try:
                await asyncio.wait_for(asyncio.shield(entry.done), deadline - now)
            except asyncio.TimeoutError:
                continue

    def claimer(self, fail_open: bool = True) -> ClaimFunction:
        """This store's claim, for `once` (in process nothing can fail: `fail_open` is for the Redis store)."""
        return self.claim
