"""HTTP edges: reading a bounded body, and the JSON, SSE and error responses that leave."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from ..turn.errors import BridgeError, too_large
from ..turn.wire import WireModel

STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
STREAM_MEDIA_TYPE = "text/event-stream; charset=utf-8"


def json_response(body: WireModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body.wire(), status_code=status, media_type="application/json", headers=headers)


class Stalled(Exception):
    pass


class BoundedStream(StreamingResponse):
    """A stream whose every send may wait at most `timeout` seconds for the client to read: otherwise a client
    that stops reading holds the request, the Cat's run and the answer forever. Past it the body is closed."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        headers: dict[str, str],
        timeout: float,
        on_stall: Callable[[float], None],
        media_type: str = STREAM_MEDIA_TYPE,
    ) -> None:
        super().__init__(body, media_type=media_type, headers={**STREAM_HEADERS, **headers})
        self._timeout, self._on_stall = timeout, on_stall

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def bounded(message: Message) -> None:
            try:
                await _within(send(message), self._timeout)
            except asyncio.TimeoutError:
                raise Stalled() from None

        try:
            await super().__call__(scope, receive, bounded)
        except Exception as exc:
            if not _holds(exc, Stalled):
                raise
            self._on_stall(self._timeout)
        finally:
            with contextlib.suppress(Exception):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]  # now, not when collected


async def _within(awaitable, seconds: float):
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):  # no task per send, unlike wait_for on 3.11
            return await awaitable
    else:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(awaitable, seconds)


def _holds(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `exc` is `kind`, or an exception group (anyio's task groups on older Starlette) holding one."""
    if isinstance(exc, kind):
        return True
    return any(_holds(inner, kind) for inner in getattr(exc, "exceptions", ()))


def body_timeout(seconds: float) -> BridgeError:
    """A 408, as a server says a request it gave up waiting for; the connection is closed (what is left of the
    body would otherwise be read as the next request)."""
    message = f"The request body did not arrive within {seconds:g} seconds."
    return BridgeError(408, message, "invalid_request_error", None, "request_timeout", {"connection": "close"})


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """At most `limit` bytes, within `timeout` seconds in all: a client sending slowly holds no more than that."""
    try:
        return await _within(_read(request, limit), timeout)
    except asyncio.TimeoutError:
        raise body_timeout(timeout) from None


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)
