"""What the bridge sends, checked against the client SDKs' own types in pydantic strict mode.

Only responses from paths containing `/custom/v1/` are OpenAI or Anthropic shapes
(`/custom/message` and `/custom/health` are the bridge's own). OpenAI's routes are checked
with openai-python's types, Anthropic's (`/v1/messages...`) with the `anthropic` SDK's. By route:

    POST .../v1/chat/completions  200 JSON: ChatCompletion; 200 SSE: every `data:` JSON a
                                  ChatCompletionChunk, or an error event `{"error": {...}}`;
                                  `data: [DONE]` ends it (nothing after it)
    POST .../v1/responses         200 JSON: Response; 200 SSE: each event's JSON one of
                                  ResponseStreamEvent, its `event:` line equal to its `type`
    POST .../v1/completions       200 JSON: Completion; 200 SSE: every `data:` JSON a Completion
                                  (`finish_reason` null until the last chunk, as OpenAI streams it),
                                  or an error event; `data: [DONE]` ends it
    POST .../v1/embeddings        200: CreateEmbeddingResponse
    POST .../v1/messages          200 JSON: anthropic Message; 200 SSE: `event:` lines equal to each
                                  JSON's type, every event a RawMessageStreamEvent, `ping` or `error`
                                  (ErrorResponse), in Anthropic's order: message_start, content blocks
                                  opened, delta'd and stopped one at a time with indices 0, 1, ...,
                                  message_delta, message_stop (or an error event, which ends it too)
    POST .../v1/messages/count_tokens  200: anthropic MessageTokensCount
    GET  .../v1/models            200: {"object": "list", "data": [Model, ...]}
    GET  .../v1/models/{id}       200: Model
    GET  .../v1/responses/{id}    200: Response; DELETE: {id, object: "response", deleted: true}
    GET  .../v1/responses/{id}/input_items  200: ResponseItemList
    any of them, 4xx/5xx          {"error": {"message", "type", "param", "code"}}, exactly those keys;
                                  on Anthropic's routes {"type": "error", "error": {"type", "message"}}
                                  (and `request_id`), an anthropic ErrorResponse

Strict mode: no coercion (a "1" is not an int, 1.0 is not an int, null is not a list); the
SDKs' models allow extra fields, so extensions such as `cat_why` pass. Every function
raises `ContractViolation` (an AssertionError) with the route, the offending JSON and the
pydantic error.

Streams are checked incrementally: `checker_for(...)` gives an object fed with the body's
bytes as they arrive; each complete SSE event is validated when its last byte is fed.
`install(on_violation)` wraps the transports of httpx, httpx2 (what openai-python >= 3 uses)
and requests (schemathesis) so every response the test process receives is checked; each
chunk goes to the reader first and is checked when the reader asks for the next one, so
checking never delays a chunk. Cat-free: imports neither the Cat nor the bridge.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import struct
import typing
import zlib
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import pydantic
from anthropic.types import Message as AnthropicMessage
from anthropic.types import MessageTokensCount, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse as AnthropicErrorResponse
from openai.types import Completion, CompletionChoice, CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_item_list import ResponseItemList
from openai.types.shared import ErrorObject

PREFIX = "/custom/v1/"
ERROR_KEYS = frozenset({"message", "type", "param", "code"})
SHOWN = 2000  # characters of offending JSON / pydantic error shown in a violation

# Responses stream events that end a stream: nothing may follow them.
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


class ContractViolation(AssertionError):
    """The bridge sent something the SDK's types reject."""

    def __init__(self, route: str, problem: str, payload: Any = None, error: Exception | None = None) -> None:
        self.route, self.problem, self.payload, self.error = route, problem, payload, error
        lines = [f"API contract violation on {route}: {problem}"]
        if payload is not None:
            shown = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=repr)
            lines.append("  sent: " + (shown if len(shown) <= SHOWN else shown[:SHOWN] + f"... ({len(shown)} chars)"))
        if error is not None:
            text = str(error)
            lines.append("  " + (text if len(text) <= SHOWN else text[:SHOWN] + "..."))
        super().__init__("\n".join(lines))


# ---- routes ---------------------------------------------------------------------------------------------------

