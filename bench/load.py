"""3. Load: N concurrent clients for a bounded time, streaming and not; errors and truncations must be 0."""

from __future__ import annotations

import asyncio
import time
from typing import Dict, List

import httpx

from .bodies import BRIDGE_CHAT, bridge_body
from .memory import PeakRSS
from .stack import Stack
from .stats import summary

TOKENS = 20


async def _one(client: httpx.AsyncClient, stream: bool) -> str:
    """'ok', 'error' or 'truncated'."""
    body = bridge_body(f"[[tokens:{TOKENS}]]", stream=stream)
    if not stream:
        r = await client.post(BRIDGE_CHAT, json=body)
        return "ok" if r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "stop" else "error"
    async with client.stream("POST", BRIDGE_CHAT, json=body) as r:
        if r.status_code != 200:
            return "error"
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    tokens = sum('"content":" t' in line for line in lines)
    return "ok" if lines[-1:] == ["data: [DONE]"] and tokens == TOKENS else "truncated"


async def _phase(stack: Stack, clients: int, seconds: float, stream: bool) -> Dict[str, object]:
    latencies: List[float] = []
    outcomes = {"ok": 0, "error": 0, "truncated": 0}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=stack.cat.url, headers=stack.headers, timeout=120, limits=limits) as client:
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    outcome = await _one(client, stream)
                except httpx.HTTPError:
                    outcome = "error"
                outcomes[outcome] += 1
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"clients": clients, "stream": stream, "requests": sum(outcomes.values()),
            "rps": sum(outcomes.values()) / elapsed, **outcomes, "latency": summary(latencies)}


def run(stack: Stack, seconds: float, levels=(1, 8, 32, 64)) -> List[Dict[str, object]]:
    rows = []
    for stream in (False, True):
        for clients in levels:
            with PeakRSS(stack.cat.rss_bytes) as rss:
                row = asyncio.run(_phase(stack, clients, seconds, stream))
            row["peak_rss_mib"] = rss.peak_mib
            rows.append(row)
    return rows
