"""Codex CLI and OpenCode, as a new user runs them: only the provider's base URL and key changed, end to end.

Codex CLI (npm `@openai/codex`) speaks the Responses API; its config names the bridge as a model provider (base
URL and the name of the key's environment variable) and nothing else about the model or its tools: it sends its
default tools (its `multi_agent_v1` namespace and `web_search` among them). OpenCode (npm `opencode-ai`) speaks
Chat Completions through `@ai-sdk/openai-compatible`, configured with `baseURL` and `apiKey` only, and asks for
its default `max_tokens`. Each test covers what issue #24 asks: a turn, a streamed answer, the client's own tool
round trip (the scripted LLM calls the client's tool; the client runs it and sends back its output), and Codex's
`exec resume`.

Offline: neither client may reach the internet. Codex: `[features] plugins = false` (else it syncs its curated
plugins from github.com at start) and `[analytics] enabled = false` (else it posts to ab.chatgpt.com after a
turn), in a config section of their own; neither touches the model or the tools. OpenCode: the OPENCODE_DISABLE_*
variables below, and `npm_config_offline=true` (else it installs `@opencode-ai/plugin` from the npm registry into
its config folder in the background). Checked with strace: each connects only to the capture proxy's port.
"""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam
from openai.types.responses import ResponseInputItemParam, ToolParam

from testkit.capture import CaptureProxy

from .coding_agents import (
    check_fixture,
    client_env,
    explain,
    first_turn,
    install_project,
    json_lines,
    run_client,
    sdk_drift,
    write_fixture,
)
from .conftest import KEY

pytestmark = pytest.mark.v2_only  # client tools (v1's agent cannot hand tool calls back)

NOTE = "the cat is on the mat"
KEY_VARIABLE = "CAT_BRIDGE_KEY"


@pytest.fixture(scope="module")
def project():
    return install_project()


@pytest.fixture
def proxy(cat):
    with CaptureProxy(cat.url) as capture:
        yield capture


@pytest.fixture
def work(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "note.txt").write_text(NOTE + "\n")
    return folder


# --- Codex CLI ------------------------------------------------------------------------------------------------


def codex_home(tmp_path, proxy: CaptureProxy):
    """CODEX_HOME with a config.toml naming the provider (base URL and key) and, apart, keeping Codex offline."""
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f"""model = "cheshire-cat"
model_provider = "cat"

[model_providers.cat]
name = "Cheshire Cat"
base_url = "{proxy.url}/custom/v1"
env_key = "{KEY_VARIABLE}"
wire_api = "responses"

# Offline only (no model or tool settings): no curated-plugin sync from github.com, no analytics.
[features]
plugins = false

[analytics]
enabled = false
"""
    )
    return home


def codex(project, tmp_path, proxy, work, *args: str, fixture: bool = False):
    home = tmp_path / "codex-home"
    env = client_env(tmp_path / "home", CODEX_HOME=str(home if home.exists() else codex_home(tmp_path, proxy)))
    env[KEY_VARIABLE] = KEY
    cli = project / "node_modules" / "@openai" / "codex" / "bin" / "codex.js"
    run = run_client(["node", str(cli), "exec", "--skip-git-repo-check", "--json", *args], cwd=work, env=env)
    if fixture:
        write_fixture("codex", proxy, "/v1/responses", {str(tmp_path): "/tmp/codex"})
    events = json_lines(run.stdout)
    failed = [e for e in events if e.get("type") in ("turn.failed", "error")]
    if run.returncode or failed:
        pytest.fail(explain("Codex CLI", run, proxy), pytrace=False)
    return events


def agent_messages(events: list[dict]) -> list[str]:
    return [
        e["item"]["text"]
        for e in events
        if e.get("type") == "item.completed" and e["item"].get("type") == "agent_message"
    ]


def test_codex_one_turn(project, proxy, work, tmp_path):
    events = codex(project, tmp_path, proxy, work, "Who are you? [[reply:I am the Cheshire Cat.]]", fixture=True)
    assert agent_messages(events) == ["I am the Cheshire Cat."]
    sent = first_turn(proxy, "/v1/responses")
    assert sent.body["stream"] is True
    drift = sdk_drift(sent.body, {"tools": ToolParam, "input": ResponseInputItemParam})
    assert not drift, "what Codex sent is not in openai-python's types:\n" + "\n".join(drift)
    check_fixture("codex", sent)


def test_codex_streams_its_answer(project, proxy, work, tmp_path):
    events = codex(project, tmp_path, proxy, work, "Count for me [[tokens:40]]")
    assert agent_messages(events) == ["".join(f" t{i}" for i in range(40))]
    streamed = proxy.posts("/v1/responses")[-1].events()
    assert streamed.count("response.output_text.delta") >= 40, streamed
    assert streamed[-1] == "response.completed", streamed


