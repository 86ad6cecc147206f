/* sim/sim.h: the patch-cycle simulator.
 *
 * Owns: the in-memory cluster and plan (read from JSON by sim/load.c), one
 * deterministic discrete-event run of a rolling patch cycle (sim/run.c), and
 * the Monte Carlo driver that runs many of them across threads and reduces
 * them into a summary (sim/mc.c, rendered by sim/report.c).
 *
 * Time inside a run is an integer number of microseconds (co_sim_time);
 * events are ordered by time, then by a sequence number (sim/evq.h), so a
 * (seed, run index) pair gives the same run on any machine and any thread
 * count. Each migration's duration and stun come from co_mig_predict() for
 * the VM's dirty curve at the bandwidth share it has at that moment; shares
 * are max-min fair over NICs and uplinks (sim/share.h) and change when a
 * migration connected through a shared link starts or ends
 * (docs/simulate.md, "Bandwidth sharing").
 *
 * Ownership: a co_sim_cluster is immutable once loaded and may be shared by
 * all threads; co_sim_cluster_free() releases it. Runs keep their state in a
 * co_sim_run (one per thread). Nothing here keeps global state. */
#ifndef CUTOVER_SIM_SIM_H
#define CUTOVER_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "model/migration.h"
#include "util/diag.h"

typedef int64_t co_sim_time; /* microseconds since the cycle started */

#define CO_SIM_US_PER_MS 1000
#define CO_SIM_US_PER_S 1000000LL

/* ---- distributions (sim/dist.c) ---- */
enum co_sim_dist_kind {
    CO_DIST_FIXED = 0, /* a = value */
    CO_DIST_UNIFORM,   /* a = min, b = max */
    CO_DIST_NORMAL,    /* a = mean, b = sd; truncated at 0 */
    CO_DIST_LOGNORMAL, /* a = median, b = sigma (of the log) */
    CO_DIST_WEIBULL,   /* a = scale, b = shape */
    CO_DIST_EMPIRICAL, /* values[0..n-1], each equally likely */
};

typedef struct co_sim_dist {
    int kind;       /* enum co_sim_dist_kind */
    double a, b;    /* parameters, in the unit of the quantity (ms for times) */
    int n;          /* empirical: number of values */
    double *values; /* empirical: owned by the cluster that holds the dist */
} co_sim_dist;

/* Draw one value >= 0 (negative normal draws are redrawn, then clamped). */
double co_sim_dist_sample(const co_sim_dist *d, const gsl_rng *r);
/* The distribution's mean (used by docs and tests). */
double co_sim_dist_mean(const co_sim_dist *d);
/* Check parameters: CO_OK or CO_ERANGE with *why set to a static phrase. */
int co_sim_dist_check(const co_sim_dist *d, const char **why);
const char *co_sim_dist_name(int kind);

/* ---- cluster and plan ---- */

/* Steps of one host's patch, in order. EVACUATE has no duration of its own:
 * it lasts until every VM has left. The fault steps run only on a fault. */
enum co_sim_step {
    CO_STEP_HEALTH = 0,  /* health check and snapshot */
    CO_STEP_ENTER,       /* enter maintenance (API call, DRS/scheduler update) */
    CO_STEP_EVACUATE,    /* live-migrate (or shut down) every VM */
    CO_STEP_REPO_SYNC,   /* repository sync and signature check */
    CO_STEP_APPLY,       /* apply the patch */
    CO_STEP_REBOOT,
    CO_STEP_FIRMWARE,    /* optional firmware update ... */
    CO_STEP_FW_REBOOT,   /* ... and its reboot */
    CO_STEP_VALIDATE,
    CO_STEP_EXIT,        /* exit maintenance */
    CO_STEP_REBALANCE,
    CO_STEP_ROLLBACK,    /* fault: patch failed, boot the previous bank */
    CO_STEP_REPAIR,      /* fault: host did not come back */
    CO_STEP_N
};
const char *co_sim_step_name(int step);

enum co_sim_order { CO_ORDER_DOMAIN = 0, CO_ORDER_LIST };
/* What happens after a host exits maintenance (plan.rebalance). */
enum co_sim_rebalance {
    CO_REBAL_RETURN = 0,  /* the VMs that started on it migrate back */
    CO_REBAL_DURATION,    /* a step of plan.steps.rebalance; nothing moves */
    CO_REBAL_BALANCE,     /* even out free memory (cutover cycle); simulated as return:
                             as many moves as the VMs that started on it */
};
enum co_sim_on_abort { CO_ABORT_RETRY = 0, CO_ABORT_COLD };

