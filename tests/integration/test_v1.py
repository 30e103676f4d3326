"""What only the Cat v1 adapter does: private turns per request, its history setting, text only.

v1 keeps a conversation per user (its working memory); the bridge runs every
request on a private StrayCat, so concurrent requests of one user each get
their own answer and tokens, and by default the request's messages are the
whole conversation while the user's stored history stays untouched.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from testkit import sse

from .conftest import KEY, user_says

CHAT = "/custom/v1/chat/completions"
pytestmark = pytest.mark.v1_only


def as_user(cat, user_id: str) -> httpx.Client:
    """The master key acting as `user_id`: v1's own header for that, as on the Cat's routes."""
    return httpx.Client(base_url=cat.url, timeout=60, headers={"Authorization": f"Bearer {KEY}", "user_id": user_id})


def stored_history(cat, user_id: str) -> list:
    with as_user(cat, user_id) as c:
        response = c.get("/memory/conversation_history")
    assert response.status_code == 200, response.text
    return [(m["who"], m.get("text", m.get("message"))) for m in response.json()["history"]]


def text_of(content) -> str:
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def conversation_sent(call) -> list:
    """The LLM call's messages after the system prompt, as (role, text)."""
    return [(m["role"], text_of(m["content"])) for m in call["body"]["messages"][1:]]


def test_concurrent_requests_of_one_user_each_get_their_own_answer(cat):
    user = f"same-{uuid.uuid4().hex[:8]}"

    def ask(i: int) -> str:
        with as_user(cat, user) as c:
            response = c.post(
                CHAT,
                json={"model": "cheshire-cat", "messages": user_says(f"[[reply:answer {i} for you]] [[delay:30]]")},
            )
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, range(6)))
    assert answers == [f"answer {i} for you" for i in range(6)]
    assert stored_history(cat, user) == []  # default history: the requests', not the user's


def test_concurrent_streams_of_one_user_never_mix_tokens(cat):
    user = f"streams-{uuid.uuid4().hex[:8]}"

    def stream(i: int) -> list:
        with as_user(cat, user) as c:
            with c.stream(
                "POST",
                CHAT,
                json={
                    "model": "cheshire-cat",
                    "stream": True,
                    "messages": user_says(f"[[reply:a{i} b{i} c{i} d{i} e{i}]] [[delay:25]]"),
                },
            ) as r:
                assert r.status_code == 200
                events = sse.parse(r.iter_lines())
        return [e.json["choices"][0]["delta"].get("content") for e in events[1:-2]]

    with ThreadPoolExecutor(4) as pool:
        chunks = list(pool.map(stream, range(4)))
    assert chunks == [[f"a{i}", f" b{i}", f" c{i}", f" d{i}", f" e{i}"] for i in range(4)]


def episodic_texts(cat, user_id: str, text: str) -> list:
    """What v1's episodic memory holds for `user_id` near `text` (its own recall route)."""
    with as_user(cat, user_id) as c:
        response = c.get("/memory/recall", params={"text": text, "k": 10})
    assert response.status_code == 200, response.text
    return [m["page_content"] for m in response.json()["vectors"]["collections"]["episodic"]]


def test_concurrent_bridge_and_native_turns_keep_the_embedded_memory_whole(cat, llm_log):
    """24 concurrent turns, a third on v1's own /message: unserialised, the embedded Qdrant corrupts at once
    and every later turn fails (adapters/v1_threads.py); serialised, every turn and its memory are intact."""
    tag = uuid.uuid4().hex[:8]
    texts = {f"crowd{i}-{tag}": f"note {i} from crowd {tag} [[reply:ok {i}]] [[delay:50]]" for i in range(24)}

    def ask(user: str) -> str:
        with as_user(cat, user) as c:
            if int(user[5:].split("-")[0]) % 3 == 0:  # the Cat's own route, in its own thread pool
                response = c.post("/message", json={"text": texts[user]})
                assert response.status_code == 200, response.text
                return response.json()["text"]
            response = c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says(texts[user])})
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(ask, texts))
    assert answers == [f"ok {i}" for i in range(24)]
    calls = sorted((e for e in llm_log() if tag in str(e["body"]["messages"])), key=lambda e: e["received_at"])
    assert len(calls) == 24
    assert any(b["received_at"] < a["finished_at"] for a, b in zip(calls, calls[1:]))  # the LLM calls overlapped
    for user, text in texts.items():  # every message stored, each under its own user, and recall still works
        assert episodic_texts(cat, user, text) == [text]


