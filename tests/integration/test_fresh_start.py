"""A newcomer's first start: `./scripts/start-cat.sh` gives a Cat whose plugins all load, tools and embedder work.

The Cat it starts is the one a user gets (starter plugins scaffolded, the tutorial's
`@tool` agents among them), with its LLM and embedder set from LLM_BASE_URL and
LLM_EMBEDDING_MODEL. Its log up to "ready" must show no traceback: with fastmcp 4
(no upper bound in the Cat's own requirements) the tutorial failed to load there.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from testkit import cat_log
from testkit.processes import REPO
from testkit.scripted_llm import fake_embedding

from .conftest import user_says


@pytest.fixture
def sdk(quickstart_cat):
    with openai.OpenAI(base_url=quickstart_cat.url + "/custom/v1", api_key="meow", max_retries=0) as client:
        yield client


def test_the_first_start_log_has_no_traceback(quickstart_cat):
    log = quickstart_cat.log_path.read_text(errors="replace")
    assert "Active Plugins" in log and "tutorial" in log  # the starters were scaffolded and loaded
    assert cat_log.problems(log) == []


def test_health_says_llm_and_embedder_are_configured(quickstart_cat):
    health = httpx.get(quickstart_cat.url + "/custom/health", timeout=10).json()
    assert (health["adapter"], health["llm_configured"], health["embedder_configured"], health["embedder"]) == (
        "v2",
        True,
        True,
        "openai_compatible:scripted-embed",
    )


def test_the_tutorial_agents_tools_run_through_the_bridge(sdk, llm_log):
    """The scaffolded tutorial's `todo` agent: two of its real `@tool`s, one after the other, in one turn."""
    models = {m.id for m in sdk.models.list().data}
    assert {"cheshire-cat", "todo", "poet"} <= models
    ask = 'Add milk, then show the list [[call:create_todo:{"text": "milk"}]] [[next]] [[call:list_todos:{}]]'
    reply = sdk.chat.completions.create(model="todo", messages=user_says(ask))
    assert reply.choices[0].message.content == "Tool said: Created todo #1: milk; [ ] #1 milk"
    assert [len(call["body"]["messages"]) for call in llm_log()] == [2, 4, 6]  # system, user; then + call, result


def test_embeddings_come_from_the_configured_embedder(sdk):
    result = sdk.embeddings.create(model="text-embedding-3-small", input="hello cat", dimensions=8)
    assert result.model == "openai_compatible:scripted-embed"
    assert result.data[0].embedding == pytest.approx(fake_embedding("hello cat"))


def test_a_python_older_than_3_11_is_refused_in_one_line(tmp_path):
    """venv.sh checks the interpreter before it makes a venv (here a stand-in that is Python 3.10)."""
    fake = tmp_path / "python3.10"
    fake.write_text('#!/bin/sh\nif [ "$1" = "-V" ]; then echo "Python 3.10.13"; exit 0; fi\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    run = subprocess.run(
        ["bash", "-c", f"source {REPO / 'scripts' / 'venv.sh'}; echo made-a-venv"],
        env={**os.environ, "PYTHON": str(fake), "VENV": str(tmp_path / "venv")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 1 and "made-a-venv" not in run.stdout
    assert run.stderr.strip().splitlines() == [
        f"error: the Cat v2 needs Python >= 3.11, and {fake} is Python 3.10.13: install one, "
        "or set PYTHON=/path/to/python3.11"
    ]
    assert not Path(tmp_path / "venv").exists()
