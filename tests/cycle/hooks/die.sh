#!/bin/sh
# die.sh LABDIR HOST: a "reboot" after which the host never answers again:
# every process of its namespaces is killed and nothing restarts them
# (`cutover lab cluster down` still cleans up). It returns once they are
# gone (up to 10 s), as a reboot hook returns once the host went down: the
# cycle's first probe must not reach a daemon still dying.
set -eu
upid=$(cat "$1/$2/unshare.pid")
kids=$(cat /proc/"$upid"/task/*/children 2>/dev/null || true)
for c in $kids; do kill -9 "$c" 2>/dev/null || true; done
kill -9 "$upid" 2>/dev/null || true
i=0
for p in $upid $kids; do
    while [ -d /proc/"$p" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
done
echo "killed $2"
