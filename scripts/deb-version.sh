#!/bin/sh
# deb-version.sh VERSION prints the Debian version of a build whose
# version (git describe --tags --always --dirty) is VERSION. A Debian
# version starts with a digit and must sort as the release does:
#   v1.2.3                  -> 1.2.3
#   v1.2.3-4-gabc1234       -> 1.2.3+git4.abc1234   (after the release)
#   v1.3.0-rc1              -> 1.3.0~rc1            (before it)
#   9f3c2e1 (no tag)        -> 0.0.0~git9f3c2e1     (before every release)
# and -dirty, a build with local changes, sorts before its commit.
set -eu
v=${1#v}
if printf '%s\n' "$v" | grep -Eqx '[0-9a-f]{7,40}(-dirty)?'; then
	# A commit with no tag: a hash, which may start with a digit.
	printf '0.0.0~git%s\n' "$v" | tr - '~'
	exit
fi
case "$v" in
[0-9]*) printf '%s\n' "$v" | sed -E 's/-([0-9]+)-g([0-9a-f]+)(-dirty)?$/+git\1.\2\3/' | tr - '~' ;;
*) printf '0.0.0~git%s\n' "$v" | tr - '~' ;;
esac
