"""Structured outputs and forced tool calls, through the Cat's agent, with openai-python's own helpers.

The scripted LLM follows the bridge's instructions like a model would (testkit/scripted_llm.py);
`[[reply:...]]` makes it answer wrongly once, `[[stubborn]]` every time, so both the corrective
re-ask and the errors are exercised. The LLM log proves the schema reached the Cat's LLM.
"""

from __future__ import annotations

import json
import time

import openai
import pytest
from pydantic import BaseModel

from testkit.sse import parse

from .conftest import user_says
from .test_responses import events_of


class City(BaseModel):
    name: str
    population: int
    tags: list[str]


CITY = {"name": "text", "population": 1, "tags": ["text"]}  # what the scripted LLM makes of City's schema
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["name", "population"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA, "strict": True}}


def _system_prompts(entry: dict) -> str:
    return "\n".join(str(m.get("content")) for m in entry["body"]["messages"] if m["role"] == "system")


def _error_of(info) -> tuple[int, str | None, str | None]:
    return info.value.status_code, info.value.code, info.value.param


def test_parse_fills_message_parsed_through_the_agent(client, llm_log):
    done = client.chat.completions.parse(
        model="cheshire-cat", messages=user_says("Tell me of Rome"), response_format=City
    )
    choice = done.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.refusal is None
    assert choice.message.parsed == City(**CITY)
    assert json.loads(choice.message.content) == CITY
    [entry] = llm_log()  # one LLM call: the first answer conformed, no re-ask
    prompt = "\n".join(str(m.get("content")) for m in entry["body"]["messages"])
    assert 'valid against this JSON Schema, named "City"' in prompt
    assert '"population":{"title":"Population","type":"integer"}' in prompt


def test_json_object_answers_one_object(client, llm_log):
    done = client.chat.completions.create(
        model="cheshire-cat", messages=user_says("hello"), response_format={"type": "json_object"}
    )
    assert json.loads(done.choices[0].message.content) == {"echo": "hello"}
    assert "answer with one JSON object and nothing else" in "\n".join(
        str(m.get("content")) for m in llm_log()[-1]["body"]["messages"]
    )


def test_a_broken_first_answer_gets_one_reask(client, llm_log):
    done = client.chat.completions.create(
        model="cheshire-cat", messages=user_says("Rome [[reply:Sure! Here it is]]"), response_format=JSON_SCHEMA
    )
    assert json.loads(done.choices[0].message.content) == {"name": "text", "population": 1}
    first, second = llm_log()
    last_user = [m for m in second["body"]["messages"] if m["role"] == "user"][-1]["content"]
    assert "Your previous answer could not be used: the answer is not valid JSON" in str(last_user)
    assert done.usage.completion_tokens >= 4 + 6  # both answers count: "Sure! Here it is" and the JSON


