"""Answers cut by `max_tokens` or a stop sequence: the cutter (Cat-free), then the pipeline on a fake Cat
(conftest.py) stopping the Cat's run at the cut and charging what was really used."""

from __future__ import annotations

import pytest

from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.cutting import AnswerCutter, reconcile
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult

from .fake_cat import Gate
from .http_kit import DONE, GOOD, chat, deltas, limit, prompt_cost, responses, sse

# The cutter


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


# On the pipeline: the Cat's run stops at the cut, and the answer is charged what was used


LONG_ANSWER = ("Hello", " big", " world", " and", " more")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [chat(max_tokens=2), chat(stream=True, stream_options={"include_usage": True}, max_tokens=2)],
    ids=["json", "stream-with-usage"],
)
async def test_max_tokens_stops_the_cats_run_at_the_cut(client, cat, body):
    """The run is stopped once the answer is cut: the Cat never gets past the gate (it would hang there)."""
    limit(cat, tokens_per_minute=1000)
    cat.script(*LONG_ANSWER, Gate(), TurnResult("never reached", prompt_tokens=120))
    response = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert response.status_code == 200, response.text
    if body.get("stream"):
        assert "".join(d.get("content") or "" for d, _ in deltas(response.content)) == "Hello big"
        assert deltas(response.content)[-1][1] == "length"
        usage = sse(response.content)[-2][1]["usage"]
    else:
        assert response.json()["choices"][0]["message"]["content"] == "Hello big"
        assert response.json()["choices"][0]["finish_reason"] == "length"
        usage = response.json()["usage"]
    assert usage == {"prompt_tokens": 120, "completion_tokens": 2, "total_tokens": 122}
    assert cat.stopped == 1 and cat.running == 0
    assert cat.turns[0].stream is True  # a JSON answer is streamed inside the bridge, so it can be stopped
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    # charged what the LLM produced before it was stopped ("Hello big world": one delta past the cut)
    produced = tokens.count_text("Hello big world")
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(1000 - (120 + produced) - (prompt_cost() + 2))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat(stream=True, max_tokens=2)),  # no include_usage: no usage chunk to wait for
        ("/v1/responses", responses(stream=True, max_output_tokens=2)),
    ],
    ids=["chat", "responses"],
)
async def test_a_cut_stream_is_charged_its_real_prompt(client, cat, path, body):
    limit(cat, tokens_per_minute=1000)
    cat.script(*LONG_ANSWER, Gate(), TurnResult("never reached", prompt_tokens=120))
    cut = await client.post(path, json=body, headers=GOOD)
    assert cut.status_code == 200
    assert cat.stopped == 1 and cat.running == 0
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    produced = tokens.count_text("Hello big world")
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(1000 - (120 + produced) - (prompt_cost() + 2))


@pytest.mark.asyncio
async def test_a_cat_that_cannot_stop_ends_a_cut_stream_at_once_and_is_charged_the_reserved_prompt(client, cat):
    """v1's case: its turn runs on in its thread; a stream with no usage to report does not wait for it."""
    cat.stops_turns = False
    limit(cat, tokens_per_minute=1000)
    cat.script(*LONG_ANSWER, Gate(), TurnResult("never reached", prompt_tokens=120))  # would hang past the cut
    cut = await client.post("/v1/chat/completions", json=chat(stream=True, max_tokens=2), headers=GOOD)
    assert cut.status_code == 200 and cut.content.endswith(DONE)
    assert deltas(cut.content)[-1][1] == "length" and cat.stopped == 0
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    charged = prompt_cost() + tokens.count_text("Hello big")  # the prompt as reserved, and what was sent
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(1000 - charged - (prompt_cost() + 2))


@pytest.mark.asyncio
async def test_a_failure_after_the_cut_does_not_fail_the_whole_answer(client, cat):
    cat.stops_turns = False  # the turn goes on after the cut, and then fails
    cat.script(*LONG_ANSWER, CatFailure("LLM down later"))
    body = chat(stream=True, stream_options={"include_usage": True}, max_tokens=2)
    cut = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert cut.status_code == 200 and cut.content.endswith(DONE)
    assert deltas(cut.content)[-1][1] == "length"
    assert sse(cut.content)[-2][1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}


