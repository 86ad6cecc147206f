/* cycle/cyc_int.h: what cycle/cycle.c and cycle/report.c share (internal;
 * nothing outside cycle/ includes it).
 *
 * The run's facts live in one place: the journal's records (y->recs: those
 * read back on --resume, then those written), so the report, resume and
 * the timeline are all views of the journal. The dry run's plan is a JSON
 * object of its own (y->plan). */
#ifndef CUTOVER_CYCLE_CYC_INT_H
#define CUTOVER_CYCLE_CYC_INT_H

#include <jansson.h>
#include <pthread.h>

#include "cycle/cycle.h"
#include "cycle/journal.h"

/* A host's steps in order; names as the journal writes them
 * (docs/cycle-journal.md: the simulator's step names where it has one). */
enum {
    CO_CYC_S_PREFLIGHT = 0, CO_CYC_S_STAGE, CO_CYC_S_ENTER, CO_CYC_S_EVAC, CO_CYC_S_PATCH,
    CO_CYC_S_REBOOT, CO_CYC_S_FIRMWARE, CO_CYC_S_FW_REBOOT, CO_CYC_S_VALIDATE, CO_CYC_S_EXIT,
    CO_CYC_S_REBALANCE, CO_CYC_S_N
};
extern const char *const co_cyc_step_names[CO_CYC_S_N];

struct co_cyc {
    const co_sim_cluster *c;
    co_cyc_opts o;
    int *order, norder;         /* cluster host indices, in the order the cycle takes them */
    int *phase;                 /* per cluster host: 0 canary, 1.. failure domain rank */
    int *closed;                /* per cluster host: in maintenance (takes no VM) */
    int *down;                  /* per cluster host: did not answer the last probe */
    int *busy;                  /* per cluster host: its turn has come and it is not done
                                   (takes no VM from another evacuation: it will be emptied) */
    double *book_mem, *book_vcpus; /* per cluster host: what in-flight evacuations and
                                   rebalances planned to send there and did not yet (under
                                   place_mu; hosts in maintenance at once see each other's) */
    pthread_mutex_t place_mu;   /* closed, busy, the bookings; one planner at a time */
    pthread_mutex_t rebal_mu;   /* one rebalance at a time, and no inventory during one */
    pthread_mutex_t vmu;        /* the verdicts: failure budget, reason */
    int tmo;                    /* libvirt call bound, ms */
    double budget_ms;           /* per-VM stun budget */
    co_jrn *j;
    char jdir[512];
    pthread_mutex_t mu;         /* recs, notes, the journal: host threads share them */
    json_t *recs;               /* every journal record, in order */
    json_t *homes;              /* VM name -> host name where the cycle found it */
    json_t *calib;              /* the evacuations' calibration (co_evac_calib_merge of each
                                   drain's, journaled; seeded from the history): under
                                   place_mu; NULL until something is learnt */
    char calib_src[400];        /* where the seed came from, for e->calib_source */
    json_t *plan;               /* dry run: the plan */
    json_t *notes;              /* array of strings: what the report must say */
    int have_fc;
    co_sim_summary fc;          /* --forecast */
    int forecast_runs;
    char status[16];            /* completed, stopped, failed, cancelled, planned, busy */
    char reason[768];
    struct co_view_tty *view;   /* the TTY view (cycle/view.h), NULL until drawn */
};

#endif
