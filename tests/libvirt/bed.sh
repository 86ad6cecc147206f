#!/usr/bin/env bash
# tests/libvirt/bed.sh: a two-daemon libvirt test bed on one machine.
#
# Owns: two libvirtd (+ virtlogd) daemons, "a" (source) and "b" (destination),
# each in its own network, mount and PID namespace, joined by a veth pair
# (169.254.77.1/30 in a, 169.254.77.2/30 in b; link-local, never routed), and
# everything under the bed directory DIR. libvirt refuses to migrate to the
# host it runs on, so each daemon has its own host_uuid and its own runtime
# and state directories (tmpfs over /run and /var inside its mount namespace),
# and a private copy of /etc/libvirt bind-mounted over the real one (and of
# /etc/passwd and /etc/group, which gain Debian's libvirt-qemu user inside).
# Nothing outside DIR, the two co-virt-* namespaces and CO_BED_CACHE (below)
# is written.
#
#   bed.sh up DIR [WATCH_FD]  start both daemons; writes DIR/env (shell vars):
#                             URI_A (client URI of a, through a unix socket in
#                             DIR), URI_B_TCP (b as seen from a), ADDR_A, ADDR_B.
#                             With WATCH_FD, a watchdog tears the bed down when
#                             that fd (a pipe's read end) reaches EOF, i.e. when
#                             the test process that holds the write end dies.
#   bed.sh down DIR           stop everything (SIGKILL to each namespace's init
#                             kills libvirtd, virtlogd and QEMU with it), delete
#                             the namespaces, remove DIR. Idempotent.
#   bed.sh kill-daemon DIR a|b  SIGKILL that side's libvirtd only (fault tests).
#   bed.sh stop-daemon DIR a|b  SIGSTOP it (a daemon that hangs); cont-daemon
#                             sends SIGCONT. down works on a stopped daemon.
#   bed.sh domain-xml NAME MEM_MIB [KERNEL [CMDLINE [SERIAL_FILE [INITRD]]]]
#                             print a small KVM domain's XML: no disk; SeaBIOS
#                             idles, or KERNEL (a file outside the tmpfs
#                             mounts, e.g. the dirtier guest) boots with
#                             CMDLINE, COM1 appended to SERIAL_FILE, and
#                             INITRD as its multiboot module (guest RAM
#                             content: random bytes make pages QEMU must send).
#   bed.sh payload FILE MIB   write MIB MiB of random bytes to FILE.
# Environment: CO_BED_CACHE, a directory (the tests use build/tests/libvirt/
# cache) where the first bed leaves libvirtd's QEMU capabilities cache and
# later beds seed theirs from, which cuts start-up several-fold.
# Exit: 0 ok, 69 when a daemon did not come up (message on stderr), 64 usage.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
ADDR_A=169.254.77.1
ADDR_B=169.254.77.2
UP_TIMEOUT_S=${CO_BED_TIMEOUT_S:-30}
# the namespace set-up shared with the cluster lab
# shellcheck source=lab/libvirt-host.sh
. "$(dirname "$(readlink -f "$0")")/../../lab/libvirt-host.sh" || { echo "bed.sh: lab/libvirt-host.sh missing" >&2; exit 69; }

# On failure, a half-made bed is torn down before exiting.
UP_DIR=
die() {
  echo "bed.sh: $1" >&2
  [ -n "$UP_DIR" ] && down "$UP_DIR" >/dev/null 2>&1
  exit "${2:-69}"
}

# Inner part, run as PID 1 of a side's PID namespace: private mounts (a tmpfs
# over /var: the bed keeps no state), then the daemons, then wait until told
# to stop (SIGKILL from outside ends the namespace).
inner() {
  local side=$1 dir=$2
  co_host_mounts "$dir/$side" "$dir" || exit 1
  co_host_daemons || exit 1
  echo ready > "$dir/$side/inner-ready"
  # PID 1 ignores signals without handlers; SIGKILL from outside ends the ns.
  while :; do sleep 3600; done
}

write_conf() {
  co_host_conf "$2/$1" "$3" "bed.sh: daemon $1 of a test bed"
}

