#!/usr/bin/env bash
# Install everything into .venv, check style (ruff), run the whole test suite (unit + a real Cat v2),
# then the unit tests again on Python 3.10 / pydantic 2.4 (the Cat v1 stack).
# Besides Python packages it installs, unless told not to:
#   redis-server, nginx and prometheus with apt-get, when missing and running as root (SKIP_APT=1: don't; the
#     tests that need them then skip, except under CI=true)
#   the Node client tests' npm packages into tests/clients/node, tests/clients/claude-code and
#     tests/clients/coding-agents (Codex CLI, OpenCode) (SKIP_NODE=1: skip them)
#   the third-party Python clients' venvs, .venv-clients-agents and .venv-clients-llamaindex
#     (requirements/clients-*.txt; their pins conflict with the Cat's), built by their test on first use
#   a Python 3.10 venv, .venv-py310, when a python3.10 exists (SKIP_PY310=1: skip the compatibility run)
#   Home Assistant's venv, .venv-homeassistant, when a python3.13 exists (scripts/home-assistant.sh; under CI=true
#     none is a failure; SKIP_HOMEASSISTANT=1: don't, and its test skips)
source "$(dirname "$0")/venv.sh"
"$ROOT/scripts/system-deps.sh"
[ -n "${SKIP_HOMEASSISTANT:-}" ] || "$ROOT/scripts/home-assistant.sh"
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