RESPONSE_GET, RESPONSE_DELETE, RESPONSE_ITEMS = "responses.retrieve", "responses.delete", "responses.input_items"
CHAT, RESPONSES, EMBEDDINGS, MODELS, MODEL, COMPLETIONS, MESSAGES, COUNT_TOKENS, UNKNOWN = (
    "chat.completions",
    "responses",
    "embeddings",
    "models.list",
    "models.retrieve",
    "completions",
    "messages",
    "messages.count_tokens",
    "unknown",
)
_ROUTES = {
    ("POST", "chat/completions"): CHAT,
    ("POST", "responses"): RESPONSES,
    ("POST", "embeddings"): EMBEDDINGS,
    ("GET", "models"): MODELS,
    ("POST", "completions"): COMPLETIONS,
    ("POST", "messages"): MESSAGES,
    ("POST", "messages/count_tokens"): COUNT_TOKENS,
}
ANTHROPIC_ROUTES = frozenset({MESSAGES, COUNT_TOKENS})
ANTHROPIC_ERROR_KEYS = frozenset({"type", "message"})


def route_of(method: str, path: str) -> str | None:
    """Which OpenAI operation a request is: None when the path is not under /custom/v1/ (not an OpenAI shape)."""
    at = path.find(PREFIX)
    if at < 0:
        return None
    rest, method = path[at + len(PREFIX) :], method.upper()
    if method == "GET" and rest.startswith("models/") and len(rest) > len("models/"):
        return MODEL  # ids may hold "/" (the route is `models/{model_id:path}`)
    parts = rest.split("/")
    if parts[0] == "responses" and len(parts) == 2 and parts[1]:
        return {"GET": RESPONSE_GET, "DELETE": RESPONSE_DELETE}.get(method, UNKNOWN)
    if parts[0] == "responses" and len(parts) == 3 and parts[2] == "input_items" and method == "GET":
        return RESPONSE_ITEMS
    return _ROUTES.get((method, rest), UNKNOWN)


# ---- single objects --------------------------------------------------------------------------------------------


def _strict(model: Any, obj: Any, route: str, what: str) -> Any:
    try:
        return model.model_validate(obj, strict=True)
    except pydantic.ValidationError as exc:
        raise ContractViolation(route, f"not a valid {what}", obj, exc) from None


def validate_error_body(obj: Any, route: str = "error") -> ErrorObject:
    """`{"error": {"message", "type", "param", "code"}}`: exactly those keys; message and type strings,
    param and code strings or null (openai's ErrorObject)."""
    if not isinstance(obj, dict) or set(obj) != {"error"}:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise ContractViolation(route, f'an error body must be exactly {{"error": {{...}}}}, got {keys}', obj)
    error = obj["error"]
    if not isinstance(error, dict) or set(error) != ERROR_KEYS:
        keys = sorted(error) if isinstance(error, dict) else type(error).__name__
        raise ContractViolation(
            route, f"an error object must have exactly the keys {sorted(ERROR_KEYS)}, got {keys}", obj
        )
    return _strict(ErrorObject, error, route, "ErrorObject")


def validate_anthropic_error(obj: Any, route: str = "error") -> AnthropicErrorResponse:
    """`{"type": "error", "error": {"type", "message"}, "request_id"?}`: no other keys, the error's `type` one the
    anthropic SDK's ErrorObject union knows."""
    if not isinstance(obj, dict) or not {"type", "error"} <= set(obj) <= {"type", "error", "request_id"}:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise ContractViolation(route, f"an Anthropic error body has keys type, error (request_id), got {keys}", obj)
    error = obj["error"]
    if not isinstance(error, dict) or set(error) != ANTHROPIC_ERROR_KEYS:
        keys = sorted(error) if isinstance(error, dict) else type(error).__name__
        raise ContractViolation(route, f"an Anthropic error object has exactly the keys type, message, got {keys}", obj)
    return _strict(AnthropicErrorResponse, obj, route, "anthropic ErrorResponse")


def validate_chat_completion(obj: Any, route: str = CHAT) -> ChatCompletion:
    return _strict(ChatCompletion, obj, route, "ChatCompletion")


