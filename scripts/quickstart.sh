#!/usr/bin/env bash
# scripts/quickstart.sh: the README's first command. Installs what is
# missing, builds, and runs cutover's main job on bundled defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" >/dev/null
CUT=build/cutover

if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=; N=; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$B" "$1" "$N" "$2"; }

# An example VM: 16 GiB, a 1 GiB hot set written 85% of the time, 12 GiB cold.
VM=(--mem 16GiB --dirty hotcold:hot=1GiB,cold=12GiB,hotfrac=0.85,rate=60000)

step "Predict one migration over 10 Gbit/s, MTU 9000, 4 channels" \
     "$CUT model ${VM[*]} --link 10Gbit --mtu 9000 --channels 4 --downtime-limit 300ms"
$CUT model "${VM[@]}" --link 10Gbit --mtu 9000 --channels 4 --downtime-limit 300ms

step "Tune MTU x channels x downtime-limit within 300 ms of downtime and a 2 minute deadline" \
     "$CUT tune ${VM[*]} --link 25Gbit --max-downtime 300ms --deadline 2m | tail -n 4"
$CUT tune "${VM[@]}" --link 25Gbit --max-downtime 300ms --deadline 2m | tail -n 4

if [ -f traces/example-cluster.json ] && $CUT simulate --help >/dev/null 2>&1; then
  step "Forecast a rolling patch cycle of the example cluster (200 Monte Carlo runs)" \
       "$CUT simulate traces/example-cluster.json --runs 200 --seed 1"
  $CUT simulate traces/example-cluster.json --runs 200 --seed 1
fi

if [ -x scripts/demo-migrate.sh ]; then
  step "Drive a real live migration of the bundled test guest (adaptive policy)" \
       "scripts/demo-migrate.sh"
  scripts/demo-migrate.sh
fi
