"""Ollama's API on the pipeline, against an in-process fake Cat (conftest.py): exact wire shapes, every body and line
also parsed with the `ollama` client's own types (testkit/ollama_types.py), Home Assistant's real requests
(tests/fixtures/home-assistant/), and credentials for clients without a key field."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from cat_openai_bridge.core.turn.conversation import ImagePart, TextPart, ToolCall
from cat_openai_bridge.core.turn.port import CatFailure, TurnResult
from testkit import ollama_types

from .fake_cat import Gate
from .http_kit import settings

pytestmark = pytest.mark.asyncio

BASE = "/custom/ollama/good"  # the base URL a client is given: the Cat credential in the path
HA = Path(__file__).resolve().parents[1] / "fixtures" / "home-assistant"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
NDJSON = "application/x-ndjson"
NO_KEY = (
    "Unauthorized: this Cat needs a key. Put the Cat's API key or a user's JWT in the base URL "
    "(http://host:1865/custom/ollama/<key>), or send it as a bearer token or basic-auth password."
)
BAD_KEY = "Unauthorized: the key is not a credential of this Cat (its API key or a user's JWT)."
LIGHT = {"name": "kitchen light"}


def ask(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "cheshire-cat:latest", "messages": [{"role": "user", "content": text}], "stream": False, **extra}


def home_assistant(name: str) -> dict[str, Any]:
    return json.loads((HA / name).read_text())


async def call(client: httpx.AsyncClient, path: str, body: Any = None, kind: str = "", base: str = BASE, **kw: Any):
    """POST (GET without a body) `base + path`; the answer checked as the `ollama` client reads it."""
    url = base + path
    response = await (client.post(url, json=body, **kw) if body is not None else client.get(url, **kw))
    kind = kind or path.rsplit("/", 1)[-1]
    if response.headers["content-type"].startswith(NDJSON):
        ollama_types.check_lines(response.content, kind)
    else:
        assert response.headers["content-type"] == "application/json"
        ollama_types.check(response.json(), kind)
    return response


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith(NDJSON), response.headers
    return [json.loads(line) for line in response.text.splitlines()]


def timed(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` without its clock: the timestamp checked for its form, durations for being whole nanoseconds."""
    out = dict(obj)
    assert STAMP.fullmatch(out.pop("created_at"))
    for key in ("total_duration", "eval_duration"):
        if key in out:
            assert isinstance(out.pop(key), int)
    return out


def done(content: str = "", reason: str = "stop", prompt: int = 10, completion: int = 3) -> dict[str, Any]:
    return {
        "model": "cheshire-cat:latest",
        "message": {"role": "assistant", "content": content},
        "done": True,
        "done_reason": reason,
        "prompt_eval_count": prompt,
        "eval_count": completion,
    }


def piece(content: str, **message: Any) -> dict[str, Any]:
    return {
        "model": "cheshire-cat:latest",
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


# Credentials: a client with no key field gives it in the URL


async def test_the_key_comes_in_the_path_as_basic_auth_or_as_a_bearer_and_never_by_default(client, cat):
    assert (await call(client, "/api/chat", ask())).status_code == 200
    assert (await call(client, "/api/chat", ask(), base="/custom/ollama", auth=("ha", "good"))).status_code == 200
    bearer = {"Authorization": "Bearer good"}
    assert (await call(client, "/api/chat", ask(), base="/custom/ollama", headers=bearer)).status_code == 200
    assert [t.identity.user_id for t in cat.turns] == ["alice"] * 3
    missing = await call(client, "/api/chat", ask(), base="/custom/ollama")
    assert (missing.status_code, missing.json()) == (401, {"error": NO_KEY})
    for base, extra in [("/custom/ollama/nope", {}), ("/custom/ollama", {"auth": ("ha", "nope")})]:
        wrong = await call(client, "/api/tags", base=base, **extra)
        assert (wrong.status_code, wrong.json()) == (401, {"error": BAD_KEY})
    # A bearer the client sends wins over the key in the path, as the Cat saw it first.
    mixed = await call(client, "/api/tags", headers={"Authorization": "Bearer nope"})
    assert mixed.status_code == 401
    assert len(cat.turns) == 3


async def test_version_is_public_and_tags_list_the_cats_models_with_their_tag(client, bridge):
    version = await call(client, "/api/version", base="/custom/ollama")
    assert version.json() == {"version": "0.12.0"}
    tags = (await call(client, "/api/tags")).json()
    modified = datetime.fromtimestamp(bridge.created, timezone.utc).isoformat().replace("+00:00", "Z")
    details = {"parent_model": "", "format": "cheshire-cat", "family": "cheshire-cat"}
    details |= {"families": ["cheshire-cat"], "parameter_size": "", "quantization_level": ""}
    name = "cheshire-cat:latest"
    digest = hashlib.sha256(name.encode()).hexdigest()
    listed = {"name": name, "model": name, "modified_at": modified, "size": 0, "digest": digest, "details": details}
    assert tags == {"models": [listed]}


async def test_show_and_pull_answer_for_a_model_the_cat_has_and_404_otherwise(client):
    shown = (await call(client, "/api/show", {"model": "cheshire-cat:latest"})).json()
    assert shown["capabilities"] == ["completion", "tools", "vision"]
    assert shown["model_info"] == {"general.architecture": "cheshire-cat", "general.basename": "cheshire-cat"}
    assert (await call(client, "/api/pull", {"model": "cheshire-cat", "stream": False})).json() == {"status": "success"}
    streamed = await call(client, "/api/pull", {"model": "cheshire-cat:latest"})
    assert lines(streamed) == [{"status": "success"}]
    for path in ("/api/pull", "/api/show"):
        unknown = await call(client, path, {"model": "llama3.2"})
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"error": "The model `llama3.2` does not exist or you do not have access to it."},
        )


