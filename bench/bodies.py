"""The ways to ask a Cat the same thing: through the bridge, and natively (v2 agent endpoint, v1 /message)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BRIDGE_CHAT = "/custom/v1/chat/completions"
NATIVE_MESSAGE = "/agents/default/message"  # Cat v2
NATIVE_V1_MESSAGE = "/message"
V1_WS_USER = "bench-ws"  # the v1 websocket's users; /message runs as others, so no token goes to a socket
V1_HTTP_USER = "bench-http"


def conversation(text: str, messages: int = 1) -> list[tuple[str, str]]:
    """Exactly `messages` (role, text) pairs, alternating, ending with the user's `text`.

    An even count starts with an assistant greeting, as chat front ends show one.
    """
    turns = []
    for i in range(messages - 1):
        role = "user" if (messages - 1 - i) % 2 == 0 else "assistant"
        turns.append((role, f"earlier {role} message {i}"))
    return [*turns, ("user", text)]


def bridge_body(text: str, stream: bool = False, messages: int = 1) -> dict:
    return {
        "model": "cheshire-cat",
        "stream": stream,
        "messages": [{"role": role, "content": t} for role, t in conversation(text, messages)],
    }


def native_body(text: str, stream: bool = False, messages: int = 1) -> dict:
    """A `cat.types.Task`: messages of content blocks."""
    return {
        "stream": stream,
        "messages": [
            {"role": role, "content": [{"type": "text", "text": t}]} for role, t in conversation(text, messages)
        ],
    }


def native_v1_body(text: str, stream: bool = False, messages: int = 1) -> dict:
    """v1's /message (and websocket) take one message; the Cat keeps the conversation itself."""
    if messages != 1:
        raise ValueError("the Cat v1's native endpoints take one message, not a conversation")
    return {"text": text}


def expected_tokens(count: int) -> str:
    """What the scripted LLM answers to [[tokens:count]]."""
    return "".join(f" t{i}" for i in range(count))


@dataclass(frozen=True)
class Endpoint:
    """One way to ask: where, with what body, how to read the answer, and how its stream looks."""

    label: str
    path: str
    body: Callable[..., dict]  # (text, stream=False, messages=1) -> JSON body
    answer: Callable[[dict], str]  # the answer's text from a non-streamed response
    stream_name: str  # what its stream is, for the report
    stream: str = "sse"  # "sse": the same path with stream true; "ws": the Cat v1 websocket
    token_marker: str = ""  # in a streamed SSE data line: one content token
    end_marker: str = ""  # in the last SSE data line of a complete stream
    conversation: bool = True  # takes the whole conversation in one request
    user_header: str = ""  # a header naming the Cat user: every load client then runs as a user of its own

    def headers(self, client: int = 0) -> dict[str, str]:
        return {self.user_header: f"{V1_HTTP_USER}-{client}"} if self.user_header else {}


BRIDGE = Endpoint(
    "bridge",
    BRIDGE_CHAT,
    bridge_body,
    lambda p: p["choices"][0]["message"]["content"],
    "OpenAI SSE",
    token_marker='"content":" t',
    end_marker="[DONE]",
)

V2 = {
    "bridge": BRIDGE,
    "native": Endpoint(
        "Cat native (v2 agent endpoint)",
        NATIVE_MESSAGE,
        native_body,
        lambda p: p["messages"][-1]["text"],
        "AG-UI SSE",
        token_marker='"TEXT_MESSAGE_CONTENT"',
        end_marker='"RUN_FINISHED"',
    ),
}

V1 = {
    "bridge": BRIDGE,
    # Concurrent native turns are safe only because the bridge, on its first turn, serialises v1's embedded
    # Qdrant client for every caller in the process (adapters/v1_qdrant.py); the overhead warm-up runs a bridge
    # turn before anything concurrent. An unpatched v1 corrupts its collection at ~16 concurrent turns.
    "native": Endpoint(
        "Cat native (v1 /message and websocket)",
        NATIVE_V1_MESSAGE,
        native_v1_body,
        lambda p: p["text"],
        "websocket tokens",
        stream="ws",
        conversation=False,
        user_header="user_id",
    ),
}