up() {
  local dir=$1 watch_fd=${2:-}
  [ -d "$dir" ] || mkdir -p "$dir" || die "cannot create $dir" 73
  dir=$(cd "$dir" && pwd)
  UP_DIR=$dir
  local id; id=$(basename "$dir" | tr -cd 'a-zA-Z0-9' | tail -c 8)
  [ -n "$id" ] || id=$$
  local nsa=co-virt-$id-a nsb=co-virt-$id-b
  echo "NS_A=$nsa" > "$dir/env.tmp"; echo "NS_B=$nsb" >> "$dir/env.tmp"
  mv "$dir/env.tmp" "$dir/ns"
  if [ -n "$watch_fd" ]; then
    # Watchdog: tear down when the test process's pipe closes.
    ( trap '' INT TERM HUP; cat <&"$watch_fd" >/dev/null; "$0" down "$dir" ) \
      </dev/null >/dev/null 2>&1 &
    exec {watch_fd}<&-   # only the watchdog keeps the read end
    echo $! > "$dir/watchdog.pid"
  fi
  ip netns add "$nsa" || die "cannot create netns $nsa"
  ip netns add "$nsb" || die "cannot create netns $nsb"
  ip link add "cv$id"a netns "$nsa" type veth peer name "cv$id"b netns "$nsb" \
    || die "cannot create veth pair"
  ip -n "$nsa" addr add $ADDR_A/30 dev "cv$id"a
  ip -n "$nsb" addr add $ADDR_B/30 dev "cv$id"b
  ip -n "$nsa" link set "cv$id"a up; ip -n "$nsb" link set "cv$id"b up
  cp /etc/passwd "$dir/passwd"; cp /etc/group "$dir/group"
  grep -q '^libvirt-qemu:' "$dir/group" || \
    echo 'libvirt-qemu:x:64055:' >> "$dir/group"
  grep -q '^kvm:' "$dir/group" || echo 'kvm:x:64056:' >> "$dir/group"
  grep -q '^libvirt-qemu:' "$dir/passwd" || \
    echo 'libvirt-qemu:x:64055:64055:bed.sh:/var/lib/libvirt:/usr/sbin/nologin' >> "$dir/passwd"
  write_conf a "$dir" $ADDR_A
  write_conf b "$dir" $ADDR_B
  local side ns
  for side in a b; do
    [ $side = a ] && ns=$nsa || ns=$nsb
    setsid ip netns exec "$ns" unshare -m -p -f --propagation private \
      "$0" inner $side "$dir" </dev/null >"$dir/$side/inner.log" 2>&1 3<&- &
    echo $! > "$dir/$side/unshare.pid"
  done
  local t0=$SECONDS
  for side in a b; do
    until [ -S "$dir/$side/sock/libvirt-sock" ] && \
          virsh -c "qemu+unix:///system?socket=$dir/$side/sock/libvirt-sock" \
            version >/dev/null 2>&1; do
      if [ $((SECONDS - t0)) -ge "$UP_TIMEOUT_S" ]; then
        die "libvirtd $side did not answer within ${UP_TIMEOUT_S}s (see $dir/$side/libvirtd.log, $dir/$side/inner.log)"
      fi
      sleep 0.1
    done
  done
  if [ -n "${CO_BED_CACHE:-}" ] && [ ! -d "$CO_BED_CACHE/qemu-caps" ]; then
    save_caps "$dir"
  fi
  cat > "$dir/env" <<ENV
NS_A=$nsa
NS_B=$nsb
ADDR_A=$ADDR_A
ADDR_B=$ADDR_B
URI_A=qemu+unix:///system?socket=$dir/a/sock/libvirt-sock
URI_B=qemu+unix:///system?socket=$dir/b/sock/libvirt-sock
URI_B_TCP=qemu+tcp://$ADDR_B/system
MIGRATE_URI_B=tcp://$ADDR_B
ENV
}

