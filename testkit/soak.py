"""Mixed traffic against a live bridge for a bounded time: what happened, and the server's memory.

Each worker loops over a fixed mix (answers, streams, client mistakes, LLM
failures, streams the client walks away from) and records an outcome per
request; RSS is sampled once a second. Used by the CI soak test and by
scripts/soak.sh for long runs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import httpx

CHAT = "/custom/v1/chat/completions"


@dataclass
class SoakReport:
    seconds: float
    outcomes: Counter = field(default_factory=Counter)
    rss: List[int] = field(default_factory=list)  # bytes, one sample a second

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def unexpected(self) -> Dict[str, int]:
        return {k: v for k, v in self.outcomes.items() if k.startswith("unexpected")}

    def summary(self) -> str:
        mb = [r / 2**20 for r in self.rss]
        memory = f"RSS start {mb[0]:.1f} MiB, end {mb[-1]:.1f} MiB, peak {max(mb):.1f} MiB" if mb else "RSS n/a"
        return (f"soak: {self.requests} requests in {self.seconds:.0f}s, outcomes {dict(sorted(self.outcomes.items()))}; "
                f"{memory}")


def _body(text: str, stream: bool = False) -> dict:
    return {"model": "cheshire-cat", "messages": [{"role": "user", "content": text}], "stream": stream}


async def _answer(client: httpx.AsyncClient) -> str:
    r = await client.post(CHAT, json=_body("soak [[tokens:20]]"))
    ok = r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "stop"
    return "answer" if ok else f"unexpected answer {r.status_code}"


async def _stream(client: httpx.AsyncClient) -> str:
    async with client.stream("POST", CHAT, json=_body("soak [[tokens:30]] [[delay:2]]", True)) as r:
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    tokens = sum('"content":" t' in line for line in lines)
    return "stream" if lines[-1:] == ["data: [DONE]"] and tokens == 30 else "unexpected truncated stream"


async def _mistake(client: httpx.AsyncClient) -> str:
    r = await client.post(CHAT, json={"model": "cheshire-cat", "messages": []})
    return "client error 400" if r.status_code == 400 and "error" in r.json() else f"unexpected mistake {r.status_code}"


async def _llm_failure(client: httpx.AsyncClient) -> str:
    r = await client.post(CHAT, json=_body("soak [[fail:status:400]]"))
    return "cat error 502" if r.status_code == 502 else f"unexpected failure {r.status_code}"


async def _stream_failure(client: httpx.AsyncClient) -> str:
    async with client.stream("POST", CHAT, json=_body("soak [[tokens:10]] [[fail:after:4]]", True)) as r:
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    last = json.loads(lines[-1][len("data: "):]) if lines and lines[-1] != "data: [DONE]" else {}
    return "stream error event" if "error" in last else "unexpected stream failure"


async def _walk_away(client: httpx.AsyncClient) -> str:
    async with client.stream("POST", CHAT, json=_body("soak [[tokens:50]] [[delay:10]]", True)) as r:
        async for line in r.aiter_lines():
            if '"content":" t' in line:
                return "disconnect"
    return "unexpected no token before disconnect"


MIX = [_answer, _stream, _answer, _mistake, _stream, _llm_failure, _walk_away, _stream_failure]


def _sample(rss: Callable[[], Optional[int]], into: List[int], stop: threading.Event) -> None:
    while True:
        value = rss()
        if value:
            into.append(value)
        if stop.wait(1.0):
            return


def soak(base_url: str, api_key: str, seconds: float, workers: int = 8,
         rss: Callable[[], Optional[int]] = lambda: None) -> SoakReport:
    report = SoakReport(seconds)
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(rss, report.rss, stop), daemon=True)
    sampler.start()

    async def worker(client: httpx.AsyncClient, offset: int, deadline: float) -> None:
        for step in itertools.islice(itertools.cycle(MIX), offset, None):
            if time.monotonic() >= deadline:
                return
            try:
                report.outcomes[await step(client)] += 1
            except httpx.HTTPError as exc:
                report.outcomes[f"unexpected {type(exc).__name__}"] += 1

    async def run() -> None:
        deadline = time.monotonic() + seconds
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
            await asyncio.gather(*(worker(client, i, deadline) for i in range(workers)))

    try:
        asyncio.run(run())
    finally:
        stop.set()
        sampler.join()
    value = rss()
    if value:
        report.rss.append(value)
    return report
