"""Ollama's API with the real `ollama` client, on both Cats: chat whole and streamed, client tools (v2), embed, and the
model routes; its client parses every answer with its own types, and testkit/ollama_types.py checks no key is off."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import ollama
import pytest

from testkit import ollama_types
from testkit.cat_v2 import use_llm

from .conftest import KEY, cat_jwt, first_tokens

EMBEDDER = "openai_compatible:scripted-embed"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def host(cat) -> str:
    """The base URL an Ollama client is given: the key in its path."""
    return f"{cat.url}/custom/ollama/{KEY}"


@pytest.fixture
def client(host) -> Iterator[ollama.Client]:
    with ollama.Client(host=host, timeout=60) as c:
        yield c


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_chat_whole_and_streamed(client):
    whole = client.chat(model="cheshire-cat", messages=user("Hello Cat"), options={"num_ctx": 8192.0})
    assert (whole.message.role, whole.message.content, whole.done, whole.done_reason) == (
        "assistant",
        "Echo: Hello Cat",
        True,
        "stop",
    )
    assert whole.prompt_eval_count > 0 and whole.eval_count > 0
    parts = list(client.chat(model="cheshire-cat:latest", messages=user("Stream [[tokens:5]]"), stream=True))
    assert "".join(p.message.content or "" for p in parts) == " t0 t1 t2 t3 t4"
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done and parts[-1].done_reason == "stop"


def test_generate_and_the_cut(client):
    answer = client.generate(model="cheshire-cat", prompt="Count [[tokens:20]]", options={"num_predict": 3})
    full = "".join(f" t{i}" for i in range(20))
    assert (answer.response, answer.done_reason, answer.eval_count) == (first_tokens(full, 3), "length", 3)
    stopped = list(client.generate(model="cheshire-cat", prompt="[[tokens:9]]", options={"stop": [" t4"]}, stream=True))
    assert "".join(p.response for p in stopped) == " t0 t1 t2 t3"


def test_the_raw_stream_is_ndjson_the_client_types_read(cat):
    body = {"model": "cheshire-cat", "messages": user("Lines [[tokens:3]]")}
    response = httpx.post(f"{cat.url}/custom/ollama/api/chat", json=body, auth=("any", KEY), timeout=60)
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = ollama_types.check_lines(response.content, "chat")
    assert "".join(line["message"]["content"] for line in lines) == " t0 t1 t2"


def test_credentials_a_user_jwt_in_the_path_and_none_is_refused(cat):
    mine = ollama.Client(host=f"{cat.url}/custom/ollama/{cat_jwt('ollama-user')}", timeout=60)
    assert mine.chat(model="cheshire-cat", messages=user("Hi")).message.content == "Echo: Hi"
    for host in (f"{cat.url}/custom/ollama", f"{cat.url}/custom/ollama/not-a-key"):
        with pytest.raises(ollama.ResponseError) as refused:
            ollama.Client(host=host, timeout=60).chat(model="cheshire-cat", messages=user("Hi"))
        assert refused.value.status_code == 401 and refused.value.error.startswith("Unauthorized")


def test_models_are_the_cats_and_pull_is_a_no_op_for_them(client, http, adapter):
    listed = [m.model for m in client.list().models]
    assert listed == [m["id"] + ":latest" for m in http.get("/custom/v1/models").json()["data"]]  # v2: its agents
    shown = client.show("cheshire-cat:latest")
    assert "completion" in shown.capabilities and ("tools" in shown.capabilities) == (adapter == "v2")
    assert client.pull("cheshire-cat").status == "success"
    with pytest.raises(ollama.ResponseError) as missing:
        client.pull("llama3.2")
    assert missing.value.status_code == 404 and "llama3.2" in missing.value.error
    assert httpx.get(f"{client._client.base_url}api/version").json() == {"version": "0.12.0"}


@pytest.mark.v2_only
def test_client_tools_round_trip_with_arguments_as_an_object(client, llm_log):
    messages = user('Weather in Rome? [[call:get_weather:{"city": "Rome"}]]')
    first = client.chat(model="cheshire-cat", messages=messages, tools=[WEATHER])
    calls = first.message.tool_calls
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [("get_weather", {"city": "Rome"})]
    # As Home Assistant answers it: the assistant's calls without content, the result without a call id or name.
    messages += [{"role": "assistant", "tool_calls": [c.model_dump() for c in calls]}]
    messages += [{"role": "tool", "content": "sunny, 24 C"}]
    streamed = list(client.chat(model="cheshire-cat", messages=messages, tools=[WEATHER], stream=True))
    assert "".join(p.message.content or "" for p in streamed) == "Tool said: sunny, 24 C"
    second = llm_log()[-1]["body"]["messages"]
    call = next(m for m in second if m.get("tool_calls"))["tool_calls"][0]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == ("get_weather", {"city": "Rome"})
    assert [m["content"] for m in second if m["role"] == "tool"] == ["sunny, 24 C"]


@pytest.mark.v2_only
def test_format_schema_is_a_structured_answer(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    answer = client.chat(model="cheshire-cat", messages=user("Where?"), format=schema)
    assert set(json.loads(answer.message.content)) == {"city"}


@pytest.fixture
def embedder(cat, llm, adapter) -> Iterator[None]:
    if adapter == "v1":
        yield  # v1's own embedder (DumbEmbedder)
        return
    use_llm(cat.url, llm.url, api_key=KEY, embedder=EMBEDDER)
    yield
    use_llm(cat.url, llm.url, api_key=KEY)


def test_embed_uses_the_cats_embedder(client, embedder, adapter):
    result = client.embed(model="nomic-embed-text", input=["a cat", "a dog", "a cat"])
    vectors = result.embeddings
    assert result.model == "nomic-embed-text" and len(vectors) == 3 and vectors[0] == vectors[2] != vectors[1]
    if adapter == "v2":  # the scripted embedder's vectors (testkit.scripted_llm.fake_embedding)
        digest = hashlib.sha256(b"a cat").digest()
        assert vectors[0] == pytest.approx([digest[i] / 255 for i in range(8)])
