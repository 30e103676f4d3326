"""Front ends' housekeeping prompts (titles, tags, follow-ups...): how they are recognised, in bounded time.

Front ends send their template first, so a pattern is matched against the first `WINDOW` characters only (a
multi-line search froze the Cat for 10 s on 100,000 newlines), and all of a message's matches share `SECONDS` of
wall time (bounded_regex.py): a pattern that backtracks (`^Task:\\s*(title|tag|[a-z]|\\w)*:` took 6.2 s of the
Cat's loop on a 31-character message with `re`) makes a message "not a task prompt" once the time is up. The
defaults come from Open WebUI's config.py (0.6 - 0.12) and LibreChat's title generation (@librechat/agents,
src/utils/title.ts).
"""

from __future__ import annotations

import time

from pydantic_core import PydanticCustomError

from . import bounded_regex

WINDOW = 1000  # characters of the last user message a pattern ever sees
SECONDS = 0.01  # the wall time all patterns share on one message (each normally takes microseconds)

DEFAULT_PATTERNS: tuple[str, ...] = (
    r"^\s*### Task:",  # Open WebUI: title, tags, follow-ups, queries, autocomplete, image prompt, doc suggestions
    r"^Your task is to reflect the speaker's likely facial expression",  # Open WebUI: emoji (voice call)
    r"^You have been provided with a set of responses from various models to the latest user query",  # OWUI: MoA
    r"^Provide a concise, 5-word-or-less title for the conversation",  # LibreChat: title, `completion` method
    r"^Analyze this conversation and provide:\s*1\. The detected language",  # LibreChat: `structured`/`functions`
)


def matches(patterns: list[str], text: str) -> bool:
    head, deadline = text[:WINDOW], time.monotonic() + SECONDS
    try:
        return any(bounded_regex.search(pattern, head, deadline, anchored=True) for pattern in patterns)
    except (TimeoutError, bounded_regex.PatternError):
        return False


def check(patterns: list[str]) -> None:
    """Each pattern must compile (`re`'s syntax) at a bounded cost; compiled patterns are cached, so settings
    reloads (v2 validates what it reads) cost nothing."""
    for pattern in patterns:
        try:
            bounded_regex.compiled(pattern)
        except bounded_regex.PatternError as exc:
            raise PydanticCustomError(
                "invalid_pattern", "{pattern}: {reason}", {"pattern": pattern, "reason": str(exc)}
            ) from None
