"""Starting loopback servers as child processes and waiting for them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A child process serving HTTP on 127.0.0.1:port; its output goes to a log file."""

    process: subprocess.Popen
    port: int
    log_path: Path  # what log_tail shows
    stop_signal: int = signal.SIGINT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def rss_bytes(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None


def start(
    args: list[str],
    port: int,
    ready_path: str,
    log_path: Path,
    cwd: Path | None = None,
    env: dict | None = None,
    timeout: float = 60.0,
    *,
    ready: Callable[[int], bool] = lambda status: status < 500,
    output: Path | None = None,
    stop_signal: int = signal.SIGINT,
    kind: type[Server] = Server,
) -> Server:
    """Start `args`, wait until `ready_path` answers with a status `ready` accepts; its output goes to `output`
    (by default the log that `log_tail` shows)."""
    log_file = open(output or log_path, "wb")
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), **(env or {})}
    process = subprocess.Popen(args, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, env=full_env)
    server = kind(process, port, log_path, stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args[:3]} exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if ready(httpx.get(server.url + ready_path, timeout=1.0).status_code):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{args[:3]} did not answer on {ready_path} within {timeout}s:\n{server.log_tail()}")


def start_scripted_llm(log_dir: Path, delay_ms: float = 0.0, python: str = sys.executable) -> Server:
    port = free_port()
    return start(
        [python, "-m", "testkit.scripted_llm", "--port", str(port), "--delay-ms", str(delay_ms)],
        port,
        "/v1/models",
        log_dir / f"scripted-llm-{port}.log",
        cwd=REPO,
    )
