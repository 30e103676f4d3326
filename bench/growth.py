"""4. Growth: latency and memory as the conversation and the answer get longer, bridge vs native.

"At most linear" is judged on the last decade of each series: latency(10x) / latency(x) ≤ 10,
i.e. a log-log slope ≤ 1 (a fixed cost per request only lowers it).
"""

from __future__ import annotations

import math
import time
from typing import Dict, List

import httpx

from .bodies import BRIDGE_CHAT, NATIVE_MESSAGE, bridge_body, native_body
from .memory import PeakRSS
from .stack import Stack
from .stats import summary

PATHS = {"bridge": (BRIDGE_CHAT, bridge_body), "native": (NATIVE_MESSAGE, native_body)}
SIZES = (1, 10, 100)
ANSWER_SIZES = (10, 100, 1000)


def _request(client: httpx.Client, name: str, text: str, stream: bool, messages: int) -> None:
    path, body = PATHS[name]
    if stream:
        with client.stream("POST", path, json=body(text, stream=True, messages=messages)) as response:
            response.raise_for_status()
            for _ in response.iter_raw():
                pass
    else:
        client.post(path, json=body(text, messages=messages)).raise_for_status()


def _measure(stack: Stack, client: httpx.Client, repetitions: int, text: str, stream: bool = False,
             messages: int = 1) -> Dict[str, float]:
    samples: Dict[str, List[float]] = {"bridge": [], "native": []}
    with PeakRSS(stack.cat.rss_bytes) as rss:
        for i in range(repetitions):
            for name in (("bridge", "native") if i % 2 == 0 else ("native", "bridge")):
                started = time.perf_counter()
                _request(client, name, text, stream, messages)
                samples[name].append((time.perf_counter() - started) * 1000)
    bridge, native = summary(samples["bridge"]), summary(samples["native"])
    return {"p50": bridge["p50"], "p99": bridge["p99"], "native_p50": native["p50"], "native_p99": native["p99"],
            "peak_rss_mib": rss.peak_mib}


def slope(rows: List[Dict[str, float]], key: str = "p50") -> float:
    """Log-log slope over the last two sizes: 1 is linear, below 1 is better."""
    a, b = rows[-2], rows[-1]
    return math.log(b[key] / a[key]) / math.log(b["size"] / a["size"])


def run(stack: Stack, repetitions: int) -> Dict[str, List[Dict[str, float]]]:
    out: Dict[str, List[Dict[str, float]]] = {"messages": [], "answer_tokens": []}
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=120) as client:
        for count in SIZES:
            _request(client, "bridge", "warm up", False, count)
            _request(client, "native", "warm up", False, count)
            row = {"size": count, **_measure(stack, client, repetitions, "[[tokens:20]]", messages=count)}
            out["messages"].append(row)
            print(f"  {count:4} messages: bridge p50 {row['p50']:.1f} ms, native {row['native_p50']:.1f} ms", flush=True)
        for stream in (False, True):
            for tokens in ANSWER_SIZES:
                row = {"size": tokens, "stream": stream,
                       **_measure(stack, client, repetitions, f"[[tokens:{tokens}]]", stream=stream)}
                out["answer_tokens"].append(row)
                print(f"  {tokens:4} tokens {'stream' if stream else 'json'}: bridge p50 {row['p50']:.1f} ms, "
                      f"native {row['native_p50']:.1f} ms", flush=True)
    return out
