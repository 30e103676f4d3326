"""Replicas behind nginx: `python -m bench.replicas [--quick]` (writes bench/results/replicas.md and .json).

The deployment of docs/deployment.md on this machine (testkit/replicas.py): Cat v2 replicas with the bridge, each
with its own scripted LLM, one redis-server, nginx configured as the page shows. It measures

1. the proxy's own latency: a non-streamed answer through nginx vs straight to a replica, interleaved;
2. streaming: the first token through nginx (gzip on, as configured) vs straight to a replica;
3. throughput: one replica straight, one replica behind nginx, two replicas behind nginx, under the same closed-loop
   load (each simulated client its own connection, bounded in time);
4. Redis round trips per request, from redis-server's own INFO commandstats before and after a counted batch.

Everything shares 2 cores: the load generator, nginx, the Cats and their LLMs. What two replicas can gain here is
what a second core gives a Cat that is CPU-bound, minus what the others take.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from cat_openai_bridge.core.guards.redis_client import RedisClient
from testkit.nginx import start_nginx
from testkit.replicas import ReplicaStack, start_stack

from . import cpu
from .report import load_average
from .stats import summary

KEY = "bench-key"
CHAT = "/custom/v1/chat/completions"
OUT = Path(__file__).resolve().parent / "results"


def body(text: str, stream: bool = False) -> dict:
    return {"model": "cheshire-cat", "messages": [{"role": "user", "content": text}], "stream": stream}


def proxy_latency(stack: ReplicaStack, reps: int, tokens: int = 20) -> dict:
    """Non-streamed, zero-delay LLM: each round asks nginx once and each replica once, in turn."""
    assert stack.nginx is not None
    samples: dict[str, list[float]] = {"nginx": [], "direct": []}
    text = f"[[tokens:{tokens}]]"
    with httpx.Client(headers=stack.headers, timeout=60) as client:
        targets = [("nginx", stack.nginx.url), *(("direct", r.url) for r in stack.replicas)]
        for i in range(reps + 5):
            for name, url in targets if i % 2 == 0 else targets[::-1]:
                started = time.perf_counter()
                client.post(url + CHAT, json=body(text)).raise_for_status()
                if i >= 5:
                    samples[name].append((time.perf_counter() - started) * 1000)
    result = {name: summary(values) for name, values in samples.items()}
    result["added_ms"] = {q: result["nginx"][q] - result["direct"][q] for q in ("p50", "p99", "mean")}
    return result


def _first_token(client: httpx.Client, url: str, text: str, encoding: str) -> float:
    """Milliseconds to the first answer token, read as a client reads it (decompressed)."""
    started = time.perf_counter()
    seen = ""
    headers = {"accept-encoding": encoding}
    with client.stream("POST", url + CHAT, json=body(text, stream=True), headers=headers) as response:
        response.raise_for_status()
        first = None
        for chunk in response.iter_text():
            if first is None:
                seen = seen[-32:] + chunk
                if '"content":" t0"' in seen:
                    first = time.perf_counter()
    if first is None:
        raise RuntimeError("no first token in the stream")
    return (first - started) * 1000


def streaming(stack: ReplicaStack, reps: int, delay_ms: int = 20, tokens: int = 20) -> dict:
    """The same stream straight from a replica and through nginx, alternating; gzip as a client asks for it."""
    assert stack.nginx is not None
    rows: dict[str, list[float]] = {"nginx": [], "direct": [], "nginx_plain": []}
    with httpx.Client(headers=stack.headers, timeout=60) as client:
        for i in range(reps + 3):
            replica = stack.replicas[i % len(stack.replicas)]
            text = f"{uuid.uuid4().hex} [[tokens:{tokens}]] [[delay:{delay_ms}]]"
            gzip = "gzip, deflate"
            order = [("nginx", stack.nginx.url, gzip), ("direct", replica.url, gzip)]
            order.append(("nginx_plain", stack.nginx.url, "identity"))
            for name, url, encoding in order if i % 2 == 0 else order[::-1]:
                ms = _first_token(client, url, text, encoding)
                if i >= 3:
                    rows[name].append(ms)
    result = {name: summary(values) for name, values in rows.items()}
    result["gap_ms"] = result["nginx"]["p50"] - result["direct"]["p50"]
    result["gap_plain_ms"] = result["nginx_plain"]["p50"] - result["direct"]["p50"]
    result["paired_gap"] = summary([n - d for n, d in zip(rows["nginx"], rows["direct"], strict=True)])
    return result


async def _load(url: str, headers: dict, clients: int, seconds: float, stream: bool, tokens: int) -> dict:
    text = f"[[tokens:{tokens}]]"
    latencies: list[float] = []
    outcomes = {"ok": 0, "error": 0}
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        # one connection per simulated client: a shared pool makes the generator itself the bottleneck
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    if stream:
                        async with client.stream("POST", CHAT, json=body(text, stream=True)) as r:
                            lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
                        ok = r.status_code == 200 and lines[-1] == "data: [DONE]"
                    else:
                        r = await client.post(CHAT, json=body(text))
                        ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                outcomes["ok" if ok else "error"] += 1
                latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return {"elapsed": time.perf_counter() - began, "latencies": latencies, **outcomes}


def _family(pid: int) -> list[int]:
    """A process and its children (nginx's master and its workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    return {k: sum(cpu.process_seconds(p) or 0.0 for p in v) for k, v in pids.items()} | {"client": cpu.own_seconds()}


def throughput(stack: ReplicaStack, seconds: float, levels: tuple[int, ...], tokens: int = 20) -> list[dict]:
    """Closed-loop load on three set-ups of the same stack, each level in halves ordered A B C C B A (a machine
    that gets busier or quieter meanwhile favours none); CPU of every process is read from /proc."""
    assert stack.nginx is not None
    one = stack.replicas[0]
    single = start_nginx(stack.workdir / "nginx-one", [one.port, one.port])  # the page's upstream, one replica twice
    setups = {"1 replica, direct": one.url, "1 replica, nginx": single.url, "2 replicas, nginx": stack.nginx.url}
    pids = {"nginx": [*_family(stack.nginx.process.pid), *_family(single.process.pid)]}
    pids["cats"] = [r.cat.process.pid for r in stack.replicas if r.cat is not None]
    pids["llms"] = [r.llm.process.pid for r in stack.replicas]
    rows = []
    try:
        for stream in (False, True):
            for clients in levels:
                parts: dict[str, list[tuple[dict, dict[str, float]]]] = {name: [] for name in setups}
                for name in [*setups, *reversed(setups)]:
                    before = _cpu(pids)
                    part = asyncio.run(_load(setups[name], stack.headers, clients, seconds / 2, stream, tokens))
                    after = _cpu(pids)
                    parts[name].append((part, {k: after[k] - before[k] for k in after}))
                for name, halves in parts.items():
                    elapsed = sum(p["elapsed"] for p, _ in halves)
                    row = {
                        "setup": name,
                        "clients": clients,
                        "stream": stream,
                        "requests": sum(p["ok"] + p["error"] for p, _ in halves),
                        "ok": sum(p["ok"] for p, _ in halves),
                        "error": sum(p["error"] for p, _ in halves),
                        "latency": summary([x for p, _ in halves for x in p["latencies"]]),
                    }
                    row["rps"] = row["requests"] / elapsed
                    for k in (*pids, "client"):
                        row[f"{k}_cores"] = sum(used[k] for _, used in halves) / elapsed
                    rows.append(row)
                    print(
                        f"  {name:18} {'stream' if stream else 'json':6} {clients:3} clients: {row['rps']:.0f} req/s, "
                        f"p50 {row['latency']['p50']:.0f} ms, p99 {row['latency']['p99']:.0f} ms, "
                        f"errors {row['error']}, cores: Cats {row['cats_cores']:.2f}, LLMs {row['llms_cores']:.2f}, "
                        f"nginx {row['nginx_cores']:.2f}, client {row['client_cores']:.2f}",
                        flush=True,
                    )
    finally:
        single.stop()
    return rows


def _commandstats(stack: ReplicaStack) -> dict[str, int]:
    """Calls per command, as redis-server counts them (commands run inside scripts count too, by name)."""
    info = asyncio.run(RedisClient(stack.redis.url).call("INFO", "commandstats"))
    stats = {}
    for line in info.splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line[len("cmdstat_") :].partition(":")
            stats[name] = int(rest.split(",")[0].split("=")[1])
    return stats


LIMITS = {"rate_limit_per_minute": 1000, "tokens_per_minute": 10_000_000, "max_concurrent_requests": 100}


def redis_round_trips(stack: ReplicaStack, requests: int) -> dict:
    """Per request through nginx, from redis-server's own counts. The limiter and the idempotency store speak to
    Redis only through scripts, so each round trip is an EVALSHA (an EVAL the first time a server lacks the script);
    the commands the scripts run inside Redis are listed apart."""
    assert stack.nginx is not None
    cases = {  # name: (settings, Idempotency-Key, stream)
        "no limits, no key": ({}, False, False),
        "every limit on": (LIMITS, False, False),
        "every limit on, Idempotency-Key": (LIMITS, True, False),
        "every limit on, Idempotency-Key, stream": (LIMITS, True, True),
    }
    result = {}
    try:
        with httpx.Client(base_url=stack.nginx.url, headers=stack.headers, timeout=60) as client:
            for name, (settings, keyed, stream) in cases.items():
                stack.configure(**settings)
                before = _commandstats(stack)
                for _ in range(requests):
                    headers = {"idempotency-key": uuid.uuid4().hex} if keyed else {}
                    if stream:
                        with client.stream("POST", CHAT, json=body("[[tokens:5]]", True), headers=headers) as r:
                            r.raise_for_status()
                            r.read()
                    else:
                        client.post(CHAT, json=body("[[tokens:5]]"), headers=headers).raise_for_status()
                after = _commandstats(stack)
                delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                delta = {k: v for k, v in delta.items() if v and not k.startswith("info")}
                sent = sum(v for k, v in delta.items() if k in ("evalsha", "eval"))
                result[name] = {"per_request": {k: v / requests for k, v in sorted(delta.items())}}
                result[name]["round_trips"] = sent / requests
    finally:
        stack.configure()
    return result


def markdown(params: dict, meta: dict, results: dict) -> str:
    lat, st = results["latency"], results["streaming"]
    lines = [
        "# Benchmark: Cat replicas behind nginx",
        "",
        f"- date: {meta['date']}; whole run {meta['seconds']:.0f} s (`python -m bench.replicas"
        f"{' --quick' if params['quick'] else ''}`)",
        f"- machine: 2 cores shared by the load generator, nginx, the Cats, their scripted LLMs and Redis; "
        f"1-min load average {meta['load_start']} before, {meta['load_end']} after",
        f"- git {meta['git']}; settings {json.dumps(params)}",
        "",
        "## 1. The proxy's own latency (non-streamed, zero-delay LLM, 20 tokens)",
        "",
        "| path | n | p50 ms | p99 ms | mean ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("direct", "nginx"):
        s = lat[name]
        lines.append(f"| {name} | {s['n']} | {s['p50']:.2f} | {s['p99']:.2f} | {s['mean']:.2f} |")
    lines += [
        "",
        f"nginx adds **{lat['added_ms']['p50']:.2f} ms at p50**, {lat['added_ms']['p99']:.2f} ms at p99.",
        "",
        f"## 2. First token through nginx vs direct ({params['stream_tokens']} tokens, "
        f"{params['stream_delay_ms']} ms/token)",
        "",
        "| path | n | p50 ms | p99 ms |",
        "| --- | --- | --- | --- |",
    ]
    for name in ("direct", "nginx", "nginx_plain"):
        s = st[name]
        label = {"nginx": "nginx, gzip", "nginx_plain": "nginx, identity"}.get(name, name)
        lines.append(f"| {label} | {s['n']} | {s['p50']:.2f} | {s['p99']:.2f} |")
    lines += [
        "",
        f"First-token gap at p50: **{st['gap_ms']:+.2f} ms** gzipped, {st['gap_plain_ms']:+.2f} ms uncompressed "
        f"(median of paired differences {st['paired_gap']['p50']:+.2f} ms).",
        "",
        "## 3. Throughput: one replica vs two behind nginx",
        "",
        "| set-up | mode | clients | req/s | p50 ms | p99 ms | errors | cores: Cats | LLMs | nginx | client |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["throughput"]:
        lines.append(
            f"| {r['setup']} | {'stream' if r['stream'] else 'json'} | {r['clients']} | {r['rps']:.0f} | "
            f"{r['latency']['p50']:.0f} | {r['latency']['p99']:.0f} | {r['error']} | {r['cats_cores']:.2f} | "
            f"{r['llms_cores']:.2f} | {r['nginx_cores']:.2f} | {r['client_cores']:.2f} |"
        )
    lines += ["", "## 4. Redis round trips per request", ""]
    lines += ["| case | round trips | commands per request, as redis-server counts them |", "| --- | --- | --- |"]
    for name, r in results["redis"].items():
        per = ", ".join(f"{k} {v:.2f}" for k, v in r["per_request"].items())
        lines.append(f"| {name} | {r['round_trips']:.2f} | {per} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    q = args.quick
    params = {
        "quick": q,
        "latency_reps": 40 if q else 300,
        "stream_reps": 10 if q else 60,
        "stream_delay_ms": 20,
        "stream_tokens": 20,
        "load_seconds": 3 if q else 8,
        "load_levels": [8, 32],
        "redis_requests": 20 if q else 100,
    }
    from .__main__ import _git

    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_start": load_average(), "git": _git()}
    started = time.monotonic()
    stack = start_stack(Path(tempfile.mkdtemp(prefix="cat-bench-replicas-")), api_key=KEY)
    try:
        print("1/4 proxy latency ...", flush=True)
        results = {"latency": proxy_latency(stack, params["latency_reps"])}
        print("2/4 streaming ...", flush=True)
        results["streaming"] = streaming(stack, params["stream_reps"], params["stream_delay_ms"])
        print("3/4 throughput ...", flush=True)
        results["throughput"] = throughput(stack, params["load_seconds"], tuple(params["load_levels"]))
        print("4/4 Redis round trips ...", flush=True)
        results["redis"] = redis_round_trips(stack, params["redis_requests"])
    finally:
        stack.stop()
    meta.update(seconds=time.monotonic() - started, load_end=load_average())
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(params, meta, results)
    (args.out / "replicas.md").write_text(text)
    (args.out / "replicas.json").write_text(json.dumps({"params": params, "meta": meta, **results}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
