"""4. Growth: latency and memory as the conversation and the answer get longer."""

from __future__ import annotations

import time
from typing import Dict, List

import httpx

from .bodies import BRIDGE_CHAT, NATIVE_MESSAGE, bridge_body, native_body
from .stack import Stack
from .stats import summary


def _median_ms(client: httpx.Client, body: dict, repetitions: int, path: str = BRIDGE_CHAT) -> Dict[str, float]:
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter()
        client.post(path, json=body).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


def run(stack: Stack, repetitions: int) -> Dict[str, List[Dict[str, float]]]:
    out: Dict[str, List[Dict[str, float]]] = {"messages": [], "answer_tokens": []}
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=120) as client:
        client.post(BRIDGE_CHAT, json=bridge_body("warm up")).raise_for_status()
        for count in (1, 10, 100):
            history = (count - 1) // 2  # pairs before the last user message
            latency = _median_ms(client, bridge_body("[[tokens:20]]", history=history), repetitions)
            out["messages"].append({"size": 1 + 2 * history, **latency, "rss_mib": (stack.cat.rss_bytes() or 0) / 2**20})
        for tokens in (10, 100, 1000):
            for stream in (False, True):
                text = f"[[tokens:{tokens}]]"
                latency = _median_ms(client, bridge_body(text, stream=stream), repetitions)
                native = _median_ms(client, native_body(text, stream=stream), repetitions, NATIVE_MESSAGE)
                out["answer_tokens"].append({"size": tokens, "stream": stream, **latency, "native_p50": native["p50"],
                                             "rss_mib": (stack.cat.rss_bytes() or 0) / 2**20})
    return out
