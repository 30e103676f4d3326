#!/usr/bin/env bash
# Install everything into .venv, check style (ruff), run the whole test suite (unit + a real Cat v2),
# then the unit tests again on Python 3.10 / pydantic 2.4 (the Cat v1 stack).
# Besides Python packages it installs, unless told not to:
#   redis-server with apt-get, when missing and running as root (SKIP_APT=1: don't; the Redis tests then skip)
#   the Node client test's npm packages into tests/clients/node (SKIP_NODE=1: skip that test)
#   a Python 3.10 venv, .venv-py310, when a python3.10 exists (SKIP_PY310=1: skip the compatibility run)
source "$(dirname "$0")/venv.sh"
"$ROOT/scripts/system-deps.sh"
install_requirements test.txt
cd "$ROOT"
if [ "$#" -eq 0 ]; then  # the style holds in CI: lint (pyflakes, pycodestyle, imports, pyupgrade, complexity) and format
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
fi
"$VENV/bin/python" -m pytest "$@"
if [ "$#" -eq 0 ] && [ -z "${SKIP_PY310:-}" ]; then
  "$ROOT/scripts/test-compat.sh"
fi
