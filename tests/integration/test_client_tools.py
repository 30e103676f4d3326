"""Function calling end to end: the Cat's agent calls the client's tools, the client answers them."""

from __future__ import annotations

import json

import openai
import pytest

from testkit.sse import parse

from .conftest import user_says

pytestmark = pytest.mark.v2_only

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = 'Weather in Rome? [[call:get_weather:{"city": "Rome"}]]'


def test_sdk_tool_calling_flow(client, llm_log):
    messages = user_says(ASK)
    first = client.chat.completions.create(model="cheshire-cat", messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert (call.type, call.function.name, json.loads(call.function.arguments)) == (
        "function",
        "get_weather",
        {"city": "Rome"},
    )
    assert call.id.startswith("call_")
    assert first.usage.completion_tokens > 0
    offered = llm_log()[-1]["body"]["tools"]
    assert [t["function"]["name"] for t in offered] == ["get_weather"]
    assert offered[0]["function"]["parameters"] == WEATHER["function"]["parameters"]

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"},
    ]
    second = client.chat.completions.create(model="cheshire-cat", messages=messages, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool said: sunny, 24C"
    assert second.choices[0].message.tool_calls is None
    sent = llm_log()[-1]["body"]["messages"]
    assert [m["role"] for m in sent[-3:]] == ["user", "assistant", "tool"]
    assert sent[-2]["tool_calls"][0]["id"] == call.id and sent[-1]["tool_call_id"] == call.id


def test_tool_calls_stream_as_deltas(client, http):
    body = {
        "model": "cheshire-cat",
        "messages": user_says(ASK + ' [[call:get_time:{"tz": "CET"}]]'),
        "tools": [WEATHER, {"type": "function", "function": {"name": "get_time"}}],
        "stream": True,
    }
    events = parse(http.post("/custom/v1/chat/completions", json=body).text.split("\n"))
    data = [e.data for e in events]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [(c["index"], c.get("id", "")[:5], c["function"]) for c in calls] == [
        (0, "call_", {"name": "get_weather", "arguments": ""}),
        (0, "", {"arguments": '{"city": "Rome"}'}),
        (1, "call_", {"name": "get_time", "arguments": ""}),
        (1, "", {"arguments": '{"tz": "CET"}'}),
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 5 + ["tool_calls"]

    stream = client.chat.completions.create(model="cheshire-cat", messages=user_says(ASK), tools=[WEATHER], stream=True)
    pieces = [c.choices[0] for c in stream]
    assert pieces[-1].finish_reason == "tool_calls"
    args = "".join(tc.function.arguments or "" for p in pieces for tc in (p.delta.tool_calls or []))
    assert json.loads(args) == {"city": "Rome"}


def test_tool_choice_none_hides_the_tools(client, llm_log):
    answer = client.chat.completions.create(
        model="cheshire-cat", messages=user_says("hi"), tools=[WEATHER], tool_choice="none"
    )
    assert answer.choices[0].message.content == "Echo: hi"
    assert "tools" not in llm_log()[-1]["body"]


def test_a_call_to_a_tool_nobody_offered_is_reasked_naming_the_tools_that_exist(client, llm_log):
    """Small models do this (seen through n8n); the Cat's agent raised `Tool get_weather not found`, a 502."""
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says("[[call:get_weather:{}]]"))
    [first, again] = llm_log()[-2:]
    assert [t["function"]["name"] for t in first["body"].get("tools", [])] == [
        t["function"]["name"] for t in again["body"].get("tools", [])
    ]
    correction = again["body"]["messages"][-1]["content"]
    correction = correction if isinstance(correction, str) else correction[0]["text"]
    assert correction.startswith("Your previous answer could not be used: there is no tool `get_weather`; ")
    assert answer.choices[0].message.content == "Echo: " + correction
    with pytest.raises(openai.BadRequestError) as stubborn:
        client.with_options(max_retries=0).chat.completions.create(
            model="cheshire-cat", messages=user_says("[[stubborn]] [[call:get_weather:{}]]")
        )
    assert stubborn.value.code == "invalid_structured_output"
    assert "called the tool 'get_weather', which this turn does not offer" in stubborn.value.message
    assert stubborn.value.response.headers["x-should-retry"] == "false"
