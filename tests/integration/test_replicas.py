"""Two Cat v2 replicas behind a real nginx (the configuration docs/deployment.md shows), sharing a real Redis.

One stack for the whole module: Redis, two Cats each with its own scripted LLM (so the LLMs' logs say which
replica served what), nginx with default proxy settings (buffering on) in front.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from cat_openai_bridge.core.guards.idempotency import Keyed, Stored
from cat_openai_bridge.core.guards.redis_client import RedisClient
from cat_openai_bridge.core.guards.redis_replays import RedisReplays
from cat_openai_bridge.core.guards.replay_budget import ReplayLimits
from testkit import sse
from testkit.nginx import nginx_binary
from testkit.prometheus import documented_rules, prometheus_binary, scrape_config, start_prometheus
from testkit.redis_server import redis_binary
from testkit.replicas import Replica, ReplicaStack, start_stack

from .conftest import KEY, user_says

pytestmark = pytest.mark.v2_only

NEEDS = (("nginx", nginx_binary()), ("redis-server", redis_binary()), ("prometheus", prometheus_binary()))
_missing = [name for name, found in NEEDS if found is None]
if _missing:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI must run the replica tests: {', '.join(_missing)} missing (scripts/system-deps.sh)")
    pytest.skip(f"{', '.join(_missing)} not installed; run scripts/system-deps.sh", allow_module_level=True)

SCRAPE_TOKEN = "scrape-token-for-tests"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[ReplicaStack]:
    replicas = start_stack(tmp_path_factory.mktemp("replicas"), api_key=KEY, metrics_token=SCRAPE_TOKEN)
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


# ---- Idempotency-Key across replicas -------------------------------------------------------------------------


def _post(url: str, body: dict, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": key}
    return httpx.post(url + "/custom/v1/chat/completions", json=body, headers=headers, timeout=60)


def _turns(stack: ReplicaStack, tag: str) -> dict[str, int]:
    """How many LLM calls each replica made for `tag`: one per Cat turn here."""
    return {r.name: sum(_tag_of(e) == tag for e in r.llm_log()) for r in stack.replicas}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_retry_on_the_other_replica_replays_the_first_answer(proxy, stream):
    a, b = proxy.replicas
    tag = f"tag-{uuid.uuid4().hex}"
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:5]]"), "stream": stream}
    first = _post(a.url, body, f"key-{tag}")
    again = _post(b.url, body, f"key-{tag}")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content  # byte for byte, the stream's events included
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert _turns(proxy, tag) == {"a": 1, "b": 0}
    other = {**body, "messages": user_says(f"{tag} something else")}
    reused = _post(b.url, other, f"key-{tag}")
    assert reused.status_code == 400 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_duplicate_waits_for_the_run_on_the_other_replica(proxy):
    """The duplicate reaches replica b while a still streams the first answer: it waits, then replays it."""
    a, b = proxy.replicas
    tag = f"tag-{uuid.uuid4().hex}"
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:8]] [[delay:150]]"), "stream": True}
    headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": f"key-{tag}"}
    with httpx.stream("POST", a.url + "/custom/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        lines = r.iter_lines()
        seen = [next(lines) for _ in range(4)]  # the role chunk and the first token: a runs the turn now
        assert '"content":" t0"' in seen[2]
        with ThreadPoolExecutor(1) as pool:
            duplicate = pool.submit(_post, b.url, body, f"key-{tag}")
            original = "\n".join([*seen, *lines]) + "\n"
            answered = duplicate.result(60)
    (run,) = [e for e in a.llm_log() if _tag_of(e) == tag]
    assert answered.status_code == 200 and answered.headers["idempotent-replayed"] == "true"
    assert answered.text == original
    assert _turns(proxy, tag) == {"a": 1, "b": 0}
    assert run["finished_at"] is not None


def test_the_shared_store_keeps_its_bounds_and_window(proxy):
    """Straight on the store, with small bounds: an answer over `per_answer` is not kept (its key runs again);
    one identity's answers stay under `per_identity` bytes, oldest evicted first; a kept answer expires with the
    window."""

    async def scenario():
        store = RedisReplays(proxy.redis.url, prefix=f"bounds-{uuid.uuid4().hex}")
        limits = ReplayLimits(total=10_000, per_identity=250, per_answer=100)
        who = "someone"

        def keyed(key: str, window: float = 60) -> Keyed:
            return Keyed(identity=who, key=key, route="Chat", body=b"body", window=window, wait=5, limits=limits)

        async def run(key: str, size: int, window: float = 60) -> None:
            claim, stored = await store.claim(keyed(key, window))
            assert stored is None and claim is not None
            await claim.complete(Stored(200, "application/json", {}, b"x" * size))

        async def kept(key: str) -> bool:
            claim, stored = await store.claim(keyed(key))
            if claim is not None:
                await claim.abandon()
            return stored is not None

        await run("big", 101)
        assert not await kept("big")
        for key in ("one", "two", "three"):
            await run(key, 100)
        assert [await kept(k) for k in ("one", "two", "three")] == [False, True, True]
        await run("brief", 10, window=30)
        ttl = await store.client.call("PTTL", store.keys(who, "brief")[0])
        assert 25_000 < ttl <= 30_000
        assert store.failure_count == 0

    asyncio.run(scenario())


# ---- metrics, as a real Prometheus stores them ---------------------------------------------------------------


def _stored(prometheus, expression: str) -> float:
    result = prometheus.query(expression)
    return float(result[0]["value"][1]) if result else 0.0


def _scraped_since(prometheus, moment: float) -> bool:
    """Every target scraped, successfully, after `moment` (wall clock)."""
    from datetime import datetime

    targets = prometheus.targets()
    return bool(targets) and all(
        t["health"] == "up" and datetime.fromisoformat(t["lastScrape"].replace("Z", "+00:00")).timestamp() > moment
        for t in targets
    )


def _wait_for_scrapes(prometheus, moment: float, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not _scraped_since(prometheus, moment):
        assert time.monotonic() < deadline, f"no scrape after the traffic: {prometheus.targets()}"
        time.sleep(0.2)


def test_prometheus_scrapes_every_replica_and_stores_the_traffic_sent(proxy, tmp_path):
    """Prometheus scrapes both replicas with the scrape token; what it stores, summed over them, is what was sent
    through nginx: requests by status, 429s by limit, tokens, first tokens timed. The page's alert rules load and
    evaluate."""
    targets = [f"127.0.0.1:{r.port}" for r in proxy.replicas]
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "rules.yml").write_text(documented_rules())
    config = scrape_config(targets, SCRAPE_TOKEN, rule_files=("rules.yml",))
    prometheus = start_prometheus(tmp_path / "prometheus", config)
    try:
        _wait_for_scrapes(prometheus, time.time())
        chat = 'sum(openai_bridge_requests_total{route="chat.completions",status="%s"})'
        ok_before, limited_before = _stored(prometheus, chat % "200"), _stored(prometheus, chat % "429")
        tokens_before = {
            kind: _stored(prometheus, f'sum(openai_bridge_{kind}_tokens_total{{route="chat.completions"}})')
            for kind in ("prompt", "completion")
        }
        first_before = _stored(prometheus, "sum(openai_bridge_time_to_first_token_seconds_count)")
        limited_by_requests = _stored(prometheus, 'sum(openai_bridge_rate_limited_total{limit="requests"})')

        proxy.configure(rate_limit_per_minute=5)  # shared through Redis: the 6th and 7th get a 429 on either replica
        usage = {"prompt": 0, "completion": 0}
        statuses = []
        with httpx.Client(base_url=proxy.url, headers=proxy.headers, timeout=30) as client:
            for i in range(7):
                body = {"model": "cheshire-cat", "messages": user_says(f"[[tokens:{i + 1}]]")}
                if i < 2:
                    body.update(stream=True, stream_options={"include_usage": True})
                    with client.stream("POST", "/custom/v1/chat/completions", json=body) as r:
                        statuses.append(r.status_code)
                        used = sse.parse(r.iter_lines())[-2].json["usage"]
                else:
                    r = client.post("/custom/v1/chat/completions", json=body)
                    statuses.append(r.status_code)
                    used = r.json().get("usage") if r.status_code == 200 else None
                for kind in usage:
                    usage[kind] += used[f"{kind}_tokens"] if used else 0
            through_nginx = client.get("/custom/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        sent = time.time()
        assert statuses == [200] * 5 + [429] * 2
        assert through_nginx.status_code == 404  # each replica is scraped on its own address, never through nginx
        _wait_for_scrapes(prometheus, sent)

        assert _stored(prometheus, chat % "200") - ok_before == 5
        assert _stored(prometheus, chat % "429") - limited_before == 2
        assert _stored(prometheus, 'sum(openai_bridge_rate_limited_total{limit="requests"})') - limited_by_requests == 2
        for kind, before in tokens_before.items():
            stored = _stored(prometheus, f'sum(openai_bridge_{kind}_tokens_total{{route="chat.completions"}})')
            assert stored - before == usage[kind], kind
        assert _stored(prometheus, "sum(openai_bridge_time_to_first_token_seconds_count)") - first_before == 2
        per_replica = prometheus.query(chat % "200" + " by (instance)")
        assert {row["metric"]["instance"] for row in per_replica} == set(targets)
        rules = prometheus.rules()  # docs/deployment.md's alert rules, evaluated against these very series
        deadline = time.monotonic() + 10
        while any(rule["health"] == "unknown" for rule in rules) and time.monotonic() < deadline:
            time.sleep(0.2)  # not evaluated yet
            rules = prometheus.rules()
        assert len(rules) >= 5 and all(rule["health"] == "ok" for rule in rules), rules
    finally:
        prometheus.stop()


# ---- a replica dies ------------------------------------------------------------------------------------------

CLIENTS, ROUNDS, TOKENS = 8, 3, 20  # bounded load: 8 clients x 3 streams of 20 tokens at 100 ms


@dataclass
class Outcome:
    tag: str
    result: str  # "complete", "error event", "transport error", "HTTP <status> <code>"
    tokens: int = 0


def _kill_body(tag: str) -> dict:
    return {"model": "cheshire-cat", "stream": True, "messages": user_says(f"{tag} [[tokens:{TOKENS}]] [[delay:100]]")}


async def _stream_once(client: httpx.AsyncClient, tag: str, received: dict[str, int]) -> Outcome:
    """One stream with an Idempotency-Key; `received[tag]` counts its tokens as they arrive."""
    lines: list[str] = []
    received[tag] = 0
    headers = {"Idempotency-Key": f"key-{tag}"}
    try:
        async with client.stream("POST", "/custom/v1/chat/completions", json=_kill_body(tag), headers=headers) as r:
            if r.status_code != 200:
                await r.aread()
                return Outcome(tag, f"HTTP {r.status_code} {r.json()['error']['code']}")
            async for line in r.aiter_lines():
                lines.append(line)
                received[tag] += '"content":" t' in line
    except httpx.TransportError:
        return Outcome(tag, "transport error", received[tag])
    events = sse.parse(lines)
    if any(e.json and "error" in e.json for e in events):
        return Outcome(tag, "error event")
    assert events[-1].data == "[DONE]" and sse.content_of(events) == "".join(f" t{i}" for i in range(TOKENS))
    return Outcome(tag, "complete", TOKENS)


async def _load_with_a_kill(stack: ReplicaStack, victim: Replica) -> tuple[list[Outcome], float]:
    """CLIENTS clients, each with its own connection, ROUNDS streams each; `victim` is killed once two of its
    streams and one of the other replica's are under way: their clients hold tokens, their LLMs are not done."""
    outcomes: list[Outcome] = []
    received: dict[str, int] = {}

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers, timeout=60) as client:
            for _ in range(ROUNDS):
                outcomes.append(await _stream_once(client, f"tag-{uuid.uuid4().hex}", received))

    async def killer() -> float:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                running = {}  # per replica: its streams whose client already holds 2 tokens, while its LLM goes on
                for replica in stack.replicas:
                    log = (await http.get(replica.llm.url + "/_requests")).json()
                    tags = [_tag_of(e) for e in log if not e["finished_at"]]
                    running[replica.name] = sum(received.get(tag or "", 0) >= 2 for tag in tags)
                if running[victim.name] >= 2 and min(running.values()) >= 1:
                    break
                await asyncio.sleep(0.05)
        victim.kill()
        return time.time()

    kill = asyncio.create_task(killer())
    await asyncio.wait_for(asyncio.gather(*(client_loop() for _ in range(CLIENTS))), 120)
    if not kill.done():
        kill.cancel()
        raise AssertionError("the load ended before the victim had streams under way")
    return outcomes, kill.result()


