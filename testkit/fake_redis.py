"""A hostile Redis on loopback: reads real RESP commands, answers whatever bytes a test sets.

For the limiter's client against replies a real Redis would never send
(nested arrays, `*-1`, "inf", garbage, connections dropped mid-reply). It
counts the connections still open on its side, so a test can see that the
client closed the ones that went wrong. The normal path is tested against a
real redis-server (redis_server.py).

    with FakeRedis(b"*-1\\r\\n") as redis:   # redis.url, redis.commands, redis.open_connections
"""

from __future__ import annotations

import socket
import threading
import time

DROP = b""  # as a reply: close the connection instead of answering


class FakeRedis:
    def __init__(self, reply: bytes = b"+OK\r\n") -> None:
        self.reply = reply
        self.commands: list[list[bytes]] = []
        self.open_connections = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True, name="fake-redis").start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> FakeRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped = True
        self._server.close()

    def wait_closed(self, seconds: float = 5.0) -> int:
        """Connections still open after the client had `seconds` to close them."""
        deadline = time.monotonic() + seconds
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_connections

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.open_connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while (command := _read_command(reader)) is not None:
                self.commands.append(command)
                if self.reply == DROP:
                    break
                conn.sendall(self.reply)
        except OSError:
            pass
        finally:
            if self.reply == DROP:
                conn.close()
            else:  # wait for the client to hang up: what is counted is the client closing its side
                try:
                    while conn.recv(4096):
                        pass
                except OSError:
                    pass
                conn.close()
            with self._lock:
                self.open_connections -= 1


def _read_command(reader) -> list[bytes] | None:
    head = reader.readline()
    if not head.startswith(b"*"):
        return None
    args = []
    for _ in range(int(head[1:])):
        size = int(reader.readline()[1:])
        args.append(reader.read(size + 2)[:-2])
    return args