def validate_chat_chunk(obj: Any, route: str = CHAT) -> ChatCompletionChunk:
    return _strict(ChatCompletionChunk, obj, route, "ChatCompletionChunk")


def validate_response(obj: Any, route: str = RESPONSES) -> Response:
    return _strict(Response, obj, route, "Response")


def validate_completion(obj: Any, route: str = COMPLETIONS) -> Completion:
    return _strict(Completion, obj, route, "Completion")


class _StreamedCompletionChoice(CompletionChoice):
    """OpenAI streams `finish_reason: null` until the last chunk; openai-python builds chunks without validating
    them, so its type says the field is always set. Only that field is relaxed."""

    finish_reason: Literal["stop", "length", "content_filter"] | None  # type: ignore[assignment]


class CompletionChunk(Completion):
    choices: list[_StreamedCompletionChoice]  # type: ignore[assignment]


def validate_completion_chunk(obj: Any, route: str = COMPLETIONS) -> CompletionChunk:
    return _strict(CompletionChunk, obj, route, "Completion (chunk)")


def validate_anthropic_message(obj: Any, route: str = MESSAGES) -> AnthropicMessage:
    return _strict(AnthropicMessage, obj, route, "anthropic Message")


def validate_token_count(obj: Any, route: str = COUNT_TOKENS) -> MessageTokensCount:
    return _strict(MessageTokensCount, obj, route, "anthropic MessageTokensCount")


_ANTHROPIC_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)


def validate_anthropic_event(obj: Any, event: str | None, route: str = MESSAGES) -> Any:
    """One Messages stream event, sent with an `event:` line equal to its `type`: a RawMessageStreamEvent,
    `{"type": "ping"}`, or an `error` event (an ErrorResponse). Returns the event's type."""
    kind = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(kind, str):
        raise ContractViolation(route, "an Anthropic stream event needs a string `type`", obj)
    if event != kind:
        raise ContractViolation(route, f"SSE `event: {event}` line does not match the JSON type {kind!r}", obj)
    if kind == "ping":
        if obj != {"type": "ping"}:
            raise ContractViolation(route, 'a ping event is exactly {"type": "ping"}', obj)
        return obj
    if kind == "error":
        return validate_anthropic_error(obj, route)
    try:
        parsed = _ANTHROPIC_EVENTS.validate_python(obj, strict=True)
    except pydantic.ValidationError as exc:
        raise ContractViolation(route, f"not a valid RawMessageStreamEvent ({kind})", obj, exc) from None
    if getattr(parsed, "type", None) != kind:
        raise ContractViolation(route, f"validated as {type(parsed).__name__}, not as a {kind!r} event", obj)
    return parsed


_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)


def _event_classes() -> dict[str, Any]:
    """type literal -> member of the ResponseStreamEvent union, to give a focused error for a bad event."""
    union = ResponseStreamEvent
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    classes = {}
    for member in typing.get_args(union):
        field = getattr(member, "model_fields", {}).get("type")
        for literal in typing.get_args(field.annotation) if field else ():
            classes[literal] = member
    return classes


_EVENT_CLASSES = _event_classes()


def validate_response_event(obj: Any, event: str | None, route: str = RESPONSES) -> Any:
    """One Responses stream event: a member of openai's ResponseStreamEvent union (a TypeAdapter, strict),
    sent with an `event:` line equal to its `type`."""
    kind = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(kind, str):
        raise ContractViolation(route, "a Responses stream event needs a string `type`", obj)
    if event != kind:
        raise ContractViolation(route, f"SSE `event: {event}` line does not match the JSON type {kind!r}", obj)
    try:
        parsed = _EVENTS.validate_python(obj, strict=True)
    except pydantic.ValidationError as exc:
        member = _EVENT_CLASSES.get(kind)
        if member is None:
            raise ContractViolation(route, f"{kind!r} is not a ResponseStreamEvent type", obj) from None
        _strict(member, obj, route, f"{member.__name__} ({kind})")  # the member's own error, not 50 union branches'
        raise ContractViolation(route, f"not a valid ResponseStreamEvent ({kind})", obj, exc) from None
    if getattr(parsed, "type", None) != kind:
        raise ContractViolation(route, f"validated as {type(parsed).__name__}, not as a {kind!r} event", obj)
    return parsed


