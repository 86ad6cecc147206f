#!/bin/sh
# die.sh LABDIR HOST: a "reboot" after which the host never answers again:
# every process of its namespaces is killed and nothing restarts them
# (`cutover lab cluster down` still cleans up).
set -eu
upid=$(cat "$1/$2/unshare.pid")
for c in $(cat /proc/"$upid"/task/*/children 2>/dev/null); do kill -9 "$c" 2>/dev/null || true; done
kill -9 "$upid" 2>/dev/null || true
echo "killed $2"
