#!/bin/sh
# patch.sh STATE HOST: the lab's "patch": bump HOST's version file in STATE
# and promise the new version on the last line (docs/cycle.md, validate).
# With STATE/slow-patch present it first sleeps that many seconds (tests
# kill cutover meanwhile).
set -eu
state=$1 host=$2
[ -f "$state/slow-patch" ] && sleep "$(cat "$state/slow-patch")"
v=$(cat "$state/$host.version" 2>/dev/null || echo 0)
v=$((v + 1))
echo "$v" > "$state/$host.version.tmp"
mv "$state/$host.version.tmp" "$state/$host.version"
echo "patched $host"
echo "version=$v"
