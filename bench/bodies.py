"""The two ways to ask the Cat the same thing: through the bridge, and natively."""

from __future__ import annotations

from typing import List, Tuple

BRIDGE_CHAT = "/custom/v1/chat/completions"
NATIVE_MESSAGE = "/agents/default/message"


def conversation(text: str, messages: int = 1) -> List[Tuple[str, str]]:
    """Exactly `messages` (role, text) pairs, alternating, ending with the user's `text`.

    An even count starts with an assistant greeting, as chat front ends show one.
    """
    turns = []
    for i in range(messages - 1):
        role = "user" if (messages - 1 - i) % 2 == 0 else "assistant"
        turns.append((role, f"earlier {role} message {i}"))
    return [*turns, ("user", text)]


def bridge_body(text: str, stream: bool = False, messages: int = 1) -> dict:
    return {"model": "cheshire-cat", "stream": stream,
            "messages": [{"role": role, "content": t} for role, t in conversation(text, messages)]}


def native_body(text: str, stream: bool = False, messages: int = 1) -> dict:
    """A `cat.types.Task`: messages of content blocks."""
    return {"stream": stream, "messages": [{"role": role, "content": [{"type": "text", "text": t}]}
                                           for role, t in conversation(text, messages)]}


def answer_of(path: str, payload: dict) -> str:
    """The answer's text from a non-streamed response of either endpoint."""
    if path == BRIDGE_CHAT:
        return payload["choices"][0]["message"]["content"]
    return payload["messages"][-1]["text"]


def expected_tokens(count: int) -> str:
    """What the scripted LLM answers to [[tokens:count]]."""
    return "".join(f" t{i}" for i in range(count))
