"""/v1/embeddings on Cat v1: vectors from the embedder its memory uses (whatever the Cat chose)."""

from __future__ import annotations

import pytest

from .conftest import count_tokens


@pytest.fixture
def v1_only(http):
    if http.get("/custom/health").json()["adapter"] != "v1":
        pytest.skip("Cat v2 embeddings are tested in test_embeddings.py")


def test_v1_embedder_answers_through_the_sdk(v1_only, client):
    texts = ["a cat", "a dog", "a cat"]
    result = client.embeddings.create(model="text-embedding-3-small", input=texts)
    vectors = [d.embedding for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2] and len(set(map(len, vectors))) == 1 and len(vectors[0]) > 0
    assert vectors[0] == pytest.approx(vectors[2]) and vectors[0] != pytest.approx(vectors[1])
    assert result.model  # the embedder's class name, e.g. DumbEmbedder (v1's default)
    assert result.usage.prompt_tokens == sum(count_tokens(t) for t in texts)


def test_v1_dimensions_may_only_be_its_embedders_size(v1_only, client, http):
    health = http.get("/custom/health").json()
    assert (health["embedder_configured"], health["embedder"]) == (True, "DumbEmbedder")
    size = len(client.embeddings.create(model="m", input="a cat").data[0].embedding)
    assert len(client.embeddings.create(model="m", input="a cat", dimensions=size).data[0].embedding) == size
    response = http.post("/custom/v1/embeddings", json={"model": "m", "input": "a", "dimensions": size + 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("dimensions", "invalid_value")
    assert f"makes vectors of {size} dimensions only" in error["message"]
