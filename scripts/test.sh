#!/usr/bin/env bash
# scripts/test.sh: the README's test command. Installs what is missing,
# builds, and runs the test suite (`make check`). Extra args go to make.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" tests
make check "$@"
