"""Where OpenAI's routes and Anthropic's differ on one pipeline: where the key is, limit headers, errors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..guards.quota import Verdict
from ..turn.errors import BridgeError, missing_credentials
from .edge import json_response


class Dialect:
    """OpenAI's: the key in `Authorization: Bearer`, `x-ratelimit-*` headers, `{"error": {...}}` bodies."""

    key_header: str | None = None  # a header that may carry the key instead of `Authorization`

    def request_headers(self, request_id: str) -> dict[str, str]:
        return {"x-request-id": request_id}

    def credentials(self, request: Request) -> Request:
        """`Authorization` wins; else the dialect's header becomes `Authorization: Bearer <key>`, so the Cat checks
        that key exactly as its own bearer (the body is still read from the original)."""
        key = request.headers.get(self.key_header, "") if self.key_header else ""
        return request if request.headers.get("authorization") else self.bearer(request, key)

    @staticmethod
    def bearer(request: Request, key: str) -> Request:
        """The request with `Authorization: Bearer <key>` in place of its own (if any), when there is a key."""
        if not key or not key.isascii():
            return request
        headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"authorization"]
        return Request({**request.scope, "headers": [*headers, (b"authorization", b"Bearer " + key.encode("latin-1"))]})

    def missing_credentials(self, request: Request) -> BridgeError:
        return missing_credentials(bool(request.headers.get("authorization")))

    def limit_headers(self, verdict: Verdict) -> dict[str, str]:
        return verdict.headers()

    def error_response(self, error: BridgeError, headers: dict[str, str]) -> Response:
        return json_response(error.wire(), error.status, {**headers, **error.headers})


OPENAI = Dialect()
