"""Structured outputs through the bridge with the agent frameworks people use, each in its default mode.

Run by tests/integration/test_client_structured.py in .venv-clients (their pins conflict with the Cat's):
    python structured.py BASE_URL API_KEY MODE...
prints one JSON line: {mode: {"value": ...} or {"error": "..."}}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback

from pydantic import BaseModel


class City(BaseModel):
    name: str
    population: int


def pydantic_ai(url: str, key: str, output: str):
    from pydantic_ai import Agent, NativeOutput, PromptedOutput, ToolOutput
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("cheshire-cat", provider=OpenAIProvider(base_url=url, api_key=key))
    kind = {
        "tool": City,
        "tool_explicit": ToolOutput(City),
        "native": NativeOutput(City),
        "prompted": PromptedOutput(City),
    }
    return Agent(model, output_type=kind[output], retries=0).run_sync("Tell me of Rome").output


def instructor_mode(url: str, key: str, mode: str):
    import instructor
    from openai import OpenAI

    client = instructor.from_openai(
        OpenAI(base_url=url, api_key=key, max_retries=0), mode=getattr(instructor.Mode, mode)
    )
    messages = [{"role": "user", "content": "Tell me of Rome"}]
    return client.chat.completions.create(model="cheshire-cat", response_model=City, messages=messages, max_retries=0)


def instructor_partial(url: str, key: str):
    import instructor
    from openai import OpenAI

    client = instructor.from_openai(OpenAI(base_url=url, api_key=key, max_retries=0))
    stream = client.chat.completions.create_partial(
        model="cheshire-cat", response_model=City, messages=[{"role": "user", "content": "Tell me of Rome"}]
    )
    last = None
    for last in stream:
        pass
    return last


def langchain(url: str, key: str, method: str | None):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="cheshire-cat", base_url=url, api_key=key, max_retries=0)
    if method == "json_mode":  # json_mode leaves the format to the prompt, as LangChain's docs show
        schema = json.dumps(City.model_json_schema())
        prompt = [("system", f"Answer in JSON. Use this schema: {schema}"), ("user", "Tell me of Rome")]
        return llm.with_structured_output(City, method="json_mode").invoke(prompt)
    structured = llm.with_structured_output(City) if method is None else llm.with_structured_output(City, method=method)
    return structured.invoke("Tell me of Rome")


def llama_index(url: str, key: str):
    from llama_index.core.prompts import PromptTemplate
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model="cheshire-cat", api_base=url, api_key=key, is_chat_model=True, is_function_calling_model=True
    )
    return llm.structured_predict(City, PromptTemplate("Tell me of {city}"), city="Rome")


def smolagents_tool_calling(url: str, key: str):
    from smolagents import OpenAIServerModel, ToolCallingAgent

    agent = ToolCallingAgent(tools=[], model=OpenAIServerModel("cheshire-cat", api_base=url, api_key=key), max_steps=2)
    return agent.run("What is the capital of Italy?")


MODES = {
    "pydantic_ai_tool_output": lambda u, k: pydantic_ai(u, k, "tool"),
    "pydantic_ai_native_output": lambda u, k: pydantic_ai(u, k, "native"),
    "pydantic_ai_prompted_output": lambda u, k: pydantic_ai(u, k, "prompted"),
    "instructor_tools": lambda u, k: instructor_mode(u, k, "TOOLS"),
    "instructor_json": lambda u, k: instructor_mode(u, k, "JSON"),
    "instructor_json_schema": lambda u, k: instructor_mode(u, k, "JSON_SCHEMA"),
    "instructor_create_partial": instructor_partial,
    "langchain_default": lambda u, k: langchain(u, k, None),
    "langchain_function_calling": lambda u, k: langchain(u, k, "function_calling"),
    "langchain_json_mode": lambda u, k: langchain(u, k, "json_mode"),
    "llama_index_structured_predict": llama_index,
    "smolagents_tool_calling_agent": smolagents_tool_calling,
}


def main() -> None:
    url, key, *modes = sys.argv[1:]
    out = {}
    for mode in modes:
        try:
            value = MODES[mode](url, key)
            out[mode] = {"value": value.model_dump() if isinstance(value, BaseModel) else value}
        except Exception as exc:  # one mode's failure is a result too
            out[mode] = {"error": f"{type(exc).__name__}: {exc}"[:2000], "trace": traceback.format_exc()[-3000:]}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    main()
