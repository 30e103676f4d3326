"""The one request pipeline, end to end over HTTP, against an in-process fake Cat.

A real Starlette app calls the `Bridge`'s routes; httpx drives it in process
(no Cat, no network). The limiter runs on a frozen clock, so every
`x-ratelimit-*` number is exact, and a slot is freed only by the pipeline
settling its lease (never by the lease expiring). Settings default to no
per-minute limit and a 3 s `request_timeout`, and the transports give up on
the app after 5 s, so a bridge that hangs fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
import pytest_asyncio

from cat_openai_bridge.core.config.settings import BridgeSettings
from cat_openai_bridge.core.guards.limits import Limiter
from cat_openai_bridge.core.guards.quota import window_of
from cat_openai_bridge.core.route_table import Bridge
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult

from .fake_cat import PATIENCE, BoundedTransport, FakeCat, Gate, StreamingASGITransport, app_of

pytestmark = pytest.mark.asyncio

GOOD = {"Authorization": "Bearer good"}
MASTER = {"Authorization": "Bearer master"}
REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")
DONE = b"data: [DONE]\n\n"

NO_KEY = (
    "You didn't provide an API key. Send the Cat's API key or a Cat JWT in an Authorization header: "
    "'Authorization: Bearer YOUR_KEY'."
)
BAD_KEY = "Incorrect API key provided. Use the Cat's API key or a Cat JWT as the bearer token."
INTERNAL = "The bridge hit an internal error; see the Cat's log."


def error(
    message: str, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def cat_error(message: str) -> dict[str, Any]:
    return error(f"The Cat could not answer: {message}", "api_error", None, "cat_error")


INTERNAL_ERROR = error(INTERNAL, "server_error", None, "internal_error")
CONCURRENCY = error(
    "Too many requests in flight for this user. Please retry when one has finished.",
    "requests",
    None,
    "rate_limit_exceeded",
)


def chat(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat", "messages": [{"role": "user", "content": text}], **extra}


def responses(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat", "input": text, **extra}


def embeddings(*texts: str) -> dict[str, Any]:
    return {"model": "any", "input": list(texts)}


def prompt_cost(text: str = "Hi") -> int:
    """What admission reserves for `chat(text)`: OpenAI's estimate of its prompt."""
    return tokens.count_chat([("user", text)])


def sse(raw: bytes) -> list[tuple[str, Any]]:
    """(event name, data) per event: JSON data parsed, `[DONE]` kept as is, comments skipped."""
    out: list[tuple[str, Any]] = []
    for block in raw.decode("utf-8").split("\n\n"):
        name, data = "", None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        if data is not None:
            out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


def deltas(raw: bytes) -> list[tuple[dict[str, Any], str | None]]:
    """(delta, finish_reason) of each chat chunk that has a choice."""
    return [
        (data["choices"][0]["delta"], data["choices"][0]["finish_reason"])
        for _, data in sse(raw)
        if isinstance(data, dict) and data.get("choices")
    ]


def assert_request_id(response: httpx.Response) -> str:
    request_id = response.headers.get("x-request-id", "")
    assert REQUEST_ID.fullmatch(request_id), f"no request id on a {response.status_code}: {response.headers}"
    return request_id


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(**values: Any) -> BridgeSettings:
    return BridgeSettings(**{"rate_limit_per_minute": 0, "request_timeout": 3.0, **values})


@pytest.fixture
def cat() -> FakeCat:
    return FakeCat(settings())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bridge(cat: FakeCat, clock: Clock) -> Bridge:
    return Bridge(cat, Limiter(clock=clock))


@pytest_asyncio.fixture
async def client(bridge: Bridge):
    async with httpx.AsyncClient(
        transport=BoundedTransport(httpx.ASGITransport(app=app_of(bridge))), base_url="http://bridge"
    ) as c:
        yield c


@pytest_asyncio.fixture
async def streaming(bridge: Bridge):
    """A client that reads a stream while it runs, and may leave it midway."""
    async with httpx.AsyncClient(transport=StreamingASGITransport(app_of(bridge)), base_url="http://bridge") as c:
        yield c


def limit(cat: FakeCat, **values: Any) -> None:
    cat.settings = settings(**values)


