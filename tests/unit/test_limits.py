"""The limiter's algorithm on a fake clock, and its Redis client against refused sockets."""

from __future__ import annotations

import asyncio

import pytest

from cat_openai_bridge.core.guards.limits import Limiter, MemoryStore, Quota
from cat_openai_bridge.core.guards.redis_client import RedisAddress, encode
from cat_openai_bridge.core.turn.errors import BridgeError
from testkit.processes import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_a_prompt_larger_than_the_budget_is_clamped_not_refused_forever():
    limiter = Limiter(Clock())
    lease, verdict = admit(limiter, Quota(tokens_per_minute=50), cost=500)
    assert verdict.allowed and verdict.tokens.remaining == 0


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
        store.admit_now(f"user{i}", Quota(requests_per_minute=60), 0, "l")
    clock.now += 120
    store.admit_now("late", Quota(requests_per_minute=60), 0, "l")
    assert len(store) == 1


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


def test_idempotency_replays_waits_and_forgets_stale_claims():
    from cat_openai_bridge.core.guards.idempotency import Stored
    from cat_openai_bridge.core.guards.memory_replays import Replays

    clock = Clock()
    replays = Replays(clock)

    async def scenario():
        claim, stored = await replays.claim("u", "k", "chat", b"body", window=60, wait=10)
        assert stored is None
        waiting = asyncio.ensure_future(replays.claim("u", "k", "chat", b"body", window=60, wait=10))
        await asyncio.sleep(0)
        await claim.complete(Stored(200, "application/json", {}, b"{}"))
        assert (await waiting) == (None, Stored(200, "application/json", {}, b"{}"))
        with pytest.raises(BridgeError) as info:
            await replays.claim("u", "k", "chat", b"other", window=60, wait=10)
        assert info.value.code == "idempotency_key_reused"
        assert (await replays.claim("v", "k", "chat", b"other", window=60, wait=10))[0] is not None  # per identity
        clock.now += 61
        assert (await replays.claim("u", "k", "chat", b"other", window=60, wait=10))[0] is not None  # expired
        abandoned, _ = await replays.claim("u", "s", "chat", b"b", window=60, wait=10)
        clock.now += 16  # never completed, never abandoned: stale after wait + 5 s
        assert (await replays.claim("u", "s", "chat", b"b", window=60, wait=10))[0] is not None

    asyncio.run(scenario())


def test_settings_cache_rereads_after_forget_or_max_age():
    from cat_openai_bridge.core.config.settings import BridgeSettings, SettingsCache

    clock = Clock()
    reads = []

    async def load():
        reads.append(clock.now)
        return BridgeSettings(rate_limit_per_minute=len(reads))

    cache = SettingsCache(max_age=1.0, clock=clock)

    async def scenario():
        assert (await cache.get(load)).rate_limit_per_minute == 1
        assert (await cache.get(load)).rate_limit_per_minute == 1  # cached
        cache.forget()
        assert (await cache.get(load)).rate_limit_per_minute == 2  # a save is seen at once
        clock.now += 1.5
        assert (await cache.get(load)).rate_limit_per_minute == 3  # and nothing is older than max_age

    asyncio.run(scenario())


def test_settings_cache_reads_once_for_many_waiting_requests_and_never_keeps_a_read_a_save_overtook():
    from cat_openai_bridge.core.config.settings import BridgeSettings, SettingsCache

    reads = []
    release = {}

    async def load():
        n = len(reads) + 1
        reads.append(n)
        release[n] = asyncio.Event()
        await release[n].wait()
        return BridgeSettings(rate_limit_per_minute=n)

    cache = SettingsCache(max_age=1.0, clock=Clock())

    async def turns():  # let every task started so far run up to its next wait
        for _ in range(5):
            await asyncio.sleep(0)

    async def scenario():
        many = [asyncio.ensure_future(cache.get(load)) for _ in range(64)]
        await turns()
        assert reads == [1]  # 64 requests found the value missing: one read
        cancelled = many.pop()
        cancelled.cancel()  # a request that gives up does not cancel the read the others wait for
        release[1].set()
        assert {s.rate_limit_per_minute for s in await asyncio.gather(*many)} == {1}
        cache.forget()
        stale = asyncio.ensure_future(cache.get(load))  # read 2 begins...
        await turns()
        cache.forget()  # ...and a save lands while it runs
        fresh = asyncio.ensure_future(cache.get(load))  # read 3: the save's value
        await turns()
        release[2].set()
        release[3].set()
        assert (await stale).rate_limit_per_minute == 2  # the request that began before the save
        assert (await fresh).rate_limit_per_minute == 3
        assert (await cache.get(load)).rate_limit_per_minute == 3  # read 2's value was never kept
        assert reads == [1, 2, 3]

    asyncio.run(scenario())
