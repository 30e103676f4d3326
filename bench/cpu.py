"""CPU time used by a process (the Cat, from /proc) and by this one (the load generator)."""

from __future__ import annotations

import os
import resource


def process_seconds(pid: int) -> float | None:
    """user + system CPU seconds of `pid` so far (Linux), or None."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