def test_turns_hung_in_their_llm_never_block_the_next_one(cat, settings, llm_log):
    """v1 cannot stop a turn's thread: 12 turns abandoned at request_timeout keep theirs (their LLM never
    answers), and the next turn still gets one of its own at once."""
    settings(request_timeout=2)
    tag = uuid.uuid4().hex[:8]

    def hang(i: int) -> int:
        with as_user(cat, f"hung{i}-{tag}") as c:
            return c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says(f"{tag} [[hang]]")}).status_code

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(hang, range(12))) == [504] * 12
    deadline = time.monotonic() + 15
    while len([e for e in llm_log() if tag in str(e["body"]["messages"])]) < 12 and time.monotonic() < deadline:
        time.sleep(0.1)
    hung = [e for e in llm_log() if tag in str(e["body"]["messages"])]
    assert len(hung) == 12 and not any(e["finished_at"] for e in hung)  # every one reached its LLM, none answered
    with as_user(cat, f"next-{tag}") as c:
        answer = c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("after the hung ones")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Echo: after the hung ones"


def test_stream_is_one_chunk_per_llm_token_the_first_before_the_llm_finished(http, llm_log):
    with http.stream(
        "POST",
        CHAT,
        json={"model": "cheshire-cat", "stream": True, "messages": user_says("[[tokens:10]] [[delay:50]]")},
    ) as r:
        events = sse.parse(r.iter_lines())
    content = events[1:-2]
    assert [e.json["choices"][0]["delta"]["content"] for e in content] == [f" t{i}" for i in range(10)]
    call = llm_log()[-1]
    assert content[0].at < call["finished_at"]  # streamed as made, not replayed from the final answer


def test_request_history_is_the_conversation_and_the_stored_one_is_untouched(cat, llm_log):
    user = f"req-{uuid.uuid4().hex[:8]}"
    with as_user(cat, user) as c:
        first = c.post(
            CHAT,
            json={
                "model": "cheshire-cat",
                "messages": [
                    {"role": "user", "content": "first question"},
                    {"role": "assistant", "content": "first answer"},
                    {"role": "user", "content": "second question"},
                ],
            },
        )
        assert first.json()["choices"][0]["message"]["content"] == "Echo: second question"
        assert conversation_sent(llm_log()[-1]) == [
            ("user", "first question"),
            ("assistant", "first answer"),
            ("user", "second question"),
        ]
        c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("third question")})
    assert conversation_sent(llm_log()[-1]) == [("user", "third question")]  # nothing carried over
    assert stored_history(cat, user) == []


def test_server_history_keeps_the_users_conversation_in_the_cat(cat, llm_log, settings):
    settings(v1_history="server")
    user = f"srv-{uuid.uuid4().hex[:8]}"
    with as_user(cat, user) as c:
        c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says("one")}).raise_for_status()
        answer = c.post(
            CHAT,
            json={
                "model": "cheshire-cat",
                "messages": [  # only the last message counts
                    {"role": "user", "content": "ignored"},
                    {"role": "assistant", "content": "ignored too"},
                    {"role": "user", "content": "two"},
                ],
            },
        )
    assert answer.json()["choices"][0]["message"]["content"] == "Echo: two"
    assert conversation_sent(llm_log()[-1]) == [("user", "one"), ("assistant", "Echo: one"), ("user", "two")]
    assert stored_history(cat, user) == [("Human", "one"), ("AI", "Echo: one"), ("Human", "two"), ("AI", "Echo: two")]
    assert stored_history(cat, f"other-{user}") == []  # per user


