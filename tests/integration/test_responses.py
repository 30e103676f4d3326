"""The Responses API with the real openai SDK: objects, typed stream events, failures."""

from __future__ import annotations

import json
from typing import get_args

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from .conftest import count_tokens

# openai-python's class for every stream event type, e.g. "response.output_text.delta" -> ResponseTextDeltaEvent
EVENT_TYPES = {
    get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def events_of(raw_text: str) -> list:
    """(event name, payload) of every SSE block, each payload validated against openai-python's event types."""
    out = []
    for block in (b for b in raw_text.split("\n\n") if b):
        name, data = block.split("\n")
        payload = json.loads(data[len("data: ") :])
        EVENT_TYPES[payload["type"]].model_validate(payload)  # required fields and Literals, as OpenAI's types say
        out.append((name[len("event: ") :], payload))
    return out


def test_create_returns_a_response_object(client, llm_log):
    response = client.responses.create(model="cheshire-cat", input="hi there", instructions="Be brief.")
    assert response.id.startswith("resp_") and response.object == "response"
    assert (response.status, response.output_text, response.model) == ("completed", "Echo: hi there", "cheshire-cat")
    [message] = response.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    assert response.usage.input_tokens > 0 and response.usage.output_tokens == count_tokens("Echo: hi there")
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    system = llm_log()[-1]["body"]["messages"][0]
    assert system["role"] == "system" and "Be brief." in system["content"]


def test_the_object_matches_openais_types(http):
    raw = http.post(
        "/custom/v1/responses",
        json={
            "model": "cheshire-cat",
            "input": "typed",
            "unknown_extra": 1,
            "include": [],
            "truncation": "auto",
            "parallel_tool_calls": False,
        },
    )
    assert raw.status_code == 200 and raw.headers["x-request-id"].startswith("req_")
    typed = Response.model_validate(raw.json())
    assert (typed.status, typed.output_text, typed.error, typed.incomplete_details) == (
        "completed",
        "Echo: typed",
        None,
        None,
    )


def test_input_items_are_the_conversation(client, llm_log):
    response = client.responses.create(
        model="cheshire-cat",
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Echo: first"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]},
        ],
    )
    assert response.output_text == "Echo: second"
    assert [m["role"] for m in llm_log()[-1]["body"]["messages"][-3:]] == ["user", "assistant", "user"]


def test_max_output_tokens_makes_it_incomplete(client):
    response = client.responses.create(model="cheshire-cat", input="[[tokens:50]]", max_output_tokens=16)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 16
    assert response.output[0].status == "incomplete"


def test_a_cut_stream_ends_with_response_incomplete(http):
    raw = http.post(
        "/custom/v1/responses",
        json={"model": "cheshire-cat", "input": "[[tokens:50]]", "stream": True, "max_output_tokens": 5},
    )
    kinds, payloads = map(list, zip(*events_of(raw.text)))
    assert kinds[-3:] == ["response.content_part.done", "response.output_item.done", "response.incomplete"]
    text = "".join(p["delta"] for p in payloads if p["type"] == "response.output_text.delta")
    assert count_tokens(text) == 5 and "response.completed" not in kinds
    assert payloads[-2]["item"]["status"] == "incomplete"
    final = payloads[-1]["response"]
    assert (final["status"], final["incomplete_details"], final["usage"]["output_tokens"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
        5,
    )


def test_an_idempotent_stream_is_replayed(http):
    body = {"model": "cheshire-cat", "input": "[[tokens:3]]", "stream": True}
    headers = {"Idempotency-Key": "responses-replay-1"}
    first = http.post("/custom/v1/responses", json=body, headers=headers)
    again = http.post("/custom/v1/responses", json=body, headers=headers)
    assert again.headers["idempotent-replayed"] == "true" and again.text == first.text
    assert events_of(again.text)[-1][0] == "response.completed"


def test_stream_events_in_order(client, http):
    raw = http.post("/custom/v1/responses", json={"model": "cheshire-cat", "input": "[[tokens:4]]", "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    kinds, payloads = map(list, zip(*events_of(raw.text)))
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ] + ["response.output_text.delta"] * 4 + [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [p["type"] for p in payloads] == kinds
    assert [p["sequence_number"] for p in payloads] == list(range(len(kinds)))
    assert "".join(p["delta"] for p in payloads if p["type"] == "response.output_text.delta") == " t0 t1 t2 t3"
    assert payloads[-1]["response"]["status"] == "completed" and payloads[-1]["response"]["usage"]["output_tokens"] > 0

    with client.responses.stream(model="cheshire-cat", input="[[tokens:3]]") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == [" t0", " t1", " t2"] and final.output_text == " t0 t1 t2"


def test_failures_are_errors_not_answers(client, http):
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="cheshire-cat", input="[[fail:status:400]]")
    assert info.value.status_code == 502
    events = list(client.responses.create(model="cheshire-cat", input="[[tokens:5]] [[fail:after:2]]", stream=True))
    assert events[-1].type == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error"  # OpenAI's enum; the message says why
    assert failed.error.message.startswith("The Cat could not answer")
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == [" t0", " t1"]
    raw = http.post(
        "/custom/v1/responses", json={"model": "cheshire-cat", "input": "[[tokens:5]] [[fail:after:2]]", "stream": True}
    )
    assert [kind for kind, _ in events_of(raw.text)][-2:] == ["response.output_text.delta", "response.failed"]


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"tools": [{"type": "teleport"}]}, "tools.[0].type"),
        ({"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        (
            {"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "g"}},
            "tool_choice.name",
        ),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input.[0].type"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input.[0].call_id"),
        ({"input": ""}, "input"),
    ],
)
def test_unsupported_inputs_are_400(http, adapter, extra, param):
    if adapter == "v1" and "tool_choice" in extra and extra["tools"][0]["type"] == "function":
        param = "tools"  # v1 refuses client tools before it looks at the choice
    response = http.post("/custom/v1/responses", json={"model": "cheshire-cat", "input": "hi", **extra})
    assert response.status_code == 400 and response.json()["error"]["param"] == param


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ASK = 'Weather in Rome? [[call:get_weather:{"city": "Rome"}]]'


