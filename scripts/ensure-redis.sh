#!/usr/bin/env bash
# Makes sure the integration tests can run their own Redis: redis-server
# (also run as a sentinel, with --sentinel) and redis-cli (which creates the
# multi-node clusters) must be installed, from Debian's packages when
# missing. REDIS_URL spares the single-server tests a server of their own,
# but the cluster and sentinel tests always start theirs. Fails with one
# line when the binaries cannot be had.
set -euo pipefail

have() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }

if have; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi

if command -v apt-get >/dev/null 2>&1; then
  echo "redis-server or redis-cli not found: installing Debian's redis-server and redis-tools packages" >&2
  if $sudo apt-get update -qq >/dev/null 2>&1 &&
     DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null 2>&1 &&
     have; then
    exit 0
  fi
fi

echo "redis-server and redis-cli are required for the tests: install them (apt-get install redis-server redis-tools)" >&2
exit 1
