"""bench/results/latest.md (tables) and latest.png (the same story in four panels)."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(params: Dict[str, Any]) -> str:
    from cat_openai_bridge.core.version import PLUGIN_VERSION

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join([
        "# Benchmark: the bridge vs the Cat's native endpoints",
        "",
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; load average at start {load:.2f}",
        f"- Python {platform.python_version()}, cheshire-cat-ai {metadata.version('cheshire-cat-ai')}, "
        f"bridge {PLUGIN_VERSION}, httpx {metadata.version('httpx')}",
        "- LLM: the scripted OpenAI-compatible server on loopback, reached through the Cat's own openai_compatible provider",
        f"- settings: {', '.join(f'{k}={v}' for k, v in params.items())}; bridge rate limits off",
        "- client, Cat and LLM share the same machine: ratios measured side by side in one run are what to compare",
        "",
    ])


def _ms(x: float) -> str:
    return f"{x:.1f}"


def markdown(params: Dict[str, Any], overhead: dict, streaming: dict, load: list, growth: dict) -> str:
    lines = [header(params)]
    lines += ["## 1. Overhead (non-streamed, zero-delay LLM, 20-token answer)", "",
              "| path | n | p50 ms | p99 ms | mean ms |", "| --- | --- | --- | --- | --- |"]
    for name in ("native", "bridge"):
        s = overhead[name]
        lines.append(f"| {name} | {s['n']} | {_ms(s['p50'])} | {_ms(s['p99'])} | {_ms(s['mean'])} |")
    r = overhead["ratio"]
    lines += ["", f"**Ratio bridge / native: p50 {r['p50']:.3f}, p99 {r['p99']:.3f}, mean {r['mean']:.3f}** (target ≤ 1.05 at p50)", ""]
    lines += [f"## 2. Streaming ({params['stream_delay_ms']} ms per token, {params['stream_tokens']} tokens)", "",
              "| path | first byte p50 ms | first token p50 ms | first token p99 ms | first token after the LLM's, p50 ms |",
              "| --- | --- | --- | --- | --- |"]
    for name in ("native", "bridge"):
        s = streaming[name]
        lines.append(f"| {name} (SSE) | {_ms(s['ttfb']['p50'])} | {_ms(s['ttft']['p50'])} | {_ms(s['ttft']['p99'])} | "
                     f"{_ms(s['after_llm_token']['p50'])} |")
    lines += ["", f"**Bridge first token − Cat's native first token (p50): {streaming['first_token_gap_ms']:+.2f} ms** "
              "(target: within 5 ms)", ""]
    lines += [f"## 3. Load ({params['load_seconds']} s per phase, 20-token answers)", "",
              "| mode | clients | requests | req/s | p50 ms | p99 ms | errors | truncated | peak RSS MiB |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in load:
        lines.append(f"| {'stream' if row['stream'] else 'json'} | {row['clients']} | {row['requests']} | {row['rps']:.1f} | "
                     f"{_ms(row['latency']['p50'])} | {_ms(row['latency']['p99'])} | {row['error']} | {row['truncated']} | "
                     f"{row['peak_rss_mib']:.0f} |")
    lines += ["", "## 4. Growth", "", "| messages in the request | p50 ms | RSS MiB |", "| --- | --- | --- |"]
    for row in growth["messages"]:
        lines.append(f"| {row['size']} | {_ms(row['p50'])} | {row['rss_mib']:.0f} |")
    lines += ["", "| answer tokens | mode | bridge p50 ms | native p50 ms | ratio | RSS MiB |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in growth["answer_tokens"]:
        lines.append(f"| {row['size']} | {'stream' if row['stream'] else 'json'} | {_ms(row['p50'])} | "
                     f"{_ms(row['native_p50'])} | {row['p50'] / row['native_p50']:.2f} | {row['rss_mib']:.0f} |")
    return "\n".join(lines) + "\n"


def plot(path: Path, overhead: dict, streaming: dict, load: list, growth: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0][0]
    ax.boxplot([overhead["samples"]["native"], overhead["samples"]["bridge"]], showfliers=False)
    ax.set_xticks([1, 2], ["Cat native", "bridge"])
    ax.set_ylabel("ms")
    ax.set_title(f"1. Non-streamed latency (bridge/native p50 = {overhead['ratio']['p50']:.3f})")

    ax = axes[0][1]
    names = ["native", "bridge"]
    ttfb = [streaming[n]["ttfb"]["p50"] for n in names]
    ttft = [streaming[n]["ttft"]["p50"] for n in names]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], ttfb, 0.4, label="first byte")
    ax.bar([x + 0.2 for x in xs], ttft, 0.4, label="first token")
    ax.set_xticks(list(xs), ["Cat native (AG-UI)", "bridge (OpenAI SSE)"])
    ax.set_ylabel("ms (p50)")
    ax.set_title(f"2. Streaming: first token gap {streaming['first_token_gap_ms']:+.1f} ms")
    ax.legend()

    ax = axes[1][0]
    for stream, style in ((False, "o-"), (True, "s--")):
        rows = [r for r in load if r["stream"] is stream]
        ax.plot([r["clients"] for r in rows], [r["rps"] for r in rows], style, label=f"req/s ({'stream' if stream else 'json'})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("requests / s")
    twin = ax.twinx()
    for stream, style in ((False, "o:"), (True, "s:")):
        rows = [r for r in load if r["stream"] is stream]
        twin.plot([r["clients"] for r in rows], [r["latency"]["p99"] for r in rows], style, color="grey",
                  label=f"p99 ms ({'stream' if stream else 'json'})")
    twin.set_ylabel("p99 latency, ms (grey)")
    errors = sum(r["error"] + r["truncated"] for r in load)
    ax.set_title(f"3. Load: errors + truncated streams = {errors}")
    ax.legend(loc="upper left")

    ax = axes[1][1]
    sizes = [r["size"] for r in growth["messages"]]
    ax.plot(sizes, [r["p50"] for r in growth["messages"]], "o-", label="messages in request")
    json_rows = [r for r in growth["answer_tokens"] if not r["stream"]]
    ax.plot([r["size"] for r in json_rows], [r["p50"] for r in json_rows], "s-", label="answer tokens (json)")
    stream_rows = [r for r in growth["answer_tokens"] if r["stream"]]
    ax.plot([r["size"] for r in stream_rows], [r["p50"] for r in stream_rows], "^--", label="answer tokens (stream)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size")
    ax.set_ylabel("p50 latency, ms")
    ax.set_title("4. Growth (log-log: slope ≤ 1 means at most linear)")
    ax.legend()

    fig.suptitle("cat-openai-bridge on Cheshire Cat v2: cost over the native endpoint", fontsize=14)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
