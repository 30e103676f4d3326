#!/usr/bin/env bash
# System packages the tests use, beyond Python and PyPI (Debian's, on loopback only):
#   redis-server   the shared-limit and replica tests run a real one
#   nginx          the replica tests put it in front of two Cats, configured as docs/deployment.md shows
#   prometheus     the metrics test has a real one scrape a replica (the package's service is not started)
#   nodejs, npm    the Node client tests (npm ci fetches their packages from the npm registry); not with SKIP_NODE=1
# Installs what is missing with apt-get when we may (root). Otherwise the tests that need them skip, except under
# CI=true, where a test that cannot run must fail: so this script fails there first. SKIP_APT=1: never install anything.
set -euo pipefail
if [ -n "${SKIP_APT:-}" ]; then
  exit 0
fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if [ -z "${SKIP_NODE:-}" ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
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
  echo "error: CI=${CI} and ${missing[*]} missing, with no apt-get as root to install them: the tests that need" \
    "them cannot run. Install them in the CI image (Debian: apt-get install ${missing[*]})." >&2
  exit 1
fi
echo "note: ${missing[*]} missing and cannot be installed here (apt-get as root); the Redis, replica, metrics and" \
  "Node client tests that need them will skip." >&2
