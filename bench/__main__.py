"""Run the whole benchmark: `python -m bench [--quick] [--out bench/results]`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from . import growth, load, overhead, report, streaming
from .stack import start_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute run with fewer repetitions")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    params = {"overhead_reps": 40 if args.quick else 200, "stream_reps": 10 if args.quick else 40,
              "stream_delay_ms": 20, "stream_tokens": 20, "load_seconds": 3 if args.quick else 8,
              "growth_reps": 3 if args.quick else 10}
    stack = start_stack()
    started = time.monotonic()
    try:
        print("1/4 overhead ...", flush=True)
        over = overhead.run(stack, params["overhead_reps"])
        print("2/4 streaming ...", flush=True)
        stream = streaming.run(stack, params["stream_reps"], params["stream_delay_ms"], params["stream_tokens"])
        print("3/4 load ...", flush=True)
        loaded = load.run(stack, params["load_seconds"])
        print("4/4 growth ...", flush=True)
        grown = growth.run(stack, params["growth_reps"])
    finally:
        stack.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    text = report.markdown(params, over, stream, loaded, grown)
    text += f"\nTotal benchmark time: {time.monotonic() - started:.0f} s.\n"
    (args.out / "latest.md").write_text(text)
    report.plot(args.out / "latest.png", over, stream, loaded, grown)
    raw = {"params": params, "overhead": {k: v for k, v in over.items() if k != "samples"}, "streaming": stream,
           "load": loaded, "growth": grown}
    (args.out / "latest.json").write_text(json.dumps(raw, indent=1))
    print(text)


if __name__ == "__main__":
    main()
