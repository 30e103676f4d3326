"""Clients that walk away: the Cat's run is cancelled (v2) or finishes unseen (v1), nothing leaks, the user goes on.

Task and thread counts come from the test-only probe plugins (`GET /custom/probe/stats`, v2 and v1);
the scripted LLM's log shows whether the Cat hung up on its LLM (`aborted_at`) or let the call finish.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from .conftest import KEY, cat_jwt, user_says

CHAT = "/custom/v1/chat/completions"
ROUNDS, WIDTH = 10, 20  # 200 disconnects, 20 at a time


def stats(cat_url: str) -> dict:
    return httpx.get(cat_url + "/custom/probe/stats", timeout=10).json()


def wait_for(check, seconds: float = 30.0, step: float = 0.2):
    """Poll until `check()` is truthy (the work a disconnect leaves behind takes a moment to wind down)."""
    deadline = time.monotonic() + seconds
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = check()
    return value


def log_since(cat, offset: int) -> str:
    with open(cat.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def log_size(cat) -> int:
    return cat.log_path.stat().st_size


def script_for(adapter: str, tag: str) -> str:
    # v2: a 30-s answer, so "the Cat hung up on its LLM" cannot be mistaken for an answer that simply ended while
    # a loaded machine was slow to notice the client leave. v1 cannot cancel its thread: a short answer keeps the
    # 200 unseen turns quick to drain.
    return f"{tag} [[tokens:600]] [[delay:50]]" if adapter == "v2" else f"{tag} [[tokens:12]] [[delay:5]]"


async def walk_away(client: httpx.AsyncClient, body: dict, headers: dict) -> None:
    async with client.stream("POST", CHAT, json=body, headers=headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if '"content":" t' in line:
                return  # leave right after the first real token
    raise AssertionError("the stream ended before its first token")


def disconnect(cat_url: str, body: dict, headers: dict, rounds: int) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(base_url=cat_url, timeout=30) as client:
            for _ in range(rounds):
                await asyncio.gather(*(walk_away(client, body, headers) for _ in range(WIDTH)))

    asyncio.run(run())


def test_two_hundred_disconnects_leak_nothing_and_the_user_goes_on(cat, adapter, llm_log):
    user = f"quitter-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {cat_jwt(user)}"}
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(script_for(adapter, tag)), "stream": True}

    disconnect(cat.url, body, headers, 1)  # warm-up: thread pools grow once, on first use
    runs = lambda: [e for e in llm_log() if tag in str(e["body"]["messages"])]  # noqa: E731
    assert wait_for(lambda: all(e["finished_at"] or e["aborted_at"] for e in runs()))
    time.sleep(0.5)
    before = stats(cat.url)
    offset = log_size(cat)

    disconnect(cat.url, body, headers, ROUNDS)

    settled = lambda: (lambda s: s["tasks"] <= before["tasks"] and s["threads"] <= before["threads"])(stats(cat.url))  # noqa: E731
    assert wait_for(settled), (before, stats(cat.url))
    print(f"\n{adapter}: {ROUNDS * WIDTH} disconnects, tasks/threads before {before}, after {stats(cat.url)}")
    assert wait_for(
        lambda: len(runs()) == (ROUNDS + 1) * WIDTH and all(e["finished_at"] or e["aborted_at"] for e in runs())
    )
    ended = runs()
    if adapter == "v2":  # every Cat run was cancelled mid-answer: the Cat hung up on its LLM
        assert sum(e["aborted_at"] is not None and e["finished_at"] is None for e in ended) == len(ended)
    else:  # v1 cannot stop its thread: each turn ran to its end and its output was dropped
        assert sum(e["finished_at"] is not None for e in ended) == len(ended)
    written = log_since(cat, offset)
    assert "Traceback" not in written and "openai bridge: unexpected" not in written, written[-3000:]

    answer = httpx.post(
        cat.url + CHAT, headers=headers, timeout=30, json={"model": "cheshire-cat", "messages": user_says("still me")}
    )
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Echo: still me"


def test_leaving_before_the_first_token_stops_the_llm_call(cat, adapter, llm_log):
    """The client leaves while the Cat is still waiting for its LLM (only the role chunk went out)."""
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:3]] [[delay:1500]]"), "stream": True}
    with httpx.stream(
        "POST", cat.url + CHAT, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as response:
        lines = response.iter_lines()  # held: dropping the iterator would close the connection at once
        first = next(lines)
        assert first.startswith("data: ") and '"role":"assistant"' in first
        # stay until the Cat has asked its LLM, then leave
        assert wait_for(lambda: [e for e in llm_log() if tag in str(e["body"]["messages"])], 10)
    entry = wait_for(
        lambda: next(
            (e for e in llm_log() if tag in str(e["body"]["messages"]) if e["finished_at"] or e["aborted_at"]), None
        ),
        15,
    )
    assert entry is not None
    if adapter == "v2":
        assert entry["aborted_at"] is not None and entry["first_token_at"] is None and entry["finished_at"] is None
    else:
        assert entry["finished_at"] is not None
    assert (
        httpx.post(
            cat.url + CHAT,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
            json={"model": "cheshire-cat", "messages": user_says("next")},
        ).status_code
        == 200
    )


def test_a_client_giving_up_on_a_json_answer_leaves_the_cat_working(cat, llm_log):
    """Non-streamed: the client's read timeout fires; the turn finishes and its answer is dropped, without errors."""
    tag = uuid.uuid4().hex
    offset = log_size(cat)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            cat.url + CHAT,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=httpx.Timeout(30, read=0.3),
            json={"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:10]] [[delay:100]]")},
        )
    entry = wait_for(
        lambda: next(
            (e for e in llm_log() if tag in str(e["body"]["messages"]) if e["finished_at"] or e["aborted_at"]), None
        ),
        15,
    )
    assert entry is not None and entry["finished_at"] is not None  # uvicorn does not cancel a JSON handler
    written = log_since(cat, offset)
    assert "Traceback" not in written and "openai bridge: unexpected" not in written, written[-3000:]
    answer = httpx.post(
        cat.url + CHAT,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
        json={"model": "cheshire-cat", "messages": user_says("next")},
    )
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Echo: next"


