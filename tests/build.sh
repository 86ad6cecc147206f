#!/usr/bin/env bash
# tests/build.sh: checks of the build itself (part of `make ci`), each one
# "PASS build::NAME" or "FAIL build::NAME: why", then
# "build: N passed, N failed, 0 skipped".
#  - nolibs_*: a build where pkg-config cannot find libvirt and libpcap (a
#    wrapper hides them) into build-nolibs/: model, tune and simulate work;
#    migrate --connect and downtime --pcap exit 69 saying what is missing.
#  - install_*: `make install DESTDIR=tmp PREFIX=/usr/local`, then the staged
#    cutover finds the lab's guest from another directory with CUTOVER_GUEST
#    and BUILD unset and runs the lab; `make uninstall` leaves no file.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
pass=0; fail=0; lines=()
tmp=$(mktemp -d /tmp/cotest-build-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ok() { lines+=("PASS build::$1"); pass=$((pass + 1)); }
ko() { lines+=("FAIL build::$1: $2"); fail=$((fail + 1)); }
# expect NAME RC NEEDLE CMD...: CMD exits RC and its stderr holds NEEDLE.
expect() {
  local name=$1 want=$2 needle=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then ko "$name" "exit $rc, expected $want: $(head -c 300 "$tmp/err")"
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" "$tmp/err"; then
    ko "$name" "stderr lacks '$needle': $(head -c 300 "$tmp/err")"
  else ok "$name"; fi
}

echo "== libvirt loaded on first use (cli/virt_lazy.c)"
# Every libvirt function cutover calls must be forwarded by cli/virt_lazy.c;
# one that is not makes the linker pull libvirt in at start-up again (12.5 MB
# of memory for simulate; docs/simulate.md, "Fleet scale").
if ! command -v ldd >/dev/null; then ko lazy_libvirt "ldd not found"
elif ldd "$BUILD/cutover" | grep -q 'libvirt\.so'; then
  ko lazy_libvirt "$BUILD/cutover links libvirt.so at start-up: add the functions 'nm -u' lists to cli/virt_lazy.c"
else ok lazy_libvirt; fi

echo "== build without libvirt and libpcap (build-nolibs)"
mkdir -p "$tmp/pc"
cat >"$tmp/pc/pkg-config" <<'W'
#!/bin/sh
for a in "$@"; do case "$a" in libvirt|libpcap) exit 1;; esac; done
exec pkg-config "$@"
W
chmod +x "$tmp/pc/pkg-config"
if $MAKE --no-print-directory BUILD=build-nolibs PKG_CONFIG="$tmp/pc/pkg-config" \
     build-nolibs/cutover >"$tmp/make.log" 2>&1; then
  ok nolibs_compiles
  if grep -q "cannot find 'libvirt' (Debian: libvirt-dev)" "$tmp/make.log" &&
     grep -q "cannot find 'libpcap' (Debian: libpcap-dev)" "$tmp/make.log"; then
    ok nolibs_make_names_the_missing_packages
  else ko nolibs_make_names_the_missing_packages "$(grep -i pkg-config "$tmp/make.log" | head -3)"; fi
  if ldd build-nolibs/cutover | grep -qE 'libvirt|libpcap'; then
    ko nolibs_links_neither "$(ldd build-nolibs/cutover | grep -E 'libvirt|libpcap')"
  else ok nolibs_links_neither; fi
  B=build-nolibs/cutover
  expect nolibs_model 0 "" $B model --mem 16GiB --dirty uniform:wss=4GiB,rate=20000 --link 10Gbit
  expect nolibs_tune 0 "" $B tune --mem 8GiB --dirty uniform:wss=1GiB,rate=50000 --link 10Gbit
  expect nolibs_simulate 0 "" $B simulate traces/example-cluster.json --runs 3 --seed 1
  expect nolibs_migrate_connect_says_so 69 "built without libvirt (install libvirt-dev" \
    $B migrate --connect qemu:///system --domain none --to qemu+tcp://127.0.0.1/system
  expect nolibs_lab_cluster_says_so 69 "built without libvirt (install libvirt-dev" \
    $B lab cluster status "$tmp/nocluster"
  expect nolibs_downtime_pcap_says_so 69 "built without libpcap (install libpcap-dev" \
    $B downtime --pcap fuzz/corpus/pcap/ping-veth-en10mb.pcap
else
  tail -n 20 "$tmp/make.log"
  ko nolibs_compiles "make failed (output above)"
fi

echo "== make install / uninstall (DESTDIR)"
dest=$tmp/dest
if $MAKE --no-print-directory BUILD="$BUILD" install DESTDIR="$dest" PREFIX=/usr/local \
     >"$tmp/install.log" 2>&1; then
  ok install_runs
  missing=""
  for f in bin/cutover share/man/man1/cutover.1 share/cutover/guest.elf \
           share/cutover/cluster.sh share/cutover/example-cluster.json; do
    [ -f "$dest/usr/local/$f" ] || missing="$missing $f"
  done
  if [ -z "$missing" ]; then ok install_puts_binary_man_guest_script_examples
  else ko install_puts_binary_man_guest_script_examples "missing:$missing"; fi
  # From / with no hint: the guest must be found relative to the binary.
  (cd / && env -u CUTOVER_GUEST -u BUILD "$dest/usr/local/bin/cutover" lab --duration 1s \
     --accel tcg --json >"$tmp/lab.json" 2>"$tmp/lab.err"); rc=$?
  if [ "$rc" -eq 0 ] && grep -qF "\"guest\": \"$dest/usr/local/share/cutover/guest.elf\"" "$tmp/lab.json"; then
    ok installed_lab_finds_its_guest
  else ko installed_lab_finds_its_guest "exit $rc: $(head -c 300 "$tmp/lab.err") $(grep guest "$tmp/lab.json")"; fi
  if $MAKE --no-print-directory BUILD="$BUILD" uninstall DESTDIR="$dest" PREFIX=/usr/local \
       >>"$tmp/install.log" 2>&1 && [ -z "$(find "$dest" -type f)" ] &&
     [ ! -e "$dest/usr/local/share/cutover" ]; then
    ok uninstall_leaves_no_file
  else ko uninstall_leaves_no_file "left: $(find "$dest" -type f | head -5 | tr '\n' ' ')"; fi
else
  tail -n 20 "$tmp/install.log"
  ko install_runs "make install failed (output above)"
fi

echo
for l in "${lines[@]+"${lines[@]}"}"; do echo "$l"; done
echo "build: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
