"""Cat v1's usage, recounted from what it recorded of each LLM call of a turn."""

from __future__ import annotations

import ast
import contextlib
import re
from typing import Any

from ..core.turn import tokens


def recount_usage(interactions: list[Any]) -> tuple[int, int]:
    """Prompt tokens of every LLM call of the turn, and the output of all but the last.

    v1 records each call's prompt texts and reply; its own `input_tokens` are
    inflated by 20% "to be safe", so the prompts are counted again here.
    """
    calls = [i for i in interactions if getattr(i, "model_type", "") == "llm"]
    prompt = sum(tokens.count_chat(("user", p) for p in _prompt_messages(call.prompt)) for call in calls)
    extra = sum(call.output_tokens for call in calls[:-1])
    return prompt, extra


_SPEAKER = re.compile(r"(?:^|\n)(?:System|Human|AI|Tool|Function): ")


def _prompt_messages(prompt: Any) -> list[str]:
    """The texts of one LLM call's messages: 1.9 keeps them as a list, 1.8 as langchain's
    "System: ...\nHuman: ..." buffer string, split back here so both count alike."""
    if not isinstance(prompt, str):
        return [str(p) for p in prompt]
    parts = _SPEAKER.split(prompt)
    return [_part_text(p) for p in parts[1:]] if len(parts) > 1 and parts[0] == "" else [prompt]


def _part_text(text: str) -> str:
    """1.8 writes a message with content parts as their Python repr: count the text the LLM got."""
    if text.startswith("[{") and text.endswith("}]"):
        with contextlib.suppress(ValueError, SyntaxError, TypeError, AttributeError):
            return "".join(p.get("text", "") for p in ast.literal_eval(text) if isinstance(p, dict))
    return text
