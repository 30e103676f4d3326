#!/usr/bin/env bash
# A long contract-fuzzing campaign against a live Cat with the bridge (random seeds, many examples).
# Usage: scripts/fuzz.sh [--examples 2000] [--v1 CORE] [more pytest args]
# --examples is per generator (each schemathesis operation, each hypothesis test); CI runs 60.
# --v1 also fuzzes a Cat v1 (CORE from scripts/prepare-cat-v1.sh). Prints the statuses seen; any 5xx fails.
source "$(dirname "$0")/venv.sh"
install_requirements test.txt
cd "$ROOT"
EXAMPLES=2000
while [ "$#" -gt 0 ]; do
  case "$1" in
    --examples) EXAMPLES="$2"; shift 2 ;;
    --v1) export CAT_V1_CORE="$2"; shift 2 ;;
    *) break ;;
  esac
done
FUZZ_EXAMPLES="$EXAMPLES" FUZZ_RANDOM=1 exec "$VENV/bin/python" -m pytest -q -s -p no:cacheprovider \
  tests/integration/test_fuzz.py "$@"
