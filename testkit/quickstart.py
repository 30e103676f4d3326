"""The README's first command, `./scripts/start-cat.sh`, run for real on a free loopback port.

What a newcomer gets: the script checks the interpreter, installs the pinned
requirements (with requirements/constraints.txt) into the venv it is given,
scaffolds a Cat project with the Cat's starter plugins (the tutorial and its
tools among them), copies the bridge in, points the Cat's LLM and embedder at
the server in LLM_BASE_URL, and prints that it is ready.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .processes import REPO, Server, free_port

READY = "OpenAI-compatible API of the Cheshire Cat is ready"


def in_a_venv() -> bool:
    return sys.prefix != sys.base_prefix


def start_quickstart_cat(
    project: Path,
    llm_url: str,
    api_key: str = "meow",
    embedding_model: str = "scripted-embed",
    timeout: float = 240.0,
) -> Server:
    """`scripts/start-cat.sh` with this interpreter's venv as its VENV; returns once it said it is ready."""
    port = free_port()
    project.mkdir(parents=True, exist_ok=True)
    log_path = project.parent / "start-cat.log"
    env = {
        **os.environ,
        "VENV": sys.prefix,  # the venv running the tests: installing into it is then a no-op
        "CAT_PORT": str(port),
        "CAT_API_KEY": api_key,
        "CAT_PROJECT": str(project),
        "LLM_BASE_URL": llm_url,
        "LLM_MODEL": "scripted",
        "LLM_API_KEY": "x",
        "LLM_EMBEDDING_MODEL": embedding_model,
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "start-cat.sh")], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY in log_path.read_text(errors="replace"):
            return server
        if process.poll() is not None:
            raise RuntimeError(f"start-cat.sh exited with {process.returncode}:\n{server.log_tail()}")
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"start-cat.sh was not ready within {timeout}s:\n{server.log_tail()}")
