"""The Responses API's own shapes turned into the neutral conversation and client tools (Cat-free)."""

from __future__ import annotations

import json

import pytest

from cat_openai_bridge.core.api.responses.convert import conversation_of, function_tools
from cat_openai_bridge.core.api.responses.encoder import ResponseIds, response_object
from cat_openai_bridge.core.api.responses.protocol import ResponsesRequest
from cat_openai_bridge.core.http.parsing import parse_body
from cat_openai_bridge.core.turn.answer import Answer, Usage
from cat_openai_bridge.core.turn.conversation import TextPart, ToolCall, Turn
from cat_openai_bridge.core.turn.errors import BridgeError


def body(**fields) -> ResponsesRequest:
    return parse_body(ResponsesRequest, json.dumps({"model": "m", **fields}).encode())


def conversation(request: ResponsesRequest, stored: list | None = None, images: bool = True, tools: bool = True):
    return conversation_of(request, stored or [], allow_images=images, allow_tools=tools)


def test_calls_join_the_assistant_text_and_outputs_become_tool_turns():
    conv = conversation(
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
    assert conv.system == "Be a cat."
    assert conv.turns == [
        Turn("user", [TextPart("weather?")]),
        Turn("assistant", [TextPart("Let me look.")], (ToolCall("c1", "w", "{}"), ToolCall("c2", "t", "{}"))),
        Turn("tool", [TextPart("sunny")], (), "c1"),
        Turn("tool", [TextPart("noon")], (), "c2"),
    ]


def test_stored_items_come_before_the_new_input_and_may_be_answered_by_it():
    stored = [
        {"type": "message", "role": "user", "id": "msg_1", "status": "completed", "content": "hi"},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "w", "arguments": "{}"},
    ]
    conv = conversation(
        body(instructions="I", input=[{"type": "function_call_output", "call_id": "c1", "output": "ok"}]), stored
    )
    assert (conv.system, [(t.role, t.text) for t in conv.turns]) == (
        "I",
        [("user", "hi"), ("assistant", ""), ("tool", "ok")],
    )
    assert conv.turns[1].tool_calls == (ToolCall("c1", "w", "{}"),)


ORPHAN = {"type": "function_call_output", "call_id": "c9", "output": "x"}
CALL = {"type": "function_call", "call_id": "c9", "name": "w"}


def image(url: str) -> list:
    return [{"role": "user", "content": [{"type": "input_image", "image_url": url}]}]


@pytest.mark.parametrize(
    "input,images,tools,param,code",
    [
        ("", True, True, "input", "invalid_value"),
        ([], True, True, "input", "empty_array"),
        ([{"role": "assistant", "content": "a"}], True, True, "input", "invalid_value"),
        ([{"role": "user", "content": []}], True, True, "input.[0].content", "invalid_value"),
        ([ORPHAN], True, True, "input.[0].call_id", "invalid_value"),
        ([ORPHAN], True, False, "input.[0].type", "unsupported_value"),
        ([CALL], True, False, "input.[0].type", "unsupported_parameter"),
        (image("data:image/png;base64,iVBORw=="), False, True, "input.[0].content.[0].type", "unsupported_content"),
        (image("https://x/y.png"), True, True, "input.[0].content.[0].image_url", "unsupported_image_url"),
    ],
)
def test_input_refusals_name_the_input_field(input, images, tools, param, code):
    with pytest.raises(BridgeError) as info:
        conversation(body(input=input), images=images, tools=tools)
    assert (info.value.status, info.value.param, info.value.code) == (400, param, code)


def tools_of(tools, choice, allowed):
    fields = {"model": "m", "input": "x", "tools": tools, **({"tool_choice": choice} if choice is not None else {})}
    return function_tools(parse_body(ResponsesRequest, json.dumps(fields).encode()), allowed)


def test_flat_function_tools_and_their_errors():
    [tool], forced, *_ = tools_of([{"type": "function", "name": "w", "parameters": {"type": "object"}}], None, True)
    assert (tool.name, tool.parameters, forced) == ("w", {"type": "object"}, None)
    assert tools_of([{"type": "function", "name": "w"}], "none", True)[:2] == ((), None)
    assert tools_of([{"type": "function", "name": "w"}], "required", True)[1] == "*"
    two = [{"type": "function", "name": "w"}, {"type": "function", "name": "v"}]
    offered, forced, *_ = tools_of(two, {"type": "function", "name": "v"}, True)
    assert ([t.name for t in offered], forced) == (["v"], "v")
    for tools, choice, allowed, param in [
        ([{"type": "function", "name": "w"}], {"type": "web_search"}, True, "tool_choice"),
        ([{"type": "function", "name": "w"}], {"type": "function", "name": "x"}, True, "tool_choice.name"),
        ([{"type": "function", "name": "w"}] * 2, None, True, "tools"),
        ([], "required", True, "tool_choice"),
        ([{"type": "function", "name": "w"}], None, False, "tools"),
    ]:
        with pytest.raises(BridgeError) as info:
            tools_of(tools, choice, allowed)
        assert (info.value.status, info.value.param) == (400, param)
        assert "tool_choice.function" not in info.value.message


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
