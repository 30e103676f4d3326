"""A front end's user is that user in everything: `cat_why`, the missing-header case, errors, the /message echo.

A chat front end holds the Cat's master key and names its users in `user_header`
(Open WebUI: X-OpenWebUI-User-Id). The turn then runs as that user, never as the
Cat's admin, whatever the request leaves out or adds.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from .conftest import KEY, cat_jwt, user_says

CHAT = "/custom/v1/chat/completions"
USER_HEADER = "X-OpenWebUI-User-Id"
REQUEST_ID = re.compile(r"req_[0-9a-f]{32}")
MASTER = {"Authorization": f"Bearer {KEY}"}


def model_of(adapter: str) -> str:
    return "probe" if adapter == "v2" else "cheshire-cat"


def as_front_end_user(name: str | None = None) -> dict[str, str]:
    return {**MASTER, USER_HEADER: name or f"ow-{uuid.uuid4().hex[:8]}"}


def test_cat_why_is_refused_for_a_user_the_front_end_acts_for(settings, http, adapter):
    settings(user_header=USER_HEADER)
    body = {"model": model_of(adapter), "messages": user_says("hi"), "cat_why": True}
    refused = http.post(CHAT, json=body, headers=as_front_end_user())
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == {
        "message": "'cat_why' shows the Cat's prompts and tool results, so only the Cat's admins may ask for it.",
        "type": "invalid_request_error",
        "param": "cat_why",
        "code": "insufficient_permissions",
    }
    settings()
    assert http.post(CHAT, json=body).status_code == 200  # the admin itself, by its master key


@pytest.mark.parametrize(
    "path,body",
    [
        (CHAT, {"model": "cheshire-cat", "messages": user_says("hi")}),
        ("/custom/v1/responses", {"model": "cheshire-cat", "input": "hi"}),
        ("/custom/message", {"text": "hi"}),
    ],
    ids=["chat", "responses", "message"],
)
def test_a_front_end_request_missing_its_user_header_never_runs_as_the_admin(settings, http, path, body):
    settings(user_header=USER_HEADER)
    refused = http.post(path, json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "missing_user_header"
    assert f"'{USER_HEADER}' header" in refused.json()["error"]["message"]
    assert http.post(path, json=body, headers=as_front_end_user()).status_code == 200
    assert http.get("/custom/v1/models").status_code == 200  # no turn, nobody's memory: the key is enough


@pytest.mark.v2_only  # the probe agent shows the key handed to memory plugins
def test_the_conversation_key_belongs_to_the_user(settings, http):
    settings(user_header=USER_HEADER)
    chat = re.compile(r"\[probe-chat:([^\]]*)\]")

    def key_of(user: str, chat_id: str) -> str:
        headers = {**as_front_end_user(user), "X-OpenWebUI-Chat-Id": chat_id}
        answer = http.post(CHAT, headers=headers, json={"model": "probe", "messages": user_says("[[system]]")})
        return chat.search(answer.json()["choices"][0]["message"]["content"]).group(1)

    ann, ben = f"ann-{uuid.uuid4().hex[:6]}", f"ben-{uuid.uuid4().hex[:6]}"
    assert key_of(ann, "chat-1") == key_of(ann, "chat-1")
    assert key_of(ann, "chat-1") != key_of(ben, "chat-1")  # the same chat id from two users: two conversations
    assert re.fullmatch(r"chat:[0-9a-f]{16}:chat-1", key_of(ann, "chat-1"))


def test_message_echoes_the_user_the_turn_ran_as(settings, http, adapter):
    name = f"dora-{uuid.uuid4().hex[:6]}"
    as_jwt_user = {"Authorization": f"Bearer {cat_jwt(name)}"}
    answer = http.post("/custom/message", json={"text": "hi", "user_id": "someone-else"}, headers=as_jwt_user)
    assert answer.status_code == 200
    assert answer.json()["user_id"] == (name if adapter == "v1" else str(uuid.uuid5(uuid.NAMESPACE_DNS, name)))
    settings(user_header=USER_HEADER)
    answer = http.post("/custom/message", json={"text": "hi", "user_id": "x"}, headers=as_front_end_user("erin"))
    assert answer.json()["user_id"] == "erin"


def _error_event(response: httpx.Response) -> dict:
    return json.loads([line for line in response.text.split("\n") if line.startswith("data: ")][-1][6:])["error"]


def test_what_the_llm_provider_said_reaches_admins_only(http):
    failing = {"model": "cheshire-cat", "messages": user_says("[[fail:status:400]]")}
    as_user = {"Authorization": f"Bearer {cat_jwt(f'fay-{uuid.uuid4().hex[:6]}')}"}
    user = http.post(CHAT, json=failing, headers=as_user)
    assert user.status_code == 502
    message = user.json()["error"]["message"]
    assert "scripted failure" not in message  # the provider's own error text
    assert message.endswith(f"The Cat's log has the details under request id {user.headers['x-request-id']}.")
    streamed = http.post(CHAT, json={**failing, "stream": True}, headers=as_user)
    assert "scripted failure" not in streamed.text
    assert REQUEST_ID.search(_error_event(streamed)["message"]).group(0) == streamed.headers["x-request-id"]
    admin = http.post(CHAT, json=failing)
    assert admin.status_code == 502 and "scripted failure" in admin.json()["error"]["message"]
