"""The release zip installs through the Cat's own plugin upload API and serves at once."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from testkit import cat_v1
from testkit.cat_v2 import start_cat, use_llm

from .conftest import KEY, user_says

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from build_plugin_zip import build  # noqa: E402

MANIFEST = json.loads((ROOT / "cat_openai_bridge" / "plugin.json").read_text())


def test_manifest_is_complete_and_links_nowhere_made_up():
    manifest = MANIFEST
    for field in ("name", "version", "description", "author_name", "tags", "min_cat_version", "max_cat_version"):
        assert manifest.get(field), field
    assert manifest["min_cat_version"] == "1.8.0"  # the oldest Cat an adapter serves (v1 adapter: 1.8.0-1.9.2)
    # The project has no public home yet: no author, plugin or thumbnail URL until one exists (both Cats default them).
    assert not {"author_url", "plugin_url", "thumb"} & manifest.keys()
    assert "http" not in json.dumps(manifest)


def test_zip_holds_only_what_git_tracks(tmp_path):
    plugin = ROOT / "cat_openai_bridge"
    strays = [plugin / ".DS_Store", plugin / "core" / ".routes.py.swp", plugin / "settings.json"]
    try:
        for stray in strays:
            stray.write_bytes(b"not part of the plugin")
        names = zipfile.ZipFile(build(tmp_path / "dist")).namelist()
    finally:
        for stray in strays:
            stray.unlink(missing_ok=True)
    tracked = subprocess.run(
        ["git", "ls-files", "cat_openai_bridge"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(names) == sorted(tracked) and "cat_openai_bridge/routes.py" in names


def test_zip_uploads_through_the_cats_api_and_serves(tmp_path, llm):
    archive = build(tmp_path / "dist")
    names = zipfile.ZipFile(archive).namelist()
    assert "cat_openai_bridge/plugin.json" in names and not any("__pycache__" in n for n in names)
    cat = start_cat(tmp_path / "fresh", api_key=KEY, with_bridge=False)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(cat.url + "/custom/health", timeout=10).status_code == 404  # not there yet
        with archive.open("rb") as f:
            installed = httpx.post(
                cat.url + "/plugins", headers=headers, timeout=120, files={"file": (archive.name, f, "application/zip")}
            )
        assert installed.status_code == 200, installed.text
        assert (installed.json()["id"], installed.json()["active"]) == ("cat_openai_bridge", True)
        use_llm(cat.url, llm.url, api_key=KEY)
        health = httpx.get(cat.url + "/custom/health", timeout=10).json()
        assert (health["status"], health["adapter"], health["llm_configured"]) == ("ok", "v2", True)
        answer = httpx.post(
            cat.url + "/custom/v1/chat/completions",
            headers=headers,
            timeout=30,
            json={"model": "cheshire-cat", "messages": user_says("fresh install")},
        )
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Echo: fresh install"
    finally:
        cat.stop()


@pytest.mark.skipif(cat_v1.v1_core() is None, reason="Cat v1 tests need CAT_V1_CORE (scripts/prepare-cat-v1.sh)")
def test_zip_uploads_to_cat_v1_and_serves(tmp_path, llm):
    archive = build(tmp_path / "dist")
    core = cat_v1.v1_core()
    assert core is not None
    cat = cat_v1.start_cat_v1(core, tmp_path / "fresh-v1", api_key=KEY, with_bridge=False)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(cat.url + "/custom/health", timeout=10).status_code == 404  # not there yet
        with archive.open("rb") as f:
            uploaded = httpx.post(
                cat.url + "/plugins/upload",
                headers=headers,
                timeout=300,
                files={"file": (archive.name, f, "application/zip")},
            )
        assert uploaded.status_code == 200, uploaded.text
        state = httpx.get(cat.url + "/plugins/cat_openai_bridge", headers=headers, timeout=30).json()["data"]
        assert (state["id"], state["active"], state["version"]) == ("cat_openai_bridge", True, MANIFEST["version"])
        cat_v1.use_llm_v1(cat.url, llm.url, KEY)
        health = httpx.get(cat.url + "/custom/health", timeout=10).json()
        assert (health["status"], health["adapter"], health["llm_configured"]) == ("ok", "v1", True)
        answer = httpx.post(
            cat.url + "/custom/v1/chat/completions",
            headers=headers,
            timeout=60,
            json={"model": "cheshire-cat", "messages": user_says("fresh v1 install")},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "Echo: fresh v1 install"
    finally:
        cat.stop()
