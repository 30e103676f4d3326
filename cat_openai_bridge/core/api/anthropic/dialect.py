"""The Anthropic dialect: `x-api-key`, `anthropic-ratelimit-*` headers, and errors in Anthropic's shape.

The one place a `BridgeError` becomes what an Anthropic client reads, as a
JSON body or as a stream's `error` event: `{"type": "error", "error":
{"type", "message"}}` with the same status the OpenAI routes answer. The
error `type`s are the ones the `anthropic` SDK's `ErrorObject` knows, so a
typed client parses every one of them.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from starlette.requests import Request
from starlette.responses import Response

from ...guards.quota import RateLimited, Verdict, Window
from ...http import sse
from ...http.dialect import Dialect
from ...http.edge import json_response
from ...turn.errors import BridgeError, unauthorized
from .protocol import ErrorObject, ErrorResponse

# HTTP status -> Anthropic error type. 413 has no type of its own in the SDK, 409 neither (an Idempotency-Key
# still in use): both are the client's request, as Anthropic says for any other 4xx.
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def error_type(status: int) -> str:
    return TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(error: BridgeError, request_id: str | None = None) -> ErrorResponse:
    extra = {"request_id": request_id} if request_id else {}
    return ErrorResponse(error=ErrorObject(type=error_type(error.status), message=error.message), **extra)


def error_event(error: BridgeError) -> bytes:
    """A failure after the stream started: Anthropic's `error` event, never a `message_stop`."""
    return sse.event(error_body(error), "error")


def _reset(window: Window, now: datetime) -> str:
    """Anthropic's reset is the moment the quota is full again, in RFC 3339."""
    at = now + timedelta(seconds=math.ceil(window.reset_seconds))
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def limit_headers(verdict: Verdict, now: datetime | None = None) -> dict[str, str]:
    now = now or datetime.now(timezone.utc)
    out: dict[str, str] = {}
    for name, window in (("requests", verdict.requests), ("tokens", verdict.tokens)):
        if window is not None:
            out[f"anthropic-ratelimit-{name}-limit"] = str(window.limit)
            out[f"anthropic-ratelimit-{name}-remaining"] = str(window.remaining)
            out[f"anthropic-ratelimit-{name}-reset"] = _reset(window, now)
    if not verdict.allowed:  # the SDKs read retry-after-ms first, then retry-after
        out["retry-after"] = str(max(1, math.ceil(verdict.retry_after)))
        out["retry-after-ms"] = str(max(1, math.ceil(verdict.retry_after * 1000)))
    return out


class AnthropicDialect(Dialect):
    key_header = "x-api-key"

    def request_headers(self, request_id: str) -> dict[str, str]:
        return {"request-id": request_id, "x-request-id": request_id}

    def missing_credentials(self, request: Request) -> BridgeError:
        if request.headers.get("authorization") or request.headers.get("x-api-key"):
            return unauthorized("invalid x-api-key: use the Cat's API key or a Cat JWT.")
        return unauthorized("x-api-key header is required: send the Cat's API key (or a Cat JWT as a bearer token).")

    def limit_headers(self, verdict: Verdict) -> dict[str, str]:
        return limit_headers(verdict)

    def error_response(self, error: BridgeError, headers: dict[str, str]) -> Response:
        extra = limit_headers(error.verdict) if isinstance(error, RateLimited) else error.headers
        body = error_body(error, headers.get("request-id"))
        return json_response(body, error.status, {**headers, **extra})


ANTHROPIC = AnthropicDialect()
