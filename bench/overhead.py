"""1. Overhead: a non-streamed answer through the bridge vs the Cat's native endpoint, interleaved."""

from __future__ import annotations

import time

import httpx

from . import cpu
from .bodies import expected_tokens
from .stack import Stack
from .stats import summary


def run(stack: Stack, repetitions: int, tokens: int = 20) -> dict[str, dict]:
    text = f"[[tokens:{tokens}]]"
    samples: dict[str, list[float]] = {"bridge": [], "native": []}
    cat_cpu = {"bridge": 0.0, "native": 0.0}  # the Cat's CPU seconds, summed over each path's requests
    pid = stack.cat.process.pid
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:

        def call(name: str, fresh: bool = True) -> httpx.Response:
            endpoint = stack.endpoints[name]
            if fresh:
                endpoint.fresh(client)
            response = client.post(endpoint.path, json=endpoint.body(text), headers=endpoint.headers())
            response.raise_for_status()
            return response

        for _ in range(10):  # warm-up, both paths; both must give the same answer
            for name, endpoint in stack.endpoints.items():
                answer = endpoint.answer(call(name).json())
                if answer != expected_tokens(tokens):
                    raise RuntimeError(f"{name} answered {answer!r}")
        for i in range(repetitions):
            order = ("bridge", "native") if i % 2 == 0 else ("native", "bridge")  # no position bias
            for name in order:
                stack.endpoints[name].fresh(client)  # untimed, outside the CPU count too
                before = cpu.process_seconds(pid) or 0.0
                started = time.perf_counter()
                call(name, fresh=False)
                samples[name].append((time.perf_counter() - started) * 1000)
                cat_cpu[name] += (cpu.process_seconds(pid) or 0.0) - before
    result = {name: summary(values) for name, values in samples.items()}
    for name in samples:  # clock ticks fall on whichever request is running: unbiased over many requests
        result[name]["cat_cpu_ms"] = cat_cpu[name] / repetitions * 1000
    result["cpu_ratio"] = result["bridge"]["cat_cpu_ms"] / max(result["native"]["cat_cpu_ms"], 1e-9)
    result["ratio"] = {q: result["bridge"][q] / result["native"][q] for q in ("p50", "p99", "mean")}
    result["samples"] = samples
    return result
