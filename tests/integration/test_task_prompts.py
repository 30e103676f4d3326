"""Front ends' housekeeping prompts (Open WebUI's `### Task:`) leave no trace in the Cat's memory."""

from __future__ import annotations

import re
import uuid

import openai
import pytest

from .conftest import cat_jwt, user_says

pytestmark = pytest.mark.v2_only

TITLE_PROMPT = "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n"


def memory_of(client: openai.OpenAI) -> str:
    answer = client.chat.completions.create(model="probe", messages=user_says("[[system]]")).choices[0].message.content
    return re.search(r"\[probe-memory:([^\]]*)\]", answer).group(1)


def test_task_prompts_are_answered_by_the_cats_llm_without_the_agent(base_url, llm_log):
    client = openai.OpenAI(base_url=base_url, api_key=cat_jwt(f"ow-{uuid.uuid4().hex[:8]}"), max_retries=0)
    client.chat.completions.create(model="probe", messages=user_says("remember me"))
    history = [
        {"role": "user", "content": "remember me"},
        {"role": "assistant", "content": "Echo: remember me"},
        {"role": "user", "content": TITLE_PROMPT + "[[reply:Cat chat]]"},
    ]
    streamed = client.chat.completions.create(model="probe", messages=history, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == "Cat chat"
    title = client.chat.completions.create(model="probe", messages=history)
    assert title.choices[0].message.content == "Cat chat" and title.usage.prompt_tokens > 20
    sent = llm_log()[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # no agent system prompt, no directives
    assert memory_of(client) == "remember me"  # the agent's memory never saw the task prompt


def test_task_prompt_mode_agent_runs_them_like_any_message(settings, base_url):
    settings(task_prompt_mode="agent")
    client = openai.OpenAI(base_url=base_url, api_key=cat_jwt(f"ow-{uuid.uuid4().hex[:8]}"), max_retries=0)
    client.chat.completions.create(model="probe", messages=user_says(TITLE_PROMPT))
    assert memory_of(client).startswith("### Task:")


def test_task_prompt_patterns_are_configurable_and_validated(settings, base_url, http):
    settings(task_prompt_patterns=[r"^Summarize this chat"])
    client = openai.OpenAI(base_url=base_url, api_key=cat_jwt(f"lc-{uuid.uuid4().hex[:8]}"), max_retries=0)
    client.chat.completions.create(model="probe", messages=user_says("hello"))
    client.chat.completions.create(model="probe", messages=user_says("Summarize this chat please"))
    assert memory_of(client) == "hello"
    refused = http.put(
        "/settings/cat_openai_bridge__config__openai_bridge",
        json={"rate_limit_per_minute": 0, "task_prompt_patterns": ["(unclosed"]},
    )
    assert refused.status_code == 400
    assert "(unclosed is not a valid regular expression" in refused.text
