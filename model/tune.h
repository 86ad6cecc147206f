/* model/tune.h: the tuning sweep behind `cutover tune`.
 *
 * Owns: evaluating a grid of MTU x multifd channels x downtime-limit with
 * model/migration.h, and the recommendation: the fastest setting that
 * converges within max_downtime_ms and deadline_ms, preferring (in order)
 * lower downtime at equal time (within 2%), fewer channels, the smaller MTU.
 * Pure, no I/O; the caller owns the row array. */
#ifndef CUTOVER_MODEL_TUNE_H
#define CUTOVER_MODEL_TUNE_H

#include "model/migration.h"

#define CO_TUNE_MAX_AXIS 32

typedef struct co_tune_grid {
    int n_mtu, n_channels, n_limit;
    int mtu[CO_TUNE_MAX_AXIS];
    int channels[CO_TUNE_MAX_AXIS];
    double downtime_limit_ms[CO_TUNE_MAX_AXIS];
} co_tune_grid;

typedef struct co_tune_row {
    int mtu;
    int channels;
    double downtime_limit_ms;
    int converged;
    int fits;                     /* converged, downtime <= max, total <= deadline */
    double total_time_ms;
    double downtime_ms;
    double transferred_bytes;
    double bandwidth_bps;         /* payload bytes/s */
    int bound;                    /* enum co_link_bound */
} co_tune_row;

typedef struct co_tune_result {
    int n_rows;
    int best;                     /* row index, -1 if nothing fits */
    int baseline;                 /* row matching the input's own setting, -1 if absent */
    char why[512];                /* one paragraph: why the best one */
} co_tune_result;

/* Default grid: MTU {1500, 9000}, channels 1..16, downtime-limit
 * {50,100,200,300,500,1000} ms capped at max_downtime_ms (always keeping the
 * input's own limit). */
void co_tune_default_grid(co_tune_grid *g, double max_downtime_ms, double own_limit_ms);
/* rows must hold n_mtu x n_channels x n_limit entries. */
int co_tune_run(const co_mig_params *base, const co_tune_grid *g, double max_downtime_ms,
                double deadline_ms, co_tune_row *rows, co_tune_result *out);

#endif