class Reader:
    """Reads a streaming response a piece at a time (httpx lets a body be iterated only once)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_raw()
        self.seen = b""

    async def until(self, needle: bytes) -> bytes:
        """Read until `needle` has arrived (and no further)."""
        async for chunk in self._chunks:
            self.seen += chunk
            if needle in self.seen:
                return self.seen
        raise AssertionError(f"the stream ended without {needle!r}: {self.seen!r}")

    async def rest(self) -> bytes:
        async for chunk in self._chunks:
            self.seen += chunk
        return self.seen


async def wait_for(condition, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")


# Auth


PROTECTED = [
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/cheshire-cat", None),
    ("POST", "/v1/chat/completions", chat()),
    ("POST", "/v1/responses", responses()),
    ("POST", "/v1/embeddings", embeddings("a")),
    ("POST", "/custom/message", {"text": "Hi"}),
]


@pytest.mark.parametrize("method,path,body", PROTECTED, ids=[p for _, p, _ in PROTECTED])
async def test_missing_or_bad_credentials_are_401_invalid_api_key(client, cat, method, path, body):
    missing = await client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.json() == error(NO_KEY, code="invalid_api_key")
    assert_request_id(missing)
    for header in ("Bearer nope", "Basic Zm9vOmJhcg=="):
        bad = await client.request(method, path, json=body, headers={"Authorization": header})
        assert bad.status_code == 401
        assert bad.json() == error(BAD_KEY, code="invalid_api_key")
        assert_request_id(bad)
    assert cat.turns == [] and cat.embedded == []


@pytest.mark.parametrize(
    "method,path,body,access",
    [
        ("GET", "/v1/models", None, "models"),
        ("GET", "/v1/models/cheshire-cat", None, "models"),
        ("POST", "/v1/chat/completions", chat(), "chat"),
        ("POST", "/v1/responses", responses(), "chat"),
        ("POST", "/custom/message", {"text": "Hi"}, "chat"),
        ("POST", "/v1/embeddings", embeddings("a"), "embeddings"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None,
)
async def test_user_lacking_permission_is_403_naming_what_is_missing(client, cat, method, path, body, access):
    response = await client.request(method, path, json=body, headers={"Authorization": "Bearer weak"})
    assert response.status_code == 403
    assert response.json() == error(f"User 'weak' lacks the permission to {access}.", code="insufficient_permissions")
    assert_request_id(response)
    assert cat.turns == [] and cat.embedded == []


async def test_health_needs_no_credentials(client):
    for headers in ({}, {"Authorization": "Bearer weak"}, {"Authorization": "Bearer nope"}):
        response = await client.get("/custom/health", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert {k: body[k] for k in ("status", "cat_version", "adapter", "llm_configured")} == {
            "status": "ok",
            "cat_version": "0.0-fake",
            "adapter": "fake",
            "llm_configured": True,
        }
        assert_request_id(response)


async def test_models_list_and_get(client):
    listed = await client.get("/v1/models", headers=GOOD)
    assert listed.status_code == 200
    assert [(m["id"], m["object"], m["owned_by"]) for m in listed.json()["data"]] == [("cheshire-cat", "model", "fake")]
    one = await client.get("/v1/models/cheshire-cat", headers=GOOD)
    assert one.status_code == 200 and one.json()["id"] == "cheshire-cat"
    missing = await client.get("/v1/models/org/gpt-4o", headers=GOOD)
    assert missing.status_code == 404
    assert missing.json() == error(
        "The model `org/gpt-4o` does not exist or you do not have access to it.", param="model", code="model_not_found"
    )
    assert_request_id(missing)


async def test_every_response_has_its_own_request_id(client, cat):
    limit(cat, rate_limit_per_minute=3)
    answers = [
        await client.get("/custom/health"),
        await client.post("/v1/chat/completions", json=chat()),  # 401
        await client.post("/v1/chat/completions", json=chat(), headers={"Authorization": "Bearer weak"}),  # 403
        await client.post("/v1/chat/completions", content=b"{nope", headers=GOOD),  # 400
        await client.post("/v1/chat/completions", json={**chat(), "model": "gpt-4o"}, headers=GOOD),  # 404
        await client.post("/v1/chat/completions", json=chat(), headers=GOOD),  # 200
        await client.post("/v1/chat/completions", json=chat(stream=True), headers=GOOD),  # 200 stream
        await client.post("/v1/embeddings", json=embeddings("a"), headers=GOOD),  # 200
        await client.post("/v1/chat/completions", json=chat(), headers=GOOD),  # 429
    ]
    assert [a.status_code for a in answers] == [200, 401, 403, 400, 404, 200, 200, 200, 429]
    ids = [assert_request_id(a) for a in answers]
    assert len(set(ids)) == len(ids)


async def test_invalid_json_is_400_with_openais_message(client, cat):
    response = await client.post("/v1/chat/completions", content=b"{nope", headers=GOOD)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["message"].startswith("We could not parse the JSON body of your request.")
    assert {k: v for k, v in body["error"].items() if k != "message"} == {
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert cat.turns == []


# Limits


async def test_rate_limit_second_request_is_429_with_retry_headers(client, cat, clock):
    limit(cat, rate_limit_per_minute=1)
    first = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert first.status_code == 200
    assert {k: v for k, v in first.headers.items() if k.startswith("x-ratelimit-")} == {
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
    }
    second = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert second.status_code == 429
    assert second.json() == error(
        "Rate limit reached for requests per minute: limit 1. Please try again in 60.0s.",
        "requests",
        None,
        "rate_limit_exceeded",
    )
    assert {
        k: second.headers.get(k)
        for k in (
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        )
    } == {
        "retry-after": "60",
        "retry-after-ms": "60000",
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
    }
    assert_request_id(second)
    assert len(cat.turns) == 1
    other = await client.post("/v1/chat/completions", json=chat(), headers=MASTER)  # another identity
    assert other.status_code == 200
    clock.now += 60
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200


async def test_in_flight_stream_holds_its_slot_until_it_ends(streaming, client, cat):
    limit(cat, max_concurrent_requests=1)
    gate = Gate()
    cat.script("Hel", gate, "lo", TurnResult("Hello", prompt_tokens=3))
    async with streaming.stream("POST", "/v1/chat/completions", json=chat(stream=True), headers=GOOD) as first:
        assert first.status_code == 200
        reader = Reader(first)
        await reader.until(b'"content":"Hel"')
        busy = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
        assert busy.status_code == 429
        assert busy.json() == CONCURRENCY
        assert (busy.headers["retry-after"], busy.headers["retry-after-ms"]) == ("1", "500")
        assert not any(k.startswith("x-ratelimit-") for k in busy.headers)  # no per-minute limit is set
        gate.open()
        whole = await reader.rest()
    assert whole.endswith(DONE)
    assert [d.get("content") for d, _ in deltas(whole)] == ["", "Hel", "lo", None]
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200
    assert cat.running == 0


def _fail(cat: FakeCat) -> None:
    cat.script("Hel", "lo", CatFailure("LLM down"))


def _fail_at_once(cat: FakeCat) -> None:
    cat.script(CatFailure("LLM down"))


def _explode(cat: FakeCat) -> None:
    cat.script("Hel", RuntimeError("secret detail"))


def _embed_fails(cat: FakeCat) -> None:
    cat.embed_error = CatFailure("embedder down")


def _more_than_the_stop(cat: FakeCat) -> None:
    cat.script("Hel", "lo", " world", TurnResult("Hello world", prompt_tokens=3))


# case: (setup, path, body, status, the error body (JSON) or the last event (stream))
EXIT_PATHS = {
    "json": (None, "/v1/chat/completions", chat(), 200, None),
    "message": (None, "/custom/message", {"text": "Hi"}, 200, None),
    "responses-json": (None, "/v1/responses", responses(), 200, None),
    "embeddings": (None, "/v1/embeddings", embeddings("a", "bc"), 200, None),
    "cat-failure": (_fail_at_once, "/v1/chat/completions", chat(), 502, cat_error("LLM down")),
    "cat-failure-message": (_fail_at_once, "/custom/message", {"text": "Hi"}, 502, cat_error("LLM down")),
    "cat-failure-responses": (_fail_at_once, "/v1/responses", responses(), 502, cat_error("LLM down")),
    "unexpected-error": (_explode, "/v1/chat/completions", chat(), 500, INTERNAL_ERROR),
    "stream-to-end": (None, "/v1/chat/completions", chat(stream=True), 200, ("", "[DONE]")),
    "stream-cut-by-stop": (
        _more_than_the_stop,
        "/v1/chat/completions",
        chat(stream=True, stop=["lo"]),
        200,
        ("", "[DONE]"),
    ),
    "stream-cut": (_fail, "/v1/chat/completions", chat(stream=True), 200, ("", cat_error("LLM down"))),
    "stream-unexpected-error": (_explode, "/v1/chat/completions", chat(stream=True), 200, ("", INTERNAL_ERROR)),
    "responses-stream-to-end": (None, "/v1/responses", responses(stream=True), 200, "response.completed"),
    "responses-stream-cut": (_fail, "/v1/responses", responses(stream=True), 200, "response.failed"),
    "embeddings-failure": (_embed_fails, "/v1/embeddings", embeddings("a"), 502, cat_error("embedder down")),
    "invalid-body": (
        None,
        "/v1/chat/completions",
        {"model": "cheshire-cat", "messages": []},
        400,
        error(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        ),
    ),
    "unknown-model": (
        None,
        "/v1/chat/completions",
        {**chat(), "model": "gpt-4o"},
        404,
        error(
            "The model `gpt-4o` does not exist or you do not have access to it.", param="model", code="model_not_found"
        ),
    ),
}


@pytest.mark.parametrize("case", list(EXIT_PATHS))
async def test_the_slot_is_freed_on_every_exit_path(client, cat, case):
    setup, path, body, status, expected = EXIT_PATHS[case]
    limit(cat, max_concurrent_requests=1)
    if setup is not None:
        setup(cat)
    response = await client.post(path, json=body, headers=GOOD)
    assert response.status_code == status, response.text
    assert_request_id(response)
    if status in (502, 504):
        assert response.headers["x-should-retry"] == "false"
    if body.get("stream"):
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        last = sse(response.content)[-1]
        assert (last[0] if isinstance(expected, str) else last) == expected
    elif expected is not None:
        assert response.json() == expected
    nxt = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert nxt.status_code == 200, nxt.text
    assert cat.running == 0


async def test_a_timeout_is_504_and_frees_the_slot(client, cat):
    limit(cat, max_concurrent_requests=1, request_timeout=1.0)
    gate = Gate()  # never opened: the Cat hangs
    cat.script("Hel", gate)
    began = time.monotonic()
    response = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert 1.0 <= time.monotonic() - began < 2.0  # the request's own timeout, not a later one
    assert response.status_code == 504
    assert response.json() == error("The Cat did not answer within 1 seconds.", "api_error", None, "timeout")
    assert response.headers["x-should-retry"] == "false"
    assert_request_id(response)
    assert gate.reached.is_set() and cat.running == 0  # the hanging turn was closed, not left running
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200


@pytest.mark.parametrize(
    "path,body,needle",
    [
        ("/v1/chat/completions", chat(stream=True), b'"content":"Hel"'),
        ("/v1/responses", responses(stream=True), b'"delta":"Hel"'),
    ],
)
async def test_a_stream_the_client_abandons_frees_the_slot_and_closes_the_turn(
    streaming, client, cat, path, body, needle
):
    limit(cat, max_concurrent_requests=1)
    gate = Gate()  # never opened: the client leaves while the Cat is still working
    cat.script("Hel", gate, "lo", TurnResult("Hello", prompt_tokens=3))
    async with streaming.stream("POST", path, json=body, headers=GOOD) as response:
        assert response.status_code == 200
        await Reader(response).until(needle)
        assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 429
    # leaving the block closed the response: the app has ended
    assert cat.running == 0
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200


async def test_a_client_gone_before_the_stream_starts_frees_the_slot_and_the_key(bridge, client, cat):
    """A server whose client left before the answer began says so at once (`http.disconnect`)."""
    limit(cat, max_concurrent_requests=1)
    body = json.dumps(chat(stream=True)).encode()
    delivered = False
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "server": ("bridge", 80),
        "client": ("127.0.0.1", 123),
        "headers": [
            (b"authorization", b"Bearer good"),
            (b"idempotency-key", b"k-1"),
            (b"content-type", b"application/json"),
        ],
    }
    await asyncio.wait_for(app_of(bridge)(scope, receive, send), 5)
    assert sent and sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert cat.running == 0
    retry = await client.post(
        "/v1/chat/completions", json=chat(stream=True), headers={**GOOD, "Idempotency-Key": "k-1"}
    )
    assert retry.status_code == 200 and retry.content.endswith(DONE)
    assert "idempotent-replayed" not in retry.headers  # the cut first attempt was not kept


async def test_a_cancelled_json_request_frees_the_slot_and_the_key(client, cat):
    limit(cat, max_concurrent_requests=1)
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    gate = Gate()  # never opened
    cat.script("Hel", gate)
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(), headers=headers))
    await asyncio.wait_for(gate.reached.wait(), 2)
    first.cancel()
    done, _ = await asyncio.wait({first}, timeout=PATIENCE)
    if not done:
        gate.open()  # let the stuck request go, then fail
        raise AssertionError("the cancelled request kept running")
    with pytest.raises(asyncio.CancelledError):
        first.result()
    assert cat.running == 0
    retry = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2


async def test_an_invalid_body_is_never_admitted(client, cat):
    limit(cat, rate_limit_per_minute=1, max_concurrent_requests=1, max_request_bytes=1024)
    too_large = json.dumps(chat("x" * 2000)).encode()
    for raw, status in (
        (b"{nope", 400),
        (b"[]", 400),
        (json.dumps({"model": "cheshire-cat"}).encode(), 400),
        (too_large, 413),
    ):
        refused = await client.post("/v1/chat/completions", content=raw, headers=GOOD)
        assert refused.status_code == status
        assert not any(k.startswith(("x-ratelimit-", "retry-after")) for k in refused.headers)
    assert refused.json() == error(
        "The request body is larger than the 1024 bytes this bridge accepts.", code="request_too_large"
    )
    admitted = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert admitted.status_code == 200
    assert admitted.headers["x-ratelimit-remaining-requests"] == "0"  # the 400s spent nothing
    assert cat.turns and len(cat.turns) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_tokens_are_settled_with_the_real_usage(client, cat, stream):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    cat.script("Hello", " there!", TurnResult("Hello there!", prompt_tokens=120, extra_completion_tokens=7))
    body = chat(stream=True, stream_options={"include_usage": True}, max_tokens=50) if stream else chat(max_tokens=50)
    first = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert first.status_code == 200
    cost = prompt_cost() + 50
    assert first.headers["x-ratelimit-limit-tokens"] == str(tpm)
    assert first.headers["x-ratelimit-remaining-tokens"] == str(tpm - cost)  # reserved: the prompt and max_tokens
    used = 120 + tokens.count_text("Hello there!") + 7
    usage = sse(first.content)[-2][1]["usage"] if stream else first.json()["usage"]
    assert usage["total_tokens"] == used
    second = await client.post("/v1/chat/completions", json=chat(max_tokens=50), headers=GOOD)
    assert second.status_code == 200
    # the first request was settled with what it used, not with what it reserved
    assert second.headers["x-ratelimit-remaining-tokens"] == str(tpm - used - cost)


async def test_admission_reserves_the_completion_cap_so_concurrency_cannot_overspend(client, cat):
    """OpenAI counts max_tokens against the token limit: two 1000-token answers do not fit in 2000 a minute."""
    limit(cat, tokens_per_minute=2000)
    gate = Gate()
    cat.script("Hel", gate, "lo", TurnResult("Hello", prompt_tokens=3))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=GOOD))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = await client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=GOOD)
    assert second.status_code == 429
    assert (second.json()["error"]["type"], second.json()["error"]["code"]) == ("tokens", "rate_limit_exceeded")
    gate.open()
    assert (await first).status_code == 200
    # settled with what it used: the cap it did not use is free again
    again = await client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=GOOD)
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining-tokens"] == str(
        2000 - (3 + tokens.count_text("Hello")) - (prompt_cost() + 1000)
    )


async def test_without_max_tokens_the_setting_is_the_reserved_cap(client, cat):
    limit(cat, tokens_per_minute=10_000, max_tokens=300)
    first = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert first.headers["x-ratelimit-remaining-tokens"] == str(10_000 - prompt_cost() - 300)
    limit(cat, tokens_per_minute=10_000, max_tokens=0)  # unlimited answers: only the prompt can be reserved
    responses_first = await client.post("/v1/responses", json=responses(), headers=MASTER)
    assert responses_first.headers["x-ratelimit-remaining-tokens"] == str(10_000 - prompt_cost())


async def test_a_failed_turn_gives_its_reserved_tokens_back(client, cat):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    cat.script(CatFailure("LLM down"))
    failed = await client.post("/v1/chat/completions", json=chat(max_tokens=20), headers=GOOD)
    assert failed.status_code == 502
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=20), headers=GOOD)
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(tpm - prompt_cost() - 20)


LONG_ANSWER = ("Hello", " big", " world", " and", " more")


@pytest.mark.parametrize(
    "body",
    [chat(max_tokens=2), chat(stream=True, stream_options={"include_usage": True}, max_tokens=2)],
    ids=["json", "stream-with-usage"],
)
async def test_max_tokens_stops_the_cats_run_at_the_cut(client, cat, body):
    """The run is stopped once the answer is cut: the Cat never gets past the gate (it would hang there)."""
    limit(cat, tokens_per_minute=1000)
    cat.script(*LONG_ANSWER, Gate(), TurnResult("never reached", prompt_tokens=120))
    response = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert response.status_code == 200, response.text
    if body.get("stream"):
        assert "".join(d.get("content") or "" for d, _ in deltas(response.content)) == "Hello big"
        assert deltas(response.content)[-1][1] == "length"
        usage = sse(response.content)[-2][1]["usage"]
    else:
        assert response.json()["choices"][0]["message"]["content"] == "Hello big"
        assert response.json()["choices"][0]["finish_reason"] == "length"
        usage = response.json()["usage"]
    assert usage == {"prompt_tokens": 120, "completion_tokens": 2, "total_tokens": 122}
    assert cat.stopped == 1 and cat.running == 0
    assert cat.turns[0].stream is True  # a JSON answer is streamed inside the bridge, so it can be stopped
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    # charged what the LLM produced before it was stopped ("Hello big world": one delta past the cut)
    produced = tokens.count_text("Hello big world")
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(1000 - (120 + produced) - (prompt_cost() + 2))


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat(stream=True, max_tokens=2)),  # no include_usage: no usage chunk to wait for
        ("/v1/responses", responses(stream=True, max_output_tokens=2)),
    ],
    ids=["chat", "responses"],
)
async def test_a_cut_stream_is_charged_its_real_prompt(client, cat, path, body):
    limit(cat, tokens_per_minute=1000)
    cat.script(*LONG_ANSWER, Gate(), TurnResult("never reached", prompt_tokens=120))
    cut = await client.post(path, json=body, headers=GOOD)
    assert cut.status_code == 200
    assert cat.stopped == 1 and cat.running == 0
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    produced = tokens.count_text("Hello big world")
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(1000 - (120 + produced) - (prompt_cost() + 2))


async def test_a_cat_that_cannot_stop_ends_a_cut_stream_at_once_and_is_charged_the_reserved_prompt(client, cat):
    """v1's case: its turn runs on in its thread; a stream with no usage to report does not wait for it."""
    cat.stops_turns = False
    limit(cat, tokens_per_minute=1000)
    cat.script(*LONG_ANSWER, Gate(), TurnResult("never reached", prompt_tokens=120))  # would hang past the cut
    cut = await client.post("/v1/chat/completions", json=chat(stream=True, max_tokens=2), headers=GOOD)
    assert cut.status_code == 200 and cut.content.endswith(DONE)
    assert deltas(cut.content)[-1][1] == "length" and cat.stopped == 0
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    charged = prompt_cost() + tokens.count_text("Hello big")  # the prompt as reserved, and what was sent
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(1000 - charged - (prompt_cost() + 2))


