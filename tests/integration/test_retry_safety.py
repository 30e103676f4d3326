"""SDK retries never run a Cat turn twice: Idempotency-Key replays, x-should-retry on late failures."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from .conftest import KEY, cat_jwt, user_says


def calls_with(log: list, tag: str) -> int:
    return sum(tag in str(entry["body"]["messages"]) for entry in log)


def recording_client(base_url: str, attempts: list, **kw) -> openai.OpenAI:
    hooks = {"request": [lambda r: attempts.append("sent")], "response": [lambda r: attempts.append(r.status_code)]}
    return openai.OpenAI(
        base_url=base_url, api_key=kw.pop("api_key", KEY), http_client=httpx.Client(event_hooks=hooks), **kw
    )


def test_sdk_timeout_retry_with_idempotency_key_runs_the_cat_once(base_url, llm_log):
    tag = uuid.uuid4().hex
    attempts: list = []
    client = recording_client(base_url, attempts, max_retries=3, timeout=0.8)
    raw = client.chat.completions.with_raw_response.create(
        model="cheshire-cat",
        messages=user_says(f"{tag} [[tokens:4]] [[delay:300]]"),
        extra_headers={"Idempotency-Key": tag},
    )
    assert raw.parse().choices[0].message.content == " t0 t1 t2 t3"
    assert raw.headers["idempotent-replayed"] == "true"
    assert attempts[0] == "sent" and attempts[1] == "sent"  # the first attempt timed out: no response
    assert attempts[-1] == 200
    assert calls_with(llm_log(), tag) == 1


def test_a_repeated_key_replays_the_same_completion(http, llm_log):
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} hello")}
    first = http.post("/custom/v1/chat/completions", json=body, headers={"Idempotency-Key": tag})
    second = http.post("/custom/v1/chat/completions", json=body, headers={"Idempotency-Key": tag})
    assert first.status_code == second.status_code == 200
    assert second.content == first.content  # same id, same created, same answer
    assert "idempotent-replayed" not in first.headers and second.headers["idempotent-replayed"] == "true"
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert calls_with(llm_log(), tag) == 1


def test_a_repeated_key_replays_a_whole_stream(http, llm_log):
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:3]]"), "stream": True}
    first = http.post("/custom/v1/chat/completions", json=body, headers={"Idempotency-Key": tag})
    second = http.post("/custom/v1/chat/completions", json=body, headers={"Idempotency-Key": tag})
    assert first.text.endswith("data: [DONE]\n\n") and second.content == first.content
    assert second.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert (second.headers["idempotent-replayed"], second.headers["x-accel-buffering"]) == ("true", "no")
    assert calls_with(llm_log(), tag) == 1


def test_a_key_reused_with_another_body_is_refused(http):
    tag = uuid.uuid4().hex
    assert (
        http.post(
            "/custom/v1/chat/completions",
            headers={"Idempotency-Key": tag},
            json={"model": "cheshire-cat", "messages": user_says("one")},
        ).status_code
        == 200
    )
    other = http.post(
        "/custom/v1/chat/completions",
        headers={"Idempotency-Key": tag},
        json={"model": "cheshire-cat", "messages": user_says("two")},
    )
    assert other.status_code == 400
    assert other.json() == {
        "error": {
            "message": "This Idempotency-Key was already used with a different request body.",
            "type": "invalid_request_error",
            "param": None,
            "code": "idempotency_key_reused",
        }
    }


def test_keys_are_scoped_to_the_identity(http, llm_log):
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} hi")}
    for name in ("alice", "bob"):
        response = http.post(
            "/custom/v1/chat/completions",
            json=body,
            headers={"Idempotency-Key": tag, "Authorization": f"Bearer {cat_jwt(name)}"},
        )
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert calls_with(llm_log(), tag) == 2


def test_a_failure_after_the_cat_started_is_not_retried_by_the_sdk(base_url, http, llm_log):
    tag = uuid.uuid4().hex
    attempts: list = []
    client = recording_client(base_url, attempts, max_retries=2)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="cheshire-cat",
            messages=user_says(f"{tag} [[fail:status:400]]"),
            extra_headers={"Idempotency-Key": tag},
        )
    assert info.value.status_code == 502
    assert info.value.response.headers["x-should-retry"] == "false"
    assert attempts == ["sent", 502]  # one attempt only, despite max_retries=2
    # the failed attempt freed its key: a deliberate retry runs the Cat again
    again = http.post(
        "/custom/v1/chat/completions",
        headers={"Idempotency-Key": tag},
        json={"model": "cheshire-cat", "messages": user_says(f"{tag} [[fail:status:400]]")},
    )
    assert again.status_code == 502 and "idempotent-replayed" not in again.headers


def test_a_rate_limit_before_the_cat_started_stays_retryable(settings, http):
    settings(rate_limit_per_minute=1)
    auth = {"Authorization": f"Bearer {cat_jwt(uuid.uuid4().hex)}"}
    body = {"model": "cheshire-cat", "messages": user_says("hi")}
    http.post("/custom/v1/chat/completions", json=body, headers=auth)
    limited = http.post("/custom/v1/chat/completions", json=body, headers=auth)
    assert limited.status_code == 429 and "x-should-retry" not in limited.headers


def test_front_end_user_header_selects_the_cat_user_for_master_key_callers_only(settings, base_url, adapter):
    settings(user_header="X-OpenWebUI-User-Id")
    model = "probe" if adapter == "v2" else "cheshire-cat"  # whose system prompt names the user
    person = f"ow-{uuid.uuid4().hex[:8]}"
    headers = {"X-OpenWebUI-User-Id": person, "X-OpenWebUI-Chat-Id": "chat-1"}
    master = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0, default_headers=headers)
    answer = master.chat.completions.create(model=model, messages=user_says("[[system]]")).choices[0].message.content
    # v1 users are their names (as its `user_id` header makes them); v2 derives a stable uuid
    user_id = person if adapter == "v1" else uuid.uuid5(uuid.NAMESPACE_URL, f"cat-openai-bridge:user:{person}")
    assert f"[probe-user:{person}:{user_id}]" in answer
    jwt_user = f"carl-{uuid.uuid4().hex[:6]}"
    other = openai.OpenAI(base_url=base_url, api_key=cat_jwt(jwt_user), max_retries=0, default_headers=headers)
    answer = other.chat.completions.create(model=model, messages=user_says("[[system]]")).choices[0].message.content
    assert f"[probe-user:{jwt_user}:" in answer and person not in answer
