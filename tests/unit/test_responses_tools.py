"""Responses tool types of the current API: `namespace` and `custom` tools, hosted tools left out, on a fake Cat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cat_openai_bridge.core.turn.conversation import ClientTool, ToolCall
from cat_openai_bridge.core.turn.port import TurnResult
from testkit import contract

from .http_kit import responses, sse

pytestmark = pytest.mark.asyncio
URL = "/custom/v1/responses"
AUTH = {"authorization": "Bearer good"}
SPAWN = {"type": "object", "properties": {"task": {"type": "string"}}}
AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents.",
    "tools": [
        {"type": "function", "name": "spawn_agent", "description": "Spawn one.", "parameters": SPAWN, "strict": False},
        {"type": "function", "name": "wait_agent", "description": "Wait."},
    ],
}
EXEC = {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}}
PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Patch files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}
CODEX = json.loads((Path(__file__).parents[1] / "fixtures" / "coding-agents" / "codex.json").read_text())["body"]


async def post(client, body):
    return await client.post(URL, json=body, headers=AUTH)


def called(cat, *calls: ToolCall) -> None:
    cat.script(TurnResult("", prompt_tokens=5, tool_calls=calls))


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["param"], error["code"]


async def test_namespaced_tools_are_offered_under_their_namespace_and_called_back_with_it(client, cat):
    called(cat, ToolCall("call_1", "multi_agent_v1__spawn_agent", '{"task": "t"}'))
    response = await post(client, responses("Go", tools=[EXEC, AGENTS, {"type": "web_search"}]))
    assert response.status_code == 200, response.text
    assert cat.turns[-1].tools == (
        ClientTool("exec_command", "", EXEC["parameters"]),
        ClientTool("multi_agent_v1__spawn_agent", "Spawn one.", SPAWN, "multi_agent_v1"),
        ClientTool("multi_agent_v1__wait_agent", "Wait.", {"type": "object", "properties": {}}, "multi_agent_v1"),
    )
    assert response.headers["x-openai-bridge-tools-skipped"] == "web_search"
    assert ("info", "openai bridge: hosted tools left out of the turn: web_search") in cat.logs
    body = contract.validate_response(response.json()).model_dump(exclude_unset=True)
    [item] = response.json()["output"]
    assert item == {
        "type": "function_call",
        "id": item["id"],
        "call_id": "call_1",
        "name": "spawn_agent",
        "arguments": '{"task": "t"}',
        "status": "completed",
        "namespace": "multi_agent_v1",
    }
    assert response.json()["tools"] == [
        {
            "type": "function",
            "name": "exec_command",
            "description": "",
            "parameters": EXEC["parameters"],
            "strict": None,
        },
        {
            "type": "namespace",
            "name": "multi_agent_v1",
            "description": "Sub-agents.",
            "tools": [
                {
                    "type": "function",
                    "name": "spawn_agent",
                    "description": "Spawn one.",
                    "parameters": SPAWN,
                    "strict": False,
                },
                {
                    "type": "function",
                    "name": "wait_agent",
                    "description": "Wait.",
                    "parameters": {"type": "object", "properties": {}},
                    "strict": None,
                },
            ],
        },
    ]
    assert body["output"][0]["namespace"] == "multi_agent_v1"

    history = [
        {"role": "user", "content": "Go"},
        {k: v for k, v in item.items() if k != "status"},
        {"type": "function_call_output", "call_id": "call_1", "output": "spawned"},
    ]
    assert (await post(client, responses(tools=[AGENTS], input=history))).status_code == 200
    turns = cat.turns[-1].conversation.turns
    assert [(t.role, t.text, t.tool_calls, t.tool_call_id) for t in turns] == [
        ("user", "Go", (), None),
        ("assistant", "", (ToolCall("call_1", "multi_agent_v1__spawn_agent", '{"task": "t"}'),), None),
        ("tool", "spawned", (), "call_1"),
    ]


async def test_a_streamed_namespaced_call_carries_its_namespace(client, cat):
    called(cat, ToolCall("call_1", "multi_agent_v1__wait_agent", "{}"))
    response = await post(client, responses("Go", tools=[AGENTS], stream=True))
    checker = contract.checker_for("POST", URL, 200, "text/event-stream")
    checker.feed(response.content)
    checker.finish()
    stream = sse(response.content)
    names = [name for name, _ in stream]
    assert names[2:-1] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    added, done = stream[2][1]["item"], stream[5][1]["item"]
    assert (added["name"], added["namespace"], added["arguments"], added["status"]) == (
        "wait_agent",
        "multi_agent_v1",
        "",
        "in_progress",
    )
    assert (done["name"], done["namespace"], done["arguments"]) == ("wait_agent", "multi_agent_v1", "{}")
    assert stream[-1][1]["response"]["output"] == [done]


async def test_tool_choice_names_a_namespaced_function_by_its_own_name(client, cat):
    called(cat, ToolCall("call_1", "multi_agent_v1__spawn_agent", '{"task": "t"}'))
    choice = {"type": "function", "name": "spawn_agent"}
    response = await post(client, responses("Go", tools=[EXEC, AGENTS], tool_choice=choice))
    assert response.status_code == 200, response.text
    assert [t.name for t in cat.turns[-1].tools] == ["multi_agent_v1__spawn_agent"]
    assert "`multi_agent_v1__spawn_agent`" in cat.turns[-1].instructions
    assert response.json()["tool_choice"] == choice
    twice = {**AGENTS, "name": "other"}
    ambiguous = await post(client, responses("Go", tools=[AGENTS, twice], tool_choice=choice))
    assert error_of(ambiguous) == (400, "tool_choice.name", "invalid_value")
    assert "2 tools are named 'spawn_agent'" in ambiguous.json()["error"]["message"]
    clash = await post(client, responses("Go", tools=[AGENTS, {**EXEC, "name": "multi_agent_v1__wait_agent"}]))
    assert error_of(clash) == (400, "tools", "invalid_value")


async def test_custom_tools_take_one_text_input_and_come_back_as_custom_tool_calls(client, cat):
    called(cat, ToolCall("call_7", "apply_patch", '{"input": "*** Begin Patch"}'))
    response = await post(client, responses("Fix it", tools=[PATCH]))
    [tool] = cat.turns[-1].tools
    assert (tool.name, tool.custom, tool.parameters) == (
        "apply_patch",
        True,
        {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]},
    )
    assert tool.description == (
        "Patch files.\n\nPass the tool's whole input as free text in `input`. "
        "It must match this lark grammar:\nstart: /.+/"
    )
    contract.validate_response(response.json())
    [item] = response.json()["output"]
    assert item == {
        "type": "custom_tool_call",
        "id": item["id"],
        "call_id": "call_7",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }
    assert response.json()["tools"] == [PATCH]

    history = [
        {"role": "user", "content": "Fix it"},
        {"type": "custom_tool_call", "call_id": "call_7", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "call_7", "output": "Done!"},
    ]
    assert (await post(client, responses(tools=[PATCH], input=history))).status_code == 200
    turns = cat.turns[-1].conversation.turns
    assert turns[1].tool_calls == (ToolCall("call_7", "apply_patch", '{"input": "*** Begin Patch"}'),)
    assert (turns[2].role, turns[2].text, turns[2].tool_call_id) == ("tool", "Done!", "call_7")


async def test_a_streamed_custom_call_sends_its_input_events(client, cat):
    spaced = {"type": "namespace", "name": "files", "description": "Files.", "tools": [PATCH]}
    called(cat, ToolCall("call_7", "files__apply_patch", '{"input": "x"}'))
    response = await post(client, responses("Fix it", tools=[spaced], stream=True))
    checker = contract.checker_for("POST", URL, 200, "text/event-stream")
    checker.feed(response.content)
    checker.finish()
    stream = sse(response.content)
    assert [name for name, _ in stream][2:-1] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ]
    assert stream[2][1]["item"] == {**stream[5][1]["item"], "input": ""}
    assert (stream[3][1]["delta"], stream[4][1]["input"]) == ("x", "x")
    assert stream[5][1]["item"] == {
        "type": "custom_tool_call",
        "id": stream[5][1]["item"]["id"],
        "call_id": "call_7",
        "name": "apply_patch",
        "input": "x",
        "namespace": "files",
    }


async def test_hosted_tools_are_left_out_unless_forced(client, cat):
    hosted = [{"type": "web_search", "external_web_access": False}, {"type": "file_search"}, {"type": "web_search"}]
    response = await post(client, responses(tools=hosted))
    assert response.status_code == 200, response.text
    assert response.headers["x-openai-bridge-tools-skipped"] == "web_search, file_search"
    assert (cat.turns[-1].tools, response.json()["tools"]) == ((), [])
    forced = await post(client, responses(tools=hosted, tool_choice={"type": "web_search_preview"}))
    assert error_of(forced) == (400, "tool_choice", "unsupported_value")
    assert "'web_search_preview'" in forced.json()["error"]["message"]
    unknown = await post(client, responses(tools=[EXEC, {"type": "teleport"}]))
    assert error_of(unknown) == (400, "tools.[1].type", "invalid_value")
    message = unknown.json()["error"]["message"]
    assert message.startswith("Invalid value: 'teleport'. Supported values are: 'function', 'custom' and 'namespace';")
    assert "left out (this Cat cannot run them): 'file_search', " in message
    nameless = await post(client, responses(tools=[EXEC], tool_choice={"type": "function"}))
    assert error_of(nameless) == (400, "tool_choice.name", "missing_required_parameter")
    assert "x-openai-bridge-tools-skipped" not in (await post(client, responses(tools=[EXEC]))).headers


async def test_a_json_schema_format_needs_its_schema(client, cat):
    response = await post(client, {**responses(), "text": {"format": {"type": "json_schema", "name": "x"}}})
    assert error_of(response) == (400, "text.format.schema", "missing_required_parameter")
    assert cat.turns == []


async def test_codex_first_request_is_served(client, cat):
    response = await post(client, CODEX)
    assert response.status_code == 200, response.text
    assert response.headers["x-openai-bridge-tools-skipped"] == "web_search"
    offered = [t.name for t in cat.turns[-1].tools]
    assert "multi_agent_v1__spawn_agent" in offered and "exec_command" in offered


async def test_a_cat_without_client_tools_refuses_namespace_and_custom_tools_but_skips_hosted_ones(client, cat):
    cat.supports_client_tools = False
    for tools in ([AGENTS], [PATCH]):
        assert error_of(await post(client, responses(tools=tools))) == (400, "tools", "unsupported_parameter")
    response = await post(client, responses(tools=[{"type": "code_interpreter"}]))
    assert response.status_code == 200 and response.headers["x-openai-bridge-tools-skipped"] == "code_interpreter"


async def test_a_stored_namespaced_or_custom_call_is_continued_by_previous_response_id(client, cat):
    called(cat, ToolCall("c1", "multi_agent_v1__wait_agent", "{}"), ToolCall("c2", "apply_patch", '{"input": "p"}'))
    first = (await post(client, responses("Go", tools=[AGENTS, PATCH]))).json()
    outputs = [
        {"type": "function_call_output", "call_id": "c1", "output": "waited"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": "patched"},
    ]
    second = await post(client, responses(tools=[AGENTS, PATCH], input=outputs, previous_response_id=first["id"]))
    assert second.status_code == 200, second.text
    turns = cat.turns[-1].conversation.turns
    assert turns[1].tool_calls == (
        ToolCall("c1", "multi_agent_v1__wait_agent", "{}"),
        ToolCall("c2", "apply_patch", '{"input": "p"}'),
    )
    assert [(t.role, t.text, t.tool_call_id) for t in turns[2:]] == [
        ("tool", "waited", "c1"),
        ("tool", "patched", "c2"),
    ]
