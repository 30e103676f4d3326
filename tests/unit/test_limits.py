"""Requests and tokens per minute: the limiter's algorithm on a frozen clock and its Redis client against refused
sockets, then what the pipeline admits and settles on a fake Cat (conftest.py). Answers in flight:
test_concurrency.py; Redis replying nonsense: test_redis_hostile.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from cat_openai_bridge.core.guards.limits import Limiter, MemoryStore, Quota, duration
from cat_openai_bridge.core.guards.quota import window_of
from cat_openai_bridge.core.guards.redis_client import RedisAddress, encode
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.errors import BridgeError
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult
from testkit.processes import free_port

from .fake_cat import Gate
from .http_kit import (
    GOOD,
    MASTER,
    Clock,
    assert_request_id,
    chat,
    embeddings,
    error,
    limit,
    prompt_cost,
    responses,
    sse,
)

# The limiter


def admit(limiter: Limiter, quota: Quota, key: str = "u", cost: int = 0, **kw):
    return asyncio.run(limiter.admit(key, quota, cost, **kw))


def refusal(limiter: Limiter, quota: Quota, key: str = "u", cost: int = 0, **kw) -> BridgeError:
    with pytest.raises(BridgeError) as info:
        admit(limiter, quota, key, cost, **kw)
    return info.value


def test_requests_per_minute_burst_then_smooth_refill():
    clock = Clock()
    limiter = Limiter(clock)
    quota = Quota(requests_per_minute=3)
    verdicts = [admit(limiter, quota)[1] for _ in range(3)]
    assert [v.headers() for v in verdicts] == [
        {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "2", "x-ratelimit-reset-requests": "20s"},
        {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "40s"},
        {
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1m0s",
        },
    ]
    error = refusal(limiter, quota)
    assert (error.status, error.type, error.code) == (429, "requests", "rate_limit_exceeded")
    assert error.headers == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
        "retry-after": "20",
        "retry-after-ms": "20000",
    }
    assert admit(limiter, quota, key="other")[1].allowed  # identities are independent
    clock.now += 20
    assert admit(limiter, quota)[1].headers()["x-ratelimit-remaining-requests"] == "0"
    assert refusal(limiter, quota).status == 429


def test_tokens_are_reserved_then_settled_with_real_usage():
    clock = Clock()
    limiter = Limiter(clock)
    quota = Quota(tokens_per_minute=100)
    lease, verdict = admit(limiter, quota, cost=30)
    assert verdict.headers() == {
        "x-ratelimit-limit-tokens": "100",
        "x-ratelimit-remaining-tokens": "70",
        "x-ratelimit-reset-tokens": "18s",
    }
    asyncio.run(lease.settle(90))  # the answer used 90 in all: 60 more than reserved
    assert admit(limiter, quota, cost=5)[1].headers()["x-ratelimit-remaining-tokens"] == "5"
    error = refusal(limiter, quota, cost=10)
    assert (error.type, error.code, error.headers["retry-after-ms"]) == ("tokens", "rate_limit_exceeded", "3000")


def test_concurrency_leases_release_and_expire():
    clock = Clock()
    limiter = Limiter(clock)
    quota = Quota(max_concurrent=2, lease_seconds=30)
    first, _ = admit(limiter, quota)
    admit(limiter, quota)
    error = refusal(limiter, quota)
    assert (error.status, error.type, error.headers["retry-after-ms"]) == (429, "requests", "500")
    assert "in flight" in error.message
    asyncio.run(first.settle(0))
    asyncio.run(first.settle(0))  # settling twice frees one slot, not two
    admit(limiter, quota)
    assert refusal(limiter, quota).status == 429
    clock.now += 31  # leases of a crashed request expire
    admit(limiter, quota)


def test_off_means_no_headers_and_no_state():
    limiter = Limiter(Clock())
    lease, verdict = admit(limiter, Quota())
    assert verdict.headers() == {} and len(limiter.memory) == 0


def test_memory_is_bounded_by_pruning_idle_identities():
    clock = Clock()
    store = MemoryStore(clock, prune_above=100)
    for i in range(101):
        asyncio.run(store.admit(f"user{i}", Quota(requests_per_minute=60), 0, "l"))
    clock.now += 120
    asyncio.run(store.admit("late", Quota(requests_per_minute=60), 0, "l"))
    assert len(store) == 1


def test_duration_format():
    assert [duration(0.25), duration(6), duration(90)] == ["250ms", "6s", "1m30s"]


# Its Redis, unreachable


def unreachable_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: connection refused


def test_unreachable_redis_fails_open_with_one_warning():
    warnings = []
    limiter = Limiter(Clock(), warn=warnings.append)
    url = unreachable_url()
    for _ in range(3):
        lease, verdict = admit(limiter, Quota(requests_per_minute=1), redis_url=url, fail_open=True)
        assert verdict.allowed and verdict.headers() == {}
    assert len(warnings) == 1 and "rate limiter backend failed" in warnings[0]
    assert len(limiter.failures) == 3


def test_unreachable_redis_fails_closed_with_503():
    error = refusal(Limiter(Clock()), Quota(requests_per_minute=1), redis_url=unreachable_url(), fail_open=False)
    assert (error.status, error.type, error.code, error.headers) == (
        503,
        "server_error",
        "rate_limiter_unavailable",
        {"retry-after": "1"},
    )


def test_resp_encoding_and_url_parsing():
    assert (
        encode(["EVALSHA", "ab", 1, "k", 2.5])
        == b"*5\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$1\r\nk\r\n$3\r\n2.5\r\n"
    )
    assert RedisAddress.parse("rediss://bob:s%40cret@cache:6380/2") == RedisAddress(
        "cache", 6380, 2, "bob", "s@cret", True
    )
    assert RedisAddress.parse("redis://localhost") == RedisAddress("localhost", 6379, 0, None, None, False)
    with pytest.raises(ValueError):
        RedisAddress.parse("http://x")


# Requests per minute, on the pipeline


@pytest.mark.asyncio
async def test_rate_limit_second_request_is_429_with_retry_headers(client, cat, clock):
    limit(cat, rate_limit_per_minute=1)
    first = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert first.status_code == 200
    assert {k: v for k, v in first.headers.items() if k.startswith("x-ratelimit-")} == {
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
    }
    second = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert second.status_code == 429
    assert second.json() == error(
        "Rate limit reached for requests per minute: limit 1. Please try again in 60.0s.",
        "requests",
        None,
        "rate_limit_exceeded",
    )
    assert {
        k: second.headers.get(k)
        for k in (
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        )
    } == {
        "retry-after": "60",
        "retry-after-ms": "60000",
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
    }
    assert_request_id(second)
    assert len(cat.turns) == 1
    other = await client.post("/v1/chat/completions", json=chat(), headers=MASTER)  # another identity
    assert other.status_code == 200
    clock.now += 60
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200


@pytest.mark.asyncio
async def test_an_invalid_body_is_never_admitted(client, cat):
    limit(cat, rate_limit_per_minute=1, max_concurrent_requests=1, max_request_bytes=1024)
    too_large = json.dumps(chat("x" * 2000)).encode()
    for raw, status in (
        (b"{nope", 400),
        (b"[]", 400),
        (json.dumps({"model": "cheshire-cat"}).encode(), 400),
        (too_large, 413),
    ):
        refused = await client.post("/v1/chat/completions", content=raw, headers=GOOD)
        assert refused.status_code == status
        assert not any(k.startswith(("x-ratelimit-", "retry-after")) for k in refused.headers)
    assert refused.json() == error(
        "The request body is larger than the 1024 bytes this bridge accepts.", code="request_too_large"
    )
    admitted = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert admitted.status_code == 200
    assert admitted.headers["x-ratelimit-remaining-requests"] == "0"  # the 400s spent nothing
    assert cat.turns and len(cat.turns) == 1


# Tokens per minute, on the pipeline: reserved at admission, settled with the real usage


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_tokens_are_settled_with_the_real_usage(client, cat, stream):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    cat.script("Hello", " there!", TurnResult("Hello there!", prompt_tokens=120, extra_completion_tokens=7))
    body = chat(stream=True, stream_options={"include_usage": True}, max_tokens=50) if stream else chat(max_tokens=50)
    first = await client.post("/v1/chat/completions", json=body, headers=GOOD)
    assert first.status_code == 200
    cost = prompt_cost() + 50
    assert first.headers["x-ratelimit-limit-tokens"] == str(tpm)
    assert first.headers["x-ratelimit-remaining-tokens"] == str(tpm - cost)  # reserved: the prompt and max_tokens
    used = 120 + tokens.count_text("Hello there!") + 7
    usage = sse(first.content)[-2][1]["usage"] if stream else first.json()["usage"]
    assert usage["total_tokens"] == used
    second = await client.post("/v1/chat/completions", json=chat(max_tokens=50), headers=GOOD)
    assert second.status_code == 200
    # the first request was settled with what it used, not with what it reserved
    assert second.headers["x-ratelimit-remaining-tokens"] == str(tpm - used - cost)


@pytest.mark.asyncio
async def test_admission_reserves_the_completion_cap_so_concurrency_cannot_overspend(client, cat):
    """OpenAI counts max_tokens against the token limit: two 1000-token answers do not fit in 2000 a minute."""
    limit(cat, tokens_per_minute=2000)
    gate = Gate()
    cat.script("Hel", gate, "lo", TurnResult("Hello", prompt_tokens=3))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=GOOD))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = await client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=GOOD)
    assert second.status_code == 429
    assert (second.json()["error"]["type"], second.json()["error"]["code"]) == ("tokens", "rate_limit_exceeded")
    gate.open()
    assert (await first).status_code == 200
    # settled with what it used: the cap it did not use is free again
    again = await client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=GOOD)
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining-tokens"] == str(
        2000 - (3 + tokens.count_text("Hello")) - (prompt_cost() + 1000)
    )


@pytest.mark.asyncio
async def test_without_max_tokens_the_setting_is_the_reserved_cap(client, cat):
    limit(cat, tokens_per_minute=10_000, max_tokens=300)
    first = await client.post("/v1/chat/completions", json=chat(), headers=GOOD)
    assert first.headers["x-ratelimit-remaining-tokens"] == str(10_000 - prompt_cost() - 300)
    limit(cat, tokens_per_minute=10_000, max_tokens=0)  # unlimited answers: only the prompt can be reserved
    responses_first = await client.post("/v1/responses", json=responses(), headers=MASTER)
    assert responses_first.headers["x-ratelimit-remaining-tokens"] == str(10_000 - prompt_cost())


@pytest.mark.asyncio
async def test_a_failed_turn_gives_its_reserved_tokens_back(client, cat):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    cat.script(CatFailure("LLM down"))
    failed = await client.post("/v1/chat/completions", json=chat(max_tokens=20), headers=GOOD)
    assert failed.status_code == 502
    nxt = await client.post("/v1/chat/completions", json=chat(max_tokens=20), headers=GOOD)
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(tpm - prompt_cost() - 20)


@pytest.mark.asyncio
async def test_a_long_prompt_is_never_tokenized_on_the_event_loop(client, cat, clock, monkeypatch):
    """Admission estimates it (its UTF-8 length bounds its tokens); the precise count runs in a thread."""
    import threading

    seen: list[tuple[bool, int]] = []
    real = tokens.encode

    def spy(text: str) -> list[int]:
        seen.append((threading.current_thread() is threading.main_thread(), len(text)))
        return real(text)

    monkeypatch.setattr(tokens, "encode", spy)
    limit(cat, tokens_per_minute=1_000_000, max_request_bytes=4 * 2**20)
    spaces = " " * (512 * 1024)
    cat.script("Hi", TurnResult("Hi", prompt_tokens=3))
    response = await client.post("/v1/chat/completions", json=chat(spaces, max_tokens=5), headers=GOOD)
    assert response.status_code == 200
    # the header shows the bound reserved at admission: 512 KiB of spaces as 512 Ki tokens (really 4,096)
    bound = tokens.TOKENS_REPLY_PRIMING + tokens.TOKENS_PER_MESSAGE + tokens.count_text("user") + len(spaces)
    now = clock.now
    expected = window_of(1_000_000, now + (bound + 5) * 60 / 1_000_000, now).remaining  # GCRA's float arithmetic
    assert expected in (1_000_000 - bound - 5, 1_000_000 - bound - 6)
    assert response.headers["x-ratelimit-remaining-tokens"] == str(expected)
    assert sum(size for main, size in seen if main) <= tokens.ON_LOOP_CHARS
    assert sum(size for main, size in seen if not main) >= len(spaces)  # counted precisely, in a thread
    assert max(size for _, size in seen) <= tokens.CHUNK_CHARS  # and BPE never saw more than a chunk at once
    assert len(spaces) not in [len(t) for t in list(tokens.CACHE._counts)]  # and not cached


@pytest.mark.asyncio
async def test_a_long_prompt_reserved_at_its_bound_is_recounted_while_it_runs(client, cat, clock):
    """Admitted on its UTF-8 length, counted in a thread, and the reservation follows at once (not at the end)."""
    limit(cat, tokens_per_minute=1_000_000, max_request_bytes=4 * 2**20)
    spaces = " " * (512 * 1024)
    gate = Gate()
    cat.script("Hi", gate, TurnResult("Hi", prompt_tokens=3))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(spaces, max_tokens=1000), headers=GOOD))
    await asyncio.wait_for(gate.reached.wait(), 2)
    second = await client.post("/v1/chat/completions", json=chat(max_tokens=5), headers=GOOD)
    bound = tokens.estimate_chat([("user", spaces)])[0] + 1000  # reserved at admission
    held = tokens.count_chat([("user", spaces)]) + 1000  # the precise prompt and the cap, while the first runs
    now, per_token = clock.now, 60 / 1_000_000
    tat = now + bound * per_token + (held - bound) * per_token + (prompt_cost() + 5) * per_token  # GCRA's steps
    expected = window_of(1_000_000, tat, now).remaining
    assert expected < 1_000_000 - held - prompt_cost() - 5 + 2  # the recount freed the bound's ~500,000 tokens
    assert second.headers["x-ratelimit-remaining-tokens"] == str(expected)
    gate.open()
    assert (await first).status_code == 200


@pytest.mark.asyncio
async def test_embeddings_are_settled_with_their_input_tokens(client, cat):
    tpm = 1000
    limit(cat, tokens_per_minute=tpm)
    first = await client.post("/v1/embeddings", json=embeddings("hello world", "cat"), headers=GOOD)
    assert first.status_code == 200
    used = tokens.count_text("hello world") + tokens.count_text("cat")
    assert first.json()["usage"] == {"prompt_tokens": used, "total_tokens": used}
    assert [d["embedding"] for d in first.json()["data"]] == [[11.0, 0.5], [3.0, 0.5]]
    nxt = await client.post("/v1/embeddings", json=embeddings("a"), headers=GOOD)
    assert nxt.headers["x-ratelimit-remaining-tokens"] == str(tpm - used)  # embeddings reserve nothing up front
