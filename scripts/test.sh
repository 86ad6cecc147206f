#!/usr/bin/env bash
# scripts/test.sh: the README's test command (and CI's, .ci/run). Installs
# what is missing, builds, and runs `make ci`: the test suite, the same under
# ASan + UBSan, every fuzz target on its corpus, the build checks; the last
# line sums them: "tests: N passed, N failed, N skipped". Extra args go to make.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" tests
make ci "$@"
