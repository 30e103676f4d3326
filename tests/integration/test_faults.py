"""Faults in the LLM: say what went wrong, keep the real tokens, never fake an ending, store no half answer."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openai
import pytest

from testkit import sse

from .conftest import KEY, cat_jwt, user_says

CHAT = "/custom/v1/chat/completions"


def stream_events(http: httpx.Client, text: str) -> list:
    with http.stream("POST", CHAT, json={"model": "cheshire-cat", "messages": user_says(text), "stream": True}) as r:
        assert r.status_code == 200
        return [line[len("data: ") :] for line in r.iter_lines() if line.startswith("data: ")]


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


def wait_for(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = check()
    return value


def ended_call(llm_log, tag: str) -> dict:
    """The LLM call carrying `tag`, once it finished or the Cat hung up on it."""
    entry = wait_for(
        lambda: next(
            (e for e in llm_log() if tag in str(e["body"]["messages"]) if e["finished_at"] or e["aborted_at"]), None
        )
    )
    assert entry is not None, llm_log()
    return entry


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    return response.json()["error"]


def test_llm_dropping_mid_answer_is_502_not_the_partial_text(http):
    error = error_of(
        http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("[[tokens:10]] [[fail:after:3]]")}), 502
    )
    assert (error["type"], error["param"], error["code"]) == ("api_error", None, "cat_error")
    assert " t0" not in error["message"]


def test_timeouts_abandon_the_llm_call(settings, http, llm_log, adapter):
    settings(request_timeout=1)
    tag = uuid.uuid4().hex
    answer = http.post(
        CHAT, json={"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:20]] [[delay:100]]")}
    )
    error = error_of(answer, 504)
    assert (error["type"], error["param"], error["code"]) == ("api_error", None, "timeout")
    assert answer.headers["x-should-retry"] == "false"
    entry = ended_call(llm_log, tag)
    if adapter == "v2":  # the Cat's run was cancelled: it hung up on its LLM
        assert entry["aborted_at"] is not None and entry["finished_at"] is None
    else:  # v1 cannot stop its thread: the turn ran on and its answer was dropped
        assert entry["finished_at"] is not None


def test_a_stream_timing_out_mid_answer_keeps_its_tokens_and_ends_with_a_timeout_event(
    settings, http, llm_log, adapter
):
    settings(request_timeout=1)
    tag = uuid.uuid4().hex
    with http.stream(
        "POST",
        CHAT,
        json={
            "model": "cheshire-cat",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": user_says(f"{tag} [[tokens:30]] [[delay:100]]"),
        },
    ) as response:
        assert response.status_code == 200
        events = sse.parse(response.iter_lines())
    chunks, last = [e.json for e in events[:-1]], events[-1].json
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:]]
    assert 1 <= len(contents) < 30 and contents == [f" t{i}" for i in range(len(contents))]  # the real tokens, in order
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)  # no fake "stop" or "length"
    assert all(c["usage"] is None for c in chunks)  # no usage chunk for an answer that never ended
    assert last == {
        "error": {
            "message": "The Cat did not answer within 1 seconds.",
            "type": "api_error",
            "param": None,
            "code": "timeout",
        }
    }
    entry = ended_call(llm_log, tag)
    assert (entry["aborted_at"] is not None) if adapter == "v2" else (entry["finished_at"] is not None)


@pytest.mark.parametrize(
    "script,status,code",
    [
        ("[[fail:status:400]]", 502, "cat_error"),
        ("[[tokens:8]] [[fail:after:2]]", 502, "cat_error"),
        ("[[garbage]]", 502, "cat_error"),
        ("[[hang]]", 504, "timeout"),
    ],
)
def test_simple_message_route_reports_llm_faults(settings, http, script, status, code):
    settings(request_timeout=1 if status == 504 else 60)  # the Cat's LLM client retries dropped connections
    error = error_of(http.post("/custom/message", json={"text": script}), status)
    assert (error["type"], error["code"]) == ("api_error", code)
    ok = http.post("/custom/message", json={"text": "after the fault"})
    assert ok.status_code == 200 and ok.json()["text"] == "Echo: after the fault"


@pytest.mark.parametrize("script", ["[[fail:status:503]]", "[[tokens:8]] [[fail:after:2]]", "[[garbage]]"])
def test_sdk_stream_never_looks_finished_after_an_llm_fault(client, script):
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(model="cheshire-cat", stream=True, messages=user_says(script)):
            seen.append(chunk.choices[0].finish_reason)
    assert info.value.code == "cat_error" and set(seen) == {None}


@pytest.mark.v2_only  # the probe agent's directive and after_agent_run record (tests/cat_plugins/bridge_probe)
def test_a_failed_turn_is_not_stored_as_an_answer_on_v2(http, settings):
    """v2's core keeps no conversation; what plugins keep: the directive saw the message, after_agent_run nothing."""
    name = f"faulty-{uuid.uuid4().hex[:6]}"
    user_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
    headers = {"Authorization": f"Bearer {cat_jwt(name)}"}

    def completed() -> list:
        return http.get(f"/custom/probe/completed/{user_id}").json()["completed"]

    ok = http.post(CHAT, headers=headers, json={"model": "probe", "messages": user_says("first [[reply:one]]")})
    assert ok.status_code == 200 and completed() == ["one"]
    with http.stream(
        "POST",
        CHAT,
        headers=headers,
        json={"model": "probe", "stream": True, "messages": user_says("broken [[tokens:9]] [[fail:after:4]]")},
    ) as r:
        events = sse.parse(r.iter_lines())
    assert events[-1].json["error"]["code"] == "cat_error"
    assert completed() == ["one"]  # the half answer never reached after_agent_run
    system = http.post(CHAT, headers=headers, json={"model": "probe", "messages": user_says("again [[system]]")})
    assert "[probe-memory:broken]" in system.json()["choices"][0]["message"]["content"]  # its message was seen
    assert completed() == ["one", system.json()["choices"][0]["message"]["content"]]


def episodic_points(c: httpx.Client) -> int:
    collections = c.get("/memory/collections").json()["collections"]
    return next(col["vectors_count"] for col in collections if col["name"] == "episodic")


@pytest.mark.v1_only
def test_a_failed_turn_leaves_v1_server_history_as_it_was(cat, settings):
    settings(v1_history="server")
    user = f"faulty-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=cat.url, timeout=60, headers={"Authorization": f"Bearer {KEY}", "user_id": user}) as c:
        assert c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("one")}).status_code == 200
        episodic = episodic_points(c)
        with c.stream(
            "POST",
            CHAT,
            json={
                "model": "cheshire-cat",
                "stream": True,
                "messages": user_says("broken [[tokens:9]] [[fail:after:4]]"),
            },
        ) as r:
            events = sse.parse(r.iter_lines())
        assert events[-1].json["error"]["code"] == "cat_error"
        failed = c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("[[fail:status:500]]")})
        assert failed.status_code == 502
        history = [(m["who"], m["text"]) for m in c.get("/memory/conversation_history").json()["history"]]
        assert history == [("Human", "one"), ("AI", "Echo: one")]
        assert episodic_points(c) == episodic  # v1 stores the message in episodic memory only once its agent answered
        assert c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("two")}).status_code == 200
        history = [(m["who"], m["text"]) for m in c.get("/memory/conversation_history").json()["history"]]
        assert history == [("Human", "one"), ("AI", "Echo: one"), ("Human", "two"), ("AI", "Echo: two")]
