"""5. Burst: N turns sent at once to an LLM that takes about a second to answer; the wall time until the last
answer, bridge vs native, in alternating rounds.

Next to the LLM's second, the Cat's own work is small: what this measures is how each path holds up with N
turns in flight at once (threads, locks, the event loop), the case a chat front end with many users makes.
Every round wipes the users' stored conversations first (untimed, on both sides: see bodies.V1_WIPE) and opens
every client's connection (and v1's websockets) before the clock starts. Meanwhile a probe asks `GET
/custom/health` every 20 ms: its latency is the Cat's event loop lag, which every request in the process feels.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time

import httpx
from websockets.asyncio.client import connect

from . import cpu, ws
from .bodies import expected_tokens
from .stack import Stack
from .stats import summary

TOKENS = 20
DELAY_MS = 50  # 20 tokens, 50 ms apart: an answer takes about a second


async def _timed_turn(client: httpx.AsyncClient, stack: Stack, name: str, index: int, stream: bool, socket):
    """(whether the turn gave the scripted answer whole, its seconds)."""
    started = time.perf_counter()
    ok = await _turn(client, stack, name, index, stream, socket)
    return ok, time.perf_counter() - started


async def _turn(client: httpx.AsyncClient, stack: Stack, name: str, index: int, stream: bool, socket) -> bool:
    """One turn read to its end; whether it gave the scripted answer whole."""
    endpoint = stack.endpoints[name]
    text = f"[[tokens:{TOKENS}]] [[delay:{DELAY_MS}]]"
    if socket is not None:
        tokens, answered = await ws.stream(socket, text)
        return answered and tokens == TOKENS
    body = endpoint.body(text, stream=stream)
    headers = endpoint.headers(index, stream)
    if not stream:
        r = await client.post(endpoint.path, json=body, headers=headers)
        return r.status_code == 200 and endpoint.answer(r.json()) == expected_tokens(TOKENS)
    async with client.stream("POST", endpoint.path, json=body, headers=headers) as r:
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    tokens = sum(endpoint.token_marker in line for line in lines)
    return r.status_code == 200 and bool(lines) and endpoint.end_marker in lines[-1] and tokens == TOKENS


async def _probe(client: httpx.AsyncClient, stop: asyncio.Event, into: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await client.get("/custom/health")
        into.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02)


async def _round(stack: Stack, name: str, clients: int, stream: bool) -> dict[str, object]:
    endpoint = stack.endpoints[name]
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as held:
        conns = [
            await held.enter_async_context(
                httpx.AsyncClient(base_url=stack.cat.url, headers=stack.headers, timeout=120, limits=one)
            )
            for _ in range(clients)
        ]
        sockets = [None] * clients
        if stream and endpoint.stream == "ws":
            sockets = [await held.enter_async_context(connect(stack.ws_url(i))) for i in range(clients)]
        # untimed: empty stored conversations, and every connection open (a GET costs the Cat next to nothing)
        await asyncio.gather(*(endpoint.afresh(c, i, stream) for i, c in enumerate(conns)))
        await asyncio.gather(*(c.get("/custom/health") for c in conns))
        prober = await held.enter_async_context(httpx.AsyncClient(base_url=stack.cat.url, timeout=120))
        await prober.get("/custom/health")
        lags: list[float] = []
        stop = asyncio.Event()
        probe = asyncio.ensure_future(_probe(prober, stop, lags))
        cat_before = cpu.process_seconds(stack.cat.process.pid) or 0.0
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(_timed_turn(c, stack, name, i, stream, s) for i, (c, s) in enumerate(zip(conns, sockets, strict=True))),
            return_exceptions=True,
        )
        wall = time.perf_counter() - started
        cat_cpu = (cpu.process_seconds(stack.cat.process.pid) or 0.0) - cat_before
        stop.set()
        await probe
    done = [o for o in outcomes if isinstance(o, tuple)]
    failed = sum(not (isinstance(o, tuple) and o[0]) for o in outcomes)
    mean = statistics.fmean(seconds for _, seconds in done) if done else float("nan")
    return {"wall_s": wall, "mean_s": mean, "failed": failed, "cat_cpu_s": cat_cpu, "lags": lags}


def run(stack: Stack, rounds: int, levels=(8, 32), modes=(False, True)) -> list[dict[str, object]]:
    """Rounds alternate bridge-first and native-first; each level's ratio is the median of per-round ratios."""
    rows = []
    for stream in modes:
        for clients in levels:
            walls: dict[str, list[float]] = {"bridge": [], "native": []}
            means: dict[str, list[float]] = {"bridge": [], "native": []}
            lags: dict[str, list[float]] = {"bridge": [], "native": []}
            cpus: dict[str, float] = {"bridge": 0.0, "native": 0.0}
            failed = {"bridge": 0, "native": 0}
            for r in range(rounds):
                for name in ("bridge", "native") if r % 2 == 0 else ("native", "bridge"):
                    result = asyncio.run(_round(stack, name, clients, stream))
                    stack.check_alive()
                    walls[name].append(result["wall_s"])
                    means[name].append(result["mean_s"])
                    lags[name] += result["lags"]
                    cpus[name] += result["cat_cpu_s"]
                    failed[name] += int(result["failed"])
            paired = [b / n for b, n in zip(walls["bridge"], walls["native"], strict=True)]
            paired_means = [b / n for b, n in zip(means["bridge"], means["native"], strict=True)]
            row = {
                "clients": clients,
                "stream": stream,
                "rounds": rounds,
                "bridge_wall_s": statistics.median(walls["bridge"]),
                "native_wall_s": statistics.median(walls["native"]),
                "ratio": statistics.median(paired),
                "ratios": paired,
                # each turn's own time, averaged per round: less at the mercy of the one slowest turn
                "bridge_mean_s": statistics.median(means["bridge"]),
                "native_mean_s": statistics.median(means["native"]),
                "mean_ratio": statistics.median(paired_means),
                "bridge_lag": summary(lags["bridge"]),  # ms of GET /custom/health during the rounds
                "native_lag": summary(lags["native"]),
                "bridge_cat_cpu_ms": cpus["bridge"] / (rounds * clients) * 1000,
                "native_cat_cpu_ms": cpus["native"] / (rounds * clients) * 1000,
                "bridge_failed": failed["bridge"],
                "native_failed": failed["native"],
            }
            rows.append(row)
            print(
                f"  burst {'stream' if stream else 'json':6} {clients:3} at once: bridge {row['bridge_wall_s']:.3f} s, "
                f"native {row['native_wall_s']:.3f} s, bridge/native {row['ratio']:.3f} (mean turn "
                f"{row['mean_ratio']:.3f}) "
                f"(rounds {', '.join(f'{x:.2f}' for x in paired)}), Cat CPU/turn {row['bridge_cat_cpu_ms']:.1f} vs "
                f"{row['native_cat_cpu_ms']:.1f} ms, loop lag p99 {row['bridge_lag']['p99']:.0f} vs "
                f"{row['native_lag']['p99']:.0f} ms, failed {failed['bridge']}/{failed['native']}",
                flush=True,
            )
    return rows


def main() -> None:
    """`python -m bench.burst [--v1] [--rounds 6] [--clients 8 32]`: this scenario alone, on a fresh Cat."""
    import argparse

    from .stack import start_stack

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--v1", action="store_true", help="the Cat v1 from CAT_V1_CORE instead of v2")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    stack = start_stack("v1" if args.v1 else "v2")
    try:
        warm(stack)
        run(stack, args.rounds, tuple(args.clients), (False,) if args.json_only else (False, True))
    finally:
        stack.stop()


def warm(stack: Stack) -> None:
    """A few turns on each path first: on v1, the bridge's first turn serialises the embedded Qdrant for every
    caller, which concurrent native turns need (bodies.V1)."""
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:
        for _ in range(3):
            for endpoint in stack.endpoints.values():
                endpoint.fresh(client)
                client.post(endpoint.path, json=endpoint.body("[[tokens:3]]"), headers=endpoint.headers())


if __name__ == "__main__":
    main()
