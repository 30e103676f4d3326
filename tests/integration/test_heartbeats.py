"""Optional SSE heartbeats for proxies: off by default, skipped by clients when on."""

from __future__ import annotations

import asyncio

import httpx

from .conftest import KEY, user_says

SLOW = "[[tokens:3]] [[delay:600]]"


def raw_stream(cat_url: str) -> str:
    body = {"model": "cheshire-cat", "messages": user_says(SLOW), "stream": True}
    response = httpx.post(
        cat_url + "/custom/v1/chat/completions", json=body, timeout=30, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status_code == 200
    return response.text


def test_no_heartbeats_by_default(cat):
    assert ": ping" not in raw_stream(cat.url)


def test_heartbeats_fill_silences_and_sdks_ignore_them(settings, cat, client, aclient):
    settings(stream_heartbeat_seconds=0.2)
    text = raw_stream(cat.url)
    events = text.split("\n\n")
    pings = [i for i, e in enumerate(events) if e == ": ping"]
    contents = [i for i, e in enumerate(events) if '"content":" t' in e]
    assert len(pings) >= 3 and len(contents) == 3
    assert pings[0] < contents[0] < contents[-1]  # the silence before the first token was filled
    assert events[-2:] == ["data: [DONE]", ""]

    chunks = client.chat.completions.create(model="cheshire-cat", messages=user_says(SLOW), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == " t0 t1 t2"

    async def consume() -> str:
        stream = await aclient.chat.completions.create(model="cheshire-cat", messages=user_says(SLOW), stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(consume()) == " t0 t1 t2"
