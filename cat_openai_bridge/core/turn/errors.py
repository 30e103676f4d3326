"""OpenAI-shaped errors (SDKs raise their typed exceptions, not choke on FastAPI's `{"detail": ...}`), and `error_of`,
the one mapper from any exception to what a client sees, wherever it surfaces."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


@dataclass(eq=False)
class BridgeError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)
        self.headers = dict(self.headers or {})

    def wire(self) -> ErrorResponse:
        return ErrorResponse(error=ErrorObject(message=self.message, type=self.type, param=self.param, code=self.code))

    def body(self) -> dict:
        return self.wire().model_dump()


@dataclass(frozen=True)
class ErrorKind:
    status: int
    code: str
    message: str
    param: str | None = None
    type: str = "invalid_request_error"
    headers: Mapping[str, str] | None = None

    def __call__(self, *args: object) -> BridgeError:
        return BridgeError(self.status, self.message.format(*args), self.type, self.param, self.code, self.headers)


NO_RETRY = {"x-should-retry": "false"}  # the SDKs would retry a 409 or a 5xx otherwise


def _cat_side(status: int, code: str, message: str) -> ErrorKind:
    """The Cat started the turn (its hooks may have stored the message): SDKs must not replay it blindly."""
    return ErrorKind(status, code, message, type="api_error", headers=NO_RETRY)


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> BridgeError:
    return BridgeError(400, message, "invalid_request_error", param, code)


def missing_credentials(sent_authorization: bool) -> BridgeError:
    if sent_authorization:
        return unauthorized("Incorrect API key provided. Use the Cat's API key or a Cat JWT as the bearer token.")
    return unauthorized(
        "You didn't provide an API key. Send the Cat's API key or a Cat JWT in an "
        "Authorization header: 'Authorization: Bearer YOUR_KEY'."
    )


unauthorized = ErrorKind(401, "invalid_api_key", "{}")  # the message is the caller's
insufficient_permissions = ErrorKind(403, "insufficient_permissions", "{}")
why_forbidden = ErrorKind(
    403,
    "insufficient_permissions",
    "'cat_why' shows the Cat's prompts and tool results, so only the Cat's admins may ask for it.",
    "cat_why",
)
missing_user_header = ErrorKind(
    400,
    "missing_user_header",
    "This Cat runs master-key requests as the user named by the '{}' header (setting user_header), and "
    "this request has none. Forward it from the front end (Open WebUI: ENABLE_FORWARD_USER_INFO_HEADERS=true); "
    "another application on the master key (n8n, a script) sends it with a user name of its own, or uses a Cat "
    "user's token instead; or clear user_header to run master-key requests as the Cat's admin.",
)
model_not_found = ErrorKind(
    404, "model_not_found", "The model `{}` does not exist or you do not have access to it.", "model"
)
# Not a 5xx: clients retry those, and no retry helps until an admin sets an embedder.
embedder_not_configured = ErrorKind(
    400,
    "embedder_not_configured",
    "The Cat has no embedder configured, so it cannot make embeddings. An admin can choose one in the Cat's "
    "settings (Core Settings > Default Embedder, or PUT /settings/core__config__core with "
    '"default_embedder": "openai_compatible:<model>"), or start scripts/start-cat.sh with LLM_EMBEDDING_MODEL.',
    "model",
)
# formatted with (asked, size, embedder)
wrong_dimensions = ErrorKind(
    400,
    "invalid_value",
    "'dimensions' is {0}, but the Cat's embedder ({2}) makes vectors of {1} dimensions only: send {1} or leave it out.",
    "dimensions",
)
unsupported_endpoint = ErrorKind(404, "unsupported_endpoint", "{} is not available on this Cat version.")
too_large = ErrorKind(413, "request_too_large", "The request body is larger than the {} bytes this bridge accepts.")
key_reused = ErrorKind(
    400, "idempotency_key_reused", "This Idempotency-Key was already used with a different request body."
)
key_too_long = ErrorKind(400, "invalid_idempotency_key", "Idempotency-Key is longer than {} characters.")
key_in_progress = ErrorKind(
    409, "idempotency_key_in_progress", "A request with this Idempotency-Key is still running.", headers=NO_RETRY
)
limiter_unavailable = ErrorKind(
    503,
    "rate_limiter_unavailable",
    "The rate limiter's Redis is unreachable and this bridge is set to fail closed. Please retry shortly.",
    type="server_error",
    headers={"retry-after": "1"},
)
# The Cat (or its LLM) failed: the client gets this, never a canned answer.
upstream_failed = _cat_side(502, "cat_error", "The Cat could not answer: {}")
# The Cat answered, but not in the form the request demanded (JSON, its schema, a forced tool call), after its
# re-ask: final. A 400 is the one status no client retries (Codex retries any 5xx and ignores x-should-retry; the
# AI SDK retries 5xx too), and the Responses stream says it as `invalid_prompt` (docs/api.md, "Final failures").
structured_output_failed = ErrorKind(
    400,
    "invalid_structured_output",
    "The Cat's answer does not have the form the request asked for: {}",
    type="api_error",
    headers=NO_RETRY,
)
upstream_timeout = _cat_side(504, "timeout", "The Cat did not answer within {:g} seconds.")
server_error = ErrorKind(
    500, "internal_error", "The bridge hit an internal error; see the Cat's log.", type="server_error"
)


@dataclass
class Audience:
    """The Cat's admins see what the Cat or its provider said (it may hold URLs, keys); others the request id."""

    request_id: str
    admin: bool = False
    failure: str = ""  # the Cat's failure this request was answered with ("cat_error", "timeout"), for the metrics


def error_of(exc: BaseException, log: Callable[[str, str], None], audience: Audience) -> BridgeError:
    if isinstance(exc, BridgeError):
        if exc.code in ("cat_error", "timeout"):
            audience.failure = exc.code
        return exc
    if isinstance(exc, CatTimeout):
        audience.failure = "timeout"
        return upstream_timeout(exc.seconds)
    if isinstance(exc, CatFailure):
        audience.failure = "cat_error"
        if not exc.detail:
            return upstream_failed(exc)
        log("error", f"openai bridge: {audience.request_id}: {exc}: {exc.detail}")
        if audience.admin:
            return upstream_failed(f"{exc}: {exc.detail}")
        return upstream_failed(f"{exc}. The Cat's log has the details under request id {audience.request_id}.")
    if isinstance(exc, Forbidden):
        return insufficient_permissions(str(exc))
    if isinstance(exc, Unsupported):
        return unsupported_endpoint(str(exc))
    log("error", f"openai bridge: {audience.request_id}: unexpected {exc!r}")
    return server_error()
