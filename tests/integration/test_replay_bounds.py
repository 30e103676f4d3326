"""Idempotency-Key on a live Cat: what is kept is bounded, a key is bound to its route.

The store's byte bounds and eviction are tested in detail on a fake Cat (tests/unit/test_idempotency.py); here the
same rules hold end to end, on both Cats.
"""

from __future__ import annotations

import uuid

from .conftest import user_says
from .test_retry_safety import calls_with


def test_a_key_used_on_chat_completions_is_not_replayed_on_responses(http, llm_log):
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} hi"), "input": f"{tag} hi"}
    headers = {"Idempotency-Key": tag}
    first = http.post("/custom/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200 and first.json()["object"] == "chat.completion"
    other = http.post("/custom/v1/responses", json=body, headers=headers)
    assert other.status_code == 400
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert calls_with(llm_log(), tag) == 1


def test_a_responses_stream_with_megabytes_of_metadata_is_not_kept_and_says_so(http, llm_log):
    """It would repeat its 3 MiB of metadata in three events (about 9 MiB kept): its key is not replayable."""
    tag = uuid.uuid4().hex
    metadata = {f"k{i}": f"{i}" * (192 * 1024) for i in range(16)}  # 3 MiB
    body = {"model": "cheshire-cat", "input": f"{tag} [[tokens:3]]", "stream": True, "metadata": metadata}
    headers = {"Idempotency-Key": tag}
    first = http.post("/custom/v1/responses", json=body, headers=headers)
    assert first.status_code == 200 and first.headers["idempotency-replayable"] == "false"
    assert first.text.rstrip().splitlines()[-2] == "event: response.completed"
    again = http.post("/custom/v1/responses", json=body, headers=headers)
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert calls_with(llm_log(), tag) == 2  # nothing kept: the retry ran the Cat again


def test_an_answer_over_the_answer_limit_is_not_kept_and_says_so(settings, http, llm_log):
    settings(idempotency_answer_bytes=1024)
    tag = uuid.uuid4().hex
    body = {"model": "cheshire-cat", "messages": user_says(f"{tag} [[tokens:400]]")}
    headers = {"Idempotency-Key": tag}
    first = http.post("/custom/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200 and first.headers["idempotency-replayable"] == "false"
    again = http.post("/custom/v1/chat/completions", json=body, headers=headers)
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert again.headers["idempotency-replayable"] == "false"
    assert calls_with(llm_log(), tag) == 2
    small = {"model": "cheshire-cat", "messages": user_says(f"{tag} small")}
    kept = http.post("/custom/v1/chat/completions", json=small, headers={"Idempotency-Key": f"{tag}-small"})
    assert "idempotency-replayable" not in kept.headers
    replay = http.post("/custom/v1/chat/completions", json=small, headers={"Idempotency-Key": f"{tag}-small"})
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == kept.content
