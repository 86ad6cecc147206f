/* util/procnet.h: is a TCP port listening in this network namespace?
 *
 * Owns: the one reader of /proc/net/tcp and /proc/net/tcp6 in cutover. It
 * is for QEMUs that cutover (lab/) or a test started itself on this host:
 * they must be seen listening on -incoming without a connect(), which QEMU
 * would take as the migration stream (and 7.2 exits when that stream
 * fails). It is NOT a check of a migration destination: that may be on
 * another host or in another network namespace, where this file sees
 * nothing; `cutover migrate` asks the destination's own QMP instead
 * (engine/controller.c). */
#ifndef CUTOVER_UTIL_PROCNET_H
#define CUTOVER_UTIL_PROCNET_H

/* 1 if a socket in LISTEN state has local port port and is bound to the
 * IPv4 address ipv4 (dotted quad, e.g. "127.0.0.1") or to a wildcard
 * (0.0.0.0, ::); with ipv4 NULL any address counts. 0 if none, or if the
 * files cannot be read. */
int co_procnet_listening(const char *ipv4, int port);

/* The same, in the network namespace of process pid (its /proc/PID/net):
 * for a QEMU the lab started in a namespace of its own (lab/lab.h link). */
int co_procnet_listening_pid(int pid, const char *ipv4, int port);

#endif
