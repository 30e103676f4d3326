"""Hostile input against the live bridge: every client mistake is a 4xx error object, never a 5xx.

OpenAI's shape on OpenAI's routes, Anthropic's on `/v1/messages`.

Two generators: schemathesis from the Cat's own OpenAPI document (our routes
declare their bodies there), and hypothesis bodies built to break parsers
(wrong types, deep nesting, unicode, invalid UTF-8, null bytes, huge values).
Streams are fuzzed too: a 200 stream must end with `[DONE]` after well-formed chunks.
FUZZ_EXAMPLES scales both (scripts/fuzz.sh runs a long campaign with random seeds).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from testkit.cat_v2 import use_llm

from .conftest import BASE_SETTINGS, HOSTILE_AUTH, KEY, put_settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
CHAT = "/custom/v1/chat/completions"
MESSAGES = "/custom/v1/messages"
POSTS = [CHAT, "/custom/v1/responses", "/custom/v1/embeddings", "/custom/message", "/custom/v1/completions", MESSAGES]
ANTHROPIC = (MESSAGES, MESSAGES + "/count_tokens")
AUTH = {"Authorization": f"Bearer {KEY}"}
FUZZ = hsettings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
)


STATUSES: Counter = Counter()  # what the campaign saw, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def tally(request) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        fives = sum(n for status, n in STATUSES.items() if status >= 500)
        print(f"\nfuzz: {sum(STATUSES.values())} requests, statuses {dict(sorted(STATUSES.items()))}, 5xx: {fives}")


def check_stream(text: str, path: str = CHAT) -> None:
    """A 200 stream: well-formed events, no error event; Chat Completions end with `[DONE]`, Responses with
    `response.completed` (or `response.incomplete` for a cut answer), Anthropic's Messages with `message_stop`."""
    events = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    assert events, text[-500:]
    if path in ANTHROPIC:
        types = [json.loads(event)["type"] for event in events]
        assert types[0] == "message_start" and types[-1] == "message_stop" and "error" not in types, types
        return
    if "event: " in text:  # Responses: typed events, no [DONE]
        types = [json.loads(event)["type"] for event in events]
        assert types[0] == "response.created" and types[-1] in ("response.completed", "response.incomplete"), types
        assert not {"response.failed", "error"} & set(types), types
        return
    assert events[-1] == "[DONE]", text[-500:]
    for event in events[:-1]:
        assert "error" not in json.loads(event), event


def check_error(path: str, body: dict) -> None:
    """An OpenAI error object (Anthropic's on its routes), never FastAPI's `detail`, never a trace."""
    if path in ANTHROPIC:
        assert set(body) == {"type", "error", "request_id"} and body["type"] == "error", body
        assert set(body["error"]) == {"type", "message"}, body
    elif path.startswith("/custom/ollama"):  # Ollama's: the message alone
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
        assert "Traceback" not in body["error"]
        return
    else:
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]


def check(path: str, status: int, content_type: str, text: str) -> None:
    STATUSES[status] += 1
    assert status < 500, (path, status, text[:500])
    if status >= 400:
        check_error(path, json.loads(text))
    elif content_type.startswith("text/event-stream"):
        check_stream(text, path)
    elif content_type.startswith("application/json"):
        assert json.loads(text).get("error") is None  # (a Responses object has `"error": null`)


def assert_openai_error_or_answer(response: httpx.Response) -> None:
    check(response.request.url.path, response.status_code, response.headers.get("content-type", ""), response.text)


@pytest.fixture(autouse=True)
def working_embedder(cat, llm, adapter) -> Iterator[None]:
    """Valid embeddings requests get vectors, not the 502 of the suite's unconfigured v2 embedder."""
    if adapter == "v2":
        use_llm(cat.url, llm.url, api_key=KEY, embedder="openai_compatible:scripted-embed")
    yield
    if adapter == "v2":
        use_llm(cat.url, llm.url, api_key=KEY)


@pytest.fixture
def bridge_schema(cat):
    return _schema(cat)


def _schema(cat):
    document = httpx.get(cat.url + "/openapi.json", timeout=30).json()
    document["paths"] = {
        path: ops
        for path, ops in document["paths"].items()
        if path.startswith("/custom/") and not path.startswith("/custom/probe")
    }
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=cat.url, headers=AUTH)
    return schema


