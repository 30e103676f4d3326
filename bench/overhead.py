"""1. Overhead: a non-streamed answer through the bridge vs the Cat's native endpoint, interleaved."""

from __future__ import annotations

import time
from typing import Dict, List

import httpx

from .bodies import BRIDGE_CHAT, NATIVE_MESSAGE, bridge_body, native_body
from .stack import Stack
from .stats import summary


def run(stack: Stack, repetitions: int, tokens: int = 20) -> Dict[str, dict]:
    text = f"[[tokens:{tokens}]]"
    samples: Dict[str, List[float]] = {"bridge": [], "native": []}
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:
        calls = {
            "bridge": lambda: client.post(BRIDGE_CHAT, json=bridge_body(text)),
            "native": lambda: client.post(NATIVE_MESSAGE, json=native_body(text)),
        }
        for _ in range(10):  # warm-up, both paths
            for call in calls.values():
                call().raise_for_status()
        for i in range(repetitions):
            order = ("bridge", "native") if i % 2 == 0 else ("native", "bridge")  # no position bias
            for name in order:
                started = time.perf_counter()
                calls[name]().raise_for_status()
                samples[name].append((time.perf_counter() - started) * 1000)
    result = {name: summary(values) for name, values in samples.items()}
    result["ratio"] = {q: result["bridge"][q] / result["native"][q] for q in ("p50", "p99", "mean")}
    result["samples"] = samples
    return result
