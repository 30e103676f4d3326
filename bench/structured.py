"""Structured vs plain: the same answer text, once asked for with a JSON schema and once as plain text.

    python -m bench.structured [--reps 200]

Both go through the bridge to the same Cat v2, interleaved (no position bias); the scripted LLM
answers the same 11 tokens either way, so the difference is what structured outputs cost: the
schema in the agent's prompt, and checking the answer. Also counts the LLM calls per structured
request (more than one means the corrective re-ask ran).
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from . import cpu
from .stack import start_stack
from .stats import summary

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "population": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "population", "tags"],
    "additionalProperties": False,
}
ANSWER = '{"name": "text", "population": 1, "tags": ["text"]}'  # what the scripted LLM makes of SCHEMA


def bodies() -> dict[str, dict]:
    plain = {"model": "cheshire-cat", "messages": [{"role": "user", "content": f"Rome [[reply:{ANSWER}]]"}]}
    structured = {
        "model": "cheshire-cat",
        "messages": [{"role": "user", "content": "Rome"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA, "strict": True}},
    }
    return {"plain": plain, "structured": structured}


def run(reps: int) -> dict:
    stack = start_stack("v2")
    try:
        pid = stack.cat.process.pid
        samples: dict[str, list[float]] = {"plain": [], "structured": []}
        cat_cpu = {"plain": 0.0, "structured": 0.0}
        with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:
            sent = bodies()

            def call(name: str) -> None:
                response = client.post("/custom/v1/chat/completions", json=sent[name])
                response.raise_for_status()
                if response.json()["choices"][0]["message"]["content"] != ANSWER:
                    raise RuntimeError(f"{name} answered {response.text}")

            for _ in range(10):
                for name in sent:
                    call(name)
            httpx.delete(stack.llm.url + "/_requests").raise_for_status()
            for i in range(reps):
                for name in ("plain", "structured") if i % 2 == 0 else ("structured", "plain"):
                    before = cpu.process_seconds(pid) or 0.0
                    started = time.perf_counter()
                    call(name)
                    samples[name].append((time.perf_counter() - started) * 1000)
                    cat_cpu[name] += (cpu.process_seconds(pid) or 0.0) - before
        log = httpx.get(stack.llm.url + "/_requests").json()
    finally:
        stack.stop()
    result: dict = {name: summary(values) for name, values in samples.items()}
    for name in samples:
        result[name]["cat_cpu_ms"] = cat_cpu[name] / reps * 1000
    result["ratio_p50"] = result["structured"]["p50"] / result["plain"]["p50"]
    result["cpu_ratio"] = result["structured"]["cat_cpu_ms"] / max(result["plain"]["cat_cpu_ms"], 1e-9)
    reasks = sum("Your previous answer could not be used" in json.dumps(e["body"]) for e in log)
    result["llm_calls"] = len(log)
    result["reasks"] = reasks
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.reps), indent=1))


if __name__ == "__main__":
    main()