typedef struct co_sim_host {
    char *name;
    int cores;
    double mem_bytes;
    double nic_bytes_per_s;   /* line rate of the migration NIC (full duplex) */
    int mtu;
    int channels;             /* multifd channels used by migrations from/to it */
    int domain;               /* index into cluster->domains */
    int rack;                 /* index into cluster->racks */
    int uplink;               /* index into cluster->uplinks, -1 = none */
    char *uri;                /* libvirt URI ("uri", e.g. from `cutover lab cluster`), or NULL */
    char *migration_uri;      /* its migration address ("migration_uri"), or NULL */
    int line;                 /* line of its object in the file (0: not from a file) */
} co_sim_host;

typedef struct co_sim_uplink {
    char *name;
    double rate_bytes_per_s;  /* shared by every migration leaving or entering its hosts */
} co_sim_uplink;

/* What moves with a VM's migration: memory and the dirty curve. VMs with the
 * same profile share predictions (sim/run.c caches them by profile). */
typedef struct co_sim_profile {
    double mem_bytes;
    double zero_fraction;     /* 1 - mem_used/mem: never-touched pages are zero */
    co_dirty dirty;           /* rate_pages_per_s replaced per run when rate_dist */
    int rate_sampled;         /* 1: draw the page-write rate per run from rate */
    co_sim_dist rate;         /* pages/s */
} co_sim_profile;

typedef struct co_sim_vm {
    char *name;
    int host;                 /* where the cycle finds it */
    int vcpus;
    double mem_bytes;
    int profile;              /* index into cluster->profiles */
    int passthrough;          /* cannot live-migrate: shut down, restart elsewhere */
    int pinned;               /* cannot leave its host: off while the host is patched */
    int group;                /* anti-affinity group, -1 = none */
    double down_factor;       /* factor on its migrations' downtime from a calibration
                                 (cycle/forecast.h co_cyc_fit_history), 0 = none */
    double time_factor;       /* factor on its migrations' times from a calibration, 0 = none */
} co_sim_vm;

typedef struct co_sim_plan {
    int *hosts;               /* hosts to patch, in file order */
    int nhosts;
    int order;                /* enum co_sim_order */
    int *canary;              /* flags per cluster host: 1 = canary */
    co_sim_time canary_soak_us;
    int max_in_maint;         /* hosts in maintenance at once */
    int per_host;             /* concurrent outgoing migrations per host, 0 = no limit */
    int count_incoming;       /* 1: per_host counts migrations in and out of a host */
    int per_cluster;          /* concurrent migrations in the cluster, 0 = no limit */
    char preset[16];          /* "nova", "kubevirt", "vsphere" or "custom" */
    double cpu_ratio;         /* vCPU allocation ratio (vCPUs per core) */
    co_mig_params mig;        /* migration policy; mem, dirty and link set per VM */
    double share_tolerance;   /* re-time a migration when its bandwidth share moves
                                 by more than this fraction (0 = on every change) */
    int rebalance;            /* enum co_sim_rebalance */
    double stun_budget_ms;
    co_sim_dist step[CO_STEP_N];
    double firmware_fraction; /* share of hosts that also get a firmware update */
    double p_patch_fail;
    double p_no_return;
    double p_validate_fail;   /* validation fails: the host stays in maintenance, takes
                                 no VMs back, and the cycle goes on (cutover cycle's
                                 failure budget) */
    double p_mig_abort;
    /* The forecast's error of the migration model (cycle/forecast.c sets
     * them from a calibration's residuals; 0 = off, the default, and then no
     * random number is drawn for them): each migration's predicted time and
     * downtime are multiplied by lognormal factors of these sigmas, drawn
     * when it starts; mig_run_sigma is a factor on every migration's time
     * drawn once per run. */
    double mig_time_sigma, mig_down_sigma, mig_run_sigma;
    /* The calibration's factors on the downtime of a migration that leaves
     * its VM's own host with plan.per_host != 1 ([1], an evacuation at
     * concurrency) and of any other ([0]); 0 = none, the default. */
    double mig_down_class[2];
    /* A factor on the time of each evacuation migration after the first of
     * its host's drain, 0 = none (the default): the real drains start the
     * next VM's libvirt set-up while the last one ends (evacuate's early
     * start), which a drain run one migration at a time does not see
     * (cycle/forecast.c sets it from the history's overlaps). */
    double mig_evac_follow_factor;
    int returns_at_once;      /* rebalance return: migrations in flight per host taking its
                                 VMs back, 0 = only the per_host limits (cutover cycle: 1) */
    int on_abort;             /* enum co_sim_on_abort, after max_retries */
    int max_retries;
    co_sim_dist vm_restart;   /* boot time of a VM shut down (passthrough, cold, pinned) */
} co_sim_plan;

