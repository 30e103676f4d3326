"""The Ollama dialect: errors as `{"error": "..."}`, and credentials for clients that have no key field.

Home Assistant's Ollama integration (like most Ollama clients) sends no credentials at all, and the `ollama` client
drops a URL's userinfo. So the key may also come in the URL's path, `/custom/ollama/<key>/api/...` (the base URL
such a client is given), or as basic-auth userinfo (`http://user:<key>@host/...`, for clients that send it). Either
becomes `Authorization: Bearer <key>` and is checked by the Cat exactly as its own bearer: never a default user.
The price: a key in a URL shows in access logs and proxies' logs (docs/voice-assistants.md).
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response

from ...http import openapi
from ...http.dialect import Dialect
from ...http.edge import json_response
from ...turn.errors import BridgeError, unauthorized
from .protocol import ErrorResponse

KEY = "key"  # the path parameter of `/ollama/{key}/api/...`

ERROR_SCHEMA = openapi.schema_of(ErrorResponse, "serialization")
ERRORS = {status: openapi.error_doc(shown["description"], ERROR_SCHEMA) for status, shown in openapi.ERRORS.items()}


def _basic_key(header: str) -> str:
    """The password of `Basic base64(user:password)` (or the user, when only that is given)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return ""
    return password or user


class OllamaDialect(Dialect):
    def credentials(self, request: Request) -> Request:
        """A bearer wins, then the key in the path, then basic auth's password."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return request
        return self.bearer(request, request.path_params.get(KEY) or _basic_key(header))

    def missing_credentials(self, request: Request) -> BridgeError:
        if request.path_params.get(KEY) or request.headers.get("authorization"):
            return unauthorized("Unauthorized: the key is not a credential of this Cat (its API key or a user's JWT).")
        return unauthorized(
            "Unauthorized: this Cat needs a key. Put the Cat's API key or a user's JWT in the base URL "
            "(http://host:1865/custom/ollama/<key>), or send it as a bearer token or basic-auth password."
        )

    def error_response(self, error: BridgeError, headers: dict[str, str]) -> Response:
        return json_response(ErrorResponse(error=error.message), error.status, {**headers, **(error.headers or {})})


OLLAMA = OllamaDialect()
