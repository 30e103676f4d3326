"""The agent's system prompt for a turn, built alike on every Cat (v2: a directive, v1: a prompt hook)."""

from __future__ import annotations

from collections.abc import Callable

from .port import CatTurn


def agent_prompt(prompt: str, turn: CatTurn, quote: Callable[[str], str] = str) -> str:
    """`prompt` with the client's system text as the policy says (`replace`, append, or `ignore`d), then the form
    the answer must take (JSON, a schema): the bridge's instruction, under any policy. `quote` escapes the
    added texts (v1's prefix is a langchain template)."""
    system = "" if turn.system_policy == "ignore" else turn.conversation.system
    if system and turn.system_policy == "replace":
        prompt = ""
    for text in (system, turn.instructions):
        if text:
            prompt = f"{prompt}\n\n{quote(text)}" if prompt else quote(text)
    return prompt
