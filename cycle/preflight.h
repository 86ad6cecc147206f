/* cycle/preflight.h: the preflight checks of a patch cycle that are not
 * libvirt calls (docs/cycle.md, "Preflight: the MTU path").
 *
 * Owns: the migration-network MTU path check. cutover runs on the
 * orchestrator, not on the hosts, so the probe runs on the host through the
 * file's hooks.mtu_probe (an argv, cycle/hook.h; e.g. `ssh {host} ping -M do
 * -s {payload} -c 2 -W 2 {peer_addr}`), once per pair (host, peer) toward
 * every other host's migration address, at the host's configured MTU
 * (hosts[].mtu, default 1500). A pair passes when the probe exits 0; its
 * last output line is kept either way. The host's clock against the
 * orchestrator's (hooks.clock_probe, plan.execution.clock_skew_max) and its
 * free scratch space (hooks.scratch_probe, plan.execution.scratch_min),
 * each a probe run once on the host whose last output line is a number.
 * Also the file checks of co_cyc_new that name a file position (a host
 * without "uri").
 *
 * Units: bytes (MTU, payload), ms. No globals; no libvirt. */
#ifndef CUTOVER_CYCLE_PREFLIGHT_H
#define CUTOVER_CYCLE_PREFLIGHT_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "sim/sim.h"
#include "util/diag.h"

/* Bytes of IP and ICMP header in a ping of a given size: the payload of a
 * probe that fills an MTU is mtu - 28 over IPv4 (20 + 8), mtu - 48 over
 * IPv6 (40 + 8; ICMPv6 echo has the same 8-byte header). */
#define CO_PF_IPV4_OVERHEAD 28
#define CO_PF_IPV6_OVERHEAD 48

enum co_pf_result { CO_PF_PASSED = 0, CO_PF_FAILED, CO_PF_SKIPPED };

typedef struct co_pf_pair {
    int from, to;               /* cluster host indices */
    int mtu;                    /* the from host's configured MTU, bytes */
    int payload_bytes;          /* what {payload} expanded to */
    int ipv6;                   /* the peer address is IPv6 */
    char peer_addr[128];        /* what {peer_addr} expanded to ("" when skipped) */
    int result;                 /* enum co_pf_result */
    int exit_status;            /* the probe's (-1: it did not run) */
    double elapsed_ms;
    char line[256];             /* the probe's last output line, or why it was skipped */
} co_pf_pair;

typedef struct co_pf_mtu {
    int host;                   /* the host whose paths were probed */
    int checked;                /* 0: no probe ran (why says) */
    char why[128];              /* "not checked (no mtu_probe hook)", ... */
    co_pf_pair *pairs;          /* one per other host with a uri, in file order */
    int npairs, passed, failed, skipped;
} co_pf_mtu;

typedef struct co_pf_opts {
    const char *journal_dir;    /* probe logs go to DIR/hooks/mtu_probe-HOST.log; NULL: a
                                   private temp dir, removed afterwards (dry run) */
    volatile sig_atomic_t *stop_flag; /* may be NULL */
    const int *down;            /* per cluster host, may be NULL: nonzero = it does not
                                   answer libvirt; its pairs are skipped, not failed (the
                                   cycle reports the host itself) */
} co_pf_opts;

/* The address part of a libvirt or migration URI: "tcp://10.0.0.2:49152"
 * -> "10.0.0.2", "tcp://[fd00::2]" -> "fd00::2", "qemu+ssh://root@h2/system"
 * -> "h2", "10.0.0.2" -> itself, "qemu:///system" -> "" (none). Returns the
 * length written (0: none, or it does not fit in len). */
size_t co_pf_addr_of(const char *uri, char *out, size_t len);

/* {payload} for mtu toward addr: mtu - 28 (IPv4, a name) or mtu - 48 (an
 * IPv6 literal, any ':' in addr); never below 0. */
int co_pf_payload_bytes(int mtu, const char *addr);

/* Probe host h's paths toward every other host of c that has a "uri": the
 * peer's address is that of its migration_uri, else of its uri (a pair
 * without either is skipped, said in its line). Without hooks.mtu_probe, or
 * with plan.execution.mtu_check false, nothing runs: out->checked = 0 and
 * out->why says so (CO_OK). Returns CO_OK when no pair failed; CO_EFAILED
 * with d naming the first failed pair (both hosts, the MTU, the probe's
 * line); CO_ECANCELED when the stop flag rose; CO_ENOMEM. out is filled in
 * every case; release it with co_pf_mtu_free. */