@pytest.mark.parametrize("pattern", [r"(x|x)*z", r"(x|xx)+z", r"x*x*x*x*x*x*z"])
def test_a_pattern_that_backtracks_on_the_answer_is_a_prompt_400(client, llm_log, pattern):
    """`re.search` on the event loop took 5.2 s for `(x|x)*z` on 25 characters (minutes on 32): now bounded."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "pattern": pattern, "minLength": 25}},
        "required": ["a"],
        "additionalProperties": False,
    }
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="cheshire-cat",
            messages=user_says(f'x [[stubborn]] [[reply:{{"a": "{"x" * 2000}"}}]]'),
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": True}},
        )
    assert time.monotonic() - started < 10  # two LLM calls through the Cat; the old check alone: minutes
    assert _error_of(info) == (400, "invalid_structured_output", None)
    assert "the answer does not match the schema 's': $.a " in info.value.message
    assert len(llm_log()) == 2


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("not json at all", "the answer is not valid JSON"),
        ('{"name": 3, "population": 1}', "$.name should be of type string, not integer"),
        ("[1, 2] ", "the answer is JSON but not a JSON object"),
    ],
)
def test_an_answer_that_never_conforms_is_a_final_400_not_a_200(client, llm_log, reply, problem):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="cheshire-cat",
            messages=user_says(f"x [[stubborn]] [[reply:{reply}]]"),
            response_format=JSON_SCHEMA,
        )
    assert _error_of(info) == (400, "invalid_structured_output", None)
    assert problem in info.value.message
    assert info.value.response.headers["x-should-retry"] == "false"
    assert len(llm_log()) == 2  # the answer, and exactly one re-ask


def test_stream_sends_json_as_it_comes_and_parses(client):
    with client.beta.chat.completions.stream(
        model="cheshire-cat", messages=user_says("Rome"), response_format=City
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 3  # token by token, not one block
    assert final.choices[0].message.parsed == City(**CITY)


def test_a_stream_that_breaks_the_schema_ends_with_an_error_event(http, llm_log):
    body = {
        "model": "cheshire-cat",
        "messages": user_says('x [[reply:{"name": "Rome", "population": "many"}]]'),
        "response_format": JSON_SCHEMA,
        "stream": True,
    }
    with http.stream("POST", "/custom/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        events = parse(response.iter_lines())
    payloads = [e.json for e in events]
    assert all(e.data != "[DONE]" for e in events)
    assert all(c["choices"][0]["finish_reason"] is None for c in payloads[:-1] if c.get("choices"))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in payloads[:-1])
    assert text == '{"name": "Rome", "population": "many"}'
    error = payloads[-1]["error"]
    assert (error["code"], error["type"]) == ("invalid_structured_output", "api_error")
    assert "$.population should be of type integer, not string" in error["message"]
    assert len(llm_log()) == 1  # streamed text cannot be taken back: no re-ask


@pytest.mark.parametrize(
    "schema, where",
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, "additionalProperties"),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
            "Missing 'a'",
        ),
        ({"type": "array", "items": {"type": "string"}}, "root of a strict schema"),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string", "pattern": "^(a+"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            "properties.a.pattern",
        ),
    ],
)
def test_strict_schemas_that_break_openais_rules_are_a_400(http, schema, where):
    body = {
        "model": "cheshire-cat",
        "messages": user_says("x"),
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": True}},
    }
    response = http.post("/custom/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "response_format",
        "invalid_value",
    )
    assert error["message"].startswith("Invalid schema for response_format 's': In context=")
    assert where in error["message"]


def test_responses_parse_fills_output_parsed(client):
    done = client.responses.parse(model="cheshire-cat", input="Tell me of Rome", text_format=City)
    assert done.output_parsed == City(**CITY)
    assert done.text.format.type == "json_schema" and done.text.format.name == "City"
    assert done.text.format.strict is True


def test_responses_stream_with_a_json_schema(client):
    with client.responses.stream(model="cheshire-cat", input="Rome", text_format=City) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds.count("response.output_text.delta") > 3
    assert kinds[-1] == "response.completed"
    assert final.output_parsed == City(**CITY)


def test_responses_json_failure_is_a_failed_response_event(http):
    body = {
        "model": "cheshire-cat",
        "input": "x [[reply:nope]]",
        "text": {"format": {"type": "json_object"}},
        "stream": True,
    }
    events = [payload for _, payload in events_of(http.post("/custom/v1/responses", json=body).text)]
    assert [e["type"] for e in events][-1] == "response.failed"
    assert "response.completed" not in [e["type"] for e in events]
    assert "not valid JSON" in events[-1]["response"]["error"]["message"]


# -- forced tool calls (Cat v2: client tools) ---------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 3}},
            "required": ["city", "days"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.v2_only
def test_a_named_tool_choice_offers_only_that_function_and_calls_it(client, llm_log):
    done = client.chat.completions.create(
        model="cheshire-cat",
        messages=user_says("weather?"),
        tools=[TIME, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "text", "days": 4})
    [entry] = llm_log()
    offered = [t["function"]["name"] for t in entry["body"]["tools"]]
    assert "get_weather" in offered and "get_time" not in offered
    assert "Answer by calling the function `get_weather`" in _system_prompts(entry)


@pytest.mark.v2_only
def test_required_calls_one_of_the_functions_streamed(http, llm_log):
    body = {
        "model": "cheshire-cat",
        "messages": user_says("time?"),
        "tools": [TIME, WEATHER],
        "tool_choice": "required",
        "stream": True,
    }
    with http.stream("POST", "/custom/v1/chat/completions", json=body) as response:
        events = parse(response.iter_lines())
    assert events[-1].data == "[DONE]"
    chunks = [e.json for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    names = [
        c["choices"][0]["delta"]["tool_calls"][0]["function"].get("name")
        for c in chunks
        if c["choices"][0]["delta"].get("tool_calls")
    ]
    assert names[0] == "get_time"
    assert "Answer by calling one of these functions: `get_time`, `get_weather`" in _system_prompts(llm_log()[-1])


@pytest.mark.v2_only
def test_text_instead_of_a_required_call_is_reasked_then_an_error(client, llm_log):
    again = client.chat.completions.create(
        model="cheshire-cat", messages=user_says("x [[reply:I will not]]"), tools=[WEATHER], tool_choice="required"
    )
    assert again.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert len(llm_log()) == 2
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="cheshire-cat",
            messages=user_says("x [[stubborn]] [[reply:I will not]]"),
            tools=[WEATHER],
            tool_choice="required",
        )
    assert _error_of(info) == (400, "invalid_structured_output", None)
    assert "answered with text instead of calling one of the client's functions" in info.value.message


@pytest.mark.v2_only
def test_strict_function_arguments_are_validated_before_the_client_sees_them(client):
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="cheshire-cat",
            messages=user_says('x [[stubborn]] [[call:get_weather:{"city": "Rome", "days": 1}]]'),
            tools=[WEATHER],
        )
    assert _error_of(info) == (400, "invalid_structured_output", None)
    assert "the arguments of the call to 'get_weather' are not valid: $.days is 1, which breaks minimum 3" in (
        info.value.message
    )


@pytest.mark.v2_only
def test_a_named_tool_choice_that_names_no_tool_is_a_400(http):
    body = {
        "model": "cheshire-cat",
        "messages": user_says("x"),
        "tools": [TIME],
        "tool_choice": {"type": "function", "function": {"name": "nope"}},
    }
    response = http.post("/custom/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_choice.function.name"


@pytest.mark.v2_only
def test_responses_named_tool_choice(client):
    done = client.responses.create(
        model="cheshire-cat",
        input="weather?",
        tools=[{"type": "function", **WEATHER["function"]}],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    [item] = done.output
    assert (item.type, item.name, json.loads(item.arguments)) == (
        "function_call",
        "get_weather",
        {"city": "text", "days": 4},
    )
    assert done.tool_choice.name == "get_weather"
    assert done.tools[0].strict is True


def test_v1_refuses_forced_calls_clearly(http, adapter):
    if adapter != "v1":
        pytest.skip("Cat v1 only: its agent cannot hand tool calls back")
    body = {"model": "cheshire-cat", "messages": user_says("x"), "tools": [TIME], "tool_choice": "required"}
    response = http.post("/custom/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools"
