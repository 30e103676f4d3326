"""Run the whole benchmark: `python -m bench [--quick] [--out bench/results]` (or ./scripts/bench.sh).

The Cat v2 always; the Cat v1 too when CAT_V1_CORE points at a prepared v1 (scripts/prepare-cat-v1.sh).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from testkit import cat_v1

from . import burst, cost, growth, limits, load, overhead, report, streaming
from .stack import start_stack

ROOT = Path(__file__).resolve().parent.parent


def parameters(quick: bool, version: str = "v2") -> dict:
    """Repetitions per Cat: a v1 turn costs ~15 times a v2 one (memory recall and storage on every turn)."""
    if version == "v1":
        return {
            "quick": quick,
            "overhead_reps": 30 if quick else 150,
            "overhead_tokens": 20,
            "stream_reps": 6 if quick else 30,
            "stream_delay_ms": 20,
            "stream_tokens": 20,
            "load_seconds": 2 if quick else 6,
            "load_rounds": 1,  # a v1 request at 64 clients takes seconds: parts shorter than that mean little
            "load_tokens": load.TOKENS,
            "growth_reps": 3 if quick else 8,
            "burst_rounds": 4 if quick else 10,
            "limit_blocks": 4 if quick else 8,
            "limit_per_block": 10 if quick else 20,
        }
    return {
        "quick": quick,
        "overhead_reps": 60 if quick else 500,
        "overhead_tokens": 20,
        "stream_reps": 10 if quick else 60,
        "stream_delay_ms": 20,
        "stream_tokens": 20,
        "load_seconds": 3 if quick else 8,
        "load_rounds": 1 if quick else 2,
        "load_tokens": load.TOKENS,
        "growth_reps": 4 if quick else 20,
        "burst_rounds": 4 if quick else 10,
        "limit_blocks": 6 if quick else 12,
        "limit_per_block": 25 if quick else 50,
    }


def _git() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _v1_version(core: Path) -> str:
    for line in (core / "pyproject.toml").read_text().splitlines():
        if line.strip().startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    return "unknown"


def measure(version: str, params: dict) -> dict:
    """All seven scenarios on one freshly started Cat."""
    stack = start_stack(version)
    try:
        print(f"{version} 1/7 overhead ...", flush=True)
        over = overhead.run(stack, params["overhead_reps"], params["overhead_tokens"])
        stack.check_alive()
        print(f"{version} 2/7 streaming ...", flush=True)
        stream = streaming.run(stack, params["stream_reps"], params["stream_delay_ms"], params["stream_tokens"])
        stack.check_alive()
        print(f"{version} 3/7 load ...", flush=True)
        loaded = load.run(stack, params["load_seconds"], rounds=params["load_rounds"])
        stack.check_alive()
        print(f"{version} 4/7 growth ...", flush=True)
        grown = growth.run(stack, params["growth_reps"])
        stack.check_alive()
        print(f"{version} 5/7 burst ...", flush=True)
        bursts = burst.run(stack, params["burst_rounds"])
        print(f"{version} 6/7 rate limit cost ...", flush=True)
        limited = limits.run(stack, params["limit_blocks"], params["limit_per_block"])
        stack.check_alive()
        print(f"{version} 7/7 cost per answer length ...", flush=True)
        costs = cost.run(stack, quick=params["quick"])  # last: it raises the bridge's max_tokens ceiling
        stack.check_alive()
    finally:
        stack.stop()
    return {
        "overhead": over,
        "streaming": stream,
        "load": loaded,
        "growth": grown,
        "burst": bursts,
        "limits": limited,
        "cost": costs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute run with fewer repetitions")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    params = {"v2": parameters(args.quick)}
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": report.load_average(),
        "git": _git(),
    }
    started = time.monotonic()
    results: dict[str, dict] = {"v2": measure("v2", params["v2"])}
    core = cat_v1.v1_core()
    if core is None:
        results["v1"] = {"skipped": "CAT_V1_CORE is not set; scripts/prepare-cat-v1.sh prepares a Cat v1 and prints it"}
    else:
        meta["v1_version"] = _v1_version(core)
        params["v1"] = parameters(args.quick, "v1")
        results["v1"] = measure("v1", params["v1"])
    meta.update(seconds=time.monotonic() - started, load_end=report.load_average())
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.markdown(params, meta, results)
    (args.out / "latest.md").write_text(text)
    report.plot(args.out / "latest.png", results)
    (args.out / "latest.json").write_text(json.dumps({"params": params, "meta": meta, **results}, indent=1))
    print(text)
    print(f"written: {args.out / 'latest.md'}, latest.png, latest.json")


if __name__ == "__main__":
    main()
