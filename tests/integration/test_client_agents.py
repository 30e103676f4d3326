"""The OpenAI Agents SDK (openai-agents) driving the Cat through /v1/responses and /v1/chat/completions."""

from __future__ import annotations

import openai
import pytest
import pytest_asyncio
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from openai.types.responses import ResponseTextDeltaEvent

from .conftest import KEY

set_tracing_disabled(True)  # the SDK would otherwise upload traces to OpenAI


@pytest_asyncio.fixture
async def sdk_client(base_url):
    client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    yield client
    await client.close()


def responses_agent(client: openai.AsyncOpenAI) -> Agent:
    return Agent(
        name="cat",
        instructions="Answer as the Cheshire Cat.",
        model=OpenAIResponsesModel(model="cheshire-cat", openai_client=client),
    )


@pytest.mark.asyncio
async def test_runner_on_the_responses_api_with_a_second_turn(sdk_client, llm_log):
    agent = responses_agent(sdk_client)
    first = await Runner.run(agent, "hello agents")
    assert first.final_output == "Echo: hello agents"
    second = await Runner.run(agent, first.to_input_list() + [{"role": "user", "content": "and again"}])
    assert second.final_output == "Echo: and again"
    sent = llm_log()[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert "Answer as the Cheshire Cat." in sent[0]["content"] and sent[2]["content"] == "Echo: hello agents"
    assert second.context_wrapper.usage.output_tokens > 0


@pytest.mark.asyncio
async def test_runner_continues_by_previous_response_id(sdk_client, llm_log, adapter):
    agent = responses_agent(sdk_client)
    first = await Runner.run(agent, "my name is Ada [[reply:Hi Ada]]")
    assert first.last_response_id and first.final_output == "Hi Ada"
    second = await Runner.run(agent, "who am I?", previous_response_id=first.last_response_id)
    assert second.final_output == "Echo: who am I?"
    sent = llm_log()[-1]["body"]["messages"]
    if adapter == "v2":  # the stored turn reached the Cat's LLM, though the SDK sent only the new input
        assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
        assert sent[2]["content"] == "Hi Ada"


@pytest.mark.asyncio
async def test_runner_streams_token_by_token(sdk_client):
    result = Runner.run_streamed(responses_agent(sdk_client), "[[tokens:4]] [[delay:5]]")
    deltas = [
        e.data.delta
        async for e in result.stream_events()
        if e.type == "raw_response_event" and isinstance(e.data, ResponseTextDeltaEvent)
    ]
    assert deltas == [" t0", " t1", " t2", " t3"] and result.final_output == " t0 t1 t2 t3"


@pytest.mark.asyncio
async def test_runner_on_chat_completions(sdk_client):
    agent = Agent(
        name="cat",
        instructions="Be brief.",
        model=OpenAIChatCompletionsModel(model="cheshire-cat", openai_client=sdk_client),
    )
    assert (await Runner.run(agent, "hi from an agent")).final_output == "Echo: hi from an agent"


@pytest.mark.v2_only  # client tools need the Cat v2 agent
@pytest.mark.asyncio
async def test_runner_calls_a_local_function_tool(sdk_client, llm_log):
    calls = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    agent = Agent(
        name="cat",
        instructions="Use tools.",
        tools=[get_weather],
        model=OpenAIResponsesModel(model="cheshire-cat", openai_client=sdk_client),
    )
    result = await Runner.run(agent, 'Weather? [[call:get_weather:{"city": "Rome"}]]')
    assert calls == ["Rome"] and result.final_output == "Tool said: sunny in Rome"
    sent = llm_log()[-1]["body"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert [m["role"] for m in sent["messages"][-3:]] == ["user", "assistant", "tool"]
