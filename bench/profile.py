"""Where the Cat's CPU goes on one path: py-spy samples the Cat while that path is driven in a loop.

    python -m bench.profile [--path bridge|native] [--stream] [--seconds 15] [--tokens 20] [--delay 0]
                            [--clients 1] [--v1]

Writes the collapsed stacks (`bench/results/profile-<path>[-stream]-<clients>.txt`, gitignored; open them in
speedscope.app) and prints the functions holding the most samples, inclusive and own. A tool for
finding what to fix before guessing; the benchmark itself never runs it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from websockets.sync.client import connect

from .ask import ask
from .bodies import V2
from .burst import warm
from .stack import Stack, start_stack


def _drive(stack: Stack, name: str, text: str, stream: bool, stop: threading.Event, index: int) -> int:
    """One client (its own connection) asking in a loop; the Cat v1's native stream is its websocket."""
    count = 0
    endpoint = stack.endpoints[name]
    socket = connect(stack.ws_url(index)) if stream and endpoint.stream == "ws" else None
    with httpx.Client(base_url=stack.cat.url, headers=stack.headers, timeout=60) as client:
        while not stop.is_set():
            endpoint.fresh(client, index, stream)  # as the benchmark does: an empty stored conversation
            ask(client, socket, endpoint, text, stream, client_index=index)
            count += 1
    if socket is not None:
        socket.close()
    return count


def summarize(collapsed: Path) -> tuple[int, dict[str, Counter]]:
    """Samples per function (line numbers dropped): `inclusive` (anywhere on the stack, once per sample) and
    `own` (leaf)."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, weight = line.rpartition(" ")
        if not stack:
            continue
        n = int(weight)
        total += n
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return total, {"inclusive": inclusive, "own": own}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", choices=sorted(V2), default="bridge")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--delay", type=int, default=0, help="the LLM's delay before each token, ms")
    parser.add_argument("--clients", type=int, default=1, help="concurrent clients (threads) driving the path")
    parser.add_argument("--v1", action="store_true", help="the Cat v1 from CAT_V1_CORE instead of v2")
    parser.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL (CPU, not waits)")
    parser.add_argument("--filter", default="", help="only print frames containing this text (e.g. cat_openai_bridge)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    version = "v1" if args.v1 else "v2"
    flags = ("-stream" if args.stream else "") + f"-{args.clients}" + ("-gil" if args.gil else "")
    name = f"profile-{version}-{args.path}{flags}.txt"
    out = Path(__file__).resolve().parent / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    stack = start_stack(version)
    warm(stack)
    stop = threading.Event()
    counts: list = []
    try:
        text = f"[[tokens:{args.tokens}]] [[delay:{args.delay}]]"
        drivers = [
            threading.Thread(
                target=lambda i=i: counts.append(_drive(stack, args.path, text, args.stream, stop, i)), daemon=True
            )
            for i in range(args.clients)
        ]
        for driver in drivers:
            driver.start()
        time.sleep(1.0)  # warm-up outside the profile
        subprocess.run(
            [
                spy,
                "record",
                "--pid",
                str(stack.cat.process.pid),
                "--duration",
                str(int(args.seconds)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                *(["--gil"] if args.gil else []),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        stop.set()
        for driver in drivers:
            driver.join()
    finally:
        stop.set()
        stack.stop()
    total, tables = summarize(out)
    print(f"{sum(counts)} requests; {total} samples in {out}")
    for kind, table in tables.items():
        print(f"\n{kind} samples (share of all):")
        rows = [(f, n) for f, n in table.most_common() if args.filter in f][:25]
        for frame, n in rows:
            print(f"  {n / total:6.1%}  {frame[:150]}")


if __name__ == "__main__":
    main()
