"""Client mistakes get OpenAI error objects; Cat failures get 502/504, never a canned answer."""

from __future__ import annotations

import uuid

import openai
import pytest

from testkit import sse
from testkit.cat_v1 import put_bridge_settings_v1
from testkit.cat_v2 import put_bridge_settings

from .conftest import KEY, cat_jwt, full_settings, user_says

CHAT = "/custom/v1/chat/completions"
HI = user_says("hi")


def error_of(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def v1_refusal(body, param, code):
    """A text-only Cat without client tools (v1) refuses those features as a whole, before their details."""
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
    if "tools" in body:
        return "tools", "unsupported_parameter"
    if first.get("role") == "tool":
        return param, "unsupported_value"
    if isinstance(first.get("content"), list) and first["content"][0].get("type") == "image_url":
        return "messages.[0].content.[0].type", "unsupported_content"
    return param, code


@pytest.mark.parametrize(
    "body,param,code",
    [
        ({"messages": HI}, "model", "missing_required_parameter"),
        ({"model": "cheshire-cat"}, "messages", "missing_required_parameter"),
        ({"model": "cheshire-cat", "messages": []}, "messages", "empty_array"),
        ({"model": "cheshire-cat", "messages": "hi"}, "messages", "invalid_type"),
        (
            {"model": "cheshire-cat", "messages": [{"role": "wizard", "content": "hi"}]},
            "messages.[0].role",
            "invalid_value",
        ),
        ({"model": "cheshire-cat", "messages": [{"content": "hi"}]}, "messages.[0].role", "missing_required_parameter"),
        (
            {"model": "cheshire-cat", "messages": [{"role": "user", "content": 5}]},
            "messages.[0].content",
            "invalid_type",
        ),
        (
            {"model": "cheshire-cat", "messages": [*HI, {"role": "assistant", "content": "x"}]},
            "messages",
            "invalid_value",
        ),
        (
            {"model": "cheshire-cat", "messages": [{"role": "user", "content": ""}]},
            "messages.[0].content",
            "invalid_value",
        ),
        ({"model": "cheshire-cat", "messages": HI, "n": 2}, "n", "unsupported_value"),
        ({"model": "cheshire-cat", "messages": HI, "temperature": "hot"}, "temperature", "invalid_type"),
        ({"model": "cheshire-cat", "messages": HI, "temperature": 3}, "temperature", "invalid_value"),
        ({"model": "cheshire-cat", "messages": HI, "stream": "yes"}, "stream", "invalid_type"),
        ({"model": "cheshire-cat", "messages": HI, "max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"model": "cheshire-cat", "messages": HI, "max_tokens": "many"}, "max_tokens", "invalid_type"),
        ({"model": "cheshire-cat", "messages": HI, "stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value"),
        (
            {"model": "cheshire-cat", "messages": HI, "stream_options": {"include_usage": True}},
            "stream_options",
            "invalid_value",
        ),
        (
            {"model": "cheshire-cat", "messages": HI, "tools": [{"type": "retrieval"}]},
            "tools.[0].type",
            "invalid_value",
        ),
        (
            {"model": "cheshire-cat", "messages": HI, "tools": [{"type": "function", "function": {"name": "a b"}}]},
            "tools.[0].function.name",
            "invalid_value",
        ),
        (
            {"model": "cheshire-cat", "messages": HI, "tool_choice": "required"},
            "tool_choice",
            "invalid_value",
        ),
        (
            {"model": "cheshire-cat", "messages": HI, "response_format": {"type": "json_schema"}},
            "response_format.json_schema",
            "missing_required_parameter",
        ),
        (
            {"model": "cheshire-cat", "messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]},
            "messages.[0].role",
            "invalid_value",
        ),
        (
            {"model": "cheshire-cat", "messages": [{"role": "function", "content": "x", "name": "f"}]},
            "messages.[0].role",
            "unsupported_value",
        ),
        (
            {
                "model": "cheshire-cat",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
                    }
                ],
            },
            "messages.[0].content.[0].image_url.url",
            "unsupported_image_url",
        ),
        (
            {"model": "cheshire-cat", "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
            "messages.[0].content.[0].type",
            "invalid_value",
        ),
    ],
)
def test_bad_requests_are_400_naming_the_field(http, adapter, body, param, code):
    if adapter == "v1":
        param, code = v1_refusal(body, param, code)
    error = error_of(http.post(CHAT, json=body), 400)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe\x00", b'{"model": "x", "messages": ' + b"[" * 3000])
def test_unparseable_bodies_are_400(http, raw):
    error = error_of(http.post(CHAT, content=raw, headers={"content-type": "application/json"}), 400)
    assert error["type"] == "invalid_request_error"


def test_sdk_raises_bad_request_with_the_param(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="cheshire-cat", messages=[])
    assert info.value.param == "messages" and info.value.code == "empty_array"


def test_oversized_body_is_413_before_reaching_the_cat(http, settings, llm_log):
    settings(max_request_bytes=2048)
    error = error_of(http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("x" * 5000)}), 413)
    assert error["code"] == "request_too_large"
    assert llm_log() == []


def test_too_many_messages_is_400(http, settings):
    settings(max_messages=3)
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 2 + HI
    error = error_of(http.post(CHAT, json={"model": "cheshire-cat", "messages": messages}), 400)
    assert (error["param"], error["code"]) == ("messages", "too_many_messages")


def test_llm_failure_is_502_not_an_answer(http):
    error = error_of(http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("[[fail:status:400]]")}), 502)
    assert (error["type"], error["code"]) == ("api_error", "cat_error")
    assert error["message"].startswith("The Cat could not answer")


def test_llm_failure_mid_stream_ends_with_an_error_event(http):
    with http.stream(
        "POST", CHAT, json={"model": "cheshire-cat", "stream": True, "messages": user_says("[[fail:status:400]]")}
    ) as response:
        events = sse.parse(response.iter_lines())
    assert response.status_code == 200
    assert events[-1].json["error"]["code"] == "cat_error"
    assert all(e.data != "[DONE]" for e in events)
    assert all(c["finish_reason"] is None for e in events[:-1] for c in e.json["choices"])


def test_sdk_surfaces_the_stream_error(client):
    raw = client.chat.completions.with_raw_response.create(
        model="cheshire-cat", stream=True, messages=user_says("[[fail:status:400]]")
    )
    assert raw.status_code == 200  # the stream had begun: the failure is its last event
    with pytest.raises(openai.APIError) as info:
        for _ in raw.parse():
            pass
    # exactly the SDK's error for an error event: not a connection error, not a status error
    assert type(info.value) is openai.APIError
    assert (info.value.type, info.value.code) == ("api_error", "cat_error")
    assert info.value.message.startswith("The Cat could not answer")


def test_timeout_is_504_and_stream_error_event(http, settings):
    settings(request_timeout=1)
    error = error_of(http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("[[hang]]")}), 504)
    assert (error["type"], error["code"]) == ("api_error", "timeout")
    with http.stream(
        "POST", CHAT, json={"model": "cheshire-cat", "stream": True, "messages": user_says("[[hang]]")}
    ) as response:
        events = sse.parse(response.iter_lines())
    assert events[-1].json["error"]["code"] == "timeout"
    assert http.post(CHAT, json={"model": "cheshire-cat", "messages": HI}).status_code == 200