# Keep daemon a's QEMU capabilities for later beds (atomic: copy, then rename).
save_caps() {
  local dir=$1 init tmp
  init=$(ns_init "$dir" a) || return 0
  [ -n "$init" ] || return 0
  mkdir -p "$CO_BED_CACHE" || return 0
  tmp=$(mktemp -d "$CO_BED_CACHE/qemu-caps.XXXXXX") || return 0
  nsenter -t "$init" -m -p sh -c \
    'cp /var/cache/libvirt/qemu/capabilities/*.xml "$1"/' sh "$tmp" 2>/dev/null
  if ls "$tmp"/*.xml >/dev/null 2>&1 && mv -T "$tmp" "$CO_BED_CACHE/qemu-caps" 2>/dev/null; then
    return 0
  fi
  rm -rf "$tmp"
}

# PID (in our namespace) of the init of a side's PID namespace.
ns_init() {
  local upid; upid=$(cat "$1/$2/unshare.pid" 2>/dev/null) || return 1
  cat /proc/"$upid"/task/*/children 2>/dev/null | awk '{print $1; exit}'
}

signal_daemon() {
  local dir=$1 side=$2 sig=$3 init
  init=$(ns_init "$dir" "$side") || die "no bed at $dir"
  [ -n "$init" ] || die "side $side of $dir is not running"
  nsenter -t "$init" -m -p sh -c "kill -$sig \"\$(cat /run/libvirtd.pid)\""
}

down() {
  local dir=$1 side init upid
  [ -d "$dir" ] || return 0
  for side in a b; do
    init=$(ns_init "$dir" "$side")
    [ -n "$init" ] && kill -9 "$init" 2>/dev/null
    upid=$(cat "$dir/$side/unshare.pid" 2>/dev/null)
    [ -n "$upid" ] && kill -9 "$upid" 2>/dev/null
  done
  if [ -f "$dir/ns" ]; then
    # shellcheck disable=SC1091
    . "$dir/ns"
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
  fi
  local w; w=$(cat "$dir/watchdog.pid" 2>/dev/null)
  [ -n "$w" ] && [ "$w" != "$BASHPID" ] && [ "$w" != "$PPID" ] && kill "$w" 2>/dev/null
  rm -rf "$dir"
}

domain_xml() {
  local name=$1 mem=$2 kernel=${3:-} cmdline=${4:-} serial=${5:-} initrd=${6:-}
  local os="<type arch='x86_64' machine='pc'>hvm</type>"
  [ -n "$kernel" ] && os="$os<kernel>$kernel</kernel><cmdline>$cmdline</cmdline>"
  [ -n "$initrd" ] && os="$os<initrd>$initrd</initrd>"
  # KVM where /dev/kvm opens and is hardware-backed, else TCG ('qemu'), as
  # the lab's --accel auto (docs/lab.md): a machine without KVM still runs
  # the libvirt path; kvm_pvm emulates these guests ~100x slower than TCG
  local type=kvm
  { [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ]; } || type=qemu
  cat <<XML
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>$os</os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
$([ -n "$serial" ] && echo "    <serial type='file'><source path='$serial' append='on'/></serial>")
  </devices>
</domain>
XML
}

case "${1:-}" in
  up) [ $# -ge 2 ] || die "usage: bed.sh up DIR [WATCH_FD]" 64; up "$2" "${3:-}" ;;
  down) [ $# -eq 2 ] || die "usage: bed.sh down DIR" 64; down "$2" ;;
  kill-daemon) [ $# -eq 3 ] || die "usage: bed.sh kill-daemon DIR a|b" 64
               signal_daemon "$2" "$3" KILL ;;
  stop-daemon) [ $# -eq 3 ] || die "usage: bed.sh stop-daemon DIR a|b" 64
               signal_daemon "$2" "$3" STOP ;;
  cont-daemon) [ $# -eq 3 ] || die "usage: bed.sh cont-daemon DIR a|b" 64
               signal_daemon "$2" "$3" CONT ;;
  inner) inner "$2" "$3" ;;
  domain-xml) [ $# -ge 3 ] || die "usage: bed.sh domain-xml NAME MEM_MIB [KERNEL]" 64
              domain_xml "$2" "$3" "${4:-}" "${5:-}" "${6:-}" "${7:-}" ;;
  payload) [ $# -eq 3 ] || die "usage: bed.sh payload FILE MIB" 64
           mkdir -p "$(dirname "$2")"
           head -c $(( $3 * 1048576 )) /dev/urandom > "$2" || die "cannot write $2" 73 ;;
  *) die "usage: bed.sh up|down|kill-daemon|domain-xml|payload ..." 64 ;;
esac
