#!/bin/sh
# mark.sh STATE STEP [HOST]: append "STEP HOST" to STATE/steps (the tests
# check which hooks ran, in which order).
set -eu
echo "$2 ${3:-}" >> "$1/steps"
