"""Faults in the LLM and clients that walk away: say what went wrong, cancel the Cat's work, leak nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest

from .conftest import KEY, cat_jwt, user_says

CHAT = "/custom/v1/chat/completions"


def stream_events(http: httpx.Client, text: str) -> list:
    with http.stream("POST", CHAT, json={"model": "cheshire-cat", "messages": user_says(text), "stream": True}) as r:
        assert r.status_code == 200
        return [line[len("data: "):] for line in r.iter_lines() if line.startswith("data: ")]


def test_llm_dropping_mid_stream_ends_with_an_error_event_after_the_real_tokens(http):
    events = stream_events(http, "[[tokens:10]] [[fail:after:3]]")
    chunks = [json.loads(e) for e in events]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert contents == [" t0", " t1", " t2"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])  # no fake "stop"
    assert set(chunks[-1]) == {"error"} and chunks[-1]["error"]["code"] == "cat_error"
    assert "[DONE]" not in events


def test_garbage_from_the_llm_is_502_or_an_error_event(http):
    answer = http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("[[garbage]]")})
    assert answer.status_code == 502 and answer.json()["error"]["type"] == "api_error"
    assert answer.headers["x-should-retry"] == "false"
    last = json.loads(stream_events(http, "[[garbage]]")[-1])
    assert last["error"]["code"] == "cat_error"


def test_timeouts_cancel_the_llm_call(settings, http, llm_log):
    settings(request_timeout=1)
    tag = uuid.uuid4().hex
    answer = http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:50]] [[delay:100]]")})
    assert answer.status_code == 504 and answer.json()["error"]["code"] == "timeout"
    time.sleep(0.5)
    [entry] = [e for e in llm_log() if tag in str(e["body"]["messages"])]
    assert entry["finished_at"] is None  # the Cat's LLM call was abandoned, not left running to the end
