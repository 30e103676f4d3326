"""A client that stops reading a stream: within `stream_send_timeout` the stream ends and lets go of its work.

The client is a raw socket with a tiny receive buffer that reads the first bytes of a large Responses stream and
then nothing, so the server's sends fill every buffer on the way and block. The stream's concurrency slot shows
whether its task still runs; the scripted LLM's log shows whether the Cat's run ended.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import httpx

from .conftest import cat_jwt, user_says
from .test_disconnects import log_since, log_size, wait_for

BOUND = 2.0  # stream_send_timeout for the test (the setting's default is 30 s)


def stalled_stream(url: str, token: str, body: dict) -> socket.socket:
    """Send the request on a socket that then reads (almost) nothing."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.connect((parts.hostname, parts.port))
    payload = json.dumps(body).encode()
    head = (
        f"POST /custom/v1/responses HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock.sendall(head.encode() + payload)
    sock.settimeout(30)
    assert sock.recv(12) == b"HTTP/1.1 200"  # the stream started; from here on the client reads nothing
    return sock


def drain(sock: socket.socket) -> bytes:
    """Everything the server sent before it ended the stream, up to the end of the connection."""
    sock.settimeout(10)
    chunks = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_client_that_stops_reading_releases_the_stream_within_the_bound(cat, settings, llm_log):
    settings(max_concurrent_requests=1, stream_send_timeout=BOUND, max_tokens=0)
    user = f"stalled-{uuid.uuid4().hex[:6]}"
    token = cat_jwt(user)
    tag = uuid.uuid4().hex
    offset = log_size(cat)
    # 400 tokens of 20 KB: 8 MB of delta events, and the whole text again in the closing events
    body = {"model": "cheshire-cat", "input": f"{tag} [[tokens:400]] [[pad:20000]]", "stream": True}
    chat = {"model": "cheshire-cat", "messages": user_says("am I free?")}
    auth = {"Authorization": f"Bearer {token}"}
    sock = stalled_stream(cat.url, token, body)
    try:
        with httpx.Client(base_url=cat.url, headers=auth, timeout=30) as http:
            blocked = http.post("/custom/v1/chat/completions", json=chat)
            assert blocked.status_code == 429  # the stalled stream holds the user's one slot
            started = time.monotonic()
            freed = wait_for(lambda: http.post("/custom/v1/chat/completions", json=chat).status_code == 200, 20)
            assert freed, "the stalled stream still holds its slot"
            assert time.monotonic() - started < BOUND + 15
        received = drain(sock)
    finally:
        sock.close()
    assert b"event: response.created" in received
    assert b"event: response.completed" not in received  # ended by the bridge, not finished
    runs = lambda: [e for e in llm_log() if tag in str(e["body"]["messages"])]  # noqa: E731
    assert runs() and wait_for(lambda: all(e["finished_at"] or e["aborted_at"] for e in runs()))  # the run ended
    assert "Traceback" not in log_since(cat, offset)
