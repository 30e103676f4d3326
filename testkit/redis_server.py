"""A throwaway redis-server on loopback, for the shared-limit tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from .processes import free_port


class RedisServer:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process = process
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def start_redis(workdir: Path, timeout: float = 10.0) -> RedisServer:
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (scripts/system-deps.sh installs it)")
    port = free_port()
    log = open(workdir / f"redis-{port}.log", "wb")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return RedisServer(process, port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")