def test_server_history_never_runs_a_turn_whose_client_left_while_it_waited(cat, llm_log, settings):
    """Server history runs one turn at a time per user. A turn queued behind a slow one, whose client
    got its 504 meanwhile, must not run late and leave a phantom exchange in the user's stored history."""
    settings(v1_history="server", request_timeout=1)
    user, tag = f"queued-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]

    def ask(text: str) -> int:
        with as_user(cat, user) as c:
            return c.post(CHAT, json={"model": "cheshire-cat", "messages": user_says(text)}).status_code

    slow, queued = f"slow {tag} [[tokens:4]] [[delay:500]]", f"queued {tag}"
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(ask, slow)
        deadline = time.monotonic() + 15  # the slow turn holds the user's conversation before the next is sent
        while not [e for e in llm_log() if f"slow {tag}" in str(e["body"]["messages"])] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.submit(ask, queued).result() == 504 and first.result() == 504
    deadline = time.monotonic() + 15  # the slow turn runs on to its end and is kept (v1 cannot stop it)
    while len(stored_history(cat, user)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # room for a late turn to show up, were it to run
    assert stored_history(cat, user) == [("Human", slow), ("AI", " t0 t1 t2 t3")]
    assert not [e for e in llm_log() if f"queued {tag}" in str(e["body"]["messages"])]


def test_images_are_a_clear_400(http):
    response = http.post(
        CHAT,
        json={
            "model": "cheshire-cat",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ],
                }
            ],
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Images are not supported on this Cat version: its pipeline takes text only "
            "(Cat v2 accepts images).",
            "type": "invalid_request_error",
            "param": "messages.[0].content.[1].type",
            "code": "unsupported_content",
        }
    }


def test_housekeeping_prompts_go_to_the_cats_llm_alone(cat, llm_log):
    user = f"task-{uuid.uuid4().hex[:8]}"
    prompt = "### Task: Generate a title for the chat."
    with as_user(cat, user) as c:
        response = c.post(
            CHAT,
            json={
                "model": "cheshire-cat",
                "messages": [{"role": "system", "content": "Be a pirate."}, {"role": "user", "content": prompt}],
            },
        )
    assert response.status_code == 200, response.text
    sent = llm_log()[-1]["body"]["messages"]
    assert [text_of(m["content"]) for m in sent] == [prompt]  # no agent prompt, no memory, no history
    assert stored_history(cat, user) == []


def v1_token(cat, username: str, permissions: dict) -> str:
    """A JWT for a new v1 user holding exactly `permissions`, from v1's own /users and /auth/token."""
    password = f"pw-{username}-secret"
    headers = {"Authorization": f"Bearer {KEY}"}
    httpx.post(
        cat.url + "/users/",
        headers=headers,
        timeout=30,
        json={"username": username, "password": password, "permissions": permissions},
    ).raise_for_status()
    return httpx.post(cat.url + "/auth/token", timeout=30, json={"username": username, "password": password}).json()[
        "access_token"
    ]


def test_each_route_asks_v1_for_its_own_permission(cat):
    """models: LLM READ; chat, /message and responses: CONVERSATION WRITE; embeddings: EMBEDDER READ."""
    tag = uuid.uuid4().hex[:6]
    reader = v1_token(cat, f"reader-{tag}", {"LLM": ["READ"]})
    writer = v1_token(cat, f"writer-{tag}", {"CONVERSATION": ["WRITE"]})
    calls = {
        "models": ("GET", "/custom/v1/models", None),
        "chat": ("POST", CHAT, {"model": "cheshire-cat", "messages": user_says("hi")}),
        "message": ("POST", "/custom/message", {"text": "hi"}),
        "responses": ("POST", "/custom/v1/responses", {"model": "cheshire-cat", "input": "hi"}),
        "embeddings": ("POST", "/custom/v1/embeddings", {"model": "any", "input": "hi"}),
    }

    def statuses(token: str) -> dict:
        with httpx.Client(base_url=cat.url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
            return {
                name: c.request(method, path, json=body).status_code for name, (method, path, body) in calls.items()
            }

    assert statuses(reader) == {"models": 200, "chat": 403, "message": 403, "responses": 403, "embeddings": 403}
    assert statuses(writer) == {"models": 403, "chat": 200, "message": 200, "responses": 200, "embeddings": 403}
    with httpx.Client(base_url=cat.url, timeout=30, headers={"Authorization": f"Bearer {reader}"}) as c:
        refused = c.post(CHAT, json=calls["chat"][2])
    assert refused.json() == {
        "error": {
            "message": "This Cat user lacks the CONVERSATION WRITE permission this route needs (v1 user permissions, "
            "PUT /users/{id}).",
            "type": "invalid_request_error",
            "param": None,
            "code": "insufficient_permissions",
        }
    }
    forged = reader[:-4] + ("AAAA" if not reader.endswith("AAAA") else "BBBB")  # a bad signature is no user at all
    with httpx.Client(base_url=cat.url, timeout=30, headers={"Authorization": f"Bearer {forged}"}) as c:
        assert c.post(CHAT, json=calls["chat"][2]).json()["error"]["code"] == "invalid_api_key"