def test_a_client_disconnect_frees_its_concurrency_slot(settings, cat, llm_log):
    """The slot frees when the client leaves, not when the abandoned turn ends: that turn's LLM answer would take
    30 s (v1 runs it to the end unseen), and the next request must be admitted while it is still unfinished."""
    settings(max_concurrent_requests=1)
    headers = {"Authorization": f"Bearer {KEY}"}
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:300]] [[delay:100]]"), "stream": True}
    with httpx.stream("POST", cat.url + CHAT, json=body, headers=headers, timeout=30) as response:
        lines = response.iter_lines()
        assert any('"content":" t' in line for line in lines)  # the turn is under way; then leave

    def next_request_admitted() -> bool:
        answer = httpx.post(
            cat.url + CHAT, headers=headers, timeout=30, json={"model": "cheshire-cat", "messages": user_says("next")}
        )
        assert answer.status_code in (200, 429), answer.text
        return answer.status_code == 200

    assert wait_for(next_request_admitted, 15, 0.1)
    # (v1 recalls the abandoned message into later prompts' context: find the call that asked it)
    (abandoned,) = [e for e in llm_log() if tag in str(e["body"]["messages"][-1])]
    assert abandoned["finished_at"] is None  # admitted while the abandoned answer was still unfinished


def test_leaving_a_responses_stream_stops_the_turn_too(cat, adapter, llm_log):
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "input": f"{tag} [[tokens:30]] [[delay:50]]", "stream": True}
    with httpx.stream(
        "POST", cat.url + "/custom/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as response:
        lines = response.iter_lines()
        assert any(line == "event: response.output_text.delta" for line in lines)  # one real token, then leave
    entry = wait_for(
        lambda: next(
            (e for e in llm_log() if tag in str(e["body"]["messages"]) if e["finished_at"] or e["aborted_at"]), None
        ),
        15,
    )
    assert entry is not None
    if adapter == "v2":
        assert entry["aborted_at"] is not None and entry["finished_at"] is None
    else:
        assert entry["finished_at"] is not None


@pytest.mark.v1_only
def test_on_v1_server_history_a_turn_whose_client_left_is_stored_whole(cat, settings, llm_log):
    """v1 cannot stop the turn: it finishes unseen and, with server-side history, is kept like any finished turn."""
    settings(v1_history="server")
    user = f"leaver-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {KEY}", "user_id": user}
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:20]] [[delay:20]]"), "stream": True}
    asyncio.run(_leave_once(cat.url, body, headers))
    assert wait_for(lambda: any(tag in str(e["body"]["messages"]) and e["finished_at"] for e in llm_log()))

    def stored() -> list:
        history = httpx.get(cat.url + "/memory/conversation_history", headers=headers, timeout=30).json()["history"]
        return [(m["who"], m["text"]) for m in history]

    whole = "".join(f" t{i}" for i in range(20))
    assert wait_for(lambda: stored() == [("Human", f"{tag} [[tokens:20]] [[delay:20]]"), ("AI", whole)], 10), stored()


async def _leave_once(cat_url: str, body: dict, headers: dict) -> None:
    async with httpx.AsyncClient(base_url=cat_url, timeout=30) as client:
        await walk_away(client, body, headers)