async def test_a_failure_after_the_cut_does_not_fail_the_whole_answer(client, cat):
    cat.stops_turns = False  # the turn goes on after the cut, and then fails
    cat.script(*LONG_ANSWER, CatFailure("LLM down later"))
    body = chat(stream=True, stream_options={"include_usage": True}, max_tokens=2)
    cut = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert cut.status_code == 200 and cut.content.endswith(DONE)
    assert deltas(cut.content)[-1][1] == "length"
    assert sse(cut.content)[-2][1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}


async def test_a_stream_cut_early_is_still_charged_its_prompt(client, cat):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    cat.script("Hel", "lo", " world", TurnResult("Hello world", prompt_tokens=120))
    cut = await client.post("/v1/chat/completions", json=chat(stream=True, stop=["lo"], max_tokens=10), headers=GOOD)
    assert cut.status_code == 200 and cut.content.endswith(DONE)
    assert "".join(d.get("content") or "" for d, _ in deltas(cut.content)) == "Hel"
    assert deltas(cut.content)[-1][1] == "stop"  # a whole answer, cut as asked
    assert cat.stopped == 1  # a stop sequence ends the Cat's run too
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=10), headers=GOOD)
    charged = 120 + tokens.count_text("Hello")
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(tpm - charged - (prompt_cost() + 10))


