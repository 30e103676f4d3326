"""True token streaming: one SSE chunk per token of the Cat's LLM, as it produces them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from testkit import sse

from .conftest import first_tokens, user_says


def stream_raw(http, **body):
    with http.stream(
        "POST", "/custom/v1/chat/completions", json={"model": "cheshire-cat", "stream": True, **body}
    ) as r:
        return r, sse.parse(r.iter_lines())


def test_sse_wire_shape_and_event_order(http):
    response, events = stream_raw(
        http, messages=user_says("[[reply:one two three]]"), stream_options={"include_usage": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    bodies = [e.json for e in events[:-1]]
    assert events[-1].data == "[DONE]"
    first = bodies[0]
    assert {(b["id"], b["created"], b["object"], b["model"]) for b in bodies} == {
        (first["id"], first["created"], "chat.completion.chunk", "cheshire-cat")
    }
    assert [b["choices"] for b in bodies] == [
        [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "", "refusal": None},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
        [{"index": 0, "delta": {"content": "one"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {"content": " two"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {"content": " three"}, "logprobs": None, "finish_reason": None}],
        [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
        [],
    ]
    assert all(b["usage"] is None for b in bodies[:-1])
    usage = bodies[-1]["usage"]
    assert usage["completion_tokens"] == 3 and usage["total_tokens"] == usage["prompt_tokens"] + 3


def test_without_include_usage_there_is_no_usage_field(http):
    _, events = stream_raw(http, messages=user_says("hi"))
    assert all("usage" not in e.json for e in events[:-1])
    assert [e.json["choices"][0]["finish_reason"] for e in events[:-1]][-1] == "stop"


def test_one_chunk_per_llm_token_each_sent_as_the_llm_makes_it(http, llm, llm_log):
    """No clock: the LLM sends its second token only once the client holds the first (a gate the test opens).
    A bridge that held tokens back would reach the client only after the gate timed out, and fail."""
    gate = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "stream": True, "messages": user_says(f"[[tokens:12]] [[gate:{gate}]]")}
    with http.stream("POST", "/custom/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        head = []
        for line in lines:
            head.append(line)
            if '"content":" t0"' in line:
                break
        httpx.post(f"{llm.url}/_gates/{gate}", timeout=10).raise_for_status()
        events = sse.parse([*head, *lines])
    content = [e.json["choices"][0]["delta"]["content"] for e in events[1:-2]]
    assert content == [f" t{i}" for i in range(12)]
    (call,) = [e for e in llm_log() if gate in str(e["body"]["messages"])]
    assert call["gate"] == "opened"


def test_sdk_streaming_with_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="cheshire-cat",
            messages=user_says("[[reply:a b c d]]"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "a b c d"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1


@pytest.mark.asyncio
async def test_async_sdk_streaming(aclient):
    stream = await aclient.chat.completions.create(
        model="cheshire-cat", messages=user_says("[[reply:x y]]"), stream=True
    )
    parts = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert parts == ["x", " y"]
    await aclient.close()


def test_hook_edited_answer_is_completed_at_the_end(http):
    _, events = stream_raw(http, messages=user_says("[[reply:PURR now]]"))
    assert sse.content_of(events) == "PURR now (hooked)"


def test_stream_cut_by_max_tokens(http):
    words = "Grinning Cheshire catsup unbirthday flamingo croquet"  # 2-3 tokens a word: the cut falls inside one
    _, events = stream_raw(
        http,
        messages=user_says(f"[[reply:{words}]]"),
        max_tokens=5,
        stream_options={"include_usage": True},
    )
    assert sse.content_of(events) == first_tokens(words, 5) == "Grinning Cheshire cats"
    finishes = [e.json["choices"][0]["finish_reason"] for e in events[:-1] if e.json["choices"]]
    assert finishes[-1] == "length" and finishes.count("length") == 1
    assert events[-2].json["usage"]["completion_tokens"] == 5
    assert events[-1].data == "[DONE]"


def test_stream_cut_at_stop_sequence(http):
    _, events = stream_raw(http, messages=user_says("[[reply:alpha beta STOP gamma delta]]"), stop="STOP")
    assert sse.content_of(events) == "alpha beta "
    assert events[-2].json["choices"][0]["finish_reason"] == "stop"


def test_streaming_disabled_setting_is_a_clear_400(http, settings):
    settings(enable_streaming=False)
    response = http.post(
        "/custom/v1/chat/completions", json={"model": "cheshire-cat", "stream": True, "messages": user_says("hi")}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"
    assert response.json()["error"]["code"] == "streaming_disabled"
