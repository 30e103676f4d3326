#!/usr/bin/env bash
# Install a Cheshire Cat v2 with the bridge into .venv and start it on localhost:1865 (127.0.0.1 only).
# Env: CAT_PORT (1865), CAT_API_KEY (meow), CAT_PROJECT (run/cat: the Cat's data and plugins, kept across runs),
# LLM_BASE_URL (an OpenAI-compatible server for the Cat's LLM), LLM_MODEL (gpt-4o-mini), LLM_API_KEY (none),
# LLM_EMBEDDING_MODEL (the embedder on that server, for the Cat's memory and /custom/v1/embeddings).
source "$(dirname "$0")/venv.sh"
install_requirements cat-v2.txt
exec "$VENV/bin/python" "$ROOT/scripts/serve_cat_v2.py" "$@"
