/* cycle/forecast.h: `cutover cycle --forecast`, the simulator's forecast of
 * the cycle about to run, on the live state, field by field, and beside
 * the actual at the end (docs/forecast.md, "cycle --forecast").
 *
 * Owns: building the forecast's cluster (the live cluster through
 * inventory/inventory.h, FILE's plan, hooks and execution carried over;
 * FILE as written when the inventory fails, and the output says why);
 * fitting it to past journals (cycle/history.h); the runs (sim/sim.h, one
 * run at a time with its timeline recorded, so each host's evacuation and
 * each VM's stun get their own quantiles, not only the pooled ones of
 * co_sim_mc); and the comparison with the cycle's report
 * (co_cyc_report_json: the same names). Results are jansson objects;
 * text is a view of them. Units: s for windows and steps, ms for stun.
 * No globals. */
#ifndef CUTOVER_CYCLE_FORECAST_H
#define CUTOVER_CYCLE_FORECAST_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/sim.h"
#include "util/diag.h"

typedef struct co_cyc_fc_opts {
    const char *file;             /* the cycle file (hosts with "uri") */
    const char *const *history;   /* past journals (never the one being written) */
    int nhistory;
    int runs;                     /* simulator runs (default 300) */
    uint64_t seed;                /* default 1 */
    int live;                     /* 1: the live cluster (inventory); 0: FILE as written */
    const char *keep_dir;         /* where the inventory file is kept (the journal's PATH.d);
                                     NULL: a temporary directory, removed after loading */
    int timeout_ms;               /* libvirt connection bound (default 5000) */
    double max_downtime_ms;       /* the cycle's per-VM budget, 0 = plan.stun_budget */
} co_cyc_fc_opts;

/* Build and run the forecast. *out (caller owns) is
 *   {"runs", "seed", "basis": "live" | "file", "basis_note", "inventory": PATH | null,
 *    "inventory_source": {...} (inventory's account of each figure),
 *    "history": {...} | null (co_history_json), "assumed": [...],
 *    "window_s": {"p10", "p50", "p90", "mean"},
 *    "hosts": [{"name", "evacuate_s": {"p10", "p50", "p90"}, "stun_ms": {...}}],
 *    "vms": [{"name", "host", "stun_ms": {"p10", "p50", "p90"}}]}.
 * CO_OK; CO_EDATA / CO_ENOINPUT for a bad FILE or journal (named); CO_ENOMEM.
 * An unreachable host is not an error here: basis "file" and the note say so. */
int co_cyc_forecast(const co_cyc_fc_opts *o, json_t **out, co_diag *d);

/* What co_cyc_fit_history fitted. */
typedef struct co_cyc_fit {
    json_t *history;          /* co_history_json's account (owned) */
    json_t *calibration;      /* the migration calibration (owned), NULL: fewer than
                                 CO_HISTORY_MIN_SAMPLES completed migrations */
    int per_host;             /* migrations at once per evacuating host from the
                                 journals, 0: none said (plan.per_host kept) */
    int stream_fitted;        /* 1: plan.policy.channel_cap came from history */
} co_cyc_fit;

/* Fit c's plan to past cycle journals: the one fit of both `cutover cycle
 * --forecast` and `cutover simulate --history` (a plan is one file: what
 * simulate forecasts is what cycle runs; docs/forecast.md). In order:
 * co_history_read of each journal and co_history_apply (step durations,
 * failure rates, the stream rate); the evacuations' concurrency (how many
 * the history's evacuation migrations had in flight on their source,
 * time-weighted and rounded; journals without migration records: the median
 * of their evacuate step_end "concurrency"; plan.per_host, not counting
 * incoming); then the migration calibration ("The migration
 * calibration": one stream's ceiling, a host's migration capacity as one
 * uplink per host, a page-rate factor, the downtime limit, the model error
 * sigmas, stun factors per concurrency class and per VM) when the journals
 * hold at least CO_HISTORY_MIN_SAMPLES completed migrations, and returns
 * one VM at a time when their rebalance moves went one at a time. Each
 * assumption is appended to assumed (a JSON array of sentences) as the
 * forecast prints it. *out is filled (co_cyc_fit_free frees it) on CO_OK;
 * on error nothing is left to free: CO_EDATA / CO_ENOINPUT / CO_EIO for a
 * journal (the message starts "--history"), CO_ENOMEM. */
int co_cyc_fit_history(co_sim_cluster *c, const char *const *history, int nhistory,
                       json_t *assumed, co_cyc_fit *out, co_diag *d);
void co_cyc_fit_free(co_cyc_fit *f);

/* The text of co_cyc_fit_history's calibration and assumptions, one line
 * each (simulate's text output; cycle --forecast prints its own). Nothing
 * for a NULL cal and an empty assumed. CO_OK, CO_EIO (ferror(out)). */
int co_cyc_fit_text(FILE *out, const json_t *cal, const json_t *assumed);

/* The forecast beside the actual report (co_cyc_report_json), field by
 * field: {"window_s": {"p10", "p50", "p90", "actual", "error_pct", "inside"},
 * "hosts": [{"name", "evacuate_s": {... "actual", "error_pct"}}],
 * "vms": [{"name", "stun_ms": {...}}], "summary": {"window_error_pct",
 * "window_inside", "host_evacuate_median_abs_error_pct",
 * "vm_stun_median_abs_error_pct", "hosts_compared", "vms_compared"}}.
 * error_pct = 100 (actual - p50) / p50, null when p50 is 0 or the actual is
 * missing (a host the cycle did not reach). NULL on allocation failure. */
json_t *co_cyc_forecast_compare(const json_t *fc, const json_t *report);

/* Text views: the forecast before the cycle, and the comparison after. */
void co_cyc_forecast_text(const json_t *fc, FILE *out);
void co_cyc_compare_text(const json_t *cmp, FILE *out);

#endif
