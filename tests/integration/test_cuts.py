"""Answers cut at max_tokens: the Cat's LLM stops there (v2), usage and the token limit count what it really did.

v1 cannot stop a turn (it runs in a thread of its own): there the LLM finishes, and a cut answer waits for it only
when its usage must be reported (JSON, `include_usage`, Responses).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from cat_openai_bridge.core.turn import tokens
from testkit import sse

from .conftest import cat_jwt, user_says
from .test_disconnects import wait_for
from .test_responses import events_of

CHAT = "/custom/v1/chat/completions"
LONG = "[[tokens:2000]] [[delay:5]]"  # 10 s to generate in full


def ended(llm_log, tag: str) -> dict:
    entry = wait_for(
        lambda: next(
            (e for e in llm_log() if tag in str(e["body"]["messages"]) and (e["finished_at"] or e["aborted_at"])), None
        )
    )
    assert entry is not None, "the LLM call never ended"
    return entry


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream-with-usage"])
def test_max_tokens_stops_the_cats_llm_and_usage_counts_what_it_read(http, llm_log, adapter, stream):
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} {LONG}"), "max_tokens": 20}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        with http.stream("POST", CHAT, json=body) as r:
            events = sse.parse(r.iter_lines())
        assert events[-1].data == "[DONE]"
        usage = events[-2].json["usage"]
        finish = [e.json["choices"][0]["finish_reason"] for e in events[:-2] if e.json["choices"]][-1]
    else:
        answer = http.post(CHAT, json=body)
        assert answer.status_code == 200, answer.text
        usage, finish = answer.json()["usage"], answer.json()["choices"][0]["finish_reason"]
    assert finish == "length" and usage["completion_tokens"] == 20
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"] + 20
    entry = ended(llm_log, tag)
    if adapter == "v2":  # the Cat's run was stopped at the cut: it hung up on its LLM
        assert entry["aborted_at"] is not None and entry["finished_at"] is None
        assert entry["body"]["stream"] is True  # a JSON answer too is streamed inside, so it can be stopped
    else:  # v1's turn cannot be stopped: its LLM ran to the end
        assert entry["finished_at"] is not None


def test_a_cut_responses_stream_keeps_its_real_input_tokens(http, adapter):
    body = {"model": "cheshire-cat", "input": "[[tokens:200]]", "max_output_tokens": 5}

    def fresh() -> dict:  # a user of its own: on v1 nothing earlier in the suite is recalled into its prompt
        return {"Authorization": f"Bearer {cat_jwt(f'cut-{uuid.uuid4().hex[:6]}')}"}

    # On v1 both requests run as one user: the probe plugin writes the user's random v1 id into the prompt, whose
    # token count varies from id to id (two users' prompts differed by one or two tokens, failing at random), and
    # the second prompt also carries what the first said, so it can only be longer.
    first = fresh()
    whole = http.post("/custom/v1/responses", json=body, headers=first).json()
    streamed = http.post(
        "/custom/v1/responses", json=body | {"stream": True}, headers=first if adapter == "v1" else fresh()
    )
    name, final = events_of(streamed.text)[-1]
    assert name == final["type"] == "response.incomplete"
    counted = final["response"]["usage"]["input_tokens"]
    if adapter == "v2":
        assert counted == whole["usage"]["input_tokens"] > 0
    else:  # v1 may also recall memories, and the probe what the user said before
        assert counted >= whole["usage"]["input_tokens"] > 0
    assert final["response"]["usage"]["output_tokens"] == 5


def test_a_cut_chat_stream_without_usage_is_charged_its_prompt(settings, cat, adapter):
    """The stream ends at the cut with no usage chunk; the token limit is still charged the prompt: its real
    count on v2 (the stopped run says what its LLM read), its reservation on v1 (whose turn runs on unseen)."""
    tpm = 600  # refills 10 tokens a second
    settings(tokens_per_minute=tpm)
    body = {"model": "cheshire-cat", "messages": user_says("[[tokens:200]]"), "max_tokens": 5}
    estimate = tokens.count_chat([("user", "[[tokens:200]]")])

    def as_new_user() -> dict:
        return {"Authorization": f"Bearer {cat_jwt(f'cut-{uuid.uuid4().hex[:6]}')}"}

    with httpx.Client(base_url=cat.url, timeout=60) as c:
        prompt = c.post(CHAT, json=body, headers=as_new_user()).json()["usage"]["prompt_tokens"]
        alice = as_new_user()
        with c.stream("POST", CHAT, json=body | {"stream": True}, headers=alice) as r:
            events = sse.parse(r.iter_lines())
        assert events[-1].data == "[DONE]" and "usage" not in events[-2].json
        nxt = c.post(CHAT, json={**body, "max_tokens": 1}, headers=alice)
    charged = tpm - int(nxt.headers["x-ratelimit-remaining-tokens"]) - (estimate + 1)
    floor = prompt if adapter == "v2" else estimate
    assert charged >= floor + 5 - 10  # 10: a second of refill