async def test_a_long_prompt_is_never_tokenized_on_the_event_loop(client, cat, clock, monkeypatch):
    """Admission estimates it (its UTF-8 length bounds its tokens); the precise count runs in a thread."""
    import threading

    seen: list[tuple[bool, int]] = []
    real = tokens.encode

    def spy(text: str) -> list[int]:
        seen.append((threading.current_thread() is threading.main_thread(), len(text)))
        return real(text)

    monkeypatch.setattr(tokens, "encode", spy)
    limit(cat, tokens_per_minute=1_000_000, max_request_bytes=4 * 2**20)
    spaces = " " * (512 * 1024)
    cat.script("Hi", TurnResult("Hi", prompt_tokens=3))
    response = await client.post("/v1/chat/completions", json=chat(spaces, max_tokens=5), headers=GOOD)
    assert response.status_code == 200
    # the header shows the bound reserved at admission: 512 KiB of spaces as 512 Ki tokens (really 4,096)
    bound = tokens.TOKENS_REPLY_PRIMING + tokens.TOKENS_PER_MESSAGE + tokens.count_text("user") + len(spaces)
    now = clock.now
    expected = window_of(1_000_000, now + (bound + 5) * 60 / 1_000_000, now).remaining  # GCRA's float arithmetic
    assert expected in (1_000_000 - bound - 5, 1_000_000 - bound - 6)
    assert response.headers["x-ratelimit-remaining-tokens"] == str(expected)
    assert sum(size for main, size in seen if main) <= tokens.ON_LOOP_CHARS
    assert sum(size for main, size in seen if not main) >= len(spaces)  # counted precisely, in a thread
    assert max(size for _, size in seen) <= tokens.CHUNK_CHARS  # and BPE never saw more than a chunk at once
    assert len(spaces) not in [len(t) for t in list(tokens.CACHE._counts)]  # and not cached


