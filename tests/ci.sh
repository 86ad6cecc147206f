#!/usr/bin/env bash
# tests/ci.sh: what `make ci` runs (and so scripts/test.sh, the README's test
# command, and CI): the test suite (make check), the same under ASan + UBSan
# (make check-asan), each fuzz target on its committed corpus for
# FUZZ_CI_SECONDS (make fuzz-ci), and the build checks (tests/build.sh:
# without libvirt/libpcap, install/uninstall). Each stage ends with its own
# "STAGE: N passed, N failed, N skipped" line; this script then lists every
# skip (with its stage) and failure and closes with one line summing all
# stages: "tests: N passed, N failed, N skipped". A stage that ends without
# its summary line counts one failure. Exit 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
jobs=${CI_JOBS:-$(nproc)}
tmp=$(mktemp -d /tmp/coci-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0; table=(); skips=(); fails=()
t_all=$(date +%s)
for stage in check check-asan fuzz-ci check-build; do
  echo "==== make $stage"
  t0=$(date +%s)
  $MAKE --no-print-directory -j"$jobs" "$stage" 2>&1 | tee "$tmp/$stage.log"
  rc=${PIPESTATUS[0]}
  secs=$(( $(date +%s) - t0 ))
  sum=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$tmp/$stage.log" | tail -n 1)
  if [ -z "$sum" ]; then
    fail=$((fail + 1)); fails+=("FAIL ci::$stage: no summary line (exit $rc)")
    table+=("$stage: no summary line, exit $rc ($secs s)")
    continue
  fi
  read -r p f s < <(printf '%s\n' "$sum" | sed -E 's/^[a-z-]+: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1; fails+=("FAIL ci::$stage: exit $rc after '$sum'")
  fi
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  table+=("$stage: $p passed, $f failed, $s skipped ($secs s)")
  while IFS= read -r l; do skips+=("SKIP [$stage] ${l#SKIP }"); done \
    < <(grep -E '^SKIP ' "$tmp/$stage.log")
  while IFS= read -r l; do fails+=("FAIL [$stage] ${l#FAIL }"); done \
    < <(grep -E '^FAIL ' "$tmp/$stage.log")
done
echo
echo "==== ci ($(( $(date +%s) - t_all )) s)"
for l in "${table[@]}"; do echo "$l"; done
for l in "${skips[@]+"${skips[@]}"}"; do echo "$l"; done
for l in "${fails[@]+"${fails[@]}"}"; do echo "$l"; done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
