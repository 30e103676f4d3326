"""A real Cheshire Cat v2 process in a throwaway project folder, with our plugin.

The Cat is started the way `ccat` starts it (scaffold, then uvicorn) but bound
to 127.0.0.1 only, and its LLM is pointed at a scripted LLM server through the
Cat's own OpenAI-compatible provider settings.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

import httpx

from .processes import REPO, Server, free_port, start

PLUGIN_ID = "cat_openai_bridge"
PLUGIN_SRC = REPO / PLUGIN_ID

LAUNCH = (
    "import sys, uvicorn\n"
    "from cat.scaffold import scaffolder\n"
    "scaffolder.setup_project()\n"
    "uvicorn.run('cat.startup:cheshire_cat_api', host=sys.argv[1], port=int(sys.argv[2]), "
    "log_level=sys.argv[3], ws='none')\n"
)


def write_project(project: Path, port: int, api_key: str, plugins: Iterable[Path]) -> None:
    project.mkdir(parents=True, exist_ok=True)
    (project / "config.py").write_text(
        f'URL = "http://localhost:{port}"\n'
        f"API_KEY = {api_key!r}\n"
        "DEBUG = False\n"
        "TELEMETRY = False\n"
        'LOG_LEVEL = "WARNING"\n'
    )
    target = project / "plugins"
    target.mkdir(exist_ok=True)
    for plugin in plugins:
        dest = target / plugin.name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(plugin, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def start_cat(
    project: Path,
    api_key: str = "meow",
    extra_plugins: Iterable[Path] = (),
    python: str = sys.executable,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_level: str = "warning",
    with_bridge: bool = True,
) -> Server:
    """Start a Cat v2 whose first start activates every plugin copied in."""
    port = port or free_port()
    write_project(project, port, api_key, [PLUGIN_SRC, *extra_plugins] if with_bridge else list(extra_plugins))
    return start([python, "-c", LAUNCH, host, str(port), log_level], port, "/status", project / "cat.log", cwd=project)


def use_llm(
    cat_url: str,
    llm_url: str,
    api_key: str = "meow",
    model: str = "scripted",
    llm_key: str = "x",
    embedder: str = "default:default",
) -> None:
    """Point the Cat's default LLM at an OpenAI-compatible server (`llm_url` + /v1), via its settings API."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=cat_url, headers=headers, timeout=30) as client:
        client.put(
            "/settings/core__model_providers__openai_compatible", json={"base_url": f"{llm_url}/v1", "api_key": llm_key}
        ).raise_for_status()
        client.put(
            "/settings/core__config__core",
            json={"default_llm": f"openai_compatible:{model}", "default_embedder": embedder},
        ).raise_for_status()


def put_bridge_settings(cat_url: str, values: dict, api_key: str = "meow") -> httpx.Response:
    with httpx.Client(base_url=cat_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:
        return client.put(f"/settings/{PLUGIN_ID}__config__openai_bridge", json=values)
