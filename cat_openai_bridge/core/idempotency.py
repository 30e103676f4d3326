"""Idempotency-Key: a retried request replays its first answer instead of a second Cat turn.

SDKs retry timeouts and 5xx on their own; without this, each retry would store
the user's message in the Cat again. A key is scoped to the caller's identity
and bound to the request body. A duplicate that arrives while the first is
still running waits for it and replays its answer; a first attempt that failed
frees the key, so a deliberate retry runs again. Kept in process: behind
several replicas, route a client's retries to the same one (sticky sessions).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from .errors import BridgeError, invalid_request

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Stored:
    """A finished answer exactly as it went out, to be sent again byte for byte."""

    status: int
    media_type: str
    headers: Dict[str, str]
    body: bytes


@dataclass
class _Entry:
    fingerprint: str
    expires: float
    stale: float  # a claim still open after this was never finished (a stream whose body never ran)
    done: "asyncio.Future[Optional[Stored]]" = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Claim:
    """The right to produce the answer for a key; complete it or give it up, once."""

    def __init__(self, replays: "Replays", scope: Tuple[str, str], entry: Optional[_Entry]) -> None:
        self._replays = replays
        self._scope = scope
        self._entry = entry

    def complete(self, stored: Stored) -> None:
        entry, self._entry = self._entry, None
        if entry is not None and not entry.done.done():
            entry.done.set_result(stored)

    def abandon(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._replays._forget(self._scope, entry)
            if not entry.done.done():
                entry.done.set_result(None)


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def key_in_use() -> BridgeError:
    return invalid_request(
        "This Idempotency-Key was already used with a different request body.", None, "idempotency_key_reused"
    )


class Replays:
    """Recent answers by (identity, key); bounded in count and time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 2000) -> None:
        self._clock = clock
        self._entries: "OrderedDict[Tuple[str, str], _Entry]" = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def _forget(self, scope: Tuple[str, str], entry: _Entry) -> None:
        if self._entries.get(scope) is entry:
            del self._entries[scope]

    def _prune(self) -> None:
        now = self._clock()
        for scope, entry in list(self._entries.items()):
            if entry.expires <= now and entry.done.done():
                del self._entries[scope]
        while len(self._entries) > self._max:
            scope, entry = next(iter(self._entries.items()))
            if not entry.done.done():
                break  # never evict a running request
            del self._entries[scope]

    async def claim(self, identity: str, key: str, body: bytes, window: float,
                    wait: float) -> Tuple[Optional[Claim], Optional[Stored]]:
        """Either a claim to run the request, or the stored answer to replay."""
        if len(key) > MAX_KEY_LENGTH:
            raise invalid_request(f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.", None,
                                  "invalid_idempotency_key")
        scope = (identity, key)
        digest = fingerprint(body)
        deadline = self._clock() + wait
        while True:
            self._prune()
            entry = self._entries.get(scope)
            if entry is not None and not entry.done.done() and entry.stale <= self._clock():
                self._forget(scope, entry)
                entry = None
            if entry is None:
                now = self._clock()
                entry = _Entry(digest, now + window, now + wait + 5)
                self._entries[scope] = entry
                return Claim(self, scope, entry), None
            if entry.fingerprint != digest:
                raise key_in_use()
            if entry.done.done():
                stored = entry.done.result()
                if stored is not None:
                    return None, stored
                self._forget(scope, entry)
                continue
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise BridgeError(409, "A request with this Idempotency-Key is still running.", "invalid_request_error",
                                  None, "idempotency_key_in_progress", {"x-should-retry": "false"})
            try:
                await asyncio.wait_for(asyncio.shield(entry.done), remaining)
            except asyncio.TimeoutError:
                continue
