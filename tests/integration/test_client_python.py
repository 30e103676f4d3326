"""The openai Python SDK's own surfaces on the bridge: raw responses, streaming responses, extras, output limits."""

from __future__ import annotations

import pytest

from .conftest import first_tokens, user_says


def test_with_raw_response_headers_and_parse(client):
    raw = client.chat.completions.with_raw_response.create(model="cheshire-cat", messages=user_says("raw"))
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/json")
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.parse().choices[0].message.content == "Echo: raw"


def test_with_raw_response_on_a_stream(client):
    raw = client.chat.completions.with_raw_response.create(
        model="cheshire-cat", messages=user_says("[[tokens:3]]"), stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert (raw.headers["cache-control"], raw.headers["x-accel-buffering"]) == ("no-cache", "no")
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == " t0 t1 t2"
    assert chunks[-1].usage.completion_tokens > 0


def test_with_streaming_response_reads_lines_as_they_come(client):
    with client.chat.completions.with_streaming_response.create(
        model="cheshire-cat", messages=user_says("[[tokens:2]]"), stream=True
    ) as response:
        assert response.headers["x-request-id"].startswith("req_")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_extra_body_fields_and_sampling_are_accepted(client):
    answer = client.chat.completions.create(
        model="cheshire-cat",
        messages=user_says("extras"),
        temperature=0.3,
        top_p=0.5,
        seed=7,
        presence_penalty=1,
        frequency_penalty=-1,
        user="label",
        extra_body={"top_k": 40, "num_ctx": 8192, "repetition_penalty": 1.1},
    )
    assert answer.choices[0].message.content == "Echo: extras"


@pytest.mark.parametrize("limit", [{"max_tokens": 3}, {"max_completion_tokens": 3}])
def test_sdk_stream_cut_by_the_token_limit(client, limit):
    chunks = list(
        client.chat.completions.create(model="cheshire-cat", messages=user_says("[[tokens:30]]"), stream=True, **limit)
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first_tokens("".join(f" t{i}" for i in range(30)), 3) == " t0 t"  # " t0" is two tokens


def test_sdk_stream_cut_at_a_stop_string(client):
    chunks = list(
        client.chat.completions.create(
            model="cheshire-cat", messages=user_says("[[reply:alpha beta END gamma]]"), stream=True, stop=["END", "zzz"]
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "alpha beta " and chunks[-1].choices[0].finish_reason == "stop"


def test_responses_with_raw_response(client):
    raw = client.responses.with_raw_response.create(model="cheshire-cat", input="raw responses")
    assert raw.headers["x-request-id"].startswith("req_") and raw.parse().output_text == "Echo: raw responses"
