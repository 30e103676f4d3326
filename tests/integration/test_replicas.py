"""Two Cat v2 replicas behind a real nginx (the configuration docs/deployment.md shows), sharing a real Redis.

One stack for the whole module: Redis, two Cats each with its own scripted LLM (so the LLMs' logs say which
replica served what), nginx with default proxy settings (buffering on) in front.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from testkit import sse
from testkit.nginx import nginx_binary
from testkit.redis_server import redis_binary
from testkit.replicas import ReplicaStack, start_stack

from .conftest import KEY, user_says

pytestmark = pytest.mark.v2_only

_missing = [name for name, found in (("nginx", nginx_binary()), ("redis-server", redis_binary())) if found is None]
if _missing:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the replica tests: {', '.join(_missing)} missing (scripts/system-deps.sh)")
    pytest.skip(f"{', '.join(_missing)} not installed; run scripts/system-deps.sh", allow_module_level=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ReplicaStack]:
    replicas = start_stack(tmp_path_factory.mktemp("replicas"), api_key=KEY)
    yield replicas
    replicas.stop()


@pytest.fixture
def proxy(stack) -> Iterator[ReplicaStack]:
    """The whole stack, both replicas up and the stack's settings in force, its LLM logs empty."""
    stack.revive()
    stack.configure()
    stack.clear_llm_logs()
    yield stack
    stack.configure()


def tagged(text: str) -> tuple[str, str]:
    tag = f"tag-{uuid.uuid4().hex}"
    return tag, f"{tag} {text}"


def test_the_proxy_spreads_requests_over_both_replicas(proxy):
    tags = []
    with httpx.Client(base_url=proxy.url, headers=proxy.headers, timeout=30) as client:
        for _ in range(4):
            tag, text = tagged("[[reply:hello]]")
            tags.append(tag)
            r = client.post("/custom/v1/chat/completions", json={"model": "cheshire-cat", "messages": user_says(text)})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hello"
    served = [proxy.served_by(tag) for tag in tags]
    assert all(len(names) == 1 for names in served), served
    assert {names[0] for names in served} == {"a", "b"}


def test_a_stream_through_nginx_arrives_token_by_token(proxy):
    """nginx proxies with buffering on (its default) and gzips streams (the page's configuration); the bridge's
    `X-Accel-Buffering: no` makes it pass and flush each event as it comes. Without it the compressed stream
    reaches the client in one piece, after the LLM's last token."""
    tag, text = tagged("[[tokens:8]] [[delay:150]]")
    body = {"model": "cheshire-cat", "messages": user_says(text), "stream": True}
    with httpx.stream("POST", proxy.url + "/custom/v1/chat/completions", json=body, headers=proxy.headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["content-encoding"] == "gzip"  # nginx compresses it, as the page configures
        events = sse.parse(r.iter_lines())
    assert events[-1].data == "[DONE]"
    content = [e for e in events if e.json and e.json["choices"] and e.json["choices"][0]["delta"].get("content")]
    assert [e.json["choices"][0]["delta"]["content"] for e in content] == [f" t{i}" for i in range(8)]
    (name,) = proxy.served_by(tag)
    (call,) = [e for e in next(r for r in proxy.replicas if r.name == name).llm_log() if tag in str(e["body"])]
    assert content[0].at < call["finished_at"], "the first token reached the client only after the LLM's last one"
    assert content[-1].at >= call["first_token_at"]
