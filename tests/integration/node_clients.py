"""The npm project in tests/clients/node: installed once from its lockfile, its scripts run against the bridge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent / "clients" / "node"


def node_project() -> Path:
    """The project with every dependency of its package.json installed (`npm ci` when one is missing).

    Skips where node/npm are missing, except under CI=true, where that is an error; SKIP_NODE skips them.
    """
    if os.environ.get("SKIP_NODE"):
        pytest.skip("SKIP_NODE is set: the Node client tests and their npm install are skipped")
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the Node client tests: node and npm are missing")
        pytest.skip("node/npm not installed: the Node client tests need them")
    wanted = json.loads((PROJECT / "package.json").read_text())["dependencies"]
    if not all((PROJECT / "node_modules" / name / "package.json").exists() for name in wanted):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PROJECT, check=True, timeout=300)
    return PROJECT


def run_script(project: Path, *args: str, env: dict[str, str], timeout: float = 120) -> dict:
    """Run `node <args>` in the project; its last stdout line is the JSON of what it saw."""
    run = subprocess.run(
        ["node", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])
