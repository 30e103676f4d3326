"""HTTP edges: reading a bounded body, JSON and SSE responses, error responses."""

from __future__ import annotations

import json
from typing import AsyncIterator, Dict, Optional

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .errors import BridgeError

STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def json_response(body: dict, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def error_response(error: BridgeError, headers: Optional[Dict[str, str]] = None) -> Response:
    return json_response(error.body(), error.status, {**(headers or {}), **error.headers})


def sse_response(body: AsyncIterator[bytes], headers: Optional[Dict[str, str]] = None) -> Response:
    return StreamingResponse(
        body, media_type="text/event-stream; charset=utf-8", headers={**STREAM_HEADERS, **(headers or {})}
    )


def too_large(limit: int) -> BridgeError:
    return BridgeError(
        413, f"The request body is larger than the {limit} bytes this bridge accepts.", "invalid_request_error", None, "request_too_large"
    )


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
