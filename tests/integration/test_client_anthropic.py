"""The official `anthropic` Python SDK against the bridge's Messages API, on a real Cat.

Every body and event the SDK receives is also parsed with its own types, strictly, by the contract hook
(testkit/contract.py); these tests check what a client sees: answers through the Cat's agent, streams token by
token, tools on Cat v2, token counts, and Anthropic's typed errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from .conftest import KEY, cat_jwt

TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
MODEL = "cheshire-cat"


def says(text: str) -> list:
    return [{"role": "user", "content": text}]


@pytest.fixture
def claude(cat) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=cat.url + "/custom", api_key=KEY, max_retries=0) as c:
        yield c


def test_create_runs_the_cats_turn(claude, llm_log):
    raw = claude.messages.with_raw_response.create(
        model=MODEL, max_tokens=200, system="Be brief.", messages=says("hello from anthropic")
    )
    message = raw.parse()
    assert raw.headers["request-id"] == message._request_id and message._request_id.startswith("req_")
    assert (message.role, message.stop_reason, message.stop_sequence) == ("assistant", "end_turn", None)
    assert [(b.type, b.text) for b in message.content] == [("text", "Echo: hello from anthropic")]
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    sent = llm_log()[-1]["body"]["messages"]
    assert sent[0]["role"] == "system" and "Be brief." in sent[0]["content"]
    assert sent[-1]["content"] == "hello from anthropic" or "hello from anthropic" in str(sent[-1]["content"])


def test_x_api_key_and_bearer_are_the_same_check(cat):
    """SDKs from 2.x send `api_key` as a bearer; older ones, curl and Claude Code with ANTHROPIC_API_KEY send
    `x-api-key`: the Cat checks either as its own bearer (a JWT too)."""
    for headers in ({"x-api-key": KEY}, {"x-api-key": cat_jwt("anthropic-user")}):
        with anthropic.Anthropic(base_url=cat.url + "/custom", default_headers=headers, max_retries=0) as c:
            assert c.api_key is None and c.auth_token is None
            answer = c.messages.create(model=MODEL, max_tokens=50, messages=says("by x-api-key"))
            assert answer.content[0].text == "Echo: by x-api-key"
    with anthropic.Anthropic(base_url=cat.url + "/custom", auth_token=KEY, max_retries=0) as c:
        assert c.messages.create(model=MODEL, max_tokens=50, messages=says("bearer")).content[0].text == "Echo: bearer"
    with anthropic.Anthropic(base_url=cat.url + "/custom", default_headers={"x-api-key": "wrong"}, max_retries=0) as c:
        with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
            c.messages.create(model=MODEL, max_tokens=50, messages=says("x"))


def test_stream_token_by_token(claude):
    with claude.messages.stream(model=MODEL, max_tokens=200, messages=says("[[tokens:4]]")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == [" t0", " t1", " t2", " t3"]
    assert final.content[0].text == " t0 t1 t2 t3" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_raw_stream_events_in_anthropics_order(claude):
    kinds = [
        e.type for e in claude.messages.create(model=MODEL, max_tokens=200, messages=says("[[tokens:2]]"), stream=True)
    ]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stop_sequences_and_max_tokens(claude):
    stopped = claude.messages.create(
        model=MODEL, max_tokens=200, messages=says("[[reply:one two STOP three]]"), stop_sequences=["STOP"]
    )
    assert (stopped.content[0].text, stopped.stop_reason, stopped.stop_sequence) == (
        "one two ",
        "stop_sequence",
        "STOP",
    )
    with claude.messages.stream(model=MODEL, max_tokens=4, messages=says("[[tokens:40]]")) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 4


def test_heartbeats_are_pings_the_sdk_skips(claude, settings):
    settings(stream_heartbeat_seconds=0.2)
    with claude.messages.stream(model=MODEL, max_tokens=100, messages=says("[[tokens:2]] [[delay:500]]")) as stream:
        assert list(stream.text_stream) == [" t0", " t1"]


def test_count_tokens(claude):
    short = claude.messages.count_tokens(model=MODEL, messages=says("hi"))
    longer = claude.messages.count_tokens(model=MODEL, system="Be brief.", messages=says("hi"), tools=[TOOL])
    assert 0 < short.input_tokens < longer.input_tokens


def test_typed_errors(cat, claude):
    with anthropic.Anthropic(base_url=cat.url + "/custom", api_key="wrong", max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError) as denied:
            bad.messages.create(model=MODEL, max_tokens=10, messages=says("x"))
    assert denied.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="no-such-agent", max_tokens=10, messages=says("x"))
    assert missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as forced:
        claude.messages.create(model=MODEL, max_tokens=10, messages=says("x"), tool_choice={"type": "any"})
    assert "tool_choice: forcing a tool needs 'tools'" in forced.value.message
    clamped = claude.messages.with_raw_response.create(model=MODEL, max_tokens=8000, messages=says("[[tokens:20]]"))
    assert clamped.headers["x-openai-bridge-max-tokens"] == "4000" and clamped.parse().stop_reason == "end_turn"
    with pytest.raises(anthropic.InternalServerError) as failed:
        claude.messages.create(model=MODEL, max_tokens=10, messages=says("[[fail:status:400]]"))
    assert failed.value.status_code == 502 and failed.value.body["error"]["type"] == "api_error"


def test_a_failure_mid_stream_raises_after_the_real_tokens(claude):
    seen = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with claude.messages.stream(model=MODEL, max_tokens=100, messages=says("[[tokens:10]] [[fail:after:3]]")) as s:
            for text in s.text_stream:
                seen.append(text)
    assert seen == [" t0", " t1", " t2"]
    assert info.value.body["error"]["type"] == "api_error" and info.value.body["type"] == "error"


def test_rate_limits_are_429s_with_anthropic_headers(claude, settings):
    settings(rate_limit_per_minute=1)
    claude.messages.create(model=MODEL, max_tokens=10, messages=says("first"))
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model=MODEL, max_tokens=10, messages=says("second"))
    headers = limited.value.response.headers
    assert headers["anthropic-ratelimit-requests-limit"] == "1" and headers["retry-after"] == "60"
    assert limited.value.body["error"]["type"] == "rate_limit_error"


def test_models_list_reads_the_openai_list(claude, http):
    """The Anthropic SDK pages `data` and builds ModelInfo without validating it: our OpenAI list reads as it is."""
    ids = [model.id for model in claude.models.list()]
    assert "cheshire-cat" in ids
    assert ids == [m["id"] for m in http.get("/custom/v1/models").json()["data"]]


@pytest.mark.v2_only
def test_tool_use_round_trip(claude, llm_log):
    messages = says('Weather in Rome? [[call:get_weather:{"city": "Rome"}]]')
    first = claude.messages.create(model=MODEL, max_tokens=200, messages=messages, tools=[TOOL])
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Rome"})
    assert [t["function"]["name"] for t in llm_log()[-1]["body"]["tools"]] == ["get_weather"]
    messages += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 24C"}]},
    ]
    second = claude.messages.create(model=MODEL, max_tokens=200, messages=messages, tools=[TOOL])
    assert (second.stop_reason, second.content[0].text) == ("end_turn", "Tool said: sunny, 24C")
    sent = llm_log()[-1]["body"]["messages"]
    assert [m["role"] for m in sent[-3:]] == ["user", "assistant", "tool"] and sent[-1]["tool_call_id"] == call.id


@pytest.mark.v2_only
def test_streamed_tool_use_accumulates_its_input(claude):
    with claude.messages.stream(
        model=MODEL,
        max_tokens=200,
        messages=says('[[call:get_weather:{"city": "Oslo"}]]'),
        tools=[TOOL],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.input) for b in final.content if b.type == "tool_use"] == [("tool_use", {"city": "Oslo"})]


@pytest.mark.v2_only
def test_image_blocks_reach_the_cats_llm(claude, llm_log):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "text", "text": "what is this?"},
    ]
    claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": content}])
    parts = llm_log()[-1]["body"]["messages"][-1]["content"]
    assert any(p.get("type") == "image_url" and png in p["image_url"]["url"] for p in parts)


def test_tools_on_cat_v1_are_a_clear_400(claude, adapter):
    if adapter != "v1":
        pytest.skip("Cat v1 only: v2 runs client tools")
    with pytest.raises(anthropic.BadRequestError, match="send the request without 'tools'"):
        claude.messages.create(model=MODEL, max_tokens=10, messages=says("x"), tools=[TOOL])


def test_raw_wire_shape(cat):
    """What an HTTP client without an SDK sees, with the headers Anthropic sends."""
    response = httpx.post(
        cat.url + "/custom/v1/messages",
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "x"},
        json={"model": MODEL, "max_tokens": 20, "messages": says("raw")},
        timeout=30,
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["content"] == [{"type": "text", "text": "Echo: raw"}] and body["type"] == "message"
    assert set(body["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }


@pytest.mark.v2_only
@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "get_weather"}])
def test_forced_tool_choice_makes_the_agent_call(claude, llm_log, choice):
    done = claude.messages.create(
        model=MODEL, max_tokens=200, messages=says("weather?"), tools=[TOOL], tool_choice=choice
    )
    assert done.stop_reason == "tool_use"
    [call] = [b for b in done.content if b.type == "tool_use"]
    assert call.name == "get_weather" and set(call.input) == set(TOOL["input_schema"]["properties"])
    system = "".join(str(m["content"]) for m in llm_log()[-1]["body"]["messages"] if m["role"] == "system")
    assert "Answer by calling" in system and "`get_weather`" in system


def test_output_config_json_schema_is_a_structured_answer(claude, llm_log):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "people": {"type": "integer"}},
        "required": ["city", "people"],
        "additionalProperties": False,
    }
    done = claude.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=says("Rome"),
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    assert json.loads(done.content[0].text) == {"city": "text", "people": 1}
    with pytest.raises(anthropic.BadRequestError) as broken:
        claude.messages.create(
            model=MODEL,
            max_tokens=200,
            messages=says("x [[stubborn]] [[reply:no]]"),
            extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
        )
    assert broken.value.status_code == 400 and "not valid JSON" in broken.value.message
    assert broken.value.response.headers["x-should-retry"] == "false"
