#!/bin/sh
# mtu_probe.sh BAD HOST PEER PEER_ADDR MTU PAYLOAD: a stand-in for `ping -M
# do -s PAYLOAD PEER_ADDR` run on HOST (tests/cycle/test_preflight.c). The
# pair BAD ("h1-h3") does not pass; every call is also appended to
# $MTU_PROBE_LOG when set, so the test sees each argv.
set -eu
bad=$1 host=$2 peer=$3 addr=$4 mtu=$5 payload=$6
[ -n "${MTU_PROBE_LOG:-}" ] && echo "$host $peer $addr $mtu $payload" >> "$MTU_PROBE_LOG"
echo "PING $addr $payload($mtu) bytes of data."
if [ "$host-$peer" = "$bad" ]; then
    echo "2 packets transmitted, 0 received, 100% packet loss (test: $host-$peer)"
    exit 1
fi
echo "2 packets transmitted, 2 received, 0% packet loss (test: $host-$peer)"
