"""`GET /custom/metrics`: the text format, who may read it, and what the pipeline records for every route."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import pytest_asyncio

from cat_openai_bridge.core.config.version import PLUGIN_VERSION
from cat_openai_bridge.core.guards import prometheus
from cat_openai_bridge.core.guards.prometheus import Counter, Gauge, Histogram, render
from cat_openai_bridge.core.route_table import Bridge
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult
from testkit.prometheus import samples, value

from .fake_cat import Gate, StreamingASGITransport, app_of
from .http_kit import GOOD, MASTER, Reader, chat, error, responses, settings

pytestmark = pytest.mark.asyncio

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# The text format


async def test_counters_gauges_and_histograms_as_prometheus_reads_them():
    requests = Counter("x_requests_total", "Requests.", ("route", "status"))
    requests.inc("chat", "200")
    requests.inc("chat", "200")
    requests.inc('we"ird\\\n', "500", by=0.5)
    flight = Gauge("x_in_flight", "Now.")
    flight.inc()
    flight.inc()
    flight.inc(by=-1.0)
    took = Histogram("x_seconds", "Time.", (0.1, 1), ("route",))
    for seconds in (0.05, 0.1, 0.5, 3):
        took.observe(seconds, "chat")
    assert render([requests, flight, took]) == (
        "# HELP x_requests_total Requests.\n"
        "# TYPE x_requests_total counter\n"
        'x_requests_total{route="chat",status="200"} 2\n'
        'x_requests_total{route="we\\"ird\\\\\\n",status="500"} 0.5\n'
        "# HELP x_in_flight Now.\n"
        "# TYPE x_in_flight gauge\n"
        "x_in_flight 1\n"
        "# HELP x_seconds Time.\n"
        "# TYPE x_seconds histogram\n"
        'x_seconds_bucket{route="chat",le="0.1"} 2\n'  # le is inclusive: 0.1 falls in the 0.1 bucket
        'x_seconds_bucket{route="chat",le="1"} 3\n'
        'x_seconds_bucket{route="chat",le="+Inf"} 4\n'
        'x_seconds_sum{route="chat"} 3.65\n'
        'x_seconds_count{route="chat"} 4\n'
    )
    with pytest.raises(ValueError):
        requests.inc("chat", "200", by=-1)
    with pytest.raises(ValueError):
        Counter("x_requests", "A counter's name ends in _total.")


async def test_a_family_never_grows_past_its_cap(monkeypatch):
    monkeypatch.setattr(prometheus, "MAX_SERIES", 3)
    models = Counter("x_total", "By model.", ("model",))
    for i in range(10):
        models.inc(f"model-{i}")
    assert sorted(models.series) == [("model-0",), ("model-1",), ("model-2",), ("other",)]
    assert models.series[("other",)] == 7


# Who may read them


@pytest_asyncio.fixture
async def client(bridge: Bridge):
    """Streams as they run (the fake Cat and the bridge: conftest.py)."""
    async with httpx.AsyncClient(transport=StreamingASGITransport(app_of(bridge)), base_url="http://bridge") as c:
        yield c


async def scrape(client: httpx.AsyncClient) -> dict:
    response = await client.get("/custom/metrics", headers=MASTER)
    assert response.status_code == 200 and response.headers["content-type"] == CONTENT_TYPE
    return samples(response.text)


async def test_only_the_cats_admins_or_the_scrape_token_read_them(client, cat):
    assert (await client.get("/custom/metrics")).status_code == 401
    forbidden = await client.get("/custom/metrics", headers=GOOD)  # a Cat user, not an admin
    assert forbidden.status_code == 403
    assert forbidden.json() == error(
        "Only the Cat's admins, or a scraper with the metrics_token setting's token, may read the metrics.",
        code="insufficient_permissions",
    )
    assert (await client.get("/custom/metrics", headers={"Authorization": "Bearer s3cret"})).status_code == 401
    cat.settings = settings(metrics_token="s3cret")
    scraper = await client.get("/custom/metrics", headers={"Authorization": "Bearer s3cret"})
    assert scraper.status_code == 200 and scraper.headers["content-type"] == CONTENT_TYPE
    for wrong in ("Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "Bearer ŝ3cret".encode()):
        assert (await client.get("/custom/metrics", headers={"Authorization": wrong})).status_code == 401, wrong
    found = samples(scraper.text)
    info = {"plugin_version": PLUGIN_VERSION, "adapter": "fake", "cat_version": "0.0-fake"}
    assert value(found, "openai_bridge_info", **info) == 1
    assert value(found, "openai_bridge_requests_total", route="metrics", status="401", model="") == 2


# What the pipeline records


async def test_requests_tokens_and_latency_by_route_status_and_model(client, cat):
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200
    cat.script(TurnResult("four words of answer", prompt_tokens=7))
    assert (await client.post("/v1/responses", json=responses(), headers=GOOD)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=chat(model="gpt-9"), headers=GOOD)).status_code == 404
    assert (await client.post("/v1/embeddings", json={"model": "x", "input": ["a b"]}, headers=GOOD)).status_code == 200
    found = await scrape(client)
    requests = "openai_bridge_requests_total"
    assert value(found, requests, route="chat.completions", status="200", model="cheshire-cat") == 1
    assert value(found, requests, route="responses", status="200", model="cheshire-cat") == 1
    assert value(found, requests, route="chat.completions", status="404", model="") == 1  # not the body's model
    assert value(found, requests, route="embeddings", status="200", model="") == 1
    prompt, completion = "openai_bridge_prompt_tokens_total", "openai_bridge_completion_tokens_total"
    assert value(found, prompt, route="chat.completions", model="cheshire-cat") == 10
    assert value(found, completion, route="chat.completions", model="cheshire-cat") == tokens.count_text("Hello there!")
    assert value(found, prompt, route="responses", model="cheshire-cat") == 7
    assert value(found, completion, route="responses", model="cheshire-cat") == tokens.count_text(
        "four words of answer"
    )
    assert value(found, prompt, route="embeddings", model="") == tokens.count_text("a b")
    assert value(found, "openai_bridge_request_duration_seconds_count", route="chat.completions") == 2
    assert value(found, "openai_bridge_time_to_first_token_seconds_count", route="chat.completions") == 0  # JSON
    assert value(found, "openai_bridge_requests_in_flight", route="chat.completions") == 0


STREAMS = [
    ("chat.completions", "/v1/chat/completions", chat(stream=True), b"data: [DONE]"),
    ("responses", "/v1/responses", responses(stream=True), b"response.completed"),
    ("completions", "/v1/completions", {"model": "cheshire-cat", "prompt": "Hi", "stream": True}, b"data: [DONE]"),
    (
        "anthropic.messages",
        "/v1/messages",
        {"model": "cheshire-cat", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}], "stream": True},
        b"message_stop",
    ),
]


@pytest.mark.parametrize("route,path,body,end", STREAMS, ids=[s[0] for s in STREAMS])
async def test_a_stream_is_in_flight_until_its_end_and_times_its_first_token(client, cat, route, path, body, end):
    """The first token is the first event with output, not the stream's first byte: the turn is held before it."""
    gate = Gate()
    cat.script(gate, "Hello", " there!", TurnResult("Hello there!", prompt_tokens=10))
    async with client.stream("POST", path, json=body, headers=GOOD) as response:
        assert response.status_code == 200
        await asyncio.wait_for(gate.reached.wait(), 5)
        held = await scrape(client)
        await asyncio.sleep(0.3)  # the first token is at least this late
        gate.open()
        reader = Reader(response)
        await reader.until(end)
        await reader.rest()  # to its end: an early close is a disconnect, which old Starlette (v1's) raises on
    await asyncio.sleep(0)  # the stream's end, recorded as its body closes
    found = await scrape(client)
    assert value(held, "openai_bridge_requests_in_flight", route=route) == 1
    assert value(held, "openai_bridge_requests_total", route=route, status="200", model="cheshire-cat") == 0
    assert value(found, "openai_bridge_requests_in_flight", route=route) == 0
    assert value(found, "openai_bridge_requests_total", route=route, status="200", model="cheshire-cat") == 1
    assert value(found, "openai_bridge_time_to_first_token_seconds_count", route=route) == 1
    first = value(found, "openai_bridge_time_to_first_token_seconds_sum", route=route)
    assert 0.3 <= first <= value(found, "openai_bridge_request_duration_seconds_sum", route=route)
    assert value(found, "openai_bridge_time_to_first_token_seconds_bucket", route=route, le="0.25") == 0
    assert value(found, "openai_bridge_completion_tokens_total", route=route, model="cheshire-cat") > 0


