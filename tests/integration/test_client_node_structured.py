"""Structured outputs and forced tool calls with the Vercel AI SDK and LangChain JS (from npm) against the bridge.

tests/clients/node/structured.mjs runs every case of a group in one node process and reports, per case,
the value or error the client gave its caller, what the client sent (endpoint, response_format /
text.format, tool_choice), the AI SDK's warnings and how many calls the Cat made to its LLM (1: the
first answer conformed; 2: the bridge's one corrective re-ask). The scripted LLM follows the bridge's
instructions (testkit/scripted_llm.py), so the objects are the ones it makes of the zod schema:
strings "text", integers 1, numbers 1.5, arrays of one item, an enum's first value.
The json modes run on Cat v1 too; forced tool calls need Cat v2.
"""

from __future__ import annotations

import pytest

from .conftest import KEY
from .node_clients import node_project, run_script

# z.object({name: z.string(), population: z.number().int(), area: z.number(), tags: z.array(z.string()),
#           kind: z.enum(["city", "town"])}), as the scripted LLM fills it in
CITY = {"name": "text", "population": 1, "area": 1.5, "tags": ["text"], "kind": "city"}
ZOD_INT = {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991}  # z.number().int()
AI_SDK_SCHEMA = {  # the AI SDK's JSON Schema of that zod object
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "population": ZOD_INT,
        "area": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "kind": {"type": "string", "enum": ["city", "town"]},
    },
    "required": ["name", "population", "area", "tags", "kind"],
    "additionalProperties": False,
}
LANGCHAIN_SCHEMA = {  # LangChain's: JSON Schema 2020-12, every node titled after the function name
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "extract",
    "properties": {
        "name": {"type": "string", "title": "extract"},
        "population": {**ZOD_INT, "title": "extract"},
        "area": {"type": "number", "title": "extract"},
        "tags": {"type": "array", "items": {"type": "string", "title": "extract"}, "title": "extract"},
        "kind": {"type": "string", "enum": ["city", "town"], "title": "extract"},
    },
    "required": ["name", "population", "area", "tags", "kind"],
    "additionalProperties": False,
}
CHAT_SCHEMA = {"type": "json_schema", "json_schema": {"name": "response", "strict": True, "schema": AI_SDK_SCHEMA}}
RESPONSES_SCHEMA = {"type": "json_schema", "name": "response", "strict": True, "schema": AI_SDK_SCHEMA}
LANGCHAIN_CHAT = {"type": "json_schema", "json_schema": {"name": "extract", "strict": True, "schema": LANGCHAIN_SCHEMA}}
LANGCHAIN_RESPONSES = {"type": "json_schema", "name": "extract", "strict": True, "schema": LANGCHAIN_SCHEMA}
WEATHER_CALL = ["get_weather", {"city": "text", "days": 4}]  # days: z.number().int().min(3)
BROKEN = "The Cat's answer does not have the form the request asked for: the answer does not match the schema '{}': "
BROKEN += "$.population should be of type integer, not string."


@pytest.fixture(scope="module")
def node_structured(cat, llm):
    """What the clients saw, per case: each group runs once per Cat."""
    project = node_project()
    env = {"BRIDGE_BASE_URL": cat.url + "/custom/v1", "BRIDGE_API_KEY": KEY, "LLM_URL": llm.url}
    groups: dict[str, dict] = {}

    def case(group: str, name: str) -> dict:
        if group not in groups:
            groups[group] = run_script(project, "structured.mjs", group, env=env)
        return groups[group][name]

    return case


def chat_sent(stream: bool, **fields) -> list[dict]:
    return [{"path": "/chat/completions", **fields, "stream": stream}]


def responses_sent(stream: bool, **fields) -> list[dict]:
    return [{"path": "/responses", **fields, "stream": stream}]


