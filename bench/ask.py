"""Asking one endpoint and reading its answer to the end, for scenarios that time whole requests."""

from __future__ import annotations

import httpx
from websockets.sync.client import ClientConnection

from . import ws
from .bodies import Endpoint


def ask(
    client: httpx.Client,
    socket: ClientConnection | None,
    endpoint: Endpoint,
    text: str,
    stream: bool = False,
    messages: int = 1,
    client_index: int = 0,
) -> None:
    """One request through `endpoint`, streamed or not, read to its end (v1 streams on `socket`)."""
    if stream and endpoint.stream == "ws":
        ws.drain(socket, text)  # type: ignore[arg-type]
    elif stream:
        with client.stream(
            "POST",
            endpoint.path,
            json=endpoint.body(text, stream=True, messages=messages),
            headers=endpoint.headers(client_index, True),
        ) as response:
            response.raise_for_status()
            for _ in response.iter_raw():
                pass
    else:
        body = endpoint.body(text, messages=messages)
        client.post(endpoint.path, json=body, headers=endpoint.headers(client_index)).raise_for_status()
