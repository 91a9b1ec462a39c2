#!/usr/bin/env bash
# Makes sure redis-server is available for the integration tests: either
# REDIS_URL points at a server, or the redis-server binary is installed (from
# Debian's package when missing). Fails with one line when neither works.
set -euo pipefail

if [ -n "${REDIS_URL:-}" ] || command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi

if command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's redis-server package" >&2
  if $sudo apt-get update -qq >/dev/null 2>&1 &&
     DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1 &&
     command -v redis-server >/dev/null 2>&1; then
    exit 0
  fi
fi

echo "redis-server is required for the tests: install it (apt-get install redis-server) or set REDIS_URL" >&2
exit 1