@pytest.mark.asyncio
async def test_a_stream_cut_early_is_still_charged_its_prompt(client, cat):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    cat.script("Hel", "lo", " world", TurnResult("Hello world", prompt_tokens=120))
    cut = await client.post("/v1/chat/completions", json=chat(stream=True, stop=["lo"], max_tokens=10), headers=GOOD)
    assert cut.status_code == 200 and cut.content.endswith(DONE)
    assert "".join(d.get("content") or "" for d, _ in deltas(cut.content)) == "Hel"
    assert deltas(cut.content)[-1][1] == "stop"  # a whole answer, cut as asked
    assert cat.stopped == 1  # a stop sequence ends the Cat's run too
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=10), headers=GOOD)
    charged = 120 + tokens.count_text("Hello")
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(tpm - charged - (prompt_cost() + 10))


@pytest.mark.asyncio
async def test_a_responses_stream_cut_by_max_output_tokens_reports_its_input_tokens(client, cat):
    usages = []
    for stream in (False, True):
        cat.script(
            "Hello", " big", " world", " and", " more", TurnResult("Hello big world and more", prompt_tokens=120)
        )
        response = await client.post("/v1/responses", json=responses(max_output_tokens=2, stream=stream), headers=GOOD)
        assert response.status_code == 200
        final = sse(response.content)[-1] if stream else ("", {"response": response.json()})
        assert final[0] == ("response.incomplete" if stream else "")
        assert final[1]["response"]["status"] == "incomplete"
        usages.append({k: final[1]["response"]["usage"][k] for k in ("input_tokens", "output_tokens", "total_tokens")})
    assert usages[0] == {"input_tokens": 120, "output_tokens": 2, "total_tokens": 122}
    assert usages[1] == usages[0]


# When a JSON answer is watched for its cut (streamed inside the bridge) and when the Cat answers in one LLM call


def test_a_turn_is_watched_for_a_stop_a_small_limit_or_a_limit_under_the_usual_answer():
    from cat_openai_bridge.core.turn.answer import AnswerLengths, OutputRules

    class Stops:
        stops_turns = True

    def watched(lengths: AnswerLengths, limit: int | None, stops: tuple[str, ...] = ()) -> bool:
        return lengths.worth_watching(Stops(), OutputRules(False, limit, 60.0, list(stops)))  # type: ignore[arg-type]

    lengths = AnswerLengths()
    assert watched(lengths, None, ("END",)) and watched(lengths, 4000, ("END",))  # a stop sequence: always
    assert not watched(lengths, None) and not watched(lengths, 4000)  # the settings' ceiling alone: never
    assert watched(lengths, 255) and watched(lengths, 1000)  # small, or under the long answer assumed at first
    for _ in range(8):
        lengths.record(3000)
    assert watched(lengths, 2999) and not watched(lengths, 3000)  # under the median of what this Cat answers
    for _ in range(64):
        lengths.record(20)
    assert watched(lengths, 255) and not watched(lengths, 256)  # short answers: only a small limit is watched
    Stops.stops_turns = False
    assert not watched(lengths, 1, ("END",))  # a Cat that cannot stop its run (v1) is never watched


@pytest.mark.asyncio
async def test_a_json_answer_without_a_cut_asks_the_cat_for_one_llm_call(client, cat):
    response = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert response.status_code == 200, response.text
    assert cat.turns[-1].stream is False


