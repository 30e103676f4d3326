"""The ways to ask a Cat the same thing: through the bridge, and natively (v2 agent endpoint, v1 /message)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

BRIDGE_CHAT = "/custom/v1/chat/completions"
NATIVE_MESSAGE = "/agents/default/message"  # Cat v2
NATIVE_V1_MESSAGE = "/message"
V1_WS_USER = "bench-ws"  # the v1 websocket's users; /message runs as others, so no token goes to a socket
V1_HTTP_USER = "bench-http"
V1_BRIDGE_USER = "bench-bridge"
# v1 keeps each user's conversation and adds every turn to it; its agent then sees up to 20 earlier messages.
# A bridge turn starts from the request's messages (one, here). So both sides wipe their user's stored
# conversation before each timed turn (untimed, the same request on both sides, so the Cat carries the same
# background work): every turn then sees one message, like for like.
V1_WIPE = "/memory/conversation_history"


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
    user_prefix: str = ""  # that user's name, before the client's number
    stream_user_prefix: str = ""  # the user of a stream, when it is not the same (v1's websocket users)
    wipe: str = ""  # DELETE this path (as the client's user) before each timed turn: an empty stored conversation

    def user(self, client: int = 0, stream: bool = False) -> str:
        prefix = self.stream_user_prefix if stream and self.stream_user_prefix else self.user_prefix
        return f"{prefix}-{client}"

    def headers(self, client: int = 0, stream: bool = False) -> dict[str, str]:
        return {self.user_header: self.user(client, stream)} if self.user_header else {}

    def fresh(self, client: httpx.Client, index: int = 0, stream: bool = False) -> None:
        """Untimed, before a timed turn: this client's user starts with no stored conversation."""
        if self.wipe:
            client.delete(self.wipe, headers=self.headers(index, stream)).raise_for_status()

    async def afresh(self, client: httpx.AsyncClient, index: int = 0, stream: bool = False) -> None:
        if self.wipe:
            (await client.delete(self.wipe, headers=self.headers(index, stream))).raise_for_status()


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
    # Each bridge client is a v1 user of its own too, so both sides' users keep episodic memories alike.
    "bridge": replace(BRIDGE, user_header="user_id", user_prefix=V1_BRIDGE_USER, wipe=V1_WIPE),
    # Concurrent native turns are safe only because the bridge, on its first turn, serialises v1's embedded
    # Qdrant client for every caller in the process (adapters/v1_threads.py); the overhead warm-up runs a bridge
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
        user_prefix=V1_HTTP_USER,
        stream_user_prefix=V1_WS_USER,
        wipe=V1_WIPE,
    ),
}
