"""/v1/embeddings through the Cat's own embedder, with the real openai SDK."""

from __future__ import annotations

import base64
import hashlib
import struct

import openai
import pytest

from testkit.cat_v2 import use_llm

from .conftest import KEY, count_tokens, encode_tokens

pytestmark = pytest.mark.v2_only

EMBEDDER = "openai_compatible:scripted-embed"


def expected(text: str) -> list:
    """What the scripted server's embedder returns (testkit.scripted_llm.fake_embedding)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [digest[i] / 255 for i in range(8)]


@pytest.fixture
def cat_embedder(cat, llm):
    use_llm(cat.url, llm.url, api_key=KEY, embedder=EMBEDDER)
    yield
    use_llm(cat.url, llm.url, api_key=KEY)


def test_sdk_embeddings_float_and_base64(client, cat_embedder, llm_log):
    result = client.embeddings.create(model="text-embedding-3-small", input=["hello cat", "second"])
    assert result.model == EMBEDDER
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx(expected("hello cat"))
    assert result.data[1].embedding == pytest.approx(expected("second"))
    assert result.usage.prompt_tokens == result.usage.total_tokens == count_tokens("hello cat") + count_tokens("second")
    raw = client.embeddings.with_raw_response.create(model="x", input="hello cat", encoding_format="base64")
    packed = raw.http_response.json()["data"][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(packed))) == pytest.approx(expected("hello cat"), abs=1e-6)
    assert client.embeddings.create(model="x", input="hello cat").data[0].embedding == pytest.approx(
        expected("hello cat")
    )


def test_token_array_inputs_are_decoded(http, cat_embedder):
    ids = encode_tokens("hello cat")
    body = http.post("/custom/v1/embeddings", json={"model": "m", "input": [ids, ids]}).json()
    assert body["data"][1]["embedding"] == pytest.approx(expected("hello cat"))


@pytest.mark.parametrize(
    "body, param, code",
    [
        ({"model": "m", "input": []}, "input", "empty_array"),
        ({"model": "m", "input": ""}, "input", "invalid_value"),
        ({"model": "m", "input": ["a", ""]}, "input.[1]", "invalid_value"),
        ({"model": "m", "input": "a", "encoding_format": "int8"}, "encoding_format", "invalid_value"),
        ({"model": "m", "input": "a", "dimensions": 0}, "dimensions", "invalid_value"),
        ({"model": "m", "input": [[10**9]]}, "input", "invalid_value"),
        ({"input": "a"}, "model", "missing_required_parameter"),
    ],
)
def test_bad_embedding_requests(http, body, param, code):
    response = http.post("/custom/v1/embeddings", json=body)
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)


def test_embedder_failure_is_502_and_a_hang_is_504(http, cat_embedder, settings):
    failed = http.post("/custom/v1/embeddings", json={"model": "m", "input": ["fine", "[[fail:status:500]]"]})
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "cat_error"
    settings(request_timeout=1)
    hung = http.post("/custom/v1/embeddings", json={"model": "m", "input": "[[hang]]"})
    assert hung.status_code == 504 and hung.json()["error"]["code"] == "timeout"


def test_many_inputs_keep_their_order(client, cat_embedder):
    texts = [f"text number {i}" for i in range(40)]
    result = client.embeddings.create(model="m", input=texts)
    assert [d.embedding for d in result.data] == [pytest.approx(expected(t)) for t in texts]


def test_an_unconfigured_embedder_is_a_400_saying_how_to_set_one_not_a_fake_vector(http, client, llm_log):
    health = http.get("/custom/health").json()
    assert (health["llm_configured"], health["embedder_configured"], health["embedder"]) == (True, False, None)
    response = http.post("/custom/v1/embeddings", json={"model": "m", "input": "a"})
    assert response.status_code == 400  # not a 5xx: clients retry those, and no retry can help
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "model",
        "embedder_not_configured",
    )
    assert "default_embedder" in error["message"] and "LLM_EMBEDDING_MODEL" in error["message"]
    with pytest.raises(openai.BadRequestError):  # raised at once: the SDK does not retry a 400
        client.with_options(max_retries=3).embeddings.create(model="m", input="a")
    assert llm_log() == []


def test_health_names_the_configured_embedder(http, cat_embedder):
    health = http.get("/custom/health").json()
    assert (health["embedder_configured"], health["embedder"]) == (True, EMBEDDER)


def test_dimensions_may_only_be_the_embedders_own_size(client, http, cat_embedder):
    result = client.embeddings.create(model="text-embedding-3-small", input="hello cat", dimensions=8)
    assert result.data[0].embedding == pytest.approx(expected("hello cat"))
    response = http.post("/custom/v1/embeddings", json={"model": "m", "input": "a", "dimensions": 1536})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": f"'dimensions' is 1536, but the Cat's embedder ({EMBEDDER}) makes vectors of 8 dimensions only: "
        "send 8 or leave it out.",
        "type": "invalid_request_error",
        "param": "dimensions",
        "code": "invalid_value",
    }
