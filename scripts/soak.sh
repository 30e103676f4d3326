#!/usr/bin/env bash
# A long soak: start a Cat with the bridge and a scripted LLM, run mixed traffic, print what happened and RSS.
# Usage: scripts/soak.sh [--seconds 300] [--workers 16] [--v1 CORE]   (CORE: see scripts/prepare-cat-v1.sh)
source "$(dirname "$0")/venv.sh"
install_requirements test.txt
cd "$ROOT"
exec "$VENV/bin/python" -m testkit.soak "$@"
