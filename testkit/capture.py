"""A recording reverse proxy on loopback: what a real client sends to the bridge, kept for the test to read.

Clients that are not Python (Codex CLI, OpenCode, Claude Code) cannot be hooked like the test process's HTTP
clients, so they talk to this proxy instead of the Cat. It forwards every request unchanged and streams every
answer back chunk by chunk, as it arrives, and records each exchange: method, path, status, the request's JSON
body, the headers a test may ask about, and what the bridge answered. It forwards with httpx in the test
process, so the contract hook (testkit/contract.py) checks what the bridge answered too.

    with CaptureProxy(cat.url) as proxy:
        ...  # point the client at proxy.url
        proxy.exchanges  # [Exchange(method, path, status, body, headers), ...]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "host"}
)
KEPT_BYTES = 4_000_000
KEPT_HEADERS = ("user-agent", "content-type", "accept", "anthropic-version", "anthropic-beta", "x-stainless-lang")


@dataclass
class Exchange:
    method: str
    path: str
    status: int | None = None
    body: Any = None  # the request's JSON (None when it had none or it was not JSON)
    headers: dict[str, str] = field(default_factory=dict)  # the request's KEPT_HEADERS
    error: str | None = None  # the proxy could not reach the Cat
    response: bytearray = field(default_factory=bytearray)  # what the bridge answered, its first KEPT_BYTES

    def text(self) -> str:
        return self.response.decode(errors="replace")

    def events(self) -> list[str]:
        """The `type` of each JSON event of a streamed answer, in order (`data: [DONE]` and non-JSON skipped)."""
        types = []
        for line in self.text().splitlines():
            if line.startswith("data:"):
                try:
                    types.append(json.loads(line[5:]).get("type", ""))
                except (ValueError, AttributeError):
                    continue
        return types


class CaptureProxy:
    def __init__(self, upstream: str, timeout: float = 180.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self.client = httpx.Client(timeout=timeout)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.proxy = self  # type: ignore[attr-defined]
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> CaptureProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.client.close()

    def posts(self, suffix: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == "POST" and e.path.split("?")[0].endswith(suffix)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        proxy: CaptureProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        exchange = Exchange(self.command, self.path, headers=self._kept())
        try:
            exchange.body = json.loads(raw) if raw else None
        except ValueError:
            exchange.body = None
        proxy.exchanges.append(exchange)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["accept-encoding"] = "identity"  # chunks pass through as the bridge sent them
        request = proxy.client.build_request(self.command, proxy.upstream + self.path, headers=headers, content=raw)
        try:
            upstream = proxy.client.send(request, stream=True)
        except httpx.HTTPError as error:
            exchange.error = repr(error)
            self.send_error(502, "capture proxy: the Cat did not answer")
            return
        exchange.status = upstream.status_code
        try:
            self._relay(upstream, exchange)
        finally:
            upstream.close()

    def _kept(self) -> dict[str, str]:
        return {k: self.headers[k] for k in KEPT_HEADERS if self.headers.get(k) is not None}

    def _relay(self, upstream: httpx.Response, exchange: Exchange) -> None:
        self.send_response(upstream.status_code)
        for name, value in upstream.headers.multi_items():
            if name.lower() not in HOP_BY_HOP | {"content-length", "date", "server"}:  # send_response sent those
                self.send_header(name, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in upstream.iter_raw():
            if chunk:
                exchange.response += chunk[: max(0, KEPT_BYTES - len(exchange.response))]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    do_GET = do_POST = do_DELETE = do_PUT = _forward
