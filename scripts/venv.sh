# Sourced by the other scripts: make (once) and enter the project's virtual environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
install_requirements() {
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements/$1"
}
