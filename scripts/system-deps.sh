#!/usr/bin/env bash
# System packages the tests use, beyond Python and PyPI:
#   redis-server   the shared-limit tests run a real one on loopback
#   node and npm   the openai Node SDK test (npm ci fetches the SDK from the npm registry)
# Installs what is missing with apt-get (Debian's redis-server, nodejs, npm) when we may. Otherwise the tests that
# need them skip, except under CI=true, where a test that cannot run must fail: so this script fails there first.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # ca-certificates: npm reaches its registry over TLS (nodejs only recommends it)
  apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
  exit 0
fi
if [ -n "${CI:-}" ] && [ "${CI}" != "false" ]; then
  echo "error: CI=${CI} and ${missing[*]} missing, with no apt-get as root to install them: the Redis limiter" \
    "and Node SDK tests cannot run. Install them in the CI image (Debian: apt-get install ${missing[*]})." >&2
  exit 1
fi
echo "note: ${missing[*]} missing and not installable here (apt-get as root); the Redis limiter tests and the" \
  "Node SDK test will skip." >&2
