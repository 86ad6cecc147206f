#!/usr/bin/env bash
# scripts/install-deps.sh: install the Debian 12 packages cutover needs,
# only those missing (idempotent). Uses sudo when not root. With --bench,
# also the optional packages of the benchmarks (BENCH_PKGS below).
set -euo pipefail
PKGS=(
  build-essential pkg-config make gcc gcc-multilib
  libgsl-dev libjansson-dev libvirt-dev libpcap-dev libcriterion-dev
  qemu-system-x86 qemu-utils
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  iproute2 iputils-ping tcpdump busybox-static cpio jq
  gnuplot-nox
  clang
)
# Bench-only packages, not dependencies of cutover: SimGrid 3.32 for the
# side-by-side in `make bench-sim` (bench/simgrid/), Open MPI for the
# Monte Carlo over MPI. `scripts/install-deps.sh --bench` adds them.
BENCH_PKGS=(libsimgrid-dev libopenmpi-dev openmpi-bin)
if [ "${1:-}" = "--bench" ]; then
  PKGS+=("${BENCH_PKGS[@]}")
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
