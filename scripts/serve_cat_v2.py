"""Run a Cat v2 project on 127.0.0.1 with the bridge installed and active.

The project folder (CAT_PROJECT) gets the Cat's starter plugins (admin UI, LLM
presets, the tutorial) on first run and a fresh copy of the bridge on every run.
With LLM_BASE_URL set (an OpenAI-compatible server such as Ollama, vLLM or
OpenAI itself; a trailing /v1 is optional) the Cat's LLM is pointed at it, with
LLM_MODEL and LLM_API_KEY. LLM_EMBEDDING_MODEL makes that server's embedding
model the Cat's embedder (its memory and /custom/v1/embeddings use it); without
LLM_BASE_URL it names a model of the OpenAI-compatible provider already saved
in the Cat's settings.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_ID = "cat_openai_bridge"
PORT = int(os.environ.get("CAT_PORT", "1865"))
KEY = os.environ.get("CAT_API_KEY", "meow")
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "").rstrip("/").removesuffix("/v1")
LLM_MODEL = os.environ.get("LLM_MODEL", "gpt-4o-mini")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "none")  # the Cat's client needs a non-empty key, even for keyless servers
LLM_EMBEDDING_MODEL = os.environ.get("LLM_EMBEDDING_MODEL", "")
PROJECT = Path(os.environ.get("CAT_PROJECT", ROOT / "run" / "cat")).resolve()
PROVIDER = "openai_compatible"  # the Cat's own provider for any OpenAI-compatible server
CORE_SETTINGS = "core__config__core"  # default_llm and default_embedder, as "provider:model"


def prepare_project() -> None:
    PROJECT.mkdir(parents=True, exist_ok=True)
    (PROJECT / "config.py").write_text(
        f'URL = "http://localhost:{PORT}"\nAPI_KEY = {KEY!r}\nDEBUG = False\nTELEMETRY = False\n'
    )
    os.chdir(PROJECT)  # the Cat reads config.py from the working directory at import
    from cat.scaffold import scaffolder

    scaffolder.create_folders()
    dest = PROJECT / "plugins" / PLUGIN_ID
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / PLUGIN_ID, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    scaffolder.setup_project()


def activate_and_announce() -> None:
    """Once the Cat answers: make sure the bridge is active, then say how to reach it."""
    base = f"http://localhost:{PORT}"
    headers = {"Authorization": f"Bearer {KEY}"}
    for _ in range(600):
        try:
            state = httpx.get(f"{base}/plugins/{PLUGIN_ID}", headers=headers, timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        print("The Cat did not start.", file=sys.stderr)
        return
    if state.status_code == 200 and not state.json()["active"]:
        httpx.put(f"{base}/plugins/{PLUGIN_ID}/toggle", headers=headers, timeout=30).raise_for_status()
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        configure_models(client)
    health = httpx.get(f"{base}/custom/health", timeout=5).json()
    print(
        "\n  OpenAI-compatible API of the Cheshire Cat is ready\n"
        f"    base URL : {base}/custom/v1\n"
        f"    API key  : {KEY}\n"
        f"    model    : cheshire-cat\n"
        f"    health   : {health}\n"
        f"    admin    : {base}  (LLM settings live here; or restart with LLM_BASE_URL=...)\n",
        flush=True,
    )
    if not health.get("embedder_configured"):
        print("  note: no embedder: /custom/v1/embeddings answers 400 until LLM_EMBEDDING_MODEL is set\n", flush=True)


def configure_models(client: httpx.Client) -> None:
    """The Cat's LLM and embedder from the environment; what is not set stays as saved in the Cat's settings."""
    if not (LLM_BASE_URL or LLM_EMBEDDING_MODEL):
        return
    if LLM_BASE_URL:
        client.put(
            f"/settings/core__model_providers__{PROVIDER}",
            json={"base_url": f"{LLM_BASE_URL}/v1", "api_key": LLM_API_KEY},
        ).raise_for_status()
    saved = next(e["value"] for e in client.get("/settings").raise_for_status().json() if e["id"] == CORE_SETTINGS)
    core = dict(saved)
    if LLM_BASE_URL:
        core["default_llm"] = f"{PROVIDER}:{LLM_MODEL}"
    if LLM_EMBEDDING_MODEL:
        core["default_embedder"] = f"{PROVIDER}:{LLM_EMBEDDING_MODEL}"
    client.put(f"/settings/{CORE_SETTINGS}", json=core).raise_for_status()


def main() -> None:
    prepare_project()
    import uvicorn

    threading.Thread(target=activate_and_announce, daemon=True).start()
    uvicorn.run("cat.startup:cheshire_cat_api", host="127.0.0.1", port=PORT, ws="none", log_level="warning")


if __name__ == "__main__":
    main()
