#!/usr/bin/env bash
# tests/run.sh: run each Criterion test binary, then print one closing line
# "N passed, N failed" summed over all of them. Exit 1 if any failed.
set -u
pass=0; fail=0; bad=0
for t in "$@"; do
  [ -x "$t" ] || continue
  echo "== $t"
  out=$("$t" --jobs=2 2>&1); rc=$?
  printf '%s\n' "$out" | grep -vE '^\[----\] .*: (PASS|SKIP)' | tail -n 40
  syn=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n 1)
  p=$(printf '%s' "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
  f=$(printf '%s' "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
  c=$(printf '%s' "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0} + ${c:-0}))
  if [ "$rc" -ne 0 ] || [ -z "$syn" ]; then bad=$((bad + 1)); [ -z "$syn" ] && fail=$((fail + 1)); fi
done
echo
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$bad" -eq 0 ]