/* ---- execution: what `cutover cycle` needs beyond the forecast ----
 * Read by sim/load.c from the same file (top-level "hooks", plan "execution";
 * docs/cycle.md), ignored by the simulator, so one file serves both. */
enum co_sim_hook_kind {
    CO_HOOK_BEFORE_CYCLE = 0, CO_HOOK_PREFLIGHT, CO_HOOK_STAGE, CO_HOOK_ENTER_MAINTENANCE,
    CO_HOOK_PATCH, CO_HOOK_REBOOT, CO_HOOK_FIRMWARE, CO_HOOK_VALIDATE,
    CO_HOOK_EXIT_MAINTENANCE, CO_HOOK_AFTER_CYCLE,
    CO_HOOK_MTU_PROBE,        /* not a step: preflight runs it once per (host, peer) pair
                                 (cycle/preflight.h); default timeout 30 s */
    CO_HOOK_CLOCK_PROBE,      /* not a step: preflight runs it once per host; its last line
                                 is the host's clock, Unix seconds; default timeout 30 s */
    CO_HOOK_SCRATCH_PROBE,    /* not a step: preflight runs it once per host; its last line
                                 is the host's free scratch space, bytes; 30 s */
    CO_HOOK_N
};
/* The file's key of hook kind k ("before_cycle", ..., "after_cycle",
 * "mtu_probe", "clock_probe", "scratch_probe"). */
const char *co_sim_hook_name(int kind);
/* Placeholders of hook argv elements: the index of s when s is one whole
 * ({host} 0, {uri} 1, {migration_uri} 2, {step} 3, {journal_dir} 4), else
 * -1. The one list the loader checks against and cycle/hook.c expands. */
int co_sim_hook_placeholder(const char *s);
/* The first placeholder that s holds inside a larger string (such as
 * "--host={host}"), or NULL: the loader refuses those. */
const char *co_sim_hook_embedded(const char *s);
/* The placeholders only hooks.mtu_probe may hold, as whole elements: the
 * index of s ({peer} 0, {peer_addr} 1, {mtu} 2, {payload} 3), else -1;
 * cycle/preflight.c expands them. */
int co_sim_probe_placeholder(const char *s);

typedef struct co_sim_hook {
    char **argv;              /* NULL-terminated argv, NULL = not configured; an element
                                 equal to a placeholder ({host}, {uri}, {migration_uri},
                                 {step}, {journal_dir}) is replaced whole (cycle/hook.h) */
    int argc;
    double timeout_ms;        /* "timeout" (default 600 s; reboot/firmware 1800 s) */
} co_sim_hook;

/* What a VM that cannot live-migrate becomes during its host's patch. */
enum co_sim_unmovable {
    CO_UNMOV_SHUTDOWN = 0,    /* shut down, restarted on another host at once */
    CO_UNMOV_AFTER_RETURN,    /* shut down, restarted on its host once it returns */
    CO_UNMOV_LEAVE,           /* its host is left unpatched (reported) */
};

typedef struct co_sim_exec {
    co_sim_hook hook[CO_HOOK_N];
    double return_timeout_ms;   /* a rebooted host must answer within it (600 s) */
    double return_backoff_ms;   /* first wait between probes, doubled to 30 s (1 s) */
    double clock_skew_max_ms;   /* preflight, through hooks.clock_probe (300 s) */
    double scratch_min_bytes;   /* preflight, through hooks.scratch_probe (1 GiB) */
    int fail_hosts_max;         /* failure budget: failed hosts tolerated (0) */
    int fail_vms_over_budget_max; /* VMs over plan.stun_budget tolerated, -1 = any (-1) */
    int unmovable;              /* enum co_sim_unmovable (CO_UNMOV_SHUTDOWN) */
    int validate_vm;            /* validate by migrating one VM in and out (0) */
    int mtu_check;              /* preflight checks the MTU path (1) */
} co_sim_exec;
/* The defaults of the execution section (the values in parentheses above;
 * sim/load.c starts from them). */
void co_sim_exec_defaults(co_sim_exec *e);