async def test_a_long_prompt_reserved_at_its_bound_is_recounted_while_it_runs(client, cat, clock):
    """Admitted on its UTF-8 length, counted in a thread, and the reservation follows at once (not at the end)."""
    limit(cat, tokens_per_minute=1_000_000, max_request_bytes=4 * 2**20)
    spaces = " " * (512 * 1024)
    gate = Gate()
    cat.script("Hi", gate, TurnResult("Hi", prompt_tokens=3))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(spaces, max_tokens=1000), headers=GOOD))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = await client.post("/v1/chat/completions", json=chat(max_tokens=5), headers=GOOD)
    bound = tokens.estimate_chat([("user", spaces)])[0] + 1000  # reserved at admission
    held = tokens.count_chat([("user", spaces)]) + 1000  # the precise prompt and the cap, while the first runs
    now, per_token = clock.now, 60 / 1_000_000
    tat = now + bound * per_token + (held - bound) * per_token + (prompt_cost() + 5) * per_token  # GCRA's steps
    expected = window_of(1_000_000, tat, now).remaining
    assert expected < 1_000_000 - held - prompt_cost() - 5 + 2  # the recount freed the bound's ~500,000 tokens
    assert second.headers["x-ratelimit-remaining-tokens"] == str(expected)
    gate.open()
    assert (await first).status_code == 200


