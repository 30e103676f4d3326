"""A Cat v2 turn's result: the answer, usage counted over every LLM call the agent made, and why.

The Cat does not report usage, so it is counted here from what each LLM call
read (the system prompt, the task's `asked` messages, then what the agent had
`produced` before it) and wrote. Counting tokenizes every prompt: callers run
these in a thread, as prompts may be long.
"""

from __future__ import annotations

import json
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
    """Prompt tokens of LLM calls that each read the system prompt and the first `n` messages of `history`, for n
    in `calls`: each message counted once (a long one is not tokenized again for every call of the turn)."""
    base = tokens.count_chat([("system", system_prompt)] if system_prompt else [])
    costs = [tokens.TOKENS_PER_MESSAGE + tokens.count_text(role) + tokens.count_text(text) for role, text in history]
    prefix = [0]
    for cost in costs:
        prefix.append(prefix[-1] + cost)
    return sum(base + prefix[n] for n in calls)


def turn_result(system_prompt: str, asked: list[Any], produced: list[Any]) -> TurnResult:
    """The final answer, usage counted over every LLM call of the finished run."""
    answers = [i for i, m in enumerate(produced) if m.role == "assistant"]
    final = produced[answers[-1]].text if answers else ""
    history = _history(asked, produced)
    prompt_tokens = _prompts(system_prompt, history, [len(asked) + i for i in answers])
    extra = sum(tokens.count_text(history[len(asked) + i][1]) for i in answers[:-1])
    return TurnResult(final, prompt_tokens, extra)


def stopped_result(system_prompt: str, asked: list[Any], produced: list[Any], text: str) -> TurnResult:
    """A run stopped at the client's cut, in the middle of an LLM call (or the bare LLM's one call): every call so
    far read its prompt, the one in flight included; what the LLM produced is `text`, all it streamed (tool calls
    of finished steps aside)."""
    history = _history(asked, produced)
    calls = [len(asked) + i for i, m in enumerate(produced) if m.role == "assistant"] + [len(history)]
    extra = sum(tokens.count_text(_calls_text(m)) for m in produced if m.role == "assistant" and m.tool_calls)
    return TurnResult(text, _prompts(system_prompt, history, calls), extra)
