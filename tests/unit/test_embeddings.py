"""`/v1/embeddings` on a fake Cat (conftest.py): no embedder is a clear 400, and `dimensions` may only repeat the
embedder's size. How embeddings are charged against the token limit: test_limits.py."""

from __future__ import annotations

import httpx
import pytest

from cat_openai_bridge.core.turn.port import EmbedderInfo

from .http_kit import GOOD

pytestmark = pytest.mark.asyncio


async def embed(client: httpx.AsyncClient, **extra) -> httpx.Response:
    return await client.post("/v1/embeddings", json={"model": "any", "input": ["hi"], **extra}, headers=GOOD)


async def test_no_embedder_is_a_400_saying_how_to_configure_one(client, cat):
    cat.embedder_info = None
    response = await embed(client)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "model")
    assert error["code"] == "embedder_not_configured"
    assert "default_embedder" in error["message"] and "LLM_EMBEDDING_MODEL" in error["message"]
    assert "x-should-retry" not in response.headers and cat.embedded == []
    health = (await client.get("/custom/health")).json()
    assert (health["embedder_configured"], health["embedder"]) == (False, None)


async def test_health_names_the_embedder(client):
    health = (await client.get("/custom/health")).json()
    assert (health["embedder_configured"], health["embedder"]) == (True, "fake-embedder")


async def test_dimensions_equal_to_the_embedders_size_are_accepted(client, cat):
    response = await embed(client, dimensions=2)
    assert response.status_code == 200
    assert response.json()["data"][0]["embedding"] == [2.0, 0.5]


async def test_other_dimensions_are_a_400_naming_the_size_before_any_work(client, cat):
    response = await embed(client, dimensions=1536)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "'dimensions' is 1536, but the Cat's embedder (fake-embedder) makes vectors of 2 dimensions only: "
        "send 2 or leave it out.",
        "type": "invalid_request_error",
        "param": "dimensions",
        "code": "invalid_value",
    }
    assert cat.embedded == []


async def test_a_size_not_known_yet_is_checked_on_the_vectors(client, cat):
    cat.embedder_info = EmbedderInfo("fake-embedder", None)  # v2 learns the size from its first vectors
    cat.vector_size = 3
    wrong = await embed(client, dimensions=2)
    assert wrong.status_code == 400 and "makes vectors of 3 dimensions" in wrong.json()["error"]["message"]
    assert (await embed(client, dimensions=3)).status_code == 200