async def test_embeddings_are_settled_with_their_input_tokens(client, cat):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    first = await client.post("/v1/embeddings", json=embeddings("hello world", "cat"), headers=GOOD)
    assert first.status_code == 200
    used = tokens.count_text("hello world") + tokens.count_text("cat")
    assert first.json()["usage"] == {"prompt_tokens": used, "total_tokens": used}
    assert [d["embedding"] for d in first.json()["data"]] == [[11.0, 0.5], [3.0, 0.5]]
    nxt = await client.post("/v1/embeddings", json=embeddings("a"), headers=GOOD)
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(tpm - used)  # embeddings reserve nothing up front


# Idempotency


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat()),
        ("/v1/chat/completions", chat(stream=True)),
        ("/v1/responses", responses()),
        ("/v1/responses", responses(stream=True)),
        ("/custom/message", {"text": "Hi"}),
    ],
    ids=["chat", "chat-stream", "responses", "responses-stream", "message"],
)
async def test_same_key_and_body_replays_the_first_answer_byte_for_byte(client, cat, path, body):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post(path, json=body, headers=headers)
    second = await client.post(path, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert assert_request_id(second) != assert_request_id(first)
    assert len(cat.turns) == 1


async def test_a_replay_is_not_counted_against_the_rate_limit(client, cat):
    limit(cat, rate_limit_per_minute=2)
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    replay = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert not any(k.startswith(("x-ratelimit-", "retry-after")) for k in replay.headers)  # not the first's numbers
    fresh = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert fresh.status_code == 200 and fresh.headers["x-ratelimit-remaining-requests"] == "0"


async def test_same_key_with_another_body_is_400_idempotency_key_reused(client, cat):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    assert (await client.post("/v1/chat/completions", json=chat("Hi"), headers=headers)).status_code == 200
    reused = await client.post("/v1/chat/completions", json=chat("Bye"), headers=headers)
    assert reused.status_code == 400
    assert reused.json() == error(
        "This Idempotency-Key was already used with a different request body.", code="idempotency_key_reused"
    )
    assert_request_id(reused)
    assert len(cat.turns) == 1


async def test_keys_belong_to_their_identity(client, cat):
    for auth in (GOOD, MASTER):
        response = await client.post("/v1/chat/completions", json=chat(), headers={**auth, "Idempotency-Key": "k"})
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert [t.identity.user_id for t in cat.turns] == ["alice", "admin"]


@pytest.mark.parametrize("setup,status", [(_fail_at_once, 502), (_explode, 500)], ids=["cat-failure", "unexpected"])
async def test_a_failed_first_attempt_frees_the_key(client, cat, setup, status):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    setup(cat)
    failed = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert failed.status_code == status
    retry = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert retry.json()["choices"][0]["message"]["content"] == "Hello there!"
    assert len(cat.turns) == 2
    again = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.content == retry.content
    assert len(cat.turns) == 2


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat(stream=True)),
        ("/v1/responses", responses(stream=True)),
    ],
    ids=["chat", "responses"],
)
async def test_a_cut_stream_is_not_replayed(client, cat, path, body):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    _fail(cat)
    cut = await client.post(path, json=body, headers=headers)
    assert cut.status_code == 200 and not cut.content.endswith(DONE)
    retry = await client.post(path, json=body, headers=headers)
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2
    assert retry.content != cut.content


async def test_an_abandoned_stream_is_not_replayed(streaming, client, cat):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    cat.script("Hel", Gate(), "lo", TurnResult("Hello", prompt_tokens=3))
    async with streaming.stream("POST", "/v1/chat/completions", json=chat(stream=True), headers=headers) as first:
        await Reader(first).until(b'"content":"Hel"')
    retry = await client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert retry.status_code == 200 and retry.content.endswith(DONE)
    assert "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2