# Chat


async def test_a_chat_answer_whole(client, cat):
    response = await call(client, "/api/chat", ask("Hello", keep_alive="5m", think=False, options={"num_ctx": 8192.0}))
    assert timed(response.json()) == done("Hello there!")
    assert cat.turns[0].conversation.last_user_text == "Hello"


async def test_a_chat_answer_streamed_as_ndjson_lines(client):
    response = await call(client, "/api/chat", ask("Hello", stream=True))
    assert [timed(line) for line in lines(response)] == [piece("Hello"), piece(" there!"), done()]


async def test_a_tool_call_has_its_arguments_as_an_object_streamed_or_not(client, cat):
    calls = (ToolCall("c1", "HassTurnOn", json.dumps(LIGHT)), ToolCall("c2", "Broken", "not json"))
    for _ in range(2):
        cat.script(TurnResult("", 5, tool_calls=calls))
    whole = (await call(client, "/api/chat", ask())).json()
    wanted = [
        {"function": {"name": "HassTurnOn", "arguments": LIGHT}},
        {"function": {"name": "Broken", "arguments": {"_raw": "not json"}}},
    ]
    assert timed(whole) == {
        **done(prompt=5, completion=whole["eval_count"]),
        "message": piece("", tool_calls=wanted)["message"],
    }
    streamed = [timed(line) for line in lines(await call(client, "/api/chat", ask(stream=True)))]
    assert streamed[:2] == [piece("", tool_calls=[wanted[0]]), piece("", tool_calls=[wanted[1]])]
    assert streamed[2]["done"] and streamed[2]["done_reason"] == "stop"


@pytest.mark.parametrize("name", sorted(p.name for p in HA.glob("chat-*.json")))
async def test_home_assistants_requests_reach_the_cat_as_its_conversation_and_tools(client, cat, name):
    body = home_assistant(name)
    response = await call(client, "/api/chat", body)
    assert response.status_code == 200, response.text
    turn = cat.turns[0]
    assert [t.name for t in turn.tools] == [t["function"]["name"] for t in body["tools"]]
    assert turn.conversation.system == body["messages"][0]["content"]  # the entities Home Assistant exposes
    roles = [(t.role, t.tool_calls, t.tool_call_id) for t in turn.conversation.turns]
    if "after-tool" not in name:
        assert roles == [("user", (), None)]
        return
    assert roles == [
        ("user", (), None),
        ("assistant", (ToolCall("call_2_0", "HassTurnOn", json.dumps(LIGHT)),), None),
        ("tool", (), "call_2_0"),
    ]
    assert turn.conversation.turns[-1].text == body["messages"][-1]["content"]


async def test_tool_results_answer_the_calls_before_them_in_order_or_by_name(client, cat):
    called = {"role": "assistant", "tool_calls": [{"function": {"name": n, "arguments": {}}} for n in ("a", "b")]}
    body = ask(messages=[{"role": "user", "content": "go"}, called, {"role": "tool", "tool_name": "b", "content": "B"}])
    body["messages"].append({"role": "tool", "content": "A"})
    assert (await call(client, "/api/chat", body)).status_code == 200
    results = [(t.tool_call_id, t.text) for t in cat.turns[0].conversation.turns if t.role == "tool"]
    assert results == [("call_1_1", "B"), ("call_1_0", "A")]
    body["messages"].append({"role": "tool", "content": "one too many"})
    extra = await call(client, "/api/chat", body)
    assert extra.status_code == 400 and extra.json()["error"].startswith("A 'tool' message must answer a tool call")


async def test_a_cat_without_client_tools_refuses_them(client, cat):
    cat.supports_client_tools = False
    refused = await call(client, "/api/chat", home_assistant("chat-2025.4.4.json"))
    assert refused.status_code == 400 and "Client-declared tools are not supported" in refused.json()["error"]


