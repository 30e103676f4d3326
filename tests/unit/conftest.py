"""The fixtures of the unit tests that drive the bridge over HTTP (their helpers: http_kit.py; the Cat: fake_cat.py).

A real Starlette app serves the `Bridge`'s routes; httpx drives it in process
(no Cat, no network). The limiter runs on a frozen clock, so every
`x-ratelimit-*` number is exact, and a slot is freed only by the pipeline
settling its lease (never by the lease expiring). Settings default to no
per-minute limit and a 3 s `request_timeout`, and the transports give up on
the app after 5 s, so a bridge that hangs fails a test instead of hanging it.
A test module may define its own fixture of the same name.
"""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio

from cat_openai_bridge.core.guards.limits import Limiter
from cat_openai_bridge.core.route_table import Bridge

from .fake_cat import BoundedTransport, FakeCat, StreamingASGITransport, app_of
from .http_kit import Clock, settings


@pytest.fixture
def cat() -> FakeCat:
    return FakeCat(settings())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bridge(cat: FakeCat, clock: Clock) -> Bridge:
    return Bridge(cat, Limiter(clock=clock))


@pytest_asyncio.fixture
async def client(bridge: Bridge):
    async with httpx.AsyncClient(
        transport=BoundedTransport(httpx.ASGITransport(app=app_of(bridge))), base_url="http://bridge"
    ) as c:
        yield c


@pytest_asyncio.fixture
async def streaming(bridge: Bridge):
    """A client that reads a stream while it runs, and may leave it midway."""
    async with httpx.AsyncClient(transport=StreamingASGITransport(app_of(bridge)), base_url="http://bridge") as c:
        yield c
