"""Chat Completions: the request parsed with OpenAI's errors, its messages as the neutral conversation, the exact
completion and chunk objects (all Cat-free), and a body that is not JSON on the pipeline (fake Cat, conftest.py).
How its streams fail, are cut, limited and replayed: test_errors.py, test_cuts.py, test_limits.py,
test_idempotency.py (Chat Completions is the protocol those use)."""

from __future__ import annotations

import json

import pytest

from cat_openai_bridge.core.api.chat.convert import build_conversation
from cat_openai_bridge.core.api.chat.encoder import ChunkEncoder, CompletionIds, completion, completion_usage
from cat_openai_bridge.core.api.chat.protocol import ChatCompletionRequest, ChoiceDelta
from cat_openai_bridge.core.http import sse
from cat_openai_bridge.core.http.parsing import parse_body
from cat_openai_bridge.core.turn.answer import Answer, Usage
from cat_openai_bridge.core.turn.conversation import ImagePart, TextPart, Turn
from cat_openai_bridge.core.turn.errors import BridgeError

from .http_kit import GOOD

# Parsing


def body(**fields) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def error(raw: bytes) -> dict:
    with pytest.raises(BridgeError) as info:
        parse_body(ChatCompletionRequest, raw)
    assert info.value.status == 400
    return info.value.body()["error"]


def test_parse_valid_request():
    req = parse_body(ChatCompletionRequest, body(max_tokens=5, stop="x", stream=True, unknown={"a": 1}))
    assert (req.model, req.completion_limit(), req.stop_sequences(), req.stream) == ("m", 5, ["x"], True)


@pytest.mark.parametrize(
    "raw,expected",
    [
        (b"{", {"param": None, "code": None}),
        (b"[]", {"param": None, "code": "invalid_type"}),
        (json.dumps({"messages": []}).encode(), {"param": "model", "code": "missing_required_parameter"}),
        (body(messages=[]), {"param": "messages", "code": "empty_array"}),
        (body(stream="true"), {"param": "stream", "code": "invalid_type"}),
        (body(top_p=2), {"param": "top_p", "code": "invalid_value"}),
        (body(messages=[{"content": "x"}]), {"param": "messages.[0].role", "code": "missing_required_parameter"}),
    ],
)
def test_parse_errors_name_the_field(raw, expected):
    got = error(raw)
    assert {"param": got["param"], "code": got["code"]} == expected
    assert got["type"] == "invalid_request_error"


def test_missing_parameter_message_is_openais():
    assert error(json.dumps({"messages": []}).encode())["message"] == "Missing required parameter: 'model'."


@pytest.mark.asyncio
async def test_invalid_json_is_400_with_openais_message(client, cat):
    response = await client.post("/v1/chat/completions", content=b"{nope", headers=GOOD)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["message"].startswith("We could not parse the JSON body of your request.")
    assert {k: v for k, v in body["error"].items() if k != "message"} == {
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert cat.turns == []


# The conversation


def messages(*pairs):
    return parse_body(ChatCompletionRequest, body(messages=[{"role": r, "content": c} for r, c in pairs])).messages


def test_conversation_keeps_history_and_gathers_system():
    conv = build_conversation(
        messages(
            ("system", "S1"),
            ("user", "u1"),
            ("assistant", "a1"),
            ("developer", [{"type": "text", "text": "S2"}]),
            ("user", "u2"),
        )
    )
    assert conv.system == "S1\n\nS2"
    assert conv.turns == [
        Turn("user", [TextPart("u1")]),
        Turn("assistant", [TextPart("a1")]),
        Turn("user", [TextPart("u2")]),
    ]


def test_conversation_images_are_data_urls_only():
    conv = build_conversation(
        messages(("user", [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}]))
    )
    assert conv.turns[0].parts == [ImagePart("image/png", "iVBORw==")]
    with pytest.raises(BridgeError) as info:
        build_conversation(
            messages(("user", [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]))
        )
    assert info.value.code == "invalid_image"
    with pytest.raises(BridgeError) as info:
        build_conversation(messages(("user", [{"type": "image_url", "image_url": {"url": "x"}}])), allow_images=False)
    assert info.value.code == "unsupported_content"


@pytest.mark.parametrize(
    "pairs,param",
    [
        ((("assistant", "a"),), "messages"),
        ((("user", "u"), ("assistant", "a")), "messages"),
        ((("bot", "u"),), "messages.[0].role"),
        ((("user", None),), "messages.[0].content"),
        ((("user", [{"type": "text"}]),), "messages.[0].content.[0].text"),
    ],
)
def test_conversation_refusals(pairs, param):
    with pytest.raises(BridgeError) as info:
        build_conversation(messages(*pairs))
    assert (info.value.status, info.value.param) == (400, param)


# The objects sent


def test_completion_and_chunks_exact():
    ids = CompletionIds("cheshire-cat", id="chatcmpl-1", created=7)
    assert completion(ids, Answer("hi", "stop", Usage(3, 1))).as_dict() == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 7,
        "model": "cheshire-cat",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        "system_fingerprint": None,
    }
    chunks = ChunkEncoder(ids, include_usage=True, why=False)
    assert chunks.chunk(ChoiceDelta(content="x")).as_dict() == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "cheshire-cat",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": None, "finish_reason": None}],
        "usage": None,
    }
    assert chunks.chunk(None, usage=completion_usage(Usage(1, 2))).as_dict()["choices"] == []
    assert "usage" not in chunks.chunk(None, cat_why={}).as_dict()
    assert next(iter(chunks.text("é"))).data.startswith(b'data: {"id":"chatcmpl-1"')
    assert "é".encode() in next(iter(chunks.text("é"))).data
    assert sse.DONE == b"data: [DONE]\n\n"