def test_codex_runs_its_shell_tool_for_the_cats_agent(project, proxy, work, tmp_path, llm_log):
    prompt = 'What does the note say? [[call:exec_command:{"cmd": "cat note.txt"}]]'
    events = codex(project, tmp_path, proxy, work, prompt)
    ran = [e["item"] for e in events if e.get("type") == "item.completed" and e["item"]["type"] == "command_execution"]
    assert len(ran) == 1 and ran[0]["exit_code"] == 0 and NOTE in ran[0]["aggregated_output"], events
    [answer] = agent_messages(events)
    assert answer.startswith("Tool said: ") and NOTE in answer
    turns = proxy.posts("/v1/responses")
    outputs = [i for i in turns[-1].body["input"] if i.get("type") == "function_call_output"]
    assert len(outputs) == 1 and NOTE in json.dumps(outputs[0]), "Codex sent its tool's output back"
    calls = llm_log()
    offered = [t["function"]["name"] for t in calls[0]["body"]["tools"]]
    assert "exec_command" in offered, offered
    assert [m["role"] for m in calls[-1]["body"]["messages"]][-2:] == ["assistant", "tool"]


def test_codex_exec_resume(project, proxy, work, tmp_path, llm_log):
    first = codex(project, tmp_path, proxy, work, "Remember the word. [[reply:The word is mat.]]")
    [thread] = [e["thread_id"] for e in first if e.get("type") == "thread.started"]
    again = codex(project, tmp_path, proxy, work, "resume", thread, "Which word? [[reply:Still mat.]]")
    assert agent_messages(again) == ["Still mat."]
    history = proxy.posts("/v1/responses")[-1].body["input"]
    said = [i for i in history if i.get("role") == "assistant"]
    assert said and "The word is mat." in json.dumps(said[-1]), "the resumed turn carries the first answer"
    assert any(m.get("content") == "The word is mat." for m in llm_log()[-1]["body"]["messages"])


# --- OpenCode -------------------------------------------------------------------------------------------------


def opencode(project, tmp_path, proxy, work, prompt: str, fixture: bool = False):
    """`opencode run` with the prompt on stdin (1.18 quotes a prompt given as an argument, directives and all)."""
    (work / "opencode.json").write_text(
        json.dumps(
            {
                "$schema": "https://opencode.ai/config.json",
                "provider": {
                    "cat": {
                        "npm": "@ai-sdk/openai-compatible",
                        "options": {"baseURL": f"{proxy.url}/custom/v1", "apiKey": f"{{env:{KEY_VARIABLE}}}"},
                        "models": {"cheshire-cat": {}},
                    }
                },
            },
            indent=2,
        )
    )
    offline = {
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "npm_config_offline": "true",
    }
    env = client_env(tmp_path / "home", **offline, **{KEY_VARIABLE: KEY})
    binary = project / "node_modules" / "opencode-linux-x64" / "bin" / "opencode"
    if not binary.exists():
        pytest.skip("this test runs OpenCode's linux-x64 binary only")
    args = [str(binary), "run", "-m", "cat/cheshire-cat", "--format", "json"]
    run = run_client(args, cwd=work, env=env, stdin=prompt + "\n")
    if fixture:
        write_fixture("opencode", proxy, "/v1/chat/completions", {str(tmp_path): "/tmp/opencode"})
    events = json_lines(run.stdout)
    if run.returncode or [e for e in events if e.get("type") == "error"]:
        pytest.fail(explain("OpenCode", run, proxy), pytrace=False)
    return events


def texts(events: list[dict]) -> list[str]:
    return [e["part"]["text"] for e in events if e.get("type") == "text"]


def test_opencode_one_turn(project, proxy, work, tmp_path):
    events = opencode(project, tmp_path, proxy, work, "Who are you? [[reply:I am the Cheshire Cat.]]", fixture=True)
    assert texts(events) == ["I am the Cheshire Cat."]
    sent = first_turn(proxy, "/v1/chat/completions")
    drift = sdk_drift(sent.body, {"tools": ChatCompletionToolUnionParam, "messages": ChatCompletionMessageParam})
    assert not drift, "what OpenCode sent is not in openai-python's types:\n" + "\n".join(drift)
    check_fixture("opencode", sent)


def test_opencode_runs_its_read_tool_for_the_cats_agent(project, proxy, work, tmp_path, llm_log):
    note = work / "note.txt"
    events = opencode(project, tmp_path, proxy, work, f'What does the note say? [[call:read:{{"filePath": "{note}"}}]]')
    used = [e["part"] for e in events if e.get("type") == "tool_use"]
    assert len(used) == 1 and used[0]["tool"] == "read" and used[0]["state"]["status"] == "completed", events
    assert any(t.startswith("Tool said: ") and NOTE in t for t in texts(events)), events
    answered = [c["body"]["messages"] for c in llm_log() if c["body"]["messages"][-1]["role"] == "tool"]
    assert answered and NOTE in answered[-1][-1]["content"]
