"""A real Cat v2 with the bridge, its LLM a scripted server; both on loopback."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import jwt
import openai
import pytest

from testkit.cat_v2 import put_bridge_settings, start_cat, use_llm
from testkit.processes import Server, start_scripted_llm

KEY = "test-master-key"
JWT_SECRET = "meow_jwt"  # the Cat's default JWT_SECRET
PROBE = Path(__file__).resolve().parent.parent / "cat_plugins" / "bridge_probe"

# Settings the suite runs under: no rate limit, so test volume never trips it.
BASE_SETTINGS = {"rate_limit_per_minute": 0}


@pytest.fixture(scope="session")
def llm(tmp_path_factory) -> Iterator[Server]:
    server = start_scripted_llm(tmp_path_factory.mktemp("llm"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cat(tmp_path_factory, llm) -> Iterator[Server]:
    server = start_cat(tmp_path_factory.mktemp("cat") / "project", api_key=KEY, extra_plugins=[PROBE])
    try:
        use_llm(server.url, llm.url, api_key=KEY)
        put_bridge_settings(server.url, BASE_SETTINGS, api_key=KEY).raise_for_status()
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(cat):
    """Change bridge settings for one test; the suite's settings come back after."""
    def apply(**values):
        response = put_bridge_settings(cat.url, {**BASE_SETTINGS, **values}, api_key=KEY)
        assert response.status_code == 200, response.text
    yield apply
    put_bridge_settings(cat.url, BASE_SETTINGS, api_key=KEY).raise_for_status()


@pytest.fixture
def base_url(cat) -> str:
    return cat.url + "/custom/v1"


@pytest.fixture
def client(base_url) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0) as c:
        yield c


@pytest.fixture
def aclient(base_url) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)


@pytest.fixture
def http(cat) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cat.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as c:
        yield c


@pytest.fixture
def llm_log(llm):
    """The scripted LLM's request log, emptied first so a test sees only its own calls."""
    httpx.delete(llm.url + "/_requests").raise_for_status()

    def read() -> list:
        return httpx.get(llm.url + "/_requests").json()
    return read


def cat_jwt(name: str, user_id: str | None = None) -> str:
    """A token as the Cat's own login flows mint it (same secret, claims, algorithm)."""
    claims = {"sub": user_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), "username": name, "roles": [],
              "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def user_says(text: str) -> list:
    return [{"role": "user", "content": text}]
