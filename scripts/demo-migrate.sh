#!/usr/bin/env bash
# scripts/demo-migrate.sh: a real live migration of the bundled test guest
# between two QEMU processes on loopback, driven by `cutover migrate` with
# the adaptive policy. The lab is torn down on every path.
set -euo pipefail
cd "$(dirname "$0")/.."
CUT=build/cutover
make -s test-assets
info=$(mktemp)
$CUT lab --mem 256MiB --workload 'pattern=uniform rate=20000 wss=64M' --duration 120s --json >"$info" &
lab=$!
trap 'kill -TERM $lab 2>/dev/null; wait $lab 2>/dev/null; rm -f "$info"' EXIT
for _ in $(seq 1 300); do [ -s "$info" ] && break; sleep 0.1; done
[ -s "$info" ] || { echo "demo: the lab did not start" >&2; exit 69; }
get() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$info"; }
src=$(get src_qmp); dst=$(get dst_qmp); uri=$(get migrate_uri); hb=$(sed -n 's/.*"heartbeat_port": \([0-9]*\).*/\1/p' "$info")
sleep 3 # let the guest fill its RAM and start dirtying
echo "$ $CUT migrate --qmp SRC --dest-qmp DST --uri $uri --max-downtime 300ms --deadline 2m --bandwidth 1Gbit"
$CUT migrate --qmp "$src" --dest-qmp "$dst" --uri "$uri" --max-downtime 300ms --deadline 2m \
  --bandwidth 1Gbit --allow auto-converge
