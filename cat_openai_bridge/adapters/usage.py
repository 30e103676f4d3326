"""A turn's usage, recounted from the Cat's record of its LLM calls (callers run these in a thread): v2 reports
none, and v1 inflates its own `input_tokens` by 20% "to be safe"."""

from __future__ import annotations

import ast
import contextlib
import itertools
import json
import re
from typing import Any

from ..core.turn import tokens
from ..core.turn.port import TurnResult


def _calls_text(message) -> str:
    return "".join(json.dumps({"name": c.name, "arguments": c.args}) for c in message.tool_calls)


def _history(asked: list[Any], produced: list[Any]) -> list[tuple[str, str]]:
    return [(m.role, m.text + _calls_text(m) if m.tool_calls else m.text) for m in [*asked, *produced]]


def why(agent) -> dict:
    """What the agent did: its final system prompt (where directives put recalled memories), each step."""
    steps = []
    for message in agent.result.messages:
        step: dict = {"role": message.role, "text": message.text}
        if message.tool_calls:
            step["tool_calls"] = [{"id": c.id, "name": c.name, "args": c.args} for c in message.tool_calls]
        if message.tool_call_id:
            step["tool_call_id"] = message.tool_call_id
        steps.append(step)
    return {
        "agent": agent.slug,
        "model": agent.model,
        "system_prompt": agent.system_prompt,
        "llm_calls": sum(1 for m in agent.result.messages if m.role == "assistant"),
        "tools_available": [t.name for t in agent.tools],
        "steps": steps,
    }


def _prompts(system_prompt: str, history: list[tuple[str, str]], calls: list[int]) -> int:
    """Prompt tokens of calls that each read the system prompt and the first `n` of `history`, n in `calls`; each
    message is tokenized once, not once per call."""
    base = tokens.count_chat([("system", system_prompt)] if system_prompt else [])
    costs = (tokens.TOKENS_PER_MESSAGE + tokens.count_text(role) + tokens.count_text(text) for role, text in history)
    prefix = [0, *itertools.accumulate(costs)]
    return sum(base + prefix[n] for n in calls)


def turn_result(system_prompt: str, asked: list[Any], produced: list[Any]) -> TurnResult:
    answers = [i for i, m in enumerate(produced) if m.role == "assistant"]
    final = produced[answers[-1]].text if answers else ""
    history = _history(asked, produced)
    prompt_tokens = _prompts(system_prompt, history, [len(asked) + i for i in answers])
    extra = sum(tokens.count_text(history[len(asked) + i][1]) for i in answers[:-1])
    return TurnResult(final, prompt_tokens, extra)


def stopped_result(system_prompt: str, asked: list[Any], produced: list[Any], text: str) -> TurnResult:
    """A run cut in the middle of an LLM call: every call so far read its prompt, the one in flight included."""
    history = _history(asked, produced)
    calls = [len(asked) + i for i, m in enumerate(produced) if m.role == "assistant"] + [len(history)]
    extra = sum(tokens.count_text(_calls_text(m)) for m in produced if m.role == "assistant" and m.tool_calls)
    return TurnResult(text, _prompts(system_prompt, history, calls), extra)


def recount_usage(interactions: list[Any]) -> tuple[int, int]:
    """v1: prompt tokens of every LLM call of the turn, and the output of all but the last."""
    calls = [i for i in interactions if getattr(i, "model_type", "") == "llm"]
    prompt = sum(tokens.count_chat(("user", p) for p in _prompt_messages(call.prompt)) for call in calls)
    extra = sum(call.output_tokens for call in calls[:-1])
    return prompt, extra


_SPEAKER = re.compile(r"(?:^|\n)(?:System|Human|AI|Tool|Function): ")


def _prompt_messages(prompt: Any) -> list[str]:
    """1.9 keeps a call's messages as a list, 1.8 as langchain's "System: ...\nHuman: ..." string, split here."""
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