async def test_cat_failures_and_timeouts_json_and_streamed(client, cat):
    cat.script(CatFailure("the LLM said no"))
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 502
    cat.script("Hel", CatFailure("the LLM said no"))
    streamed = await client.post("/v1/chat/completions", json=chat(stream=True), headers=GOOD)
    assert streamed.status_code == 200 and b'"code":"cat_error"' in streamed.content
    cat.settings = settings(request_timeout=1.0)
    cat.script(Gate())  # never opened: the Cat never answers
    assert (await client.post("/v1/responses", json=responses(), headers=GOOD)).status_code == 504
    found = await scrape(client)
    assert value(found, "openai_bridge_cat_failures_total", route="chat.completions") == 2
    assert value(found, "openai_bridge_cat_timeouts_total", route="responses") == 1
    assert value(found, "openai_bridge_requests_total", route="chat.completions", status="502", model="cheshire-cat")
    assert value(found, "openai_bridge_requests_total", route="responses", status="504", model="cheshire-cat") == 1


async def test_429s_by_limit_and_idempotent_replays(client, cat):
    cat.settings = settings(rate_limit_per_minute=1)
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 429
    cat.settings = settings(max_concurrent_requests=1)
    gate = Gate()
    cat.script(gate, TurnResult("done", prompt_tokens=1))
    first = asyncio.ensure_future(client.post("/v1/chat/completions", json=chat(), headers=GOOD))
    await asyncio.wait_for(gate.reached.wait(), 5)
    assert (await client.post("/v1/chat/completions", json=chat(), headers=GOOD)).status_code == 429
    gate.open()
    assert (await first).status_code == 200
    cat.settings = settings()
    keyed = {**GOOD, "Idempotency-Key": "k-1"}
    answers = [await client.post("/v1/chat/completions", json=chat(), headers=keyed) for _ in range(3)]
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    found = await scrape(client)
    assert value(found, "openai_bridge_rate_limited_total", limit="requests") == 1
    assert value(found, "openai_bridge_rate_limited_total", limit="concurrency") == 1
    assert value(found, "openai_bridge_rate_limited_total", limit="tokens") == 0
    assert value(found, "openai_bridge_idempotent_replays_total", route="chat.completions") == 2
    assert (
        value(found, "openai_bridge_requests_total", route="chat.completions", status="429", model="cheshire-cat") == 2
    )
