#!/usr/bin/env bash
# Makes sure the dashboard's browser tests can drive a headless Chromium:
# the chromium binary must be installed, from Debian's package when
# missing. Fails with one line when it cannot be had; the tests then fail
# too, unless TRAINYARD_SKIP_BROWSER=1 tells them to skip.
set -euo pipefail

have() { command -v chromium >/dev/null 2>&1; }

if have; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi

if command -v apt-get >/dev/null 2>&1; then
  echo "chromium not found: installing Debian's chromium package" >&2
  if $sudo apt-get update -qq >/dev/null 2>&1 &&
     DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 &&
     have; then
    exit 0
  fi
fi

echo "chromium is required for the dashboard's browser tests: install it (apt-get install chromium), or set TRAINYARD_SKIP_BROWSER=1 to skip them" >&2
exit 1
