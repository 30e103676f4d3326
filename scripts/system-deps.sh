#!/usr/bin/env bash
# System packages the tests use, beyond Python and PyPI (Debian's, on loopback only):
#   redis-server   the shared-limit and replica tests run a real one
#   nginx          the replica tests put it in front of two Cats, configured as docs/deployment.md shows
#   prometheus     the metrics test has a real one scrape a replica (the package's service is not started)
# Installs what is missing with apt-get when we may (root); otherwise those tests skip, except under CI=true.
# SKIP_APT=1: never install anything.
set -euo pipefail
if [ -n "${SKIP_APT:-}" ]; then
  exit 0
fi
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: ${missing[*]} missing and cannot be installed here; the Redis, replica and metrics tests will skip." >&2
fi
