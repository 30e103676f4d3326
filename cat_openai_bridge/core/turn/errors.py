"""OpenAI-shaped errors: every factory, and the one mapper from any exception to an error.

Every failure a client can see is a `BridgeError`, rendered as
`{"error": {"message", "type", "param", "code"}}`, so SDKs raise their typed
exceptions instead of choking on FastAPI's `{"detail": ...}`. Handlers and
both stream encoders call `error_of`, so an exception means the same thing
wherever it surfaces, and what the Cat's model provider said reaches the
Cat's admins and the log, never an ordinary caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .port import CatFailure, CatTimeout, Forbidden, Unsupported
from .wire import WireModel


class ErrorObject(WireModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(WireModel):
    error: ErrorObject


class BridgeError(Exception):
    """An error with its HTTP status and OpenAI error object."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def wire(self) -> ErrorResponse:
        return ErrorResponse(error=ErrorObject(message=self.message, type=self.type, param=self.param, code=self.code))

    def body(self) -> dict:
        return self.wire().model_dump()


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> BridgeError:
    return BridgeError(400, message, "invalid_request_error", param, code)


def unauthorized(message: str) -> BridgeError:
    return BridgeError(401, message, "invalid_request_error", None, "invalid_api_key")


def missing_credentials(sent_authorization: bool) -> BridgeError:
    if sent_authorization:
        return unauthorized("Incorrect API key provided. Use the Cat's API key or a Cat JWT as the bearer token.")
    return unauthorized(
        "You didn't provide an API key. Send the Cat's API key or a Cat JWT in an "
        "Authorization header: 'Authorization: Bearer YOUR_KEY'."
    )


def insufficient_permissions(message: str, param: str | None = None) -> BridgeError:
    return BridgeError(403, message, "invalid_request_error", param, "insufficient_permissions")


def why_forbidden() -> BridgeError:
    return insufficient_permissions(
        "'cat_why' shows the Cat's prompts and tool results, so only the Cat's admins may ask for it.", "cat_why"
    )


def missing_user_header(header: str) -> BridgeError:
    return invalid_request(
        f"This Cat runs master-key requests as the user named by the '{header}' header (setting user_header), and "
        "this request has none. Forward it from the front end (Open WebUI: ENABLE_FORWARD_USER_INFO_HEADERS=true), "
        "or clear user_header to run master-key requests as the Cat's admin.",
        None,
        "missing_user_header",
    )


def model_not_found(model: str) -> BridgeError:
    return BridgeError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model",
        "model_not_found",
    )


def embedder_not_configured() -> BridgeError:
    """Not a 5xx: clients retry those, and no retry helps until an admin sets an embedder."""
    return BridgeError(
        400,
        "The Cat has no embedder configured, so it cannot make embeddings. An admin can choose one in the Cat's "
        "settings (Core Settings > Default Embedder, or PUT /settings/core__config__core with "
        '"default_embedder": "openai_compatible:<model>"), or start scripts/start-cat.sh with LLM_EMBEDDING_MODEL.',
        "invalid_request_error",
        "model",
        "embedder_not_configured",
    )


def wrong_dimensions(asked: int, size: int, embedder: str) -> BridgeError:
    return invalid_request(
        f"'dimensions' is {asked}, but the Cat's embedder ({embedder}) makes vectors of {size} dimensions only: "
        f"send {size} or leave it out.",
        "dimensions",
        "invalid_value",
    )


def unsupported_endpoint(what: str) -> BridgeError:
    return BridgeError(
        404, f"{what} is not available on this Cat version.", "invalid_request_error", None, "unsupported_endpoint"
    )


def too_large(limit: int) -> BridgeError:
    return BridgeError(
        413,
        f"The request body is larger than the {limit} bytes this bridge accepts.",
        "invalid_request_error",
        None,
        "request_too_large",
    )


def key_reused() -> BridgeError:
    return invalid_request(
        "This Idempotency-Key was already used with a different request body.", None, "idempotency_key_reused"
    )


def key_too_long(limit: int) -> BridgeError:
    return invalid_request(f"Idempotency-Key is longer than {limit} characters.", None, "invalid_idempotency_key")


def key_in_progress() -> BridgeError:
    return BridgeError(
        409,
        "A request with this Idempotency-Key is still running.",
        "invalid_request_error",
        None,
        "idempotency_key_in_progress",
        {"x-should-retry": "false"},
    )


def limiter_unavailable() -> BridgeError:
    return BridgeError(
        503,
        "The rate limiter's Redis is unreachable and this bridge is set to fail closed. Please retry shortly.",
        "server_error",
        None,
        "rate_limiter_unavailable",
        {"retry-after": "1"},
    )


# Raised once the Cat has started the turn (its hooks may have stored the user's
# message): SDKs must not replay it blindly. An Idempotency-Key makes retries safe.
NO_BLIND_RETRY = {"x-should-retry": "false"}


def upstream_failed(message: str) -> BridgeError:
    """The Cat (or its LLM) failed: the client gets this, never a canned answer."""
    return BridgeError(502, f"The Cat could not answer: {message}", "api_error", None, "cat_error", NO_BLIND_RETRY)


def structured_output_failed(problem: str) -> BridgeError:
    """The Cat answered, but not in the form the request demanded (JSON, its schema, a forced tool call)."""
    return BridgeError(
        502,
        f"The Cat's answer does not have the form the request asked for: {problem}",
        "api_error",
        None,
        "invalid_structured_output",
        NO_BLIND_RETRY,
    )


@dataclass
class Audience:
    """Who reads an error: the Cat's admins see what the Cat or its provider said; everyone else the request id."""

    request_id: str
    admin: bool = False
    failure: str = ""  # the Cat's failure this request was answered with ("cat_error", "timeout"), for the metrics


def cat_failed(failure: CatFailure, audience: Audience) -> BridgeError:
    if not failure.detail:
        return upstream_failed(str(failure))
    if audience.admin:
        return upstream_failed(f"{failure}: {failure.detail}")
    return upstream_failed(f"{failure}. The Cat's log has the details under request id {audience.request_id}.")


def upstream_timeout(seconds: float) -> BridgeError:
    return BridgeError(
        504, f"The Cat did not answer within {seconds:g} seconds.", "api_error", None, "timeout", NO_BLIND_RETRY
    )


def server_error() -> BridgeError:
    return BridgeError(
        500, "The bridge hit an internal error; see the Cat's log.", "server_error", None, "internal_error"
    )


def error_of(exc: BaseException, log: Callable[[str, str], None], audience: Audience) -> BridgeError:
    """Any exception as the error `audience` sees; what the Cat or its provider said is logged with the request id,
    unexpected errors are logged and never shown."""
    if isinstance(exc, BridgeError):
        if exc.code in ("cat_error", "timeout"):
            audience.failure = exc.code
        return exc
    if isinstance(exc, CatTimeout):
        audience.failure = "timeout"
        return upstream_timeout(exc.seconds)
    if isinstance(exc, CatFailure):
        audience.failure = "cat_error"
        if exc.detail:
            log("error", f"openai bridge: {audience.request_id}: {exc}: {exc.detail}")
        return cat_failed(exc, audience)
    if isinstance(exc, Forbidden):
        return insufficient_permissions(str(exc))
    if isinstance(exc, Unsupported):
        return unsupported_endpoint(str(exc))
    log("error", f"openai bridge: {audience.request_id}: unexpected {exc!r}")
    return server_error()
