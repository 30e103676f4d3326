#!/usr/bin/env bash
# A long contract-fuzzing campaign against a live Cat with the bridge (random seeds, many examples).
# Usage: scripts/fuzz.sh [examples per generator, default 2000]
source "$(dirname "$0")/venv.sh"
install_requirements test.txt
cd "$ROOT"
FUZZ_EXAMPLES="${1:-2000}" FUZZ_RANDOM=1 exec "$VENV/bin/python" -m pytest -q tests/integration/test_fuzz.py
