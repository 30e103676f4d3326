"""The limiter's Redis client against hostile replies (a fake Redis on loopback, real sockets).

Whatever the bytes, a limited request gets what the failure mode says (open: answered; closed: 503
`rate_limiter_unavailable`), never a 500, and the connections that went wrong are closed.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError

from cat_openai_bridge.core.config.settings import BridgeSettings
from cat_openai_bridge.core.guards.limits import Limiter, Quota
from cat_openai_bridge.core.guards.redis_client import RedisAddress, RedisClient, RedisProtocolError
from cat_openai_bridge.core.route_table import Bridge
from testkit.fake_redis import DROP, FakeRedis

from .fake_cat import BoundedTransport, FakeCat, app_of

GOOD = {"Authorization": "Bearer good"}
CHAT = {"model": "cheshire-cat", "messages": [{"role": "user", "content": "Hi"}]}


def _array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)


# What Redis must never answer, and what each once did to the bridge (every one was a 500).
HOSTILE = {
    "nested-arrays": b"*1\r\n" * 5000 + b":1\r\n",  # RecursionError
    "null-array": b"*-1\r\n",  # TypeError
    "inf": _array(b"", b"inf", b"0", b"0"),  # OverflowError
    "nan": _array(b"", b"nan", b"0", b"0"),
    "unknown-reason": _array(b"because", b"0", b"0", b"0"),
    "short-array": _array(b"", b"0"),
    "integer": b":1\r\n",
    "status": b"+OK\r\n",
    "not-a-number": _array(b"", b"zero", b"0", b"0"),
    "huge-array": b"*999999999\r\n",
    "huge-bulk": b"$999999999999\r\n",
    "negative-length": b"$-7\r\n",
    "not-utf8": _array(b"\xff\xfe", b"0", b"0", b"0"),
    "garbage": b"hello there\r\n",
    "no-crlf": b"+OK",
    "dropped": DROP,
}


@pytest.fixture(params=list(HOSTILE), ids=list(HOSTILE))
def redis(request):
    with FakeRedis(HOSTILE[request.param]) as server:
        yield server


@pytest_asyncio.fixture
async def client_for():
    clients = []

    async def make(cat: FakeCat) -> httpx.AsyncClient:
        c = httpx.AsyncClient(
            transport=BoundedTransport(httpx.ASGITransport(app=app_of(Bridge(cat)))), base_url="http://b"
        )
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode,status", [("open", 200), ("closed", 503)])
async def test_a_hostile_reply_is_the_failure_mode_never_a_500(redis, client_for, mode, status):
    cat = FakeCat(
        BridgeSettings(rate_limit_per_minute=5, tokens_per_minute=1000, redis_url=redis.url, redis_failure_mode=mode)
    )
    client = await client_for(cat)
    for _ in range(3):
        response = await client.post("/v1/chat/completions", json=CHAT, headers=GOOD)
        assert response.status_code == status, response.text
        if mode == "closed":
            assert response.json()["error"]["code"] == "rate_limiter_unavailable"
        else:
            assert response.json()["object"] == "chat.completion"
            assert not any(k.startswith("x-ratelimit-") for k in response.headers)
    assert redis.commands, "the client never reached the fake Redis"
    assert redis.wait_closed() == 0  # every connection that went wrong was closed, none kept for reuse
    assert all(level == "warning" for level, _ in cat.logs)


@pytest.mark.asyncio
async def test_a_hostile_reply_to_settle_never_fails_a_finished_answer(client_for):
    """ADMIT's reply admits; SETTLE gets the same four strings instead of 1: logged, the answer stands."""
    with FakeRedis(_array(b"", b"0", b"0", b"0")) as redis:
        cat = FakeCat(BridgeSettings(tokens_per_minute=1000, redis_url=redis.url, redis_failure_mode="closed"))
        client = await client_for(cat)
        for _ in range(2):
            response = await client.post("/v1/chat/completions", json=CHAT, headers=GOOD)
            assert response.status_code == 200 and response.json()["object"] == "chat.completion"
        assert [c[0] for c in redis.commands].count(b"EVALSHA") == 4  # admit, settle, admit, settle
        assert any("SETTLE answered" in message for _, message in cat.logs)
        assert redis.wait_closed() == 0


def test_the_client_reads_a_bounded_reply():
    async def scenario():
        with FakeRedis(b"*1\r\n" * 5000 + b":1\r\n") as redis:
            with pytest.raises(RedisProtocolError, match="nest deeper"):
                await RedisClient(redis.url).call("PING")
            assert redis.wait_closed() == 0
        with FakeRedis(_array(b"", b"inf", b"0", b"0")) as redis:
            limiter = Limiter()
            with pytest.raises(Exception) as info:
                await limiter.admit("k", Quota(requests_per_minute=5), 0, redis.url, fail_open=False)
            assert getattr(info.value, "code", None) == "rate_limiter_unavailable"
            assert "ADMIT answered 'inf' for a duration" in limiter.failures[-1]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "url,reason",
    [
        ("redis://cache/x", "the path must be a database number, e.g. /0 (got /x)"),
        ("redis://h:notaport", "the port must be a number from 1 to 65535"),
        ("redis://h:70000/0", "the port must be a number from 1 to 65535"),
        ("redis://[::1", "Invalid IPv6 URL"),
        ("redis://h/0?ssl=true", "query strings and fragments are not supported"),
        ("redis:///0", "it names no host"),
        ("redis://h/0/1", "the path must be a database number, e.g. /0 (got /0/1)"),
    ],
)
def test_a_redis_url_the_client_cannot_use_is_refused_when_saved(url, reason):
    with pytest.raises(ValidationError) as info:
        BridgeSettings(redis_url=url)
    (error,) = info.value.errors()
    assert error["type"] == "invalid_url" and error["loc"] == ("redis_url",)
    assert error["msg"].startswith("redis_url is not usable: ") and reason in error["msg"]


def test_usable_redis_urls_are_kept():
    for url, parsed in [
        ("redis://cache", ("cache", 6379, 0, None, None, False)),
        ("rediss://u:p%40ss@cache:6380/2", ("cache", 6380, 2, "u", "p@ss", True)),
        ("redis://:secret@[::1]:7000/", ("::1", 7000, 0, None, "secret", False)),
    ]:
        assert BridgeSettings(redis_url=url).redis_url == url
        a = RedisAddress.parse(url)
        assert (a.host, a.port, a.db, a.username, a.password, a.tls) == parsed
