# Sourced by the other scripts: check the interpreter, make (once) and enter the project's virtual environment.
# PYTHON picks the interpreter for a new venv (default: the first of python3, python3.13, python3.12, python3.11
# that is 3.11 or newer); VENV the venv's folder (default .venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

python_ok() {  # cheshire-cat-ai 2.0.23 needs Python >= 3.11 (3.10 serves only scripts/test-compat.sh)
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

if [ ! -x "$VENV/bin/python" ]; then
  if [ -z "${PYTHON:-}" ]; then
    for candidate in python3 python3.13 python3.12 python3.11; do
      if python_ok "$candidate"; then PYTHON="$candidate"; break; fi
    done
  fi
  PYTHON="${PYTHON:-python3}"
  if ! python_ok "$PYTHON"; then
    echo "error: the Cat v2 needs Python >= 3.11, and $PYTHON is $("$PYTHON" -V 2>&1 || echo missing): install one, or set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
elif ! python_ok "$VENV/bin/python"; then
  echo "error: the Cat v2 needs Python >= 3.11, and $VENV has $("$VENV/bin/python" -V 2>&1): remove $VENV and run again with PYTHON=/path/to/python3.11" >&2
  exit 1
fi

install_requirements() {
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$ROOT/requirements/constraints.txt" -r "$ROOT/requirements/$1"
}
