"""Plain text parts merged before validation (issue #22, finding 1): a list's trailing run of `{type, text}` parts
is one part before pydantic sees it, so 150,000 one-letter parts no longer cost the event loop a validation each;
what the Cat is sent, and every error's param, stay as they were."""

from __future__ import annotations

import json
import time

import pytest

from cat_openai_bridge.core.api.anthropic.convert import build_conversation
from cat_openai_bridge.core.api.anthropic.protocol import MessageRequest
from cat_openai_bridge.core.api.anthropic.route import TEXTS as ANTHROPIC_TEXTS
from cat_openai_bridge.core.api.chat.protocol import ChatCompletionRequest
from cat_openai_bridge.core.api.chat.route import TEXTS as CHAT_TEXTS
from cat_openai_bridge.core.api.responses.storage import StoredResponse
from cat_openai_bridge.core.api.responses.stored_routes import _decoded
from cat_openai_bridge.core.http.parsing import parse_body
from cat_openai_bridge.core.turn.errors import BridgeError

PNG = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def texts(*words: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": w} for w in words]


def chat_body(content: list) -> bytes:
    return json.dumps({"model": "cheshire-cat", "messages": [{"role": "user", "content": content}]}).encode()


def both(raw: bytes):
    """What parse_body gives with and without the merge: the model, or the error's (status, code, param)."""
    out = []
    for lists in (CHAT_TEXTS, None):
        try:
            out.append(parse_body(ChatCompletionRequest, raw, None, lists))
        except BridgeError as exc:
            out.append((exc.status, exc.code, exc.param, str(exc)))
    return out


def test_150000_one_letter_parts_are_validated_as_one():
    raw = chat_body(texts(*"x" * 150_000))
    start = time.perf_counter()
    body = parse_body(ChatCompletionRequest, raw, None, CHAT_TEXTS)
    assert time.perf_counter() - start < 1.0  # generous: merged, 0.1-0.15 s here; each part validated, 0.5-0.95 s
    [part] = body.messages[0].content
    assert (part.type, part.text) == ("text", "x" * 150_000)


def test_only_the_trailing_run_merges_so_no_index_moves():
    content = [*texts(*"ab"), PNG, *texts(*"c" * 3000)]  # over the 64 KiB a body must have to be looked at
    body = parse_body(ChatCompletionRequest, chat_body(content), None, CHAT_TEXTS)
    assert [getattr(p, "text", None) for p in body.messages[0].content] == ["a", "b", None, "c" * 3000]


def test_an_error_names_the_same_part_with_or_without_the_merge():
    bad = {"type": "text", "text": 5}  # not plain: left where it is
    merged, plain = both(chat_body([*texts(*"a" * 3000), bad, *texts(*"b" * 3000)]))
    assert merged == plain and merged[2] == "messages.[0].content.[3000].text"
    merged, plain = both(chat_body([*texts(*"a" * 3000), {"type": "nope", "text": "x"}]))
    assert merged == plain and merged[2] == "messages.[0].content.[3000].type"


def test_parts_with_more_keys_and_lone_surrogates_are_left_alone():
    extra = [{"type": "text", "text": "a", "cache_control": {}}] * 3000
    body = parse_body(ChatCompletionRequest, chat_body(extra), None, CHAT_TEXTS)
    assert len(body.messages[0].content) == 3000
    merged, plain = both(chat_body(texts(*"y" * 3000) + texts("\ud83d", "\ude00")))  # JSON escapes, unpaired
    assert merged == plain  # a 400 (lone surrogates are not JSON text to pydantic), not one pair


def test_anthropic_system_blocks_keep_their_blank_lines():
    raw = json.dumps(
        {
            "model": "cheshire-cat",
            "max_tokens": 5,
            "messages": [
                {"role": "system", "content": texts(*"s" * 3000)},
                {"role": "user", "content": texts(*"u" * 3000)},
            ],
        }
    ).encode()
    body = parse_body(MessageRequest, raw, texts=ANTHROPIC_TEXTS)
    assert [len(m.content) for m in body.messages] == [3000, 1]
    conversation = build_conversation(body)
    assert conversation.system == "\n\n".join("s" * 3000)
    assert conversation.turns[0].parts[0].text == "u" * 3000


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"messages": ' + b"[" * 100_000])
def test_a_deeply_nested_body_is_still_a_400(raw):
    raw = raw + b" " * 70_000 + b'"text"' * 300
    with pytest.raises(BridgeError) as caught:
        parse_body(ChatCompletionRequest, raw, None, CHAT_TEXTS)
    assert caught.value.status == 400


def test_a_stored_input_is_merged_when_it_is_loaded():
    own = [{"type": "message", "role": "user", "id": "m", "content": [{"type": "input_text", "text": "x"}] * 50_000}]
    stored = _decoded(StoredResponse({"output": []}, own, []).encode())
    assert stored.history == [{**own[0], "content": [{"type": "input_text", "text": "x" * 50_000}]}]
