#!/usr/bin/env bash
# lab/cluster.sh: the namespaces, links and daemons of `cutover lab cluster`
# (lab/cluster.c calls it with argv; docs/lab.md "The cluster lab").
#
# Owns, per cluster: a subnet 169.254.S.0/24 (S in 101..250, picked under a
# machine-wide flock so clusters started at once differ), a "switch" network
# namespace coclS-sw holding bridge br0, one network namespace coclS-hK per
# host K (1..N) with a veth eth0 = 169.254.S.K/24 whose peer hK sits on br0,
# a veth coclS = 169.254.S.254/24 in the root namespace whose peer root sits
# on br0 (so the root namespace reaches every host by the same address the
# hosts use), tbf on both directions of each host's link, and per host a
# mount+PID namespace (unshare) whose PID 1 runs virtlogd and libvirtd. All
# files live under DIR. Each host's libvirtd has its own host_uuid,
# /etc/libvirt (DIR/hK/etc), /var (DIR/hK/var, persistent: a reboot keeps
# defined domains) and /run (tmpfs: a reboot loses it, as a real one does),
# and listens on TCP without auth on its bridge address only.
#
#   cluster.sh up DIR N RATE_BIT MTU [WATCH_FD]
#       writes DIR/lab.env (shell vars: SUBNET, NS_SW, NS_1.., ADDR_1..);
#       with WATCH_FD, tears down when that fd reaches EOF (tests).
#   cluster.sh reboot DIR K    kill host K's namespace (its QEMUs die), start
#                              its daemons again with the same dirs, wait
#   cluster.sh restart-daemon DIR K
#                              restart host K's libvirtd only (SIGTERM, SIGKILL
#                              after 15 s; its QEMUs keep running), wait
#   cluster.sh daemon-pid DIR K
#                              print the PID (in this namespace) of host K's libvirtd
#   cluster.sh down DIR        remove everything; idempotent, also after a crash
#   cluster.sh inner DIR K     (internal) PID 1 of host K's PID namespace
# Exit: 0 ok, 64 usage, 69 something did not come up (one line on stderr),
# 73 DIR cannot be created.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
UP_TIMEOUT_S=${CO_CLUSTER_TIMEOUT_S:-60}
LOCK=/run/cutover-lab-cluster.lock
# the namespace set-up shared with tests/libvirt/bed.sh (installed beside this file)
# shellcheck source=lab/libvirt-host.sh
. "$(dirname "$(readlink -f "$0")")/libvirt-host.sh" || { echo "cluster.sh: libvirt-host.sh missing" >&2; exit 69; }

UP_DIR=
die() {
  echo "cluster.sh: $1" >&2
  [ -n "$UP_DIR" ] && down "$UP_DIR" >/dev/null 2>&1
  exit "${2:-69}"
}

inner() {
  local dir=$1 k=$2
  co_host_mounts "$dir/h$k" "$dir" "$dir/h$k/var" || exit 1
  co_host_daemons || exit 1
  while :; do sleep 3600; done
}

write_conf() {
  mkdir -p "$1/h$2/var" && co_host_conf "$1/h$2" "$3" "cluster.sh: host h$2 of a cutover lab cluster"
}

