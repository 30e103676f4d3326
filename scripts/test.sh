#!/usr/bin/env bash
# Install everything into .venv and run the whole test suite (unit + a real Cat v2).
"$(dirname "$0")/system-deps.sh"
source "$(dirname "$0")/venv.sh"
install_requirements test.txt
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
