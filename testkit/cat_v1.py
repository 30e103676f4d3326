"""A real Cheshire Cat v1 process (from scripts/prepare-cat-v1.sh) on loopback, with our plugin.

Each start runs a private copy of the Cat's `cat/` package folder (its data,
plugins and vector memory live inside it), so runs never share state and the
prepared checkout stays clean.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import httpx

from .cat_v2 import PLUGIN_ID, PLUGIN_SRC
from .processes import Server, free_port, start


def v1_core() -> Path | None:
    value = os.environ.get("CAT_V1_CORE")
    return Path(value).resolve() if value else None


def start_cat_v1(
    core: Path,
    workdir: Path,
    api_key: str,
    extra_plugins: Iterable[Path] = (),
    port: int | None = None,
    with_bridge: bool = True,
) -> Server:
    port = port or free_port()
    run = workdir / "core"
    shutil.copytree(core / "cat", run / "cat", ignore=shutil.ignore_patterns("__pycache__", "data", "*.pyc"))
    (run / "cat" / "data").mkdir(exist_ok=True)
    shutil.copy(core / "pyproject.toml", run / "pyproject.toml")  # v1's /openapi.json reads it from the cwd
    plugins = run / "cat" / "plugins"
    for plugin in ((PLUGIN_SRC,) if with_bridge else ()) + tuple(extra_plugins):
        shutil.copytree(plugin, plugins / plugin.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    Path("/admin").mkdir(exist_ok=True)  # v1 serves its admin's static files from there
    python = core.parent / "venv" / "bin" / "python"
    env = {
        "PYTHONPATH": str(run),  # this copy of `cat` before the editable install
        "CCAT_API_KEY": api_key,
        "CCAT_DEBUG": "false",
        "CCAT_LOG_LEVEL": "WARNING",
        "CCAT_CORE_HOST": "127.0.0.1",
        "CCAT_CORE_PORT": str(port),
        "TIKTOKEN_CACHE_DIR": str(core.parent / "tiktoken"),
        "HF_HUB_OFFLINE": "1",
    }
    return start(
        [
            str(python),
            "-m",
            "uvicorn",
            "cat.startup:cheshire_cat_api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        port,
        "/",
        workdir / "cat-v1.log",
        cwd=run,
        env=env,
        timeout=180,
    )


def activate_bridge_v1(cat_url: str, api_key: str, plugin_id: str = PLUGIN_ID) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    state = httpx.get(f"{cat_url}/plugins/{plugin_id}", headers=headers, timeout=30)
    state.raise_for_status()
    if not state.json()["data"]["active"]:
        httpx.put(f"{cat_url}/plugins/toggle/{plugin_id}", headers=headers, timeout=120).raise_for_status()


def use_llm_v1(cat_url: str, llm_url: str, api_key: str, model: str = "scripted") -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    httpx.put(
        f"{cat_url}/llm/settings/LLMOpenAICompatibleConfig",
        headers=headers,
        timeout=60,
        json={"url": f"{llm_url}/v1", "model_name": model, "api_key": "x", "streaming": True},
    ).raise_for_status()


def put_bridge_settings_v1(cat_url: str, values: dict, api_key: str) -> httpx.Response:
    return httpx.put(
        f"{cat_url}/plugins/settings/{PLUGIN_ID}",
        json=values,
        timeout=30,
        headers={"Authorization": f"Bearer {api_key}"},
    )
