"""Legacy completions (`/v1/completions`) with openai-python's `completions.create` and LangChain's `OpenAI` LLM.

Every body and chunk is also parsed with openai-python's `Completion` by the contract hook (testkit/contract.py).
"""

from __future__ import annotations

import openai
import pytest
from langchain_openai import OpenAI

from .conftest import KEY


def test_create_runs_the_prompt_as_a_user_turn(client, llm_log):
    completion = client.completions.create(model="cheshire-cat", prompt="hello legacy", max_tokens=100)
    assert completion.object == "text_completion" and completion.id.startswith("cmpl-")
    [choice] = completion.choices
    assert (choice.text, choice.finish_reason, choice.index, choice.logprobs) == ("Echo: hello legacy", "stop", 0, None)
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert llm_log()[-1]["body"]["messages"][-1]["role"] == "user"


def test_stream_with_usage(client):
    chunks = list(
        client.completions.create(
            model="cheshire-cat", prompt="[[tokens:3]]", stream=True, stream_options={"include_usage": True}
        )
    )
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert texts == [" t0", " t1", " t2", ""]
    assert [c.choices[0].finish_reason for c in chunks if c.choices] == [None, None, None, "stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_max_tokens_stop_and_echo(client):
    cut = client.completions.create(model="cheshire-cat", prompt="[[tokens:30]]", max_tokens=4)
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 4
    stopped = client.completions.create(model="cheshire-cat", prompt="[[reply:one two three]]", stop=[" two"])
    assert (stopped.choices[0].text, stopped.choices[0].finish_reason) == ("one", "stop")
    echoed = client.completions.create(model="cheshire-cat", prompt="Q: hi", echo=True)
    assert echoed.choices[0].text == "Q: hiEcho: Q: hi"


def test_what_the_cat_cannot_do_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as suffix:
        client.completions.create(model="cheshire-cat", prompt="def f(", suffix="return 1")
    assert (suffix.value.code, suffix.value.param) == ("unsupported_parameter", "suffix")
    with pytest.raises(openai.BadRequestError) as logprobs:
        client.completions.create(model="cheshire-cat", prompt="x", logprobs=2)
    assert logprobs.value.param == "logprobs"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x")


def test_a_failure_mid_stream_raises(client):
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.completions.create(
            model="cheshire-cat", prompt="[[tokens:8]] [[fail:after:2]]", stream=True
        ):
            seen.append(chunk.choices[0].text)
    assert seen == [" t0", " t1"] and info.value.code == "cat_error"


@pytest.fixture
def legacy_llm(base_url) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=KEY, model="cheshire-cat", max_retries=0, temperature=0.2)


def test_langchain_openai_llm_invoke_stream_batch(legacy_llm):
    llm = legacy_llm
    assert llm.invoke("from langchain") == "Echo: from langchain"
    assert [c for c in llm.stream("[[tokens:3]]") if c] == [" t0", " t1", " t2"]
    assert llm.batch(["one", "two", "three"]) == ["Echo: one", "Echo: two", "Echo: three"]  # one request, 3 turns
    result = llm.generate(["usage please"])
    assert result.generations[0][0].text == "Echo: usage please"
    assert result.llm_output["token_usage"]["total_tokens"] > 0
