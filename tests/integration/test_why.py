"""The Cat's reasons for an answer: opt-in (`cat_why`), admins only, never in the default response."""

from __future__ import annotations

import json

import openai
import pytest

from .conftest import cat_jwt, user_says

pytestmark = pytest.mark.v2_only


def test_default_answers_carry_no_reasons(http):
    body = http.post("/custom/v1/chat/completions", json={"model": "probe", "messages": user_says("hi")}).json()
    assert "cat_why" not in body


def test_admins_get_the_agents_prompt_and_steps(http):
    response = http.post(
        "/custom/v1/chat/completions", json={"model": "probe", "messages": user_says("hi"), "cat_why": True}
    )
    assert response.status_code == 200
    why = response.json()["cat_why"]
    assert (why["agent"], why["llm_calls"], why["tools_available"]) == ("probe", 1, [])
    assert why["system_prompt"].startswith("You are the probe agent.") and "[probe-user:" in why["system_prompt"]
    assert why["steps"] == [{"role": "assistant", "text": "Echo: hi"}]


def test_reasons_list_tool_calls_and_arrive_last_in_a_stream(http):
    tool = {"type": "function", "function": {"name": "lookup"}}
    body = {
        "model": "cheshire-cat",
        "messages": user_says('x [[call:lookup:{"q": 1}]]'),
        "tools": [tool],
        "cat_why": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = [e for e in http.post("/custom/v1/chat/completions", json=body).text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    usage, why = (json.loads(e[len("data: ") :]) for e in events[-3:-1])
    assert usage["usage"]["total_tokens"] > 0 and usage["choices"] == []
    assert why["choices"] == [] and why["object"] == "chat.completion.chunk"
    assert why["cat_why"]["steps"][0]["tool_calls"][0]["name"] == "lookup"
    assert why["cat_why"]["steps"][0]["tool_calls"][0]["args"] == {"q": 1}


def test_only_admins_may_ask(base_url):
    client = openai.OpenAI(base_url=base_url, api_key=cat_jwt("mallory"), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="probe", messages=user_says("hi"), extra_body={"cat_why": True})
    assert info.value.body == {
        "message": "'cat_why' shows the Cat's prompts and tool results, so only the Cat's admins may ask for it.",
        "type": "invalid_request_error",
        "param": "cat_why",
        "code": "insufficient_permissions",
    }
