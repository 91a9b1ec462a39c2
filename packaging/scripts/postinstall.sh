#!/bin/sh
# Makes systemd see a new or changed unit, and restarts a running service
# on upgrade so that it runs the new binary. A fresh install does not start
# the service: it needs its configuration first.
set -e

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if [ "$1" = "configure" ] && [ -n "$2" ]; then
		systemctl try-restart trainyard.service >/dev/null 2>&1 || true
	fi
fi
exit 0
