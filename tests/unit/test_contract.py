"""testkit/contract.py: openai-python's types, strictly, accept OpenAI's shapes and reject drifts."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from testkit import contract
from testkit.contract import ContractViolation

ERROR = {"error": {"message": "Bad.", "type": "invalid_request_error", "param": None, "code": None}}
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "cheshire-cat",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": "Meow", "refusal": None},
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    "system_fingerprint": None,
    "cat_why": {"memory": []},  # an extension: openai's models allow extra fields
}
CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "cheshire-cat",
    "choices": [{"index": 0, "delta": {"content": "Me"}, "finish_reason": None, "logprobs": None}],
}
USAGE_CHUNK = {**CHUNK, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
MESSAGE_ITEM = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Meow", "annotations": []}],
}
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1700000000,
    "status": "completed",
    "model": "cheshire-cat",
    "output": [MESSAGE_ITEM],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "metadata": {},
    "temperature": None,
    "top_p": None,
    "text": {"format": {"type": "text"}},
    "truncation": "disabled",
    "usage": {
        "input_tokens": 3,
        "output_tokens": 1,
        "total_tokens": 4,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    },
}
EMBEDDINGS = {
    "object": "list",
    "model": "cheshire-cat",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0, 2]}],
}
MODEL = {"id": "cheshire-cat", "object": "model", "created": 1700000000, "owned_by": "cheshire-cat"}


def with_(obj: dict, path: tuple, value) -> dict:
    """A deep copy of obj with obj[path...] = value (value `...` deletes it)."""
    out = copy.deepcopy(obj)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


def sse(*events: tuple) -> bytes:
    out = b""
    for event in events:
        name, data = event if isinstance(event, tuple) else (None, event)
        text = data if isinstance(data, str) else json.dumps(data)
        out += (f"event: {name}\n" if name else "").encode() + f"data: {text}\n\n".encode()
    return out


def responses_events(final: dict = RESPONSE) -> list[tuple[str, dict]]:
    in_progress = {**final, "status": "in_progress", "output": [], "usage": None}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    kinds = [
        ("response.created", {"response": in_progress}),
        ("response.in_progress", {"response": in_progress}),
        (
            "response.output_item.added",
            {"output_index": 0, "item": {**MESSAGE_ITEM, "status": "in_progress", "content": []}},
        ),
        ("response.content_part.added", {**where, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ("response.output_text.delta", {**where, "delta": "Meow", "logprobs": []}),
        ("response.output_text.done", {**where, "text": "Meow", "logprobs": []}),
        ("response.content_part.done", {**where, "part": MESSAGE_ITEM["content"][0]}),
        ("response.output_item.done", {"output_index": 0, "item": MESSAGE_ITEM}),
        ("response.completed", {"response": final}),
    ]
    return [(kind, {"type": kind, "sequence_number": n, **fields}) for n, (kind, fields) in enumerate(kinds)]


def feed_bytewise(checker, body: bytes) -> None:
    """Byte by byte: events split anywhere must still be found whole."""
    for i in range(len(body)):
        checker.feed(body[i : i + 1])
    checker.finish()


# ---- accepted -----------------------------------------------------------------------------------------------------


def test_right_shapes_pass():
    assert contract.validate_chat_completion(COMPLETION).choices[0].message.content == "Meow"
    assert contract.validate_chat_chunk(CHUNK).choices[0].delta.content == "Me"
    contract.validate_chat_chunk(USAGE_CHUNK)
    assert contract.validate_response(RESPONSE).output_text == "Meow"
    assert contract.validate_embeddings(EMBEDDINGS).data[0].embedding == [0.5, -1.0, 2.0]
    assert contract.validate_model(MODEL).id == "cheshire-cat"
    contract.validate_model_list({"object": "list", "data": [MODEL, {**MODEL, "id": "agent/x"}]})
    contract.validate_error_body(ERROR)
    contract.validate_error_body({"error": {"message": "x", "type": "server_error", "param": "model", "code": "c"}})


def test_base64_embeddings_are_validated_as_their_decoded_floats():
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
    body = with_(EMBEDDINGS, ("data", 0, "embedding"), packed)
    assert contract.validate_embeddings(body, encoding_format="base64").data[0].embedding == [0.5, -1.0, 2.0]
    assert contract.validate_embeddings(body).data[0].embedding == [0.5, -1.0, 2.0]  # request unknown
    with pytest.raises(ContractViolation, match="not base64 float32s"):
        contract.validate_embeddings(with_(EMBEDDINGS, ("data", 0, "embedding"), "AAAA!"))
    with pytest.raises(ContractViolation, match="not base64 float32s"):
        contract.validate_embeddings(with_(EMBEDDINGS, ("data", 0, "embedding"), base64.b64encode(b"abc").decode()))
    with pytest.raises(ContractViolation, match="for encoding_format 'float'"):
        contract.validate_embeddings(body, encoding_format="float")
    with pytest.raises(ContractViolation, match="float list"):
        contract.validate_embeddings(EMBEDDINGS, encoding_format="base64")


def test_routes():
    assert contract.route_of("POST", "/custom/v1/chat/completions") == contract.CHAT
    assert contract.route_of("post", "/custom/v1/responses") == contract.RESPONSES
    assert contract.route_of("POST", "/custom/v1/embeddings") == contract.EMBEDDINGS
    assert contract.route_of("GET", "/custom/v1/models") == contract.MODELS
    assert contract.route_of("GET", "/custom/v1/models/agent/with/slashes") == contract.MODEL
    assert contract.route_of("GET", "/custom/v1/chat/completions") == contract.UNKNOWN
    for path in ("/custom/message", "/custom/health", "/v1/chat/completions", "/custom/probe/stats"):
        assert contract.route_of("POST", path) is None
        assert contract.checker_for("POST", path, 200, "text/plain") is None
    assert contract.checker_for("OPTIONS", "/custom/v1/models", 200, "text/plain") is None
    assert contract.checker_for("GET", "/custom/v1/models", 307, None) is None


# ---- rejected -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "validate,obj",
    [
        (contract.validate_chat_chunk, with_(CHUNK, ("object",), "chat.completion")),
        (contract.validate_chat_chunk, with_(CHUNK, ("created",), "1700000000")),  # strict: no str -> int
        (contract.validate_chat_chunk, with_(CHUNK, ("created",), 1700000000.0)),  # strict: no float -> int
        (contract.validate_chat_chunk, with_(CHUNK, ("choices",), None)),
        (contract.validate_chat_chunk, with_(CHUNK, ("choices", 0, "finish_reason"), "done")),
        (contract.validate_chat_completion, with_(COMPLETION, ("object",), "chat.completion.chunk")),
        (contract.validate_chat_completion, with_(COMPLETION, ("choices", 0, "message", "role"), "cat")),
        (contract.validate_chat_completion, with_(COMPLETION, ("choices", 0, "index"), True)),  # strict: no bool -> int
        (contract.validate_chat_completion, with_(COMPLETION, ("usage", "total_tokens"), ...)),
        (contract.validate_response, with_(RESPONSE, ("output",), ...)),
        (contract.validate_response, with_(RESPONSE, ("status",), "done")),
        (contract.validate_response, with_(RESPONSE, ("output", 0, "content", 0, "type"), "text")),
        (contract.validate_response, with_(RESPONSE, ("usage", "input_tokens_details"), ...)),
        (contract.validate_embeddings, with_(EMBEDDINGS, ("data", 0, "object"), "vector")),
        (contract.validate_embeddings, with_(EMBEDDINGS, ("data", 0, "embedding", 0), "0.5")),
        (contract.validate_model, with_(MODEL, ("object",), "agent")),
        (contract.validate_model, with_(MODEL, ("created",), None)),
        (contract.validate_model_list, {"data": [MODEL]}),
        (contract.validate_model_list, {"object": "list", "data": [with_(MODEL, ("owned_by",), ...)]}),
    ],
)
def test_wrong_shapes_fail(validate, obj):
    with pytest.raises(ContractViolation, match="not a valid"):
        validate(obj)


@pytest.mark.parametrize(
    "body",
    [
        with_(ERROR, ("error", "extra"), 1),
        with_(ERROR, ("error", "param"), ...),
        {**ERROR, "detail": "x"},
        {"detail": "Not Found"},
        {"error": "Bad."},
        [ERROR],
    ],
)
def test_error_keys_are_exact(body):
    with pytest.raises(ContractViolation, match="exactly"):
        contract.validate_error_body(body)


@pytest.mark.parametrize(
    "error",
    [
        with_(ERROR, ("error", "message"), None),
        with_(ERROR, ("error", "type"), 400),
        with_(ERROR, ("error", "code"), 404),  # strict: not "404"
    ],
)
def test_error_field_types(error):
    with pytest.raises(ContractViolation, match="ErrorObject"):
        contract.validate_error_body(error)


def test_violation_names_route_json_and_pydantic_error():
    with pytest.raises(ContractViolation) as info:
        contract.validate_json(contract.CHAT, 200, with_(COMPLETION, ("created",), "soon"), "POST /custom/v1/x -> 200")
    text = str(info.value)
    assert "POST /custom/v1/x -> 200" in text and '"created": "soon"' in text and "created" in text
    assert "Input should be a valid integer" in text


def test_json_by_status_and_route():
    contract.validate_json(contract.CHAT, 200, COMPLETION)
    contract.validate_json(contract.CHAT, 404, ERROR)
    with pytest.raises(ContractViolation):
        contract.validate_json(contract.CHAT, 200, ERROR)
    with pytest.raises(ContractViolation):
        contract.validate_json(contract.MODELS, 401, {"detail": "Unauthorized"})
    with pytest.raises(ContractViolation, match="no API contract"):
        contract.validate_json(contract.UNKNOWN, 200, {})
    checker = contract.checker_for(
        "POST", "/custom/v1/embeddings", 200, "application/json; charset=utf-8", {"encoding_format": "base64"}
    )
    with pytest.raises(ContractViolation, match="float list"):
        feed_bytewise(checker, json.dumps(EMBEDDINGS).encode())
    with pytest.raises(ContractViolation, match="not JSON"):
        feed_bytewise(contract.checker_for("GET", "/custom/v1/models", 200, "application/json"), b"{")
    with pytest.raises(ContractViolation, match="content-type"):
        contract.checker_for("GET", "/custom/v1/models", 500, "text/plain").finish()
    with pytest.raises(ContractViolation, match="event stream"):
        contract.checker_for("GET", "/custom/v1/models", 200, "text/event-stream").finish()


# ---- streams ------------------------------------------------------------------------------------------------------


def chat_stream() -> contract.ChatStreamChecker:
    checker = contract.checker_for("POST", "/custom/v1/chat/completions", 200, "text/event-stream; charset=utf-8")
    assert isinstance(checker, contract.ChatStreamChecker)
    return checker


def responses_stream() -> contract.ResponsesStreamChecker:
    checker = contract.checker_for("POST", "/custom/v1/responses", 200, "text/event-stream")
    assert isinstance(checker, contract.ResponsesStreamChecker)
    return checker


def test_chat_streams_pass():
    feed_bytewise(chat_stream(), b": ping\n\n" + sse(CHUNK, CHUNK, USAGE_CHUNK, "[DONE]"))
    feed_bytewise(chat_stream(), sse(CHUNK).replace(b"\n", b"\r\n") + b"data:[DONE]\r\n\r\n")
    feed_bytewise(
        chat_stream(),
        sse(
            CHUNK, {"error": {"message": "Cat failed", "type": "server_error", "param": None, "code": "upstream_error"}}
        ),
    )


@pytest.mark.parametrize(
    "body,problem",
    [
        (sse(with_(CHUNK, ("object",), "chat.completion"), "[DONE]"), "ChatCompletionChunk"),
        (sse(CHUNK, "[DONE]", CHUNK), "after `data: \\[DONE\\]`"),
        (sse(CHUNK), "without `data: \\[DONE\\]`"),
        (sse(CHUNK, "[DONE]")[:-1], "inside an event"),
        (sse(("chunk", CHUNK), "[DONE]"), "no `event:` lines"),
        (sse("{not json", "[DONE]"), "not JSON"),
        (sse({"error": {"message": "x", "type": "server_error"}}, "[DONE]"), "exactly the keys"),
        (sse(CHUNK) + b"bogus line\n\n", "unexpected SSE line"),
    ],
)
def test_chat_stream_drifts_fail(body, problem):
    with pytest.raises(ContractViolation, match=problem):
        feed_bytewise(chat_stream(), body)


def test_stream_violation_is_raised_at_the_bad_event_not_at_the_end():
    checker = chat_stream()
    checker.feed(sse(CHUNK))
    with pytest.raises(ContractViolation, match="event #2"):
        checker.feed(sse(with_(CHUNK, ("id",), None)))


def test_responses_streams_pass():
    feed_bytewise(responses_stream(), b": ping\n\n" + sse(*responses_events()))
    failed = {
        **RESPONSE,
        "status": "failed",
        "output": [],
        "error": {"code": "server_error", "message": "The Cat failed."},
    }
    feed_bytewise(
        responses_stream(),
        sse(
            *responses_events()[:2],
            ("response.failed", {"type": "response.failed", "sequence_number": 2, "response": failed}),
        ),
    )


def _mutate(events, index, path, value):
    events = copy.deepcopy(events)
    events[index] = (events[index][0], with_(events[index][1], path, value))
    return events


@pytest.mark.parametrize(
    "events,problem",
    [
        (_mutate(responses_events(), 4, ("delta",), 7), "ResponseTextDeltaEvent"),
        (_mutate(responses_events(), 4, ("sequence_number",), ...), "ResponseTextDeltaEvent"),
        (_mutate(responses_events(), 8, ("response", "output"), ...), "ResponseCompletedEvent"),
        (_mutate(responses_events(), 0, ("response", "object"), "chat.completion"), "ResponseCreatedEvent"),
        (
            [
                ("response.text.delta", with_(data, ("type",), "response.text.delta")) if i == 4 else (name, data)
                for i, (name, data) in enumerate(responses_events())
            ],
            "not a ResponseStreamEvent type",
        ),
        (
            [
                (name if i != 4 else "response.output_text.done", data)
                for i, (name, data) in enumerate(responses_events())
            ],
            "does not match",
        ),
        ([(None, data) for _, data in responses_events()], "does not match"),
        (responses_events()[:-1], "without a terminal event"),
        (responses_events() + [(None, "[DONE]")], "after the terminal"),
    ],
)
def test_responses_stream_drifts_fail(events, problem):
    with pytest.raises(ContractViolation, match=problem):
        feed_bytewise(responses_stream(), sse(*events))


def test_responses_stream_has_no_done():
    with pytest.raises(ContractViolation, match="not `\\[DONE\\]`"):
        feed_bytewise(responses_stream(), sse(*responses_events()[:2], "[DONE]"))


# ---- legacy completions and Anthropic's Messages ------------------------------------------------------------------

TEXT_COMPLETION = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1700000000,
    "model": "cheshire-cat",
    "choices": [{"text": "Meow", "index": 0, "logprobs": None, "finish_reason": "stop"}],
    "system_fingerprint": None,
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
TEXT_CHUNK = with_(with_(TEXT_COMPLETION, ("choices", 0, "finish_reason"), None), ("usage",), ...)
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "cheshire-cat",
    "content": [{"type": "text", "text": "Meow"}, {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
}
ANTHROPIC_ERROR = {"type": "error", "error": {"type": "not_found_error", "message": "No."}, "request_id": "req_1"}


def anthropic_events() -> list:
    started = {**ANTHROPIC_MESSAGE, "content": [], "stop_reason": None}
    events = [
        {"type": "message_start", "message": started},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Meow"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
        },
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 5, "input_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    return [(event["type"], event) for event in events]


def anthropic_stream() -> contract.AnthropicStreamChecker:
    checker = contract.checker_for("POST", "/custom/v1/messages", 200, "text/event-stream; charset=utf-8")
    assert isinstance(checker, contract.AnthropicStreamChecker)
    return checker


def test_completions_and_anthropic_routes():
    assert contract.route_of("POST", "/custom/v1/completions") == contract.COMPLETIONS
    assert contract.route_of("POST", "/custom/v1/messages") == contract.MESSAGES
    assert contract.route_of("POST", "/custom/v1/messages/count_tokens") == contract.COUNT_TOKENS
    contract.validate_json(contract.COMPLETIONS, 200, TEXT_COMPLETION)
    contract.validate_json(contract.COMPLETIONS, 400, ERROR)
    contract.validate_json(contract.MESSAGES, 200, ANTHROPIC_MESSAGE)
    contract.validate_json(contract.MESSAGES, 404, ANTHROPIC_ERROR)
    contract.validate_json(contract.COUNT_TOKENS, 200, {"input_tokens": 12})
    contract.validate_json(
        contract.COUNT_TOKENS, 401, {"type": "error", "error": {"type": "authentication_error", "message": "x"}}
    )
    with pytest.raises(ContractViolation, match="Anthropic error body"):
        contract.validate_json(contract.MESSAGES, 404, ERROR)  # OpenAI's shape on Anthropic's route
    with pytest.raises(ContractViolation, match="exactly the keys"):
        contract.validate_json(contract.MESSAGES, 400, with_(ANTHROPIC_ERROR, ("error", "param"), "x"))


@pytest.mark.parametrize(
    "validate,obj",
    [
        (contract.validate_completion, with_(TEXT_COMPLETION, ("object",), "chat.completion")),
        (contract.validate_completion, with_(TEXT_COMPLETION, ("choices", 0, "finish_reason"), None)),  # not a chunk
        (contract.validate_completion_chunk, with_(TEXT_CHUNK, ("choices", 0, "finish_reason"), "done")),
        (contract.validate_completion_chunk, with_(TEXT_CHUNK, ("choices", 0, "text"), None)),
        (contract.validate_anthropic_message, with_(ANTHROPIC_MESSAGE, ("stop_reason",), "stop")),
        (contract.validate_anthropic_message, with_(ANTHROPIC_MESSAGE, ("content", 1, "input"), "{}")),
        (contract.validate_anthropic_message, with_(ANTHROPIC_MESSAGE, ("usage", "input_tokens"), 3.0)),
        (contract.validate_token_count, {"input_tokens": "12"}),
        (contract.validate_anthropic_error, with_(ANTHROPIC_ERROR, ("error", "type"), "request_too_large")),
    ],
)
def test_wrong_completion_and_anthropic_shapes_fail(validate, obj):
    with pytest.raises(ContractViolation, match="not a valid"):
        validate(obj)


def test_completion_streams():
    checker = contract.checker_for("POST", "/custom/v1/completions", 200, "text/event-stream")
    feed_bytewise(checker, sse(TEXT_CHUNK, with_(TEXT_CHUNK, ("choices", 0, "finish_reason"), "length"), "[DONE]"))
    checker = contract.checker_for("POST", "/custom/v1/completions", 200, "text/event-stream")
    with pytest.raises(ContractViolation, match="Completion"):
        feed_bytewise(checker, sse(CHUNK, "[DONE]"))  # a chat chunk on the completions route


def test_anthropic_streams_pass():
    feed_bytewise(anthropic_stream(), sse(*anthropic_events()))
    error = ("error", {"type": "error", "error": {"type": "api_error", "message": "The Cat failed."}})
    feed_bytewise(anthropic_stream(), sse(*anthropic_events()[:4], error))


@pytest.mark.parametrize(
    "events,problem",
    [
        (anthropic_events()[1:], "before message_start"),
        (anthropic_events()[:-1], "without message_stop"),
        (anthropic_events() + [("ping", {"type": "ping"})], "after the terminal"),
        (anthropic_events()[:4] + anthropic_events()[5:], "opened out of order"),  # block 0 never stopped
        (_mutate(anthropic_events(), 5, ("index",), 2), "opened out of order"),
        (_mutate(anthropic_events(), 3, ("index",), 1), "not open"),
        (anthropic_events()[:8] + anthropic_events()[9:], "without a message_delta"),
        (_mutate(anthropic_events(), 3, ("delta", "type"), "input_json_delta"), "RawMessageStreamEvent"),
        (_mutate(anthropic_events(), 8, ("delta", "stop_reason"), "stop"), "RawMessageStreamEvent"),
        ([(None, data) for _, data in anthropic_events()], "does not match"),
        (_mutate(anthropic_events(), 2, ("extra",), 1), "exactly"),
        (anthropic_events()[:2] + [("error", {"type": "error", "error": {"message": "x"}})], "exactly the keys"),
    ],
)
def test_anthropic_stream_drifts_fail(events, problem):
    with pytest.raises(ContractViolation, match=problem):
        feed_bytewise(anthropic_stream(), sse(*events))


# ---- the hook on real HTTP clients ----------------------------------------------------------------------------------

BAD_CHUNK = with_(CHUNK, ("object",), "chat.completion")
ROUTES = {
    "/custom/v1/chat/completions": ("text/event-stream", sse(CHUNK, BAD_CHUNK, "[DONE]")),
    "/custom/v1/chat/completions?good": ("text/event-stream", sse(CHUNK, USAGE_CHUNK, "[DONE]")),
    "/custom/v1/models": ("application/json", json.dumps({"object": "list", "data": [MODEL]}).encode()),
    "/custom/v1/models/gpt-4o": ("application/json", json.dumps({"detail": "Not Found"}).encode()),
    "/custom/message": ("application/json", b'{"anything": "goes"}'),
}


class Canned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self) -> None:
        content_type, body = ROUTES[self.path]
        self.send_response(404 if self.path.endswith("gpt-4o") else 200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _send

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class Caught(BaseException):
    pass


@pytest.fixture
def hooked() -> Iterator[list]:
    seen: list = []

    def on_violation(violation, raising):
        seen.append((violation, raising))
        if raising:
            raise Caught(str(violation))

    uninstall = contract.install(on_violation)
    yield seen
    uninstall()


@pytest.mark.parametrize("module_name", ["httpx", "httpx2"])
def test_hook_checks_sync_clients(server, hooked, module_name):
    module = pytest.importorskip(module_name)
    with module.Client(base_url=server) as client:
        assert client.get("/custom/v1/models").status_code == 200
        assert client.post("/custom/message").json() == {"anything": "goes"}  # not an OpenAI route
        assert hooked == []
        with pytest.raises(Caught, match="detail"):
            client.get("/custom/v1/models/gpt-4o")
        with client.stream("POST", "/custom/v1/chat/completions") as response:
            with pytest.raises(Caught, match="ChatCompletionChunk"):
                for _ in response.iter_bytes():
                    pass
    assert [raising for _, raising in hooked] == [True, True]


@pytest.mark.parametrize("module_name", ["httpx", "httpx2"])
def test_hook_checks_async_clients(server, hooked, module_name):
    module = pytest.importorskip(module_name)

    async def main():
        async with module.AsyncClient(base_url=server) as client:
            assert (await client.get("/custom/v1/models")).status_code == 200
            with pytest.raises(Caught, match="ChatCompletionChunk"):
                await client.post("/custom/v1/chat/completions")

    asyncio.run(main())
    assert len(hooked) == 1


def test_hook_records_what_a_reader_closed_early_had_received(server, hooked):
    httpx = pytest.importorskip("httpx")
    with httpx.Client(base_url=server) as client:
        with client.stream("POST", "/custom/v1/chat/completions") as response:
            next(response.iter_raw())  # the whole body arrives in one read; then the reader stops
    assert len(hooked) == 1 and hooked[0][1] is False  # recorded, not raised from close()


@pytest.mark.parametrize("module_name", ["httpx", "httpx2"])
def test_hook_checks_a_chunk_left_by_one_loop_in_the_next(server, hooked, module_name):
    """openai-python breaks out at [DONE] and drains the stream in a new loop: [DONE] must still be seen."""
    module = pytest.importorskip(module_name)

    async def main():
        async with module.AsyncClient(base_url=server) as client:
            async with client.stream("POST", "/custom/v1/chat/completions?good") as response:
                async for _ in response.stream:
                    break
                async for _ in response.stream:
                    pass

    asyncio.run(main())
    with module.Client(base_url=server) as client:
        with client.stream("POST", "/custom/v1/chat/completions?good") as response:
            for _ in response.stream:
                break
            for _ in response.stream:
                pass
    assert hooked == []


def test_hook_checks_requests(server, hooked):
    requests = pytest.importorskip("requests")
    assert requests.get(server + "/custom/v1/models").json()["object"] == "list"
    with pytest.raises(Caught, match="exactly"):
        requests.get(server + "/custom/v1/models/gpt-4o")
    with pytest.raises(Caught, match="ChatCompletionChunk"):
        requests.post(server + "/custom/v1/chat/completions")


def test_uninstall_restores_clients(server):
    httpx = pytest.importorskip("httpx")
    contract.install(lambda v, raising: None)()
    assert httpx.get(server + "/custom/v1/models/gpt-4o").status_code == 404
