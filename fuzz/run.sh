#!/usr/bin/env bash
# fuzz/run.sh [--build] SECONDS NAME[:MAXLEN]...: run each libFuzzer target
# build-fuzz/fuzz_NAME for SECONDS on a working copy of its committed corpus
# fuzz/corpus/NAME (new inputs stay in build-fuzz/corpus-NAME), inputs of at
# most MAXLEN bytes (default 4096). --build first builds each target with
# $MAKE (a build failure fails that target). One line per target
# ("PASS fuzz::NAME: ..." or "FAIL fuzz::NAME: why"), then
# "fuzz: N passed, N failed, 0 skipped". A crash, leak, sanitizer report,
# timeout (10 s per input) or out-of-memory is a finding: the target fails,
# the input is kept in build-fuzz/artifacts/ and the run exits 1. A target
# without a corpus fails too (every parser has one).
set -u
cd "$(dirname "$0")/.."
build=0
[ "${1:-}" = "--build" ] && { build=1; shift; }
secs=${1:?usage: fuzz/run.sh [--build] SECONDS NAME[:MAXLEN]...}; shift
out=${FUZZ_BUILD:-build-fuzz}
mkdir -p "$out/artifacts"
pass=0; fail=0; lines=()
for spec in "$@"; do
  name=${spec%%:*}; maxlen=4096
  [ "$spec" != "$name" ] && maxlen=${spec#*:}
  bin=$out/fuzz_$name; log=$out/fuzz_$name.log
  echo "== fuzz::$name (${secs} s)"
  why=""
  if [ ! -d "fuzz/corpus/$name" ] || [ -z "$(ls -A "fuzz/corpus/$name")" ]; then
    why="no seed corpus in fuzz/corpus/$name"
  elif [ "$build" -eq 1 ] && ! ${MAKE:-make} --no-print-directory "$bin" >"$log" 2>&1; then
    tail -n 20 "$log"; why="build failed (see $log)"
  elif [ ! -x "$bin" ]; then
    why="$bin not built (make fuzz)"
  fi
  if [ -z "$why" ]; then
    mkdir -p "$out/corpus-$name"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$maxlen" \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" \
      "$out/corpus-$name" "fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
      lines+=("PASS fuzz::$name: ${runs:-?} inputs in ${secs} s, no finding")
      pass=$((pass + 1))
      continue
    fi
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$log" | head -n 8
    art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    why="finding (exit $rc), input ${art:-not saved}, log $log"
  fi
  lines+=("FAIL fuzz::$name: $why")
  fail=$((fail + 1))
done
echo
for l in "${lines[@]+"${lines[@]}"}"; do echo "$l"; done
echo "fuzz: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