def assert_streamed_city(value: dict) -> None:
    """Partial objects came before the final one, each a growing part of it."""
    partials = value["partials"]
    assert value["object"] == CITY == partials[-1]
    assert any(0 < len(p) < len(CITY) for p in partials[:-1])
    assert all(CITY[k] == v for p in partials for k, v in p.items())
    assert all(len(a) < len(b) for a, b in zip(partials, partials[1:]))


# -- json modes (Cat v2 and v1) -----------------------------------------------------------------


@pytest.mark.parametrize("call, stream", [("generateObject", False), ("streamObject", True)])
def test_ai_sdk_openai_compatible_by_default_sends_json_object_without_the_schema(node_structured, call, stream):
    """Without supportsStructuredOutputs the provider sends no schema at all (and warns): the model answers
    some JSON object (the scripted LLM: {"echo": ...}) and the AI SDK's own check rejects it."""
    row = node_structured("json", f"ai-sdk compatible {call}")
    assert row["sent"] == chat_sent(stream, response_format={"type": "json_object"})
    assert row["warnings"] == [call, "responseFormat"]
    error = row["value"]["error"] if stream else row["error"]  # streamed: after the partial objects
    assert error == {
        "name": "AI_NoObjectGeneratedError",
        "status": None,
        "message": "No object generated: response did not match schema.",
        "text": '{"echo": "Tell me of Rome"}',
    }
    assert row["llmCalls"] == 1


@pytest.mark.parametrize(
    "case, sent",
    [
        ("ai-sdk compatible+structured generateObject", chat_sent(False, response_format=CHAT_SCHEMA)),
        ("ai-sdk openai generateObject", responses_sent(False, text_format=RESPONSES_SCHEMA)),
        ("ai-sdk openai.chat generateObject", chat_sent(False, response_format=CHAT_SCHEMA)),
        ("ai-sdk openai generateText Output.object", responses_sent(False, text_format=RESPONSES_SCHEMA)),
        ("langchain withStructuredOutput", chat_sent(False, response_format=LANGCHAIN_CHAT)),
        ("langchain withStructuredOutput responses", responses_sent(False, text_format=LANGCHAIN_RESPONSES)),
    ],
)
def test_a_json_schema_gives_the_object(node_structured, case, sent):
    row = node_structured("json", case)
    assert (row.get("error"), row["value"]) == (None, CITY)
    assert row["sent"] == sent
    assert row["llmCalls"] == 1  # the first answer conformed: no re-ask


@pytest.mark.parametrize(
    "case, sent",
    [
        ("ai-sdk compatible+structured streamObject", chat_sent(True, response_format=CHAT_SCHEMA)),
        ("ai-sdk openai streamObject", responses_sent(True, text_format=RESPONSES_SCHEMA)),
        ("ai-sdk openai.chat streamObject", chat_sent(True, response_format=CHAT_SCHEMA)),
        ("ai-sdk compatible+structured streamText Output.object", chat_sent(True, response_format=CHAT_SCHEMA)),
    ],
)
def test_a_streamed_json_schema_gives_partial_objects_then_the_object(node_structured, case, sent):
    row = node_structured("json", case)
    assert "error" not in row and "error" not in row["value"], row
    assert_streamed_city(row["value"])
    assert row["sent"] == sent
    assert row["llmCalls"] == 1


def test_a_schema_violation_is_a_final_400_for_the_ai_sdk_after_one_reask(node_structured):
    row = node_structured("json", "ai-sdk compatible+structured generateObject broken")
    message = BROKEN.format("response")
    assert row["error"] == {"name": "AI_APICallError", "status": 400, "message": message, "text": None}
    assert row["llmCalls"] == 2


def test_a_schema_violation_is_a_final_400_for_langchain_after_one_reask(node_structured):
    row = node_structured("json", "langchain withStructuredOutput broken")
    message = "400 " + BROKEN.format("extract")
    assert row["error"] == {"name": "Error", "status": 400, "message": message, "text": None}
    assert row["llmCalls"] == 2


