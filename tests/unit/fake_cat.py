"""An in-process `CatPort` whose turns a test scripts, the bridge's routes as a Starlette app, and a transport
that streams.

`FakeCat.script(...)` queues what the next turn does, step by step: a `str` is
a `TextDelta`, a `TurnResult` ends the turn, an exception is raised where it
stands, a `Gate` parks the turn until the test opens it (never: a hang). A
turn with nothing queued answers "Hello there!". Like the v2 adapter, it stops
when the core asks (`CatTurn.stop`, checked after each delta): the turn then
ends with its scripted result's prompt and the text it produced so far.

httpx's own `ASGITransport` runs the app to its end before handing the
response over, so a client can neither read a stream while it runs nor leave
it midway; `StreamingASGITransport` hands each body message over as the app
sends it, and a response closed early is a disconnect the app sees.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cat_openai_bridge.core.config.settings import BridgeSettings
from cat_openai_bridge.core.route_table import PREFIX, Bridge, Entry
from cat_openai_bridge.core.turn.port import (
    Access,
    CatTurn,
    EmbedderInfo,
    Forbidden,
    Identity,
    ModelCard,
    TextDelta,
    TurnEvent,
    TurnResult,
)

ALICE = Identity(user_id="alice", name="alice")
MASTER = Identity(user_id="admin", name="admin", is_admin=True, master_key=True)
DEFAULT_ANSWER = ("Hello", " there!", TurnResult("Hello there!", prompt_tokens=10))


class Gate:
    """A point a scripted turn stops at: `reached` once the turn gets there, it goes on once `open()`ed."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._opened = asyncio.Event()

    def open(self) -> None:
        self._opened.set()

    async def pass_through(self) -> None:
        self.reached.set()
        await self._opened.wait()


class FakeCat:
    name = "fake"
    supports_images = True
    supports_client_tools = True
    stops_turns = True

    def __init__(self, settings: BridgeSettings | None = None) -> None:
        self.settings = settings or BridgeSettings()
        self.turns: list[CatTurn] = []  # every turn that ran, in order
        self.finished = 0  # turns whose generator ended, however (answer, error, cancel, close)
        self.embedded: list[list[str]] = []
        self.embed_error: BaseException | None = None
        self.embedder_info: EmbedderInfo | None = EmbedderInfo("fake-embedder", 2)  # None: none configured
        self.vector_size = 2
        self.logs: list[tuple[str, str]] = []
        self.resolved = 0  # resolve_model calls: how far a request got into the pipeline
        self.stopped = 0  # turns that ended early because the core asked (an answer cut at max_tokens or stop)
        self._scripts: collections.deque[Sequence[Any]] = collections.deque()

    # What a test controls

    def script(self, *steps: Any) -> None:
        """What the next turn does (queued: one call per turn)."""
        self._scripts.append(steps)

    @property
    def running(self) -> int:
        return len(self.turns) - self.finished

    # CatPort

    def cat_version(self) -> str:
        return "0.0-fake"

    async def identify(self, request: Request, access: Access) -> Identity | None:
        auth = request.headers.get("authorization", "")
        if auth == "Bearer good":
            return ALICE
        if auth == "Bearer master":
            return MASTER
        if auth == "Bearer weak":
            raise Forbidden(f"User 'weak' lacks the permission to {access.value}.")
        return None

    def act_as(self, caller: Identity, label: str) -> Identity:
        return Identity(user_id=label, name=label, delegated=True)

    async def load_settings(self) -> BridgeSettings:
        return self.settings

    async def llm_configured(self) -> bool:
        return True

    async def list_models(self, settings: BridgeSettings) -> list[ModelCard]:
        return [ModelCard(id="cheshire-cat", owned_by="fake", description="The fake Cat")]

    async def resolve_model(self, model: str, settings: BridgeSettings) -> str | None:
        self.resolved += 1
        return {"cheshire-cat": "default"}.get(model)

    def run(self, turn: CatTurn) -> AsyncIterator[TurnEvent]:
        steps = self._scripts.popleft() if self._scripts else DEFAULT_ANSWER
        return self._play(turn, steps)

    async def _play(self, turn: CatTurn, steps: Sequence[Any]) -> AsyncIterator[TurnEvent]:
        self.turns.append(turn)
        produced = ""
        try:
            for index, step in enumerate(steps):
                if isinstance(step, str):
                    produced += step
                    yield TextDelta(step)
                    if self.stops_turns and turn.stop.is_set():
                        self.stopped += 1
                        yield _stopped(steps[index + 1 :], produced)
                        return
                elif isinstance(step, TurnResult):
                    yield step
                elif isinstance(step, Gate):
                    await step.pass_through()
                elif isinstance(step, BaseException):
                    raise step
                else:  # pragma: no cover - a mistake in a test's script
                    raise TypeError(f"unknown script step {step!r}")
        finally:
            self.finished += 1

    async def embedder(self) -> EmbedderInfo | None:
        return self.embedder_info

    async def embed(self, texts: list[str]) -> tuple[str, list[list[float]]]:
        self.embedded.append(list(texts))
        if self.embed_error is not None:
            raise self.embed_error
        return "fake-embedder", [[float(len(text))] + [0.5] * (self.vector_size - 1) for text in texts]

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))


