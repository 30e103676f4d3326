"""The official openai Node SDK (from npm) against the bridge, run from the test suite."""

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
