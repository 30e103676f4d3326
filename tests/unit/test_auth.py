"""Who may call the bridge, who a turn runs as, and what that user may see: the pipeline on a fake Cat (conftest.py).

Every route but the health check needs the Cat's credentials (its API key, or a
Cat JWT as a bearer token) and the permission it names. A chat front end holds
the master key and names its users (`user_header`); the turn must then run as
that user in everything: housekeeping-prompt routing, `cat_why`, error details,
the conversation key.
"""

from __future__ import annotations

import json

import pytest

from cat_openai_bridge.core.turn.port import CatFailure

from .fake_cat import FakeCat
from .http_kit import GOOD as JWT_USER  # alice, an ordinary Cat user
from .http_kit import MASTER, assert_request_id, chat, embeddings, error, responses
from .http_kit import limit as configure

pytestmark = pytest.mark.asyncio


TITLE = "### Task:\nGenerate a concise title summarizing the chat history."
PROVIDER_SAYS = "Error code: 401 - invalid key sk-live-1234 at https://llm.internal:8443/v1"


NO_KEY = (
    "You didn't provide an API key. Send the Cat's API key or a Cat JWT in an Authorization header: "
    "'Authorization: Bearer YOUR_KEY'."
)


BAD_KEY = "Incorrect API key provided. Use the Cat's API key or a Cat JWT as the bearer token."


# Credentials, then permissions


PROTECTED = [
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/cheshire-cat", None),
    ("POST", "/v1/chat/completions", chat()),
    ("POST", "/v1/responses", responses()),
    ("POST", "/v1/embeddings", embeddings("a")),
    ("POST", "/custom/message", {"text": "Hi"}),
]


@pytest.mark.parametrize("method,path,body", PROTECTED, ids=[p for _, p, _ in PROTECTED])
async def test_missing_or_bad_credentials_are_401_invalid_api_key(client, cat, method, path, body):
    missing = await client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.json() == error(NO_KEY, code="invalid_api_key")
    assert_request_id(missing)
    for header in ("Bearer nope", "Basic Zm9vOmJhcg=="):
        bad = await client.request(method, path, json=body, headers={"Authorization": header})
        assert bad.status_code == 401
        assert bad.json() == error(BAD_KEY, code="invalid_api_key")
        assert_request_id(bad)
    assert cat.turns == [] and cat.embedded == []


@pytest.mark.parametrize(
    "method,path,body,access",
    [
        ("GET", "/v1/models", None, "models"),
        ("GET", "/v1/models/cheshire-cat", None, "models"),
        ("POST", "/v1/chat/completions", chat(), "chat"),
        ("POST", "/v1/responses", responses(), "chat"),
        ("POST", "/custom/message", {"text": "Hi"}, "chat"),
        ("POST", "/v1/embeddings", embeddings("a"), "embeddings"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None,
)
async def test_user_lacking_permission_is_403_naming_what_is_missing(client, cat, method, path, body, access):
    response = await client.request(method, path, json=body, headers={"Authorization": "Bearer weak"})
    assert response.status_code == 403
    assert response.json() == error(f"User 'weak' lacks the permission to {access}.", code="insufficient_permissions")
    assert_request_id(response)
    assert cat.turns == [] and cat.embedded == []


# Housekeeping prompts go around the agent for a front end only


@pytest.mark.parametrize(
    "headers,user_header,plain",
    [(JWT_USER, "", False), (MASTER, "", True), ({**MASTER, "X-User": "bob"}, "X-User", True)],
    ids=["jwt-user", "master-key", "delegated-user"],
)
async def test_only_a_front_end_may_send_housekeeping_prompts_around_the_agent(
    client, cat, headers, user_header, plain
):
    configure(cat, user_header=user_header)
    assert (await client.post("/v1/chat/completions", json=chat(TITLE), headers=headers)).status_code == 200
    responses = {"model": "cheshire-cat", "input": TITLE}
    assert (await client.post("/v1/responses", json=responses, headers=headers)).status_code == 200
    assert [t.plain for t in cat.turns] == [plain, plain]


# cat_why is for the Cat's admins, judged by who the turn runs as


async def test_cat_why_is_refused_for_a_user_the_master_key_acts_for(client, cat):
    asked = chat(cat_why=True)
    assert (await client.post("/v1/chat/completions", json=asked, headers=MASTER)).status_code == 200
    assert cat.turns[-1].why and cat.turns[-1].identity.is_admin
    configure(cat, user_header="X-User")
    delegated = await client.post("/v1/chat/completions", json=asked, headers={**MASTER, "X-User": "eve"})
    assert delegated.status_code == 403
    assert (delegated.json()["error"]["code"], delegated.json()["error"]["param"]) == (
        "insufficient_permissions",
        "cat_why",
    )
    configure(cat, trust_user_field=True)
    trusted = await client.post("/v1/chat/completions", json={**asked, "user": "eve"}, headers=MASTER)
    assert trusted.status_code == 403
    assert len(cat.turns) == 1  # the refused ones never reached the Cat


# A configured user_header that is missing never runs the turn as the admin


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/chat/completions", chat()),
        ("/v1/responses", {"model": "cheshire-cat", "input": "Hi"}),
        ("/custom/message", {"text": "Hi"}),
    ],
    ids=["chat", "responses", "message"],
)
async def test_a_master_key_turn_without_the_configured_user_header_is_400(client, cat, path, body):
    configure(cat, user_header="X-OpenWebUI-User-Id")
    for blank in ({}, {"X-OpenWebUI-User-Id": "  "}):
        response = await client.post(path, json=body, headers={**MASTER, **blank})
        assert response.status_code == 400
        assert response.json() == {
            "error": {
                "message": "This Cat runs master-key requests as the user named by the 'X-OpenWebUI-User-Id' header "
                "(setting user_header), and this request has none. Forward it from the front end (Open WebUI: "
                "ENABLE_FORWARD_USER_INFO_HEADERS=true); another application on the master key (n8n, a script) "
                "sends it with a user name of its own, or uses a Cat user's token instead; or clear user_header to "
                "run master-key requests as the Cat's admin.",
                "type": "invalid_request_error",
                "param": None,
                "code": "missing_user_header",
            }
        }
    assert cat.turns == []
    assert (await client.post(path, json=body, headers={**MASTER, "X-OpenWebUI-User-Id": "u1"})).status_code == 200
    assert (cat.turns[0].identity.user_id, cat.turns[0].identity.is_admin) == ("u1", False)
    assert (await client.post(path, json=body, headers=JWT_USER)).status_code == 200  # not a front end: no header


