"""#22 on a real Cat: what a request may cost is admitted once and charged however it ends; stored reads are
requests; `store` says whether a response was kept; a body that does not arrive in time is a 408."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from .conftest import KEY, cat_jwt, user_says

CHAT = "/custom/v1/chat/completions"
RESPONSES = "/custom/v1/responses"


@pytest.fixture
def http(cat) -> Iterator[httpx.Client]:
    """A user of its own: the limits' state of another test's user does not carry over."""
    token = cat_jwt(f"cost-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=cat.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


def test_a_failed_demand_is_charged_so_the_next_is_refused(http, settings, llm_log):
    """Finding 3: each request of ~1,000 prompt tokens makes two LLM calls and fails; with 3,000 tokens a minute the
    second can no longer be admitted (before: every one was given back, and none got a 429)."""
    settings(tokens_per_minute=3000)
    body = {
        "model": "cheshire-cat",
        "messages": user_says("word " * 1000 + "[[stubborn]] [[reply:not json]]"),
        "response_format": {"type": "json_object"},
        "max_tokens": 50,
    }
    first = http.post(CHAT, json=body)
    assert first.status_code == 400 and first.json()["error"]["code"] == "invalid_structured_output"
    calls = len(llm_log())
    assert calls == 2  # the answer and its re-ask
    second = http.post(CHAT, json=body)
    assert second.status_code == 429 and second.json()["error"]["type"] == "tokens"
    assert len(llm_log()) == calls


def test_a_prompt_over_the_token_budget_is_refused_before_the_cat(http, settings, llm_log):
    """Finding 4: a 60,000-token prompt on 2,000 tokens a minute, on chat and Anthropic alike."""
    settings(tokens_per_minute=2000)
    text = "lorem ipsum " * 30_000
    chat = http.post(CHAT, json={"model": "cheshire-cat", "messages": user_says(text)})
    assert chat.status_code == 429 and chat.headers["x-should-retry"] == "false"
    error = chat.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("tokens", "messages", "rate_limit_exceeded")
    assert error["message"].startswith("Request too large for cheshire-cat on tokens per min (TPM): Limit 2000, ")
    anthropic = http.post(
        "/custom/v1/messages",
        json={"model": "cheshire-cat", "max_tokens": 10, "messages": user_says(text)},
        headers={"anthropic-version": "2023-06-01"},
    )
    assert anthropic.status_code == 429 and anthropic.json()["error"]["type"] == "rate_limit_error"
    assert llm_log() == []


def test_each_prompt_of_a_batch_is_a_request(http, settings, llm_log):
    """Finding 7: with 2 requests a minute a 20-prompt batch is refused whole (before: two ran 40 Cat turns)."""
    settings(rate_limit_per_minute=2)
    batch = http.post("/custom/v1/completions", json={"model": "cheshire-cat", "prompt": ["p"] * 20})
    assert batch.status_code == 429 and batch.json()["error"]["param"] == "prompt"
    assert "on requests per min (RPM): Limit 2, Requested 20." in batch.json()["error"]["message"]
    assert llm_log() == []
    two = http.post("/custom/v1/completions", json={"model": "cheshire-cat", "prompt": ["a", "b"]})
    assert two.status_code == 200 and two.headers["x-ratelimit-remaining-requests"] == "0"
    assert http.post("/custom/v1/completions", json={"model": "cheshire-cat", "prompt": "c"}).status_code == 429


def test_stored_reads_are_requests_and_store_says_whether_kept(http, settings):
    """Findings 5 and 9."""
    settings(rate_limit_per_minute=3, responses_store_response_bytes=4096)
    made = http.post(RESPONSES, json={"model": "cheshire-cat", "input": "x" * 5000})
    assert made.status_code == 200 and made.json()["store"] is False  # too large to keep, and it says so
    kept = http.post(RESPONSES, json={"model": "cheshire-cat", "input": "small"}).json()
    assert kept["store"] is True
    assert http.get(f"{RESPONSES}/{kept['id']}").json() == kept
    refused = http.get(f"{RESPONSES}/{kept['id']}/input_items")  # the fourth request of the minute
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"


def test_a_body_that_does_not_arrive_is_408_and_the_connection_closed(cat, settings):
    """Finding 10: headers plus 10 of 1,000 declared bytes (before: held open past 45 s)."""
    settings(body_read_timeout=2)
    url = urlparse(cat.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(
            f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\n\r\n{"model": '.encode()
        )
        received = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            received += chunk
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b'"code":"request_timeout"' in received
    assert 1.5 < elapsed < 8
