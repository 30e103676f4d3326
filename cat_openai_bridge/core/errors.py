"""OpenAI-shaped errors.

Every failure a client can see is a `BridgeError`, rendered as
`{"error": {"message", "type", "param", "code"}}`, so SDKs raise their typed
exceptions instead of choking on FastAPI's `{"detail": ...}`.
"""

from __future__ import annotations

from typing import Dict, Optional


class BridgeError(Exception):
    """An error with its HTTP status and OpenAI error object."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: Optional[str] = None,
        code: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid_request(message: str, param: Optional[str] = None, code: Optional[str] = None) -> BridgeError:
    return BridgeError(400, message, "invalid_request_error", param, code)


def unauthorized(message: str) -> BridgeError:
    return BridgeError(401, message, "invalid_request_error", None, "invalid_api_key")


def model_not_found(model: str) -> BridgeError:
    return BridgeError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model",
        "model_not_found",
    )


# Raised once the Cat has started the turn (its hooks may have stored the user's
# message): SDKs must not replay it blindly. An Idempotency-Key makes retries safe.
NO_BLIND_RETRY = {"x-should-retry": "false"}


def upstream_failed(message: str) -> BridgeError:
    """The Cat (or its LLM) failed: the client gets this, never a canned answer."""
    return BridgeError(502, f"The Cat could not answer: {message}", "api_error", None, "cat_error", NO_BLIND_RETRY)


def upstream_timeout(seconds: float) -> BridgeError:
    return BridgeError(
        504, f"The Cat did not answer within {seconds:g} seconds.", "api_error", None, "timeout", NO_BLIND_RETRY
    )


def server_error() -> BridgeError:
    return BridgeError(
        500, "The bridge hit an internal error; see the Cat's log.", "server_error", None, "internal_error"
    )
