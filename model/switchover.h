/* model/switchover.h: the switchover optimizer used by the live engine.
 *
 * Owns: given the state of a running pre-copy (pending dirty bytes at the
 * last bitmap sync, time since that sync, measured bandwidth, the dirty
 * curve and throttle), the cost of switching now or after k more passes,
 * and the downtime-limit that makes QEMU switch at the chosen pass.
 * Pure, no I/O; uses the same pass arithmetic as model/migration.h. */
#ifndef CUTOVER_MODEL_SWITCHOVER_H
#define CUTOVER_MODEL_SWITCHOVER_H

#include "model/migration.h"

typedef struct co_switch_state {
    double pending_bytes;          /* dirty bytes not yet sent (query-migrate ram.remaining) */
    double since_sync_ms;          /* time since the last bitmap sync */
    double elapsed_ms;             /* time since the migration started */
    double bandwidth_bytes_per_s;  /* measured pre-copy stream rate */
    double stop_bandwidth_bytes_per_s; /* expected stop-and-copy rate (0 = same) */
    double throttle_pct;           /* current throttle */
} co_switch_state;

#define CO_SWITCH_MAX_K 16

typedef struct co_switch_option {
    int k;                         /* switch after k more passes (0 = now) */
    double wait_ms;                /* time from now to that switch */
    double pending_bytes;          /* what the stop-and-copy must send */
    double downtime_ms;            /* predicted downtime */
    double downtime_limit_ms;      /* downtime-limit that makes QEMU switch there */
} co_switch_option;

typedef struct co_switch_plan {
    int n;                         /* options filled, 1..CO_SWITCH_MAX_K+1 */
    co_switch_option opt[CO_SWITCH_MAX_K + 1];
    int best;                      /* index of the recommended option, -1 if none fits */
    double floor_ms;               /* least downtime reachable at this throttle */
} co_switch_plan;

/* Options for k = 0..k_max (<= CO_SWITCH_MAX_K) and the best one: the least
 * downtime within max_downtime_ms that is reached before budget_ms (time
 * left to the deadline); among near-equal downtimes (within 5%), the
 * earliest. p gives the curve, page size and switchover cost.
 * Returns CO_OK or CO_ERANGE. */
int co_switch_plan_make(const co_mig_params *p, const co_switch_state *s, int k_max,
                        double max_downtime_ms, double budget_ms, co_switch_plan *out);

#endif
