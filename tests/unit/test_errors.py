"""What a client sees when something fails, on a fake Cat (conftest.py): a request id on every answer, an internal
error that hides its details, a stream cut by a failure ending with its protocol's error event (never its normal
end), and heartbeats while a stream waits. Errors of one protocol's requests (its 400s, its dialect of 401, 429,
502) are in that protocol's file."""

from __future__ import annotations

import pytest

from cat_openai_bridge.core.turn.port import CatFailure, TurnResult

from .fake_cat import Gate
from .http_kit import (
    DONE,
    GOOD,
    INTERNAL_ERROR,
    KEY,
    _explode,
    _fail,
    anthropic_error,
    ask,
    assert_request_id,
    cat_error,
    chat,
    chunks,
    complete,
    deltas,
    embeddings,
    events,
    limit,
    responses,
    settings,
    sse,
    text_of,
)
from .http_kit import post_completion as post

pytestmark = pytest.mark.asyncio


# Request ids


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


# Streams cut by a failure, per protocol


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


async def test_a_failure_mid_stream_is_an_error_event_not_a_message_stop(client, cat):
    cat.script("Hel", "lo", CatFailure("LLM down"))
    stream = events((await client.post("/v1/messages", json=ask(stream=True), headers=KEY)).content)
    assert text_of(stream) == ["Hel", "lo"]
    assert stream[-1] == ("error", anthropic_error("api_error", "The Cat could not answer: LLM down"))
    assert "message_stop" not in [name for name, _ in stream] and "message_delta" not in [name for name, _ in stream]


async def test_a_failure_mid_stream_is_an_error_event_without_done(client, cat):
    cat.script("Hel", CatFailure("LLM down"))
    got = chunks((await post(client, complete(stream=True))).content)
    assert [c["choices"][0]["text"] for c in got[:-1]] == ["Hel"]
    assert got[-1] == {
        "error": {
            "message": "The Cat could not answer: LLM down",
            "type": "api_error",
            "param": None,
            "code": "cat_error",
        }
    }


# Heartbeats


async def test_heartbeats_are_ping_events(streaming, cat):
    cat.settings = settings(stream_heartbeat_seconds=0.05)
    gate = Gate()
    cat.script("Hel", gate, "lo", TurnResult("Hello", prompt_tokens=3))
    async with streaming.stream("POST", "/v1/messages", json=ask(stream=True), headers=KEY) as response:
        seen = b""
        async for chunk in response.aiter_raw():
            seen += chunk
            if seen.count(b"event: ping\n") >= 2:
                gate.open()
    stream = events(seen)
    names = [name for name, _ in stream]
    assert names.count("ping") >= 2 and stream[names.index("ping")][1] == {"type": "ping"}
    assert names.index("ping") > names.index("content_block_delta") and names[-1] == "message_stop"
    assert text_of(stream) == ["Hel", "lo"]


# Final failures (issue #24): an answer that still falls short of the demanded form after its re-ask is a 400 with
# x-should-retry: false, and a Responses stream ends with `response.failed` / `invalid_prompt`: no client
# (Codex, OpenCode's AI SDK, the openai and anthropic SDKs) repeats a Cat turn that would fail again.

SHORTFALL = (
    "The Cat's answer does not have the form the request asked for: "
    "the answer is not valid JSON (Expecting value: line 1 column 1 (char 0))."
)
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def _prose_twice(cat) -> None:
    for _ in range(2):
        cat.script("no json", TurnResult("no json", prompt_tokens=1))


async def test_a_failed_structured_answer_is_a_final_400(client, cat):
    _prose_twice(cat)
    body = chat(response_format={"type": "json_object"})
    response = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert (response.status_code, response.headers["x-should-retry"]) == (400, "false")
    assert response.json() == {
        "error": {"message": SHORTFALL, "type": "api_error", "param": None, "code": "invalid_structured_output"}
    }
    assert len(cat.turns) == 2  # asked, re-asked once, then final


async def test_a_forced_call_not_made_is_a_final_400(client, cat):
    _prose_twice(cat)
    body = chat(tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}})
    response = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert (response.status_code, response.headers["x-should-retry"]) == (400, "false")
    assert response.json()["error"] == {
        "message": "The Cat's answer does not have the form the request asked for: the Cat's agent answered with "
        "text instead of calling the function 'get_weather'.",
        "type": "api_error",
        "param": None,
        "code": "invalid_structured_output",
    }


async def test_a_failed_structured_answer_ends_a_responses_stream_with_invalid_prompt(client, cat):
    _prose_twice(cat)
    body = {**responses("Answer in JSON", stream=True), "text": {"format": {"type": "json_object"}}}
    response = await client.post("/v1/responses", json=body, headers=GOOD)
    name, last = sse(response.content)[-1]
    assert name == "response.failed" and last["response"]["status"] == "failed"
    assert last["response"]["error"] == {
        "code": "invalid_prompt",
        "message": SHORTFALL,
    } | {k: v for k, v in last["response"]["error"].items() if k not in ("code", "message")}
    _prose_twice(cat)
    unstreamed = await client.post("/v1/responses", json={**body, "stream": False}, headers=GOOD)
    assert (unstreamed.status_code, unstreamed.headers["x-should-retry"]) == (400, "false")
    assert unstreamed.json()["error"]["code"] == "invalid_structured_output"


async def test_a_failed_structured_answer_is_a_final_anthropic_400(client, cat):
    _prose_twice(cat)
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    body = ask(output_config={"format": {"type": "json_schema", "schema": schema}})
    response = await client.post("/v1/messages", json=body, headers=KEY)
    assert (response.status_code, response.headers["x-should-retry"]) == (400, "false")
    assert response.json() == {
        **anthropic_error("invalid_request_error", SHORTFALL),
        "request_id": response.headers["request-id"],
    }
