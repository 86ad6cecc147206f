/* engine/policy.h: when to act on a running migration, and how.
 *
 * Owns: the decision functions of every policy (adaptive, and the qemu,
 * nova, ovirt and kubevirt baselines, docs/policies.md), as pure functions:
 * an observation of the migration in, a policy state updated, actions out.
 * No I/O, no clock: the controller (engine/controller.h) builds the
 * observations and carries out the actions, and tests replay recorded
 * sample series through the same functions.
 * Units: ms, bytes, bytes/s, pages, percent. */
#ifndef CUTOVER_ENGINE_POLICY_H
#define CUTOVER_ENGINE_POLICY_H

#include <stdint.h>

#include "drivers/driver.h"
#include "engine/estimate.h"
#include "model/dirty.h"

enum co_pol_kind {
    CO_POL_ADAPTIVE = 0,
    CO_POL_QEMU,
    CO_POL_NOVA,
    CO_POL_OVIRT,
    CO_POL_KUBEVIRT,
    CO_POL_COUNT,
};

/* What the operator allows beyond pre-copy (--allow). */
#define CO_ALLOW_AUTOCONVERGE 1u
#define CO_ALLOW_POSTCOPY 2u
#define CO_ALLOW_PAUSE 4u
#define CO_ALLOW_DIRTYLIMIT 8u /* per-vCPU dirty limit (KVM dirty ring) */

typedef struct co_pol_config {
    int kind;                  /* enum co_pol_kind */
    double max_downtime_ms;    /* --max-downtime */
    double deadline_ms;        /* --deadline, from the start of the migration */
    unsigned allow;            /* CO_ALLOW_* */
    int postcopy_ready;        /* postcopy-ram is on at both ends (needs --dest-qmp) */
    int pause_ready;           /* the destination can be resumed (needs --dest-qmp) */
    double mem_bytes;          /* guest RAM, for the per-GiB timeouts */
    double switchover_cost_ms; /* fixed part of downtime (model default if 0) */
    /* The migration link, for the stop-and-copy rate: QEMU 7.2 lifts
     * max-bandwidth when it stops the guest (migration_completion), so the
     * last copy runs at the link's rate, not at the pre-copy rate. */
    int link_known;            /* 0: rate unknown, assume the pre-copy rate (safe) */
    int link_loopback;         /* 1: same host; bound by the migration threads */
    double link_rate_bytes_per_s; /* line rate when !link_loopback (--link) */
    int link_mtu;              /* IP MTU (0 = 1500) */
    int link_peers;            /* other migrations sending on the link now (the controller,
                                  from co_ctl_config.link_flows; 0 = none or unknown):
                                  a pre-copy that does not converge waits for them to end
                                  before its last resort (post-copy, pause, abort) */
    int channels;              /* multifd channels (0 = 1) */
    int dirty_limit_ready;     /* set-vcpu-dirty-limit works on this VM (controller probes) */
    int vcpus;                 /* vCPUs the dirty limit applies to (0 = 1) */
    int throttle_fixed;        /* the driver cannot change cpu-throttle-* once the
                                  migration runs (libvirt 9.0): adaptive starts QEMU's own
                                  ramp (20 %, +10 %) and lets it climb instead of asking */
    double throttle_start_pct; /* throttle_fixed: where that ramp starts (libvirt's
                                  auto_converge.initial); 0 = QEMU's 20 %. evacuate gives a
                                  VM whose last drain rode the ramp high a start nearer where
                                  it needed it (co_pol_ramp_start) */
} co_pol_config;

/* Where libvirt's fixed ramp should start for a VM whose last migration saw
 * QEMU's throttle reach last_max_pct (0 or NAN: none): there, where it last
 * needed it, rather than 3.5 s per 10 % from 20 % (bench-evacuate `hot`:
 * 24 s from 20 % to 90 %, the paced guest's writes unchanged until 90 %);
 * 0 when that is no higher than QEMU's 20 %. co_pol_prestart holds it at
 * the throttle cap, where the ramp guard acts at once. */
double co_pol_ramp_start(double last_max_pct);

/* Everything a policy sees at one poll. */
typedef struct co_pol_obs {
    double t_ms;                  /* since the migration started */
    int status;                   /* enum co_drv_status */
    double remaining_bytes;       /* ram.remaining */
    double transferred_bytes;     /* ram.transferred */
    double mem_bytes;             /* ram.total */
    double page_size_bytes;
    int64_t sync_count;           /* dirty-sync-count */
    int new_sync;                 /* a sync happened since the previous obs */
    double pending_at_sync_bytes; /* pending right after the last sync */
    double since_sync_ms;         /* time since the last sync */
    double bandwidth_bytes_per_s; /* estimated stream rate, 0 = not known yet */
    double throttle_pct;          /* cpu-throttle-percentage */
    double dirty_rate_pages_per_s;/* QEMU's dirty-pages-rate, NAN if not reported */
    int have_curve;
    co_dirty curve;               /* fitted U(t), when have_curve */
} co_pol_obs;

