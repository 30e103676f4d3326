"""HTTP edges: reading a bounded body, and the JSON, SSE and error responses that leave."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .errors import BridgeError, too_large
from .wire import WireModel

STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
STREAM_MEDIA_TYPE = "text/event-stream; charset=utf-8"


def json_response(body: WireModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body.wire(), status_code=status, media_type="application/json", headers=headers)


def error_response(error: BridgeError, headers: dict[str, str] | None = None) -> Response:
    return json_response(error.wire(), error.status, {**(headers or {}), **error.headers})


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> Response:
    return StreamingResponse(body, media_type=STREAM_MEDIA_TYPE, headers={**STREAM_HEADERS, **(headers or {})})


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with a 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
