"""A minimal asyncio Redis client: just enough RESP2 to run the limiter's scripts.

The Cat v2 installs a plugin's requirements from a one-line file only, and
the limiter needs two commands; a small client here avoids a dependency that
could fight the Cat's own pins.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit


class RedisUnavailable(Exception):
    """Redis could not be reached or did not answer in time."""


class RedisReplyError(Exception):
    """Redis answered with an error reply."""


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("redis_url must start with redis:// or rediss://")
        db = parts.path.strip("/")
        return cls(
            parts.hostname or "localhost",
            parts.port or 6379,
            int(db) if db else 0,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            parts.scheme == "rediss",
        )


@dataclass(frozen=True)
class Script:
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


Arg = str | int | float | bytes
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def encode(args: Sequence[Arg]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader) -> Any:
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed by Redis")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisReplyError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = await reader.readexactly(size + 2)
        return data[:-2].decode()
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [await read_reply(reader) for _ in range(size)]
    raise ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")


class RedisClient:
    """A small pool of connections; every call is bounded by `timeout`."""

    def __init__(self, url: str, timeout: float = 0.5, pool_size: int = 16) -> None:
        self.address = RedisAddress.parse(url)
        self.timeout = timeout
        self._idle: deque[Connection] = deque()
        self._pool_size = pool_size
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self) -> Connection:
        a = self.address
        context = ssl.create_default_context() if a.tls else None
        reader, writer = await asyncio.open_connection(a.host, a.port, ssl=context)
        setup: list[list[Arg]] = []
        if a.password:
            setup.append(["AUTH", a.username, a.password] if a.username else ["AUTH", a.password])
        if a.db:
            setup.append(["SELECT", a.db])
        for command in setup:
            writer.write(encode(command))
            reply = await read_reply(reader)
            if isinstance(reply, RedisReplyError):
                writer.close()
                raise RedisUnavailable(f"Redis refused {command[0]}: {reply}")
        return reader, writer

    def _take(self) -> Connection | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            self._idle.clear()
            self._loop = loop
        return self._idle.popleft() if self._idle else None

    async def call(self, *args: Arg) -> Any:
        try:
            return await asyncio.wait_for(self._call(args), self.timeout)
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def _call(self, args: Sequence[Arg]) -> Any:
        connection = self._take() or await self._connect()
        reader, writer = connection
        try:
            writer.write(encode(args))
            reply = await read_reply(reader)
        except BaseException:
            writer.close()
            raise
        if len(self._idle) < self._pool_size:
            self._idle.append(connection)
        else:
            writer.close()
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """EVALSHA, loading the script with EVAL the first time a server lacks it."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except RedisReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.call("EVAL", script.source, len(keys), *keys, *args)