@pytest.mark.parametrize(
    "case, status",
    # the AI SDK maps the error frame to a status itself: the chat error object's code has "invalid" in
    # it (400); a Responses `response.failed` is a 400 to it when its code is `invalid_prompt` (a final failure)
    [("ai-sdk openai.chat streamObject broken", 400), ("ai-sdk openai streamObject broken", 400)],
)
def test_a_stream_that_breaks_the_schema_ends_in_the_clients_error(node_structured, case, status):
    value = node_structured("json", case)["value"]
    assert value["error"] == {"name": None, "status": status, "message": BROKEN.format("response"), "text": None}
    assert "object" not in value
    assert value["partials"][-1] == {"name": "Rome", "population": "many", "area": 1.5, "tags": [], "kind": "city"}
    assert node_structured("json", case)["llmCalls"] == 1  # streamed text cannot be taken back: no re-ask


# -- forced tool calls (Cat v2: client tools) ---------------------------------------------------

TWO_TOOLS = ["get_weather", "get_time"]


@pytest.mark.v2_only
@pytest.mark.parametrize(
    "case, sent",
    [
        ("ai-sdk compatible toolChoice required", chat_sent(False, tool_choice="required", tools=TWO_TOOLS)),
        (
            "ai-sdk compatible toolChoice named",
            chat_sent(False, tool_choice={"type": "function", "function": {"name": "get_weather"}}, tools=TWO_TOOLS),
        ),
        ("ai-sdk openai toolChoice required", responses_sent(False, tool_choice="required", tools=TWO_TOOLS)),
        ("ai-sdk openai.chat toolChoice required", chat_sent(False, tool_choice="required", tools=TWO_TOOLS)),
    ],
)
def test_ai_sdk_generate_text_with_a_forced_tool_choice_calls_the_tool(node_structured, case, sent):
    row = node_structured("tools", case)
    assert row["value"] == {"calls": [WEATHER_CALL], "finishReason": "tool-calls"}
    assert row["sent"] == sent
    assert row["llmCalls"] == 1


@pytest.mark.v2_only
def test_ai_sdk_text_instead_of_a_required_call_is_a_final_400_after_one_reask(node_structured):
    row = node_structured("tools", "ai-sdk compatible toolChoice required text instead")
    assert row["error"] == {
        "name": "AI_APICallError",
        "status": 400,
        "message": "The Cat's answer does not have the form the request asked for: "
        "the Cat's agent answered with text instead of calling one of the client's functions.",
        "text": None,
    }
    assert row["llmCalls"] == 2


@pytest.mark.v2_only
@pytest.mark.parametrize(
    "case, sent",
    [
        (
            "langchain withStructuredOutput functionCalling",
            chat_sent(False, tool_choice={"type": "function", "function": {"name": "extract"}}, tools=["extract"]),
        ),
        (
            "langchain withStructuredOutput functionCalling responses",
            responses_sent(False, tool_choice={"type": "function", "name": "extract"}, tools=["extract"]),
        ),
    ],
)
def test_langchain_function_calling_gives_the_object(node_structured, case, sent):
    row = node_structured("tools", case)
    assert (row.get("error"), row["value"]) == (None, CITY)
    assert row["sent"] == sent
    assert row["llmCalls"] == 1


@pytest.mark.v2_only
def test_langchain_bind_tools_with_tool_choice_any_sends_required(node_structured):
    row = node_structured("tools", "langchain bindTools tool_choice any")
    assert row["value"] == [WEATHER_CALL]
    assert row["sent"] == chat_sent(False, tool_choice="required", tools=["get_weather"])


@pytest.mark.v2_only
def test_langchain_on_the_responses_api_drops_tool_choice_any(node_structured):
    """@langchain/openai 1.6.0 sends no tool_choice at all for "any" with useResponsesApi (its Responses
    path keeps only object tool choices), so nothing forces the call: the model just answers."""
    row = node_structured("tools", "langchain bindTools tool_choice any responses")
    assert row["sent"] == responses_sent(False, tools=["get_weather"])
    assert row["value"] == []
