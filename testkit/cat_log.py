"""What a Cat's log says went wrong: tracebacks, and plugins that failed to load.

The Cat v2 logs a plugin that fails to import as `ERROR: ... Unable to load plugin`
followed by the frames of the traceback, without Python's "Traceback" header,
so each of those is looked for.
"""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROBLEM = re.compile(
    r"Traceback \(most recent call last\)"  # Python's own
    r"|^\s*File \".*\", line \d+"  # a frame, however it was printed
    r"|Unable to load plugin"  # the Cat v2 skipping a plugin (its agents and tools are gone)
    r"|\bERROR\b"  # any log line at error level
)


def problems(text: str) -> list[str]:
    """The lines of a log that show something failed, ANSI colours removed."""
    return [line for line in ANSI.sub("", text).splitlines() if PROBLEM.search(line)]