def test_rate_limit_429_with_openai_headers(http, settings):
    settings(rate_limit_per_minute=2)
    # A user of its own: the suite's other requests in this minute must not count against a limit of 2.
    auth = {"Authorization": f"Bearer {cat_jwt(f'limited-{uuid.uuid4().hex[:8]}')}"}
    ok = [http.post(CHAT, json={"model": "cheshire-cat", "messages": HI}, headers=auth) for _ in range(2)]
    assert [r.status_code for r in ok] == [200, 200]
    assert ok[0].headers["x-ratelimit-limit-requests"] == "2"
    assert [r.headers["x-ratelimit-remaining-requests"] for r in ok] == ["1", "0"]
    limited = http.post(CHAT, json={"model": "cheshire-cat", "messages": HI}, headers=auth)
    error = error_of(limited, 429)
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert 1 <= int(limited.headers["retry-after"]) <= 30
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"


def test_bridge_settings_are_validated_by_the_cat(cat, adapter, http, settings):
    """Each Cat's own settings route (v2 `PUT /settings/...`, v1 `PUT /plugins/settings/...`): an in-range value
    is saved and applies to the next request; an out-of-range one is refused and changes nothing."""
    put = put_bridge_settings_v1 if adapter == "v1" else put_bridge_settings
    assert put(cat.url, full_settings({"rate_limit_per_minute": 777}), api_key=KEY).status_code == 200

    def limit() -> str:
        return http.post(CHAT, json={"model": "cheshire-cat", "messages": HI}).headers["x-ratelimit-limit-requests"]

    assert limit() == "777"
    for bad in ({"rate_limit_per_minute": 5000}, {"max_tokens": -1}, {"system_message_policy": "shout"}):
        response = put(cat.url, full_settings({"rate_limit_per_minute": 1000, **bad}), api_key=KEY)
        assert response.status_code == 400, (bad, response.text)
        assert limit() == "777"  # nothing of the refused body was saved
