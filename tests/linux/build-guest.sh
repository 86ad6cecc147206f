#!/usr/bin/env bash
# tests/linux/build-guest.sh: a real Linux guest for the ping-drop test.
#
# Owns: OUT (default ${BUILD:-build}/linux-guest), nothing else. It holds
#   vmlinuz          Debian's kernel (the package linux-image-amd64 depends on),
#                    taken from the .deb with dpkg-deb -x, never installed
#   initrd.gz        a busybox initramfs built here (busybox-static, cpio, gzip)
#   kernel-version   e.g. "6.1.0-57-amd64 (linux-image-6.1.0-57-amd64 6.1.192-3)"
#   deb/, root/      the downloaded package and its extracted tree (cache)
# Cached: when vmlinuz, initrd.gz and kernel-version exist and the initramfs
# is newer than this script, nothing is done (no network needed).
#
# The guest's /init mounts proc/sys/dev, loads virtio_net and what it needs
# (Debian builds them as modules: the list follows each module's depends=
# field, in load order), sets eth0 to the address given on the kernel
# command line as cutover.ip=ADDR/LEN (default 169.254.66.10/24), prints
# "CUTOVER-GUEST-READY ADDR" on the console and idles. The kernel answers
# pings itself. cutover.busy=1 starts a user-mode busy loop (with pti=on,
# every interrupt then flushes the TLB: see tests/linux/pingdrop.sh).
#
#   build-guest.sh [OUT]
# Exit: 0 ok (prints OUT's vmlinuz and initrd paths), 77 when something this
# machine lacks prevents it (message names it: no apt-get, no network for the
# download, no busybox-static), 1 on other errors.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
SELF=$(readlink -f "$0")
OUT=${1:-${BUILD:-build}/linux-guest}
MODULES_WANTED="virtio_pci virtio_net"

skip() { echo "build-guest.sh: cannot build the Linux guest: $1" >&2; exit 77; }
die() { echo "build-guest.sh: $1" >&2; exit 1; }

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
if [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/kernel-version" ] && [ "$OUT/initrd.gz" -nt "$SELF" ]; then
  echo "$OUT/vmlinuz $OUT/initrd.gz"
  exit 0
fi

BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
  # Only a static busybox runs in an initramfs without a libc.
  if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || skip "no static busybox (install busybox-static: scripts/install-deps.sh)"
command -v cpio >/dev/null || skip "no cpio (install cpio: scripts/install-deps.sh)"
command -v dpkg-deb >/dev/null || skip "no dpkg-deb (a Debian host is needed)"

# 1. The kernel package: the one Debian's linux-image-amd64 points at.
deb=$(ls "$OUT"/deb/linux-image-*-amd64_*.deb 2>/dev/null | grep -v unsigned | tail -n 1)
if [ -z "$deb" ]; then
  command -v apt-get >/dev/null || skip "no apt-get to download linux-image-amd64"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }')
  [ -n "$pkg" ] || skip "apt-cache does not know linux-image-amd64 (run apt-get update)"
  mkdir -p "$OUT/deb"
  # As root, apt's _apt sandbox user cannot write here; download as root.
  if ! (cd "$OUT/deb" && apt-get -q -o APT::Sandbox::User=root download "$pkg") >"$OUT/deb/download.log" 2>&1; then
    rm -f "$OUT"/deb/*.deb
    skip "apt-get download $pkg failed (offline? see $OUT/deb/download.log: $(tail -n 1 "$OUT/deb/download.log"))"
  fi
  deb=$(ls "$OUT"/deb/"$pkg"_*.deb 2>/dev/null | tail -n 1)
  [ -n "$deb" ] || die "apt-get download $pkg left no .deb in $OUT/deb"
fi

# 2. Extract it (not into /, not into /boot).
rm -rf "$OUT/root"
dpkg-deb -x "$deb" "$OUT/root" || die "dpkg-deb -x $deb failed"
kimg=$(ls "$OUT"/root/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$kimg" ] || die "$deb holds no boot/vmlinuz-*"
kver=${kimg##*/vmlinuz-}
mdir=$OUT/root/lib/modules/$kver
[ -f "$mdir/modules.order" ] || die "$deb holds no lib/modules/$kver/modules.order"