typedef struct co_sim_cluster {
    char *source;             /* file name, for messages */
    co_sim_host *hosts;
    int nhosts;
    co_sim_vm *vms;
    int nvms;
    co_sim_uplink *uplinks;
    int nuplinks;
    co_sim_profile *profiles;
    int nprofiles;
    char **domains;           /* failure-domain names */
    int ndomains;
    char **racks;
    int nracks;
    char **groups;            /* anti-affinity group names */
    int ngroups;
    int *group_start;         /* members of group g: group_vms[group_start[g] .. group_start[g+1]) */
    int *group_vms;
    co_sim_plan plan;
    co_sim_exec exec;         /* zeroed defaults above until sim/load.c reads them */
} co_sim_cluster;

/* Read a cluster-and-plan JSON file (format: docs/simulate.md). Returns CO_OK,
 * CO_ENOINPUT (cannot open), CO_EIO (read error) or CO_EDATA, with d naming
 * "FILE:LINE: FIELD.PATH: what is wrong". *out is owned by the caller. */
int co_sim_load_file(const char *path, co_sim_cluster **out, co_diag *d);
/* Same from memory; name is used in messages. */
int co_sim_load_buffer(const char *text, size_t len, const char *name, co_sim_cluster **out,
                       co_diag *d);
/* Check and finish a cluster built in code (bench, tests): builds the
 * anti-affinity index and checks every index and capacity. */
int co_sim_cluster_finish(co_sim_cluster *c, co_diag *d);
void co_sim_cluster_free(co_sim_cluster *c);
/* Apply a concurrency preset by name; CO_OK or CO_EDATA. */
int co_sim_plan_preset(co_sim_plan *p, const char *name);
/* Plan defaults (docs/simulate.md lists them). */
void co_sim_plan_defaults(co_sim_plan *p);

/* ---- one run ---- */

/* A record of the timeline (filled only when asked). */
typedef struct co_sim_span {
    int kind;                 /* 0 = host step, 1 = migration, 2 = VM outage */
    int host;                 /* host (step) or source host */
    int other;                /* step (kind 0), destination (1), -1 */
    int vm;                   /* VM or -1 */
    co_sim_time start_us, end_us;
    double stun_ms;           /* migrations */
    int aborted;              /* migrations */
} co_sim_span;

typedef struct co_sim_run_result {
    double window_ms;         /* cycle start to the last host done */
    double host_hours;        /* sum over hosts of time in maintenance */
    long migrations;          /* live migrations completed */
    long aborts;              /* live migrations aborted (incl. not converging) */
    long cold;                /* VMs shut down and restarted on another host */
    long parked;              /* VMs kept off on their host during its patch */
    long patch_failures;
    long hosts_failed;        /* did not come back after reboot */
    double repair_ms_sum, repair_ms_sumsq; /* over failed hosts */
    long events;
    long violations;          /* invariant checks that failed (check mode) */
} co_sim_run_result;

typedef struct co_sim_run co_sim_run;

/* Allocate the state for runs of c (reusable across runs; one per thread).
 * NULL on allocation failure. */
co_sim_run *co_sim_run_new(const co_sim_cluster *c);
void co_sim_run_free(co_sim_run *r);
/* Check the invariants after every event (slow; for tests): every VM on one
 * valid host, memory and vCPU capacity, anti-affinity. */
void co_sim_run_set_check(co_sim_run *r, int on);
/* Leave slack links with many migrations out of the max-min solves, and
 * skip the solve after ends that leave the rates max-min fair (on by
 * default; docs/simulate.md, "Fleet scale"). The rates are the same
 * max-min fair rates up to the last bit; with it off, the solves are those
 * of issue 6 to the bit (for the digests in tests/sim/test_digest.c and
 * the tolerance test there). */
void co_sim_run_set_split(co_sim_run *r, int on);
/* Split mode only: re-share once per simulated microsecond, after all of
 * its events, rather than after each event (on by default; off, the split
 * mode re-shares after every event as before; docs/simulate.md, "One
 * re-sharing per microsecond"). */
void co_sim_run_set_coalesce(co_sim_run *r, int on);
/* Record the timeline of the next runs (spans kept until the next run). */
void co_sim_run_set_record(co_sim_run *r, int on);
/* Run the cycle once with the RNG stream of (seed, index). CO_OK or CO_ENOMEM. */
int co_sim_run_once(co_sim_run *r, uint64_t seed, uint64_t index, co_sim_run_result *out);
/* After a run: per-VM stun (ms, summed over its live migrations), outage (ms)
 * and live-migration count arrays of nvms entries, owned by r. */
