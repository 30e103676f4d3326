"""LangChain's ChatOpenAI and OpenAIEmbeddings pointed at the bridge: invoke, stream, batch, embed."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from testkit.cat_v2 import use_llm
from testkit.scripted_llm import fake_embedding
from testkit.tiktoken_cache import offline_cache

from .conftest import KEY


@pytest.fixture
def chat(base_url) -> ChatOpenAI:
    return ChatOpenAI(base_url=base_url, api_key=KEY, model="cheshire-cat", max_retries=0, temperature=0.2)


def test_invoke_with_history(chat, llm_log):
    reply = chat.invoke([SystemMessage("Be a cat."), HumanMessage("hi"), AIMessage("Echo: hi"), HumanMessage("again")])
    assert reply.content == "Echo: again"
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.usage_metadata["total_tokens"] > 0
    assert [m["role"] for m in llm_log()[-1]["body"]["messages"]] == ["system", "user", "assistant", "user"]


def test_stream_token_by_token(chat):
    chunks = [c.content for c in chat.stream("[[tokens:6]] [[delay:5]]")]
    assert [c for c in chunks if c] == [f" t{i}" for i in range(6)]


def test_batch(chat):
    replies = chat.batch(["one", "two", "three"])
    assert [r.content for r in replies] == ["Echo: one", "Echo: two", "Echo: three"]


def test_stream_ignores_heartbeats(settings, chat):
    settings(stream_heartbeat_seconds=0.1)
    assert "".join(c.content for c in chat.stream("[[tokens:3]] [[delay:400]]")) == " t0 t1 t2"


@pytest.mark.v2_only  # configures the v2 embedder
def test_embeddings_send_token_arrays_and_get_the_cats_vectors(cat, llm, base_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(offline_cache(tmp_path / "tiktoken")))  # LangChain tokenizes
    use_llm(cat.url, llm.url, api_key=KEY, embedder="openai_compatible:scripted-embed")
    try:
        embedder = OpenAIEmbeddings(base_url=base_url, api_key=KEY, model="text-embedding-3-small", max_retries=0)
        vectors = embedder.embed_documents(["a cat", "a dog"])
        assert vectors == [pytest.approx(fake_embedding("a cat")), pytest.approx(fake_embedding("a dog"))]
        assert embedder.embed_query("a cat") == pytest.approx(vectors[0])
    finally:
        use_llm(cat.url, llm.url, api_key=KEY)
