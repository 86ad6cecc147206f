/* engine/estimate.h: online estimates of a running migration.
 *
 * Owns: turning the raw query-migrate samples of one migration into what the
 * model needs: the pre-copy stream bandwidth, the pending bytes at each
 * bitmap sync, and the guest's dirty curve U(t).
 *  - Bandwidth: QEMU's ram.mbps covers only its last 100 ms rate-limit
 *    window and jumps around; we use ram.transferred deltas over a sliding
 *    window of at least CO_EST_BW_WINDOW_MS instead.
 *  - Dirty curve: at a sync (dirty-sync-count goes up) QEMU has just re-read
 *    the bitmap, so the pending bytes then are the distinct pages dirtied
 *    during the pass that ended (a point (pass length x (1 - throttle),
 *    pages) of U). ram.dirty-pages-rate (updated once a second) is the
 *    fallback while fewer than two such points exist. With two or more
 *    points model/fit.h fits a uniform curve (hotcold with four or more
 *    points, when it fits better).
 * Pure bookkeeping over samples: no I/O, so tests replay recorded series. */
#ifndef CUTOVER_ENGINE_ESTIMATE_H
#define CUTOVER_ENGINE_ESTIMATE_H

#include <stdint.h>

#include "drivers/driver.h"
#include "model/dirty.h"

/* Bandwidth window: 10 of QEMU's 100 ms rate-limit windows (chosen;
 * docs/policies.md, adaptive step 2). */
#define CO_EST_BW_WINDOW_MS 1000.0
/* Samples kept for it: at the controller's 50-100 ms poll, 64 cover 3-6 s,
 * more than the window (chosen). */
#define CO_EST_RING 64
/* Sync points kept for the fit: the bulk pass's and the 31 newest (chosen). */
#define CO_EST_POINTS 32

typedef struct co_est {
    double page_size_bytes;
    double mem_bytes;             /* guest RAM (ram.total once seen) */
    double start_ms;              /* sampled_at_ms of the first sample */
    /* recent (time, transferred) samples for the bandwidth window */
    int ring_n, ring_head;
    double ring_t_ms[CO_EST_RING], ring_x_bytes[CO_EST_RING];
    double bandwidth_bytes_per_s; /* stream bytes/s over the window; 0 until known */
    /* syncs */
    int64_t sync_count;           /* last dirty-sync-count seen, -1 before */
    int new_sync;                 /* the last sample saw the count go up */
    double last_sync_ms;          /* estimated time of the last sync */
    double setup_ev_ms;           /* a MIGRATION_PASS event fed before the first
                                     active sample (the setup sync), else NAN */
    double pending_at_sync_bytes; /* pending right after the last sync */
    double prev_sample_ms;
    double remaining_bytes;
    double transferred_bytes;
    double throttle_pct;
    double dirty_rate_pages_per_s;/* QEMU's, NAN until reported */
    /* dirty-curve points (window seconds, distinct pages) and the fit */
    int n_points;                 /* sync points */
    double pt_t_s[CO_EST_POINTS], pt_pages[CO_EST_POINTS];
    double win_t_s, win_pages;    /* a measured window (co_est_add_window); 0 = none */
    int have_curve;
    co_dirty curve;
    double fit_r2;
    int samples;
} co_est;

/* Start an estimate; page size and RAM size may be 0 (learned from samples). */
void co_est_init(co_est *e);
/* Feed one sample (in time order). sync_event_ms is the time of a
 * MIGRATION_PASS event seen since the previous sample, or NAN. Samples
 * that are not active pre-copy only update the counters. */
void co_est_feed(co_est *e, const co_drv_stats *st, double sync_event_ms);
/* A point of the dirty curve measured outside the passes (QEMU's
 * calc-dirty-rate over window_s seconds, already scaled for a throttle):
 * pages distinct pages dirtied in window_s. It joins the fit only while
 * fewer than two sync points exist: it bootstraps the first plans, and a
 * guest that changes its ways later (a quiet phase measured, a busy one
 * migrated) does not keep a stale point in the curve. Ignored when not
 * finite or window_s <= 0.01. */
void co_est_add_window(co_est *e, double window_s, double pages);
/* Time from the first sample to st's, ms. */
double co_est_elapsed_ms(const co_est *e, double sampled_at_ms);

#endif
