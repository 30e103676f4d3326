#!/usr/bin/env bash
# Build dist/cat_openai_bridge.zip for the Cat's admin "upload plugin" (or POST /plugins on v2, /plugins/upload on v1).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/build_plugin_zip.py "$@"