const double *co_sim_run_stun_ms(const co_sim_run *r);
const double *co_sim_run_outage_ms(const co_sim_run *r);
const int *co_sim_run_vm_migrations(const co_sim_run *r);
/* Host of every VM at the end of the run. */
const int *co_sim_run_vm_host(const co_sim_run *r);
/* Recorded spans of the last run. */
const co_sim_span *co_sim_run_spans(const co_sim_run *r, size_t *n);
/* Bytes of run state per VM and per host (bench reports memory per VM). */
size_t co_sim_run_bytes(const co_sim_run *r);
/* Model predictions made, and answered from the cache, since co_sim_run_new. */
void co_sim_run_cache_stats(const co_sim_run *r, long *predictions, long *hits);

/* Where a run's time goes (for bench/bench_sim.c), summed since
 * co_sim_run_set_profile(r, 1). Event kinds: 0 host step ends, 1 migration
 * ends (or aborts), 2 canary soak ends; each includes what it triggers
 * (dispatch, migration starts, re-sharing, re-timing). Wall-clock ns from
 * CLOCK_MONOTONIC, taken only when profiling is on; counters always. */
typedef struct co_sim_prof {
    long events[3];
    double ns[3];
    long starts;              /* migrations started */
    long reshares;            /* max-min solves (one per event that changed flows) */
    long swaps;               /* events that swapped one migration for an equivalent one:
                                 no solve needed (sim/run.c, swap_shortcut) */
    long reshare_flows;       /* flows in those solves, summed */
    long reshare_links;
    double reshare_ns;        /* in the solves (gathering + co_share_solve) */
    long dominant;            /* events re-shared by the dominant-link fast path
                                 (sim/run.c, dominant_shortcut): no solve */
    long split_out;           /* slack links left out of solves, summed (sim/run.c, gather) */
    long split_redo;          /* solves redone because a link left out would have been full */
    long still_fair;          /* events after which the rates were still max-min fair: no solve */
    long level;               /* events re-shared in level mode (sim/run.c, lvl_shortcut) */
    long level_solves, level_flows; /* its component solves, and their migrations summed */
    long level_walks;         /* migrations it offered a new rate (re-timed if beyond the tolerance) */
    long retimes;             /* migrations given a new completion time */
    long model_calls;         /* co_mig_predict calls (cache misses) */
    double model_ns;
} co_sim_prof;
void co_sim_run_set_profile(co_sim_run *r, int on);
void co_sim_run_profile(const co_sim_run *r, co_sim_prof *out);

/* The seed of run `index`: a SplitMix64 mix of (seed, index). */
uint64_t co_sim_run_seed(uint64_t seed, uint64_t index);

/* ---- Monte Carlo (sim/mc.c) ---- */

/* Log-bucketed histogram (mergeable: exact integer counts). Bucket 0 holds
 * values at or below CO_SIM_HIST_LO_MS, bucket b >= 1 covers
 * [lo 1.01^(b-1), lo 1.01^b) ms, the last one everything above (1e10 ms).
 * A quantile is the geometric middle of the bucket holding the nearest-rank
 * value, clamped to the exact min and max: within 0.5 % of the exact
 * nearest-rank quantile above 0.01 ms (1.01^0.5 - 1 = 0.499 %), within
 * 0.01 ms below. Memory does not grow with the samples. */
#define CO_SIM_HIST_RATIO 1.01
#define CO_SIM_HIST_LO_MS 0.01
#define CO_SIM_HIST_BINS 2780 /* 1 + ceil(12 decades / log10(1.01)) + 1 */

typedef struct co_sim_hist {
    int64_t n;
    double min, max;          /* exact; +inf / -inf while empty */
    int64_t bin[CO_SIM_HIST_BINS];
} co_sim_hist;

/* Middle of histogram bucket b, ms. */
double co_sim_hist_mid_ms(int b);
void co_sim_hist_init(co_sim_hist *h);
void co_sim_hist_add(co_sim_hist *h, double ms);
/* Nearest-rank q-quantile (q in (0, 1]) as described above; 0 when empty. */
double co_sim_hist_q(const co_sim_hist *h, double q);

/* Everything the summary is made of, accumulated over any subset of runs
 * and merged exactly: integer counts and sums (per-run figures turned into
 * integers first: microseconds, ms^2), exact min and max, histograms. Merging
 * is associative and commutative, so the summary does not depend on how the
 * runs were split between threads or MPI ranks, nor in which order partial
 * accumulators are merged. One flat block of co_sim_acc_bytes(nvms) bytes
 * (no pointers): it can be sent as it is between processes of one build. */
