"""bench/results/latest.md (headline, tables) and latest.png (the same story in six panels)."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List

from .growth import slope


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def header(params: Dict[str, Any], meta: Dict[str, Any]) -> List[str]:
    from cat_openai_bridge.core.version import PLUGIN_VERSION

    return [
        "# Benchmark: the bridge vs the Cat's native endpoints",
        "",
        f"- date: {meta['date']}; whole run {meta['seconds']:.0f} s (`./scripts/bench.sh{' --quick' if params['quick'] else ''}`)",
        f"- machine: {_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"1-min load average {meta['load_start']:.2f} at start, {meta['load_end']:.2f} at end",
        f"- Python {platform.python_version()}, cheshire-cat-ai {metadata.version('cheshire-cat-ai')}, "
        f"cat_openai_bridge {PLUGIN_VERSION} (git {meta['git']}), httpx {metadata.version('httpx')}",
        "- LLM: testkit's scripted OpenAI-compatible server on loopback, reached through the Cat's own "
        "`openai_compatible` provider; native = `POST /agents/default/message` with the same conversation as a Task",
        f"- settings: {', '.join(f'{k}={v}' for k, v in params.items())}; bridge rate limits off "
        "(`rate_limit_per_minute` 0), other bridge settings default",
        "- client, Cat and LLM share the machine (loopback): compare bridge and native measured side by side, "
        "interleaved, in the same run; absolute numbers depend on the machine",
        "",
    ]


def _ms(x: float) -> str:
    return f"{x:.1f}"


def _load_rows(load: list, path: str, stream: bool) -> list:
    return [r for r in load if r["path"] == path and r["stream"] is stream]


def headline(overhead: dict, streaming: dict, load: list, growth: dict) -> List[str]:
    r = overhead["ratio"]
    failures = sum(row["error"] + row["truncated"] for row in load)
    total = sum(row["requests"] for row in load)
    best = {(p, s): max(x["rps"] for x in _load_rows(load, p, s)) for p in ("bridge", "native") for s in (False, True)}
    top = max(row["clients"] for row in load)
    p99 = {(p, s): _load_rows(load, p, s)[-1]["latency"]["p99"] for p in ("bridge", "native") for s in (False, True)}
    cpu_ratio = {s: sum(x["cat_cpu_ms"] * x["requests"] for x in _load_rows(load, "bridge", s))
                 / sum(x["requests"] for x in _load_rows(load, "bridge", s))
                 / (sum(x["cat_cpu_ms"] * x["requests"] for x in _load_rows(load, "native", s))
                    / sum(x["requests"] for x in _load_rows(load, "native", s))) for s in (False, True)}
    msgs = growth["messages"]
    tok = {s: [x for x in growth["answer_tokens"] if x["stream"] is s] for s in (False, True)}
    return [
        f"- **Overhead** (non-streamed, {overhead['bridge']['n']} interleaved pairs): bridge/native p50 "
        f"**{r['p50']:.3f}**, p99 **{r['p99']:.3f}** ({_ms(overhead['bridge']['p50'])} vs {_ms(overhead['native']['p50'])} ms p50); "
        f"Cat CPU per request {overhead['cpu_ratio']:.2f}× native.",
        f"- **Streaming** (20 ms/token LLM): first token through the bridge **{streaming['first_token_gap_ms']:+.2f} ms** vs the "
        f"Cat's AG-UI stream (p50); the LLM's first token reaches the client in {_ms(streaming['bridge']['after_llm_token']['p50'])} ms "
        f"via the bridge, {_ms(streaming['native']['after_llm_token']['p50'])} ms natively.",
        f"- **Load** (1-{top} clients): peak {best['bridge', False]:.0f} req/s non-streamed, {best['bridge', True]:.0f} streamed "
        f"(native {best['native', False]:.0f} / {best['native', True]:.0f}); p99 at {top} clients {p99['bridge', False]:.0f} / "
        f"{p99['bridge', True]:.0f} ms (native {p99['native', False]:.0f} / {p99['native', True]:.0f}).",
        f"- **Correctness and cost under load**: {failures} errors or truncated streams in {total} requests; "
        f"Cat CPU per request bridge/native {cpu_ratio[False]:.2f} (json), {cpu_ratio[True]:.2f} (stream); "
        f"peak Cat RSS {max(row['peak_rss_mib'] for row in load):.0f} MiB.",
        f"- **Growth**: {msgs[0]['size']} → {msgs[-1]['size']} messages {_ms(msgs[0]['p50'])} → {_ms(msgs[-1]['p50'])} ms "
        f"(native {_ms(msgs[0]['native_p50'])} → {_ms(msgs[-1]['native_p50'])}); log-log slopes of the last decade: "
        f"messages {slope(msgs):.2f}, answer tokens {slope(tok[False]):.2f} (json) / {slope(tok[True]):.2f} (stream): "
        f"{'at most linear' if max(slope(msgs), slope(tok[False]), slope(tok[True])) <= 1.05 else 'FASTER THAN LINEAR somewhere'}.",
    ]


def markdown(params: Dict[str, Any], meta: Dict[str, Any], overhead: dict, streaming: dict, load: list,
             growth: dict) -> str:
    lines = header(params, meta)
    lines += ["## Headline", "", *headline(overhead, streaming, load, growth), ""]

    lines += [f"## 1. Overhead (non-streamed, zero-delay LLM, {params['overhead_tokens']}-token answer, "
              "bridge and native interleaved)", "",
              "| path | n | p50 ms | p99 ms | mean ms | Cat CPU ms/request |", "| --- | --- | --- | --- | --- | --- |"]
    for name in ("native", "bridge"):
        s = overhead[name]
        lines.append(f"| {name} | {s['n']} | {_ms(s['p50'])} | {_ms(s['p99'])} | {_ms(s['mean'])} | {s['cat_cpu_ms']:.2f} |")
    r = overhead["ratio"]
    lines += ["", f"**Ratio bridge / native: p50 {r['p50']:.3f}, p99 {r['p99']:.3f}, mean {r['mean']:.3f}** "
              f"(target ≤ 1.05 at p50: {'met' if r['p50'] <= 1.05 else 'NOT met'}); Cat CPU per request bridge / native "
              f"{overhead['cpu_ratio']:.3f}", ""]

    lines += [f"## 2. Streaming ({params['stream_delay_ms']} ms per token, {params['stream_tokens']} tokens, "
              f"{streaming['bridge']['ttft']['n']} streams each)", "",
              "Times from sending the request (p50; p99 in brackets). *LLM first token*: when the scripted LLM server "
              "sent its first token (its request log); *after LLM*: from then until that token reached the client.", "",
              "| path | first byte ms | LLM first token ms | client first token ms | after LLM ms |",
              "| --- | --- | --- | --- | --- |"]
    for name, label in (("native", "Cat native (AG-UI SSE)"), ("bridge", "bridge (OpenAI SSE)")):
        s = streaming[name]
        cell = lambda k: f"{_ms(s[k]['p50'])} ({_ms(s[k]['p99'])})"  # noqa: E731
        lines.append(f"| {label} | {cell('ttfb')} | {cell('llm_first_token')} | {cell('ttft')} | {cell('after_llm_token')} |")
    gap = streaming["first_token_gap_ms"]
    lines += ["", f"**Bridge first token − Cat's native first token (p50): {gap:+.2f} ms; LLM-to-client delay difference "
              f"{streaming['after_llm_gap_ms']:+.2f} ms** (target: within 5 ms: {'met' if abs(gap) <= 5 else 'NOT met'})", ""]

    lines += [f"## 3. Load ({params['load_seconds']} s per phase, {params['load_tokens']}-token answers, zero-delay LLM)", "",
              "Errors: non-200, transport errors or a wrong answer. Truncated: a stream without `[DONE]` (AG-UI: "
              "`RUN_FINISHED`) or with fewer tokens than asked. Peak RSS: the Cat process, sampled every 100 ms. "
              "Cat CPU: CPU time the Cat process spent per request (the least noisy cost figure on a shared machine); "
              "cores: CPU seconds per second of the Cat and of the load generator itself (same machine).", "",
              "| mode | clients | path | requests | req/s | p50 ms | p99 ms | errors | truncated | peak RSS MiB | "
              "Cat CPU ms/req | Cat cores | client cores |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in load:
        lines.append(f"| {'stream' if row['stream'] else 'json'} | {row['clients']} | {row['path']} | {row['requests']} | "
                     f"{row['rps']:.1f} | {_ms(row['latency']['p50'])} | {_ms(row['latency']['p99'])} | {row['error']} | "
                     f"{row['truncated']} | {row['peak_rss_mib']:.0f} | {row['cat_cpu_ms']:.2f} | {row['cat_cores']:.2f} | "
                     f"{row['client_cores']:.2f} |")
    lines += ["", "| mode | clients | req/s bridge / native | p50 bridge / native | Cat CPU per request bridge / native |",
              "| --- | --- | --- | --- | --- |"]
    for stream in (False, True):
        for b, n in zip(_load_rows(load, "bridge", stream), _load_rows(load, "native", stream)):
            lines.append(f"| {'stream' if stream else 'json'} | {b['clients']} | {b['rps'] / n['rps']:.2f} | "
                         f"{b['latency']['p50'] / n['latency']['p50']:.2f} | {b['cat_cpu_ms'] / n['cat_cpu_ms']:.2f} |")

    lines += ["", f"## 4. Growth ({params['growth_reps']} interleaved pairs per size, p50)", "",
              "Conversation length: every request resends the whole conversation (OpenAI semantics) and asks a "
              "20-token answer. RSS: the Cat's peak while measuring that size.", "",
              "| messages in the request | bridge ms | native ms | ratio | peak RSS MiB |", "| --- | --- | --- | --- | --- |"]
    for row in growth["messages"]:
        lines.append(f"| {row['size']} | {_ms(row['p50'])} | {_ms(row['native_p50'])} | {row['p50'] / row['native_p50']:.2f} | "
                     f"{row['peak_rss_mib']:.0f} |")
    lines += ["", "| answer tokens | mode | bridge ms | native ms | ratio | peak RSS MiB |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in growth["answer_tokens"]:
        lines.append(f"| {row['size']} | {'stream' if row['stream'] else 'json'} | {_ms(row['p50'])} | "
                     f"{_ms(row['native_p50'])} | {row['p50'] / row['native_p50']:.2f} | {row['peak_rss_mib']:.0f} |")
    lines += ["", "Log-log slope over the last decade (1 = linear, < 1 = a fixed cost still dominates, > 1 = faster than linear):", ""]
    series = [("messages", growth["messages"])]
    series += [(f"answer tokens ({'stream' if s else 'json'})", [x for x in growth["answer_tokens"] if x["stream"] is s])
               for s in (False, True)]
    lines += ["| series | bridge | native |", "| --- | --- | --- |"]
    for name, rows in series:
        lines.append(f"| {name} | {slope(rows):.2f} | {slope(rows, 'native_p50'):.2f} |")
    rss = [row["peak_rss_mib"] for row in growth["messages"] + growth["answer_tokens"]]
    lines += ["", f"Cat RSS over the growth runs: {min(rss):.0f} → {max(rss):.0f} MiB.", ""]
    return "\n".join(lines) + "\n"


def plot(path: Path, overhead: dict, streaming: dict, load: list, growth: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    colors = {"bridge": "tab:blue", "native": "tab:orange"}
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))

    ax = axes[0][0]
    box = ax.boxplot([overhead["samples"]["native"], overhead["samples"]["bridge"]], showfliers=False, patch_artist=True)
    for patch, name in zip(box["boxes"], ("native", "bridge")):
        patch.set_facecolor(colors[name])
        patch.set_alpha(0.5)
    ax.set_xticks([1, 2], ["Cat native", "bridge"])
    ax.set_ylabel("latency, ms (box: p25-p75, whiskers 1.5 IQR)")
    ax.set_title(f"1. Non-streamed request: bridge/native p50 {overhead['ratio']['p50']:.3f}, "
                 f"p99 {overhead['ratio']['p99']:.3f}")

    ax = axes[0][1]
    labels = ["first byte", "LLM first token", "client first token"]
    keys = ["ttfb", "llm_first_token", "ttft"]
    for offset, name in ((-0.2, "native"), (0.2, "bridge")):
        values = [streaming[name][k]["p50"] for k in keys]
        bars = ax.bar([i + offset for i in range(len(keys))], values, 0.4, label=name, color=colors[name])
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(keys)), labels)
    ax.set_ylabel("ms after the request (p50)")
    ax.set_title(f"2. Streaming, 20 ms/token: first token gap {streaming['first_token_gap_ms']:+.1f} ms")
    ax.legend()

    for col, (key, ylabel, title) in enumerate((("rps", "requests / s", "3a. Load: throughput"),
                                                ("p99", "p99 latency, ms", "3b. Load: p99 latency"))):
        ax = axes[0][2] if col == 0 else axes[1][0]
        for name in ("bridge", "native"):
            for stream, style in ((False, "o-"), (True, "s--")):
                rows = _load_rows(load, name, stream)
                ys = [r["rps"] if key == "rps" else r["latency"]["p99"] for r in rows]
                ax.plot([r["clients"] for r in rows], ys, style, color=colors[name],
                        label=f"{name} {'stream' if stream else 'json'}")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 8, 32, 64], ["1", "8", "32", "64"])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(ylabel)
        if key == "p99":
            ax.set_yscale("log")
        failures = sum(r["error"] + r["truncated"] for r in load)
        ax.set_title(f"{title} (errors + truncated = {failures})")
        ax.legend()

    for ax, rows, title, xlabel in (
        (axes[1][1], growth["messages"], "4a. Growth: conversation length (20-token answer)", "messages in the request"),
        (axes[1][2], growth["answer_tokens"], "4b. Growth: answer length", "answer tokens"),
    ):
        for stream, style in ((False, "o-"), (True, "s--")):
            part = [r for r in rows if r.get("stream", False) is stream]
            if not part:
                continue
            suffix = "" if rows is growth["messages"] else (" stream" if stream else " json")
            ax.plot([r["size"] for r in part], [r["p50"] for r in part], style, color=colors["bridge"], label="bridge" + suffix)
            ax.plot([r["size"] for r in part], [r["native_p50"] for r in part], style, color=colors["native"],
                    label="native" + suffix)
        sizes = sorted({r["size"] for r in rows})
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("p50 latency, ms (log-log: slope 1 = linear)")
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(ticker.FuncFormatter(  # 2 and 5 of each decade only
            lambda y, _pos: f"{y:g}" if f"{y:g}".lstrip("0.")[:1] in ("2", "5") else ""))
        ax.set_title(title)
        ax.legend()

    fig.suptitle("cat-openai-bridge on Cheshire Cat v2: the bridge (blue) vs the Cat's native endpoint (orange)", fontsize=15)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
