"""What the unit tests that drive the bridge over HTTP share (their fixtures are in conftest.py): credentials,
settings and a frozen clock, request bodies per protocol, the error bodies expected back, readers of answers and
streams, and scripted failures."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from cat_openai_bridge.core.config.settings import BridgeSettings
from cat_openai_bridge.core.turn import tokens
from cat_openai_bridge.core.turn.port import CatFailure
from testkit import contract

from .fake_cat import FakeCat

# Credentials: the Cat's API key as a bearer (OpenAI's SDKs), as x-api-key (Anthropic's)


GOOD = {"Authorization": "Bearer good"}
MASTER = {"Authorization": "Bearer master"}
KEY = {"x-api-key": "good", "anthropic-version": "2023-06-01"}


# Settings and time


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(**values: Any) -> BridgeSettings:
    return BridgeSettings(**{"rate_limit_per_minute": 0, "request_timeout": 3.0, **values})


def limit(cat: FakeCat, **values: Any) -> None:
    cat.settings = settings(**values)


async def wait_for(condition, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")


# Requests, per protocol


def chat(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat", "messages": [{"role": "user", "content": text}], **extra}


def responses(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat", "input": text, **extra}


def embeddings(*texts: str) -> dict[str, Any]:
    return {"model": "any", "input": list(texts)}


def prompt_cost(text: str = "Hi") -> int:
    """What admission reserves for `chat(text)`: OpenAI's estimate of its prompt."""
    return tokens.count_chat([("user", text)])


def complete(prompt: Any = "Say hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat", "prompt": prompt, **extra}


async def post_completion(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    response = await client.post("/v1/completions", json=body, headers=GOOD)
    checker = contract.checker_for(
        "POST", "/custom/v1/completions", response.status_code, response.headers["content-type"]
    )
    assert checker is not None
    checker.feed(response.content)
    checker.finish()
    return response


def ask(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat", "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}


# What comes back


REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")
DONE = b"data: [DONE]\n\n"
INTERNAL = "The bridge hit an internal error; see the Cat's log."


def error(
    message: str, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def cat_error(message: str) -> dict[str, Any]:
    return error(f"The Cat could not answer: {message}", "api_error", None, "cat_error")


INTERNAL_ERROR = error(INTERNAL, "server_error", None, "internal_error")


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def assert_request_id(response: httpx.Response) -> str:
    request_id = response.headers.get("x-request-id", "")
    assert REQUEST_ID.fullmatch(request_id), f"no request id on a {response.status_code}: {response.headers}"
    return request_id


def sse(raw: bytes) -> list[tuple[str, Any]]:
    """(event name, data) per event: JSON data parsed, `[DONE]` kept as is, comments skipped."""
    out: list[tuple[str, Any]] = []
    for block in raw.decode("utf-8").split("\n\n"):
        name, data = "", None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        if data is not None:
            out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


def deltas(raw: bytes) -> list[tuple[dict[str, Any], str | None]]:
    """(delta, finish_reason) of each chat chunk that has a choice."""
    return [
        (data["choices"][0]["delta"], data["choices"][0]["finish_reason"])
        for _, data in sse(raw)
        if isinstance(data, dict) and data.get("choices")
    ]


def chunks(raw: bytes) -> list[Any]:
    return [
        block[len("data: ") :] if block == "data: [DONE]" else json.loads(block[len("data: ") :])
        for block in raw.decode().split("\n\n")
        if block
    ]


def events(raw: bytes) -> list[tuple[str, Any]]:
    """(event name, JSON) of each SSE event, after the whole stream passed Anthropic's contract."""
    checker = contract.checker_for("POST", "/custom/v1/messages", 200, "text/event-stream")
    assert checker is not None
    checker.feed(raw)
    checker.finish()
    out = []
    for block in raw.decode().split("\n\n"):
        if block:
            name, data = block.split("\n")
            out.append((name[len("event: ") :], json.loads(data[len("data: ") :])))
    return out


def text_of(stream: list[tuple[str, Any]]) -> list[str]:
    return [e["delta"]["text"] for name, e in stream if name == "content_block_delta" and "text" in e["delta"]]


class Reader:
    """Reads a streaming response a piece at a time (httpx lets a body be iterated only once)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_raw()
        self.seen = b""

    async def until(self, needle: bytes) -> bytes:
        """Read until `needle` has arrived (and no further)."""
        async for chunk in self._chunks:
            self.seen += chunk
            if needle in self.seen:
                return self.seen
        raise AssertionError(f"the stream ended without {needle!r}: {self.seen!r}")

    async def rest(self) -> bytes:
        async for chunk in self._chunks:
            self.seen += chunk
        return self.seen


# Scripted failures


def _fail(cat: FakeCat) -> None:
    cat.script("Hel", "lo", CatFailure("LLM down"))


def _fail_at_once(cat: FakeCat) -> None:
    cat.script(CatFailure("LLM down"))


def _explode(cat: FakeCat) -> None:
    cat.script("Hel", RuntimeError("secret detail"))