def _floats_of_base64(value: str) -> list[float]:
    raw = base64.b64decode(value, validate=True)
    if len(raw) % 4:
        raise ValueError(f"{len(raw)} bytes is not a whole number of float32s")
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def validate_embeddings(
    obj: Any, route: str = EMBEDDINGS, encoding_format: str | None = None
) -> CreateEmbeddingResponse:
    """CreateEmbeddingResponse. With `encoding_format: "base64"` OpenAI sends each `embedding` as a base64
    string of little-endian float32s, while openai's type says `List[float]` (the SDK decodes it before
    parsing): such a string is decoded and the object validated with the float list in its place.
    `encoding_format` is what the request asked for when known: a string for a float request, or a list for
    a base64 one, is then a violation too."""
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        items = []
        for item in obj["data"]:
            vector = item.get("embedding") if isinstance(item, dict) else None
            if isinstance(vector, str):
                if encoding_format not in (None, "base64"):
                    raise ContractViolation(
                        route, f"a base64 `embedding` string for encoding_format {encoding_format!r}", obj
                    )
                try:
                    item = {**item, "embedding": _floats_of_base64(vector)}
                except (binascii.Error, ValueError) as exc:
                    raise ContractViolation(route, f"`embedding` is not base64 float32s: {exc}", obj) from None
            elif isinstance(vector, list) and encoding_format == "base64":
                raise ContractViolation(route, "a float list `embedding` for encoding_format 'base64'", obj)
            items.append(item)
        obj = {**obj, "data": items}
    return _strict(CreateEmbeddingResponse, obj, route, "CreateEmbeddingResponse")


class ModelList(pydantic.BaseModel):
    """`GET /v1/models`: openai-python reads it as a page of `Model`s; it has no type of its own for the body."""

    model_config = pydantic.ConfigDict(extra="allow")
    object: Literal["list"]
    data: list[Model]


def validate_model_list(obj: Any, route: str = MODELS) -> ModelList:
    return _strict(ModelList, obj, route, "model list ({object: 'list', data: [Model]})")


def validate_model(obj: Any, route: str = MODEL) -> Model:
    return _strict(Model, obj, route, "Model")


class ResponseDeleted(pydantic.BaseModel):
    """`DELETE /v1/responses/{id}`: openai-python discards the body; the API reference documents this one."""

    model_config = pydantic.ConfigDict(extra="forbid")
    id: str
    object: Literal["response"]
    deleted: Literal[True]


def validate_response_deleted(obj: Any, route: str = RESPONSE_DELETE) -> ResponseDeleted:
    return _strict(ResponseDeleted, obj, route, "{id, object: 'response', deleted: true}")


def validate_input_items(obj: Any, route: str = RESPONSE_ITEMS) -> ResponseItemList:
    return _strict(ResponseItemList, obj, route, "ResponseItemList")


_BODIES: dict[str, Callable[[Any, str], Any]] = {
    CHAT: validate_chat_completion,
    RESPONSES: validate_response,
    RESPONSE_GET: validate_response,
    RESPONSE_DELETE: validate_response_deleted,
    RESPONSE_ITEMS: validate_input_items,
    MODELS: validate_model_list,
    MODEL: validate_model,
    COMPLETIONS: validate_completion,
    MESSAGES: validate_anthropic_message,
    COUNT_TOKENS: validate_token_count,
}


def validate_json(route: str, status: int, obj: Any, where: str = "", request_json: Any = None) -> Any:
    """A whole JSON body from `route` (see `route_of`) with HTTP `status`."""
    label = where or route
    if status >= 400:
        return (validate_anthropic_error if route in ANTHROPIC_ROUTES else validate_error_body)(obj, label)
    if route == EMBEDDINGS:
        encoding = request_json.get("encoding_format") if isinstance(request_json, dict) else None
        return validate_embeddings(obj, label, encoding if isinstance(encoding, str) else None)
    if route in _BODIES:
        return _BODIES[route](obj, label)
    raise ContractViolation(
        label, f"status {status} from a path with no API contract here (add the route to testkit/contract.py)", obj
    )


# ---- streams --------------------------------------------------------------------------------------------------


