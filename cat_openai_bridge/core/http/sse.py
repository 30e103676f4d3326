"""Server-sent events framing, as OpenAI streams them."""

from __future__ import annotations

from ..turn.wire import WireModel

DONE = b"data: [DONE]\n\n"
PING = b": ping\n\n"  # an SSE comment: clients skip it, proxies see traffic


def event(payload: WireModel, name: str = "") -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + payload.wire() + b"\n\n"