async def test_images_are_read_from_bare_base64(client, cat):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 8).decode()
    body = ask(messages=[{"role": "user", "content": "What is it?", "images": [png]}])
    assert (await call(client, "/api/chat", body)).status_code == 200
    assert cat.turns[0].conversation.turns[0].parts == [TextPart("What is it?"), ImagePart("image/png", png)]


# The answer's form and its cut


async def test_format_json_or_a_schema_is_the_structured_output_path(client, cat):
    cat.script('{"on": true}', TurnResult('{"on": true}', 4))
    schema = {"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]}
    answer = await call(client, "/api/chat", ask(format=schema))
    assert answer.json()["message"]["content"] == '{"on": true}'
    assert '"required":["on"]' in cat.turns[0].instructions
    cat.script("not json", TurnResult("not json", 4))
    cat.script("still not", TurnResult("still not", 4))
    failed = await call(
        client, "/api/generate", {"model": "cheshire-cat", "prompt": "x", "format": "json", "stream": False}
    )
    assert failed.status_code == 400 and failed.json()["error"].startswith("The Cat's answer does not have the form")
    bad = await call(client, "/api/chat", ask(format={"type": "nonsense"}))
    assert bad.status_code == 400 and list(bad.json()) == ["error"]


async def test_num_predict_and_stop_are_the_cut(client):
    cut = await call(client, "/api/chat", ask(options={"num_predict": 1.0}))
    assert timed(cut.json()) == done("Hello", "length", completion=1)
    stopped = await call(client, "/api/chat", ask(stream=True, options={"stop": [" there"]}))
    assert [timed(line)["message"]["content"] for line in lines(stopped)] == ["Hello", ""]
    unbounded = await call(client, "/api/chat", ask(options={"num_predict": -1}))
    assert unbounded.json()["message"]["content"] == "Hello there!"


# Generate and embed


async def test_generate_answers_a_prompt_streamed_or_not(client, cat):
    body = {"model": "cheshire-cat", "prompt": "Hello", "system": "Be brief.", "stream": False}
    whole = (await call(client, "/api/generate", body)).json()
    assert timed(whole) == {
        "model": "cheshire-cat",
        "response": "Hello there!",
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 10,
        "eval_count": 3,
    }
    assert cat.turns[0].conversation.system == "Be brief."
    streamed = lines(await call(client, "/api/generate", {**body, "stream": True}))
    assert [line["response"] for line in streamed] == ["Hello", " there!", ""] and streamed[-1]["done"]
    fim = await call(client, "/api/generate", {**body, "suffix": "end"})
    assert fim.status_code == 400


async def test_embed_uses_the_cats_embedder(client, cat):
    one = (await call(client, "/api/embed", {"model": "nomic-embed-text", "input": "hello"})).json()
    assert isinstance(one.pop("total_duration"), int)
    assert one == {"model": "nomic-embed-text", "embeddings": [[5.0, 0.5]], "load_duration": 0, "prompt_eval_count": 1}
    many = (await call(client, "/api/embed", {"model": "x", "input": ["a", "bb"]})).json()
    assert many["embeddings"] == [[1.0, 0.5], [2.0, 0.5]]
    cat.embedder_info = None
    none = await call(client, "/api/embed", {"model": "x", "input": "a"})
    assert none.status_code == 400 and none.json()["error"].startswith("The Cat has no embedder configured")


# Failures and waits


async def test_errors_are_ollamas_shape_before_and_during_a_stream(client, cat):
    invalid = await call(client, "/api/chat", {"model": "cheshire-cat", "messages": "hi"})
    assert invalid.status_code == 400 and list(invalid.json()) == ["error"]
    cat.script("Hel", CatFailure("LLM down"))
    broken = lines(await call(client, "/api/chat", ask(stream=True)))
    assert broken[-1] == {"error": "The Cat could not answer: LLM down"}
    assert [line["message"]["content"] for line in broken[:-1]] == ["Hel"]


async def test_a_heartbeat_is_an_empty_piece_of_the_answer(streaming, cat):
    cat.settings = settings(stream_heartbeat_seconds=0.05)
    gate = Gate()
    cat.script("Hel", gate, "lo", TurnResult("Hello", prompt_tokens=3))
    async with streaming.stream("POST", BASE + "/api/chat", json=ask(stream=True)) as response:
        seen = b""
        async for chunk in response.aiter_raw():
            seen += chunk
            if seen.count(b'"content":""') >= 2:
                gate.open()
    streamed = ollama_types.check_lines(seen, "chat")
    contents = [line["message"]["content"] for line in streamed]
    assert contents[0] == "Hel" and contents[-2:] == ["lo", ""] and set(contents[1:-2]) == {""}