# PID (in our namespace) of the init of host K's PID namespace.
ns_init() {
  local upid; upid=$(cat "$1/h$2/unshare.pid" 2>/dev/null) || return 1
  [ -n "$upid" ] || return 1
  cat /proc/"$upid"/task/*/children 2>/dev/null | awk '{print $1; exit}'
}

# Host operations (reboot, restart-daemon) and down exclude each other through
# DIR/lab.lock: a reboot hook orphaned by a killed `cutover cycle` could
# otherwise start a host's namespace again after down had killed it (seen: a
# host's init, libvirtd and QEMUs outliving down). down removes lab.env under
# the lock, so a reboot that was waiting finds no cluster and stops.
# fd 9; every process started under it closes it (9>&-), or it would hold the
# lock for its whole life.
dir_lock() {
  { exec 9>>"$1/lab.lock"; } 2>/dev/null || return 0
  flock -w 180 9 || echo "cluster.sh: $1/lab.lock still held after 180 s; going on" >&2
}

# Kill every process left in host K's network namespace (its PID namespace's
# init first: the kernel then kills the rest), whatever unshare.pid says.
sweep_netns() {
  local ns=$1 pids i=0
  pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
  while [ -n "$pids" ] && [ $i -lt 100 ]; do
    kill -9 $pids 2>/dev/null
    sleep 0.1; i=$((i+1))
    pids=$(ip netns pids "$ns" 2>/dev/null)
  done
}

start_host() {
  local dir=$1 k=$2 ns
  ns=${SUBNET_NS}-h$k
  setsid ip netns exec "$ns" unshare -m -p -f --propagation private \
    "$0" inner "$dir" "$k" </dev/null >"$dir/h$k/inner.log" 2>&1 3<&- 9>&- &
  echo $! > "$dir/h$k/unshare.pid"
}

wait_host() {
  local dir=$1 k=$2 t0=$SECONDS
  until [ -S "$dir/h$k/sock/libvirt-sock" ] && \
        virsh -c "qemu+tcp://$PREFIX.$k/system" version >/dev/null 2>&1; do
    if [ $((SECONDS - t0)) -ge "$UP_TIMEOUT_S" ]; then
      die "libvirtd of h$k did not answer within ${UP_TIMEOUT_S}s (see $dir/h$k/libvirtd.log, $dir/h$k/inner.log)"
    fi
    sleep 0.2
  done
}

kill_host() {
  local dir=$1 k=$2 init upid
  init=$(ns_init "$dir" "$k")
  [ -n "$init" ] && kill -9 "$init" 2>/dev/null
  upid=$(cat "$dir/h$k/unshare.pid" 2>/dev/null)
  [ -n "$upid" ] && kill -9 "$upid" 2>/dev/null
  # wait until the unshare process (parent of the namespace's init) is gone:
  # the init exits only once every process of the namespace is reaped, which
  # takes more than 5 s for a few QEMUs on a loaded machine (seen: one still
  # there after down); 30 s at most
  local i=0
  while [ -n "$upid" ] && [ -d /proc/"$upid" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
}

# Keep a host's QEMU capabilities for later clusters (copy, then rename).
save_caps() {
  local dir=$1 init tmp
  [ -n "${CO_BED_CACHE:-}" ] && [ ! -d "$CO_BED_CACHE/qemu-caps" ] || return 0
  ls "$dir"/h1/var/cache/libvirt/qemu/capabilities/*.xml >/dev/null 2>&1 || return 0
  mkdir -p "$CO_BED_CACHE" || return 0
  tmp=$(mktemp -d "$CO_BED_CACHE/qemu-caps.XXXXXX") || return 0
  cp "$dir"/h1/var/cache/libvirt/qemu/capabilities/*.xml "$tmp"/ 2>/dev/null
  mv -T "$tmp" "$CO_BED_CACHE/qemu-caps" 2>/dev/null || rm -rf "$tmp"
}

# Shape one direction of a link: tbf at RATE_BIT on dev's egress. The bucket
# holds 2 ms at the rate (at least 4 frames), the queue 20 ms: enough for
# TCP to fill the link, short enough that the rate holds over a switchover.
shape() {
  local ns=$1 dev=$2 rate=$3 mtu=$4 burst out
  burst=$(( rate / 8 / 500 ))
  [ "$burst" -ge $(( mtu * 4 )) ] || burst=$(( mtu * 4 ))
  out=$(ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${rate}bit" \
    burst "$burst" latency 20ms 2>&1) || die "tc on $ns/$dev failed: $out"
}

# No ICMP port unreachable from the root address reaches a host's QEMUs. The
# guests' serial port is a connected UDP socket to the root address (the
# heartbeat), nobody listens there between tests, and every datagram earns a
# port unreachable: QEMU's chardev sees its socket readable, the error is
# taken by the next send from the vCPU thread, and the main loop's recvmsg on
# the (blocking) socket waits forever. The monitor stops answering: libvirt
# holds the domain's job ("cannot acquire state change lock (held by
# monitor=...)") and no migration of that VM can start or end (seen in the
# cycle's lab tests: a QEMU's main thread in udp_recvmsg). On the root end of
# the lab's link (egress toward the hosts): htb, everything in a class that
# never limits, ICMP type 3 code 3 into one whose queue holds nothing (this
# kernel has no tc drop action); "fragmentation needed" (code 4) passes.
no_port_unreachable() {
  local dev=$1 out
  out=$( { tc qdisc add dev "$dev" root handle 1: htb default 10 &&
           tc class add dev "$dev" parent 1: classid 1:10 htb rate 100gbit &&
           tc class add dev "$dev" parent 1: classid 1:20 htb rate 8kbit &&
           tc qdisc add dev "$dev" parent 1:20 handle 20: pfifo limit 0 &&
           tc filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip protocol 1 0xff \
             match u16 0x0303 0xffff at 20 flowid 1:20; } 2>&1) \
    || die "tc on $dev (port unreachable filter) failed: $out"
}

up() {
  local dir=$1 n=$2 rate=$3 mtu=$4 watch_fd=${5:-}
  mkdir -p "$dir" || die "cannot create $dir" 73
  dir=$(cd "$dir" && pwd)
  [ -e "$dir/lab.env" ] && die "$dir holds a cluster already (cutover lab cluster down $dir)" 64
  UP_DIR=$dir
  # Pick a free subnet under the machine-wide lock; the namespace coclS-sw
  # is the claim, so a crashed cluster keeps its subnet until down.
  local s=
  local lockfd # bash picks a free fd: the watch fd may be any number
  exec {lockfd}>"$LOCK" || die "cannot open $LOCK"
  flock -w 30 "$lockfd" || die "cannot lock $LOCK"
  for c in $(seq 101 250); do
    if ! ls /run/netns/cocl$c-* >/dev/null 2>&1 && [ -z "$(ip -o addr show to 169.254.$c.0/24)" ] && \
       [ -z "$(ip route show 169.254.$c.0/24)" ]; then s=$c; break; fi
  done
  [ -n "$s" ] || die "no free subnet 169.254.101-250.0/24"
  SUBNET_NS=cocl$s
  PREFIX=169.254.$s
  ip netns add "$SUBNET_NS-sw" || die "cannot create netns $SUBNET_NS-sw"
  {
    echo "SUBNET=$s"; echo "PREFIX=$PREFIX"; echo "NS_PREFIX=$SUBNET_NS"; echo "HOSTS=$n"
    echo "NS_SW=$SUBNET_NS-sw"; echo "ROOT_DEV=$SUBNET_NS"; echo "ROOT_ADDR=$PREFIX.254"
  } > "$dir/lab.env.tmp"
  mv "$dir/lab.env.tmp" "$dir/lab.env"
  flock -u "$lockfd"; exec {lockfd}>&-
  if [ -n "$watch_fd" ]; then
    ( trap '' INT TERM HUP; cat <&"$watch_fd" >/dev/null; "$0" down "$dir" ) \
      </dev/null >/dev/null 2>&1 &
    exec {watch_fd}<&-
    echo $! > "$dir/watchdog.pid"
  fi
  local sw=$SUBNET_NS-sw
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 mtu "$mtu" type bridge || die "cannot create bridge in $sw"
  ip -n "$sw" link set br0 up
  ip link add "$SUBNET_NS" mtu "$mtu" type veth peer name root mtu "$mtu" netns "$sw" \
    || die "cannot create veth $SUBNET_NS"
  ip addr add "$PREFIX.254/24" dev "$SUBNET_NS"
  ip link set "$SUBNET_NS" up
  no_port_unreachable "$SUBNET_NS"
  ip -n "$sw" link set root master br0 up
  local k ns
  for k in $(seq 1 "$n"); do
    ns=$SUBNET_NS-h$k
    ip netns add "$ns" || die "cannot create netns $ns"
    ip link add eth0 mtu "$mtu" netns "$ns" type veth peer name "h$k" mtu "$mtu" netns "$sw" \
      || die "cannot create veth for h$k"
    ip -n "$ns" addr add "$PREFIX.$k/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$sw" link set "h$k" master br0 up
    shape "$ns" eth0 "$rate" "$mtu"      # host -> switch
    shape "$sw" "h$k" "$rate" "$mtu"     # switch -> host
    echo "NS_$k=$ns" >> "$dir/lab.env"; echo "ADDR_$k=$PREFIX.$k" >> "$dir/lab.env"
  done
  cp /etc/passwd "$dir/passwd"; cp /etc/group "$dir/group"
  grep -q '^libvirt-qemu:' "$dir/group" || echo 'libvirt-qemu:x:64055:' >> "$dir/group"
  grep -q '^kvm:' "$dir/group" || echo 'kvm:x:64056:' >> "$dir/group"
  grep -q '^libvirt-qemu:' "$dir/passwd" || \
    echo 'libvirt-qemu:x:64055:64055:cluster.sh:/var/lib/libvirt:/usr/sbin/nologin' >> "$dir/passwd"
  for k in $(seq 1 "$n"); do
    write_conf "$dir" "$k" "$PREFIX.$k"
    start_host "$dir" "$k"
  done
  for k in $(seq 1 "$n"); do wait_host "$dir" "$k"; done
  save_caps "$dir"
}

load_env() {
  [ -f "$1/lab.env" ] || return 1
  # shellcheck disable=SC1091
  . "$1/lab.env"
  SUBNET_NS=$NS_PREFIX
}

reboot_host() {
  local dir=$1 k=$2
  [ -d "$dir" ] || die "no cluster at $dir" 66
  dir_lock "$dir"
  load_env "$dir" || die "no cluster at $dir" 66
  [ "$k" -ge 1 ] && [ "$k" -le "$HOSTS" ] || die "no host h$k in $dir" 64
  kill_host "$dir" "$k"
  # a reboot: the QEMUs died with the namespace; stale sockets go too
  rm -f "$dir/h$k/sock/"*
  start_host "$dir" "$k"
  wait_host "$dir" "$k"
}

# PID of the child of PID $1 whose command is $2.
child_named() {
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    [ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$2" ] && { echo "$c"; return 0; }
  done
  return 1
}

host_arg() {
  load_env "$1" || die "no cluster at $1" 66
  [ "$2" -ge 1 ] && [ "$2" -le "$HOSTS" ] || die "no host h$2 in $1" 64
}

daemon_pid() {
  local dir=$1 k=$2 init
  host_arg "$dir" "$k"
  init=$(ns_init "$dir" "$k") || die "host h$k of $dir is not running" 69
  child_named "$init" libvirtd || die "no libvirtd runs on h$k of $dir" 69
}

# What `systemctl restart libvirtd` does on a real host: the daemon goes and
# comes back on the same state; the QEMUs, children of the namespace's init
# (libvirtd daemonizes), keep running and are reconnected to.
restart_daemon() {
  local dir=$1 k=$2 init pid i=0
  [ -d "$dir" ] || die "no cluster at $dir" 66
  dir_lock "$dir"
  host_arg "$dir" "$k"
  init=$(ns_init "$dir" "$k") || die "host h$k of $dir is not running" 69
  pid=$(child_named "$init" libvirtd)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null
    while [ -d /proc/"$pid" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done
    [ -d /proc/"$pid" ] && kill -9 "$pid" 2>/dev/null
    while [ -d /proc/"$pid" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
  fi
  rm -f "$dir/h$k/sock/libvirt-sock" "$dir/h$k/sock/libvirt-sock-ro" \
    "$dir/h$k/sock/libvirt-admin-sock"
  nsenter -t "$init" -m -p -n -- libvirtd -d --listen -p /run/libvirtd.pid \
    -f /etc/libvirt/libvirtd.conf </dev/null >>"$dir/h$k/inner.log" 2>&1 9>&- \
    || die "libvirtd of h$k did not start again (see $dir/h$k/inner.log)"
  wait_host "$dir" "$k"
}

down() {
  local dir=$1 k
  [ -d "$dir" ] || return 0
  dir_lock "$dir"
  load_env "$dir" || { rm -f "$dir/lab.lock"; rmdir "$dir" 2>/dev/null; return 0; }
  for k in $(seq 1 "${HOSTS:-0}"); do kill_host "$dir" "$k"; done
  for k in $(seq 1 "${HOSTS:-0}"); do
    sweep_netns "$NS_PREFIX-h$k"
    ip netns del "$NS_PREFIX-h$k" 2>/dev/null
  done
  ip link del "$ROOT_DEV" 2>/dev/null
  ip netns del "$NS_SW" 2>/dev/null
  local w; w=$(cat "$dir/watchdog.pid" 2>/dev/null)
  # the watchdog ignores TERM (it must outlive a Ctrl-C): KILL it and its cat
  if [ -n "$w" ] && [ "$w" != "$BASHPID" ] && [ "$w" != "$PPID" ]; then
    local kids; kids=$(cat /proc/"$w"/task/*/children 2>/dev/null)
    kill -9 "$w" $kids 2>/dev/null
  fi
  for k in $(seq 1 "${HOSTS:-0}"); do rm -rf "${dir:?}/h$k"; done
  rm -f "$dir/passwd" "$dir/group" "$dir/watchdog.pid" "$dir/cluster.json" "$dir/lab.json" \
    "$dir/lab.env" "$dir/lab.lock"
  rmdir "$dir" 2>/dev/null
  return 0
}

