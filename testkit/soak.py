"""Mixed traffic against a live bridge for a bounded time: what happened, and the server's memory.

Each worker loops over a fixed mix (answers, streams, Responses streams, client
mistakes, LLM failures before and during a stream, streams the client walks away
from, JSON answers the client gives up on, keyed Responses streams carrying
512 KiB of metadata, which the replay store may keep for a while) and records an
outcome per request; RSS is sampled once a second. Used by the CI soak test and, for long runs, by

    python -m testkit.soak --seconds 600 --workers 16 [--v1 CORE]   (scripts/soak.sh)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

CHAT = "/custom/v1/chat/completions"


@dataclass
class SoakReport:
    seconds: float
    outcomes: Counter = field(default_factory=Counter)
    rss: list[int] = field(default_factory=list)  # bytes, one sample a second

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def unexpected(self) -> dict[str, int]:
        return {k: v for k, v in self.outcomes.items() if k.startswith("unexpected")}

    def growth_per_minute(self) -> float:
        """Least-squares slope of the RSS samples after the first quarter (warm-up), in MiB per minute."""
        points = self.rss[len(self.rss) // 4 :]
        if len(points) < 3:
            return 0.0
        xs = range(len(points))  # one sample a second
        mean_x, mean_y = (len(points) - 1) / 2, sum(points) / len(points)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, points)) / sum((x - mean_x) ** 2 for x in xs)
        return slope * 60 / 2**20

    def summary(self) -> str:
        mb = [r / 2**20 for r in self.rss]
        memory = (
            f"RSS start {mb[0]:.1f} MiB, end {mb[-1]:.1f} MiB, peak {max(mb):.1f} MiB, "
            f"trend {self.growth_per_minute():+.2f} MiB/min"
            if mb
            else "RSS n/a"
        )
        return (
            f"soak: {self.requests} requests in {self.seconds:.0f}s, outcomes {dict(sorted(self.outcomes.items()))}; "
            f"{memory}"
        )


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
    last = json.loads(lines[-1][len("data: ") :]) if lines and lines[-1] != "data: [DONE]" else {}
    return "stream error event" if "error" in last else "unexpected stream failure"


async def _walk_away(client: httpx.AsyncClient) -> str:
    async with client.stream("POST", CHAT, json=_body("soak [[tokens:50]] [[delay:10]]", True)) as r:
        async for line in r.aiter_lines():
            if '"content":" t' in line:
                return "disconnect"
    return "unexpected no token before disconnect"


async def _responses_stream(client: httpx.AsyncClient) -> str:
    body = {"model": "cheshire-cat", "input": "soak [[tokens:15]]", "stream": True}
    async with client.stream("POST", "/custom/v1/responses", json=body) as r:
        events = [line async for line in r.aiter_lines() if line.startswith("event: ")]
    return "responses stream" if events[-1:] == ["event: response.completed"] else "unexpected responses stream"


METADATA = {f"k{i}": f"{i % 10}" * (32 * 1024) for i in range(16)}  # 512 KiB, echoed by three stream events


async def _keyed_responses(client: httpx.AsyncClient) -> str:
    """Each answer repeats its metadata three times (about 1.5 MiB): only the replay store's byte bounds keep
    these from piling up until their keys expire."""
    body = {"model": "cheshire-cat", "input": "soak [[tokens:5]]", "stream": True, "metadata": METADATA}
    headers = {"Idempotency-Key": f"soak-{uuid.uuid4().hex}"}
    async with client.stream("POST", "/custom/v1/responses", json=body, headers=headers) as r:
        events = [line async for line in r.aiter_lines() if line.startswith("event: ")]
    ok = r.status_code == 200 and events[-1:] == ["event: response.completed"]
    return "keyed responses stream" if ok else f"unexpected keyed responses stream {r.status_code}"


async def _give_up(client: httpx.AsyncClient) -> str:
    """A JSON client whose read timeout fires: the Cat finishes the turn and its answer is dropped."""
    try:
        r = await client.post(
            CHAT, json=_body("soak [[tokens:10]] [[delay:100]]"), timeout=httpx.Timeout(30, read=0.05)
        )
    except httpx.ReadTimeout:
        return "client gave up"
    return f"unexpected answer before the client gave up ({r.status_code} {r.text[:200]})"


async def _llm_failure_streamed(client: httpx.AsyncClient) -> str:
    async with client.stream("POST", CHAT, json=_body("soak [[fail:status:400]]", True)) as r:
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    last = json.loads(lines[-1][len("data: ") :]) if lines and lines[-1] != "data: [DONE]" else {}
    return "stream error event" if last.get("error", {}).get("code") == "cat_error" else "unexpected stream failure"


MIX = [
    _answer,
    _stream,
    _answer,
    _mistake,
    _stream,
    _llm_failure,
    _walk_away,
    _stream_failure,
    _responses_stream,
    _give_up,
    _llm_failure_streamed,
    _keyed_responses,
]


def _sample(rss: Callable[[], int | None], into: list[int], stop: threading.Event) -> None:
    while True:
        value = rss()
        if value:
            into.append(value)
        if stop.wait(1.0):
            return


def soak(
    base_url: str,
    api_key: str,
    seconds: float,
    workers: int = 8,
    rss: Callable[[], int | None] = lambda: None,
    min_requests: int = 0,
    max_seconds: float | None = None,
) -> SoakReport:
    """Traffic for `seconds`, and on until `min_requests` were made (but never past `max_seconds`): a judgement
    on memory per request needs the requests, however slow the machine is today."""
    report = SoakReport(seconds)
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(rss, report.rss, stop), daemon=True)
    sampler.start()

    async def worker(client: httpx.AsyncClient, offset: int, deadline: float, last: float) -> None:
        for step in itertools.islice(itertools.cycle(MIX), offset, None):
            now = time.monotonic()
            if now >= last or (now >= deadline and report.requests >= min_requests):
                return
            try:
                report.outcomes[await step(client)] += 1
            except httpx.HTTPError as exc:
                report.outcomes[f"unexpected {type(exc).__name__}"] += 1

    async def run() -> None:
        began = time.monotonic()
        deadline, last = began + seconds, began + max(seconds, max_seconds or seconds)
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
            await asyncio.gather(*(worker(client, i, deadline, last) for i in range(workers)))
        report.seconds = time.monotonic() - began

    try:
        asyncio.run(run())
    finally:
        stop.set()
        sampler.join()
    value = rss()
    if value:
        report.rss.append(value)
    return report


def main() -> None:
    """A long soak on a fresh Cat (v2, or v1 from a prepared core) with the bridge and a scripted LLM."""
    import argparse
    import sys
    import tempfile
    from pathlib import Path

    from .processes import start_scripted_llm

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=300, help="how long to send traffic (default 300)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--v1", metavar="CORE", help="a Cat v1 core prepared by scripts/prepare-cat-v1.sh")
    args = parser.parse_args()
    key = "soak"
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    llm = start_scripted_llm(work)
    if args.v1:
        from . import cat_v1

        cat = cat_v1.start_cat_v1(Path(args.v1), work / "cat-v1", api_key=key)
    else:
        from .cat_v2 import start_cat

        cat = start_cat(work / "project", api_key=key)
    try:
        if args.v1:
            cat_v1.activate_bridge_v1(cat.url, key)
            cat_v1.use_llm_v1(cat.url, llm.url, key)
            cat_v1.put_bridge_settings_v1(cat.url, {"rate_limit_per_minute": 0}, api_key=key).raise_for_status()
        else:
            from .cat_v2 import put_bridge_settings, use_llm

            use_llm(cat.url, llm.url, api_key=key)
            put_bridge_settings(cat.url, {"rate_limit_per_minute": 0}, api_key=key).raise_for_status()
        soak(cat.url, key, min(10.0, args.seconds), args.workers)  # warm-up: pools and caches reach their size
        report = soak(cat.url, key, args.seconds, args.workers, rss=cat.rss_bytes)
        print(report.summary())
        print("RSS samples (MiB):", " ".join(f"{r / 2**20:.0f}" for r in report.rss))
        sys.exit(1 if report.unexpected else 0)
    finally:
        cat.stop()
        llm.stop()


if __name__ == "__main__":
    main()
