"""What the coding-agent tests share: the npm project of tests/clients/coding-agents, the clients' offline
environments, what each sent (checked against the SDKs' request types, kept as fixtures), and failure messages
that show what the bridge answered.

Every client talks to the Cat through testkit/capture.py's proxy, so a test reads the exact bodies it sent.
The first request of each client is kept, scrubbed, in tests/fixtures/coding-agents/<client>.json; a test
compares what it sent with it (the set of top-level fields and the tools by type and name), so a client that
starts sending something new is seen. `CODING_AGENT_FIXTURES=write` rewrites the fixtures from a run.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pydantic
import pytest

from testkit.capture import CaptureProxy, Exchange

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "clients" / "coding-agents"
FIXTURES = ROOT / "fixtures" / "coding-agents"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
LONG_HEX = re.compile(r"\b[0-9a-f]{32,}\b")
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def install_project() -> Path:
    """tests/clients/coding-agents with its pinned packages (installed on first use; SKIP_NODE skips).

    `npm install --no-save` from the lockfile, not `npm ci`: the lockfile lists the platform packages of the
    registry it was made from, and `npm ci` refuses a lockfile without every optional platform package of
    opencode-ai. The versions are pinned exactly in package.json either way; `--ignore-scripts`: the tests run
    each platform's binary directly, so no postinstall is needed.
    """
    if os.environ.get("SKIP_NODE"):
        pytest.skip("SKIP_NODE is set: the coding-agent tests and their npm install are skipped")
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the coding-agent tests: node and npm are missing")
        pytest.skip("node/npm not installed: the coding-agent tests need them")
    wanted = json.loads((PROJECT / "package.json").read_text())["dependencies"]
    if not all((PROJECT / "node_modules" / name / "package.json").exists() for name in wanted):
        subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", "--silent", "--ignore-scripts"],
            cwd=PROJECT,
            check=True,
            timeout=600,
        )
    return PROJECT


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: PATH (for node, git, bash) and a private HOME, nothing of the test process's."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8", **extra}


def run_client(args: list[str], *, cwd: Path, env: dict[str, str], stdin: str = "", timeout: float = 120):
    try:
        return subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{Path(args[0]).name} did not finish within {timeout}s:\n{expired.stdout}\n{expired.stderr}")


def bridge_story(proxy: CaptureProxy) -> str:
    """Every request the client sent and what the bridge answered it, for a failure message."""
    lines = []
    for exchange in proxy.exchanges:
        status = exchange.status if exchange.error is None else exchange.error
        lines.append(f"  {exchange.method} {exchange.path} -> {status}")
        if exchange.status != 200:
            lines.append("    " + exchange.text()[:1500])
        elif "response.failed" in exchange.events() or '"type":"error"' in exchange.text().replace(" ", ""):
            lines.append("    (a stream that failed) " + exchange.text()[-1500:])
    return "\n".join(lines) or "  (the client sent the bridge nothing)"


def explain(client: str, run: subprocess.CompletedProcess, proxy: CaptureProxy) -> str:
    return (
        f"{client} failed (exit {run.returncode}). What it sent the bridge and what the bridge answered:\n"
        f"{bridge_story(proxy)}\n--- {client}'s stdout (last 3000 characters) ---\n{run.stdout[-3000:]}\n"
        f"--- its stderr (last 3000 characters) ---\n{run.stderr[-3000:]}"
    )


def json_lines(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def first_turn(proxy: CaptureProxy, suffix: str) -> Exchange:
    """The client's first request on `suffix` that offers tools (a turn, not a title or a probe)."""
    for exchange in proxy.posts(suffix):
        if isinstance(exchange.body, dict) and exchange.body.get("tools"):
            return exchange
    pytest.fail(f"no request with tools reached {suffix}:\n{bridge_story(proxy)}")


def sdk_drift(body: dict, checks: dict[str, Any]) -> list[str]:
    """What in `body` the SDK's own request types reject: each item of each list field, validated strictly
    (the SDKs' TypedDicts take lists as Iterables, which pydantic does not look into as a whole)."""
    problems = []
    for name, item_type in checks.items():
        adapter = pydantic.TypeAdapter(item_type)
        for index, item in enumerate(body.get(name) or []):
            try:
                adapter.validate_python(item, strict=True)
            except pydantic.ValidationError as error:
                problems.append(f"{name}[{index}] ({json.dumps(item)[:200]}): {str(error)[:600]}")
    return problems


def scrub(value: Any, replacements: dict[str, str]) -> Any:
    """The body without what belongs to one machine or run: temporary paths, the kernel, ids, dates."""
    text = json.dumps(value)
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(old)[1:-1], new)
    text = UUID.sub("00000000-0000-0000-0000-000000000000", text)
    text = LONG_HEX.sub(lambda m: "0" * len(m.group()), text)
    text = DATE.sub("2026-01-01", text)
    return json.loads(text)


def shape(body: dict) -> dict:
    """What a fixture compares: the top-level fields, and the tools by type and name (namespaces with theirs)."""

    def tool(t: dict) -> str:
        name = t.get("name") or t.get("function", {}).get("name") or ""
        inner = ",".join(tool(x) for x in t.get("tools") or [])
        return f"{t.get('type', '')}:{name}" + (f"[{inner}]" if inner else "")

    return {"fields": sorted(body), "tools": [tool(t) for t in body.get("tools") or []]}


def write_fixture(client: str, proxy: CaptureProxy, suffix: str, replacements: dict[str, str]) -> None:
    """With CODING_AGENT_FIXTURES=write, keep the client's first turn request (scrubbed) as its fixture; called
    before a test asserts anything, so a run that the bridge refuses still records what the client sent."""
    if os.environ.get("CODING_AGENT_FIXTURES") != "write":
        return
    exchange = first_turn(proxy, suffix)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    replacements = {**replacements, platform.release(): "6.0.0-generic"}
    for old, new in list(replacements.items()):  # Claude Code names its project folders after the path
        replacements[re.sub(r"[^A-Za-z0-9]", "-", old)] = re.sub(r"[^A-Za-z0-9]", "-", new)
    headers = {k: re.sub(r"\([^)]*\)", "(platform)", v) for k, v in exchange.headers.items()}
    kept = {"path": exchange.path.split("?")[0], "headers": headers, "body": scrub(exchange.body, replacements)}
    (FIXTURES / f"{client}.json").write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")


def check_fixture(client: str, exchange: Exchange) -> None:
    """The client's first turn request sends the fields and tools its fixture shows."""
    path = FIXTURES / f"{client}.json"
    if not path.exists():
        pytest.fail(f"no fixture {path.relative_to(ROOT.parent)}: run the test with CODING_AGENT_FIXTURES=write")
    expected = shape(json.loads(path.read_text())["body"])
    assert shape(exchange.body) == expected, (
        f"{client} now sends a different first request than tests/fixtures/coding-agents/{client}.json "
        "(a new client version?): look at what is new, then rerun with CODING_AGENT_FIXTURES=write"
    )
