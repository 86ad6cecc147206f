#!/usr/bin/env bash
# scripts/test.sh: the README's test command (and CI's, .ci/run). Installs
# what is missing, builds, and runs `make ci`: the test suite, the same under
# ASan + UBSan, every fuzz target on its corpus, the build checks. The last
# line of the output sums them, "tests: N passed, N failed, N skipped", also
# when something failed (make's own error line comes before it then).
# Extra args go to make.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" tests
log=$(mktemp /tmp/cutover-ci-XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
make ci "$@" 2>&1 | tee "$log" || rc=$?
if [ "$rc" -ne 0 ]; then
  grep -E '^tests: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 ||
    echo "tests: 0 passed, 1 failed, 0 skipped"
fi
exit "$rc"
