"""Run a Cat v2 project on 127.0.0.1 with the bridge installed and active.

The project folder gets the Cat's starter plugins (admin UI, LLM presets) on
first run and a fresh copy of the bridge on every run. With LLM_BASE_URL set
(an OpenAI-compatible server such as Ollama, vLLM or OpenAI itself, without
the trailing /v1) the Cat's LLM is pointed at it; LLM_MODEL and LLM_API_KEY
go with it.
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
PROJECT = Path(os.environ.get("CAT_PROJECT", ROOT / "run" / "cat")).resolve()


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
    if LLM_BASE_URL:
        sys.path.insert(0, str(ROOT))
        from testkit.cat_v2 import use_llm

        use_llm(
            base, LLM_BASE_URL, KEY, os.environ.get("LLM_MODEL", "gpt-4o-mini"), os.environ.get("LLM_API_KEY", "none")
        )
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


def main() -> None:
    prepare_project()
    import uvicorn

    threading.Thread(target=activate_and_announce, daemon=True).start()
    uvicorn.run("cat.startup:cheshire_cat_api", host="127.0.0.1", port=PORT, ws="none", log_level="warning")


if __name__ == "__main__":
    main()
