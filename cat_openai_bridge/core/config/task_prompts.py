"""Front ends' housekeeping prompts (titles, tags, follow-ups...): how they are recognised, in bounded time.

Front ends send their template first, so a pattern is matched against the first `WINDOW` characters only (a
multi-line search froze the Cat for 10 s on 100,000 newlines). The defaults come from Open WebUI's config.py
(0.6 - 0.12) and LibreChat's title generation (@librechat/agents, src/utils/title.ts).
"""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

from . import regex_probe

WINDOW = 1000  # characters of the last user message a pattern ever sees

DEFAULT_PATTERNS: tuple[str, ...] = (
    r"^\s*### Task:",  # Open WebUI: title, tags, follow-ups, queries, autocomplete, image prompt, doc suggestions
    r"^Your task is to reflect the speaker's likely facial expression",  # Open WebUI: emoji (voice call)
    r"^You have been provided with a set of responses from various models to the latest user query",  # OWUI: MoA
    r"^Provide a concise, 5-word-or-less title for the conversation",  # LibreChat: title, `completion` method
    r"^Analyze this conversation and provide:\s*1\. The detected language",  # LibreChat: `structured`/`functions`
)

_VERDICTS: dict[str, str | None] = dict.fromkeys(DEFAULT_PATTERNS)  # pattern -> why it is refused (None: safe)
_MAX_VERDICTS = 1024


def matches(patterns: list[str], text: str) -> bool:
    head = text[:WINDOW]
    return any(re.match(pattern, head) for pattern in patterns)


def _unsafe(pattern: str, worst: float | None) -> str | None:
    if worst is not None and worst <= regex_probe.PROBE_LIMIT:
        return None
    if worst is None:
        cost = f"did not finish within {regex_probe.PATTERN_SECONDS:g} s"
    else:
        cost = f"took {1000 * worst:.0f} ms of CPU (at most {1000 * regex_probe.PROBE_LIMIT:.0f} ms allowed)"
    return f"{pattern} backtracks catastrophically: matching it against a {WINDOW}-character message {cost}"


def check(patterns: list[str]) -> None:
    """Verdicts are kept per pattern: settings reloads (v2 validates what it reads) never probe again."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PydanticCustomError(
                "invalid_pattern",
                "{pattern} is not a valid regular expression: {reason}",
                {"pattern": pattern, "reason": str(exc)},
            ) from None
    unknown = [p for p in dict.fromkeys(patterns) if p not in _VERDICTS]
    if unknown:
        try:
            worst = regex_probe.worst_seconds(unknown, WINDOW)
        except OSError as exc:
            raise PydanticCustomError(
                "unchecked_pattern",
                "task_prompt_patterns could not be checked for catastrophic backtracking ({reason}); "
                "only the default patterns can be used",
                {"reason": str(exc)},
            ) from None
        if len(_VERDICTS) + len(unknown) > _MAX_VERDICTS:
            _VERDICTS.clear()
            _VERDICTS.update(dict.fromkeys(DEFAULT_PATTERNS))
        for pattern, seconds in zip(unknown, worst):
            _VERDICTS[pattern] = _unsafe(pattern, seconds)
            if seconds is None:
                break  # the worker was killed on this one: the patterns after it were never run
    for pattern in patterns:
        reason = _VERDICTS.get(pattern)
        if reason:
            raise PydanticCustomError(
                "catastrophic_pattern",
                "{reason}. Anchor a literal prefix instead, e.g. ^\\s*### Task:",
                {"reason": reason},
            )
