#!/bin/sh
# validate.sh STATE HOST: report HOST's version; fail when STATE/fail-HOST
# exists (a canary that does not validate).
set -eu
state=$1 host=$2
if [ -f "$state/fail-$host" ]; then
    echo "validation of $host failed (test)"
    exit 1
fi
echo "version=$(cat "$state/$host.version" 2>/dev/null || echo 0)"
