"""The Responses API's own shapes mapped onto the chat machinery (Cat-free)."""

from __future__ import annotations

import json

import pytest

from cat_openai_bridge.core.api.responses.convert import function_tools, messages_of
from cat_openai_bridge.core.api.responses.encoder import ResponseIds, response_object
from cat_openai_bridge.core.api.responses.protocol import ResponsesRequest
from cat_openai_bridge.core.http.parsing import parse_body
from cat_openai_bridge.core.turn.answer import Answer, Usage
from cat_openai_bridge.core.turn.conversation import ToolCall
from cat_openai_bridge.core.turn.errors import BridgeError


def body(**fields) -> ResponsesRequest:
    return parse_body(ResponsesRequest, json.dumps({"model": "m", **fields}).encode())


def test_calls_join_the_assistant_text_and_outputs_become_tool_messages():
    messages = messages_of(
        body(
            instructions="Be a cat.",
            input=[
                {"role": "user", "content": "weather?"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "t", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "noon"}]},
            ],
        )
    )
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "tool"]
    assert [c.id for c in messages[2].tool_calls] == ["c1", "c2"]
    assert (messages[3].tool_call_id, messages[3].content, messages[4].content) == ("c1", "sunny", "noon")


def tools_of(tools, choice, allowed):
    fields = {"model": "m", "input": "x", "tools": tools, **({"tool_choice": choice} if choice is not None else {})}
    return function_tools(parse_body(ResponsesRequest, json.dumps(fields).encode()), allowed)


def test_flat_function_tools_and_their_errors():
    [tool], forced, _ = tools_of(
        [{"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": True}], None, True
    )
    assert (tool.name, tool.parameters, forced) == ("w", {"type": "object"}, None)
    assert tools_of([{"type": "function", "name": "w"}], "none", True)[:2] == ((), None)
    assert tools_of([{"type": "function", "name": "w"}], "required", True)[1] == "*"
    two = [{"type": "function", "name": "w"}, {"type": "function", "name": "v"}]
    offered, forced, _ = tools_of(two, {"type": "function", "name": "v"}, True)
    assert ([t.name for t in offered], forced) == (["v"], "v")
    for tools, choice, allowed, param in [
        ([{"type": "web_search"}], None, True, "tools.[0].type"),
        ([{"type": "function", "name": "w"}], {"type": "function", "name": "x"}, True, "tool_choice.name"),
        ([{"type": "function", "name": "w"}], None, False, "tools"),
    ]:
        with pytest.raises(BridgeError) as info:
            tools_of(tools, choice, allowed)
        assert (info.value.status, info.value.param) == (400, param)


def test_a_call_only_answer_has_no_empty_message():
    ids = ResponseIds("m")
    call = ToolCall("call_1", "w", '{"city": "Rome"}')

    def answer(text):
        return Answer(text, "tool_calls", Usage(1, 1), (call,))

    out = response_object(ids, body(input="x"), "completed", answer(""), None, (), False).as_dict()["output"]
    assert out == [
        {
            "type": "function_call",
            "id": ids.call_item_id(0),
            "call_id": "call_1",
            "name": "w",
            "arguments": '{"city": "Rome"}',
            "status": "completed",
        }
    ]
    assert [
        o.type for o in response_object(ids, body(input="x"), "completed", answer("hi"), None, (), False).output
    ] == [
        "message",
        "function_call",
    ]