class SSEParser:
    """Incremental server-sent events: bytes in, complete `(event name or None, data)` events out."""

    def __init__(self, route: str) -> None:
        self.route = route
        self._rest = b""
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        events = []
        for raw in lines:
            try:
                line = raw[:-1].decode() if raw.endswith(b"\r") else raw.decode()
            except UnicodeDecodeError as exc:
                raise ContractViolation(self.route, f"SSE line is not UTF-8: {exc}", repr(raw)) from None
            if line == "":
                if self._data:
                    events.append((self._event, "\n".join(self._data)))
                self._data, self._event = [], None
            elif line.startswith(":"):
                continue  # a comment (the bridge's heartbeat `: ping`)
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    self._data.append(value)
                elif field == "event":
                    self._event = value
                elif field not in ("id", "retry"):
                    raise ContractViolation(self.route, f"unexpected SSE line {line!r}")
        return events

    def finish(self) -> None:
        if self._rest or self._data:
            raise ContractViolation(
                self.route,
                "the stream ended inside an event",
                (self._rest.decode(errors="replace") + "\n".join(self._data)),
            )


class _Checker:
    """Fed a body's bytes as they arrive; `finish()` when the body ended cleanly."""

    def feed(self, chunk: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


class JSONChecker(_Checker):
    def __init__(self, route: str, status: int, where: str, request_json: Any = None) -> None:
        self.route, self.status, self.where, self.request_json = route, status, where, request_json
        self._body = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._body += chunk  # a copy for checking at the end; the reader already has the bytes

    def finish(self) -> None:
        try:
            obj = json.loads(bytes(self._body))
        except ValueError as exc:
            raise ContractViolation(
                self.where, f"body is not JSON: {exc}", bytes(self._body[:SHOWN]).decode(errors="replace")
            ) from None
        validate_json(self.route, self.status, obj, self.where, self.request_json)


class ChatStreamChecker(_Checker):
    """Chat Completions (and legacy completions) SSE: `data:` chunks or one error event, then `data: [DONE]`
    (OpenAI sends no `event:`)."""

    def __init__(self, where: str, validate_chunk: Callable[[Any, str], Any] = validate_chat_chunk) -> None:
        self.where = where
        self.validate_chunk = validate_chunk
        self.parser = SSEParser(where)
        self.events = 0
        self.done = self.errored = False

    def feed(self, chunk: bytes) -> None:
        for event, data in self.parser.feed(chunk):
            self.events += 1
            where = f"{self.where} event #{self.events}"
            if self.done:
                raise ContractViolation(where, "an event after `data: [DONE]`", data)
            if event is not None:
                raise ContractViolation(where, f"a Chat Completions stream has no `event:` lines, got {event!r}", data)
            if data == "[DONE]":
                self.done = True
                continue
            obj = _json_event(where, data)
            if isinstance(obj, dict) and obj.get("error"):  # what openai-python raises an APIError for
                validate_error_body(obj, where)
                self.errored = True
            else:
                self.validate_chunk(obj, where)

    def finish(self) -> None:
        self.parser.finish()
        if not (self.done or self.errored):
            raise ContractViolation(self.where, "the stream ended without `data: [DONE]` or an error event")


class ResponsesStreamChecker(_Checker):
    """Responses SSE: typed events (`event: <type>` + `data: {...}`) up to a terminal one; no `[DONE]`."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.parser = SSEParser(where)
        self.events = 0
        self.ended: str | None = None

    def feed(self, chunk: bytes) -> None:
        for event, data in self.parser.feed(chunk):
            self.events += 1
            where = f"{self.where} event #{self.events}"
            if self.ended:
                raise ContractViolation(where, f"an event after the terminal {self.ended!r}", data)
            if data == "[DONE]":
                raise ContractViolation(where, "a Responses stream ends with its terminal event, not `[DONE]`", data)
            parsed = validate_response_event(_json_event(where, data), event, where)
            if parsed.type in TERMINAL_EVENTS:
                self.ended = parsed.type

    def finish(self) -> None:
        self.parser.finish()
        if not self.ended:
            raise ContractViolation(self.where, f"the stream ended without a terminal event {sorted(TERMINAL_EVENTS)}")


class AnthropicStreamChecker(_Checker):
    """Messages SSE: typed events in Anthropic's order, ending with `message_stop` or an `error` event."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.parser = SSEParser(where)
        self.events = 0
        self.started = False
        self.block: int | None = None  # the content block open now
        self.blocks = 0  # content blocks opened so far
        self.delta_seen = False
        self.ended: str | None = None

    def feed(self, chunk: bytes) -> None:
        for event, data in self.parser.feed(chunk):
            self.events += 1
            where = f"{self.where} event #{self.events}"
            if self.ended:
                raise ContractViolation(where, f"an event after the terminal {self.ended!r}", data)
            obj = _json_event(where, data)
            validate_anthropic_event(obj, event, where)
            self._follow(obj, where)

    def _follow(self, obj: dict, where: str) -> None:  # noqa: C901 (one state machine, read top to bottom)
        kind = obj["type"]
        if kind == "error" or kind == "ping":
            self.ended = "error" if kind == "error" else None
            return
        if not self.started and kind != "message_start":
            raise ContractViolation(where, f"{kind!r} before message_start", obj)
        if kind == "message_start":
            if self.started:
                raise ContractViolation(where, "a second message_start", obj)
            self.started = True
        elif kind == "content_block_start":
            if self.block is not None or self.delta_seen or obj["index"] != self.blocks:
                raise ContractViolation(where, f"content block {obj['index']} opened out of order", obj)
            self.block, self.blocks = obj["index"], self.blocks + 1
        elif kind in ("content_block_delta", "content_block_stop"):
            if self.block is None or obj["index"] != self.block:
                raise ContractViolation(where, f"{kind} for block {obj['index']}, which is not open", obj)
            if kind == "content_block_stop":
                self.block = None
        elif kind == "message_delta":
            if self.block is not None or self.delta_seen:
                raise ContractViolation(where, "message_delta while a block is open, or twice", obj)
            self.delta_seen = True
        elif kind == "message_stop":
            if not self.delta_seen:
                raise ContractViolation(where, "message_stop without a message_delta (no stop_reason)", obj)
            self.ended = kind

    def finish(self) -> None:
        self.parser.finish()
        if not self.ended:
            raise ContractViolation(self.where, "the stream ended without message_stop or an error event")


class Rejected(_Checker):
    """A response that can't be right whatever its body: reported once the body was read."""

    def __init__(self, violation: ContractViolation) -> None:
        self.violation = violation

    def feed(self, chunk: bytes) -> None:
        pass

    def finish(self) -> None:
        raise self.violation


def _json_event(where: str, data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ContractViolation(where, f"event data is not JSON: {exc}", data) from None


def checker_for(
    method: str, path: str, status: int, content_type: str | None, request_json: Any = None
) -> _Checker | None:
    """What to check a response's body with; None when it is not an OpenAI response (outside /custom/v1/,
    HEAD/OPTIONS, 1xx/3xx, 204)."""
    route = route_of(method, path)
    if route is None or method.upper() in ("HEAD", "OPTIONS") or status < 200 or 300 <= status < 400 or status == 204:
        return None
    where = f"{method.upper()} {path} -> {status}"
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "text/event-stream":
        if status == 200 and route == CHAT:
            return ChatStreamChecker(where)
        if status == 200 and route == COMPLETIONS:
            return ChatStreamChecker(where, validate_completion_chunk)
        if status == 200 and route == MESSAGES:
            return AnthropicStreamChecker(where)
        if status == 200 and route == RESPONSES:
            return ResponsesStreamChecker(where)
        return Rejected(ContractViolation(where, "an event stream where the API sends JSON"))
    if media == "application/json":
        return JSONChecker(route, status, where, request_json)
    return Rejected(ContractViolation(where, f"content-type {content_type!r}: OpenAI sends JSON (or SSE)"))


# ---- the hook on HTTP clients -----------------------------------------------------------------------------------

# on_violation(violation, raising): record it; raise (inside the reader) when `raising`. Not raising when a
# response is being closed: the reader stopped, and an exception from close() would hide what it was doing.
OnViolation = Callable[[ContractViolation, bool], None]


class _Guard:
    """One response: its checker, the content decoding below it, and the first violation only."""

    def __init__(
        self, checker: _Checker, on_violation: OnViolation, where: str, content_encoding: str | None = None
    ) -> None:
        self.checker, self.on_violation, self.where = checker, on_violation, where
        self.failed = self.finished = False
        encoding = (content_encoding or "identity").strip().lower()
        self.decoder: Any = None
        if encoding == "gzip":
            self.decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self.decoder = zlib.decompressobj()
        elif encoding != "identity":
            self.checker = Rejected(ContractViolation(where, f"can't check a body with content-encoding {encoding!r}"))

    def _run(self, step: Callable[[], None], raising: bool) -> None:
        if self.failed:
            return
        try:
            step()
        except ContractViolation as violation:
            self.failed = True
            self.on_violation(violation, raising)
        except Exception as exc:  # the checker's own failure (e.g. zlib): still a body we could not check
            self.failed = True
            self.on_violation(ContractViolation(self.where, f"could not check the body: {exc!r}"), raising)

    def feed(self, chunk: bytes, raising: bool) -> None:
        self._run(lambda: self.checker.feed(self.decoder.decompress(chunk) if self.decoder else chunk), raising)

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True

        def end() -> None:
            if self.decoder:
                self.checker.feed(self.decoder.flush())
            self.checker.finish()

        self._run(end, True)


class _HoldsLastChunk:
    """The chunk last handed to the reader, checked when the reader comes back (or the body is closed)."""

    _guard: _Guard
    _pending: Any

    def _flush(self, raising: bool) -> None:
        chunk, self._pending = self._pending, None
        if chunk is not None:
            self._guard.feed(chunk, raising)


class _CheckedSyncStream(_HoldsLastChunk):
    """Mixed with the client module's SyncByteStream (httpx checks isinstance). Each chunk is yielded before
    it is checked: it is checked when the reader asks for the next one, or when the response is closed."""

    def __init__(self, inner: Any, guard: _Guard) -> None:
        self._inner, self._guard, self._pending = inner, guard, None

    def __iter__(self) -> Any:
        # A reader may iterate the stream more than once (openai-python breaks out at [DONE], then drains the
        # rest with a new loop): the chunk given to an abandoned loop is checked by the next one.
        self._flush(raising=True)
        for chunk in self._inner:
            self._pending = chunk
            yield chunk
            self._flush(raising=True)
        self._flush(raising=True)
        self._guard.finish()

    def close(self) -> None:
        try:
            self._flush(raising=False)
        finally:
            self._inner.close()


class _CheckedAsyncStream(_HoldsLastChunk):
    def __init__(self, inner: Any, guard: _Guard) -> None:
        self._inner, self._guard, self._pending = inner, guard, None

    async def __aiter__(self) -> Any:
        self._flush(raising=True)  # (see _CheckedSyncStream)
        async for chunk in self._inner:
            self._pending = chunk
            yield chunk
            self._flush(raising=True)
        self._flush(raising=True)
        self._guard.finish()

    async def aclose(self) -> None:
        try:
            self._flush(raising=False)
        finally:
            await self._inner.aclose()


def _json_or_none(body: Any) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, TypeError):
        return None


def _httpx_request_json(request: Any) -> Any:
    try:
        return _json_or_none(request.content)  # (a streamed request body was not read: None)
    except Exception:
        return None


def _guard_for(
    method: str,
    path: str,
    status: int,
    headers: Any,
    request_json: Callable[[], Any],
    on_violation: OnViolation,
    decoded: bool,
) -> _Guard | None:
    route = route_of(method, path)
    checker = checker_for(
        method, path, status, headers.get("content-type"), request_json() if route == EMBEDDINGS else None
    )
    if checker is None:
        return None
    return _Guard(
        checker, on_violation, f"{method} {path} -> {status}", None if decoded else headers.get("content-encoding")
    )


def _patch_httpx(module: Any, on_violation: OnViolation, undo: list[Callable[[], None]]) -> None:
    sync_stream = type("ContractCheckedStream", (_CheckedSyncStream, module.SyncByteStream), {})
    async_stream = type("ContractCheckedAsyncStream", (_CheckedAsyncStream, module.AsyncByteStream), {})
    sync_cls, async_cls = module.HTTPTransport, module.AsyncHTTPTransport
    sync_orig, async_orig = sync_cls.handle_request, async_cls.handle_async_request

    def guard_of(request: Any, response: Any) -> Any:
        return _guard_for(
            request.method,
            request.url.path,
            response.status_code,
            response.headers,
            lambda: _httpx_request_json(request),
            on_violation,
            decoded=False,
        )

    def handle_request(self: Any, request: Any) -> Any:
        response = sync_orig(self, request)
        guard = guard_of(request, response)
        if guard is not None:
            response.stream = sync_stream(response.stream, guard)
        return response

    async def handle_async_request(self: Any, request: Any) -> Any:
        response = await async_orig(self, request)
        guard = guard_of(request, response)
        if guard is not None:
            response.stream = async_stream(response.stream, guard)
        return response

    sync_cls.handle_request, async_cls.handle_async_request = handle_request, handle_async_request

    def restore() -> None:
        sync_cls.handle_request, async_cls.handle_async_request = sync_orig, async_orig

    undo.append(restore)


class _CheckedRaw(_HoldsLastChunk):
    """requests' `response.raw` (a urllib3 response), reads checked. requests and schemathesis read it decoded
    (`decode_content=True`), so the guard sees the body's own bytes."""

    def __init__(self, raw: Any, guard: _Guard) -> None:
        self._raw, self._guard, self._pending = raw, guard, None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        self._flush(raising=True)
        for chunk in self._raw.stream(*args, **kwargs):
            self._pending = chunk
            yield chunk
            self._flush(raising=True)
        self._flush(raising=True)
        self._guard.finish()

    def _read(self, method: str, amt: Any, *args: Any, **kwargs: Any) -> bytes:
        self._flush(raising=True)
        data = getattr(self._raw, method)(amt, *args, **kwargs)
        self._pending = data or None
        if amt is None or not data:  # the whole rest, or the end
            self._flush(raising=True)
            self._guard.finish()
        return data

    def read(self, amt: Any = None, *args: Any, **kwargs: Any) -> bytes:
        return self._read("read", amt, *args, **kwargs)

    def read1(self, amt: Any = None, *args: Any, **kwargs: Any) -> bytes:
        return self._read("read1", amt, *args, **kwargs)

    def close(self) -> None:
        try:
            self._flush(raising=False)
        finally:
            self._raw.close()


def _patch_requests(on_violation: OnViolation, undo: list[Callable[[], None]]) -> None:
    try:
        adapters = importlib.import_module("requests.adapters")
    except ImportError:
        return
    original = adapters.HTTPAdapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        guard = _guard_for(
            request.method or "GET",
            unquote(urlsplit(request.url).path),
            response.status_code,
            response.headers,
            lambda: _json_or_none(request.body),
            on_violation,
            decoded=True,
        )
        if guard is not None and response.raw is not None:
            response.raw = _CheckedRaw(response.raw, guard)
        return response

    adapters.HTTPAdapter.send = send

    def restore() -> None:
        adapters.HTTPAdapter.send = original

    undo.append(restore)


def warm_up() -> None:
    """The SDKs' models build their validators on first use (defer_build): build them now, not inside a stream."""
    for model in (
        ChatCompletion,
        ChatCompletionChunk,
        Response,
        CreateEmbeddingResponse,
        Model,
        ModelList,
        ErrorObject,
        Completion,
        CompletionChunk,
        AnthropicMessage,
        MessageTokensCount,
        AnthropicErrorResponse,
    ):
        try:
            model.model_validate({}, strict=True)
        except pydantic.ValidationError:
            pass
    for adapter in (_EVENTS, _ANTHROPIC_EVENTS):
        try:
            adapter.validate_python({}, strict=True)
        except pydantic.ValidationError:
            pass


def install(on_violation: OnViolation) -> Callable[[], None]:
    """Check every response the HTTP clients in this process receive (httpx, httpx2, requests); returns undo."""
    warm_up()
    undo: list[Callable[[], None]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        _patch_httpx(module, on_violation, undo)
    _patch_requests(on_violation, undo)

    def uninstall() -> None:
        for restore in reversed(undo):
            restore()

    return uninstall
