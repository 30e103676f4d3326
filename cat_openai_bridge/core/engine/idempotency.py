"""Idempotency-Key: a retried request replays its first answer instead of a second Cat turn.

SDKs retry timeouts and 5xx on their own; without this, each retry would store
the user's message in the Cat again. A key is scoped to the caller's identity
and bound to the request body. A duplicate that arrives while the first is
still running waits for it and replays its answer; a first attempt that failed
frees the key, so a deliberate retry runs again. Kept in process here; with
`redis_url` set, in Redis (shared_replays.py), so a retry replays whichever
replica it reaches. `once` is the pipeline's whole view of either store: a
replay, or an `Idempotent` run that keeps what it answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from starlette.responses import Response

from .errors import key_in_progress, key_reused, key_too_long
from .http_edge import STREAM_HEADERS, STREAM_MEDIA_TYPE

MAX_KEY_LENGTH = 255
# Headers that describe this request, not its answer: a replay carries its own.
PER_REQUEST_HEADERS = ("x-ratelimit-", "x-request-id", "anthropic-ratelimit-", "request-id")


@dataclass(frozen=True)
class Stored:
    """A finished answer exactly as it went out, to be sent again byte for byte."""

    status: int
    media_type: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Entry:
    fingerprint: str
    expires: float
    stale: float  # a claim still open after this was never finished (a stream whose body never ran)
    done: asyncio.Future[Stored | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Claim:
    """The right to produce the answer for a key; complete it or give it up, once."""

    def __init__(self, replays: Replays, scope: tuple[str, str], entry: _Entry | None) -> None:
        self._replays = replays
        self._scope = scope
        self._entry = entry

    async def complete(self, stored: Stored) -> None:
        entry, self._entry = self._entry, None
        if entry is not None and not entry.done.done():
            entry.done.set_result(stored)

    async def abandon(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._replays._forget(self._scope, entry)
            if not entry.done.done():
                entry.done.set_result(None)


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class Replays:
    """Recent answers by (identity, key); bounded in count and time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 2000) -> None:
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def _forget(self, scope: tuple[str, str], entry: _Entry) -> None:
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

    async def claim(
        self, identity: str, key: str, body: bytes, window: float, wait: float
    ) -> tuple[Claim | None, Stored | None]:
        """Either a claim to run the request, or the stored answer to replay."""
        if len(key) > MAX_KEY_LENGTH:
            raise key_too_long(MAX_KEY_LENGTH)
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

    def once(
        self,
        identity: str,
        key: str | None,
        body: bytes,
        window: float,
        wait: float,
        headers: dict[str, str],
        fail_open: bool = True,
    ) -> AbstractAsyncContextManager[Idempotent]:
        """One request under its key (or none): a replay, or a run that keeps its answer unless it fails."""
        return once(self.claim, identity, key, body, window, wait, headers)


class ClaimOf(Protocol):
    async def complete(self, stored: Stored) -> None: ...

    async def abandon(self) -> None: ...


ClaimFunction = Callable[[str, str, bytes, float, float], Awaitable[tuple[ClaimOf | None, Stored | None]]]


@asynccontextmanager
async def once(
    claim_of: ClaimFunction,
    identity: str,
    key: str | None,
    body: bytes,
    window: float,
    wait: float,
    headers: dict[str, str],
) -> AsyncIterator[Idempotent]:
    """What every store does with a request's key: replay, or run and keep (`claim_of` is the store's claim)."""
    if not key or not window:
        yield Idempotent(None, None, headers)
        return
    claim, stored = await claim_of(identity, key, body, window, wait)
    if stored is not None:
        yield Idempotent(None, replayed(stored, headers), headers)
        return
    run = Idempotent(claim, None, headers)
    try:
        yield run
    except BaseException:
        await run.give_up()
        raise


def replayed(stored: Stored, headers: dict[str, str]) -> Response:
    return Response(
        stored.body,
        stored.status,
        {**stored.headers, **headers, "idempotent-replayed": "true"},
        media_type=stored.media_type,
    )


class Idempotent:
    """What one request answered, kept for replays once it ended well."""

    def __init__(self, claim: ClaimOf | None, replay: Response | None, headers: dict[str, str]) -> None:
        self._claim = claim
        self.replay = replay
        self._headers = headers

    async def give_up(self) -> None:
        claim, self._claim = self._claim, None
        if claim is not None:
            await claim.abandon()

    async def _store(self, status: int, media_type: str, extra_headers: dict[str, str], body: bytes) -> None:
        claim, self._claim = self._claim, None
        if claim is not None:
            kept = {k: v for k, v in self._headers.items() if not k.startswith(PER_REQUEST_HEADERS)}
            await claim.complete(Stored(status, media_type, {**extra_headers, **kept}, body))

    async def keep(self, response: Response) -> Response:
        await self._store(response.status_code, response.media_type or "", {}, bytes(response.body))
        return response

    async def recording(self, events: AsyncIterator[bytes], ends: tuple[bytes, ...]) -> AsyncIterator[bytes]:
        """Pass a stream through; keep it only if it ended well (its last event holds one of `ends`)."""
        sent: list[bytes] = []
        try:
            async for event in events:
                if self._claim is not None:
                    sent.append(event)
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            if sent and any(end in sent[-1] for end in ends):
                await self._store(200, STREAM_MEDIA_TYPE, STREAM_HEADERS, b"".join(sent))
            else:
                await self.give_up()