typedef struct co_sim_acc {
    int64_t bytes, nvms;      /* layout check: merge refuses mismatches */
    int64_t runs;             /* runs accumulated */
    int64_t err;              /* first error (CO_E*, 0 = none) ... */
    int64_t err_part;         /* ... and the lowest part (MPI rank) that had one */
    int64_t events, violations;
    int64_t migrations, aborts, cold, parked, patch_failures, hosts_failed;
    __int128 window_us, host_us, repair_us, repair_ms2; /* exact sums */
    co_sim_hist window, stun, outage;
    int64_t over[];           /* per VM: runs in which it went over the stun budget */
} co_sim_acc;

size_t co_sim_acc_bytes(int nvms);
/* A zeroed accumulator for nvms VMs (free()), NULL on allocation failure. */
co_sim_acc *co_sim_acc_new(int nvms);
/* dst += src. CO_OK, or CO_ESOFTWARE when the layouts differ (nothing merged). */
int co_sim_acc_merge(co_sim_acc *dst, const co_sim_acc *src);

typedef struct co_sim_quant {
    double p50, p90, p99, max, mean;
    long n;
} co_sim_quant;

typedef struct co_sim_summary {
    int runs;
    uint64_t seed;
    int threads;
    /* window */
    co_sim_quant window;      /* quantiles from a co_sim_hist (0.5 %), exact max and mean */
    double window_min_ms;
    int hist_bins;            /* distribution of the window: equal-width bins, each
                                 fine bucket counted at its (clamped) middle */
    double hist_lo_ms, hist_width_ms;
    long hist[20];
    /* stun per VM per run, over VMs that live-migrated at least once */
    co_sim_quant stun;        /* from a co_sim_hist (0.5 %), exact max */
    long stun_hist[CO_SIM_HIST_BINS]; /* that histogram's buckets */
    double stun_budget_ms;
    double over_budget_mean;  /* VMs over the budget, mean per run */
    int *over_budget_runs;    /* per VM: runs in which it went over (nvms) */
    /* outage of VMs that were shut down (passthrough, pinned, cold, stranded) */
    co_sim_quant outage;
    double outage_vms_mean;   /* such VMs per run */
    /* MTTR of hosts that did not come back */
    long mttr_n;
    double mttr_mean_ms, mttr_ci_lo_ms, mttr_ci_hi_ms; /* 95 % t interval */
    /* means per run */
    double host_hours_mean;
    double migrations_mean, aborts_mean, cold_mean, parked_mean;
    double patch_failures_mean, hosts_failed_mean;
    long events;
    long violations;
} co_sim_summary;

typedef void (*co_sim_progress_fn)(void *arg, int done, int total);

typedef struct co_sim_mc_opts {
    int runs;
    uint64_t seed;
    int threads;              /* >= 1 */
    int first, stride;        /* run the indices first, first + stride, ... below runs
                                 (stride 0 = 1): one MPI rank's share */
    int check;                /* invariant checks in every run */
    co_sim_progress_fn progress; /* called from worker threads, may be NULL */
    void *progress_arg;
} co_sim_mc_opts;

/* Run opts->runs runs and reduce them. The result is the same for the same
 * (cluster, runs, seed) whatever the thread count. CO_OK, CO_ENOMEM, CO_EOS.
 * (co_sim_mc_acc, then co_sim_summarize.) */
int co_sim_mc(const co_sim_cluster *c, const co_sim_mc_opts *opts, co_sim_summary *out,
              co_diag *d);
/* Run this part's runs (opts->first, stride) into acc (added to what it
 * holds), across opts->threads threads. CO_OK, CO_ENOMEM, CO_EOS. */
int co_sim_mc_acc(const co_sim_cluster *c, const co_sim_mc_opts *opts, co_sim_acc *acc,
                  co_diag *d);
/* The summary of a merged accumulator that holds all opts->runs runs
 * (opts gives runs, seed, threads). CO_OK, CO_ENOMEM, or the error the
 * accumulator carries (with the part that had it in the message). */
int co_sim_summarize(const co_sim_cluster *c, const co_sim_mc_opts *opts, const co_sim_acc *acc,
                     co_sim_summary *out, co_diag *d);
void co_sim_summary_free(co_sim_summary *s);

#endif
