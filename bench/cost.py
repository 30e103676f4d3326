"""What one answer costs the Cat: CPU per request and saturated throughput, bridge vs native, at 20, 200, 2,000 tokens.

Like for like: the bridge's non-streamed chat completion against the Cat's native endpoint with `"stream": false`
(one LLM call, no per-token work), and streamed against the native stream. The Cat's CPU is read from /proc around
alternating blocks of requests: a busy machine slows both sides but hardly changes what a request costs the Cat.
Answer lengths of 200 and 2,000 tokens show per-token costs that 20 hides (the old overhead scenario ran at 20 only,
and after a change that streamed every turn inside the bridge it went unmeasured: non-streamed answers cost 2-9x).

`python -m bench.cost [--v1] [--quick] [--tokens 20,200,2000]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx

from testkit import cat_v1
from testkit.cat_v2 import put_bridge_settings

from . import cpu, load
from .ask import ask
from .bodies import expected_tokens
from .stack import Stack, start_stack
from .stats import summary

LENGTHS = (20, 200, 2000)  # the scripted LLM's chunks, each one callback in the Cat (2,000 count ~5,000 tokens)
# The default ceiling (4,000 completion tokens) would cut the longest answer; it stays a ceiling, only higher.
SETTINGS = {"rate_limit_per_minute": 0, "max_tokens": 16000}


def _settings(stack: Stack) -> None:
    if stack.version == "v1":
        cat_v1.put_bridge_settings_v1(stack.cat.url, SETTINGS, stack.headers["Authorization"][7:]).raise_for_status()
    else:
        put_bridge_settings(stack.cat.url, SETTINGS, stack.headers["Authorization"][7:]).raise_for_status()


def cpu_per_request(stack: Stack, tokens: int, stream: bool, blocks: int, per_block: int) -> dict:
    """Cat CPU ms per request and wall ms, bridge and native, in alternating blocks of `per_block` requests."""
    text = f"[[tokens:{tokens}]]"
    pid = stack.cat.process.pid
    cat_cpu = {"bridge": 0.0, "native": 0.0}
    walls: dict[str, list[float]] = {"bridge": [], "native": []}
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=120) as client, stack.socket() as sock:
        for name, endpoint in stack.endpoints.items():  # warm-up; both must answer the same
            if not stream and endpoint.answer(client.post(endpoint.path, json=endpoint.body(text)).json()) != (
                expected_tokens(tokens)
            ):
                raise RuntimeError(f"{name} gave a wrong answer")
            for _ in range(3):
                ask(client, sock, endpoint, text, stream)
        for block in range(blocks):
            for name in ("bridge", "native") if block % 2 == 0 else ("native", "bridge"):
                endpoint = stack.endpoints[name]
                for _ in range(per_block):
                    endpoint.fresh(client, stream=stream)  # untimed and outside the CPU count (v1 only)
                    before = cpu.process_seconds(pid) or 0.0
                    started = time.perf_counter()
                    ask(client, sock, endpoint, text, stream)
                    walls[name].append((time.perf_counter() - started) * 1000)
                    cat_cpu[name] += (cpu.process_seconds(pid) or 0.0) - before
    row = {
        name: {"cat_cpu_ms": cat_cpu[name] / max(len(walls[name]), 1) * 1000, **summary(walls[name])} for name in walls
    }
    row["cpu_ratio"] = row["bridge"]["cat_cpu_ms"] / max(row["native"]["cat_cpu_ms"], 1e-9)
    return row


def throughput(stack: Stack, tokens: int, clients: int, seconds: float) -> dict:
    """Saturated non-streamed req/s of each side, in parts ordered bridge, native, native, bridge."""
    parts: dict[str, list[dict]] = {"bridge": [], "native": []}
    for name in ("bridge", "native", "native", "bridge"):
        parts[name].append(asyncio.run(load._phase(stack, name, clients, seconds / 2, False, tokens=tokens)))
        stack.check_alive()
    rows = {name: load._merge(parts[name], 0.0) for name in parts}
    rows = {name: {k: rows[name][k] for k in ("rps", "error", "truncated", "cat_cores", "cat_cpu_ms")} for name in rows}
    rows["rps_ratio"] = rows["bridge"]["rps"] / max(rows["native"]["rps"], 1e-9)
    return rows


def run(stack: Stack, lengths=LENGTHS, quick: bool = False, clients: int = 8) -> dict:
    _settings(stack)
    out: dict = {"version": stack.version, "cpu": [], "throughput": []}
    for tokens in lengths:
        per_block = (3 if quick else 6) if tokens >= 2000 else (10 if quick else 25)  # a 2,000-token turn: ~0.3 s
        blocks = 4 if quick else 8
        for stream in (False, True):
            row = {"tokens": tokens, "stream": stream, **cpu_per_request(stack, tokens, stream, blocks, per_block)}
            out["cpu"].append(row)
            print(
                f"  {tokens:5} tokens {'stream' if stream else 'json  '}: Cat CPU/request bridge "
                f"{row['bridge']['cat_cpu_ms']:.2f} ms, native {row['native']['cat_cpu_ms']:.2f} ms, "
                f"ratio {row['cpu_ratio']:.2f}; p50 {row['bridge']['p50']:.1f} vs {row['native']['p50']:.1f} ms",
                flush=True,
            )
        if tokens <= 200:
            row = {"tokens": tokens, "clients": clients, **throughput(stack, tokens, clients, 3 if quick else 8)}
            out["throughput"].append(row)
            print(
                f"  {tokens:5} tokens json {clients} clients: bridge {row['bridge']['rps']:.0f} req/s, native "
                f"{row['native']['rps']:.0f} req/s, ratio {row['rps_ratio']:.2f} (errors {row['bridge']['error']}"
                f"/{row['native']['error']})",
                flush=True,
            )
    return out


def markdown(result: dict) -> str:
    lines = [
        f"### Cat {result['version']}: Cat CPU per request, bridge vs native",
        "",
        "| tokens | mode | native CPU ms/req | bridge CPU ms/req | ratio | native p50 ms | bridge p50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["cpu"]:
        lines.append(
            f"| {r['tokens']} | {'streamed' if r['stream'] else 'non-streamed'} | {r['native']['cat_cpu_ms']:.2f} | "
            f"{r['bridge']['cat_cpu_ms']:.2f} | {r['cpu_ratio']:.2f}x | {r['native']['p50']:.1f} | "
            f"{r['bridge']['p50']:.1f} |"
        )
    lines += ["", "| tokens | clients | native req/s | bridge req/s | ratio |", "| --- | --- | --- | --- | --- |"]
    for r in result["throughput"]:
        lines.append(
            f"| {r['tokens']} | {r['clients']} | {r['native']['rps']:.0f} | {r['bridge']['rps']:.0f} | "
            f"{r['rps_ratio']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--v1", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tokens", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    stack = start_stack("v1" if args.v1 else "v2")
    try:
        result = run(stack, [int(t) for t in args.tokens.split(",")], args.quick)
    finally:
        stack.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"cost-{result['version']}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))
    (args.out / f"{name}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
