"""The Anthropic dialect: `x-api-key`, `anthropic-ratelimit-*` headers, and errors in Anthropic's shape.

Error `type`s are only those the `anthropic` SDK knows, so a typed client parses every one.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from starlette.requests import Request
from starlette.responses import Response

from ...guards.quota import RateLimited, Verdict
from ...http import openapi
from ...http.dialect import Dialect
from ...http.edge import json_response
from ...turn.errors import BridgeError, unauthorized
from .protocol import ErrorObject, ErrorResponse

# HTTP status -> Anthropic error type; any other 4xx is the client's request (409, an Idempotency-Key still in use,
# and 413 have no type of their own in the SDK), any other 5xx an `api_error`.
TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


# /docs: the same error responses in Anthropic's shape (its `type` has a default, and is always sent).
ERROR_SCHEMA = {**openapi.schema_of(ErrorResponse, "serialization"), "required": ["type", "error"]}
ERRORS = {
    **{status: openapi.error_doc(shown["description"], ERROR_SCHEMA) for status, shown in openapi.ERRORS.items()},
    400: openapi.error_doc("The request is invalid; the message names the field.", ERROR_SCHEMA),
    401: openapi.error_doc("Missing or wrong x-api-key / bearer token.", ERROR_SCHEMA),
}


def error_body(error: BridgeError, request_id: str | None = None) -> ErrorResponse:
    kind = TYPES.get(error.status, "invalid_request_error" if error.status < 500 else "api_error")
    extra = {"request_id": request_id} if request_id else {}
    return ErrorResponse(error=ErrorObject(type=kind, message=error.message), **extra)


class AnthropicDialect(Dialect):
    key_header = "x-api-key"

    def request_headers(self, request_id: str) -> dict[str, str]:
        return {"request-id": request_id, "x-request-id": request_id}

    def missing_credentials(self, request: Request) -> BridgeError:
        if request.headers.get("authorization") or request.headers.get("x-api-key"):
            return unauthorized("invalid x-api-key: use the Cat's API key or a Cat JWT.")
        return unauthorized("x-api-key header is required: send the Cat's API key (or a Cat JWT as a bearer token).")

    def limit_headers(self, verdict: Verdict) -> dict[str, str]:
        """Anthropic's reset is the moment the quota is full again, in RFC 3339."""
        now = datetime.now(timezone.utc)
        return verdict.headers(
            "anthropic-ratelimit-{unit}-{what}",
            lambda window: (now + timedelta(seconds=math.ceil(window.reset_seconds))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def error_response(self, error: BridgeError, headers: dict[str, str]) -> Response:
        extra = self.limit_headers(error.verdict) if isinstance(error, RateLimited) else error.headers
        return json_response(error_body(error, headers.get("request-id")), error.status, {**headers, **extra})


ANTHROPIC = AnthropicDialect()
