"""The agent's system prompt for a turn, built alike on every Cat (v2: a directive, v1: a prompt hook)."""

from __future__ import annotations

from collections.abc import Callable

from .port import CatTurn


def agent_prompt(prompt: str, turn: CatTurn, quote: Callable[[str], str] = str) -> str:
    """The demanded form (`instructions`) is added under any system policy; `quote` escapes the added texts (v1's
    prefix is a langchain template)."""
    system = "" if turn.system_policy == "ignore" else turn.conversation.system
    if system and turn.system_policy == "replace":
        prompt = ""
    for text in (system, turn.instructions):
        if text:
            prompt = f"{prompt}\n\n{quote(text)}" if prompt else quote(text)
    return prompt
