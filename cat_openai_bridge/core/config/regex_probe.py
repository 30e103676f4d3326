"""Whether an admin's regular expression backtracks catastrophically, found out before it meets a user's message.

A `re` match holds the GIL and cannot be interrupted: one bad pattern freezes the whole Cat. So each new pattern
is run, in a process killed if it does not answer in time, against adversarial probes. This file is also that
worker (`python -I regex_probe.py`), importing only the standard library so that it starts in milliseconds.
"""

from __future__ import annotations

import json
import queue
import re
import string
import subprocess
import sys
import threading
import time
from subprocess import DEVNULL, PIPE

PROBE_LIMIT = 0.05  # CPU seconds one probe may take; a linear pattern needs ~0.0001 on 1,000 characters
STARTUP_SECONDS = 10.0  # wall time for the worker to start on a busy machine
PATTERN_SECONDS = 1.0  # wall time for one pattern's probes (a linear one needs ~0.01); a hanging probe is killed

_BASE_CHARACTERS = " \t\n\r" + "aZ0_-.,:;#/\\\"'()[]{}*+?|^$!" + "é€"


def probes(pattern: str, window: int) -> list[str]:
    """Long runs of one character, of pairs, and of the pattern's literal words: where backtracking blows up."""
    named = list(dict.fromkeys(char for char in pattern if char.isprintable()))  # the pattern's characters, in order
    pair_sources = list(dict.fromkeys(" \na0" + "".join(named[:12])))
    # runs of plain characters in the pattern source (e.g. '### Task:'): the likely repeated units
    words = [w for w in re.split(r"[\\^$.|?*+()\[\]{}]+", pattern) if w.strip()][:16]
    units = [
        *dict.fromkeys(_BASE_CHARACTERS + "".join(named[:48])),
        *(a + b for a in pair_sources for b in pair_sources if a != b),
        *(unit for word in words for unit in (word, word + " ", word + "\n")),
        string.ascii_lowercase + " ",
    ]
    return [(unit * window)[:window] for unit in units]


def _worker() -> None:
    job = json.loads(sys.stdin.readline())
    sys.stdout.write("ready\n")  # the parent's clock for the first pattern starts here, not at process start
    sys.stdout.flush()
    for index, pattern in enumerate(job["patterns"]):
        compiled, worst = re.compile(pattern), 0.0
        for text in probes(pattern, job["window"]):
            began = time.process_time()  # CPU time: a busy machine pausing the worker does not count
            compiled.match(text)
            worst = max(worst, time.process_time() - began)
            if worst > job["probe_limit"]:
                break
        sys.stdout.write(json.dumps([index, worst]) + "\n")
        sys.stdout.flush()


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def worst_seconds(patterns: list[str], window: int, probe_limit: float = PROBE_LIMIT) -> list[float | None]:
    """Per pattern, its most expensive probe's CPU seconds (None: the worker was killed); OSError: no worker."""
    worker = subprocess.Popen([sys.executable, "-I", __file__], stdin=PIPE, stdout=PIPE, stderr=DEVNULL, text=True)
    results: list[float | None] = [None] * len(patterns)
    lines: queue.Queue = queue.Queue()
    try:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(json.dumps({"patterns": patterns, "window": window, "probe_limit": probe_limit}) + "\n")
        worker.stdin.close()
        threading.Thread(target=_read_lines, args=(worker.stdout, lines), daemon=True).start()
        try:
            if lines.get(timeout=STARTUP_SECONDS) != "ready\n":
                raise queue.Empty
        except queue.Empty:
            raise OSError("the regex probe worker did not start") from None
        for _ in patterns:
            try:
                line = lines.get(timeout=PATTERN_SECONDS)
            except queue.Empty:
                break  # this pattern is still running: it is the one that hangs
            if line is None:
                break  # the worker died (e.g. a pattern it could not compile); the rest stay unknown
            index, worst = json.loads(line)
            results[index] = worst
    finally:
        worker.kill()
        worker.wait()
    return results


if __name__ == "__main__":
    _worker()
