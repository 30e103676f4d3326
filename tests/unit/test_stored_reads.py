"""Stored responses (#22): reading one back is a request like any other (requests per minute, in flight) and decodes
only what it sends; `store` in a response says whether it was kept; a request's input is kept once."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from cat_openai_bridge.core.api.responses import stored_routes
from cat_openai_bridge.core.api.responses.storage import StoredResponse
from cat_openai_bridge.core.turn.port import TurnResult

from .fake_cat import Gate
from .http_kit import GOOD, limit, responses, sse

pytestmark = pytest.mark.asyncio


async def create(client, text: str = "hi there", **extra: Any) -> dict[str, Any]:
    made = await client.post("/v1/responses", json=responses(text, **extra), headers=GOOD)
    assert made.status_code == 200, made.text
    return made.json()


def reads(response_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/v1/responses/{response_id}"),
        ("GET", f"/v1/responses/{response_id}/input_items"),
        ("DELETE", f"/v1/responses/{response_id}"),
    ]


# Finding 5: reads are limited


@pytest.mark.parametrize("index", [0, 1, 2], ids=["get", "input_items", "delete"])
async def test_a_stored_read_counts_against_requests_per_minute(client, cat, index):
    limit(cat, rate_limit_per_minute=2)
    made = await create(client)
    method, path = reads(made["id"])[index]
    read = await client.request(method, path, headers=GOOD)
    assert read.status_code == 200 and read.headers["x-ratelimit-remaining-requests"] == "0"
    refused = await client.request(method, path, headers=GOOD)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"


async def test_a_stored_read_takes_an_in_flight_slot(client, cat):
    limit(cat, max_concurrent_requests=1)
    made = await create(client)
    gate = Gate()
    cat.script("Hi", gate, TurnResult("Hi", prompt_tokens=1))
    running = asyncio.ensure_future(client.post("/v1/responses", json=responses(), headers=GOOD))
    await asyncio.wait_for(gate.reached.wait(), 2)
    for method, path in reads(made["id"]):
        refused = await client.request(method, path, headers=GOOD)
        assert (path, refused.status_code) == (path, 429)
        assert "in flight" in refused.json()["error"]["message"]
    gate.open()
    assert (await running).status_code == 200


async def test_a_read_decodes_only_what_it_sends_and_a_large_entry_off_the_loop(client, cat, monkeypatch):
    limit(cat, max_request_bytes=4 * 2**20)
    items = [{"type": "message", "role": "user", "content": f"part {i}"} for i in range(300)]
    made = await create(client, items)  # type: ignore[arg-type]
    decoded: list[bool] = []
    real = StoredResponse.decode.__func__  # type: ignore[attr-defined]

    def spy(cls, data: bytes) -> StoredResponse:
        decoded.append(threading.current_thread() is threading.main_thread())
        return real(cls, data)

    monkeypatch.setattr(StoredResponse, "decode", classmethod(spy))
    monkeypatch.setattr(stored_routes, "OFF_LOOP_BYTES", 1024)
    again = await client.get(f"/v1/responses/{made['id']}", headers=GOOD)
    assert again.status_code == 200 and again.json() == made
    page = await client.get(f"/v1/responses/{made['id']}/input_items?order=asc&limit=2", headers=GOOD)
    assert [item["content"] for item in page.json()["data"]] == ["part 0", "part 1"]
    after = page.json()["last_id"]
    rest = await client.get(f"/v1/responses/{made['id']}/input_items?order=asc&after={after}&limit=1", headers=GOOD)
    assert rest.json()["data"][0]["content"] == "part 2"
    assert decoded == []  # neither read decoded the entry
    continued = await client.post(
        "/v1/responses", json=responses("and?", previous_response_id=made["id"]), headers=GOOD
    )
    assert continued.status_code == 200
    assert decoded == [False]  # the continuation decoded it whole, in a thread
    assert [t.text for t in cat.turns[-1].conversation.turns][-1] == "and?"


# Finding 9: `store` says whether it was kept; the input is kept once


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_response_too_large_to_keep_says_store_false(client, cat, stream):
    limit(cat, responses_store_response_bytes=2048)
    made = await client.post("/v1/responses", json=responses("x" * 4000, stream=stream), headers=GOOD)
    assert made.status_code == 200
    if stream:
        events = sse(made.content)
        assert events[0][1]["response"]["store"] is True  # asked; not yet known
        assert events[-1][0] == "response.completed" and events[-1][1]["response"]["store"] is False
        response_id = events[-1][1]["response"]["id"]
    else:
        assert made.json()["store"] is False
        response_id = made.json()["id"]
    assert (await client.get(f"/v1/responses/{response_id}", headers=GOOD)).status_code == 404
    kept = await client.post("/v1/responses", json=responses("small", stream=stream), headers=GOOD)
    assert (sse(kept.content)[-1][1]["response"] if stream else kept.json())["store"] is True


async def test_the_input_is_kept_once_so_the_whole_bound_is_usable(client, cat):
    limit(cat, responses_store_response_bytes=64 * 1024)
    made = await create(client, "y" * 40_000)  # over half the bound: kept twice it did not fit
    assert made["store"] is True
    assert (await client.get(f"/v1/responses/{made['id']}", headers=GOOD)).status_code == 200
    continued = await create(client, "and?", previous_response_id=made["id"])
    assert continued["store"] is True
    assert [t.text for t in cat.turns[-1].conversation.turns] == ["y" * 40_000, "Hello there!", "and?"]


async def test_an_entry_kept_before_22_still_reads():
    own = [{"type": "message", "role": "user", "id": "msg_2", "content": [{"type": "input_text", "text": "b"}]}]
    earlier = [{"type": "message", "role": "user", "id": "msg_1", "content": [{"type": "input_text", "text": "a"}]}]
    response = {"id": "resp_1", "output": [{"type": "message", "id": "msg_3", "content": [{"text": "c"}]}]}
    now = StoredResponse(response, own, earlier)
    old = json.dumps({"response": response, "input_items": own, "history": now.history}).encode()
    assert StoredResponse.decode(old) == now == StoredResponse.decode(now.encode())
    assert StoredResponse.response_line(old) == StoredResponse.response_line(now.encode())
    assert [json.loads(line) for line in StoredResponse.input_lines(old)] == own