def _stopped(rest: Sequence[Any], produced: str) -> TurnResult:
    """What a stopped turn reports: the prompt its script would have, the text produced until the stop."""
    scripted = next((step for step in rest if isinstance(step, TurnResult)), TurnResult("", 0))
    return TurnResult(produced, scripted.prompt_tokens, scripted.extra_completion_tokens)


def app_of(bridge: Bridge) -> Starlette:
    """The bridge's routes minus the Cat, from the one route table: each at the path the plugin serves it
    (/custom/...), and the OpenAI and Anthropic ones also at /v1/..., where the unit tests call them."""
    routes = []
    for entry in bridge.entries:
        paths = [PREFIX + entry.path, *([entry.path] if entry.path.startswith("/v1/") else [])]
        routes += [Route(path, _handler(bridge, entry), methods=[entry.method]) for path in paths]
    return Starlette(routes=routes)


def _handler(bridge: Bridge, entry: Entry):
    async def handle(request: Request) -> Response:
        return await bridge.serve(request, entry)

    return handle


PATIENCE = 5.0  # seconds a test waits for the app before calling it hung (a failure, never a hang)


class BoundedTransport(httpx.AsyncBaseTransport):
    """Another transport, with a bridge that hangs failing the test instead of hanging it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float = PATIENCE) -> None:
        self.inner = inner
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:  # noqa: C901 (one ASGI exchange)
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), self.seconds)
        except asyncio.TimeoutError:
            raise AssertionError(f"no response within {self.seconds:g} s: the app hung") from None


class _Body(httpx.AsyncByteStream):
    def __init__(self, chunks: asyncio.Queue[bytes | None], app: asyncio.Future[None], gone: asyncio.Event) -> None:
        self._chunks = chunks
        self._app = app
        self._gone = gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await asyncio.wait_for(self._chunks.get(), PATIENCE)
            except asyncio.TimeoutError:
                raise AssertionError(f"the stream sent nothing for {PATIENCE:g} s: the app hung") from None
            if chunk is None:
                return
            if chunk:
                yield chunk

    async def aclose(self) -> None:
        """The client is done: if the app is still sending, that is a disconnect; wait for the app to end."""
        if not self._app.done():
            self._gone.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._app), PATIENCE)
        except asyncio.TimeoutError:
            raise AssertionError("the app kept running after its client disconnected") from None


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """An ASGI transport that streams the response body, and turns an early close into `http.disconnect`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:  # noqa: C901 (one ASGI exchange)
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body = b"".join([part async for part in request.stream])
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 123),
            "root_path": "",
        }
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        gone = asyncio.Event()
        start: asyncio.Future[dict[str, Any]] = loop.create_future()
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.set_result(message)
            elif message["type"] == "http.response.body":
                if gone.is_set():
                    raise OSError("the client disconnected")
                chunks.put_nowait(message.get("body", b""))
                if not message.get("more_body", False):
                    chunks.put_nowait(None)

        async def serve() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                chunks.put_nowait(None)  # the body ends with the app, however it ends

        app = asyncio.ensure_future(serve())
        await asyncio.wait({start, app}, timeout=PATIENCE, return_when=asyncio.FIRST_COMPLETED)
        if not start.done() and not app.done():
            raise AssertionError(f"no response within {PATIENCE:g} s: the app hung")
        if not start.done():
            app.result()  # the app's own exception, if any
            raise AssertionError("the app ended without starting a response")
        message = start.result()
        return httpx.Response(message["status"], headers=message.get("headers", []), stream=_Body(chunks, app, gone))