int co_pf_mtu_check(const co_sim_cluster *c, int h, const co_pf_opts *o, co_pf_mtu *out,
                    co_diag *d);
void co_pf_mtu_free(co_pf_mtu *m);

/* co_pf_mtu_check, then its JSON set as into["mtu_path"]; the same
 * return. What the cycle's preflight step and its dry run call. */
int co_pf_mtu_step(const co_sim_cluster *c, int h, const co_pf_opts *o, json_t *into,
                   co_diag *d);

/* Why no probe will run for c ("not checked (no mtu_probe hook)", "not
 * checked (plan.execution.mtu_check is false)"), or NULL when it will: the
 * report's note, so a missing check is never silent. */
const char *co_pf_mtu_unchecked(const co_sim_cluster *c);

/* As JSON (what the journal's preflight step_end and the dry run's plan
 * carry as "mtu_path"): {"checked": false, "why": ...} or {"checked": true,
 * "mtu", "passed", "failed", "skipped", "pairs": [{from, to, peer_addr,
 * mtu, payload, result ("passed", "FAILED", "skipped"), exit, line}]}. */
json_t *co_pf_mtu_json(const co_sim_cluster *c, const co_pf_mtu *m);

/* Text of that JSON, one line per pair, each line starting with indent:
 * "MTU path h1 -> h2 (10.0.0.2) at MTU 9000: passed (LINE)", or
 * "MTU path: not checked (no mtu_probe hook)". */
void co_pf_mtu_text(json_t *mtu_path, const char *indent, FILE *out);

/* ---- the host's clock and scratch space ---- */

/* One host probe's outcome. */
typedef struct co_pf_probe {
    int checked;                /* 0: no probe ran (why says) */
    int ok;                     /* checked and within the limit */
    char why[96];               /* "not checked (no clock_probe hook)" */
    double value;               /* clock: skew_ms (host - orchestrator, signed);
                                   scratch: free bytes; NAN when unread */
    double limit;               /* clock_skew_max_ms, scratch_min_bytes */
    double rtt_ms;              /* the probe's duration (clock: +- half of it) */
    int exit_status;            /* the probe's (-1: it did not run) */
    char line[256];             /* its last output line, or what went wrong */
} co_pf_probe;

/* Run hooks.clock_probe on host h: its last output line must be the host's
 * time as Unix seconds (`date +%s.%N`); the skew is that minus the
 * orchestrator's wall clock at the probe's midpoint. The host fails when
 * |skew| - rtt/2 > plan.execution.clock_skew_max (the probe's own duration
 * is the uncertainty). Without the hook: out->checked = 0, CO_OK. Returns
 * CO_OK, CO_EFAILED (d: host, skew, limit; or the probe's failure or an
 * unreadable line, quoted), CO_ECANCELED. */
int co_pf_clock_check(const co_sim_cluster *c, int h, const co_pf_opts *o, co_pf_probe *out,
                      co_diag *d);

/* Run hooks.scratch_probe on host h: its last output line is the free
 * space in bytes (a size such as `1073741824` or `12GiB`; `df --output=avail
 * -B1 /var/tmp` prints it); below plan.execution.scratch_min fails. Same
 * returns as co_pf_clock_check. */
int co_pf_scratch_check(const co_sim_cluster *c, int h, const co_pf_opts *o, co_pf_probe *out,
                        co_diag *d);

/* Both checks, their JSON set as into["clock"] and into["scratch"]
 * ({"checked": false, "why"} or {"checked": true, "ok", "skew_ms" |
 * "free_bytes", "limit_ms" | "min_bytes", "rtt_ms", "exit", "line"}). The
 * first failure's return (both run). What preflight and the dry run call. */
int co_pf_host_step(const co_sim_cluster *c, int h, const co_pf_opts *o, json_t *into,
                    co_diag *d);

/* One line of text for a probe's JSON ("clock: 0.4 s ahead (limit 300 s):
 * ok", "scratch: not checked (no scratch_probe hook)"). */
void co_pf_probe_text(const char *what, json_t *probe, const char *indent, FILE *out);

/* The one-line message for a plan host without "uri":
 * "FILE:LINE: hosts[I]: no \"uri\" (host NAME): ..." (CO_EDATA). */
int co_pf_err_no_uri(const co_sim_cluster *c, const char *file, int h, co_diag *d);

#endif
