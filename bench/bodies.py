"""The two ways to ask the Cat the same thing: through the bridge, and natively."""

from __future__ import annotations


def bridge_body(text: str, stream: bool = False, history: int = 0) -> dict:
    messages = []
    for i in range(history):
        messages += [{"role": "user", "content": f"earlier question {i}"},
                     {"role": "assistant", "content": f"earlier answer {i}"}]
    return {"model": "cheshire-cat", "messages": [*messages, {"role": "user", "content": text}], "stream": stream}


def native_body(text: str, stream: bool = False) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}], "stream": stream}


BRIDGE_CHAT = "/custom/v1/chat/completions"
NATIVE_MESSAGE = "/agents/default/message"
