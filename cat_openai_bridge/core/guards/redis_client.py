"""A minimal asyncio Redis client (RESP2): the Cat v2 installs one requirement line only, and a Redis package could
fight the Cat's own pins."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..config.redis_url import RedisAddress


class RedisUnavailable(Exception):
    """Unreachable, not answering in time, or answering what makes no sense (`RedisProtocolError`)."""


class RedisProtocolError(RedisUnavailable):
    """A reply that is not RESP, or not a script's shape: the connection is dropped, the failure mode decides."""


class RedisReplyError(Exception):
    """Redis answered with an error reply."""


MAX_DEPTH = 4  # nesting of array replies (the limiter's scripts return flat arrays)
MAX_ITEMS = 64  # elements of one array reply
MAX_BULK = 512 * 1024 * 1024  # bytes of one bulk string reply by default: Redis's own proto-max-bulk-len


class Script:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # what EVALSHA names it by


Arg = str | int | float | bytes
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def encode(args: Sequence[Arg]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _length(rest: bytes, most: int, what: str) -> int:
    if not (rest.isdigit() or rest == b"-1"):
        raise RedisProtocolError(f"bad {what} length from Redis: {rest[:20]!r}")
    size = int(rest)
    if size > most:
        raise RedisProtocolError(f"{what} of {size} from Redis is larger than this client reads ({most})")
    return size


async def read_reply(reader: asyncio.StreamReader, depth: int = 0, max_bulk: int = MAX_BULK) -> Any:
    """One RESP2 reply, bounded in nesting and size; anything else is a RedisProtocolError."""
    try:
        line = await reader.readline()
    except ValueError:  # a line past the reader's limit
        raise RedisProtocolError("a reply line from Redis is too long") from None
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed by Redis")
    kind, rest = line[:1], line[1:-2]
    if kind == b"$":
        return await _bulk(reader, rest, max_bulk)
    if kind == b"*":
        if depth >= MAX_DEPTH:
            raise RedisProtocolError(f"array replies from Redis nest deeper than {MAX_DEPTH}")
        size = _length(rest, MAX_ITEMS, "array")
        return None if size < 0 else [await read_reply(reader, depth + 1, max_bulk) for _ in range(size)]
    try:
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisReplyError(rest.decode())
        if kind == b":":
            return int(rest)
    except ValueError:  # not UTF-8, not an integer
        raise RedisProtocolError(f"unreadable reply from Redis: {line[:40]!r}") from None
    raise RedisProtocolError(f"unexpected reply from Redis: {line[:40]!r}")


async def _bulk(reader: asyncio.StreamReader, rest: bytes, max_bulk: int) -> str | None:
    size = _length(rest, max_bulk, "bulk string")
    if size < 0:
        return None
    data = await reader.readexactly(size + 2)
    if not data.endswith(b"\r\n"):
        raise RedisProtocolError("a bulk string from Redis does not end with CRLF")
    try:
        return data[:-2].decode()
    except ValueError:
        raise RedisProtocolError("a bulk string from Redis is not UTF-8") from None


class RedisClient:
    """A small pool of connections; every call is bounded by `timeout`, every reply by `max_bulk` per string."""

    def __init__(self, url: str, timeout: float = 0.5, pool_size: int = 16, max_bulk: int = MAX_BULK) -> None:
        self.address = RedisAddress.parse(url)
        self.timeout = timeout
        self.max_bulk = max_bulk
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
        try:
            for command in setup:
                writer.write(encode(command))
                reply = await read_reply(reader)
                if isinstance(reply, RedisReplyError):
                    raise RedisUnavailable(f"Redis refused {command[0]}: {reply}")
        except BaseException:
            writer.close()  # a connection that failed its setup is never kept, nor left open
            raise
        return reader, writer

    def _take(self) -> Connection | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections belong to the loop that opened them
            for _, writer in self._idle:
                with contextlib.suppress(RuntimeError):  # a closed loop refuses even abort(): drop the socket
                    writer.transport.abort()  # the old loop may be gone: no flush, no callbacks on it
            self._idle.clear()
            self._loop = loop
        while self._idle:
            reader, writer = self._idle.popleft()
            if not (reader.at_eof() or writer.is_closing()):
                return reader, writer
            writer.close()  # dropped by Redis while idle
        return None

    async def call(self, *args: Arg, check: Callable[[Any], Any] | None = None) -> Any:
        """One command; `check` turns the reply into what the caller wants, or raises RedisProtocolError."""
        try:
            return await asyncio.wait_for(self._call(args, check), self.timeout)
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def _call(self, args: Sequence[Arg], check: Callable[[Any], Any] | None) -> Any:
        connection = self._take() or await self._connect()
        reader, writer = connection
        try:
            writer.write(encode(args))
            reply = await read_reply(reader, 0, self.max_bulk)
            if check is not None and not isinstance(reply, RedisReplyError):
                reply = check(reply)
        except BaseException:
            writer.close()  # a failed exchange leaves the connection in an unknown state: never reuse it
            raise
        if len(self._idle) < self._pool_size:
            self._idle.append(connection)
        else:
            writer.close()
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def run(
        self, script: Script, keys: Sequence[str], args: Sequence[Arg], check: Callable[[Any], Any] | None = None
    ) -> Any:
        """EVALSHA, loading the script with EVAL the first time a server lacks it."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args, check=check)
        except RedisReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.call("EVAL", script.source, len(keys), *keys, *args, check=check)
