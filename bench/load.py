"""3. Load: N concurrent clients for a bounded time, streaming and not, through the bridge and natively.

Every answer is checked: a non-200 or a wrong answer is an error; a stream without its end
(`[DONE]`, the AG-UI RUN_FINISHED, v1's final `chat` message) or with fewer tokens than asked is
truncated. Both must be 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from . import cpu, ws
from .bodies import Endpoint, expected_tokens
from .memory import PeakRSS
from .stack import Stack
from .stats import summary

TOKENS = 20


def _stream_complete(endpoint: Endpoint, lines: list[str], tokens: int) -> bool:
    seen = sum(endpoint.token_marker in line for line in lines)
    return bool(lines) and endpoint.end_marker in lines[-1] and seen == tokens


async def _one(
    client: httpx.AsyncClient, endpoint: Endpoint, body: dict, stream: bool, headers: dict, tokens: int
) -> str:
    """'ok', 'truncated', or what went wrong."""
    if not stream:
        r = await client.post(endpoint.path, json=body, headers=headers)
        if r.status_code != 200:
            return f"HTTP {r.status_code}"
        return "ok" if endpoint.answer(r.json()) == expected_tokens(tokens) else "wrong answer"
    async with client.stream("POST", endpoint.path, json=body, headers=headers) as r:
        if r.status_code != 200:
            return f"HTTP {r.status_code}"
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    return "ok" if _stream_complete(endpoint, lines, tokens) else "truncated"


async def _timed(
    client: httpx.AsyncClient, socket, endpoint: Endpoint, body: dict, stream: bool, index: int, tokens: int = TOKENS
):
    """(outcome, milliseconds) of one request; the wipe of the stored conversation before it is untimed."""
    started = time.perf_counter()
    try:
        await endpoint.afresh(client, index, stream)
        started = time.perf_counter()
        if socket is not None:
            seen, answered = await ws.stream(socket, f"[[tokens:{tokens}]]")
            outcome = "ok" if answered and seen == tokens else "truncated"
        else:
            outcome = await _one(client, endpoint, body, stream, endpoint.headers(index, stream), tokens)
    except (httpx.HTTPError, WebSocketException, ValueError, KeyError, IndexError, OSError) as exc:
        outcome = type(exc).__name__
    return outcome, (time.perf_counter() - started) * 1000


async def _phase(
    stack: Stack, name: str, clients: int, seconds: float, stream: bool, shared_pool: bool = False, tokens: int = TOKENS
) -> dict[str, object]:
    endpoint = stack.endpoints[name]
    text = f"[[tokens:{tokens}]]"
    body = endpoint.body(text, stream=stream)
    latencies: list[float] = []
    outcomes = {"ok": 0, "error": 0, "truncated": 0}
    errors: Counter = Counter()  # what the errors were
    ready, go = asyncio.Semaphore(0), asyncio.Event()  # the clock starts once every client is connected
    deadline = 0.0
    # One connection per simulated client, as separate clients have: a pool shared by all of them costs the
    # generator O(connections) per request (httpcore scans it), and at 64 clients the generator itself becomes
    # the bottleneck. `shared_pool` is the old way, kept to show the difference (python -m bench.load).
    pool = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    shared = (
        httpx.AsyncClient(base_url=stack.cat.url, headers=stack.headers, timeout=60, limits=pool)
        if shared_pool
        else None
    )

    def own_client() -> httpx.AsyncClient:
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(base_url=stack.cat.url, headers=stack.headers, timeout=60, limits=one)

    async def worker(index: int) -> None:
        async with contextlib.nullcontext(shared) if shared is not None else own_client() as client:
            socket = await connect(stack.ws_url(index)) if stream and endpoint.stream == "ws" else None
            try:
                await client.get("/custom/health")  # its connection open before the clock starts
                ready.release()
                await go.wait()
                while time.monotonic() < deadline:
                    outcome, ms = await _timed(client, socket, endpoint, body, stream, index, tokens)
                    latencies.append(ms)
                    if outcome not in outcomes:
                        errors[outcome] += 1
                        outcome = "error"
                    outcomes[outcome] += 1
            finally:
                if socket is not None:
                    await socket.close()

    async def clock() -> tuple[float, float, float]:
        nonlocal deadline
        for _ in range(clients):
            await ready.acquire()
        cat_cpu, own_cpu = cpu.process_seconds(stack.cat.process.pid), cpu.own_seconds()
        deadline = time.monotonic() + seconds
        go.set()
        return cat_cpu or 0.0, own_cpu, time.perf_counter()

    try:
        (cat_cpu, own_cpu, began), *_ = await asyncio.gather(clock(), *(worker(i) for i in range(clients)))
    finally:
        if shared is not None:
            await shared.aclose()
    elapsed = time.perf_counter() - began
    cat_after = cpu.process_seconds(stack.cat.process.pid)
    return {
        "path": name,
        "clients": clients,
        "stream": stream,
        "seconds": elapsed,
        "outcomes": outcomes,
        "errors": errors,
        "latencies": latencies,
        "cat_cpu": (cat_after or 0.0) - cat_cpu,
        "client_cpu": cpu.own_seconds() - own_cpu,
    }


def _merge(parts: list[dict[str, object]], peak_rss_mib: float) -> dict[str, object]:
    first = parts[0]
    outcomes = {k: sum(p["outcomes"][k] for p in parts) for k in first["outcomes"]}  # type: ignore[index]
    seconds = sum(p["seconds"] for p in parts)  # type: ignore[misc]
    latencies = [x for p in parts for x in p["latencies"]]  # type: ignore[attr-defined]
    requests = sum(outcomes.values())
    errors = sum((Counter(p["errors"]) for p in parts), Counter())  # type: ignore[arg-type]
    cat_cpu = sum(p["cat_cpu"] for p in parts)  # type: ignore[misc]
    client_cpu = sum(p["client_cpu"] for p in parts)  # type: ignore[misc]
    return {
        "path": first["path"],
        "clients": first["clients"],
        "stream": first["stream"],
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds,
        **outcomes,
        "errors": dict(errors),
        "latency": summary(latencies),
        "peak_rss_mib": peak_rss_mib,
        # CPU the Cat process spent per request, and the cores the Cat and this load generator kept busy
        "cat_cpu_ms": cat_cpu / max(requests, 1) * 1000,
        "cat_cores": cat_cpu / seconds,
        "client_cores": client_cpu / seconds,
    }


def run(stack: Stack, seconds: float, levels=(1, 8, 32, 64), rounds: int = 1) -> list[dict[str, object]]:
    """Each (mode, clients) level runs bridge and native for `seconds` each, in 2 × `rounds` parts ordered
    bridge, native, native, bridge (then native, bridge, bridge, native, ...): a machine that gets busier or
    quieter meanwhile (or a v1 Cat whose memory grows with every turn) favours neither."""
    rows = []
    order = [("bridge", "native", "native", "bridge"), ("native", "bridge", "bridge", "native")]
    for stream in (False, True):
        for clients in levels:
            parts: dict[str, list] = {"bridge": [], "native": []}
            peaks: dict[str, float] = {"bridge": 0.0, "native": 0.0}
            for name in (name for r in range(rounds) for name in order[r % 2]):
                with PeakRSS(stack.cat.rss_bytes) as rss:
                    parts[name].append(asyncio.run(_phase(stack, name, clients, seconds / (2 * rounds), stream)))
                stack.check_alive()
                peaks[name] = max(peaks[name], rss.peak_mib)
            for name in ("bridge", "native"):
                row = _merge(parts[name], peaks[name])
                rows.append(row)
                print(
                    f"  {name:6} {'stream' if stream else 'json':6} {clients:3} clients: {row['rps']:.0f} req/s, "
                    f"p99 {row['latency']['p99']:.0f} ms, Cat CPU {row['cat_cpu_ms']:.2f} ms/req, "
                    f"errors {row['error']}, truncated {row['truncated']}",
                    flush=True,
                )
    return rows


def compare_pools(stack: Stack, seconds: float, clients: int = 64, stream: bool = False) -> list[dict[str, object]]:
    """The same phases with the load generator's old shared pool and with a connection per client, bridge and
    native, in halves ordered as run() orders them: what the generator's own cost did to the old ratios."""
    rows = []
    for shared_pool in (True, False):
        parts: dict[str, list] = {"bridge": [], "native": []}
        for name in ("bridge", "native", "native", "bridge"):
            parts[name].append(asyncio.run(_phase(stack, name, clients, seconds / 2, stream, shared_pool)))
            stack.check_alive()
        for name in ("bridge", "native"):
            row = {**_merge(parts[name], 0.0), "pool": "shared" if shared_pool else "one per client"}
            rows.append(row)
            print(
                f"  {row['pool']:14} {name:6} {clients} clients: {row['rps']:.0f} req/s, p50 "
                f"{row['latency']['p50']:.0f} ms, Cat cores {row['cat_cores']:.2f}, client cores "
                f"{row['client_cores']:.2f}, errors {row['error']}",
                flush=True,
            )
    return rows


def main() -> None:
    """`python -m bench.load [--v1] [--seconds 8] [--clients 64] [--stream]`: compare_pools on a fresh Cat."""
    import argparse

    from .burst import warm
    from .stack import start_stack

    parser = argparse.ArgumentParser(description=compare_pools.__doc__)
    parser.add_argument("--v1", action="store_true")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    stack = start_stack("v1" if args.v1 else "v2")
    try:
        warm(stack)
        compare_pools(stack, args.seconds, args.clients, args.stream)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