@pytest.mark.v2_only  # client tools need the Cat v2 agent
def test_function_calls_and_their_outputs(client, llm_log):
    first = client.responses.create(model="cheshire-cat", input=ASK, tools=[WEATHER])
    [call] = first.output
    assert (call.type, call.name, json.loads(call.arguments), call.status) == (
        "function_call",
        "get_weather",
        {"city": "Rome"},
        "completed",
    )
    assert call.call_id.startswith("call_") and call.id.startswith("fc_") and first.status == "completed"
    assert [t.name for t in first.tools] == ["get_weather"]
    offered = llm_log()[-1]["body"]["tools"]
    assert [t["function"]["name"] for t in offered] == ["get_weather"]
    assert offered[0]["function"]["parameters"] == WEATHER["parameters"]

    second = client.responses.create(
        model="cheshire-cat",
        tools=[WEATHER],
        input=[
            {"role": "user", "content": ASK},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24C"},
        ],
    )
    assert second.output_text == "Tool said: sunny, 24C"
    sent = llm_log()[-1]["body"]["messages"]
    assert [m["role"] for m in sent[-3:]] == ["user", "assistant", "tool"]
    assert sent[-2]["tool_calls"][0]["id"] == call.call_id and sent[-1]["tool_call_id"] == call.call_id


@pytest.mark.v2_only
def test_function_calls_stream_as_typed_events(http):
    body = {
        "model": "cheshire-cat",
        "input": ASK + ' [[call:get_time:{"tz": "CET"}]]',
        "stream": True,
        "tools": [WEATHER, {"type": "function", "name": "get_time"}],
    }
    kinds, payloads = map(list, zip(*events_of(http.post("/custom/v1/responses", json=body).text)))
    per_call = [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert kinds == ["response.created", "response.in_progress"] + per_call * 2 + ["response.completed"]
    assert [p["output_index"] for p in payloads[2:-1]] == [0] * 4 + [1] * 4
    assert [p["delta"] for p in payloads if "delta" in p] == ['{"city": "Rome"}', '{"tz": "CET"}']
    final = payloads[-1]["response"]["output"]
    assert [(o["type"], o["name"], o["id"]) for o in final] == [
        ("function_call", "get_weather", payloads[2]["item"]["id"]),
        ("function_call", "get_time", payloads[6]["item"]["id"]),
    ]


@pytest.mark.v2_only
def test_tool_choice_none_offers_nothing(client, llm_log):
    answer = client.responses.create(model="cheshire-cat", input="hi", tools=[WEATHER], tool_choice="none")
    assert answer.output_text == "Echo: hi" and "tools" not in llm_log()[-1]["body"]


AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents.",
    "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}}],
}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Patch files."}


@pytest.mark.v2_only
def test_namespaced_function_call_round_trip(client, http, llm_log):
    ask = 'Spawn one [[call:multi_agent_v1__spawn_agent:{"task": "t"}]]'
    tools = [AGENTS, {"type": "web_search"}]
    first = client.responses.create(model="cheshire-cat", input=ask, tools=tools)
    [call] = first.output
    assert (call.type, call.namespace, call.name, json.loads(call.arguments)) == (
        "function_call",
        "multi_agent_v1",
        "spawn_agent",
        {"task": "t"},
    )
    assert [t["function"]["name"] for t in llm_log()[-1]["body"]["tools"]] == ["multi_agent_v1__spawn_agent"]
    raw = http.post("/custom/v1/responses", json={"model": "cheshire-cat", "input": ask, "tools": tools})
    assert raw.headers["x-openai-bridge-tools-skipped"] == "web_search"
    second = client.responses.create(
        model="cheshire-cat",
        tools=tools,
        tool_choice="auto",
        input=[
            {"role": "user", "content": ask},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "spawned"},
        ],
    )
    assert second.output_text == "Tool said: spawned"
    assert llm_log()[-1]["body"]["messages"][-2]["tool_calls"][0]["function"]["name"] == "multi_agent_v1__spawn_agent"


@pytest.mark.v2_only
def test_custom_tool_call_round_trip(client, llm_log):
    ask = 'Patch it [[call:apply_patch:{"input": "*** Begin Patch"}]]'
    with client.responses.stream(model="cheshire-cat", input=ask, tools=[PATCH]) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_response()
    assert "response.custom_tool_call_input.done" in kinds
    [call] = first.output
    assert (call.type, call.name, call.input) == ("custom_tool_call", "apply_patch", "*** Begin Patch")
    [offered] = llm_log()[-1]["body"]["tools"]
    assert offered["function"]["parameters"]["properties"] == {"input": {"type": "string"}}
    second = client.responses.create(
        model="cheshire-cat",
        tools=[PATCH],
        input=[
            {"role": "user", "content": ask},
            call.model_dump(exclude_none=True),
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"},
        ],
    )
    assert second.output_text == "Tool said: Done!"