def test_openapi_contract_never_5xx(bridge_schema):
    """Every operation of ours, with bodies generated from its declared schema (positive and negative)."""
    operations = [result.ok() for result in bridge_schema.get_all_operations()]
    assert {op.path for op in operations} >= {*POSTS, "/custom/v1/models", "/custom/health"}
    for operation in operations:
        if operation.method.upper() == "POST":  # our bodies are declared, not just FastAPI's empty default
            assert operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]["properties"]

        @given(case=operation.as_strategy())
        @FUZZ
        def run(case) -> None:
            # Off our routes, so the Cat's router answers: a model id with a "." or ".." segment (the HTTP client
            # resolves it away) or a newline inside (the router's `path` pattern stops at line ends).
            values = [unquote(str(value)) for value in (case.path_parameters or {}).values()]  # (sent encoded)
            assume(not any(part in (".", "..") for value in values for part in value.split("/")))
            assume(not any("\n" in value.rstrip("\n") for value in values))
            response = case.call(timeout=60)
            content_type = response.headers.get("content-type") or ""
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            check(case.path, response.status_code, content_type, response.text)

        run()


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
nice_text = st.text(min_size=1, max_size=40).filter(lambda t: "[[" not in t)  # no scripted-LLM directives


def message_like() -> st.SearchStrategy[Any]:
    content = st.one_of(
        nice_text,
        json_values,
        st.lists(
            st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"]), "text": json_values}),
            max_size=3,
        ),
    )
    return st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "developer", "assistant", "tool", "bogus", 7]), "content": content},
        optional={"tool_calls": json_values, "name": json_values, "tool_call_id": json_values},
    )


stream_flag = st.one_of(st.booleans(), json_values)


def anthropic_message_like() -> st.SearchStrategy[Any]:
    block = st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "document", "x"]), "text": json_values},
        optional={"source": json_values, "id": json_values, "input": json_values, "tool_use_id": json_values},
    )
    return st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "bogus", 7]),
            "content": st.one_of(nice_text, json_values, st.lists(block, max_size=3)),
        }
    )


BODIES = {
    CHAT: st.fixed_dictionaries(
        {"model": st.one_of(st.just("cheshire-cat"), json_values), "messages": st.lists(message_like(), max_size=4)},
        optional={
            "stream": stream_flag,
            "max_tokens": json_values,
            "stop": json_values,
            "n": json_values,
            "temperature": json_values,
            "stream_options": json_values,
            "tools": json_values,
            "tool_choice": json_values,
            "response_format": json_values,
            "user": json_values,
            "metadata": json_values,
            "extra_field": json_values,
        },
    ),
    "/custom/v1/responses": st.fixed_dictionaries(
        {
            "model": st.one_of(st.just("cheshire-cat"), json_values),
            "input": st.one_of(nice_text, json_values, st.lists(message_like(), max_size=3)),
        },
        optional={
            "stream": stream_flag,
            "instructions": json_values,
            "max_output_tokens": json_values,
            "text": json_values,
            "tools": json_values,
            "previous_response_id": json_values,
            "metadata": json_values,
            "extra_field": json_values,
        },
    ),
    "/custom/v1/embeddings": st.fixed_dictionaries(
        {"model": json_values, "input": st.one_of(nice_text, json_values, st.lists(st.integers(), max_size=5))},
        optional={
            "encoding_format": st.one_of(st.sampled_from(["float", "base64"]), json_values),
            "dimensions": json_values,
            "extra_field": json_values,
        },
    ),
    "/custom/message": st.fixed_dictionaries(
        {"text": st.one_of(nice_text, json_values)}, optional={"user_id": json_values, "extra_field": json_values}
    ),
    "/custom/v1/completions": st.fixed_dictionaries(
        {
            "model": st.one_of(st.just("cheshire-cat"), json_values),
            "prompt": st.one_of(
                nice_text, json_values, st.lists(nice_text, max_size=3), st.lists(st.integers(), max_size=5)
            ),
        },
        optional={
            "stream": stream_flag,
            "max_tokens": json_values,
            "stop": json_values,
            "echo": json_values,
            "suffix": json_values,
            "logprobs": json_values,
            "n": json_values,
            "extra_field": json_values,
        },
    ),
    MESSAGES: st.fixed_dictionaries(
        {
            "model": st.one_of(st.just("cheshire-cat"), json_values),
            "max_tokens": st.one_of(st.integers(min_value=1, max_value=200), json_values),
            "messages": st.lists(anthropic_message_like(), max_size=4),
        },
        optional={
            "stream": stream_flag,
            "system": json_values,
            "stop_sequences": json_values,
            "tools": json_values,
            "tool_choice": json_values,
            "metadata": json_values,
            "output_config": json_values,
            "extra_field": json_values,
        },
    ),
}


