"""Every code block of the README and docs/ runs against a real Cat, so no example can rot.

The Cat is the one `./scripts/start-cat.sh` starts (the README's first command), its LLM and
embedder the scripted server; its port replaces 1865 in each block. The convention, after a
block's language (docs/development.md says the same for writers):

- ```python and ```bash blocks run (bash from the repository root; `curl` there fails on an HTTP
  error status, unless the block shows its output);
- ```json output / ```text output right after a run block is what that block must print;
- any other block says why it is not run: ```nginx not-run: a proxy configuration.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.processes import REPO

RUN = {"python", "bash"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")
LINK = re.compile(r"\]\((?!https?://|mailto:|#)(?P<target>[^)#\s]+)(?:#[^)]*)?\)")
# Pages other branches are writing; the README links them ahead of the merge that brings them.
PENDING_PAGES: set[str] = set()


@dataclass
class Block:
    page: str
    line: int
    lang: str
    marker: str  # "", "output", or "not-run"
    reason: str
    code: str
    output: Block | None = None  # the output block that follows a run block

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, ticks = opening["indent"], opening["ticks"]
        lang, _, rest = opening["info"].strip().partition(" ")
        marker, _, reason = rest.strip().partition(":")
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.fullmatch(rf"[ \t]*{ticks}`*[ \t]*", lines[i]):
            body.append(lines[i].removeprefix(indent))
            i += 1
        start = i - len(body)
        code = "\n".join(body) + "\n"
        found.append(Block(str(page.relative_to(REPO)), start, lang, marker.strip(), reason.strip(), code))
        i += 1
    for before, after in zip(found, found[1:]):
        if after.marker == "output" and before.lang in RUN and not before.marker:
            before.output = after
    return found


ALL = [block for page in pages() for block in blocks_of(page)]
RUNNABLE = [b for b in ALL if b.lang in RUN and not b.marker]


def test_every_block_runs_or_says_why_not():
    unclear = [
        f"{b.id}: ```{b.lang} {b.marker}"
        for b in ALL
        if not (
            (b.lang in RUN and not b.marker)
            or (b.marker == "not-run" and b.reason)
            or (b.marker == "output" and any(r.output is b for r in RUNNABLE))
        )
    ]
    assert unclear == [], "a block must run (python, bash), show a run block's output, or say `not-run: why`"
    assert len(RUNNABLE) >= 5


def test_relative_links_point_at_files():
    broken = []
    for page in pages():
        for link in LINK.finditer(page.read_text(encoding="utf-8")):
            target = (page.parent / link["target"]).resolve()
            name = str(target.relative_to(REPO)) if target.is_relative_to(REPO) else str(target)
            if not target.exists() and name not in PENDING_PAGES:
                broken.append(f"{page.relative_to(REPO)} -> {link['target']}")
    assert broken == []


@pytest.fixture(scope="module")
def shell_path(tmp_path_factory) -> dict[str, str]:
    """PATH for the blocks: this venv's python and pip first; for blocks that show no output, a curl that fails on
    an HTTP error status (so a block whose request the bridge refuses fails here)."""
    strict = tmp_path_factory.mktemp("strict-curl")
    real_curl = shutil.which("curl")
    assert real_curl, "the documentation's examples use curl"
    (strict / "curl").write_text(f'#!/bin/sh\nexec {real_curl} --fail-with-body "$@"\n')
    (strict / "curl").chmod(0o755)
    venv_bin = str(Path(sys.executable).parent)
    base = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    return {"strict": f"{strict}{os.pathsep}{base}", "plain": base}


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_the_example_runs(block: Block, quickstart_cat, shell_path, tmp_path):
    code = block.code.replace("localhost:1865", f"127.0.0.1:{quickstart_cat.port}")
    env = {**os.environ, "PATH": shell_path["plain" if block.output else "strict"]}
    if block.lang == "python":
        command, cwd = [sys.executable, "-c", code], tmp_path
    else:
        command, cwd = ["bash", "-euo", "pipefail", "-c", code], REPO
    run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{block.id} failed:\n{run.stdout}\n{run.stderr}"
    if block.output is not None:
        shown = block.output.code
        if block.output.lang == "json":
            assert json.loads(run.stdout) == json.loads(shown), run.stdout
        else:
            assert run.stdout.strip() == shown.strip()
