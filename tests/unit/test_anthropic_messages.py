"""Anthropic's Messages API on the pipeline, against an in-process fake Cat (conftest.py): exact wire shapes, every one
also parsed with the `anthropic` SDK's own types (testkit/contract.py). Its failed streams and heartbeats:
test_errors.py."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from cat_openai_bridge.core.api.anthropic.route import count_prompt
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.conversation import ClientTool, Conversation, TextPart, ToolCall, Turn
from cat_openai_bridge.core.turn.port import CatFailure, CatTimeout, TurnResult
from testkit import contract

from .http_kit import KEY, anthropic_error, ask, events, settings

pytestmark = pytest.mark.asyncio


WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def post(client: httpx.AsyncClient, body: Any, headers: dict[str, str] = KEY, path: str = "/v1/messages"):
    response = await client.post(path, json=body, headers=headers)
    route = contract.route_of("POST", "/custom" + path)
    contract.validate_json(route, response.status_code, response.json())
    return response


# Auth: the key as the Anthropic SDKs send it, checked by the Cat as its own bearer


async def test_x_api_key_and_bearer_are_the_same_check(client, cat):
    assert (await post(client, ask(), {"x-api-key": "good"})).status_code == 200
    assert (await post(client, ask(), {"authorization": "Bearer good"})).status_code == 200
    assert [t.identity.user_id for t in cat.turns] == ["alice", "alice"]
    missing = await post(client, ask(), {})
    assert missing.status_code == 401
    assert missing.json() == {
        **anthropic_error(
            "authentication_error",
            "x-api-key header is required: send the Cat's API key (or a Cat JWT as a bearer token).",
        ),
        "request_id": missing.headers["request-id"],
    }
    wrong = await post(client, ask(), {"x-api-key": "nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (
        401,
        {"type": "authentication_error", "message": "invalid x-api-key: use the Cat's API key or a Cat JWT."},
    )
    # The Authorization header the Cat already saw wins: a good x-api-key does not rescue a bad bearer.
    assert (await post(client, ask(), {"authorization": "Bearer nope", "x-api-key": "good"})).status_code == 401
    assert len(cat.turns) == 2


async def test_the_openai_routes_do_not_read_x_api_key(client):
    body = {"model": "cheshire-cat", "messages": [{"role": "user", "content": "Hi"}]}
    response = await client.post("/v1/chat/completions", json=body, headers={"x-api-key": "good"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


async def test_permissions_and_request_ids(client):
    weak = await post(client, ask(), {"authorization": "Bearer weak"})
    assert weak.status_code == 403 and weak.json()["error"]["type"] == "permission_error"
    assert weak.headers["request-id"] == weak.headers["x-request-id"] == weak.json()["request_id"]


# The message object


async def test_create_answers_a_message(client, cat):
    response = await post(
        client,
        ask(
            system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            metadata={"user_id": "someone-else"},
            temperature=0.5,
            top_k=5,
            unknown_field={"ignored": True},
        ),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("msg_") and len(body["id"]) == 36
    assert body == {
        "id": body["id"],
        "type": "message",
        "role": "assistant",
        "model": "cheshire-cat",
        "content": [{"type": "text", "text": "Hello there!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 3,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    [turn] = cat.turns
    assert turn.conversation == Conversation("Be brief.\n\nBe kind.", [Turn("user", [TextPart("Hi")])])
    assert (turn.identity.user_id, turn.tools) == ("alice", ())  # metadata.user_id: no switch
    assert turn.stream  # streamed inside the bridge, so the Cat can be stopped at max_tokens


async def test_metadata_user_id_never_picks_the_user(client, cat):
    cat.settings = settings(trust_user_field=True)
    body = ask(metadata={"user_id": "mallory"})
    assert (await post(client, body, {"authorization": "Bearer master"})).status_code == 200
    assert cat.turns[-1].identity.user_id == "admin"


async def test_system_messages_join_the_system_prompt_wherever_they_stand(client, cat):
    """Claude Code sends its user turn, then a `system` message (mid-conversation system prompts)."""
    body = ask(system="First.", output_config={"effort": "high"}, thinking={"type": "adaptive"})
    body["messages"] = [
        {"role": "user", "content": "hello"},
        {"role": "system", "content": [{"type": "text", "text": "Second."}, {"type": "text", "text": "Third."}]},
    ]
    assert (await post(client, body)).status_code == 200
    assert cat.turns[-1].conversation == Conversation(
        "First.\n\nSecond.\n\nThird.", [Turn("user", [TextPart("hello")])]
    )


async def test_conversation_blocks_and_images(client, cat):
    png = "iVBORw0KGgo="
    body = ask()
    body["messages"] = [
        {"role": "user", "content": [{"type": "text", "text": "look"}]},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "text", "text": "ok"}],
        },
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
                {"type": "text", "text": "this", "cache_control": {"type": "ephemeral"}},
            ],
        },
    ]
    assert (await post(client, body)).status_code == 200
    turns = cat.turns[-1].conversation.turns
    assert [(t.role, t.text) for t in turns] == [("user", "look"), ("assistant", "ok"), ("user", "this")]
    assert turns[2].parts[0].mime == "image/png" and turns[2].parts[0].data == png


@pytest.mark.parametrize(
    "change,message",
    [
        ({"max_tokens": None}, "Missing required parameter: 'max_tokens'."),
        ({"messages": []}, "empty array"),
        ({"messages": [{"role": "assistant", "content": "prefill"}]}, "The last message must have role 'user'"),
        ({"messages": [{"role": "system", "content": "x"}]}, "The last message must have role 'user'"),
        ({"messages": [{"role": "developer", "content": "x"}]}, "Invalid value"),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "u"}}]},
                ]
            },
            "messages.1.content.0: content blocks of type 'image' are not supported here (a system message",
        ),
        ({"output_config": {"format": {"type": "xml"}}}, "output_config.format.type: 'xml' is not supported"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages.0.content.0: content blocks of type 'document' are not supported here",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}
                ]
            },
            "Only base64 image sources are accepted, not 'url'",
        ),
        ({"stream": "yes"}, "stream"),
        ({"temperature": 1.5}, "temperature"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "server tools ('web_search_20250305')"),
        ({"tools": [{"name": "f"}]}, "tools.0.input_schema: Field required"),
        ({"tool_choice": {"type": "any"}}, "tool_choice: forcing a tool needs 'tools'"),
        ({"tool_choice": {"type": "tool", "name": "nope"}, "tools": [WEATHER]}, "no tool named 'nope'"),
    ],
)
async def test_bad_requests_are_anthropic_400s(client, cat, change, message):
    body = {**ask(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await post(client, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]
    assert cat.turns == []


async def test_stop_sequences_and_max_tokens_say_why_the_answer_stopped(client, cat):
    cat.script("Hello", " world.", " END", " more", TurnResult("Hello world. END more", prompt_tokens=4))
    stopped = (await post(client, ask(stop_sequences=["END", "world!"]))).json()
    assert (stopped["content"], stopped["stop_reason"], stopped["stop_sequence"]) == (
        [{"type": "text", "text": "Hello world. "}],
        "stop_sequence",
        "END",
    )
    cat.script(TurnResult(" t0 t1 t2 t3 t4 t5", prompt_tokens=4))
    cut = (await post(client, ask(max_tokens=3))).json()
    assert (cut["content"][0]["text"], cut["stop_reason"], cut["stop_sequence"]) == (" t0 t", "max_tokens", None)
    assert cut["usage"]["output_tokens"] == 3 == tokens.count_text(" t0 t")


async def test_cat_failures_are_anthropic_errors(client, cat):
    cat.script(CatFailure("LLM down"))
    failed = await post(client, ask())
    assert (failed.status_code, failed.json()["error"]) == (
        502,
        {"type": "api_error", "message": "The Cat could not answer: LLM down"},
    )
    assert failed.headers["x-should-retry"] == "false"
    cat.script(CatTimeout(3))
    timed_out = await post(client, ask())
    assert (timed_out.status_code, timed_out.json()["error"]["type"]) == (504, "timeout_error")
    unknown = await post(client, {**ask(), "model": "claude-opus"})
    assert (unknown.status_code, unknown.json()["error"]["type"]) == (404, "not_found_error")
    cat.settings = settings(max_request_bytes=1024)
    large = await post(client, ask("x" * 2000))
    assert (large.status_code, large.json()["error"]["type"]) == (413, "invalid_request_error")


async def test_rate_limits_speak_anthropic(client, cat):
    cat.settings = settings(rate_limit_per_minute=1)
    first = await post(client, ask())
    assert not any(k.startswith(("x-ratelimit-", "retry-after")) for k in first.headers)
    assert (
        first.headers["anthropic-ratelimit-requests-limit"],
        first.headers["anthropic-ratelimit-requests-remaining"],
    ) == ("1", "0")
    second = await post(client, ask())
    assert second.status_code == 429
    assert second.json()["error"] == {
        "type": "rate_limit_error",
        "message": "Rate limit reached for requests per minute: limit 1. Please try again in 60.0s.",
    }
    assert (second.headers["retry-after"], second.headers["retry-after-ms"]) == ("60", "60000")
    reset = datetime.strptime(second.headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
    ahead = reset.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)
    assert 55 <= ahead.total_seconds() <= 61
    assert not any(k.startswith("x-ratelimit-") for k in second.headers)
    assert len(cat.turns) == 1


# Tools (client tools, as chat's on Cat v2)


async def test_tool_use_round_trip(client, cat):
    call = ToolCall("call_1", "get_weather", '{"city": "Rome"}')
    cat.script(TurnResult("", prompt_tokens=7, tool_calls=(call,)))
    first = (await post(client, ask("Weather?", tools=[WEATHER], tool_choice={"type": "auto"}))).json()
    assert (first["content"], first["stop_reason"]) == (
        [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Rome"}}],
        "tool_use",
    )
    assert cat.turns[-1].tools == (ClientTool("get_weather", "Weather in a city", WEATHER["input_schema"]),)
    body = ask("Weather?", tools=[WEATHER])
    body["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
                {"type": "text", "text": "and tomorrow?"},
            ],
        },
    ]
    assert (await post(client, body)).status_code == 200
    turns = cat.turns[-1].conversation.turns
    assert [(t.role, t.text, t.tool_calls, t.tool_call_id) for t in turns] == [
        ("user", "Weather?", (), None),
        ("assistant", "", (ToolCall("call_1", "get_weather", '{"city": "Rome"}'),), None),
        ("tool", "sunny", (), "call_1"),
        ("user", "and tomorrow?", (), None),
    ]
    body["messages"][-1]["content"][0]["tool_use_id"] = "call_9"
    orphan = await post(client, body)
    assert orphan.status_code == 400 and "unknown tool_use_id 'call_9'" in orphan.json()["error"]["message"]


async def test_tool_choice_none_offers_no_tools(client, cat):
    assert (await post(client, ask(tools=[WEATHER], tool_choice={"type": "none"}))).status_code == 200
    assert cat.turns[-1].tools == ()


async def test_a_cat_without_client_tools_refuses_them(client, cat):
    cat.supports_client_tools = False
    refused = await post(client, ask(tools=[WEATHER]))
    assert refused.status_code == 400 and "send the request without 'tools'" in refused.json()["error"]["message"]
    body = ask()
    body["messages"] = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": "r"}]},
    ]
    assert (await post(client, body)).status_code == 400
    counted = await post(client, {k: body[k] for k in ("model", "messages")}, path="/v1/messages/count_tokens")
    assert counted.status_code == 200  # counting runs no turn
    assert cat.turns == []


# Streams


async def test_stream_is_anthropics_event_sequence_one_delta_per_token(client, cat):
    cat.script("Hel", "lo", " there", TurnResult("Hello there", prompt_tokens=12))
    response = await client.post("/v1/messages", json=ask(stream=True), headers=KEY)
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream; charset=utf-8"
    stream = events(response.content)
    message_id = stream[0][1]["message"]["id"]
    assert stream == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": "cheshire-cat",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": tokens.count_chat([("user", "Hi")]),
                        "output_tokens": 0,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                    },
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
            )
            for t in ("Hel", "lo", " there")
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": tokens.count_text("Hello there"), "input_tokens": 12},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert cat.turns[-1].stream is True


async def test_stream_tool_use_blocks_follow_the_text(client, cat):
    calls = (ToolCall("call_1", "get_weather", '{"city": "Rome"}'), ToolCall("call_2", "now", "{}"))
    cat.script("Let me check.", TurnResult("Let me check.", prompt_tokens=5, tool_calls=calls))
    stream = events((await client.post("/v1/messages", json=ask(stream=True, tools=[WEATHER]), headers=KEY)).content)
    assert [(name, e.get("index")) for name, e in stream] == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert stream[4][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}
    assert stream[5][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city": "Rome"}'}
    assert stream[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_a_stream_that_only_calls_tools_has_no_text_block(client, cat):
    cat.script(TurnResult("", prompt_tokens=5, tool_calls=(ToolCall("call_1", "now", "{}"),)))
    stream = events((await client.post("/v1/messages", json=ask(stream=True, tools=[WEATHER]), headers=KEY)).content)
    assert stream[1][1]["content_block"]["type"] == "tool_use" and stream[1][1]["index"] == 0


async def test_a_stream_replays_under_its_idempotency_key(client, cat):
    headers = {**KEY, "idempotency-key": "k1"}
    first = await client.post("/v1/messages", json=ask(stream=True), headers=headers)
    again = await client.post("/v1/messages", json=ask(stream=True), headers=headers)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["request-id"] != first.headers["request-id"]
    assert len(cat.turns) == 1


async def test_streaming_disabled_is_a_400(client, cat):
    cat.settings = settings(enable_streaming=False)
    refused = await post(client, ask(stream=True))
    assert refused.status_code == 400 and "enable_streaming" in refused.json()["error"]["message"]


# count_tokens


async def test_count_tokens_counts_the_clients_prompt(client, cat):
    body = {
        "model": "cheshire-cat",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello, how are you?"}],
        "tools": [WEATHER],
    }
    counted = await post(client, body, path="/v1/messages/count_tokens")
    expected = count_prompt(
        Conversation("Be brief.", [Turn("user", [TextPart("Hello, how are you?")])]),
        (ClientTool("get_weather", "Weather in a city", WEATHER["input_schema"]),),
    )
    assert counted.status_code == 200 and counted.json() == {"input_tokens": expected}
    assert expected > tokens.count_chat([("system", "Be brief."), ("user", "Hello, how are you?")])
    assert cat.turns == []
    unknown = await post(client, {**body, "model": "nope"}, path="/v1/messages/count_tokens")
    assert unknown.status_code == 404
    unauthenticated = await post(client, body, {}, path="/v1/messages/count_tokens")
    assert unauthenticated.status_code == 401


async def test_count_tokens_does_not_block_the_loop_for_long(client):
    text = "word " * 200_000  # ~1 MB: counted in a thread
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    body = {"model": "cheshire-cat", "messages": [{"role": "user", "content": text}]}
    try:
        counted = await post(client, body, path="/v1/messages/count_tokens")
    finally:
        ticker.cancel()
    assert counted.json()["input_tokens"] == tokens.count_chat([("user", text)])
    assert ticks > 1
