#!/usr/bin/env bash
# System packages the tests use: redis-server (the shared-limit tests run a real one on loopback).
# Installs with apt-get when missing and we may (root); otherwise those tests skip, except under CI=true.
# SKIP_APT=1: never install anything.
set -euo pipefail
if [ -n "${SKIP_APT:-}" ]; then
  exit 0
fi
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
else
  echo "note: redis-server is missing and cannot be installed here; the Redis limiter tests will skip." >&2
fi
