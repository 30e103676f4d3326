"""At most `max_concurrent_requests` answers in flight per user, on the pipeline with a fake Cat (conftest.py): an
answer holds its slot while it runs, a stream until its end, and every way out frees it (an answer, a failure, a
timeout, a cancel, a client that leaves)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from cat_openai_bridge.core.turn.port import CatFailure, TurnResult

from .fake_cat import PATIENCE, FakeCat, Gate, app_of
from .http_kit import (
    DONE,
    GOOD,
    INTERNAL_ERROR,
    Reader,
    _explode,
    _fail,
    _fail_at_once,
    assert_request_id,
    cat_error,
    chat,
    deltas,
    embeddings,
    error,
    limit,
    responses,
    sse,
)

pytestmark = pytest.mark.asyncio


CONCURRENCY = error(
    "Too many requests in flight for this user. Please retry when one has finished.",
    "requests",
    None,
    "rate_limit_exceeded",
)


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
