"""A Redis that answers nonsense, on a live Cat: the configured failure mode decides, never a 500.

The fake Redis (testkit/fake_redis.py) speaks real RESP on loopback and answers what a test sets; the normal path
runs against a real redis-server in test_limits_redis.py.
"""

from __future__ import annotations

import httpx
import pytest

from testkit.cat_v2 import put_bridge_settings
from testkit.fake_redis import DROP, FakeRedis

from .conftest import CURRENT, KEY, user_says

HOSTILE = {
    "nested-arrays": b"*1\r\n" * 5000 + b":1\r\n",
    "null-array": b"*-1\r\n",
    "inf": b"*4\r\n$0\r\n\r\n$3\r\ninf\r\n$1\r\n0\r\n$1\r\n0\r\n",
    "dropped": DROP,
}


def chat(url: str) -> httpx.Response:
    return httpx.post(
        url + "/custom/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "cheshire-cat", "messages": user_says("hi")},
        timeout=30,
    )


@pytest.mark.parametrize("reply", list(HOSTILE))
@pytest.mark.parametrize("mode, status", [("open", 200), ("closed", 503)])
def test_a_redis_answering_nonsense_fails_as_configured_never_500(settings, cat, reply, mode, status):
    with FakeRedis(HOSTILE[reply]) as redis:
        settings(rate_limit_per_minute=5, tokens_per_minute=10_000, redis_url=redis.url, redis_failure_mode=mode)
        responses = [chat(cat.url) for _ in range(2)]
        assert [r.status_code for r in responses] == [status, status], responses[-1].text
        if mode == "closed":
            assert responses[0].json()["error"]["code"] == "rate_limiter_unavailable"
        assert redis.commands  # the bridge did ask it
        assert redis.wait_closed() == 0  # and closed every connection that went wrong


@pytest.mark.parametrize(
    "url, reason",
    [
        ("redis://cache/x", "the path must be a database number"),
        ("redis://h:notaport", "the port must be a number from 1 to 65535"),
        ("redis://[::1", "Invalid IPv6 URL"),
    ],
)
def test_the_cat_refuses_a_redis_url_the_bridge_could_not_use(cat, url, reason):
    if CURRENT["adapter"] == "v1":
        from testkit.cat_v1 import put_bridge_settings_v1 as put
    else:
        put = put_bridge_settings
    refused = put(cat.url, {"redis_url": url}, api_key=KEY)
    assert refused.status_code in (400, 422), refused.text
    assert "redis_url is not usable" in refused.text and reason in refused.text