@pytest.mark.parametrize("body", [chat(), chat(stream=True)], ids=["json", "stream"])
async def test_a_duplicate_arriving_while_the_first_runs_waits_and_gets_the_replay(client, cat, body):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    gate = Gate()
    cat.script("Hello", gate, " there!", TurnResult("Hello there!", prompt_tokens=10))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=body, headers=headers))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = asyncio.ensure_future(client.post("/v1/chat/completions", json=body, headers=headers))
    await wait_for(lambda: cat.resolved == 2, "the duplicate to reach its claim")
    await asyncio.sleep(0.02)
    assert not second.done()  # waiting for the first, neither refused (409) nor run
    assert len(cat.turns) == 1
    gate.open()
    one, two = await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert one.status_code == two.status_code == 200
    assert two.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in one.headers
    assert two.content == one.content
    assert len(cat.turns) == 1


async def test_a_duplicate_waiting_on_a_first_that_fails_runs_itself(client, cat):
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    gate = Gate()
    cat.script("Hel", gate, CatFailure("LLM down"))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(), headers=headers))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(), headers=headers))
    await wait_for(lambda: cat.resolved == 2, "the duplicate to reach its claim")
    await asyncio.sleep(0.02)
    assert not second.done() and len(cat.turns) == 1
    gate.open()
    one, two = await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert one.status_code == 502
    assert two.status_code == 200 and "idempotent-replayed" not in two.headers
    assert two.json()["choices"][0]["message"]["content"] == "Hello there!"
    assert len(cat.turns) == 2


async def test_the_same_key_and_bytes_on_another_route_is_another_request(client, cat):
    """The fingerprint covers the route: a chat answer is never replayed to a Responses client."""
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    body = {"model": "cheshire-cat", "input": "Hi", "messages": [{"role": "user", "content": "Hi"}]}
    first = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200 and first.json()["object"] == "chat.completion"
    other = await client.post("/v1/responses", json=body, headers=headers)
    assert other.status_code == 400
    assert other.json() == error(
        "This Idempotency-Key was already used with a different request body.", code="idempotency_key_reused"
    )
    assert len(cat.turns) == 1


def _big_answers(cat: FakeCat, count: int, size: int) -> None:
    for i in range(count):
        text = f"{i}:" + "x" * size
        cat.script(text, TurnResult(text, prompt_tokens=3))


async def test_kept_answers_are_bounded_in_bytes_per_identity_oldest_first(client, cat, bridge):
    limit(cat, idempotency_identity_bytes=64 * 1024)
    _big_answers(cat, 10, 20_000)
    for i in range(10):
        r = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": f"k-{i}"})
        assert r.status_code == 200 and "idempotency-replayable" not in r.headers
    replays = bridge.pipeline.replays
    assert replays.budget.used_by("alice") <= 64 * 1024
    newest = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-9"})
    assert newest.headers["idempotent-replayed"] == "true"
    assert len(cat.turns) == 10
    oldest = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-0"})
    assert "idempotent-replayed" not in oldest.headers  # evicted: the key runs again
    assert len(cat.turns) == 11
    # another identity's answers are not evicted for alice's
    mine = await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "Idempotency-Key": "m"})
    assert (
        await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "Idempotency-Key": "m"})
    ).content == (mine.content)


async def test_eviction_passes_over_a_running_entry(client, cat, bridge):
    """An answer still running at the head of the store neither is evicted nor stops eviction behind it."""
    limit(cat, idempotency_identity_bytes=64 * 1024)
    gate = Gate()
    cat.script("slow", gate, TurnResult("slow", prompt_tokens=3))
    running = asyncio.ensure_future(
        client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "first"})
    )
    await asyncio.wait_for(gate.reached.wait(), 2)
    _big_answers(cat, 10, 20_000)
    for i in range(10):
        r = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": f"k-{i}"})
        assert r.status_code == 200
    replays = bridge.pipeline.replays
    assert replays.budget.used_by("alice") <= 64 * 1024 and len(replays) <= 5
    gate.open()
    first = await running
    assert first.status_code == 200
    again = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "first"})
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content


async def test_all_identities_together_are_bounded_too(client, cat, bridge):
    limit(cat, idempotency_store_bytes=96 * 1024, idempotency_identity_bytes=1024 * 1024)
    _big_answers(cat, 8, 20_000)
    for i in range(8):
        auth = GOOD if i % 2 else MASTER
        r = await client.post("/v1/chat/completions", json=chat(), headers={**auth, "Idempotency-Key": f"k-{i}"})
        assert r.status_code == 200
    assert bridge.pipeline.replays.budget.total <= 96 * 1024
    newest = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-7"})
    assert newest.headers["idempotent-replayed"] == "true"
    oldest = await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "Idempotency-Key": "k-0"})
    assert "idempotent-replayed" not in oldest.headers  # evicted for another identity's newer answers
    assert len(cat.turns) == 9


async def test_an_answer_too_large_to_keep_says_its_key_is_not_replayable(client, cat):
    limit(cat, idempotency_answer_bytes=4096)
    _big_answers(cat, 2, 5000)
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert first.status_code == 200 and first.headers["idempotency-replayable"] == "false"
    second = await client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert second.status_code == 200 and "idempotent-replayed" not in second.headers  # the Cat ran again
    assert len(cat.turns) == 2
    small = await client.post("/v1/chat/completions", json=chat(), headers={**GOOD, "Idempotency-Key": "k-2"})
    assert "idempotency-replayable" not in small.headers


