#!/usr/bin/env bash
# Install a Cheshire Cat v2 with the bridge into .venv and start it on localhost:1865.
# Env: CAT_PORT (1865), CAT_API_KEY (meow), CAT_PROJECT (run/cat).
source "$(dirname "$0")/venv.sh"
install_requirements cat-v2.txt
exec "$VENV/bin/python" "$ROOT/scripts/serve_cat_v2.py" "$@"
