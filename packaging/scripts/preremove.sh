#!/bin/sh
# Stops the service before its binary goes away; an upgrade keeps it
# running until postinstall restarts it.
set -e

if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
	systemctl --no-reload disable --now trainyard.service >/dev/null 2>&1 || true
fi
exit 0
