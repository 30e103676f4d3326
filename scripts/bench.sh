#!/usr/bin/env bash
# Install everything into .venv and run the whole benchmark (≈ 4 min on 2 cores; --quick ≈ 1 min).
# Writes bench/results/latest.md, latest.png and latest.json.
source "$(dirname "$0")/venv.sh"
install_requirements bench.txt
cd "$ROOT"
exec "$VENV/bin/python" -m bench "$@"
