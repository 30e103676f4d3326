"""The official openai and Anthropic Node SDKs (from npm) against the bridge, run from the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import KEY
from .node_clients import node_project, run_script


@pytest.fixture(scope="module")
def node_client() -> Path:
    return node_project()


def test_node_sdk_chat_stream_errors_and_responses(node_client, base_url):
    seen = run_script(node_client, "client.mjs", env={"BRIDGE_BASE_URL": base_url, "BRIDGE_API_KEY": KEY})
    assert "cheshire-cat" in seen["models"]
    assert (seen["content"], seen["finish"]) == ("Echo: hello from node", "stop")
    assert seen["usage"]["total_tokens"] == seen["usage"]["prompt_tokens"] + seen["usage"]["completion_tokens"] > 0
    assert seen["deltas"] == [" t0", " t1", " t2", " t3", " t4"]
    assert seen["streamFinish"] == "stop" and seen["streamUsage"]["completion_tokens"] > 0
    assert seen["error"] == {"status": 404, "code": "model_not_found", "param": "model"}
    assert seen["responseText"] == "Echo: node responses"
    assert seen["responseEvents"] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        " t0",
        " t1",
        " t2",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert seen["streamedResponse"] == {"status": "completed", "text": " t0 t1"}


def test_anthropic_node_sdk_create_stream_count_and_errors(node_client, cat):
    seen = run_script(
        node_client, "anthropic.mjs", env={"BRIDGE_ANTHROPIC_BASE_URL": cat.url + "/custom", "BRIDGE_API_KEY": KEY}
    )
    assert (seen["text"], seen["stopReason"]) == ("Echo: hello from node", "end_turn")
    assert seen["usage"]["input_tokens"] > 0 and seen["usage"]["output_tokens"] > 0
    assert seen["requestId"].startswith("req_")
    assert seen["texts"] == [" t0", " t1", " t2"]
    assert seen["events"] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert (seen["finalText"], seen["finalStop"]) == (" t0 t1 t2", "end_turn")
    assert seen["finalUsage"]["output_tokens"] > 0
    assert seen["counted"] > 0
    assert seen["error"] == {
        "status": 404,
        "class": "NotFoundError",
        "type": "not_found_error",
        "requestId": seen["error"]["requestId"],
    }
    assert seen["error"]["requestId"].startswith("req_")
    assert seen["failed"]["before"] == [" t0", " t1"] and "The Cat could not answer" in seen["failed"]["message"]
    assert "cheshire-cat" in seen["models"]
    assert seen["viaHeader"] == "Echo: by x-api-key"