@pytest.mark.parametrize("route", POSTS)
def test_mutated_bodies(cat, route):
    @given(BODIES[route])
    @FUZZ
    def run(body) -> None:
        assert_openai_error_or_answer(httpx.post(cat.url + route, json=body, headers=AUTH, timeout=60))

    run()


@given(st.binary(max_size=300))
@FUZZ
def test_arbitrary_bytes(cat, raw):
    response = httpx.post(cat.url + CHAT, content=raw, headers={**AUTH, "content-type": "application/json"}, timeout=30)
    assert response.status_code == 400 or (response.status_code == 200 and raw.strip().startswith(b"{"))
    assert_openai_error_or_answer(response)


EXTREMES = {
    "deep_nesting": b'{"model": "m", "messages": ' + b"[" * 20000 + b"]" * 20000 + b"}",
    "deep_objects": b'{"model": "m", "input": ' + b'{"a":' * 20000 + b"1" + b"}" * 20000 + b"}",
    "invalid_utf8": b'{"model": "cheshire-cat", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "null_bytes": b'{"model": "cheshire-cat\x00", "messages": [{"role": "user", "content": "a\\u0000b"}]}',
    "lone_surrogate": b'{"model": "cheshire-cat", "messages": [{"role": "user", "content": "\\ud800"}]}',
    "huge_number": b'{"model": "cheshire-cat", "max_tokens": 1' + b"0" * 5000 + b', "messages": []}',
    "huge_float": b'{"model": "cheshire-cat", "temperature": 1e999, "messages": []}',
    "huge_string": json.dumps({"model": "x" * 3_000_000, "messages": []}).encode(),
    "ten_thousand_messages": json.dumps(
        {"model": "cheshire-cat", "messages": [{"role": "user", "content": "hi"}] * 10_000}
    ).encode(),
    "duplicate_keys": b'{"model": "cheshire-cat", "model": 5, "messages": [{"role": "user", "content": "x"}]}',
    "not_an_object": b"[1, 2, 3]",
    "bare_string": b'"hello"',
    "nan": b'{"model": "cheshire-cat", "temperature": NaN, "messages": [{"role": "user", "content": "x"}]}',
    "bom": b'\xef\xbb\xbf{"model": "cheshire-cat", "messages": []}',
    "empty": b"",
}
# Bodies that are fine JSON for one route may be valid for no other: only "is it a 4xx" is asked.


@pytest.mark.parametrize("route", POSTS)
@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_bodies_are_4xx(cat, route, name):
    response = httpx.post(
        cat.url + route, content=EXTREMES[name], headers={**AUTH, "content-type": "application/json"}, timeout=60
    )
    STATUSES[response.status_code] += 1
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    check_error(route, response.json())


@pytest.mark.parametrize("ids", [[100256], [100261, 5], [100277], [-1], [2**40], [[1, 2], [1, 100300]]])
def test_token_ids_outside_the_vocabulary_are_400(cat, ids):
    """Regression: on tiktoken 0.7 (the Cat v1 image's) an unknown id panicked past every handler: a bare 500."""
    response = httpx.post(
        cat.url + "/custom/v1/embeddings", headers=AUTH, timeout=30, json={"model": "any", "input": ids}
    )
    STATUSES[response.status_code] += 1
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "message": "'input' holds token ids outside the cl100k vocabulary.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "invalid_value",
        }
    }


def test_the_server_still_answers_after_the_fuzzing(cat):
    for route, body in [
        (CHAT, {"model": "cheshire-cat", "messages": [{"role": "user", "content": "still there?"}]}),
        ("/custom/message", {"text": "still there?"}),
    ]:
        response = httpx.post(cat.url + route, headers=AUTH, timeout=30, json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer.get("text") or answer["choices"][0]["message"]["content"]) == "Echo: still there?"
    assert put_settings(cat, BASE_SETTINGS).status_code == 200


@pytest.mark.parametrize("name", sorted(HOSTILE_AUTH))
def test_hostile_credentials_are_401_error_objects(cat, name):
    headers = {"content-type": "application/json", "authorization": HOSTILE_AUTH[name]}
    body = {"model": "cheshire-cat", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(cat.url + CHAT, json=body, headers=headers, timeout=30)
    STATUSES[response.status_code] += 1
    assert response.status_code == 401, (name, response.text)
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_api_key")
