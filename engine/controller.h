/* engine/controller.h: drive one live migration through a driver.
 *
 * Owns: the life of one migration as cutover runs it, through any
 * co_drv (drivers/driver.h): remember the VM's tunables, apply the
 * policy's, start, poll every 50-100 ms (events + statistics), feed the
 * online estimates (engine/estimate.h) and the policy (engine/policy.h),
 * carry out its actions, and finish in one of these states:
 *   completed  the guest runs on the destination;
 *   aborted    the policy cancelled (it says why);
 *   cancelled  the operator asked (SIGINT/SIGTERM/SIGHUP through stop_flag):
 *              before `migrate` it stops there; during pre-copy it sends
 *              migrate_cancel (libvirt: abort job); during post-copy it
 *              finishes, as cancelling would lose the guest;
 *   failed     QEMU failed the migration (e.g. destination gone);
 *   error      we lost the connection to QEMU and cannot tell.
 * In every state but completed and error the guest is left running on the
 * source (checked with query-status; `cont` if it was running before and
 * is not now) and the tunables we changed are put back; a second signal
 * (stop_flag 2) cuts the cleanup to what keeps the guest whole: no more
 * waiting for QEMU to settle, the guest resumed, a dirty limit lifted, but
 * downtime-limit and bandwidth left as set (said in the message).
 * The destination is checked through its own QMP (cfg->dst: inmigrate and
 * listening on the URI's port) or, without one, the start action says it
 * was not checked.
 * Also owns the result record and its renderings (text, JSON, JSONL). */
#ifndef CUTOVER_ENGINE_CONTROLLER_H
#define CUTOVER_ENGINE_CONTROLLER_H

#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "meter/heartbeat.h"
#include "drivers/driver.h"
#include "engine/policy.h"

#define CO_CTL_MAX_ACTIONS 64

typedef struct co_ctl_config {
    co_pol_config pol;
    const char *uri;                  /* "tcp:HOST:PORT" */
    double bandwidth_bytes_per_s;     /* max-bandwidth to set; 0 = leave as is */
    int channels;                     /* multifd channels; 0 = leave as is */
    int poll_ms;                      /* 50..100 (default 100) */
    co_drv *dst;                   /* destination QEMU (optional, not owned) */
    co_hb *hb;                        /* heartbeat meter (optional, not owned) */
    FILE *log;                        /* JSONL timeline (optional, not owned) */
    int progress;                     /* live progress line on stderr */
    int dirty_rate_probe;             /* adaptive: measure 1 s of the dirty curve at the
                                       * start (QMP calc-dirty-rate; see docs/policies.md) */
    volatile sig_atomic_t *stop_flag; /* stop signals received so far (0 none, 1 stop,
                                       * 2 escalate); set by a handler; may be NULL */
    volatile sig_atomic_t *stop_signo;/* the last such signal's number, for the
                                       * messages; may be NULL */
    const _Atomic int *link_flows;    /* migrations sending on pol's link now, this one
                                       * included, kept by the caller (evacuate); NULL:
                                       * alone */
    const _Atomic long long *link_avail_bytes_per_s; /* what of the link the others leave
                                       * this one's stop-and-copy (the line less what they
                                       * send, at least its 1/link_flows share), kept by the
                                       * caller; NULL or 0: link_rate / link_flows */
} co_ctl_config;

typedef struct co_ctl_action {
    double at_ms;                     /* since the migration started */
    char what[24];                    /* "downtime-limit", "throttle", "cancel", "resume", ... */
    double value;                     /* ms or percent; NAN when none */
    char reason[240];
} co_ctl_action;

/* A downtime measured on the wire beside the migration (`--measure
 * pcap:IFACE,FILTER`, meter/pcaplive.h): the caller runs the capture and
 * fills this; the renderings show it. */
typedef struct co_ctl_measure {
    int on;                           /* a capture ran */
    char iface[64];
    char filter[256];
    const char *mode;                 /* "ping" or "gap" (static string) */
    double packets;                   /* packets captured */
    double outages;                   /* outages found */
    double longest_outage_ms;         /* NAN if the capture could not be analysed */
    char error[256];                  /* why not ("" if analysed) */
} co_ctl_measure;

typedef struct co_ctl_result {
    char status[16];                  /* completed, aborted, cancelled, failed, error */
    int code;                         /* CO_OK when completed, else CO_E* */
    char policy[16];
    double total_time_ms;             /* QEMU's total-time (ours if not reported) */
    double downtime_ms;               /* QEMU's downtime; NAN unless completed */
    double heartbeat_downtime_ms;     /* longest heartbeat gap; NAN unless measured */
    long heartbeat_ignored;           /* datagrams from unexpected senders; -1 unless
                                         measured */
    co_ctl_measure measure;           /* --measure (filled by the caller) */
    double transferred_bytes;         /* ram.transferred */
    int passes;                       /* pre-copy passes, bulk pass included */
    double predicted_downtime_ms;     /* adaptive's last prediction, NAN if none */
    double floor_ms;                  /* model floor at the end, NAN if none */
    double stop_copy_bytes;           /* ram.downtime-bytes: sent with the guest stopped;
                                         NAN unless completed and reported */
    double stop_copy_rate_bytes_per_s;/* stop_copy_bytes / downtime: a lower bound of the
                                         link's stop-and-copy rate (for --link); NAN if none */
    double final_throttle_pct;
    char guest_on[16];                /* "destination", "source", "unknown" */
    char message[512];                /* why it did not complete ("" when completed) */
    int n_actions;
    co_ctl_action actions[CO_CTL_MAX_ACTIONS];
} co_ctl_result;

/* Run one migration. Returns CO_OK only when it completed; otherwise the
 * code of the outcome (CO_EFAILED for aborted/failed, CO_ECANCELED,
 * CO_EUNAVAIL for a destination that does not wait for us,
 * CO_EUNAVAIL/CO_EIO/CO_ETIMEDOUT/CO_EPROTO for a lost QEMU) with d naming
 * the cause; res is filled in every case (res->n_actions is 0 unless the
 * migration was started). Errors before `migrate` is sent
 * leave the VM as it was. The caller holds the VM lock (engine/lock.h). */
int co_ctl_run(co_drv *src, const co_ctl_config *cfg, co_ctl_result *res, co_diag *d);

/* Renderings of the result: JSON (keys status, total_time_ms, downtime_ms,
 * transferred_bytes, passes, actions, ...; with a measurement also
 * measured_downtime_ms and measure {iface, filter, mode, packets, outages,
 * longest_outage_ms[, error]}; new reference), and text. */
json_t *co_ctl_result_json(const co_ctl_result *r);
void co_ctl_result_text(const co_ctl_result *r, FILE *out);

/* Parse and check a migration URI "tcp:HOST:PORT" (host may be [v6]).
 * CO_OK or CO_EUSAGE naming what is wrong. host/port are filled. */
int co_ctl_parse_uri(const char *uri, char *host, size_t hostlen, int *port, co_diag *d);

#endif
