"""bench/results/latest.md (headline, one section per Cat) and latest.png (the same story, one row of panels each)."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .bodies import V1, V2, Endpoint
from .cost import markdown as cost_markdown
from .growth import LINEAR, slope

ENDPOINTS = {"v2": V2, "v1": V1}
NAMES = {"v2": "Cat v2", "v1": "Cat v1"}


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


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def _ratio(a: float | None, b: float | None, digits: int = 2) -> str:
    return "n/a" if a is None or b is None or not b else f"{a / b:.{digits}f}"


def _load_rows(load: list, path: str, stream: bool) -> list:
    return [r for r in load if r["path"] == path and r["stream"] is stream]


def _native(load: list, row: dict) -> dict | None:
    """The native row measured at the same level as a bridge row, if the native endpoint was loaded that far."""
    return next((n for n in _load_rows(load, "native", row["stream"]) if n["clients"] == row["clients"]), None)


def _cpu_ratio(load: list, stream: bool) -> float | None:
    """Cat CPU per request, bridge over native, on the levels both ran."""
    pairs = [(b, _native(load, b)) for b in _load_rows(load, "bridge", stream)]
    pairs = [(b, n) for b, n in pairs if n is not None]
    if not pairs:
        return None
    per = lambda rows: sum(x["cat_cpu_ms"] * x["requests"] for x in rows) / sum(x["requests"] for x in rows)  # noqa: E731
    return per([b for b, _ in pairs]) / per([n for _, n in pairs])


def _slopes(growth: dict) -> dict[str, tuple]:
    series = {"messages": growth["messages"]}
    for stream in (False, True):
        series[f"answer tokens ({'stream' if stream else 'json'})"] = [
            x for x in growth["answer_tokens"] if x["stream"] is stream
        ]
    return {name: (slope(rows), slope(rows, "native_p50")) for name, rows in series.items()}


def header(params: dict[str, Any], meta: dict[str, Any], results: dict[str, dict]) -> list[str]:
    from cat_openai_bridge.core.config.version import PLUGIN_VERSION

    v1 = f"Cat v1 {meta['v1_version']}" if "v1_version" in meta else "Cat v1 skipped"
    cats = f"cheshire-cat-ai {metadata.version('cheshire-cat-ai')} (v2), {v1}"
    busy = meta["load_start"] > 0.5  # at the end, the load average counts the benchmark's own Cat, LLM and clients
    return [
        "# Benchmark: the bridge vs the Cat's native endpoints",
        "",
        f"- date: {meta['date']}; whole run {meta['seconds']:.0f} s "
        f"(`./scripts/bench.sh{' --quick' if params['v2']['quick'] else ''}`)",
        f"- machine: {_cpu()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"1-min load average {meta['load_start']:.2f} before the run, {meta['load_end']:.2f} at its end (its own load "
        "included)"
        + (
            ": the machine was shared with other work, so absolute figures are noisy, the side-by-side ratios less so"
            if busy
            else ""
        ),
        f"- Python {platform.python_version()}, {cats}, cat_openai_bridge {PLUGIN_VERSION} (git {meta['git']}), "
        f"httpx {metadata.version('httpx')}",
        "- LLM: testkit's scripted OpenAI-compatible server on loopback, reached through the Cat's own "
        "OpenAI-compatible "
        "provider; native = the Cat's own endpoint with the same message (v2: `POST /agents/default/message` with the "
        "same conversation as a Task; v1: `POST /message`, and its websocket for tokens)",
        *(
            f"- {NAMES[version]} settings: {', '.join(f'{k}={v}' for k, v in p.items() if k != 'quick')}"
            for version, p in params.items()
        ),
        "- bridge rate limits off (`rate_limit_per_minute` 0) in every scenario but the last, which measures what "
        "the default limit (60 a minute per identity) costs; other bridge settings default",
        "- the Cat v1's native users start every timed turn with an empty stored conversation (an untimed "
        "`DELETE /memory/conversation_history`, sent by both sides so the Cat carries the same background work), "
        "as every bridge turn starts from the request's one message; each load client has a connection of its own",
        "- client, Cat and LLM share the machine (loopback): compare bridge and native measured side by side, "
        "interleaved, in the same run; absolute numbers depend on the machine",
        "",
    ]


def headline(version: str, r: dict) -> list[str]:
    overhead, streaming, load, growth = r["overhead"], r["streaming"], r["load"], r["growth"]
    native = ENDPOINTS[version]["native"]
    ratio = overhead["ratio"]
    failures = sum(row["error"] + row["truncated"] for row in load)
    total = sum(row["requests"] for row in load)
    top = max(row["clients"] for row in load)
    best = {s: max(x["rps"] for x in _load_rows(load, "bridge", s)) for s in (False, True)}
    cpu = {s: _cpu_ratio(load, s) for s in (False, True)}
    msgs = growth["messages"]
    slopes = _slopes(growth)
    worst = max(b for b, _ in slopes.values() if b is not None)
    return [
        f"- **Overhead** (non-streamed, {overhead['bridge']['n']} interleaved pairs): bridge/native p50 "
        f"**{ratio['p50']:.3f}**, p99 **{ratio['p99']:.3f}** ({_ms(overhead['bridge']['p50'])} vs "
        f"{_ms(overhead['native']['p50'])} ms p50); Cat CPU per request {overhead['cpu_ratio']:.2f}× native.",
        "- **Streaming** (20 ms/token LLM): first token through the bridge "
        f"**{streaming['first_token_gap_ms']:+.2f} ms** "
        f"vs the Cat's own {native.stream_name} stream (p50; median of the paired differences "
        f"{streaming['paired_gap']['p50']:+.2f} ms); the LLM's first token reaches the client in "
        f"{_ms(streaming['bridge']['after_llm_token']['p50'])} ms via the bridge, "
        f"{_ms(streaming['native']['after_llm_token']['p50'])} ms natively.",
        f"- **Load** (1-{top} clients): "
        f"**{failures} errors or truncated streams in {total} requests**; bridge peak {best[False]:.0f} req/s "
        f"non-streamed, {best[True]:.0f} streamed; "
        f"Cat CPU per request bridge/native {_ratio(cpu[False], 1, 2)} (json), "
        f"{_ratio(cpu[True], 1, 2)} (stream); peak Cat RSS {max(row['peak_rss_mib'] for row in load):.0f} MiB.",
        f"- **Growth**: {msgs[0]['size']} → {msgs[-1]['size']} messages "
        f"{_ms(msgs[0]['p50'])} → {_ms(msgs[-1]['p50'])} ms "
        f"(native {_ms(msgs[0]['native_p50'])} → {_ms(msgs[-1]['native_p50'])}); log-log slopes of the last decade "
        f"{', '.join(f'{k} {b:.2f}' for k, (b, _) in slopes.items() if b is not None)}: "
        f"{'at most linear' if worst <= LINEAR else 'FASTER THAN LINEAR somewhere'}.",
        *_burst_headline(r["burst"]),
        *_limits_headline(r["limits"]),
    ]


def _burst_headline(rows: list) -> list[str]:
    parts = [
        f"{r['clients']} {'streams' if r['stream'] else 'JSON answers'} {r['ratio']:.2f}× "
        f"(mean turn {r['mean_ratio']:.2f}×, loop lag p99 {r['bridge_lag']['p99']:.0f} vs "
        f"{r['native_lag']['p99']:.0f} ms)"
        for r in sorted(rows, key=lambda r: (r["stream"], r["clients"]))
    ]
    failed = sum(r["bridge_failed"] + r["native_failed"] for r in rows)
    return [
        f"- **Burst** (N turns at once, a 1-s LLM answer each; wall time until the last, bridge/native, median of "
        f"{rows[0]['rounds']} paired rounds): {', '.join(parts)}; {failed} failed."
    ]


def _limits_headline(r: dict) -> list[str]:
    return [
        f"- **Rate limit** (default 60/min on vs off, {r['on']['n']} requests each): p50 {r['p50_cost_ms']:+.2f} ms, "
        f"mean {r['mean_cost_ms']:+.2f} ms, Cat CPU {r['cpu_cost_ms']:+.2f} ms per request; the limiter alone "
        f"{r['limiter_alone_us']:.0f} µs."
    ]


def section(version: str, number: int, params: dict[str, Any], r: dict) -> list[str]:
    overhead, streaming, load, growth = r["overhead"], r["streaming"], r["load"], r["growth"]
    endpoints: dict[str, Endpoint] = ENDPOINTS[version]
    native = endpoints["native"]
    n = f"{number}."
    lines = [f"## {n} {NAMES[version]}: the bridge vs {native.label}", ""]

    lines += [
        f"### {n}1 Overhead (non-streamed, zero-delay LLM, {params['overhead_tokens']}-token answer, "
        "bridge and native interleaved)",
        "",
        "| path | n | p50 ms | p99 ms | mean ms | Cat CPU ms/request |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("native", "bridge"):
        s = overhead[name]
        lines.append(
            f"| {name} | {s['n']} | {_ms(s['p50'])} | {_ms(s['p99'])} | {_ms(s['mean'])} | {s['cat_cpu_ms']:.2f} |"
        )
    ratio = overhead["ratio"]
    lines += [
        "",
        f"**Ratio bridge / native: p50 {ratio['p50']:.3f}, p99 {ratio['p99']:.3f}, mean {ratio['mean']:.3f}** "
        f"(target ≤ 1.05 at p50: {'met' if ratio['p50'] <= 1.05 else 'NOT met'}); Cat CPU per request bridge / native "
        f"{overhead['cpu_ratio']:.3f}",
        "",
    ]

    lines += [
        f"### {n}2 Streaming ({params['stream_delay_ms']} ms per token, {params['stream_tokens']} tokens, "
        f"{streaming['bridge']['ttft']['n']} streams each)",
        "",
        "Times from sending the request (p50; p99 in brackets). *LLM first token*: when the scripted LLM server "
        "sent its first token (its request log); *after LLM*: from then until that token reached the client."
        + (
            " The v1 websocket stays open across requests, as the Cat's own chat keeps it; its first byte is its "
            "first message."
            if native.stream == "ws"
            else ""
        ),
        "",
        "| path | first byte ms | LLM first token ms | client first token ms | after LLM ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("native", "bridge"):
        cells = " | ".join(
            f"{_ms(streaming[name][k]['p50'])} ({_ms(streaming[name][k]['p99'])})"
            for k in ("ttfb", "llm_first_token", "ttft", "after_llm_token")
        )
        lines.append(f"| {endpoints[name].label}: {endpoints[name].stream_name} | {cells} |")
    gap = streaming["first_token_gap_ms"]
    paired = streaming["paired_gap"]
    lines += [
        "",
        f"**Bridge first token − Cat's native first token (p50): {gap:+.2f} ms; LLM-to-client delay difference "
        f"{streaming['after_llm_gap_ms']:+.2f} ms** "
        f"(target: no more than 5 ms after it: {'met' if gap <= 5 else 'NOT met'}). "
        f"Per round (a bridge stream minus the native one next to it): median {paired['p50']:+.2f} ms, "
        f"p99 {paired['p99']:+.2f} ms.",
        "",
    ]

    lines += [
        f"### {n}3 Load ({params['load_seconds']} s per phase, {params['load_tokens']}-token answers, zero-delay LLM)",
        "",
        "Errors: non-200, transport errors or a wrong answer. Truncated: a stream without its end (`[DONE]`, "
        "AG-UI `RUN_FINISHED`, v1's final `chat` message) or with fewer tokens than asked. Peak RSS: the Cat "
        "process, sampled every 100 ms. Cat CPU: CPU time the Cat process spent per request (the least noisy cost "
        "figure on a shared machine); cores: CPU seconds per second of the Cat and of the load generator itself "
        "(same machine)."
        + (
            " Concurrent native v1 turns are safe here only because the bridge plugin serialises v1's embedded "
            "Qdrant client for every caller in the process (unpatched, v1 corrupts it at ~16 concurrent turns)."
            " Each client, native or bridge, is a v1 user of its own (a `user_id` header; natively a websocket per "
            "user too): v1 keeps one socket per user, and concurrent `/message` calls of one user share its working "
            "memory (measured: 5 wrong answers in 98 at 32 clients), which the bridge's private working memory per "
            "request avoids. Every timed turn starts with the user's stored conversation wiped, untimed, on both "
            "sides."
            if version == "v1"
            else ""
        ),
        "",
        "| mode | clients | path | requests | req/s | p50 ms | p99 ms | errors | truncated | peak RSS MiB | "
        "Cat CPU ms/req | Cat cores | client cores |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in load:
        lines.append(
            f"| {'stream' if row['stream'] else 'json'} | {row['clients']} | {row['path']} | {row['requests']} | "
            f"{row['rps']:.1f} | {_ms(row['latency']['p50'])} | {_ms(row['latency']['p99'])} | {row['error']} | "
            f"{row['truncated']} | {row['peak_rss_mib']:.0f} | {row['cat_cpu_ms']:.2f} | {row['cat_cores']:.2f} | "
            f"{row['client_cores']:.2f} |"
        )
    failed = [row for row in load if row.get("errors")]
    if failed:
        lines += [
            "",
            "What the errors were: "
            + "; ".join(
                f"{row['path']} {'stream' if row['stream'] else 'json'} at {row['clients']} clients: "
                + ", ".join(f"{kind} ×{n}" for kind, n in sorted(row["errors"].items()))
                for row in failed
            )
            + ".",
        ]
    lines += [
        "",
        "| mode | clients | req/s bridge / native | p50 bridge / native | Cat CPU per request bridge / native |",
        "| --- | --- | --- | --- | --- |",
    ]
    for stream in (False, True):
        for b in _load_rows(load, "bridge", stream):
            nat = _native(load, b) or {"rps": None, "latency": {"p50": None}, "cat_cpu_ms": None}
            lines.append(
                f"| {'stream' if stream else 'json'} | {b['clients']} | {_ratio(b['rps'], nat['rps'])} | "
                f"{_ratio(b['latency']['p50'], nat['latency']['p50'])} | {_ratio(b['cat_cpu_ms'], nat['cat_cpu_ms'])} |"
            )

    lines += [
        "",
        f"### {n}4 Growth ({params['growth_reps']} interleaved pairs per size, p50)",
        "",
        "Conversation length: every request resends the whole conversation (OpenAI semantics) and asks a "
        "20-token answer"
        + (
            ""
            if native.conversation
            else "; the Cat v1's native endpoint takes one message "
            "(it keeps the history itself), so only its 1-message figure exists"
        )
        + ". RSS: the Cat's peak while measuring that size.",
        "",
        "| messages in the request | bridge ms | native ms | ratio | peak RSS MiB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in growth["messages"]:
        lines.append(
            f"| {row['size']} | {_ms(row['p50'])} | {_ms(row['native_p50'])} | "
            f"{_ratio(row['p50'], row['native_p50'])} | {row['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "| answer tokens | mode | bridge ms | native ms | ratio | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in growth["answer_tokens"]:
        lines.append(
            f"| {row['size']} | {'stream' if row['stream'] else 'json'} | {_ms(row['p50'])} | "
            f"{_ms(row['native_p50'])} | {_ratio(row['p50'], row['native_p50'])} | {row['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        f"Log-log slope over the last decade (1 = linear, < 1 = a fixed cost still dominates; up to {LINEAR} "
        "is read as linear within the noise of two medians):",
        "",
        "| series | bridge | native |",
        "| --- | --- | --- |",
    ]
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
    for name, (b, nat) in _slopes(growth).items():
        lines.append(f"| {name} | {fmt(b)} | {fmt(nat)} |")
    rss = [row["peak_rss_mib"] for row in growth["messages"] + growth["answer_tokens"]]
    lines += ["", f"Cat RSS over the growth runs: {min(rss):.0f} → {max(rss):.0f} MiB.", ""]
    lines += _burst_section(n, r["burst"], version)
    lines += _limits_section(n, r["limits"])
    return lines


def _burst_section(n: str, rows: list, version: str) -> list[str]:
    lines = [
        f"### {n}5 Burst (N turns sent at once, 20 tokens 50 ms apart from the LLM, {rows[0]['rounds']} rounds)",
        "",
        "Wall time from sending all N to the last answer read whole; rounds alternate bridge-first and native-first, "
        "each with fresh connections opened beforehand"
        + ("" if version == "v2" else " (and v1's websockets), and the users' stored conversations wiped")
        + ". The ratio is the median of the per-round ratios; *mean turn*: the same for each turn's own time, "
        "averaged in its round (less at the mercy of the one slowest turn). *Loop lag*: `GET /custom/health`, "
        "asked every 20 ms during the rounds, p50 / p99 ms: how long any request waited for the Cat's event loop.",
        "",
        "| mode | N | bridge s (median) | native s (median) | bridge / native | per round | mean turn bridge / "
        "native | Cat CPU ms/turn bridge | native | loop lag bridge | native | failed bridge / native |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {'stream' if r['stream'] else 'json'} | {r['clients']} | {r['bridge_wall_s']:.3f} | "
            f"{r['native_wall_s']:.3f} | **{r['ratio']:.3f}** | {' '.join(f'{x:.2f}' for x in r['ratios'])} | "
            f"{r['mean_ratio']:.3f} | "
            f"{r['bridge_cat_cpu_ms']:.1f} | {r['native_cat_cpu_ms']:.1f} | "
            f"{r['bridge_lag']['p50']:.1f} / {r['bridge_lag']['p99']:.0f} | "
            f"{r['native_lag']['p50']:.1f} / {r['native_lag']['p99']:.0f} | "
            f"{r['bridge_failed']} / {r['native_failed']} |"
        )
    return [*lines, ""]


def _limits_section(n: str, r: dict) -> list[str]:
    return [
        f"### {n}6 What a rate limit costs (non-streamed bridge requests, {r['on']['n']} with the default "
        "`rate_limit_per_minute` 60, in-process store, and as many with limits off, alternating blocks)",
        "",
        f"Requests rotate over {r['identities']} identities, none of which comes near its 60 a minute, so no request "
        "is refused: what differs is admission, the `x-ratelimit-*` headers and settlement.",
        "",
        "| limit | p50 ms | mean ms | p99 ms | Cat CPU ms/request |",
        "| --- | --- | --- | --- | --- |",
        f"| off | {_ms(r['off']['p50'])} | {_ms(r['off']['mean'])} | {_ms(r['off']['p99'])} | {r['off_cpu_ms']:.2f} |",
        f"| 60/min | {_ms(r['on']['p50'])} | {_ms(r['on']['mean'])} | {_ms(r['on']['p99'])} | {r['on_cpu_ms']:.2f} |",
        "",
        f"**Cost per request: p50 {r['p50_cost_ms'] * 1000:+.0f} µs, mean {r['mean_cost_ms'] * 1000:+.0f} µs, Cat CPU "
        f"{r['cpu_cost_ms'] * 1000:+.0f} µs**; the limiter alone (admit, headers, settle, in-process store) "
        f"{r['limiter_alone_us']:.1f} µs in the benchmark's own process.",
        "",
    ]


def markdown(params: dict[str, Any], meta: dict[str, Any], results: dict[str, dict]) -> str:
    lines = header(params, meta, results)
    lines += ["## Headline", ""]
    for version, r in results.items():
        if "skipped" in r:
            lines.append(f"- **{NAMES[version]}**: skipped ({r['skipped']}).")
            continue
        lines += [f"**{NAMES[version]}**", "", *headline(version, r), ""]
    lines.append("")
    for number, (version, r) in enumerate(results.items(), start=1):
        if "skipped" in r:
            lines += [f"## {number}. {NAMES[version]}: skipped", "", r["skipped"] + ".", ""]
        else:
            lines += section(version, number, params[version], r)
            if "cost" in r:  # what an answer costs the Cat by its length: per-token costs hide at 20 tokens
                lines += [cost_markdown(r["cost"]), ""]
    return "\n".join(lines) + "\n"


COLORS = {"bridge": "tab:blue", "native": "tab:orange"}


def _plot_overhead(ax, overhead: dict, title: str) -> None:
    box = ax.boxplot(
        [overhead["samples"]["native"], overhead["samples"]["bridge"]], showfliers=False, patch_artist=True
    )
    for patch, name in zip(box["boxes"], ("native", "bridge"), strict=True):
        patch.set_facecolor(COLORS[name])
        patch.set_alpha(0.5)
    ax.set_xticks([1, 2], ["Cat native", "bridge"])
    ax.set_ylabel("latency, ms (box: p25-p75, whiskers 1.5 IQR)")
    ax.set_title(
        f"{title}non-streamed request: bridge/native p50 {overhead['ratio']['p50']:.3f}, "
        f"p99 {overhead['ratio']['p99']:.3f}"
    )


def _plot_streaming(ax, streaming: dict, title: str) -> None:
    keys = ["ttfb", "llm_first_token", "ttft"]
    for offset, name in ((-0.2, "native"), (0.2, "bridge")):
        bars = ax.bar(
            [i + offset for i in range(len(keys))],
            [streaming[name][k]["p50"] for k in keys],
            0.4,
            label=name,
            color=COLORS[name],
        )
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(keys)), ["first byte", "LLM first token", "client first token"])
    ax.set_ylabel("ms after the request (p50)")
    ax.set_title(f"{title}streaming, 20 ms/token: first token gap {streaming['first_token_gap_ms']:+.1f} ms")
    ax.legend()


def _plot_load(ax, load: list, key: str, title: str) -> None:
    for name in ("bridge", "native"):
        for stream, style in ((False, "o-"), (True, "s--")):
            rows = _load_rows(load, name, stream)
            if rows:
                ax.plot(
                    [r["clients"] for r in rows],
                    [r["rps"] if key == "rps" else r["latency"]["p99"] for r in rows],
                    style,
                    color=COLORS[name],
                    label=f"{name} {'stream' if stream else 'json'}",
                )
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 8, 32, 64], ["1", "8", "32", "64"])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("requests / s" if key == "rps" else "p99 latency, ms")
    if key == "p99":
        ax.set_yscale("log")
    failures = sum(r["error"] + r["truncated"] for r in load)
    ax.set_title(f"{title}load: {'throughput' if key == 'rps' else 'p99 latency'} (errors + truncated = {failures})")
    ax.legend()


def _plot_growth(ax, rows: list, title: str, xlabel: str, split: bool) -> None:
    from matplotlib import ticker

    for stream, style in ((False, "o-"), (True, "s--")):
        part = [r for r in rows if r.get("stream", False) is stream]
        if not part:
            continue
        suffix = (" stream" if stream else " json") if split else ""
        ax.plot(
            [r["size"] for r in part], [r["p50"] for r in part], style, color=COLORS["bridge"], label="bridge" + suffix
        )
        native = [r for r in part if r["native_p50"] is not None]
        ax.plot(
            [r["size"] for r in native],
            [r["native_p50"] for r in native],
            style,
            color=COLORS["native"],
            label="native" + suffix,
        )
    sizes = sorted({r["size"] for r in rows})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("p50 latency, ms (log-log: slope 1 = linear)")
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(
        ticker.FuncFormatter(  # 2 and 5 of each decade only
            lambda y, _pos: f"{y:g}" if f"{y:g}".lstrip("0.")[:1] in ("2", "5") else ""
        )
    )
    ax.set_title(title)
    ax.legend()


def plot(path: Path, results: dict[str, dict]) -> None:
    """Two rows of panels for the Cat v2; one more for the Cat v1 when it ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v2, v1 = results["v2"], results.get("v1", {"skipped": ""})
    rows = 2 if "skipped" in v1 else 3
    fig, axes = plt.subplots(rows, 3, figsize=(18, 5 * rows))
    _plot_overhead(axes[0][0], v2["overhead"], "1. v2 ")
    _plot_streaming(axes[0][1], v2["streaming"], "2. v2 ")
    _plot_load(axes[0][2], v2["load"], "rps", "3a. v2 ")
    _plot_load(axes[1][0], v2["load"], "p99", "3b. v2 ")
    _plot_growth(
        axes[1][1],
        v2["growth"]["messages"],
        "4a. v2 growth: conversation length (20-token answer)",
        "messages in the request",
        split=False,
    )
    _plot_growth(axes[1][2], v2["growth"]["answer_tokens"], "4b. v2 growth: answer length", "answer tokens", split=True)
    if rows == 3:
        _plot_overhead(axes[2][0], v1["overhead"], "5. v1 ")
        _plot_streaming(axes[2][1], v1["streaming"], "6. v1 ")
        _plot_load(axes[2][2], v1["load"], "rps", "7. v1 ")
    fig.suptitle(
        "cat-openai-bridge: the bridge (blue) vs the Cat's native endpoint (orange)"
        + ("" if rows == 2 else "; bottom row: Cat v1 (/message, websocket)"),
        fontsize=15,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