async def test_routes_without_a_turn_keep_the_master_key(client, cat):
    configure(cat, user_header="X-User")
    assert (await client.get("/v1/models", headers=MASTER)).status_code == 200
    embedded = await client.post("/v1/embeddings", json={"model": "any", "input": ["a"]}, headers=MASTER)
    assert embedded.status_code == 200


async def test_a_trusted_user_field_names_the_user_when_the_header_is_missing(client, cat):
    configure(cat, user_header="X-User", trust_user_field=True)
    response = await client.post("/v1/chat/completions", json=chat(user="carol"), headers=MASTER)
    assert response.status_code == 200 and cat.turns[0].identity.user_id == "carol"


# What the Cat's model provider said reaches admins and the log, never an ordinary caller


def _provider_fails(cat: FakeCat, stream: bool = False) -> None:
    failure = CatFailure("the agent 'default' failed", PROVIDER_SAYS)
    cat.script("Hel", failure) if stream else cat.script(failure)


async def test_a_provider_error_shows_a_request_id_to_users_and_the_details_to_admins(client, cat):
    _provider_fails(cat)
    user = await client.post("/v1/chat/completions", json=chat(), headers=JWT_USER)
    request_id = user.headers["x-request-id"]
    assert user.status_code == 502
    assert user.json()["error"] == {
        "message": "The Cat could not answer: the agent 'default' failed. The Cat's log has the details under "
        f"request id {request_id}.",
        "type": "api_error",
        "param": None,
        "code": "cat_error",
    }
    assert ("error", f"openai bridge: {request_id}: the agent 'default' failed: {PROVIDER_SAYS}") in cat.logs
    _provider_fails(cat)
    admin = await client.post("/v1/chat/completions", json=chat(), headers=MASTER)
    assert admin.json()["error"]["message"] == f"The Cat could not answer: the agent 'default' failed: {PROVIDER_SAYS}"
    configure(cat, user_header="X-User")
    _provider_fails(cat)
    delegated = await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "X-User": "bob"})
    assert "sk-live" not in delegated.text and delegated.headers["x-request-id"] in delegated.text


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
async def test_a_provider_error_mid_stream_hides_the_details_from_users(client, cat, path):
    _provider_fails(cat, stream=True)
    body = chat(stream=True) if "chat" in path else {"model": "cheshire-cat", "input": "Hi", "stream": True}
    response = await client.post(path, json=body, headers=JWT_USER)
    assert response.status_code == 200
    assert "sk-live" not in response.text and "llm.internal" not in response.text
    last = json.loads(response.text.strip().split("\n")[-1][len("data: ") :])
    error = last["error"] if "error" in last else last["response"]["error"]
    assert error["message"].endswith(f"under request id {response.headers['x-request-id']}.")


async def test_an_embedder_error_hides_the_details_from_users(client, cat):
    cat.embed_error = CatFailure("the Cat's embedder failed", PROVIDER_SAYS)
    response = await client.post("/v1/embeddings", json={"model": "any", "input": ["a"]}, headers=JWT_USER)
    assert response.status_code == 502 and "sk-live" not in response.text


# The conversation key belongs to the user


async def test_the_same_chat_id_from_two_users_gives_two_conversation_keys(client, cat):
    configure(cat, user_header="X-User")
    for user in ("ann", "ben", "ann"):
        headers = {**MASTER, "X-User": user, "X-OpenWebUI-Chat-Id": "chat-1"}
        assert (await client.post("/v1/chat/completions", json=chat(), headers=headers)).status_code == 200
    await client.post("/v1/chat/completions", json=chat(), headers=JWT_USER)  # derived from how the chat started
    await client.post("/v1/chat/completions", json=chat(), headers={**MASTER, "X-User": "ann"})
    ann, ben, ann_again, alice, ann_derived = (t.conversation_key for t in cat.turns)
    assert ann == ann_again and ann != ben
    assert ann.startswith("chat:") and ann.endswith(":chat-1") and len(ann) == len("chat:") + 16 + len(":chat-1")
    assert alice.startswith("derived:") and alice != ann_derived