enum co_pol_act_kind {
    CO_ACT_DOWNTIME = 1, /* set downtime-limit to value ms */
    CO_ACT_THROTTLE,     /* cpu-throttle-initial value %, -increment value2 % */
    CO_ACT_POSTCOPY,     /* migrate-start-postcopy */
    CO_ACT_PAUSE,        /* stop the guest on the source */
    CO_ACT_ABORT,        /* migrate_cancel, guest stays on the source */
    CO_ACT_DIRTYLIMIT,   /* every vCPU's dirty rate to value MiB/s (value2: the
                            throttle % it stands for in the model) */
};

typedef struct co_pol_action {
    int kind;            /* enum co_pol_act_kind */
    double at_ms;        /* obs.t_ms of the decision */
    double value, value2;
    char reason[240];    /* why, one line */
} co_pol_action;

/* What a policy remembers between observations. Zero it with
 * co_pol_init; callers never edit it. */
typedef struct co_pol_state {
    double limit_ms;          /* downtime-limit in force (as we set it) */
    int step;                 /* nova/ovirt: schedule position */
    int64_t last_sync;        /* sync count at the previous decision */
    double low_remaining;     /* lowest remaining at a sync (progress mark) */
    double prev_remaining_at_sync;
    double last_progress_ms;  /* time the progress mark last went down */
    int stalls;               /* ovirt: passes without progress */
    int noconv;               /* adaptive: consecutive syncs judged not converging */
    double throttle_target;   /* adaptive: throttle asked for, 0 = none */
    int64_t throttle_sync;    /* sync count when the throttle was asked */
    int postcopy, paused, aborted;
    double last_plan_ms;      /* adaptive: last plan time */
    double pred_downtime_ms;  /* adaptive: predicted downtime of the chosen switch */
    double pred_floor_ms;     /* adaptive: model's floor at the current throttle */
    int pred_k;               /* adaptive: passes to go at the chosen switch, -1 none */
    int64_t armed_sync;       /* adaptive: earliest sync a plan expected the switch at, -1 */
    double bump_ms;           /* adaptive: extra limit after QEMU did not switch in time */
    double dl_pct;            /* adaptive: the dirty limit in force as a throttle %, 0 none */
    double fixed_seen_pct;    /* adaptive, throttle_fixed: highest throttle QEMU reached */
    int64_t fixed_seen_sync;  /* ... and the sync count when it last rose (-1 = not yet) */
    int64_t ramp_sync;        /* adaptive, throttle_fixed: sync count when the ramp guard
                                 set its limit, QEMU's next step being past the cap (-1) */
    int64_t ceiling_sync;     /* adaptive: sync count when, with nothing left to escalate,
                                 the limit went to its safe ceiling; -1 = not yet */
    double early_pct;         /* adaptive: the slow link's early throttle asked, 0 = none */
    int early_held;           /* ... and, once reached, its increment put back to 1 % */
    double bite_base_rate;    /* adaptive: QEMU's dirty pages/s when the first escalation
                                 throttle was asked (NAN = none yet) ... */
    double bite_base_pct;     /* ... the throttle then ... */
    int64_t bite_reached_sync;/* ... and the sync the asked throttle was first seen at (-1) */
    double recent_pend[4];    /* adaptive: pending bytes at the last 4 syncs (a ring) */
    int recent_n;             /* ... how many syncs went into it */
} co_pol_state;

/* Parse "adaptive", "qemu", ...; returns the kind or -1. */
int co_pol_parse(const char *name);
const char *co_pol_name(int kind);
/* Parse an --allow list "auto-converge,postcopy,pause" (or "none") into
 * CO_ALLOW_* bits. CO_OK or CO_EUSAGE naming the bad item. */
int co_pol_parse_allow(const char *text, unsigned *allow, co_diag *d);

/* Initial state, and the tunables to apply before `migrate` given the
 * VM's current ones (orig). want starts as a copy of orig. */
void co_pol_init(const co_pol_config *c, co_pol_state *s);
void co_pol_prestart(const co_pol_config *c, const co_drv_tunables *orig,
                        co_drv_tunables *want);
/* One decision. Writes up to max actions into out, returns how many.
 * The caller carries them out in order; a policy never repeats an action
 * it already asked for. */
int co_pol_decide(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                     co_pol_action *out, int max);
/* Build an observation from the estimator after feeding it st. */
void co_pol_obs_from(const co_est *e, const co_drv_stats *st, co_pol_obs *o);
/* Name of an action kind: "downtime-limit", "throttle", ... */
const char *co_pol_action_name(int kind);

#endif
