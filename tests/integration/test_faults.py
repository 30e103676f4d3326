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


def stats(cat_url: str) -> dict:
    return httpx.get(cat_url + "/custom/probe/stats", timeout=10).json()


@pytest.mark.v2_only  # counts come from the v2 probe plugin; v1 threads finish their turn and drop it
def test_two_hundred_disconnects_cancel_the_cat_and_leak_nothing(cat, llm_log):
    user = f"quitter-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {cat_jwt(user)}"}
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:40]] [[delay:25]]"), "stream": True}

    async def walk_away(client: httpx.AsyncClient) -> str:
        async with client.stream("POST", CHAT, json=body, headers=headers) as response:
            async for line in response.aiter_lines():
                if '"content":" t' in line:
                    return line  # leave after the first real token
        raise AssertionError("the stream ended before its first token")

    async def run(rounds: int) -> None:
        async with httpx.AsyncClient(base_url=cat.url, timeout=30) as client:
            for _ in range(rounds):
                await asyncio.gather(*(walk_away(client) for _ in range(20)))

    asyncio.run(run(1))  # warm-up: thread pools grow once, on first use
    time.sleep(1.5)
    before = stats(cat.url)
    asyncio.run(run(10))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        after = stats(cat.url)
        if after["tasks"] <= before["tasks"] and after["threads"] <= before["threads"]:
            break
        time.sleep(0.2)
    assert after["tasks"] <= before["tasks"] and after["threads"] <= before["threads"], (before, after)
    time.sleep(0.5)
    runs = [e for e in llm_log() if tag in str(e["body"]["messages"])]
    assert len(runs) == 220
    assert sum(e["finished_at"] is None for e in runs) == 220  # every Cat run was cancelled mid-answer
    answer = httpx.post(cat.url + CHAT, headers=headers, timeout=30,
                        json={"model": "cheshire-cat", "messages": user_says("still me")})
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Echo: still me"


def test_a_client_disconnect_frees_its_concurrency_slot(settings, cat):
    settings(max_concurrent_requests=1)
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "cheshire-cat", "messages": user_says("[[tokens:40]] [[delay:50]]"), "stream": True}
    with httpx.stream("POST", cat.url + CHAT, json=body, headers=headers, timeout=30) as response:
        next(response.iter_lines())
    deadline = time.monotonic() + 5
    status = 0
    while time.monotonic() < deadline:
        status = httpx.post(cat.url + CHAT, headers=headers, timeout=30,
                            json={"model": "cheshire-cat", "messages": user_says("next")}).status_code
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200