isnum() { case "$1" in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }

case "${1:-}" in
  up) [ $# -ge 5 ] && isnum "$3" && isnum "$4" && isnum "$5" || \
        die "usage: cluster.sh up DIR N RATE_BIT MTU [WATCH_FD]" 64
      [ $# -lt 6 ] || isnum "$6" || die "WATCH_FD must be a number" 64
      up "$2" "$3" "$4" "$5" "${6:-}" ;;
  reboot) [ $# -eq 3 ] && isnum "$3" || die "usage: cluster.sh reboot DIR K" 64
          reboot_host "$2" "$3" ;;
  restart-daemon) [ $# -eq 3 ] && isnum "$3" || die "usage: cluster.sh restart-daemon DIR K" 64
                  restart_daemon "$2" "$3" ;;
  daemon-pid) [ $# -eq 3 ] && isnum "$3" || die "usage: cluster.sh daemon-pid DIR K" 64
              daemon_pid "$2" "$3" ;;
  down) [ $# -eq 2 ] || die "usage: cluster.sh down DIR" 64; down "$2" ;;
  inner) [ $# -eq 3 ] || exit 64; inner "$2" "$3" ;;
  *) die "usage: cluster.sh up|reboot|restart-daemon|daemon-pid|down ..." 64 ;;
esac
