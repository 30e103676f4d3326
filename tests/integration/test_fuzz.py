"""Hostile input against the live bridge: every client mistake is a 4xx OpenAI error, never a 5xx.

Two generators: schemathesis from the Cat's own OpenAPI document (our routes
declare their bodies there), and hypothesis bodies built to break parsers
(wrong types, deep nesting, unicode, invalid UTF-8, null bytes, huge values).
FUZZ_EXAMPLES scales both (scripts/fuzz.sh runs a long campaign).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from testkit.cat_v2 import use_llm

from .conftest import BASE_SETTINGS, KEY

pytestmark = pytest.mark.v2_only

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
CHAT = "/custom/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {KEY}"}
FUZZ = hsettings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_RANDOM"),
                 suppress_health_check=list(HealthCheck))


STATUSES: Counter = Counter()  # what the campaign saw, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def tally(request) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nfuzz: {sum(STATUSES.values())} requests, statuses {dict(sorted(STATUSES.items()))}")


def assert_openai_error_or_answer(response: httpx.Response) -> None:
    STATUSES[response.status_code] += 1
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
    elif response.headers["content-type"].startswith("application/json"):
        assert "error" not in response.json()


@pytest.fixture(scope="module")
def bridge_schema(cat, llm):
    use_llm(cat.url, llm.url, api_key=KEY, embedder="openai_compatible:scripted-embed")  # embeddings can answer
    yield _schema(cat)
    use_llm(cat.url, llm.url, api_key=KEY)


def _schema(cat):
    document = httpx.get(cat.url + "/openapi.json", timeout=30).json()
    document["paths"] = {path: ops for path, ops in document["paths"].items()
                         if path.startswith("/custom/") and not path.startswith("/custom/probe")}
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=cat.url, headers=AUTH)
    return schema


def test_openapi_contract_never_5xx(bridge_schema):
    """Every operation of ours, with bodies generated from its declared schema (positive and negative)."""
    operations = [result.ok() for result in bridge_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/custom/v1/chat/completions", "/custom/message", "/custom/v1/models"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @FUZZ
        def check(case) -> None:
            if isinstance(case.body, dict) and case.body.get("stream") is True:
                case.body["stream"] = False  # a stream's status is 200 before the turn: see the faults tests
            response = case.call(timeout=30)
            STATUSES[response.status_code] += 1
            assert response.status_code < 500, (case.path, case.body, response.text[:500])
            if response.status_code >= 400 and case.path.startswith("/custom/v1"):
                assert set(response.json()["error"]) == {"message", "type", "param", "code"}

        check()


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=50))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)


def message_like() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool", "bogus", 7]),
                                  "content": json_values}, optional={"tool_calls": json_values, "name": json_values})


body_like = st.fixed_dictionaries(
    {"model": st.one_of(st.just("cheshire-cat"), json_values), "messages": st.lists(message_like(), max_size=4)},
    optional={"stream": json_values, "max_tokens": json_values, "stop": json_values, "n": json_values,
              "temperature": json_values, "stream_options": json_values, "tools": json_values,
              "user": json_values, "extra_field": json_values},
)


@given(body_like)
@FUZZ
def test_mutated_chat_bodies(cat, body):
    body["stream"] = False if body.get("stream") is True else body.get("stream", False)
    assert_openai_error_or_answer(httpx.post(cat.url + CHAT, json=body, headers=AUTH, timeout=30))


@given(st.binary(max_size=300))
@FUZZ
def test_arbitrary_bytes(cat, raw):
    response = httpx.post(cat.url + CHAT, content=raw, headers={**AUTH, "content-type": "application/json"},
                          timeout=30)
    assert response.status_code == 400 or (response.status_code == 200 and raw.strip().startswith(b"{"))
    assert_openai_error_or_answer(response)


EXTREMES = {
    "deep_nesting": b'{"model": "m", "messages": ' + b"[" * 20000 + b"]" * 20000 + b"}",
    "invalid_utf8": b'{"model": "cheshire-cat", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "null_bytes": b'{"model": "cheshire-cat\x00", "messages": [{"role": "user", "content": "a\\u0000b"}]}',
    "lone_surrogate": b'{"model": "cheshire-cat", "messages": [{"role": "user", "content": "\\ud800"}]}',
    "huge_number": b'{"model": "cheshire-cat", "max_tokens": 1' + b"0" * 5000 + b', "messages": []}',
    "huge_string": json.dumps({"model": "x" * 3_000_000, "messages": []}).encode(),
    "ten_thousand_messages": json.dumps({"model": "cheshire-cat",
                                         "messages": [{"role": "user", "content": "hi"}] * 10_000}).encode(),
    "duplicate_keys": b'{"model": "cheshire-cat", "model": 5, "messages": [{"role": "user", "content": "x"}]}',
    "not_an_object": b'[1, 2, 3]',
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_bodies_are_4xx(cat, name):
    response = httpx.post(cat.url + CHAT, content=EXTREMES[name],
                          headers={**AUTH, "content-type": "application/json"}, timeout=60)
    STATUSES[response.status_code] += 1
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_the_server_still_answers_after_the_fuzzing(cat):
    response = httpx.post(cat.url + CHAT, headers=AUTH, timeout=30, json={
        "model": "cheshire-cat", "messages": [{"role": "user", "content": "still there?"}]})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Echo: still there?"
    assert httpx.put(cat.url + "/settings/cat_openai_bridge__config__openai_bridge", json=BASE_SETTINGS,
                     headers=AUTH).status_code == 200
