#!/usr/bin/env bash
# Install everything into .venv, check style (ruff), run the whole test suite (unit + a real Cat v2),
# then the unit tests again on Python 3.10 / pydantic 2.4 (the Cat v1 stack).
"$(dirname "$0")/system-deps.sh"
source "$(dirname "$0")/venv.sh"
install_requirements test.txt
cd "$ROOT"
if [ "$#" -eq 0 ]; then  # the style holds in CI: lint (pyflakes, pycodestyle, imports, pyupgrade, complexity) and format
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
fi
"$VENV/bin/python" -m pytest "$@"
if [ "$#" -eq 0 ]; then
  "$ROOT/scripts/test-compat.sh"
fi
