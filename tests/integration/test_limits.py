"""Per-identity limits on a live Cat: headers, 429s the SDK understands, live settings."""

from __future__ import annotations

import asyncio
import math
import time
import uuid

import httpx
import openai
import pytest

from .conftest import cat_jwt, chat_prompt_tokens, count_tokens, user_says


def fresh_user() -> str:
    """A user nobody else has spent quota for."""
    return f"u{uuid.uuid4().hex[:10]}"


def as_user(base_url: str, name: str, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=cat_jwt(name), max_retries=kw.pop("max_retries", 0), **kw)


def post(http: httpx.Client, name: str, text: str = "hi", **body) -> httpx.Response:
    return http.post(
        "/custom/v1/chat/completions",
        headers={"Authorization": f"Bearer {cat_jwt(name)}"},
        json={"model": "cheshire-cat", "messages": user_says(text), **body},
    )


def test_requests_limit_headers_then_429_with_retry_after(settings, http):
    settings(rate_limit_per_minute=2)
    alice, bob = fresh_user(), fresh_user()
    began = time.monotonic()
    first, second, third = (post(http, alice) for _ in range(3))
    elapsed = time.monotonic() - began  # bounds the limiter's own time between the first and third admission
    assert elapsed < 30  # one refill interval (60 s / 2): the headers below assume none passed
    assert first.status_code == second.status_code == 200
    assert [
        (r.headers["x-ratelimit-limit-requests"], r.headers["x-ratelimit-remaining-requests"]) for r in (first, second)
    ] == [("2", "1"), ("2", "0")]
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    assert "x-ratelimit-limit-tokens" not in first.headers  # the token limit is off
    assert third.status_code == 429
    assert third.json() == {
        "error": {
            "message": third.json()["error"]["message"],
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert third.json()["error"]["message"].startswith("Rate limit reached for requests per minute: limit 2.")
    # GCRA at 2/min: the third may come 30 s after the first was admitted, however long the requests took
    retry_ms = int(third.headers["retry-after-ms"])
    assert 30_000 - math.ceil(elapsed * 1000) <= retry_ms <= 30_000
    assert third.headers["retry-after"] == str(math.ceil(retry_ms / 1000))
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    assert post(http, bob).status_code == 200  # another identity has its own quota


def test_the_body_user_field_does_not_escape_the_limit(settings, http):
    settings(rate_limit_per_minute=1)
    alice = fresh_user()
    assert post(http, alice, user="label-1").status_code == 200
    assert post(http, alice, user="label-2").status_code == 429


def test_a_settings_change_applies_to_the_next_request(settings, http):
    settings(rate_limit_per_minute=1)
    alice = fresh_user()
    assert post(http, alice).status_code == 200
    assert post(http, alice).status_code == 429
    settings(rate_limit_per_minute=0)
    free = post(http, alice)
    assert free.status_code == 200 and "x-ratelimit-limit-requests" not in free.headers
    settings(rate_limit_per_minute=1000)
    assert post(http, alice).headers["x-ratelimit-limit-requests"] == "1000"


def test_message_endpoint_shares_the_limit(settings, http):
    settings(rate_limit_per_minute=1)
    alice = fresh_user()
    auth = {"Authorization": f"Bearer {cat_jwt(alice)}"}
    assert http.post("/custom/message", headers=auth, json={"text": "hi"}).status_code == 200
    limited = http.post("/custom/message", headers=auth, json={"text": "hi"})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert post(http, alice).status_code == 429


def test_tokens_per_minute_reserves_max_tokens_and_counts_real_usage(settings, http):
    settings(tokens_per_minute=1000)
    alice = fresh_user()
    began = time.monotonic()
    first = post(http, alice, "[[tokens:40]]", max_tokens=50)
    assert first.status_code == 200
    used = first.json()["usage"]["total_tokens"]
    estimate = chat_prompt_tokens([("user", "[[tokens:40]]")])
    assert first.headers["x-ratelimit-limit-tokens"] == "1000"
    assert first.headers["x-ratelimit-remaining-tokens"] == str(1000 - estimate - 50)  # the prompt and its cap
    second = post(http, alice, "[[tokens:150]]", max_tokens=500)  # settled on what it used, not on its cap
    assert second.status_code == 200
    answer = second.json()["choices"][0]["message"]["content"]
    assert answer.endswith(" t149") and second.json()["choices"][0]["finish_reason"] == "stop"
    assert second.json()["usage"]["completion_tokens"] == count_tokens(answer) == 300
    used += second.json()["usage"]["total_tokens"]
    # A third that fits only if the first two were charged less than they used. The limit refills 1000 tokens a
    # minute: the margin is what came back since the first request (measured) plus 3 s more for the third's own
    # admission, so an undercharge of about 50 tokens shows however slow the machine is.
    sent_at = time.monotonic() - began
    third_cap = 1000 - used - chat_prompt_tokens([("user", "hi")]) + math.ceil((sent_at + 3) * 1000 / 60)
    third = post(http, alice, max_tokens=third_cap)
    assert time.monotonic() - began < sent_at + 3  # the margin above held
    assert third.status_code == 429
    assert (third.json()["error"]["type"], third.json()["error"]["code"]) == ("tokens", "rate_limit_exceeded")
    assert post(http, fresh_user(), max_tokens=third_cap).status_code == 200


def test_concurrent_requests_cannot_spend_more_than_the_token_limit(settings, base_url):
    """30 concurrent requests for 1,000 tokens each against 2,000 a minute: their caps are reserved up front."""
    settings(tokens_per_minute=2000)
    alice = fresh_user()
    body = {"model": "cheshire-cat", "messages": user_says("[[tokens:1000]] [[delay:1]]"), "max_tokens": 1000}
    headers = {"Authorization": f"Bearer {cat_jwt(alice)}"}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as c:
            return await asyncio.gather(*(c.post("/chat/completions", json=body) for _ in range(30)))

    answers = asyncio.run(burst())
    served = [a for a in answers if a.status_code == 200]
    assert {a.status_code for a in answers} == {200, 429}
    assert 1 <= len(served) <= 2  # before: all 30 were served (61,170 tokens in a second)
    assert sum(a.json()["usage"]["total_tokens"] for a in served) <= 2 * 2000
    assert all(a.json()["error"]["type"] == "tokens" for a in answers if a.status_code == 429)


def test_streams_hold_a_concurrency_slot_and_the_sdk_retries_on_429(settings, base_url, llm):
    """The SDK's own retry loop honours retry-after-ms until the first stream frees its slot.

    No clock: the first stream's LLM waits at a gate after its first token, opened only once the patient
    client got its first 429, so that 429 cannot come after the stream ended, however slow the machine."""
    settings(max_concurrent_requests=1)
    alice = fresh_user()
    gate = uuid.uuid4().hex
    statuses = []

    def seen(response: httpx.Response) -> None:
        statuses.append((response.status_code, response.headers.get("retry-after-ms")))
        if len(statuses) == 1:
            httpx.post(f"{llm.url}/_gates/{gate}", timeout=10).raise_for_status()

    with httpx.Client(event_hooks={"response": [seen]}) as transport:
        patient = as_user(base_url, alice, max_retries=8, http_client=transport)
        slow = as_user(base_url, alice).chat.completions.create(
            model="cheshire-cat", messages=user_says(f"[[tokens:8]] [[gate:{gate}]]"), stream=True
        )
        first = next(iter(slow))
        assert first.choices[0].delta.role == "assistant"
        answer = patient.chat.completions.create(model="cheshire-cat", messages=user_says("after you"))
        rest = "".join(c.choices[0].delta.content or "" for c in slow)
    assert answer.choices[0].message.content == "Echo: after you"
    assert rest == "".join(f" t{i}" for i in range(8))
    assert statuses[0] == (429, "500") and statuses[-1] == (200, None)
    assert set(statuses[:-1]) == {(429, "500")}


def test_sdk_raises_rate_limit_error_when_it_may_not_retry(settings, base_url):
    settings(rate_limit_per_minute=1)
    client = as_user(base_url, fresh_user())
    raw = client.chat.completions.with_raw_response.create(model="cheshire-cat", messages=user_says("hi"))
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    assert raw.parse().choices[0].message.content == "Echo: hi"
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="cheshire-cat", messages=user_says("hi"))
    assert info.value.status_code == 429 and info.value.code == "rate_limit_exceeded"