async def test_a_responses_stream_echoing_large_metadata_is_not_kept_and_says_so_up_front(client, cat, bridge):
    """Its three lifecycle events repeat the metadata: the answer is known to be too large before it starts."""
    limit(cat, idempotency_answer_bytes=64 * 1024)
    metadata = {f"k{i}": "v" * 500 for i in range(16)}  # 8 KB, echoed three times: 24 KB < 64 KiB
    big = {f"k{i}": "v" * 2000 for i in range(16)}  # 32 KB, echoed three times: 96 KB > 64 KiB
    keyed = {**GOOD, "Idempotency-Key": "k-1"}
    small = await client.post("/v1/responses", json=responses(stream=True, metadata=metadata), headers=keyed)
    assert small.status_code == 200 and "idempotency-replayable" not in small.headers
    keyed = {**GOOD, "Idempotency-Key": "k-2"}
    large = await client.post("/v1/responses", json=responses(stream=True, metadata=big), headers=keyed)
    assert large.status_code == 200 and large.headers["idempotency-replayable"] == "false"
    assert sse(large.content)[-1][0] == "response.completed"
    again = await client.post("/v1/responses", json=responses(stream=True, metadata=big), headers=keyed)
    assert "idempotent-replayed" not in again.headers and len(cat.turns) == 3
    assert bridge.pipeline.replays.budget.used_by("alice") < 64 * 1024


async def test_a_stream_outgrowing_the_limit_is_dropped_as_it_goes_and_its_key_freed(client, cat, bridge):
    limit(cat, idempotency_answer_bytes=8 * 1024)
    parts = ["x" * 1000] * 20
    cat.script(*parts, TurnResult("".join(parts), prompt_tokens=3))
    headers = {**GOOD, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert first.status_code == 200 and first.content.endswith(DONE)
    assert "idempotency-replayable" not in first.headers  # not known when the headers went out
    assert len(bridge.pipeline.replays) == 0  # nothing was kept of it
    retry = await client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert len(cat.turns) == 2


# Cut streams


async def test_a_chat_stream_cut_by_the_cat_ends_with_an_error_event(client, cat):
    _fail(cat)
    response = await client.post("/v1/chat/completions", json=chat(stream=True), headers=GOOD)
    assert response.status_code == 200
    events = sse(response.content)
    assert deltas(response.content) == [
        ({"role": "assistant", "content": "", "refusal": None}, None),
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
    ]
    assert events[-1] == ("", cat_error("LLM down"))
    assert all(data != "[DONE]" for _, data in events)
    assert not response.content.endswith(DONE)


async def test_an_unexpected_error_mid_stream_is_an_internal_error_event(client, cat):
    _explode(cat)
    response = await client.post("/v1/chat/completions", json=chat(stream=True), headers=GOOD)
    assert response.status_code == 200
    assert sse(response.content)[-1] == ("", INTERNAL_ERROR)
    assert [f for _, f in deltas(response.content)] == [None, None]  # role, "Hel": no finish_reason
    assert b"secret" not in response.content and b"Traceback" not in response.content
    request_id = assert_request_id(response)
    assert ("error", f"openai bridge: {request_id}: unexpected RuntimeError('secret detail')") in cat.logs


async def test_a_responses_stream_cut_by_the_cat_ends_with_response_failed(client, cat):
    _fail(cat)
    response = await client.post("/v1/responses", json=responses(stream=True), headers=GOOD)
    assert response.status_code == 200
    events = sse(response.content)
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.failed",
    ]
    assert [data["delta"] for name, data in events if name == "response.output_text.delta"] == ["Hel", "lo"]
    failed = events[-1][1]
    assert failed["type"] == "response.failed"
    assert failed["sequence_number"] == len(events) - 1
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {
        "code": "server_error",
        "message": "The Cat could not answer: LLM down",
        "param": None,
        "type": "api_error",
    }
    assert not response.content.endswith(DONE)


async def test_a_responses_stream_cut_by_max_output_tokens_reports_its_input_tokens(client, cat):
    usages = []
    for stream in (False, True):
        cat.script(
            "Hello", " big", " world", " and", " more", TurnResult("Hello big world and more", prompt_tokens=120)
        )
        response = await client.post("/v1/responses", json=responses(max_output_tokens=2, stream=stream), headers=GOOD)
        assert response.status_code == 200
        final = sse(response.content)[-1] if stream else ("", {"response": response.json()})
        assert final[0] == ("response.incomplete" if stream else "")
        assert final[1]["response"]["status"] == "incomplete"
        usages.append({k: final[1]["response"]["usage"][k] for k in ("input_tokens", "output_tokens", "total_tokens")})
    assert usages[0] == {"input_tokens": 120, "output_tokens": 2, "total_tokens": 122}
    assert usages[1] == usages[0]


# Unexpected exceptions


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat()),
        ("/v1/responses", responses()),
        ("/custom/message", {"text": "Hi"}),
        ("/v1/embeddings", embeddings("a")),
    ],
    ids=["chat", "responses", "message", "embeddings"],
)
async def test_an_unexpected_exception_in_the_cat_is_a_500_internal_error(client, cat, path, body):
    cat.script(RuntimeError("secret detail"))
    cat.embed_error = RuntimeError("secret detail")
    response = await client.post(path, json=body, headers=GOOD)
    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    assert b"secret" not in response.content and b"Traceback" not in response.content
    assert response.headers["content-type"] == "application/json"
    request_id = assert_request_id(response)
    assert cat.logs == [("error", f"openai bridge: {request_id}: unexpected RuntimeError('secret detail')")]
