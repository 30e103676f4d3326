"""Claude Code's CLI (npm `@anthropic-ai/claude-code`) headless against the bridge, end to end.

`claude -p` with ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN talks only to the Cat (its other traffic is off by
environment; checked with strace once: it connects to the Cat's port and nothing else). The Cat's agent answers,
calls one of Claude Code's own tools (Read), Claude Code runs it and sends the result back, and the agent's final
answer is what the CLI prints. It runs on its defaults: no CLAUDE_CODE_MAX_OUTPUT_TOKENS, so it asks for the
32000 output tokens it asks of every model, over the bridge's default `max_tokens` ceiling (4000); issue #24 wants
that clamped, not refused. It talks to the Cat through testkit/capture.py's proxy, so the test reads what it sent:
its first request is kept in tests/fixtures/coding-agents/claude-code.json (see coding_agents.py).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from testkit.capture import CaptureProxy

from .coding_agents import bridge_story, check_fixture, first_turn, write_fixture
from .conftest import KEY

PROJECT = Path(__file__).resolve().parent.parent / "clients" / "claude-code"
PLATFORMS = {("Linux", "x86_64"): "linux-x64", ("Linux", "aarch64"): "linux-arm64", ("Darwin", "arm64"): "darwin-arm64"}

pytestmark = pytest.mark.v2_only  # client tools (v1's agent cannot hand tool calls back)


@pytest.fixture(scope="module")
def claude_cli() -> Path:
    """The native CLI binary its npm package ships for this platform (run directly: no postinstall needed)."""
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the Claude Code test: node and npm are missing")
        pytest.skip("node/npm not installed: the Claude Code test needs them")
    target = PLATFORMS.get((platform.system(), platform.machine()))
    if target is None:
        pytest.skip(f"no Claude Code binary for {platform.system()} {platform.machine()} in this test")
    binary = PROJECT / "node_modules" / "@anthropic-ai" / f"claude-code-{target}" / "claude"
    if not binary.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent", "--ignore-scripts"],
            cwd=PROJECT,
            check=True,
            timeout=600,
        )
    return binary


@pytest.fixture
def proxy(cat):
    with CaptureProxy(cat.url) as capture:
        yield capture


def test_claude_code_runs_a_tool_for_the_cats_agent(claude_cli, proxy, llm_log, tmp_path):
    note = tmp_path / "work" / "note.txt"
    note.parent.mkdir()
    note.write_text("the cat is on the mat\n")
    (tmp_path / "home").mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "ANTHROPIC_BASE_URL": proxy.url + "/custom",
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "ANTHROPIC_MODEL": "cheshire-cat",
        "ANTHROPIC_SMALL_FAST_MODEL": "cheshire-cat",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    prompt = f'What does the note say? [[call:Read:{{"file_path": "{note}"}}]]'
    run = subprocess.run(
        [str(claude_cli), "-p", prompt, "--output-format", "json"],
        cwd=note.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    write_fixture("claude-code", proxy, "/v1/messages", {str(tmp_path): "/tmp/claude-code"})
    if run.returncode:
        story = bridge_story(proxy)
        pytest.fail(f"Claude Code failed; what the bridge answered:\n{story}\n{run.stdout}{run.stderr}", pytrace=False)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert (result["is_error"], result["num_turns"], result["stop_reason"]) == (False, 2, "end_turn"), (
        f"{result.get('result')}\nwhat the bridge answered:\n{bridge_story(proxy)}"
    )
    assert result["result"].startswith("Tool said: ") and "the cat is on the mat" in result["result"]
    calls = llm_log()
    assert len(calls) == 2  # the agent's tool call, then its answer with Claude Code's tool result
    offered = [t["function"]["name"] for t in calls[0]["body"]["tools"]]
    assert "Read" in offered and "Bash" in offered
    answered = calls[1]["body"]["messages"]
    assert [m["role"] for m in answered][-2:] == ["assistant", "tool"]
    assert "the cat is on the mat" in answered[-1]["content"]
    check_fixture("claude-code", first_turn(proxy, "/v1/messages"))
