/* cycle/history.h: what past cycles say about the next one
 * (`cutover simulate FILE --history JOURNAL...`).
 *
 * Owns: reading cycle journals (docs/cycle-journal.md) into samples: step
 * durations per simulator step (step_end, ok), migrations (mig_start and
 * mig_end: time, downtime, bytes, and whether another migration shared a
 * host with it meanwhile), step failures and hosts that ended not ok; the
 * fits made from them (model/fit.h: lognormal and Weibull by maximum
 * likelihood, the larger likelihood kept; Clopper-Pearson intervals of the
 * failure rates); replacing the plan's guesses in a loaded cluster with
 * them; and the account of what came from history, from how many cycles
 * and samples (JSON through jansson, and text). docs/forecast.md has the
 * formulas and the rules.
 *
 * Journals are read with cycle/journal.h's co_jrn_read: a torn last line
 * (no newline) is dropped and counted, any other bad line (not JSON, seq
 * out of order, no t_ms or ev) is CO_EDATA "PATH:LINE: what"; here a
 * known field of the wrong type is the same. Units: ms, bytes, bytes/s.
 * No globals. */
#ifndef CUTOVER_CYCLE_HISTORY_H
#define CUTOVER_CYCLE_HISTORY_H

#include <jansson.h>
#include <stdio.h>

#include "model/fit.h"
#include "sim/sim.h"
#include "util/diag.h"

#define CO_HISTORY_MIN_SAMPLES 3 /* fewer: the plan's guess is kept */

typedef struct co_history_samples {
    double *v;
    int n, cap;
} co_history_samples;

/* One simulator step across the journals. */
typedef struct co_history_step {
    co_history_samples ms;     /* durations of the runs that ended ok */
    int trials, failures;      /* step_end records, and those with ok = false */
    /* after co_history_apply */
    int applied;               /* 1: plan.steps[step] replaced */
    char note[128];            /* why not, or what was kept */
    char family[12];           /* "lognormal" or "weibull" (the larger likelihood) */
    co_fit_dur lognormal, weibull;
    int have_lognormal, have_weibull;
    double guess_mean_ms;      /* the plan's distribution's mean before */
} co_history_step;

/* A failure rate with its 95 % interval. */
typedef struct co_history_rate {
    int trials, events;
    double p, lo, hi;
    int applied;               /* 1: written into the plan */
    double guess;              /* the plan's value before */
    char field[32];            /* plan field it replaces, "" = reported only */
} co_history_rate;

typedef struct co_history {
    int journals, cycles, records, torn;
    co_history_step step[CO_STEP_N];
    /* migrations: completed, with time and bytes */
    int migs, migs_solo;       /* solo: no other migration shared a host meanwhile */
    int migs_unknown_host;     /* from/to not in the cluster: no line rate */
    co_history_samples eff;    /* bytes / (time x min line rate of the two ends), solo ones
                                  (all ones when none was solo) */
    co_history_samples stream; /* payload bytes/s per channel, same migrations */
    co_history_samples downtime_ms;
    int eff_from_all;          /* 1: no solo migration, all were used */
    double eff_median, eff_q25, eff_q75;
    double stream_median_bytes_per_s;
    int stream_applied;        /* plan.policy.channel_cap replaced */
    double stream_guess_bytes_per_s;
    /* failure rates: patch (apply), no return (reboot), validate, hosts */
    co_history_rate patch_fail, no_return, validate_fail, host_fail;
    /* raw per-journal state while reading */
    void *pending;             /* internal: open migrations of the journal being read */
} co_history;

void co_history_init(co_history *h);
void co_history_free(co_history *h);

/* Add one journal's records. c gives hosts' line rates (by name) and
 * channels for the migrations' efficiency. CO_OK, CO_ENOINPUT (cannot
 * open), CO_EIO, CO_EDATA "PATH:LINE: what" (co_jrn_read's refusals, a
 * known field of the wrong type). */
int co_history_read(co_history *h, const char *path, const co_sim_cluster *c, co_diag *d);
/* Same from memory (tests, fuzzing); name is used in messages. */
int co_history_read_buffer(co_history *h, const char *text, size_t len, const char *name,
                           const co_sim_cluster *c, co_diag *d);

/* Fit and replace in c's plan: each step with at least
 * CO_HISTORY_MIN_SAMPLES durations (evacuate, and rebalance when it
 * returns VMs, are the simulator's own and are reported only);
 * p_patch_fail and p_no_return when their step ran at least that often;
 * plan.policy.channel_cap (the per-stream payload ceiling) from the
 * median payload rate of the migrations. Call once, after every read.
 * CO_OK or CO_ENOMEM. */
int co_history_apply(co_history *h, co_sim_cluster *c, co_diag *d);

/* The account: {"journals", "cycles", "records", "steps": {name: {...}},
 * "migrations": {...}, "failures": {...}}. NULL on allocation failure. */
json_t *co_history_json(const co_history *h);
/* The same as text, one line per figure. */
int co_history_text(FILE *out, const json_t *j);

#endif
