"""Legacy completions on the pipeline, against an in-process fake Cat (conftest.py): exact `text_completion` objects
and chunks, every one also parsed with openai-python's `Completion` (testkit/contract.py). A failed stream:
test_errors.py."""

from __future__ import annotations

from typing import Any

import pytest

from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.conversation import Conversation, TextPart, Turn
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult

from .http_kit import chunks, complete
from .http_kit import post_completion as post

pytestmark = pytest.mark.asyncio


async def test_a_prompt_is_one_user_turn_answered_as_a_text_completion(client, cat):
    response = await post(client, complete(max_tokens=50, temperature=0.2, user="bob", logit_bias={"50256": -100}))
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("cmpl-")
    assert body == {
        "id": body["id"],
        "object": "text_completion",
        "created": body["created"],
        "model": "cheshire-cat",
        "choices": [{"text": "Hello there!", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "system_fingerprint": None,
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }
    [turn] = cat.turns
    assert turn.conversation == Conversation("", [Turn("user", [TextPart("Say hi")])])
    assert (turn.stream, turn.identity.user_id) == (True, "alice")  # streamed inside: stoppable at max_tokens


async def test_echo_puts_the_prompt_first(client):
    body = (await post(client, complete(echo=True))).json()
    assert body["choices"][0]["text"] == "Say hiHello there!"
    assert body["usage"]["completion_tokens"] == 3  # the echo is not generated


async def test_one_prompt_in_a_list_or_as_tokens(client, cat):
    assert (await post(client, complete(["only one"]))).status_code == 200
    assert (await post(client, complete(tokens.encode("from tokens")))).status_code == 200
    assert (await post(client, complete([tokens.encode("nested")]))).status_code == 200
    assert [t.conversation.last_user_text for t in cat.turns] == ["only one", "from tokens", "nested"]


@pytest.mark.parametrize(
    "body,param,message",
    [
        (complete(["a", "b"], stream=True), "prompt", "'prompt' holds 2 prompts: a stream takes at most 1"),
        (complete(["a"] * 21), "prompt", "'prompt' holds 21 prompts: send at most 20"),
        (complete([]), "prompt", "'prompt' holds 0 prompts"),
        (complete(["a", " "]), "prompt", "'prompt' must not be empty"),
        (complete("   "), "prompt", "'prompt' must not be empty"),
        (complete([100300]), "prompt", "'prompt' holds token ids outside the cl100k vocabulary."),
        (complete(suffix="end"), "suffix", "suffix is not supported"),
        (complete(logprobs=1), "logprobs", "logprobs are not available"),
        (complete(logprobs=0), "logprobs", "logprobs are not available"),
        (complete(n=2), "n", "Only n=1"),
        (complete(best_of=3), "best_of", "Only best_of=1"),
        (complete(stop=["a", "b", "c", "d", "e"]), "stop", "at most 4"),
        (complete(stream_options={"include_usage": True}), "stream_options", "only allowed when 'stream'"),
        (complete(max_tokens=0), "max_tokens", "Invalid value"),
        ({"model": "cheshire-cat"}, "prompt", "Missing required parameter: 'prompt'."),
        (complete(echo="yes"), "echo", "Invalid value"),
    ],
)
async def test_what_the_cat_cannot_do_is_a_400_naming_it(client, cat, body, param, message):
    response = await post(client, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert message in error["message"]
    assert cat.turns == []


async def test_a_batch_of_prompts_is_a_turn_each_one_after_another(client, cat):
    cat.script("A", TurnResult("A", prompt_tokens=5))
    cat.script(TurnResult(" t0 t1 t2", prompt_tokens=7))
    body = (await post(client, complete(["first", "second"], max_tokens=2, echo=True))).json()
    assert body["choices"] == [
        {"text": "firstA", "index": 0, "logprobs": None, "finish_reason": "stop"},
        {"text": "second t0", "index": 1, "logprobs": None, "finish_reason": "length"},
    ]
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert [t.conversation.last_user_text for t in cat.turns] == ["first", "second"]
    cat.script(CatFailure("LLM down"))
    failed = await post(client, complete(["third", "fourth"]))
    assert failed.status_code == 502 and len(cat.turns) == 3  # the batch stops at the first failure


async def test_empty_suffix_and_echo_false_are_fine(client):
    assert (await post(client, complete(suffix="", echo=False, logprobs=None))).status_code == 200


async def test_stop_and_max_tokens_cut_the_answer(client, cat):
    cat.script(TurnResult("one. two. three.", prompt_tokens=3))
    stopped = (await post(client, complete(stop="two"))).json()["choices"][0]
    assert (stopped["text"], stopped["finish_reason"]) == ("one. ", "stop")
    cat.script(TurnResult(" t0 t1 t2 t3", prompt_tokens=3))
    cut = (await post(client, complete(max_tokens=3))).json()
    assert (cut["choices"][0]["text"], cut["choices"][0]["finish_reason"]) == (" t0 t", "length")


async def test_stream_is_one_chunk_per_token_then_finish_usage_done(client, cat):
    cat.script("Hel", "lo", TurnResult("Hello", prompt_tokens=4))
    raw = (await post(client, complete(stream=True, stream_options={"include_usage": True}, echo=True))).content
    got = chunks(raw)
    first = got[0]
    assert {c["id"] for c in got[:-1]} == {first["id"]} and {c["created"] for c in got[:-1]} == {first["created"]}

    def chunk(text: str | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choices = [] if text is None else [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]
        return {
            "id": first["id"],
            "object": "text_completion",
            "created": first["created"],
            "model": "cheshire-cat",
            "choices": choices,
            "system_fingerprint": None,
            "usage": None,
            **extra,
        }

    assert got == [
        chunk("Say hi"),
        chunk("Hel"),
        chunk("lo"),
        chunk("", "stop"),
        chunk(None, usage={"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}),
        "[DONE]",
    ]
    plain = chunks((await post(client, complete(stream=True))).content)
    assert "usage" not in plain[0] and plain[-1] == "[DONE]"


async def test_errors_are_openai_errors(client):
    response = await client.post("/v1/completions", json=complete(), headers={"x-api-key": "good"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    unknown = await post(client, {**complete(), "model": "gpt-3.5-turbo-instruct"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
