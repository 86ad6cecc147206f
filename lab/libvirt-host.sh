# lab/libvirt-host.sh: one libvirt "host" in namespaces, the part the
# cluster lab (lab/cluster.sh) and the two-daemon test bed
# (tests/libvirt/bed.sh) share. Sourced, not run; defines functions only.
#
#   co_host_conf D ADDR WHO   write D/etc (a copy of /etc/libvirt) with a
#       libvirtd.conf listening on TCP without auth on ADDR only, its own
#       host_uuid, sockets in D/sock, log in D/libvirtd.log, and a qemu.conf
#       running QEMU as root without security driver, cgroups or private
#       /dev, migrating on ADDR. WHO names the host in the files' header.
#   co_host_mounts D DIR [VAR]  (inside the new mount namespace) private
#       mounts: tmpfs /run; /var bound to VAR (persistent: a reboot keeps
#       defined domains) or a tmpfs without it; D/etc over /etc/libvirt;
#       DIR/passwd and DIR/group over /etc/passwd and /etc/group (they hold
#       Debian's libvirt-qemu user, which libvirtd resolves before reading
#       qemu.conf); /proc; lo up. Returns non-zero on the first failure.
#   co_host_daemons           seed libvirtd's QEMU capabilities cache from
#       $CO_BED_CACHE/qemu-caps (probing is most of a daemon's start-up;
#       libvirtd re-probes a stale copy itself), start virtlogd and libvirtd.

co_host_conf() {
  local d=$1 addr=$2 who=$3
  mkdir -p "$d/etc" "$d/sock" || return 1
  cp -a /etc/libvirt/. "$d/etc/" 2>/dev/null
  rm -f "$d/etc/libvirtd.conf" "$d/etc/qemu.conf"
  rm -rf "$d/etc/qemu" # no domains of the machine's own daemon
  cat > "$d/etc/libvirtd.conf" <<CONF
# $who; TCP without auth on a link-local address only.
listen_tls = 0
listen_tcp = 1
listen_addr = "$addr"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_dir = "$d/sock"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_outputs = "3:file:$d/libvirtd.log"
keepalive_interval = 2
keepalive_count = 3
CONF
  cat > "$d/etc/qemu.conf" <<CONF
# $who: QEMU as root without a security driver, cgroups or private /dev:
# it must not depend on users, AppArmor or systemd.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
migration_address = "$addr"
migration_host = "$addr"
CONF
}

co_host_mounts() {
  local d=$1 dir=$2 var=${3:-}
  mount --make-rprivate / || return 1
  mount -t tmpfs -o mode=0755 tmpfs /run || return 1
  if [ -n "$var" ]; then
    mount --bind "$var" /var || return 1
  else
    mount -t tmpfs -o mode=0755 tmpfs /var || return 1
  fi
  mkdir -p /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /var/tmp /run/lock
  [ -e /var/run ] || ln -s /run /var/run
  [ -e /var/lock ] || ln -s /run/lock /var/lock
  mount --bind "$d/etc" /etc/libvirt || return 1
  mount --bind "$dir/passwd" /etc/passwd || return 1
  mount --bind "$dir/group" /etc/group || return 1
  mount -t proc proc /proc || return 1
  ip link set lo up
}

co_host_daemons() {
  if [ -n "${CO_BED_CACHE:-}" ] && [ -d "$CO_BED_CACHE/qemu-caps" ] && \
     ! ls /var/cache/libvirt/qemu/capabilities/*.xml >/dev/null 2>&1; then
    mkdir -p /var/cache/libvirt/qemu/capabilities
    cp "$CO_BED_CACHE"/qemu-caps/*.xml /var/cache/libvirt/qemu/capabilities/ 2>/dev/null
  fi
  virtlogd -d -p /run/virtlogd.pid || return 1
  libvirtd -d --listen -p /run/libvirtd.pid -f /etc/libvirt/libvirtd.conf || return 1
}
