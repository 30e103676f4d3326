"""The Cat v1's native stream: its websocket, where tokens arrive as `chat_token` messages and the answer as `chat`."""

from __future__ import annotations

import json
import time

from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.sync.client import ClientConnection


def _token(message: dict) -> bool:
    return message.get("type") == "chat_token" and bool(message.get("content"))


def first_token(ws: ClientConnection, text: str) -> dict[str, float]:
    """Send one message on an open socket and time its first frame and first content token; read to the end."""
    started_wall, started = time.time(), time.perf_counter()
    ws.send(json.dumps({"text": text}))
    first_byte = first = None
    while True:
        message = json.loads(ws.recv(timeout=60))
        now = time.perf_counter()
        first_byte = first_byte or now
        if first is None and _token(message):
            first = now
        if message.get("type") in ("chat", "error"):
            break
    if first is None or message.get("type") != "chat":
        raise RuntimeError(f"no token on the v1 websocket: {message!r}"[:300])
    return {
        "ttfb_ms": (first_byte - started) * 1000,
        "ttft_ms": (first - started) * 1000,
        "started_wall": started_wall,
        "first_token_wall": started_wall + (first - started),
    }


def drain(ws: ClientConnection, text: str) -> None:
    """Send one message and read until the answer."""
    ws.send(json.dumps({"text": text}))
    while json.loads(ws.recv(timeout=120)).get("type") not in ("chat", "error"):
        pass


async def stream(ws: AsyncConnection, text: str) -> tuple[int, bool]:
    """(content tokens received, whether the answer arrived)."""
    await ws.send(json.dumps({"text": text}))
    tokens = 0
    while True:
        message = json.loads(await ws.recv())
        tokens += _token(message)
        if message.get("type") in ("chat", "error"):
            return tokens, message.get("type") == "chat"