# 3. The modules virtio_net needs, dependencies first. The package ships no
# modules.dep (depmod makes it at install time), so each module's own
# "depends=" (its .modinfo section) is followed; modules.order maps names to
# files; a name in modules.builtin needs nothing.
order=()
add_module() {
  local name=$1 re path d
  re="(^|/)${name//_/[_-]}\.ko(\.xz|\.zst|\.gz)?\$"
  path=$(grep -E "$re" "$mdir/modules.order" | head -n 1)
  if [ -z "$path" ]; then
    grep -qE "(^|/)${name//_/[_-]}\.ko\$" "$mdir/modules.builtin" 2>/dev/null && return 0
    die "module $name is neither in modules.order nor built in ($kver)"
  fi
  for d in "${order[@]}"; do [ "$d" = "$path" ] && return 0; done
  [ -f "$mdir/$path" ] || die "module file $path missing from $deb"
  for d in $(module_info "$mdir/$path" | sed -n 's/^depends=//p' | tr ',' ' '); do
    add_module "$d"
  done
  order+=("$path")
}
# The .modinfo strings of a module file (compressed or not).
module_info() {
  case $1 in
    *.xz) xz -dc "$1" ;; *.zst) zstd -qdc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;;
  esac | tr '\0' '\n' | grep -a -E '^(depends|name)='
}
for m in $MODULES_WANTED; do add_module "$m"; done

# 4. The initramfs.
ir=$OUT/initramfs
rm -rf "$ir"
mkdir -p "$ir"/{bin,dev,proc,sys,tmp,lib/modules} || die "cannot create $ir"
cp "$BUSYBOX" "$ir/bin/busybox"
: > "$ir/modules.order"
for p in "${order[@]}"; do
  f=${p##*/}
  case $f in
    *.ko) cp "$mdir/$p" "$ir/lib/modules/$f" ;;
    *.ko.xz) xz -dc "$mdir/$p" > "$ir/lib/modules/${f%.xz}"; f=${f%.xz} ;;
    *.ko.zst) zstd -qdc "$mdir/$p" > "$ir/lib/modules/${f%.zst}"; f=${f%.zst} ;;
    *.ko.gz) gzip -dc "$mdir/$p" > "$ir/lib/modules/${f%.gz}"; f=${f%.gz} ;;
  esac || die "cannot copy module $p"
  echo "$f" >> "$ir/modules.order"
done
cat > "$ir/init" <<'INIT'
#!/bin/busybox sh
# cutover's Linux test guest (tests/linux/build-guest.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /modules.order); do
  insmod /lib/modules/$m || echo "init: insmod $m failed"
done
ip=169.254.66.10/24
busy=
for w in $(cat /proc/cmdline); do
  case $w in
    cutover.ip=*) ip=${w#cutover.ip=} ;;
    cutover.busy=1) busy=1 ;;
  esac
done
# cutover.busy=1: a user-mode busy loop. With pti=on every entry to the
# kernel from user mode writes CR3, which makes QEMU's TCG flush its TLB, so
# each interrupt starts with a flush: QEMU 7.2's TCG dirty tracking misses
# writes through TLB entries that outlive a bitmap sync (docs/lab.md).
if [ -n "$busy" ]; then
  (while :; do :; done) &
fi
ip link set lo up
i=0
until ip link show eth0 >/dev/null 2>&1 || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
ip addr add "$ip" dev eth0 && ip link set eth0 up || echo "init: cannot configure eth0"
echo "CUTOVER-GUEST-READY $ip"
while :; do sleep 3600; done
INIT
chmod 0755 "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -9) > "$OUT/initrd.gz.tmp" \
  || die "cannot build the initramfs"
cp "$kimg" "$OUT/vmlinuz"
pver=$(dpkg-deb -f "$deb" Package Version | tr '\n' ' ' | sed 's/Package: //; s/ Version: / /; s/ $//')
echo "$kver ($pver)" > "$OUT/kernel-version"
mv "$OUT/initrd.gz.tmp" "$OUT/initrd.gz"
rm -rf "$OUT/root"   # ~400 MB; the .deb stays for a rebuild
echo "$OUT/vmlinuz $OUT/initrd.gz"
