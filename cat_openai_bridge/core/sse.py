"""Server-sent events framing, as OpenAI streams them."""

from __future__ import annotations

import json

DONE = b"data: [DONE]\n\n"
PING = b": ping\n\n"  # an SSE comment: clients skip it, proxies see traffic


def event(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"
