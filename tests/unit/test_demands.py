"""Structured-output demands (core/turn/demands.py): what a client asked of the answer (JSON, valid against a schema;
a tool call) checked on the answer, the instructions that ask the Cat for it, and OpenAI's refusals. The schema
rules and the validator: test_json_schema.py."""

from __future__ import annotations

import pytest

from cat_openai_bridge.core.turn.answer import Answer, Usage
from cat_openai_bridge.core.turn.conversation import ToolCall
from cat_openai_bridge.core.turn.demands import ANY_TOOL, Demands, JsonOutput, json_output
from cat_openai_bridge.core.turn.errors import BridgeError


def _answer(content: str = "", calls: tuple = (), reason: str = "stop") -> Answer:
    return Answer(content, reason, Usage(1, 1), calls)


def test_demands_check_the_answer():
    schema = Demands(JsonOutput({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}))
    assert schema.problem(_answer('{"a": 1}')) is None
    assert schema.problem(_answer('{"a": "1"}')).endswith("$.a should be of type integer, not string")
    assert schema.problem(_answer('{"a"')) is not None
    assert schema.problem(_answer('{"a"', reason="length")) is None  # the client's own cut: OpenAI sends it as is
    call = ToolCall("c1", "f", '{"x": 1}')
    assert schema.problem(_answer("", (call,), "tool_calls")) is None  # JSON is for text answers
    forced = Demands(call=ANY_TOOL, offered=("f",))
    assert "instead of calling one of" in forced.problem(_answer("hi"))
    strict = Demands(strict_tools={"f": {"type": "object", "properties": {"x": {"type": "string"}}}})
    assert "'f' are not valid: $.x should be of type string" in strict.problem(_answer("", (call,), "tool_calls"))


def test_instructions_carry_the_schema_and_the_call():
    text = Demands(JsonOutput({"type": "object"}, "thing", "a thing"), "f").instructions()
    assert text.splitlines() == [
        "Answer by calling the function `f`. Do not answer with text.",
        "When you answer with text, answer with one JSON object and nothing else "
        "(no prose before or after it, no Markdown code fences).",
        'The JSON object must be valid against this JSON Schema, named "thing" (a thing):',
        '{"type":"object"}',
    ]


def test_json_output_refuses_like_openai():
    with pytest.raises(BridgeError) as info:
        json_output("json_schema", "response_format", "s", {"type": "object"}, strict=True)
    assert (info.value.status, info.value.param, info.value.code) == (400, "response_format", "invalid_value")
    assert json_output("text", "response_format") is None
    assert json_output("json_object", "response_format") == JsonOutput()