@pytest.mark.asyncio
async def test_an_unwatched_cut_cuts_the_final_text_as_the_stream_would(client, cat):
    """A limit above what this Cat's answers run to: one LLM call, then the same cut, reason and usage."""
    long_text = " ".join(f"w{i}" for i in range(400))
    for _ in range(8):  # this Cat's answers are short
        assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200
    cat.script(TurnResult(long_text, prompt_tokens=10))
    body = (await client.post("/v1/chat/completions", json=chat(max_tokens=300), headers=GOOD)).json()
    assert cat.turns[-1].stream is False and cat.stopped == 0
    expected = tokens.head(long_text, 300)
    assert body["choices"][0]["message"]["content"] == expected and body["choices"][0]["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 300, "total_tokens": 310}


# A max_tokens above the settings' ceiling: cut at the ceiling with the protocol's own "length" (issue #24)


def _ending(path: str, stream: bool, response) -> tuple[str, str]:
    """(the answer's text, its reason for stopping) as the protocol says them."""
    if path == "/v1/messages":
        if not stream:
            return response.json()["content"][0]["text"], response.json()["stop_reason"]
        stream_events = sse(response.content)
        text = "".join(e["delta"].get("text", "") for n, e in stream_events if n == "content_block_delta")
        return text, next(e["delta"]["stop_reason"] for n, e in stream_events if n == "message_delta")
    if path == "/v1/responses":
        final = sse(response.content)[-1][1]["response"] if stream else response.json()
        ending = sse(response.content)[-1][0] if stream else final["status"]
        return final["output"][0]["content"][0]["text"], ending
    if stream:
        pieces = [d for _, d in sse(response.content) if isinstance(d, dict) and d.get("choices")]
        choice = "delta" if path == "/v1/chat/completions" else None
        text = "".join(
            (p["choices"][0][choice].get("content") or "") if choice else p["choices"][0]["text"] for p in pieces
        )
        return text, pieces[-1]["choices"][0]["finish_reason"]
    choice = response.json()["choices"][0]
    return choice["message"]["content"] if "message" in choice else choice["text"], choice["finish_reason"]


CLAMPED = [
    ("/v1/chat/completions", {**chat(), "max_tokens": 32000}, "length"),
    ("/v1/chat/completions", {**chat(), "max_completion_tokens": 32000}, "length"),
    ("/v1/completions", {"model": "cheshire-cat", "prompt": "Hi", "max_tokens": 32000}, "length"),
    ("/v1/responses", responses(max_output_tokens=32000), "incomplete"),
    (
        "/v1/messages",
        {"model": "cheshire-cat", "max_tokens": 32000, "messages": [{"role": "user", "content": "Hi"}]},
        "max_tokens",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("path,body,reason", CLAMPED, ids=["chat", "chat-mct", "completions", "responses", "anthropic"])
async def test_max_tokens_above_the_ceiling_is_cut_at_the_ceiling(client, cat, path, body, reason, stream):
    limit(cat, max_tokens=2)
    cat.script(*LONG_ANSWER, TurnResult("Hello big world and more", prompt_tokens=120))
    headers = {**GOOD, "x-api-key": "good"}
    response = await client.post(path, json={**body, "stream": stream}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-openai-bridge-max-tokens"] == "2"
    if stream and path == "/v1/responses":
        reason = "response.incomplete"
    assert _ending(path, stream, response) == ("Hello big", reason)


@pytest.mark.asyncio
async def test_the_clamp_reserves_the_ceiling_and_says_nothing_when_the_ask_fits(client, cat):
    limit(cat, max_tokens=2, tokens_per_minute=1000)
    cat.script(TurnResult("Hi", prompt_tokens=1))
    response = await client.post("/v1/chat/completions", json=chat(max_tokens=32000), headers=GOOD)
    assert response.headers["x-ratelimit-remaining-tokens"] == str(1000 - prompt_cost() - 2)
    cat.script(TurnResult("Hi", prompt_tokens=1))
    fits = await client.post("/v1/chat/completions", json=chat(max_tokens=2), headers=GOOD)
    assert fits.status_code == 200 and "x-openai-bridge-max-tokens" not in fits.headers
    limit(cat, max_tokens=0)  # no ceiling: nothing to clamp
    cat.script(TurnResult("Hi", prompt_tokens=1))
    unlimited = await client.post("/v1/chat/completions", json=chat(max_tokens=32000), headers=GOOD)
    assert unlimited.status_code == 200 and "x-openai-bridge-max-tokens" not in unlimited.headers


REFUSED = [
    ("/v1/chat/completions", {**chat(), "max_tokens": 4001}, "max_tokens"),
    ("/v1/chat/completions", {**chat(), "max_completion_tokens": 4001}, "max_completion_tokens"),
    ("/v1/completions", {"model": "cheshire-cat", "prompt": "Hi", "max_tokens": 4001}, "max_tokens"),
    ("/v1/responses", responses(max_output_tokens=4001), "max_output_tokens"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("path,body,param", REFUSED, ids=["chat", "chat-mct", "completions", "responses"])
async def test_the_refuse_setting_keeps_the_400(client, cat, path, body, param):
    limit(cat, max_tokens_over_ceiling="refuse")
    response = await client.post(path, json=body, headers=GOOD)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": f"{param} is too large: 4001. This Cat allows at most 4000 completion tokens.",
            "type": "invalid_request_error",
            "param": param,
            "code": "invalid_value",
        }
    }
    assert cat.turns == []


@pytest.mark.asyncio
async def test_a_reask_after_a_cut_answer_runs_to_its_end(client, cat):
    """The first answer is cut at its stop sequence (the Cat asked to stop) and is no JSON: the re-ask is a new run
    with a stop signal of its own, not one already set that would end it at its first token."""
    cat.script("not json", " END", " more", TurnResult("not json END more", prompt_tokens=10))
    cat.script('{"a":', " 1}", TurnResult('{"a": 1}', prompt_tokens=12))
    body = chat(stop=["END"], response_format={"type": "json_object"})
    response = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == '{"a": 1}'
    assert [turn.stop.is_set() for turn in cat.turns] == [True, False]
