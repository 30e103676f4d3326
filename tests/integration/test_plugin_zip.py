"""The release zip installs through the Cat's own plugin upload API and serves at once."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from testkit.cat_v2 import start_cat, use_llm

from .conftest import KEY, user_says

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from build_plugin_zip import build  # noqa: E402


def test_manifest_is_complete():
    manifest = json.loads((ROOT / "cat_openai_bridge" / "plugin.json").read_text())
    for field in ("name", "version", "description", "author_name", "author_url", "plugin_url", "tags", "thumb",
                  "min_cat_version", "max_cat_version"):
        assert manifest.get(field), field


def test_zip_uploads_through_the_cats_api_and_serves(tmp_path, llm):
    archive = build(tmp_path / "dist")
    names = zipfile.ZipFile(archive).namelist()
    assert "cat_openai_bridge/plugin.json" in names and not any("__pycache__" in n for n in names)
    cat = start_cat(tmp_path / "fresh", api_key=KEY, with_bridge=False)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(cat.url + "/custom/health", timeout=10).status_code == 404  # not there yet
        with archive.open("rb") as f:
            installed = httpx.post(cat.url + "/plugins", headers=headers, timeout=120,
                                   files={"file": (archive.name, f, "application/zip")})
        assert installed.status_code == 200, installed.text
        assert (installed.json()["id"], installed.json()["active"]) == ("cat_openai_bridge", True)
        use_llm(cat.url, llm.url, api_key=KEY)
        health = httpx.get(cat.url + "/custom/health", timeout=10).json()
        assert (health["status"], health["adapter"], health["llm_configured"]) == ("ok", "v2", True)
        answer = httpx.post(cat.url + "/custom/v1/chat/completions", headers=headers, timeout=30,
                            json={"model": "cheshire-cat", "messages": user_says("fresh install")})
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "Echo: fresh install"
    finally:
        cat.stop()
