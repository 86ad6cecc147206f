/* cycle/cycle.h: run a rolling patch cycle over libvirt hosts from the file
 * `cutover simulate` forecasts (sim/sim.h co_sim_cluster, with its "uri",
 * "migration_uri", "hooks" and plan "execution"; docs/cycle.md).
 *
 * Owns: the cycle's state machine (per host: preflight, stage, enter
 * maintenance, evacuate through evacuate/evacuate.h, patch, reboot and the
 * wait for the host's return, firmware and its reboot, validate, exit
 * maintenance, rebalance; before_cycle and after_cycle around them), host
 * order (canaries first, then failure domain by failure domain, at most
 * plan.max_hosts_in_maintenance at once), the stop rules, the journal's
 * record kinds and resume (reconcile with libvirt, never migrate a VM twice,
 * never leave one paused), and the report: the measures of one simulate run
 * under the same names (co_cyc_report_json). Hooks run through cycle/hook.h,
 * the journal through cycle/journal.h. Units: ms, bytes. No globals. */
#ifndef CUTOVER_CYCLE_CYCLE_H
#define CUTOVER_CYCLE_CYCLE_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "sim/sim.h"
#include "util/diag.h"

typedef struct co_cyc_opts {
    const char *file;             /* the cycle file (for messages) */
    const char *journal_path;     /* required for a real run */
    int resume;                   /* continue the journal's cycle */
    int dry_run;                  /* check every host and VM, print the plan; touch nothing */
    int forecast;                 /* run simulate on the live state first, compare at the end */
    int progress;                 /* TTY view on stderr */
    double max_downtime_ms;       /* per-VM budget (default plan.stun_budget) */
    unsigned allow;               /* CO_ALLOW_* | CO_EVAC_ALLOW_* */
    int timeout_ms;               /* libvirt connection bound */
    const char *const *history;   /* past cycle journals (--history): the newest
                                     "calibration" record among them seeds the
                                     evacuations' (borrowed) */
    int nhistory;
    volatile sig_atomic_t *stop_flag, *stop_signo;
} co_cyc_opts;

typedef struct co_cyc co_cyc;     /* the run's state, opaque */

/* Check the file for execution (every host has a uri; hooks valid) and
 * build the state. CO_OK or CO_EDATA naming file and field. */
int co_cyc_new(const co_sim_cluster *c, const co_cyc_opts *o, co_cyc **out, co_diag *d);
void co_cyc_free(co_cyc *y);

/* Run (or, with dry_run, check and plan) the cycle. Returns CO_OK when every
 * host was patched and validated; CO_EFAILED when a stop rule stopped it
 * (d says which), CO_ECANCELED on a signal, CO_EBUSY when another cycle
 * holds the journal. The report is available afterwards in every case. */
int co_cyc_run(co_cyc *y, co_diag *d);

/* The report: status, window_s, hosts (steps with durations, stun sum),
 * vms (name, host, stun_ms, ...), outages, aborts; as simulate's names. */
json_t *co_cyc_report_json(const co_cyc *y);
void co_cyc_report_text(const co_cyc *y, FILE *out);

/* Convert a journal to simulate's timeline CSV (docs/timeline.md). */
int co_cyc_journal_timeline(const char *journal_path, FILE *csv, co_diag *d);

#endif
