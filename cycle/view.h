/* cycle/view.h: the TTY view of a running cycle (docs/cycle.md, "The TTY
 * view"): one line per host with its current step, the time in it and an
 * ETA, and the VMs in flight, redrawn in place on stderr.
 *
 * Owns: the snapshot of a run (co_view, built from the journal's records,
 * so it shows what the journal says and nothing else), the ETA rule, the
 * rendering of a snapshot into a buffer (pure: tests need no TTY), and the
 * drawing on stderr (co_view_say, co_view_update, a ticker thread that
 * redraws once a second while the cycle runs). Nothing is drawn unless
 * co_cyc_opts.progress is set AND stderr is a TTY; without a TTY,
 * co_view_say prints its line as before and nothing else.
 *
 * ETA of a step, first found of: for evacuate and rebalance, the host's
 * predicted evacuation (its preflight's predicted_ms: the same VMs leave
 * and come back; rebalance takes the plan's step mean instead when
 * plan.rebalance is a duration); the mean of that step's durations
 * measured so far in this run (its ok step_end records, any host); the
 * plan's step mean (the simulator's, sim/sim.h co_sim_plan.step) when the
 * hook that does its work is configured, else 0 (the cycle skips it);
 * unknown (an evacuation not predicted yet and none measured: the ETA is
 * then a lower bound, shown ">").
 * A host's ETA is what is left of its current step plus its later steps;
 * The cycle's ETA is the sum over hosts; co_view_eta_at_once then makes
 * it the schedule of plan.max_hosts_in_maintenance hosts at once, one
 * phase at a time, as the cycle runs them. Units: ms. */
#ifndef CUTOVER_CYCLE_VIEW_H
#define CUTOVER_CYCLE_VIEW_H

#include <jansson.h>
#include <stddef.h>

#include "sim/sim.h"

enum co_view_state { CO_VIEW_WAIT = 0, CO_VIEW_RUN, CO_VIEW_DONE, CO_VIEW_FAILED };

#define CO_VIEW_MAX_MIGS 64

typedef struct co_view_host {
    const char *name;           /* borrowed from the cluster */
    int state;                  /* enum co_view_state */
    int canary;
    char step[32];              /* current (RUN) or last step; "" none yet */
    double step_elapsed_ms;     /* RUN: time in the current step */
    double host_elapsed_ms;     /* since its first step started (to its end when done) */
    double eta_ms;              /* what is left (0 when done); a lower bound when eta_partial */
    int eta_partial;            /* a step's estimate is unknown (no evacuation predicted yet) */
} co_view_host;

typedef struct co_view_mig {
    char vm[64], from[32], to[32], purpose[16];
    double elapsed_ms;
} co_view_mig;

typedef struct co_view {
    const char *status;         /* "running", or cycle_end's status */
    double elapsed_ms;          /* since cycle_start */
    double eta_ms;              /* sum of the hosts' */
    int eta_partial;
    int nhosts, left;           /* hosts; those not done or failed */
    co_view_host *hosts;        /* nhosts, in the cycle's order */
    co_view_mig migs[CO_VIEW_MAX_MIGS];
    int nmigs, more_migs;       /* in flight: shown, and beyond CO_VIEW_MAX_MIGS */
} co_view;

/* Estimated duration of cycle step s (cycle/cyc_int.h CO_CYC_S_*) on a host
 * whose predicted evacuation is evac_pred_ms (NAN: unknown), from the plan
 * and hooks of c alone (no measurement): the rule above. NAN when unknown. */
double co_view_step_plan_ms(const co_sim_cluster *c, int s, double evac_pred_ms);

/* Build the snapshot at wall-clock now_ms (ms since the epoch, the
 * journal's t_ms clock) from the journal's records recs, for the hosts
 * order[0..norder) of c (canary[h] nonzero: a canary). out->hosts is
 * malloc'd (co_view_free). CO_OK or CO_ENOMEM. */
int co_view_build(json_t *recs, const co_sim_cluster *c, const int *order, int norder,
                  const int *canary, double now_ms, co_view *out);
void co_view_free(co_view *v);

/* The cycle's ETA (v->eta_ms) when up to k hosts run at once, one phase
 * at a time (cycle/cycle.c run_hosts: the canaries, then each failure
 * domain; a phase starts when the one before it is done): phase[i] is the
 * phase of v->hosts[i] (cycle's order, so a phase's hosts are adjacent).
 * Within a phase, hosts not done take the first free of k slots in order
 * (a running host's slot is busy for its ETA); a phase lasts its longest
 * slot; phases add up. k < 1 counts as 1 (the sum over hosts). */
void co_view_eta_at_once(co_view *v, const int *phase, int k);

/* Render v into buf (NUL-terminated, truncated to cap), each line at most
 * width - 1 columns (wider text is cut, so a redraw can count its lines).
 * Returns the number of lines written. */
int co_view_render(const co_view *v, int width, char *buf, size_t cap);

/* "m:ss" or "h:mm:ss" (negative or NAN: "-"). */
void co_view_fmt_ms(double ms, char *buf, size_t cap);

/* ---- on the TTY (the cycle's calls; y is struct co_cyc, cycle/cyc_int.h) ---- */
struct co_cyc;
struct co_view_tty;             /* the table on stderr and its ticker; y->view */

/* Print "cutover cycle: LINE" on stderr (progress only), above the table
 * when there is one, then redraw it. Safe from any thread. */
void co_view_say(struct co_cyc *y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Redraw the table now (progress on a TTY only; starts the ticker). */
void co_view_update(struct co_cyc *y);
/* Stop the ticker and forget the table (the last drawing stays on screen).
 * Called by co_cyc_free; safe on a NULL view. */
void co_view_tty_free(struct co_view_tty *t);

#endif
