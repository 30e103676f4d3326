"""4. Growth: latency and memory as the conversation and the answer get longer, bridge vs native.

"At most linear" is judged on the last decade of each series: latency(10x) / latency(x) ≤ 10,
i.e. a log-log slope ≤ 1 (a fixed cost per request only lowers it). A native endpoint that takes
no conversation (the Cat v1's) is measured for answer length only.
"""

from __future__ import annotations

import math
import time

import httpx
from websockets.sync.client import ClientConnection

from .ask import ask
from .memory import PeakRSS
from .stack import Stack
from .stats import summary

SIZES = (1, 10, 100)
ANSWER_SIZES = (10, 100, 1000)
LINEAR = 1.10  # slopes up to this count as linear: two noisy medians on a shared machine, not a trend


def _measure(
    stack: Stack,
    client: httpx.Client,
    socket: ClientConnection | None,
    repetitions: int,
    text: str,
    stream: bool = False,
    messages: int = 1,
) -> dict[str, float | None]:
    names = [n for n in ("bridge", "native") if messages == 1 or stack.endpoints[n].conversation]
    samples: dict[str, list[float]] = {n: [] for n in names}
    with PeakRSS(stack.cat.rss_bytes) as rss:
        for i in range(repetitions):
            for name in names if i % 2 == 0 else names[::-1]:
                stack.endpoints[name].fresh(client, stream=stream)  # untimed
                started = time.perf_counter()
                ask(client, socket, stack.endpoints[name], text, stream, messages)
                samples[name].append((time.perf_counter() - started) * 1000)
    bridge = summary(samples["bridge"])
    native = summary(samples["native"]) if "native" in samples else {"p50": None, "p99": None}
    return {
        "p50": bridge["p50"],
        "p99": bridge["p99"],
        "native_p50": native["p50"],
        "native_p99": native["p99"],
        "peak_rss_mib": rss.peak_mib,
    }


def slope(rows: list[dict[str, float]], key: str = "p50") -> float | None:
    """Log-log slope over the last two sizes: 1 is linear, below 1 is better (None: not measured)."""
    a, b = rows[-2], rows[-1]
    if a.get(key) is None or b.get(key) is None:
        return None
    return math.log(b[key] / a[key]) / math.log(b["size"] / a["size"])


def run(stack: Stack, repetitions: int) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {"messages": [], "answer_tokens": []}
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=120) as client, stack.socket() as socket:
        for count in SIZES:
            for name in ("bridge", "native"):
                if count == 1 or stack.endpoints[name].conversation:
                    ask(client, socket, stack.endpoints[name], "warm up", messages=count)
            row = {"size": count, **_measure(stack, client, socket, repetitions, "[[tokens:20]]", messages=count)}
            out["messages"].append(row)
            native = f"{row['native_p50']:.1f} ms" if row["native_p50"] is not None else "n/a"
            print(f"  {count:4} messages: bridge p50 {row['p50']:.1f} ms, native {native}", flush=True)
        for stream in (False, True):
            for tokens in ANSWER_SIZES:
                row = {
                    "size": tokens,
                    "stream": stream,
                    **_measure(stack, client, socket, repetitions, f"[[tokens:{tokens}]]", stream=stream),
                }
                out["answer_tokens"].append(row)
                print(
                    f"  {tokens:4} tokens {'stream' if stream else 'json'}: bridge p50 {row['p50']:.1f} ms, "
                    f"native {row['native_p50']:.1f} ms",
                    flush=True,
                )
    return out
