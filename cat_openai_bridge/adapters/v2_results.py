"""A Cat v2 turn's result: the answer, usage counted over every LLM call the agent made, and why.

The Cat does not report usage, so it is counted here from the messages the
agent read and wrote. Counting tokenizes every prompt: callers run these in a
thread, as prompts may be long.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.turn import tokens
from ..core.turn.port import TurnResult


def _calls_text(message) -> str:
    return "".join(json.dumps({"name": c.name, "arguments": c.args}) for c in message.tool_calls)


def _message_text(message) -> str:
    return message.text + _calls_text(message) if message.tool_calls else message.text


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


def _prompts(system: list[tuple[str, str]], history: list[tuple[str, str]], calls: list[int]) -> int:
    """Prompt tokens of LLM calls that each read `system` and the first `n` messages of `history`, for n in
    `calls`: each message counted once (a long one is not tokenized again for every call of the turn)."""
    base = tokens.count_chat(system)
    costs = [tokens.TOKENS_PER_MESSAGE + tokens.count_text(role) + tokens.count_text(text) for role, text in history]
    prefix = [0]
    for cost in costs:
        prefix.append(prefix[-1] + cost)
    return sum(base + prefix[n] for n in calls)


def _read(agent, produced: list[Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
    """(system, history, asked): what every LLM call of the turn read, `history` being the task's `asked`
    messages and then what the agent produced."""
    history = [(m.role, _message_text(m)) for m in [*agent.task.messages, *produced]]
    system = [("system", agent.system_prompt)] if agent.system_prompt else []
    return system, history, len(agent.task.messages)


def turn_result(agent) -> TurnResult:
    """The final answer, and usage counted over every LLM call of the turn (in a thread: prompts may be long)."""
    produced = list(agent.result.messages)
    answers = [i for i, m in enumerate(produced) if m.role == "assistant"]
    final = produced[answers[-1]].text if answers else ""
    system, history, asked = _read(agent, produced)
    prompt_tokens = _prompts(system, history, [asked + i for i in answers])
    extra = sum(tokens.count_text(history[asked + i][1]) for i in answers[:-1])
    return TurnResult(final, prompt_tokens, extra)


def stopped_result(agent, text: str) -> TurnResult:
    """A run stopped at the client's cut, in the middle of an LLM call: every call so far read its prompt, the
    one in flight included; what the LLM produced is the text streamed (tool calls of finished steps aside)."""
    produced = list(getattr(getattr(agent, "result", None), "messages", []))
    system, history, asked = _read(agent, produced)
    calls = [asked + i for i, m in enumerate(produced) if m.role == "assistant"] + [len(history)]
    extra = sum(tokens.count_text(_calls_text(m)) for m in produced if m.role == "assistant" and m.tool_calls)
    return TurnResult(text, _prompts(system, history, calls), extra)


def plain_result(system: str, task, text: str) -> TurnResult:
    """The bare LLM's answer (no agent): one call, reading the system text and the task's messages."""
    history = [(m.role, _message_text(m)) for m in task.messages]
    prompt = tokens.count_chat(([("system", system)] if system else []) + history)
    return TurnResult(text, prompt)
