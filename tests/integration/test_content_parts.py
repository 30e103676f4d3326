"""Content parts on a real Cat (issue #22, findings 1 and 8): what the Cat's LLM is sent for many text parts, the
bound on the parts that cannot merge, and a continued Responses conversation's context bound.

A user message of 150,000 one-letter parts used to reach the Cat v2 as 150,000 items its OpenAI client walked on
the event loop (18 s); now the LLM gets the same text as one string. What it is sent is read in the scripted
LLM's request log.
"""

from __future__ import annotations

import time

import pytest

KEY_HEADERS = {"anthropic-version": "2023-06-01"}
TOO_MANY = (
    "Too many content parts: this bridge sends the Cat at most {limit} (max_content_parts) per request, its stored "
    "conversation included: each text (adjacent texts count as one), image, tool call and tool result."
)


def text_of(content: object) -> object:
    """v1's LLM client may send a user message as one text part."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(p["text"] for p in content)
    return content


def last_user(llm_log) -> object:
    return [m for m in llm_log()[-1]["body"]["messages"] if m["role"] == "user"][-1]["content"]


@pytest.mark.v2_only  # v1 runs a 150,000-character turn through its memory for minutes: the bound is v2's finding
def test_150000_text_parts_reach_the_llm_as_their_text(http, llm_log):
    parts = [{"type": "text", "text": c} for c in "ab" * 75_000]
    started = time.perf_counter()
    response = http.post(
        "/custom/v1/chat/completions",
        json={"model": "cheshire-cat", "messages": [{"role": "user", "content": parts}]},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert time.perf_counter() - started < 5  # was 18 s of the Cat's event loop on v2
    assert last_user(llm_log) == "ab" * 75_000  # v2: one text part, flattened by the Cat; v1: the turn's text


@pytest.mark.v2_only  # v1's agent cannot hand tool calls back: tool_result blocks are refused there already
def test_60000_tool_results_are_refused_before_the_cat(http, llm_log):
    body = {
        "model": "cheshire-cat",
        "max_tokens": 50,
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}] * 60_000},
        ],
    }
    for path in ("/custom/v1/messages", "/custom/v1/messages/count_tokens"):
        response = http.post(path, json=body, headers=KEY_HEADERS, timeout=60)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == {"type": "invalid_request_error", "message": TOO_MANY.format(limit=1000)}
    assert llm_log() == []


def test_a_stored_input_of_50000_parts_is_continued_as_one_text(http, llm_log):
    parts = [{"type": "input_text", "text": "x"}] * 50_000
    made = http.post(
        "/custom/v1/responses", json={"model": "cheshire-cat", "input": [{"role": "user", "content": parts}]}
    )
    assert made.status_code == 200, made.text
    started = time.perf_counter()
    again = http.post(
        "/custom/v1/responses",
        json={"model": "cheshire-cat", "input": "and? [[tokens:3]]", "previous_response_id": made.json()["id"]},
    )
    assert again.status_code == 200, again.text
    assert time.perf_counter() - started < 3  # was 6.2 s of the Cat's event loop on v2, every continuation
    users = [text_of(m["content"]) for m in llm_log()[-1]["body"]["messages"] if m["role"] == "user"]
    assert users[-2:] == ["x" * 50_000, "and? [[tokens:3]]"]


def test_a_continued_conversation_past_responses_context_tokens_is_refused(http, settings, llm_log):
    made = http.post("/custom/v1/responses", json={"model": "cheshire-cat", "input": "word " * 3000})
    assert made.status_code == 200, made.text
    settings(responses_context_tokens=2000)
    calls = len(llm_log())
    response = http.post(
        "/custom/v1/responses",
        json={"model": "cheshire-cat", "input": "and?", "previous_response_id": made.json()["id"]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "input",
        "context_length_exceeded",
    )
    assert error["message"].startswith("Your input exceeds the context window of this model.")
    assert len(llm_log()) == calls
