/* model/migration.h: predict one live migration as QEMU 7.2 runs it.
 *
 * Owns: pre-copy (with QEMU 7.2's switchover check, its bitmap-sync
 * schedule, rate-limit windows and auto-converge), post-copy, hybrid
 * (k pre-copy passes, then post-copy), pause-and-copy, the downtime floor,
 * and, when a migration does not converge, why and the smallest
 * downtime-limit, throttle or bandwidth that would make it converge.
 *
 * QEMU 7.2 (migration/migration.c, migration/ram.c), as modelled:
 *  - the migration thread sends in chunks: at most one 100 ms rate-limit
 *    window of max-bandwidth, or 50 ms of sending (MAX_WAIT);
 *  - before each chunk it asks for pending bytes; when the dirty pages not
 *    yet sent fall below threshold_size = bandwidth x downtime-limit, it
 *    re-syncs the dirty bitmap (a "pass" ends; dirty-sync-count + 1) and,
 *    if pending is still below the threshold, stops the guest and completes;
 *  - at completion max-bandwidth is lifted: the stop-and-copy runs at the
 *    link's full rate;
 *  - auto-converge: at a sync at least 1 s after the last check, if the
 *    bytes dirtied in the period exceed throttle-trigger-threshold % of the
 *    bytes sent, a counter goes up; at 2 the throttle starts at
 *    cpu-throttle-initial, then rises by cpu-throttle-increment, up to
 *    max-cpu-throttle.
 * Units: bytes, milliseconds, bytes/s, pages; percentages 0..100.
 * Pure math, no I/O, no allocation: fast enough to call every engine poll. */
#ifndef CUTOVER_MODEL_MIGRATION_H
#define CUTOVER_MODEL_MIGRATION_H

#include "model/dirty.h"
#include "model/link.h"

enum co_mig_mode {
    CO_MODE_PRECOPY = 0,
    CO_MODE_POSTCOPY,  /* switch to post-copy right after the migration starts */
    CO_MODE_HYBRID,    /* hybrid_passes pre-copy passes, then post-copy */
    CO_MODE_PAUSE,     /* hybrid_passes pre-copy passes, then pause the guest */
};

/* Why a pre-copy did not converge. */
enum co_noconv {
    CO_NOCONV_NONE = 0,
    CO_NOCONV_DIRTY_RATE,  /* pending settles above the threshold: dirtying outpaces the link */
    CO_NOCONV_DEADLINE,    /* still going at the deadline */
    CO_NOCONV_MAX_PASSES,  /* pass limit reached */
};

/* Stream bytes QEMU 7.2 puts before each page (the RAM_SAVE_FLAG word). */
#define CO_MIG_PAGE_HEADER_BYTES 8.0

typedef struct co_mig_params {
    double mem_bytes;             /* guest RAM */
    double page_size_bytes;       /* target page size, 4096 on x86 */
    double zero_fraction;         /* share of RAM that is zero pages at start, 0..1 */
    co_dirty dirty;               /* U(t) of the guest, unthrottled */
    co_link link;
    double downtime_limit_ms;     /* QEMU downtime-limit (default 300) */
    double switchover_cost_ms;    /* fixed part of downtime: device state, resume */
    int mode;                     /* enum co_mig_mode */
    int hybrid_passes;            /* for HYBRID and PAUSE */
    int auto_converge;            /* capability auto-converge */
    double throttle_initial_pct;  /* cpu-throttle-initial (20) */
    double throttle_increment_pct;/* cpu-throttle-increment (10) */
    double throttle_trigger_pct;  /* throttle-trigger-threshold (50) */
    double max_throttle_pct;      /* max-cpu-throttle (99) */
    int throttle_tailslow;        /* cpu-throttle-tailslow */
    double throttle_pct;          /* throttle (or dirty limit) in force from the start */
    double zero_scan_bytes_per_s; /* how fast QEMU scans and skips zero pages */
    double deadline_ms;           /* give up after this long (default 24 h) */
    int max_passes;               /* give up after this many passes (default 10000) */
} co_mig_params;

typedef struct co_mig_pass {
    int index;                    /* 0 = bulk pass over all RAM */
    double start_ms;
    double end_ms;                /* time of the bitmap sync that ends it */
    double sent_bytes;            /* stream bytes sent in this pass */
    double pending_bytes;         /* dirty bytes left after the sync at end_ms */
    double threshold_bytes;       /* bandwidth x downtime-limit at that sync */
    double throttle_pct;          /* throttle in force during the pass */
} co_mig_pass;

#define CO_MIG_TIMELINE_MAX 48

typedef struct co_mig_result {
    int converged;                /* 1 if the migration completes */
    int noconv_reason;            /* enum co_noconv when !converged */
    int passes;                   /* pre-copy passes, the bulk pass included */
    int dirty_sync_count;         /* QEMU's dirty-sync-count at completion */
    double total_time_ms;         /* start to guest running on the destination */
    double downtime_ms;           /* guest stopped (stop-and-copy or post-copy switch) */
    double transferred_bytes;     /* stream bytes sent (page headers included) */
    double bandwidth_bps;         /* payload bandwidth in pre-copy, BYTES per second */
    double downtime_floor_ms;     /* least downtime any switchover moment can give */
    double precopy_ms;            /* time in pre-copy before the switch */
    double postcopy_ms;           /* time the guest ran on the destination while pages
                                     were still being pulled (post-copy), else 0 */
    double final_pending_bytes;   /* what the stop-and-copy (or post-copy) had to send */
    double final_throttle_pct;    /* throttle at the end */
    double threshold_bytes;       /* bandwidth x downtime-limit */
    double settle_pending_bytes;  /* !converged: where pending settles */
    /* Filled by co_mig_advise() when !converged, else 0; -1 = nothing in range helps. */
    double min_downtime_limit_ms;
    double min_throttle_pct;
    double min_bandwidth_bytes_per_s;
    int timeline_len;             /* passes kept in timeline (first ones, then the last) */
    co_mig_pass timeline[CO_MIG_TIMELINE_MAX];
} co_mig_result;

/* QEMU 7.2 defaults: 4 KiB pages, downtime-limit 300 ms, auto-converge off
 * with 20/10/50/99, calibrated switchover cost, link defaults; mem_bytes and
 * dirty are left zero/none for the caller. */
void co_mig_defaults(co_mig_params *p);
/* Check every field; CO_OK or CO_ERANGE with field named in *field. */
int co_mig_check(const co_mig_params *p, const char **field);
/* Predict. Returns CO_OK (converged or not: see out->converged) or CO_ERANGE.
 * Does not fill the floor or the advice; cheap (no allocation, O(passes)). */
int co_mig_predict(const co_mig_params *p, co_mig_result *out);
/* co_mig_predict plus downtime_floor_ms and, when not converged, the
 * min_* advice (bisection over repeated predictions). */
int co_mig_advise(const co_mig_params *p, co_mig_result *out);
/* The floor: the smallest fixed point x of x = U(x / bandwidth) (bytes,
 * GSL Brent root), sent at stop-and-copy rate, plus the switchover cost. */
double co_mig_floor_ms(const co_mig_params *p);
const char *co_mig_mode_name(int mode);
const char *co_noconv_name(int reason);

#endif
