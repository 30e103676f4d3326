"""Idempotency-Key: a retry replays its first answer, since each new Cat turn would store the user's message again.

A key is the caller identity's, bound to the route and body. A duplicate waits for a running first attempt and replays
it; a failed attempt frees the key, so a deliberate retry runs again. An answer too large to keep leaves its key not
replayable (`Idempotency-Replayable: false` when known before the headers go out).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from starlette.responses import Response

from ..turn.errors import key_too_long
from .replay_budget import ReplayLimits

MAX_KEY_LENGTH = 255
NOT_REPLAYABLE = {"idempotency-replayable": "false"}  # the key was taken, but this answer is too large to keep
# Headers that describe this request, not its answer: a replay carries its own.
PER_REQUEST_HEADERS = ("x-ratelimit-", "x-request-id", "anthropic-ratelimit-", "request-id", "idempotency-replayable")


class Recorded(Protocol):
    data: bytes
    final: bool


E = TypeVar("E", bound=Recorded)


@dataclass(frozen=True)
class Stored:
    status: int
    media_type: str
    headers: dict[str, str]
    body: bytes


def fingerprint(route: str, body: bytes) -> str:
    """The same key on another route is another request."""
    return hashlib.sha256(route.encode() + b"\0" + body).hexdigest()


class ClaimOf(Protocol):
    def room(self, answer_bytes: int) -> bool: ...

    async def complete(self, stored: Stored) -> None: ...

    async def abandon(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Keyed:
    identity: str
    key: str | None  # the Idempotency-Key header (None: no key, nothing kept)
    route: str
    body: bytes
    window: float  # seconds an answer replays once it is whole
    wait: float  # seconds a duplicate waits for the first attempt to end
    limits: ReplayLimits = ReplayLimits()
    at_least: int = 0  # a lower bound on the answer's bytes, known before it runs


ClaimFunction = Callable[[Keyed], Awaitable[tuple[ClaimOf | None, Stored | None]]]


@asynccontextmanager
async def once(claim_of: ClaimFunction, keyed: Keyed, headers: dict[str, str]) -> AsyncIterator[Idempotent]:
    """Replay the key's answer, or run and keep it (`claim_of`: the store's claim)."""
    if not keyed.key or not keyed.window:
        yield Idempotent(None, None, headers)
        return
    if len(keyed.key) > MAX_KEY_LENGTH:
        raise key_too_long(MAX_KEY_LENGTH)
    claim, stored = await claim_of(keyed)
    if stored is not None:
        replayed = {**stored.headers, **headers, "idempotent-replayed": "true"}
        yield Idempotent(None, Response(stored.body, stored.status, replayed, media_type=stored.media_type), headers)
        return
    run = Idempotent(claim, None, headers)
    if claim is not None and not claim.room(keyed.at_least):
        run.not_replayable()
    try:
        yield run
    except BaseException:
        await run.give_up()
        raise


class Idempotent:
    def __init__(self, claim: ClaimOf | None, replay: Response | None, headers: dict[str, str]) -> None:
        self._claim = claim
        self.replay = replay
        self._headers = headers
        self._keeps = claim is not None

    def not_replayable(self) -> None:
        """The key stays claimed while the answer runs (duplicates wait), then is freed."""
        self._keeps = False
        self._headers.update(NOT_REPLAYABLE)

    async def give_up(self) -> None:
        claim, self._claim = self._claim, None
        if claim is not None:
            await claim.abandon()

    async def _store(self, status: int, media_type: str, extra_headers: dict[str, str], body: bytes) -> None:
        if self._claim is None or not self._keeps:
            return await self.give_up()
        claim, self._claim = self._claim, None
        kept = {k: v for k, v in self._headers.items() if not k.startswith(PER_REQUEST_HEADERS)}
        await claim.complete(Stored(status, media_type, {**extra_headers, **kept}, body))

    async def keep(self, response: Response) -> Response:
        body = bytes(response.body)
        if self._keeps and not (self._claim is not None and self._claim.room(len(body))):
            self.not_replayable()
            response.headers.update(NOT_REPLAYABLE)
        await self._store(response.status_code, response.media_type or "", {}, body)
        return response

    async def recording(self, events: AsyncIterator[E], media_type: str, headers: dict[str, str]) -> AsyncIterator[E]:
        """Keep the stream only if its last event is `final` and it fit; one that outgrows the limits is dropped as
        it goes (its headers are out by then: the key is freed at the end)."""
        sent: list[bytes] = []
        size = 0
        last: E | None = None
        try:
            async for event in events:
                last = event
                if self._keeps:
                    size += len(event.data)
                    if self._claim is not None and self._claim.room(size):
                        sent.append(event.data)
                    else:
                        self._keeps, sent = False, []
                        self._claim.room(0)  # what was recorded is let go at once
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            if self._keeps and sent and last is not None and last.final:
                await self._store(200, media_type, headers, b"".join(sent))
            else:
                await self.give_up()
