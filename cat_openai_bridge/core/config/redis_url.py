"""A Redis URL, checked whole: what `redis_url` may say, for the settings and the Redis client alike."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


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
        """`redis[s]://[[user]:password@]host[:port][/db]`; anything else raises ValueError saying what is wrong."""
        parts = urlsplit(url)  # raises ValueError for a broken IPv6 host such as `redis://[::1`
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("it must start with redis:// or rediss://")
        if parts.query or parts.fragment:
            raise ValueError("query strings and fragments are not supported (put the database number in the path)")
        try:
            port = parts.port  # raises ValueError for `redis://host:notaport` and ports out of range
            if port == 0:
                raise ValueError
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError("it names no host")
        db = parts.path[1:] if parts.path.startswith("/") else parts.path
        if db and not (db.isascii() and db.isdigit() and int(db) < 2**31):
            raise ValueError(f"the path must be a database number, e.g. /0 (got /{db})")
        return cls(
            parts.hostname,
            port or 6379,
            int(db) if db else 0,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            parts.scheme == "rediss",
        )
