#!/usr/bin/env bash
# tests/run.sh: run each Criterion test binary given as an argument, then list
# every skipped test with its reason ("SKIP suite::test: reason") and close
# with one line "tests: N passed, N failed, N skipped" summed over all of
# them. Exit 1 if any test failed.
#
# Counts come from each binary's TAP report (--tap=FILE, Criterion 2.4), not
# from its "Synthesis" line: that line leaves skips out, and Criterion's JSON
# report does not escape quotes in messages. A binary that crashes, exits
# non-zero with no failed test, or reports fewer tests than its TAP plan
# announced counts one failure under its own name; so does one that leaves
# files or directories in /tmp named as tests and cutover name theirs
# (co...-XXXXXX, cutover-test-...), which a test must remove also when it
# skips (Criterion runs no .fini after a skip).
set -u
pass=0; fail=0; skip=0
skips=(); fails=()
tmp=$(mktemp -d /tmp/cotest-run-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# what the tests leave in /tmp (their own prefixes; run.sh's own dir aside)
leftovers() {
  find /tmp -maxdepth 1 -mindepth 1 \( -name 'co*-??????' -o -name 'cutover-test-*' \) \
    ! -path "$tmp" -printf '%f\n' 2>/dev/null | sort
}
for t in "$@"; do
  [ -x "$t" ] || continue
  echo "== $t"
  rm -f "$tmp/tap"
  leftovers > "$tmp/before"
  out=$("$t" --jobs="${CO_TEST_JOBS:-2}" --tap="$tmp/tap" 2>&1); rc=$?
  # Criterion's own lines (assertions, FAIL) in full, then the tail of the
  # rest (a sanitizer report can be long; it must not hide the assertion).
  printf '%s\n' "$out" | grep -E '^\[(----|FAIL|WARN|ERR |====)\]' | grep -vE '^\[----\] .*: (PASS|SKIP)' | head -n 200
  printf '%s\n' "$out" | grep -vE '^\[(----|FAIL|WARN|ERR |====|PASS|SKIP|RUN )\]' | tail -n 30
  # One record per test: "P name", "F name" or "S name<TAB>reason"; then
  # "N planned" from the "1..N" line.
  recs=$(awk '
    /^1\.\.[0-9]+/        { sub(/^1\.\./, ""); print "N " $0 + 0; next }
    /^ok - .*# SKIP/      { n = $0; sub(/^ok - /, "", n); r = n
                            sub(/[ \t]+# SKIP.*$/, "", n); sub(/^.*# SKIP ?/, "", r)
                            print "S " n "\t" r; next }
    /^ok - /              { print "P " $3; next }
    /^not ok - /          { print "F " $4; next }' "$tmp/tap" 2>/dev/null)
  planned=$(printf '%s\n' "$recs" | sed -n 's/^N //p' | head -n 1)
  p=$(printf '%s\n' "$recs" | grep -c '^P ')
  f=$(printf '%s\n' "$recs" | grep -c '^F ')
  s=$(printf '%s\n' "$recs" | grep -c '^S ')
  while IFS= read -r l; do
    [ -n "$l" ] && skips+=("SKIP ${l%%$'\t'*}: ${l#*$'\t'}")
  done < <(printf '%s\n' "$recs" | sed -n 's/^S //p')
  while IFS= read -r l; do
    [ -n "$l" ] && fails+=("FAIL $l")
  done < <(printf '%s\n' "$recs" | sed -n 's/^F //p')
  seen=$((p + f + s))
  if [ -z "$planned" ] || [ "$seen" -lt "$planned" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
    why="exit $rc"
    [ "$rc" -gt 128 ] && why="killed by signal $((rc - 128))"
    [ -z "$planned" ] && why="$why, no TAP report"
    [ -n "$planned" ] && [ "$seen" -lt "$planned" ] && why="$why, $seen of $planned tests reported"
    f=$((f + 1))
    fails+=("FAIL $t: $why")
  fi
  left=$(leftovers | comm -13 "$tmp/before" - | tr '\n' ' ')
  if [ -n "$left" ]; then
    f=$((f + 1))
    fails+=("FAIL $t: left in /tmp: ${left% }")
  fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
done
echo
for l in "${skips[@]+"${skips[@]}"}"; do echo "$l"; done
for l in "${fails[@]+"${fails[@]}"}"; do echo "$l"; done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