def test_a_replica_killed_mid_stream(proxy):
    """Clients of the surviving replica lose nothing; the dead one's get an error, and their retry with the same
    Idempotency-Key one whole answer from the survivor (once the dead one's claim lapsed), never a second whole
    turn. The dead one's slots stay taken in Redis until their lease runs out (request_timeout + 60 s after
    admission)."""
    request_timeout = 20
    proxy.configure(max_concurrent_requests=1000, request_timeout=request_timeout)
    survivor, victim = proxy.replicas
    redis = RedisClient(proxy.redis.url)
    started_ms = _redis_ms(redis)
    outcomes, killed_at = asyncio.run(_load_with_a_kill(proxy, victim))
    killed_ms = _redis_ms(redis)

    by_tag = {o.tag: o for o in outcomes}
    on = {r.name: {_tag_of(e): e for e in r.llm_log() if _tag_of(e)} for r in proxy.replicas}
    assert set(on[survivor.name]) | set(on[victim.name]) <= set(by_tag)
    survived = [by_tag[t] for t in on[survivor.name]]
    cut = [by_tag[t] for t, e in on[victim.name].items() if not e["finished_at"]]  # the victim's LLM never finished
    failed = [o for o in outcomes if o.result != "complete"]
    counts = Counter(o.result for o in outcomes)
    print(
        f"\nreplica killed mid-stream: {len(outcomes)} streams, {dict(counts)}; survivor served {len(survived)}, "
        f"the victim {len(on[victim.name])} ({len(cut)} cut, after {sorted(o.tokens for o in cut)} tokens)"
    )
    assert all(o.result == "complete" for o in survived), [o for o in survived if o.result != "complete"]
    assert len(cut) >= 2 and all(o.result != "complete" for o in cut)
    assert sum(o.tokens >= 2 for o in cut) >= 2  # mid-stream: their clients already held tokens
    assert {o.result for o in failed} <= {"transport error", "error event", "HTTP 502 replica_unavailable"}
    nowhere = set(by_tag) - set(on[survivor.name]) - set(on[victim.name])  # sent to the victim, never run
    assert {o.tag for o in failed} <= {o.tag for o in cut} | nowhere
    assert len(outcomes) == CLIENTS * ROUNDS and counts["complete"] >= len(outcomes) - len(failed)

    # The dead replica's in-flight slots: still in Redis, each expiring request_timeout + 60 s after its admission.
    (slots,) = asyncio.run(redis.call("KEYS", "openai-bridge:*:inflight"))  # the master key's one identity
    orphans = asyncio.run(redis.call("ZRANGE", slots, 0, -1, "WITHSCORES"))
    expiries = [float(score) for score in orphans[1::2]]
    lease_ms = (request_timeout + 60) * 1000
    assert len(cut) <= len(expiries) <= len(failed)
    assert all(started_ms <= expiry - lease_ms <= killed_ms for expiry in expiries), (expiries, started_ms, killed_ms)

    # The failed clients retry, the same request with the same key: one whole answer each, from the survivor.
    retried = asyncio.run(_retry([o.tag for o in failed], proxy))
    assert [o.result for o in retried] == ["complete"] * len(failed)
    runs = {r.name: [e for e in r.llm_log() if _tag_of(e) in {o.tag for o in failed}] for r in proxy.replicas}
    assert len([e for e in runs[survivor.name] if e["finished_at"]]) == len(failed)  # one whole turn per key
    assert not [e for e in runs[victim.name] if e["finished_at"]]
    print(f"retried with their keys: {Counter(o.result for o in retried)}")
    # Until then they count: with the cap at their number, the survivor refuses the next request as in flight.
    proxy.configure(max_concurrent_requests=len(expiries))
    refused = httpx.post(proxy.url + "/custom/v1/chat/completions", headers=proxy.headers, json=_chat("hi"))
    assert refused.status_code == 429 and "in flight" in refused.json()["error"]["message"]
    proxy.configure(max_concurrent_requests=len(expiries) + 1)
    admitted = httpx.post(proxy.url + "/custom/v1/chat/completions", headers=proxy.headers, json=_chat("hi"))
    assert admitted.status_code == 200


async def _retry(tags: list[str], stack: ReplicaStack) -> list[Outcome]:
    async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers, timeout=60) as client:
        return await asyncio.gather(*(_stream_once(client, tag, {}) for tag in tags))


def _redis_ms(redis: RedisClient) -> float:
    seconds, micros = asyncio.run(redis.call("TIME"))
    return int(seconds) * 1000 + int(micros) / 1000


def _tag_of(entry: dict) -> str | None:
    found = re.search(r"tag-[0-9a-f]{32}", str(entry["body"].get("messages")))
    return found.group(0) if found else None


def _chat(text: str) -> dict:
    return {"model": "cheshire-cat", "messages": user_says(text)}
