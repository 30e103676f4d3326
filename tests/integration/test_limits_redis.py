"""The Redis-backed limiter against a real redis-server, and two Cats sharing one limit."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cat_openai_bridge.core.guards.limits import Limiter, Quota
from cat_openai_bridge.core.turn.errors import BridgeError
from testkit.cat_v2 import put_bridge_settings, start_cat, use_llm
from testkit.processes import Server, free_port
from testkit.redis_server import RedisServer, redis_binary, start_redis

from .conftest import BASE_SETTINGS, KEY, PROBE, user_says

pytestmark = pytest.mark.v2_only

if redis_binary() is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the Redis limiter tests: redis-server is missing (scripts/system-deps.sh)")
    pytest.skip("redis-server is not installed; run scripts/system-deps.sh", allow_module_level=True)


@pytest.fixture(scope="module")
def redis(tmp_path_factory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def second_cat(tmp_path_factory, llm) -> Iterator[Server]:
    """Another replica: its own process and project, the same LLM and master key."""
    server = start_cat(tmp_path_factory.mktemp("cat2") / "project", api_key=KEY, extra_plugins=[PROBE])
    try:
        use_llm(server.url, llm.url, api_key=KEY)
        yield server
    finally:
        server.stop()


def key() -> str:
    return f"k{uuid.uuid4().hex}"


async def refused(limiter: Limiter, quota: Quota, k: str, url: str, cost: int = 0) -> BridgeError:
    with pytest.raises(BridgeError) as info:
        await limiter.admit(k, quota, cost, url)
    return info.value


def test_redis_store_requests_tokens_and_leases(redis):
    async def scenario():
        limiter = Limiter()
        k = key()
        rpm = Quota(requests_per_minute=3)
        remaining = [(await limiter.admit(k, rpm, 0, redis.url))[1].requests.remaining for _ in range(3)]
        assert remaining == [2, 1, 0]
        error = await refused(limiter, rpm, k, redis.url)
        assert (error.status, error.type, error.headers["retry-after"]) == (429, "requests", "20")

        tpm = Quota(tokens_per_minute=100)
        lease, verdict = await limiter.admit(k, tpm, 30, redis.url)
        assert verdict.tokens.remaining == 70
        await lease.settle(90)
        assert (await limiter.admit(k, tpm, 5, redis.url))[1].tokens.remaining == 5
        assert (await refused(limiter, tpm, k, redis.url, cost=10)).type == "tokens"

        slots = Quota(max_concurrent=2)
        first, _ = await limiter.admit(k, slots, 0, redis.url)
        await limiter.admit(k, slots, 0, redis.url)
        assert (await refused(limiter, slots, k, redis.url)).headers["retry-after-ms"] == "500"
        await first.settle(0)
        await limiter.admit(k, slots, 0, redis.url)
        assert limiter.failures == []

    asyncio.run(scenario())


def test_redis_never_admits_more_than_a_limit_holds_and_counts_each_turn(redis):
    """#22: the script no longer clamps a cost to the limit (a 60,000-token prompt on 2,000 a minute was served),
    and a batch of prompts takes one request each, whole or not at all."""

    async def scenario():
        limiter, k = Limiter(), key()
        assert (await refused(limiter, Quota(tokens_per_minute=2000), k, redis.url, cost=60_000)).type == "tokens"
        assert (await limiter.admit(k, Quota(tokens_per_minute=2000), 2000, redis.url))[1].tokens.remaining == 0
        rpm = Quota(requests_per_minute=3)
        assert (await limiter.admit(k, rpm, 0, redis.url, turns=2))[1].requests.remaining == 1
        with pytest.raises(BridgeError):
            await limiter.admit(k, rpm, 0, redis.url, turns=2)  # one left: the batch of two is refused whole
        assert (await limiter.admit(k, rpm, 0, redis.url))[1].requests.remaining == 0

    asyncio.run(scenario())


def test_redis_leases_of_a_dead_replica_expire(redis):
    async def scenario():
        k = key()
        quota = Quota(max_concurrent=1, lease_seconds=0.3)
        await Limiter().admit(k, quota, 0, redis.url)  # this "replica" never settles
        await refused(Limiter(), quota, k, redis.url)
        await asyncio.sleep(0.4)
        await Limiter().admit(k, quota, 0, redis.url)

    asyncio.run(scenario())


def test_redis_keys_expire_and_stay_few(redis):
    async def scenario():
        k = key()
        lease, _ = await Limiter().admit(k, Quota(30, 1000, 4), 10, redis.url)
        await lease.settle(20)
        from cat_openai_bridge.core.guards.redis_client import RedisClient

        client = RedisClient(redis.url)
        keys = sorted(await client.call("KEYS", f"openai-bridge:{{{k}}}:*"))
        assert keys == [f"openai-bridge:{{{k}}}:{s}" for s in ("req", "tok")]  # the lease set emptied itself
        ttls = [await client.call("PTTL", name) for name in keys]
        assert all(0 < ttl <= 61_000 for ttl in ttls), ttls

    asyncio.run(scenario())


def chat(url: str) -> httpx.Response:
    return httpx.post(
        url + "/custom/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "cheshire-cat", "messages": user_says("hi")},
        timeout=30,
    )


def test_two_replicas_share_one_limit(settings, cat, second_cat, redis):
    shared = {"rate_limit_per_minute": 3, "redis_url": redis.url}
    settings(**shared)
    put_bridge_settings(second_cat.url, {**BASE_SETTINGS, **shared}, api_key=KEY).raise_for_status()
    responses = [chat(server.url) for server in (cat, second_cat, cat, second_cat)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in responses] == ["2", "1", "0", "0"]
    assert responses[-1].json()["error"]["code"] == "rate_limit_exceeded"


def test_two_replicas_share_one_concurrency_cap(settings, cat, second_cat, redis):
    shared = {"max_concurrent_requests": 1, "redis_url": redis.url}
    settings(**shared)
    put_bridge_settings(second_cat.url, {**BASE_SETTINGS, **shared}, api_key=KEY).raise_for_status()
    body = {"model": "cheshire-cat", "messages": user_says("[[tokens:4]] [[delay:500]]"), "stream": True}
    with httpx.stream(
        "POST",
        cat.url + "/custom/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    ) as slow:
        assert slow.status_code == 200
        lines = slow.iter_lines()
        assert next(lines).startswith("data: ")
        blocked = chat(second_cat.url)
        assert blocked.status_code == 429 and blocked.headers["retry-after-ms"] == "500"
        assert "in flight" in blocked.json()["error"]["message"]
        rest = list(lines)
    assert "data: [DONE]" in rest
    assert chat(second_cat.url).status_code == 200  # the slot came back when the stream ended


def test_the_cat_refuses_a_redis_url_that_is_not_one(http):
    refused = http.put("/settings/cat_openai_bridge__config__openai_bridge", json={"redis_url": "http://cache:6379"})
    assert refused.status_code == 400 and "redis_url must be empty or start with redis://" in refused.text


@pytest.mark.parametrize("mode, status", [("open", 200), ("closed", 503)])
def test_unreachable_redis_fails_as_configured_never_500(settings, cat, mode, status):
    settings(rate_limit_per_minute=5, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_failure_mode=mode)
    response = chat(cat.url)
    assert response.status_code == status
    if mode == "open":
        assert response.json()["object"] == "chat.completion"
        assert "x-ratelimit-limit-requests" not in response.headers
    else:
        assert response.json() == {
            "error": {
                "message": "The rate limiter's Redis is unreachable and this bridge is set to fail closed. "
                "Please retry shortly.",
                "type": "server_error",
                "param": None,
                "code": "rate_limiter_unavailable",
            }
        }
        assert response.headers["retry-after"] == "1"


def test_stored_responses_continue_on_any_replica(settings, cat, second_cat, redis, llm):
    """With redis_url set, a response stored by one replica is read, continued and deleted through the other."""
    import openai

    shared = {"redis_url": redis.url}
    settings(**shared)
    put_bridge_settings(second_cat.url, {**BASE_SETTINGS, **shared}, api_key=KEY).raise_for_status()
    one = openai.OpenAI(base_url=cat.url + "/custom/v1", api_key=KEY, max_retries=0)
    two = openai.OpenAI(base_url=second_cat.url + "/custom/v1", api_key=KEY, max_retries=0)
    first = one.responses.create(model="cheshire-cat", input="remember Rome [[reply:Rome noted]]")
    assert two.responses.retrieve(first.id).output_text == "Rome noted"
    httpx.delete(llm.url + "/_requests").raise_for_status()
    second = two.responses.create(model="cheshire-cat", input="where?", previous_response_id=first.id)
    sent = httpx.get(llm.url + "/_requests").json()[-1]["body"]["messages"]
    texts = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in sent[1:]]
    assert texts == ["remember Rome [[reply:Rome noted]]", "Rome noted", "where?"]
    assert [i.content[0].text for i in one.responses.input_items.list(second.id).data] == ["where?"]
    keys = asyncio.run(_keys(redis.url))
    assert any(k.startswith("cat-openai-bridge:responses:") for k in keys)
    two.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        one.responses.retrieve(first.id)


async def _keys(url: str) -> list:
    from cat_openai_bridge.core.guards.redis_client import RedisClient

    return await RedisClient(url).call("KEYS", "*")
