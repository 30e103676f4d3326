"""Structured outputs with the agent frameworks people use (from PyPI), each in its default mode.

They run in a venv of their own (requirements/clients.txt: their pins conflict with the Cat's),
one subprocess per Cat for every mode. The scripted LLM follows the bridge's instructions; the
value each client returns is what it parsed out of the bridge's answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import KEY

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "clients" / "python" / "structured.py"
CITY = {"name": "text", "population": 1}

# mode -> what the client gets back (None: the same City as everywhere)
JSON_MODES = {
    "pydantic_ai_native_output": CITY,
    "pydantic_ai_prompted_output": CITY,
    "instructor_json": CITY,
    "instructor_json_schema": CITY,
    "langchain_default": CITY,
    "langchain_json_mode": CITY,
}
TOOL_MODES = {
    "pydantic_ai_tool_output": CITY,
    "instructor_tools": CITY,
    "instructor_create_partial": CITY,
    "langchain_function_calling": CITY,
    "llama_index_structured_predict": CITY,
    "smolagents_tool_calling_agent": "text",
}


def _python(name: str) -> Path:
    """A clients' venv (.venv-clients-NAME), rebuilt when requirements/clients-NAME.txt changes."""
    venv, requirements = ROOT / f".venv-clients-{name}", ROOT / "requirements" / f"clients-{name}.txt"
    stamp = venv / "requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
        install = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*install, "-r", str(requirements)], check=True, timeout=900)
        stamp.write_text(digest)
    return venv / "bin" / "python"


def _run(name: str, base_url: str, modes: list[str]) -> dict:
    if not modes:
        return {}
    run = subprocess.run(
        [str(_python(name)), str(SCRIPT), base_url, KEY, *modes],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOGFIRE_IGNORE_NO_CONFIG": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


_RUNS: dict[str, dict] = {}
VENV_OF = {"llama_index_structured_predict": "llamaindex"}  # every other mode: "agents"


@pytest.fixture
def results(base_url, adapter, llm_log) -> dict:
    """Every mode, run once per Cat (one subprocess per venv); a failed set-up fails every mode alike."""
    if base_url not in _RUNS:
        _RUNS[base_url] = {"error": "the clients did not run"}
        modes = list(JSON_MODES) + (list(TOOL_MODES) if adapter == "v2" else [])
        out = _run("agents", base_url, [m for m in modes if m not in VENV_OF])
        out.update(_run("llamaindex", base_url, [m for m in modes if VENV_OF.get(m) == "llamaindex"]))
        # Each client's first answer met its demand: the corrective re-ask never ran.
        out["reasks"] = sum("Your previous answer could not be used" in json.dumps(e["body"]) for e in llm_log())
        _RUNS[base_url] = out
    assert "error" not in _RUNS[base_url], _RUNS[base_url]
    return _RUNS[base_url]


def test_no_client_needed_the_reask(results):
    assert results["reasks"] == 0


@pytest.mark.parametrize("mode", list(JSON_MODES))
def test_json_modes(results, mode):
    assert results[mode] == {"value": JSON_MODES[mode]}, results[mode].get("trace")


@pytest.mark.v2_only
@pytest.mark.parametrize("mode", list(TOOL_MODES))
def test_forced_tool_modes(results, mode):
    assert results[mode] == {"value": TOOL_MODES[mode]}, results[mode].get("trace")
