#!/usr/bin/env bash
# Makes sure the tests of the Prometheus alert rules can run: promtool
# checks deploy/prometheus/alerts.yaml and runs its unit tests
# (deploy/prometheus/alerts_test.yaml). Debian ships promtool in the
# prometheus package, which is installed when promtool is missing. Its
# service is not started: only the promtool binary is wanted. Fails with
# one line when promtool cannot be had.
set -euo pipefail

have() { command -v promtool >/dev/null 2>&1; }

if have; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi

if command -v apt-get >/dev/null 2>&1; then
  echo "promtool not found: installing Debian's prometheus package, which ships it" >&2
  # policy-rc.d answering 101 keeps the package's service from starting
  # where no init system would manage it (a container, a CI runner).
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [ ! -e "$policy" ] && printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null 2>&1; then
    $sudo chmod +x "$policy" && added_policy=1
  fi
  ok=""
  if $sudo apt-get update -qq >/dev/null 2>&1 &&
     DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 &&
     have; then
    ok=1
  fi
  if [ -n "$added_policy" ]; then $sudo rm -f "$policy"; fi
  if [ -n "$ok" ]; then exit 0; fi
fi

echo "promtool is required for the alert rule tests: install it (apt-get install prometheus, or a release from prometheus.io)" >&2
exit 1
