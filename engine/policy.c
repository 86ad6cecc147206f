/* engine/policy.c: the decision functions of each policy (pure). */
#include "engine/policy.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/migration.h"
#include "model/switchover.h"
#include "util/error.h"

#define GIB 1073741824.0
#define MIB 1048576.0
/* Page size when QEMU has not said (x86's TARGET_PAGE_SIZE). */
#define DEFAULT_PAGE_BYTES 4096

static const char *const pol_names[CO_POL_COUNT] = {"adaptive", "qemu", "nova", "ovirt",
                                                    "kubevirt"};

int co_pol_parse(const char *name)
{
    for (int i = 0; i < CO_POL_COUNT; i++)
        if (name && strcmp(name, pol_names[i]) == 0)
            return i;
    return -1;
}

const char *co_pol_name(int kind)
{
    return kind >= 0 && kind < CO_POL_COUNT ? pol_names[kind] : "?";
}

const char *co_pol_action_name(int kind)
{
    switch (kind) {
    case CO_ACT_DOWNTIME: return "downtime-limit";
    case CO_ACT_THROTTLE: return "throttle";
    case CO_ACT_POSTCOPY: return "postcopy";
    case CO_ACT_PAUSE: return "pause";
    case CO_ACT_ABORT: return "abort";
    case CO_ACT_DIRTYLIMIT: return "dirty-limit";
    }
    return "?";
}

int co_pol_parse_allow(const char *text, unsigned *allow, co_diag *d)
{
    *allow = 0;
    if (text == NULL || strcmp(text, "none") == 0 || text[0] == '\0')
        return CO_OK;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 13 && strncmp(p, "auto-converge", n) == 0)
            *allow |= CO_ALLOW_AUTOCONVERGE;
        else if (n == 8 && strncmp(p, "postcopy", n) == 0)
            *allow |= CO_ALLOW_POSTCOPY;
        else if (n == 5 && strncmp(p, "pause", n) == 0)
            *allow |= CO_ALLOW_PAUSE;
        else if (n == 11 && strncmp(p, "dirty-limit", n) == 0)
            *allow |= CO_ALLOW_DIRTYLIMIT;
        else
            return co_diag_set(d, CO_EUSAGE,
                               "--allow: unknown item '%.*s' in '%s' (expected a comma-separated "
                               "list of auto-converge, dirty-limit, postcopy, pause, or none)",
                               (int)n, p, text);
        if (!e)
            break;
        p = e + 1;
    }
    return CO_OK;
}

static double initial_limit_ms(const co_pol_config *c);

/* QEMU's CPU throttle sleeps a vCPU for p/(1-p) x 10 ms per 10 ms it runs
 * (CPU_THROTTLE_TIMESLICE_NS, softmmu/cpu-throttle.c, QEMU 7.2): at 99% the
 * guest stops for ~1 s at a time, which the guest sees as downtime (407 ms
 * heartbeat gaps were measured before this cap, docs/policies.md, adaptive
 * step 4). Keep each sleep within half of --max-downtime (chosen). */
#define QEMU_THROTTLE_SLICE_MS 10.0
#define THROTTLE_SLEEP_SHARE_OF_MAX 0.5
/* With post-copy to fall back on, its switch needs most of the budget (a
 * post-copy switch on the lab's 400 Mbit/s link: 131-247 ms of heartbeat
 * gap after the throttle's sleep, the first pages faulted behind the send
 * backlog; docs/policies.md "When the throttle does not bite"): each sleep
 * is kept within a tenth of --max-downtime (chosen; 75 % for 300 ms). */
#define THROTTLE_SLEEP_SHARE_POSTCOPY 0.1
/* max-cpu-throttle's range (migrate_params_check, QEMU 7.2). */
#define QEMU_THROTTLE_MIN_PCT 1.0
#define QEMU_THROTTLE_MAX_PCT 99.0
static double throttle_cap_pct(const co_pol_config *c)
{
    int postcopy = (c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready;
    double sleep = c->max_downtime_ms *
                   (postcopy ? THROTTLE_SLEEP_SHARE_POSTCOPY : THROTTLE_SLEEP_SHARE_OF_MAX);
    double p = 100.0 * sleep / (sleep + QEMU_THROTTLE_SLICE_MS);
    return fmax(QEMU_THROTTLE_MIN_PCT, fmin(QEMU_THROTTLE_MAX_PCT, floor(p)));
}

/* The longest sleep QEMU's throttle puts a vCPU to at pct: p/(1-p) of a
 * 10 ms slice (cpu_throttle_thread, softmmu/cpu-throttle.c in QEMU 7.2). A
 * switch that lands during one adds it to the downtime the guest sees. */
static double throttle_sleep_ms(double pct)
{
    double p = fmin(pct, QEMU_THROTTLE_MAX_PCT) / 100.0;
    return p > 0 ? p / (1 - p) * QEMU_THROTTLE_SLICE_MS : 0;
}

void co_pol_init(const co_pol_config *c, co_pol_state *s)
{
    memset(s, 0, sizeof *s);
    s->last_sync = -1;
    s->ceiling_sync = -1;
    s->ramp_sync = -1;
    s->low_remaining = INFINITY;
    s->prev_remaining_at_sync = NAN;
    s->pred_downtime_ms = NAN;
    s->pred_floor_ms = NAN;
    s->pred_k = -1;
    s->limit_ms = initial_limit_ms(c);
    s->armed_sync = -1;
    s->fixed_seen_sync = -1;
    s->bite_base_rate = NAN;
    s->bite_reached_sync = -1;
}

/* ---- schedules of the baselines (docs/policies.md) ---------------------- */

/* Nova's [libvirt] defaults (Nova configuration reference):
 * live_migration_downtime_steps 10, live_migration_downtime_delay 75 s per
 * GiB, live_migration_completion_timeout 800 s per GiB; the data size is
 * floored at 2 GiB (_live_migration_data_gb, nova/virt/libvirt/driver.py). */
#define NOVA_STEPS 10
#define NOVA_DELAY_S_PER_GIB 75.0
#define NOVA_COMPLETION_S_PER_GIB 800.0
#define NOVA_MIN_DATA_GIB 2.0
/* Nova's migration monitor switches to post-copy once a pass after the
 * first shrinks the remaining data by under 10% (should_switch_to_postcopy,
 * nova/virt/libvirt/migration.py); the pass after the first ends at sync 3
 * (sync 1 is QEMU's setup sync). */
#define NOVA_POSTCOPY_SHRINK_RATIO 0.9
#define NOVA_POSTCOPY_FIRST_SYNC 3
static double nova_data_gib(const co_pol_config *c)
{
    double g = c->mem_bytes / GIB;
    return g < NOVA_MIN_DATA_GIB ? NOVA_MIN_DATA_GIB : g;
}
static double nova_step_ms(const co_pol_config *c, int i)
{
    double base = c->max_downtime_ms / NOVA_STEPS;
    double offset = (c->max_downtime_ms - base) / NOVA_STEPS;
    return base + offset * i;
}

/* oVirt "Minimal downtime": initial 100 ms, then by stalled passes. Steps
 * above --max-downtime are dropped: the operator said the guest cannot bear
 * them. vdsm's migration_max_time_per_gib_mem (64 s) also aborts. */
static const struct {
    int stalls;
    double ms;
} ovirt_sched[] = {{1, 150}, {2, 200}, {3, 300}, {4, 400}, {6, 500}};
#define OVIRT_NSCHED (int)(sizeof ovirt_sched / sizeof ovirt_sched[0])
/* Values of oVirt's engine-config MigrationPolicies, "Minimal downtime"
 * (initialItems setDowntime 100; lastItems abort after the schedule), and
 * vdsm.conf's migration_max_time_per_gib_mem (docs/policies.md, Baselines). */
#define OVIRT_INITIAL_MS 100.0
#define OVIRT_ABORT_AFTER_STALLS 7
#define OVIRT_S_PER_GIB 64.0

/* KubeVirt's MigrationConfiguration defaults: completionTimeoutPerGiB 150 s,
 * progressTimeout 150 s (KubeVirt user guide, "Live Migration"). */
#define KUBEVIRT_S_PER_GIB 150.0
#define KUBEVIRT_PROGRESS_S 150.0

/* Adaptive holds downtime-limit this low until the model picks a moment,
 * so QEMU does not switch at an early, expensive pass on its own: 10% of
 * --max-downtime, 1 to 20 ms (chosen; docs/policies.md, adaptive step 1). */
#define HOLD_SHARE_OF_MAX 0.1
#define HOLD_MIN_MS 1.0
#define HOLD_MAX_MS 20.0
static double adaptive_hold_ms(const co_pol_config *c)
{
    return fmax(HOLD_MIN_MS, fmin(c->max_downtime_ms * HOLD_SHARE_OF_MAX, HOLD_MAX_MS));
}

static double initial_limit_ms(const co_pol_config *c)
{
    switch (c->kind) {
    case CO_POL_ADAPTIVE: return adaptive_hold_ms(c);
    case CO_POL_NOVA: return nova_step_ms(c, 0);
    case CO_POL_OVIRT: return fmin(OVIRT_INITIAL_MS, c->max_downtime_ms);
    default: return c->max_downtime_ms;
    }
}

/* Auto-converge before adaptive asks: 1% and +1%, the least QEMU accepts
 * (migrate_params_check, QEMU 7.2). The baselines keep QEMU's defaults,
 * cpu-throttle-initial 20 and -increment 10 (DEFAULT_MIGRATE_CPU_THROTTLE_*,
 * migration/migration.c, QEMU 7.2). */
#define INERT_THROTTLE_PCT 1
/* QEMU applies cpu-throttle-initial (or adds -increment) only at a check
 * at least 1 s after the last, and only when the pages dirtied since
 * exceed throttle-trigger-threshold % of the bytes sent, for the second
 * time (migration_trigger_throttle, migration/ram.c, QEMU 7.2; default
 * 50). On a real link adaptive lowers the threshold so that the bulk pass
 * of a guest that dirties a fair share of what is sent already counts:
 * an early throttle (docs/policies.md, "Time on a slow link") then lands
 * at the next check, ~1 s after the bulk pass, not ~2 s. Until adaptive
 * asks, the throttle stays at the inert 1 %, +1 %. */
#define EARLY_TRIGGER_PCT 25
#define QEMU_THROTTLE_INITIAL_PCT 20
#define QEMU_THROTTLE_INCREMENT_PCT 10

/* Share of the link post-copy's background pages may take (chosen: leaves
 * a fifth for the pages the guest faults on). */
#define POSTCOPY_LINK_SHARE 0.8

static double stop_rate(const co_pol_config *c, double bw);

/* libvirt's ramp starts where the VM's last migration's throttle went
 * (co_pol_ramp_start), held at adaptive's cap. Started two increments
 * below, the lab's hot guest spent ~3.3 s at 73 % with its pending flat,
 * then ~3 s at 83 %: of 25 migrations started at 73 % (bench-evacuate
 * `hot`, 2026-12-03 - 05) none switched at 73 %, 1 at 83 %, 19 at 93 %, 5
 * went on to 99 % (aborted). Started one below, it switched at 93 % in 3 of
 * 3 after ~2.8 s at 83 %; started at 93 %, in 3 of 3 ~1.5 s after the
 * throttle began, the drain 15.2 - 16.1 s against 17.2 - 17.9 (one below)
 * and 19.1 - 21.8 (two below). A guest that needs less this time sleeps
 * more than it must for those seconds; one that needs more is aborted a
 * ramp step sooner (the guard, adaptive_ramp_guard). */
double co_pol_ramp_start(double last_max_pct)
{
    if (!isfinite(last_max_pct))
        return 0;
    return last_max_pct > QEMU_THROTTLE_INITIAL_PCT ? last_max_pct : 0;
}

void co_pol_prestart(const co_pol_config *c, const co_drv_tunables *orig,
                        co_drv_tunables *want)
{
    *want = *orig;
    want->downtime_limit_ms = initial_limit_ms(c);
    if (c->allow & CO_ALLOW_AUTOCONVERGE) {
        want->auto_converge = 1;
        if (c->kind == CO_POL_ADAPTIVE && !c->throttle_fixed) {
            /* Capabilities are fixed once migrate runs (QEMU 7.2), so turn it
             * on now but keep it near-inert (1%, +1%) until the model asks
             * for a throttle through the live cpu-throttle-* parameters. */
            want->cpu_throttle_initial_pct = INERT_THROTTLE_PCT;
            want->cpu_throttle_increment_pct = INERT_THROTTLE_PCT;
            want->max_cpu_throttle_pct = throttle_cap_pct(c);
            if (c->link_known && !c->link_loopback)
                want->throttle_trigger_pct = EARLY_TRIGGER_PCT;
        } else {
            /* baselines use QEMU's own auto-converge defaults; so does
             * adaptive where the ramp cannot be changed once started
             * (libvirt 9.0): a near-inert 1 % + 1 % would leave a guest
             * that needs the throttle at 4-7 % when adaptive gives up
             * (bench-evacuate `hot`, docs/evacuate.md). QEMU throttles
             * only a guest that dirties more than half of what was sent
             * in a pass (throttle-trigger-threshold 50), so a guest that
             * converges anyway is rarely touched. */
            want->cpu_throttle_initial_pct = QEMU_THROTTLE_INITIAL_PCT;
            want->cpu_throttle_increment_pct = QEMU_THROTTLE_INCREMENT_PCT;
            if (c->kind == CO_POL_ADAPTIVE && c->throttle_start_pct > QEMU_THROTTLE_INITIAL_PCT)
                want->cpu_throttle_initial_pct =
                    fmin(c->throttle_start_pct, fmax(QEMU_THROTTLE_INITIAL_PCT, throttle_cap_pct(c)));
        }
    }
    if ((c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready) {
        want->postcopy_ram = 1;
        /* Once in post-copy, each page the guest faults on is sent behind
         * whatever the background pages left queued (the 4 MiB send
         * backlog: ~85 ms at 400 Mbit/s, several faults in a row before the
         * guest runs again; post-copy switches on the lab's shaped link
         * showed 113-400 ms of heartbeat gap). Background pages held under
         * the link's rate keep that queue empty, and QEMU sends a requested
         * page at once, whatever the limit (migration_make_urgent_request
         * wakes the rate-limited migration thread, QEMU 7.2). */
        if (c->kind == CO_POL_ADAPTIVE && c->link_known && !c->link_loopback)
            want->max_postcopy_bandwidth_bytes_per_s = POSTCOPY_LINK_SHARE * stop_rate(c, 0);
        /* and, where QEMU has it, a channel of their own (postcopy-preempt,
         * QEMU 7.1): they then wait only for the link's own queue */
        if (c->kind == CO_POL_ADAPTIVE && orig->postcopy_preempt >= 0)
            want->postcopy_preempt = 1;
    }
}

/* ---- helpers ------------------------------------------------------------- */

static int emit(co_pol_action *out, int max, int *n, int kind, double at, double v, double v2,
                const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static int emit(co_pol_action *out, int max, int *n, int kind, double at, double v, double v2,
                const char *fmt, ...)
{
    if (*n >= max)
        return 0;
    co_pol_action *a = &out[(*n)++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->at_ms = at;
    a->value = v;
    a->value2 = v2;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof a->reason, fmt, ap);
    va_end(ap);
    return 1;
}

static int is_precopy(const co_pol_obs *o)
{
    return o->status == CO_DRV_MIG_ACTIVE || o->status == CO_DRV_MIG_SETUP;
}

/* A pass "stalled" when it left at least 99% of what the one before left
 * (chosen: 1% for pages dirtied while the count was read). */
#define STALL_RATIO 0.99

/* Progress bookkeeping shared by the baselines: the remaining bytes at a
 * sync going below the lowest seen so far. */
static void track_progress(co_pol_state *s, const co_pol_obs *o, int *stalled, double *prev)
{
    *stalled = 0;
    *prev = s->prev_remaining_at_sync;
    if (o->status != CO_DRV_MIG_ACTIVE || !isfinite(o->remaining_bytes))
        return;
    if (o->remaining_bytes < s->low_remaining) {
        s->low_remaining = o->remaining_bytes;
        s->last_progress_ms = o->t_ms;
    }
    if (o->new_sync) {
        if (isfinite(s->prev_remaining_at_sync) &&
            o->pending_at_sync_bytes >= s->prev_remaining_at_sync * STALL_RATIO)
            *stalled = 1;
        s->prev_remaining_at_sync = o->pending_at_sync_bytes;
    }
}

/* downtime-limit is whole ms in QEMU: a change under half of one is none. */
#define LIMIT_SAME_MS 0.5

static int set_limit(co_pol_state *s, const co_pol_obs *o, double ms, co_pol_action *out, int max,
                     int *n, const char *why)
{
    if (isfinite(s->limit_ms) && fabs(ms - s->limit_ms) < LIMIT_SAME_MS)
        return 0;
    s->limit_ms = ms;
    return emit(out, max, n, CO_ACT_DOWNTIME, o->t_ms, ms, 0, "%s", why);
}

static int do_abort(co_pol_state *s, const co_pol_obs *o, co_pol_action *out, int max, int *n,
                    const char *why)
{
    s->aborted = 1;
    return emit(out, max, n, CO_ACT_ABORT, o->t_ms, 0, 0, "%s", why);
}

/* ---- baselines ----------------------------------------------------------- */

/* The baselines' last resort: post-copy when allowed and ready, else abort. */
static void postcopy_or_abort(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                              co_pol_action *out, int max, int *n, const char *to_postcopy,
                              const char *abort_why)
{
    if (s->postcopy) /* asked already; QEMU may still say "active" for a poll */
        return;
    if ((c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready) {
        s->postcopy = 1;
        emit(out, max, n, CO_ACT_POSTCOPY, o->t_ms, 0, 0, "%s", to_postcopy);
    } else {
        do_abort(s, o, out, max, n, abort_why);
    }
}

static int decide_nova(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                       co_pol_action *out, int max)
{
    int n = 0, stalled;
    double prev;
    track_progress(s, o, &stalled, &prev);
    if (!is_precopy(o))
        return 0;
    double gib = nova_data_gib(c);
    double delay_ms = NOVA_DELAY_S_PER_GIB * gib * 1000.0;
    while (s->step < NOVA_STEPS && o->t_ms >= delay_ms * (s->step + 1)) {
        s->step++;
        char why[160];
        snprintf(why, sizeof why, "nova step %d/%d: %.0f s per GiB x %.1f GiB elapsed",
                 s->step, NOVA_STEPS, NOVA_DELAY_S_PER_GIB, gib);
        set_limit(s, o, nova_step_ms(c, s->step), out, max, &n, why);
    }
    /* Nova switches to post-copy once a pass shrinks pending by under 10% */
    if ((c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready && o->new_sync &&
        o->sync_count >= NOVA_POSTCOPY_FIRST_SYNC && isfinite(prev) &&
        o->pending_at_sync_bytes > prev * NOVA_POSTCOPY_SHRINK_RATIO &&
        !s->postcopy) {
        s->postcopy = 1;
        emit(out, max, &n, CO_ACT_POSTCOPY, o->t_ms, 0, 0,
             "nova: pass shrank pending by under 10%%, switch to post-copy");
        return n;
    }
    if (o->t_ms >= NOVA_COMPLETION_S_PER_GIB * gib * 1000.0)
        do_abort(s, o, out, max, &n, "nova: live_migration_completion_timeout (800 s per GiB) exceeded");
    return n;
}

static int decide_ovirt(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                        co_pol_action *out, int max)
{
    int n = 0, stalled;
    double prev;
    track_progress(s, o, &stalled, &prev);
    if (!is_precopy(o))
        return 0;
    if (stalled) {
        s->stalls++;
        while (s->step < OVIRT_NSCHED && s->stalls >= ovirt_sched[s->step].stalls) {
            double ms = ovirt_sched[s->step].ms;
            s->step++;
            if (ms <= c->max_downtime_ms) {
                char why[160];
                snprintf(why, sizeof why, "ovirt: stalling %d pass(es), minimal-downtime schedule",
                         s->stalls);
                set_limit(s, o, ms, out, max, &n, why);
            }
        }
        if (s->stalls >= OVIRT_ABORT_AFTER_STALLS) {
            postcopy_or_abort(c, s, o, out, max, &n,
                              "ovirt: still stalling after the schedule, switch to post-copy",
                              "ovirt: still stalling after the last downtime step");
            return n;
        }
    }
    /* mem_bytes is 0 until QEMU has reported ram.total (query-migrate of a
     * VM that never migrated has no ram section): no per-GiB clock yet. */
    double gib = c->mem_bytes / GIB;
    if (gib > 0 && o->t_ms >= OVIRT_S_PER_GIB * gib * 1000.0)
        do_abort(s, o, out, max, &n, "ovirt: migration_max_time_per_gib_mem (64 s per GiB) exceeded");
    return n;
}

static int decide_kubevirt(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                           co_pol_action *out, int max)
{
    int n = 0, stalled;
    double prev;
    track_progress(s, o, &stalled, &prev);
    if (!is_precopy(o))
        return 0;
    double gib = c->mem_bytes / GIB; /* 0: not known yet (see ovirt) */
    int timeout = gib > 0 && o->t_ms >= KUBEVIRT_S_PER_GIB * gib * 1000.0;
    if (s->paused)
        return n; /* the copy converges on its own */
    int can_postcopy = (c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready;
    if (timeout && !can_postcopy && (c->allow & CO_ALLOW_PAUSE) && c->pause_ready) {
        /* allowWorkloadDisruption without post-copy: pause the guest so the
         * copy finishes, rather than cancel */
        s->paused = 1;
        emit(out, max, &n, CO_ACT_PAUSE, o->t_ms, 0, 0,
             "kubevirt: completionTimeoutPerGiB (150 s per GiB) reached, allowWorkloadDisruption: "
             "pause the guest");
    } else if (timeout) {
        postcopy_or_abort(c, s, o, out, max, &n,
                          "kubevirt: completionTimeoutPerGiB (150 s per GiB) reached, switch to "
                          "post-copy",
                          "kubevirt: completionTimeoutPerGiB (150 s per GiB) exceeded");
    } else if (o->t_ms - s->last_progress_ms >= KUBEVIRT_PROGRESS_S * 1000.0) {
        do_abort(s, o, out, max, &n, "kubevirt: progressTimeout, no progress for 150 s");
    }
    return n;
}

/* ---- adaptive: its constants ---------------------------------------------
 * Where each value comes from is said beside it; "chosen" means no
 * measurement or source fixed it (docs/policies.md, "Constants", lists
 * them all). */

/* dirty-sync-count of the sync that ends the bulk pass: QEMU 7.2 counts its
 * setup sync as 1 (ram_init_bitmaps -> migration_bitmap_sync_precopy), so
 * the first pass over all of RAM ends at 2. */
#define FIRST_PLAN_SYNC 2
/* Bulk pass: judged from this long in (chosen; docs/policies.md, adaptive
 * step 5), and aborted only when it needs this much more than the time to
 * the deadline (chosen: 10% for bandwidth swings). */
#define BULK_CHECK_AFTER_MS 2000.0
#define BULK_OVERRUN_RATIO 1.1
/* Between syncs, plan again at most this often (chosen; docs/policies.md,
 * adaptive step 3: "every 500 ms between"). */
#define REPLAN_EVERY_MS 500.0
/* The plan's budget keeps back the switch itself (this many times
 * --max-downtime) and a poll period (chosen). */
#define BUDGET_SWITCH_DOWNTIMES 2.0
#define BUDGET_POLL_MARGIN_MS 500.0
#define BUDGET_MIN_MS 1.0
/* Which option is "good enough" to take early (chosen; docs/policies.md,
 * adaptive step 3; the runs that showed chasing the last ms doubling the
 * total time were not kept in docs/). */
#define PICK_FLOOR_RATIO 1.5     /* within 1.5x the model's floor */
#define PICK_BEST_RATIO 1.25     /* or within 25% of the best option */
#define PICK_BEST_SLACK_MS 5.0   /* ... but at least 5 ms above it */
#define PICK_UNKNOWN_LINK_SHARE 0.25 /* no --link: any under 1/4 of the max */
/* Share of the modelled stop-and-copy rate the limit's ceiling counts on:
 * loopback stop-and-copy was measured at 0.35x the calibrated thread rate
 * on a loaded 2-core host (docs/policies.md, adaptive step 3; the rate:
 * docs/accuracy.md, "Calibration"); 0.4 with QEMU's bursty bandwidth. */
#define CEIL_STOP_RATE_SHARE 0.4
#define LIMIT_MIN_MS 1.0         /* smallest limit adaptive sets (chosen) */
/* QEMU compares pending with its own bandwidth of its last 100 ms window
 * (BUFFER_DELAY, migration/migration.c in QEMU 7.2), not ours; real runs
 * switched a pass late with the model's 2% margin: aim 30% and 1 ms higher
 * (chosen; those runs are not in docs/). */
#define LIMIT_AIM_RATIO 1.3
#define LIMIT_AIM_PAD_MS 1.0
/* QEMU has not switched this many passes after the predicted one: raise the
 * limit, first by 5 ms, doubling (chosen; docs/policies.md step 3). */
#define BUMP_AFTER_PASSES 2
#define BUMP_FIRST_MS 5.0
/* Change the limit only when the new one differs by more than 1 ms and 5%
 * (chosen: no QMP call for noise). */
#define LIMIT_HYSTERESIS_MS 1.0
#define LIMIT_HYSTERESIS_SHARE 0.05
/* Not converging: act after this many syncs agree (one pass can be an
 * outlier; chosen; docs/policies.md step 4). */
#define NOCONV_SYNCS 2
/* Urgent (act at once) when less than 4 passes and 2 s are left; a pass is
 * counted as at least 100 ms (chosen). */
#define URGENT_PASSES 4.0
#define URGENT_SLACK_MS 2000.0
#define PASS_MIN_MS 100.0
/* Throttle targets start at 20% and rise in 10% steps: QEMU's own
 * cpu-throttle-initial and -increment defaults (migration/migration.c,
 * DEFAULT_MIGRATE_CPU_THROTTLE_INITIAL/INCREMENT, QEMU 7.2); the dirty limit,
 * seen as a throttle, uses the same ladder. */
#define THROTTLE_FIRST_PCT 20.0
#define THROTTLE_STEP_PCT 10.0
/* Strongest dirty limit adaptive asks for, as a throttle percentage
 * (chosen: leaves every vCPU 5% of its dirtying). */
#define DL_MAX_PCT 95.0
/* set-vcpu-dirty-limit takes MB/s and 0 cancels the limit
 * (qmp_set_vcpu_dirty_limit, softmmu/dirtylimit.c, QEMU 7.2). */
#define DL_MIN_MIB_PER_S 1.0
/* A dirty limit is raised after 2 syncs; a throttle step comes only 3 syncs
 * after one (chosen: a limit acts within a pass; docs/policies.md step 4). */
#define DL_RAISE_AFTER_SYNCS 2
#define DL_SHOW_SYNCS 3
/* A throttle ask is given 4 syncs to reach its target before the next
 * (chosen: QEMU raises it only at its own checks, once a sync). */
#define THROTTLE_WAIT_SYNCS 4
/* When the model finds no better throttle, raise the target by 20% (chosen). */
#define THROTTLE_RAISE_PCT 20.0
/* The throttle counts as reached within half a percent (QEMU reports whole
 * percents). */
#define THROTTLE_REACHED_PCT 0.5
/* QEMU's cpu-throttle-increment range is 1..99 (migrate_params_check). */
#define THROTTLE_INC_MIN_PCT 1.0
#define THROTTLE_INC_MAX_PCT 99.0
/* Before post-copy, pause or abort: the last throttle gets 4 syncs (8 while
 * QEMU is still climbing to it), and 3 syncs must agree (chosen). */
#define LAST_SETTLE_SYNCS 4
#define LAST_CLIMB_SYNCS 8
/* throttle_fixed: QEMU's ramp (20 %, +10 %) tops out at max-cpu-throttle,
 * 99 % by default, which libvirt 9.0 cannot change: near it, escalate */
#define FIXED_THROTTLE_TOP_PCT 95
#define LAST_NOCONV_SYNCS 3
/* Does the throttle bite? A guest whose writes are paced by its work (its
 * clients, a timer), not by its CPU, catches up between the throttle's
 * sleeps: bench-policies' uniform-30k-96M wrote 12.0k pages/s at 20 % and
 * 11.0k at 80 % (QEMU's dirty-pages-rate, docs/policies.md "When the
 * throttle does not bite"). Judged once the asked throttle has held for a
 * whole sync and is at least 30 points above where it started (chosen:
 * QEMU's rate is noisy by ~20 % between syncs); it bites when it removed at
 * least half of the share it should (chosen). */
#define BITE_MIN_STEP_PCT 30.0
#define BITE_MIN_SHARE 0.5
/* Early throttle on a real link (docs/policies.md, "Time on a slow link"):
 * considered when waiting for the low-downtime pass would make the
 * migration more than 5% longer than QEMU's default (chosen: the issue's
 * time target is 1.1x, half of it kept for what the model misses); at most
 * 50% (chosen: a vCPU sleeps 10 ms per 10 ms it runs, 10 ms added to the
 * switch); QEMU applies it at its next check, modelled as 1 s on
 * (migration_bitmap_sync checks the throttle at most once a second,
 * migration/ram.c, QEMU 7.2). */
#define EARLY_EXTRA_SHARE 0.05
#define EARLY_MAX_PCT 50.0
#define EARLY_LAND_MS 1000.0

/* ---- adaptive: the model's view ----------------------------------------- */

/* The dirty curve the model uses: the fit when there is one, else a uniform
 * curve over all of RAM at QEMU's dirty-pages-rate (pessimistic: it never
 * saturates below RAM size). Returns 0 if nothing is known yet. */
/* Undoing a throttle divides by the share it leaves; past 99% that is noise
 * (QEMU's throttle stops at 99%, migrate_params_check). */
#define KEEP_MIN_SHARE 0.01

static int obs_curve(const co_pol_obs *o, co_dirty *d)
{
    if (o->have_curve) {
        *d = o->curve;
        return 1;
    }
    if (isfinite(o->dirty_rate_pages_per_s) && o->mem_bytes > 0) {
        /* QEMU reports the rate throttled: undo it for the model */
        double keep = 1.0 - o->throttle_pct / 100.0;
        double r = o->dirty_rate_pages_per_s / (keep > KEEP_MIN_SHARE ? keep : KEEP_MIN_SHARE);
        return co_dirty_uniform(d, o->mem_bytes / o->page_size_bytes, r) == CO_OK;
    }
    return 0;
}

/* The link as the model sees it. Unknown link: the stop-and-copy is
 * assumed no faster than the measured pre-copy stream (what QEMU's own
 * threshold assumes), so no switch is ever predicted cheaper than it is. */
/* A line rate no link reaches: leaves the bound to the other terms. */
#define LINE_RATE_UNBOUNDED_BYTES_PER_S 1e12

static void policy_link(const co_pol_config *c, double bw, co_link *l)
{
    co_link_defaults(l);
    l->channels = c->channels > 0 ? c->channels : 1;
    if (!c->link_known) {
        l->ethernet = 0;
        l->mtu = CO_LINK_MTU_MAX;
        l->line_rate_bytes_per_s = LINE_RATE_UNBOUNDED_BYTES_PER_S;
        l->channels = 1;
        l->channel_cap_bytes_per_s = bw;
    } else if (c->link_loopback) {
        /* no wire: the migration threads bound it (docs/accuracy.md) */
        l->ethernet = 0;
        l->mtu = CO_LINK_MTU_MAX;
        l->line_rate_bytes_per_s = LINE_RATE_UNBOUNDED_BYTES_PER_S;
    } else {
        l->line_rate_bytes_per_s = c->link_rate_bytes_per_s;
        if (c->link_mtu > 0)
            l->mtu = c->link_mtu;
    }
    l->max_bandwidth_bytes_per_s = bw;
}

/* Stream bytes/s of the stop-and-copy; never below the measured stream. */
static double stop_rate(const co_pol_config *c, double bw)
{
    co_link l;
    co_link_eval ev;
    policy_link(c, bw, &l);
    if (co_link_evaluate(&l, &ev) != CO_OK)
        return bw;
    return fmax(ev.stop_bytes_per_s, bw);
}

/* On a real link the stop-and-copy queues behind what the pre-copy left in
 * the sender's TCP socket: when the link is the bottleneck Linux grows the
 * send buffer up to net.ipv4.tcp_wmem[2] (4 MiB by default), and the
 * destination resumes only after that backlog has crossed too. QEMU's own
 * downtime figure stops when its last write returns, before (measured on
 * the lab's shaped link, 400 Mbit/s: heartbeat 55-115 ms above QEMU's
 * downtime on an idle guest; docs/policies.md "On a shaped link"). No
 * backlog on loopback (it drains at memory speed) or with the link unknown
 * (the stop-and-copy is already assumed at the slow pre-copy rate). */
#define SEND_BACKLOG_BYTES (4.0 * MIB)

/* Time the send backlog takes to cross the link after the stop. */
static double backlog_ms(const co_pol_config *c)
{
    if (!c->link_known || c->link_loopback)
        return 0;
    double r = stop_rate(c, 0); /* the link's own payload rate */
    return r > 0 && isfinite(r) ? SEND_BACKLOG_BYTES / r * 1000.0 : 0;
}

/* Fixed part of the downtime: configured, else the model's calibrated one;
 * plus the send backlog on a real link. */
static double switch_cost_ms(const co_pol_config *c)
{
    double base = c->switchover_cost_ms;
    if (!(base > 0)) {
        co_mig_params p;
        co_mig_defaults(&p);
        base = p.switchover_cost_ms;
    }
    return base + backlog_ms(c);
}

static void model_params(const co_pol_config *c, const co_pol_obs *o, const co_dirty *d,
                         co_mig_params *p)
{
    co_mig_defaults(p);
    p->mem_bytes = o->mem_bytes > 0 ? o->mem_bytes : c->mem_bytes;
    p->page_size_bytes = o->page_size_bytes > 0 ? o->page_size_bytes : DEFAULT_PAGE_BYTES;
    p->dirty = *d;
    p->switchover_cost_ms = switch_cost_ms(c);
    policy_link(c, o->bandwidth_bytes_per_s, &p->link);
}

static int plan_at(const co_pol_config *c, const co_pol_obs *o, const co_dirty *d,
                   double throttle, double budget_ms, co_switch_plan *plan)
{
    co_mig_params p;
    model_params(c, o, d, &p);
    co_switch_state st = {
        .pending_bytes = o->pending_at_sync_bytes,
        .since_sync_ms = o->since_sync_ms,
        .elapsed_ms = o->t_ms,
        .bandwidth_bytes_per_s = o->bandwidth_bytes_per_s,
        .stop_bandwidth_bytes_per_s = stop_rate(c, o->bandwidth_bytes_per_s),
        .throttle_pct = throttle,
    };
    /* between syncs, what is pending now is the better estimate */
    if (isfinite(o->remaining_bytes) && o->remaining_bytes > 0 && o->since_sync_ms > 0)
        st.pending_bytes = o->remaining_bytes;
    if (throttle != o->throttle_pct)
        st.since_sync_ms = 0;
    return co_switch_plan_make(&p, &st, CO_SWITCH_MAX_K, c->max_downtime_ms, budget_ms, plan);
}

/* The least throttle from `from` up in THROTTLE_STEP_PCT steps (below cap) at which the
 * model finds a switch within budget; cap if none. */
static double least_throttle(const co_pol_config *c, const co_pol_obs *o, const co_dirty *d,
                             double from, double cap, double budget)
{
    for (double p = from; p < cap; p += THROTTLE_STEP_PCT) {
        co_switch_plan tp;
        if (plan_at(c, o, d, p, budget, &tp) == CO_OK && tp.best >= 0)
            return p;
    }
    return cap;
}

/* ---- adaptive: its steps ------------------------------------------------- */

/* A step of the escalation that does not apply passes to the next. */
#define STEP_NEXT (-1)

/* Bulk pass still running: only check that it can end in time, and abort
 * at once when it cannot, rather than at the deadline. */
static int adaptive_check_bulk(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                               double left_ms, double bw, co_pol_action *out, int max)
{
    int n = 0;
    double bulk_left_ms = o->remaining_bytes / bw * 1000.0;
    /* a stream far below a known link shares it with others (an evacuation:
     * make bench-evacuate saw a VM aborted at 0.6 MB/s 2 s after its set-up,
     * while the migrations beside it ended): it gets more when they end, so
     * only a bulk pass that cannot end in time even at the link's rate is
     * given up this early; the deadline still holds */
    if (c->link_known && !c->link_loopback && c->link_rate_bytes_per_s > 4 * bw)
        bulk_left_ms = o->remaining_bytes / c->link_rate_bytes_per_s * 1000.0;
    if (o->t_ms >= BULK_CHECK_AFTER_MS && bulk_left_ms > left_ms * BULK_OVERRUN_RATIO) {
        char why[240];
        snprintf(why, sizeof why,
                 "will not finish in time: the first pass alone needs %.1f s more at %.0f MB/s, "
                 "deadline in %.1f s",
                 bulk_left_ms / 1000, bw / 1e6, left_ms / 1000);
        do_abort(s, o, out, max, &n, why);
    }
    return n;
}

/* Time the plan may use: the deadline less the switch and a poll period. */
static double adaptive_budget_ms(const co_pol_config *c, double left_ms)
{
    double budget = left_ms - BUDGET_SWITCH_DOWNTIMES * c->max_downtime_ms - BUDGET_POLL_MARGIN_MS;
    if (budget < BUDGET_MIN_MS)
        budget = BUDGET_MIN_MS;
    return budget;
}

/* Each pass costs time and data: the earliest option close enough to the
 * best (or to the floor) beats waiting for the best. */
static int adaptive_pick(const co_pol_config *c, const co_switch_plan *plan)
{
    /* The ratios apply to what the choice of pass changes, not to the send
     * backlog every option pays alike (on a 400 Mbit/s link it is ~85 ms:
     * 1.5x a floor holding it would accept ~45 ms more copy than on
     * loopback, where the ratios were chosen). */
    double fixed = backlog_ms(c);
    double best_dt = plan->opt[plan->best].downtime_ms - fixed;
    double good = fmax(best_dt * PICK_BEST_RATIO, best_dt + PICK_BEST_SLACK_MS);
    if (isfinite(plan->floor_ms))
        good = fmax(good, (plan->floor_ms - fixed) * PICK_FLOOR_RATIO);
    good += fixed;
    /* without a known link, options differ by what the capped stream moves */
    if (!c->link_known)
        good = fmax(good, c->max_downtime_ms * PICK_UNKNOWN_LINK_SHARE);
    for (int k = 0; k < plan->best; k++)
        if (plan->opt[k].downtime_ms <= fmin(good, c->max_downtime_ms))
            return k;
    return plan->best;
}

/* Never a limit whose switch would cost more than --max-downtime: QEMU's
 * limit is in pre-copy bytes (pending < bandwidth x limit) but the
 * stop-and-copy runs at the link rate, so the ceiling scales by their
 * ratio, with most of it kept in hand. */
static double adaptive_ceiling_ms(const co_pol_config *c, double bw)
{
    double cost = switch_cost_ms(c);
    double scale = stop_rate(c, bw) / bw;
    return fmax((c->max_downtime_ms - cost) * fmax(1, CEIL_STOP_RATE_SHARE * scale), LIMIT_MIN_MS);
}

/* The lowest pending QEMU measured at the last 4 syncs (INFINITY: none). */
static double recent_low_pending(const co_pol_state *s)
{
    double low = INFINITY;
    for (int i = 0; i < s->recent_n && i < 4; i++)
        low = fmin(low, s->recent_pend[i]);
    return low;
}

/* The measured raise is held to a switch costing at most this many times
 * the chosen option's predicted downtime (chosen: a migration still
 * converging, only slower than planned, is not sent to the ceiling). */
#define BUMP_MEASURED_MAX_RATIO 1.5

/* QEMU switches at the first sync whose pending gets below the limit. If it
 * has not switched a few passes after the predicted one, the curve is off
 * (e.g. a few pages dirtied every pass keep pending just above a tiny
 * limit): raise the extra limit step by step, and at least to where QEMU
 * would have switched at the lowest pending of the last syncs: passes do
 * not get shorter than QEMU's bitmap sync and our polls (35-70 ms on the
 * lab's TCG guest), and what a guest dirties in one keeps pending above a
 * limit the curve alone asks for (bench-policies uniform-10k-64M: 0.6-2 MB
 * at 47 MB/s against limits of 15-22 ms for 40 passes, then raises of 5,
 * 10, ... 80 ms; docs/policies.md adaptive, step 3). Bounded by the ceiling
 * as every limit. Returns 1 when raised now. */
static int adaptive_bump(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                         const co_switch_option *b, double lim, double bw)
{
    int bumped = 0;
    if (s->armed_sync >= 0 && o->new_sync && o->sync_count > s->armed_sync + BUMP_AFTER_PASSES) {
        s->bump_ms = fmax(s->bump_ms * 2, BUMP_FIRST_MS);
        double low = recent_low_pending(s);
        if (isfinite(low) && bw > 0) {
            double meas = low / bw * 1000.0 * LIMIT_AIM_RATIO + LIMIT_AIM_PAD_MS;
            double cap = (BUMP_MEASURED_MAX_RATIO * b->downtime_ms - switch_cost_ms(c)) *
                         stop_rate(c, bw) / bw;
            s->bump_ms = fmax(s->bump_ms, fmin(meas, cap) - lim);
        }
        s->armed_sync = -1;
        bumped = 1;
    }
    /* the earliest sync at which any plan so far expected the switch */
    int64_t expect = o->sync_count + b->k;
    if (s->armed_sync < 0 || expect < s->armed_sync)
        s->armed_sync = expect;
    return bumped;
}

/* Where QEMU's own test with downtime-limit at --max-downtime would switch
 * (pending < bandwidth x limit: QEMU's default policy): the earliest
 * option whose limit is within it, -1 if none. */
static int first_qemu_switch(const co_pol_config *c, const co_switch_plan *plan)
{
    for (int k = 0; k < plan->n; k++)
        if (plan->opt[k].downtime_limit_ms <= c->max_downtime_ms)
            return k;
    return -1;
}

/* Where adaptive throttles early: a real link, the throttle asked live
 * (not libvirt's fixed ramp), and no dirty limit to use first (it acts at
 * once, without QEMU's check). */
static int early_throttle_ok(const co_pol_config *c)
{
    return (c->allow & CO_ALLOW_AUTOCONVERGE) && !c->throttle_fixed && c->link_known &&
           !c->link_loopback && !((c->allow & CO_ALLOW_DIRTYLIMIT) && c->dirty_limit_ready);
}

/* A switch fits, but on a slow real link the passes are long: with the
 * guest dirtying close to the link rate each pass shrinks what is left only
 * by the ratio of the two, and the switch near the floor that adaptive waits
 * for comes many passes after QEMU's default would have switched
 * (docs/policies.md, "Time on a slow link"). A short, moderate throttle
 * cuts the ratio, so the same low downtime comes in QEMU's time. Asked
 * once, at a sync, where the throttle can be asked, when the wait would
 * make the migration more than EARLY_EXTRA_SHARE longer than QEMU's: the
 * least throttle up to EARLY_MAX_PCT whose switch is as low (within the
 * pick's tolerance, the throttle's sleep counted) and comes no later than
 * QEMU's, else no later than QEMU's plus that share. */
static int adaptive_early_throttle(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                                   const co_dirty *d, const co_switch_plan *plan, double budget,
                                   co_pol_action *out, int max)
{
    if (!early_throttle_ok(c) || s->throttle_target > 0 || s->dl_pct > 0 || !o->new_sync)
        return 0;
    int q = first_qemu_switch(c, plan);
    if (q < 0)
        return 0;
    const co_switch_option *f = &plan->opt[adaptive_pick(c, plan)];
    double soon_ms = plan->opt[q].wait_ms;
    double cap_ms = soon_ms + EARLY_EXTRA_SHARE * (o->t_ms + soon_ms);
    if (f->wait_ms <= cap_ms)
        return 0;
    double want_ms = fmax(f->downtime_ms * PICK_BEST_RATIO, f->downtime_ms + PICK_BEST_SLACK_MS);
    /* QEMU applies the throttle at its next check, at least EARLY_LAND_MS
     * away: until then the passes go on as planned at the current throttle */
    int j = 0;
    while (j + 1 < plan->n && plan->opt[j].wait_ms < EARLY_LAND_MS)
        j++;
    double land_ms = plan->opt[j].wait_ms;
    co_pol_obs lo = *o;
    lo.t_ms += land_ms;
    lo.pending_at_sync_bytes = lo.remaining_bytes = plan->opt[j].pending_bytes;
    lo.since_sync_ms = 0;
    double top = fmin(EARLY_MAX_PCT, throttle_cap_pct(c));
    double pick_p = -1, pick_wait = 0, pick_dt = 0;
    for (double p = fmax(THROTTLE_FIRST_PCT, o->throttle_pct + THROTTLE_STEP_PCT); p <= top;
         p += THROTTLE_STEP_PCT) {
        co_switch_plan tp;
        if (plan_at(c, &lo, d, p, budget - land_ms, &tp) != CO_OK || tp.best < 0)
            continue;
        const co_switch_option *e = &tp.opt[adaptive_pick(c, &tp)];
        double wait_ms = land_ms + e->wait_ms;
        double dt_ms = e->downtime_ms + throttle_sleep_ms(p);
        if (wait_ms > cap_ms || dt_ms > want_ms)
            continue;
        if (pick_p < 0 || (pick_wait > soon_ms && wait_ms <= soon_ms)) {
            pick_p = p;
            pick_wait = wait_ms;
            pick_dt = dt_ms;
        }
        if (wait_ms <= soon_ms)
            break;
    }
    if (pick_p < 0)
        return 0;
    int n = 0;
    double inc = fmax(THROTTLE_INC_MIN_PCT, fmin(THROTTLE_INC_MAX_PCT, pick_p - o->throttle_pct));
    s->throttle_target = pick_p;
    s->throttle_sync = o->sync_count;
    s->early_pct = pick_p;
    emit(out, max, &n, CO_ACT_THROTTLE, o->t_ms, pick_p, inc,
         "slow link: the switch near the floor (%.0f ms) comes %.1f s after QEMU's own would; "
         "throttle the guest to %.0f%%: %.0f ms in %.1f s",
         f->downtime_ms, (f->wait_ms - soon_ms) / 1000, pick_p, pick_dt, pick_wait / 1000);
    return n;
}

/* The early throttle is meant to stay where it landed: QEMU adds the
 * increment (the step that got it there) at each later check that finds
 * the guest still dirtying, so once reached, put the increment back to the
 * inert 1 % unless the escalation has asked for more since. */
static int adaptive_early_hold(co_pol_state *s, const co_pol_obs *o, co_pol_action *out, int max)
{
    int n = 0;
    if (s->early_pct > 0 && !s->early_held && s->throttle_target <= s->early_pct &&
        o->throttle_pct >= s->early_pct - THROTTLE_REACHED_PCT) {
        s->early_held = 1;
        emit(out, max, &n, CO_ACT_THROTTLE, o->t_ms, s->early_pct, INERT_THROTTLE_PCT,
             "slow link: the early throttle is at %.0f%%; QEMU's later checks add %d%%, not more",
             o->throttle_pct, INERT_THROTTLE_PCT);
    }
    return n;
}

/* A switch fits: set downtime-limit so that QEMU takes it at the chosen pass. */
static int adaptive_arm(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                        const co_switch_plan *plan, double bw, co_pol_action *out, int max)
{
    int n = 0;
    const co_switch_option *b = &plan->opt[adaptive_pick(c, plan)];
    s->noconv = 0;
    s->pred_downtime_ms = b->downtime_ms;
    s->pred_k = b->k;
    double ceil_ms = adaptive_ceiling_ms(c, bw);
    double lim = fmin(b->downtime_limit_ms * LIMIT_AIM_RATIO + LIMIT_AIM_PAD_MS, ceil_ms);
    int bumped = adaptive_bump(c, s, o, b, lim, bw);
    double want = fmin(lim + s->bump_ms, ceil_ms);
    if (isfinite(s->limit_ms) &&
        !(fabs(want - s->limit_ms) > fmax(LIMIT_HYSTERESIS_MS, LIMIT_HYSTERESIS_SHARE * s->limit_ms)))
        return n;
    char why[240];
    if (b->k > 0)
        snprintf(why, sizeof why,
                 "switch after %d more pass(es): predicted downtime %.0f ms (floor %.0f ms, "
                 "max %.0f ms) in %.1f s",
                 b->k, b->downtime_ms, plan->floor_ms, c->max_downtime_ms, b->wait_ms / 1000);
    else
        snprintf(why, sizeof why,
                 "switch at the next sync: predicted downtime %.0f ms (floor %.0f ms, max %.0f ms) "
                 "in %.1f s",
                 b->downtime_ms, plan->floor_ms, c->max_downtime_ms, b->wait_ms / 1000);
    if (bumped) {
        size_t l = strlen(why);
        snprintf(why + l, sizeof why - l, "; +%.0f ms: QEMU did not switch when predicted",
                 s->bump_ms);
    }
    set_limit(s, o, want, out, max, &n, why);
    return n;
}

/* Escalation step 1, a per-vCPU dirty limit where the guest has a dirty
 * ring: it slows only the vCPUs that dirty memory, in small steps, where
 * auto-converge stops the whole guest for up to p/(1-p) x 10 ms at a time.
 * The model sees it as the throttle that leaves the same dirty rate. */
static int adaptive_dirty_limit(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                                const co_dirty *d, double budget, int urgent, const char *base,
                                co_pol_action *out, int max)
{
    if (!(c->allow & CO_ALLOW_DIRTYLIMIT) || !c->dirty_limit_ready || s->dl_pct >= DL_MAX_PCT)
        return STEP_NEXT;
    if (s->dl_pct > 0 && o->sync_count - s->throttle_sync < DL_RAISE_AFTER_SYNCS && !urgent)
        return 0;
    int n = 0;
    double target = least_throttle(c, o, d, fmax(THROTTLE_FIRST_PCT, s->dl_pct + THROTTLE_STEP_PCT),
                                   DL_MAX_PCT, budget);
    double r0 = co_dirty_rate0(d); /* unthrottled pages/s */
    double mib = fmax(DL_MIN_MIB_PER_S, r0 * (1 - target / 100) * o->page_size_bytes / MIB /
                                            (c->vcpus > 0 ? c->vcpus : 1));
    s->dl_pct = target;
    s->throttle_sync = o->sync_count;
    s->noconv = 0;
    emit(out, max, &n, CO_ACT_DIRTYLIMIT, o->t_ms, mib, target,
         "%s; limit each vCPU's dirtying to %.0f MiB/s (as a %.0f%% throttle)", base, mib, target);
    return n;
}

/* Escalation step 2, auto-converge: the least throttle at which a switch
 * fits, while it has room and the last ask has had time to act. */
static int adaptive_throttle(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                             const co_dirty *d, double budget, int urgent, const char *base,
                             co_pol_action *out, int max)
{
    double cap = throttle_cap_pct(c);
    if (!(c->allow & CO_ALLOW_AUTOCONVERGE) || s->throttle_target >= cap)
        return STEP_NEXT;
    if (c->throttle_fixed) {
        /* QEMU raises its throttle at its own checks, by the increment set
         * at the start; nothing to ask. Wait while it climbs: escalate past
         * it once it is near QEMU's maximum or has not risen for a while. */
        if (s->fixed_seen_sync < 0 || o->throttle_pct > s->fixed_seen_pct + 0.5) {
            s->fixed_seen_pct = o->throttle_pct;
            s->fixed_seen_sync = o->sync_count;
        }
        if (urgent || o->throttle_pct >= FIXED_THROTTLE_TOP_PCT ||
            o->sync_count - s->fixed_seen_sync >= LAST_CLIMB_SYNCS)
            return STEP_NEXT;
        return 0;
    }
    int waiting = s->throttle_target > 0 &&
                  o->throttle_pct < s->throttle_target - THROTTLE_REACHED_PCT &&
                  o->sync_count - s->throttle_sync < THROTTLE_WAIT_SYNCS;
    if (waiting && !urgent)
        return 0;
    int n = 0;
    double target = least_throttle(
        c, o, d, fmax(THROTTLE_FIRST_PCT, o->throttle_pct + THROTTLE_STEP_PCT), cap, budget);
    if (target <= s->throttle_target)
        target = fmin(cap, s->throttle_target + THROTTLE_RAISE_PCT);
    if (!isfinite(s->bite_base_rate) && isfinite(o->dirty_rate_pages_per_s) &&
        o->dirty_rate_pages_per_s > 0) {
        s->bite_base_rate = o->dirty_rate_pages_per_s;
        s->bite_base_pct = o->throttle_pct;
    }
    /* QEMU's next step from the current throttle lands on the target */
    double inc = fmax(THROTTLE_INC_MIN_PCT, fmin(THROTTLE_INC_MAX_PCT, target - o->throttle_pct));
    s->throttle_target = target;
    s->throttle_sync = o->sync_count;
    s->noconv = 0;
    emit(out, max, &n, CO_ACT_THROTTLE, o->t_ms, target, inc, "%s; throttle the guest to %.0f%%",
         base, target);
    return n;
}

/* 1 when the escalation throttle, held a whole sync, removed less than
 * BITE_MIN_SHARE of the writes it should have: QEMU's dirty pages/s now
 * against when it was asked. Only judged with post-copy to go to (without
 * it a higher throttle is the only hope left). */
static int throttle_misses(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                           double *kept_share)
{
    if (!((c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready) || !isfinite(s->bite_base_rate) ||
        s->throttle_target <= 0 || !o->new_sync)
        return 0;
    if (o->throttle_pct < s->throttle_target - THROTTLE_REACHED_PCT)
        return 0;
    if (s->bite_reached_sync < 0) {
        s->bite_reached_sync = o->sync_count; /* its rate window began before it */
        return 0;
    }
    if (o->sync_count <= s->bite_reached_sync ||
        o->throttle_pct < s->bite_base_pct + BITE_MIN_STEP_PCT ||
        !isfinite(o->dirty_rate_pages_per_s))
        return 0;
    double expect = (1 - o->throttle_pct / 100) / fmax(KEEP_MIN_SHARE, 1 - s->bite_base_pct / 100);
    double seen = o->dirty_rate_pages_per_s / s->bite_base_rate;
    *kept_share = seen;
    return 1 - seen < BITE_MIN_SHARE * (1 - expect);
}

/* The last resorts short of an abort, in the cheaper order, where allowed
 * and ready: post-copy, else pause. 1 when one was emitted (why leads its
 * reason). */
static int postcopy_or_pause(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                             double bw, const char *why, co_pol_action *out, int max, int *n)
{
    if ((c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready) {
        s->postcopy = 1;
        emit(out, max, n, CO_ACT_POSTCOPY, o->t_ms, 0, 0, "%s; switch to post-copy", why);
        return 1;
    }
    if ((c->allow & CO_ALLOW_PAUSE) && c->pause_ready) {
        s->paused = 1;
        emit(out, max, n, CO_ACT_PAUSE, o->t_ms, 0, 0,
             "%s; pause the guest so the copy converges (expected downtime %.0f ms)", why,
             o->remaining_bytes / bw * 1000 + switch_cost_ms(c));
        return 1;
    }
    return 0;
}

/* Escalation's last steps, costlier: post-copy, pause, else abort. Only
 * once the last throttle had time to act and several syncs agree, unless
 * time is short. */
static int adaptive_last_resort(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                                double bw, int urgent, const char *base, co_pol_action *out, int max)
{
    int n = 0;
    int64_t since = o->sync_count - s->throttle_sync;
    /* QEMU raises the throttle only at its own checks: let it climb */
    if (!urgent && s->throttle_target > 0 &&
        (since < LAST_SETTLE_SYNCS ||
         (o->throttle_pct < s->throttle_target - THROTTLE_REACHED_PCT && since < LAST_CLIMB_SYNCS)))
        return 0;
    if (!urgent && s->noconv < LAST_NOCONV_SYNCS)
        return 0;
    /* in a drain the link is shared: when the others end, this one gets
     * all of it and may converge as it is (bench-forecast: VMs aborted at
     * 13-14 MB/s of a 200 Mbit/s link beside another migration; the
     * deadline still bounds the wait) */
    if (!urgent && c->link_peers > 0)
        return 0;
    if (postcopy_or_pause(c, s, o, bw, base, out, max, &n))
        return n;
    /* Before giving up: the model may be wrong at the throttle cap (it
     * undoes QEMU's throttled dirty rate by the share left, x14 at 93%,
     * which over-states a guest whose writes do not scale with its CPU
     * time; docs/policies.md "On a shaped link"). Let QEMU's own test,
     * pending < bandwidth x limit, decide at the highest limit whose
     * switch stays within --max-downtime with the throttle's last sleep
     * counted, and abort only if it has not switched a few syncs later. */
    if (s->ceiling_sync < 0 && !urgent) {
        double lim = adaptive_ceiling_ms(c, bw) - throttle_sleep_ms(o->throttle_pct);
        if (lim >= LIMIT_MIN_MS) {
            s->ceiling_sync = o->sync_count;
            s->noconv = 0;
            char why[320];
            snprintf(why, sizeof why,
                     "%s; nothing left to escalate: let QEMU switch when pending fits the budget "
                     "(limit %.0f ms, measured, not modelled)",
                     base, lim);
            set_limit(s, o, lim, out, max, &n, why);
            if (n > 0)
                return n;
        }
    }
    if (!urgent && s->ceiling_sync >= 0 && o->sync_count - s->ceiling_sync < LAST_NOCONV_SYNCS)
        return 0;
    char why[320];
    snprintf(why, sizeof why,
             "%s; nothing allowed helps (--allow auto-converge,dirty-limit,postcopy,pause)", base);
    do_abort(s, o, out, max, &n, why);
    return n;
}

/* libvirt's fixed ramp (throttle_fixed): QEMU raises its throttle at its
 * own checks, by the increment set at the start, whatever adaptive plans,
 * up to max-cpu-throttle, 99 % (which libvirt 9.0 cannot lower): a 990 ms
 * sleep per 10 ms of run, far past the budget (bench-evacuate `hot`: a
 * paced guest sharing the link rode the ramp to 99 % and showed a 1080 ms
 * heartbeat gap for QEMU's 78 ms of downtime). Once QEMU's next step would
 * pass the cap, switch as soon as pending fits the budget (the limit at the
 * ceiling less the throttle's sleep); once past the cap, the last resort at
 * once: post-copy, pause, else abort (the guest stalls while it waits, so
 * not even for the link's other migrations; evacuate sends a VM aborted
 * beside others again alone). STEP_NEXT when the ramp is below that. */
static int adaptive_ramp_guard(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                               double bw, co_pol_action *out, int max)
{
    if (!c->throttle_fixed || !(c->allow & CO_ALLOW_AUTOCONVERGE) || !(o->throttle_pct > 0))
        return STEP_NEXT;
    double cap = throttle_cap_pct(c);
    double inc = QEMU_THROTTLE_INCREMENT_PCT; /* what co_pol_prestart gave libvirt */
    double next = fmin(o->throttle_pct + inc, QEMU_THROTTLE_MAX_PCT);
    if (next <= cap + THROTTLE_REACHED_PCT)
        return STEP_NEXT;
    int n = 0;
    char why[320];
    if (o->throttle_pct <= cap + THROTTLE_REACHED_PCT) {
        if (s->ramp_sync >= 0)
            return 0; /* armed: QEMU's own test decides until the ramp moves */
        double lim = adaptive_ceiling_ms(c, bw) - throttle_sleep_ms(o->throttle_pct);
        if (lim < LIMIT_MIN_MS)
            lim = LIMIT_MIN_MS;
        s->ramp_sync = o->sync_count;
        snprintf(why, sizeof why,
                 "QEMU's throttle ramp (%.0f%%, +%.0f%% at its next check) is about to pass the "
                 "cap of %.0f%% (a sleep over half the budget) and libvirt cannot hold it: "
                 "switch as soon as pending fits (limit %.0f ms)",
                 o->throttle_pct, inc, cap, lim);
        set_limit(s, o, lim, out, max, &n, why);
        return n;
    }
    /* the cap's share of the budget (throttle_cap_pct), so that a 57 ms
     * sleep past a post-copy cap does not read as over a 300 ms budget */
    int pc = (c->allow & CO_ALLOW_POSTCOPY) && c->postcopy_ready;
    double share = pc ? THROTTLE_SLEEP_SHARE_POSTCOPY : THROTTLE_SLEEP_SHARE_OF_MAX;
    snprintf(why, sizeof why,
             "QEMU's throttle ramp reached %.0f%%, past the cap of %.0f%%: the guest sleeps "
             "%.0f ms at a time, over the %.0f ms the cap allows (%s of the %.0f ms budget%s)",
             o->throttle_pct, cap, throttle_sleep_ms(o->throttle_pct), c->max_downtime_ms * share,
             pc ? "a tenth" : "half", c->max_downtime_ms, pc ? ", post-copy to fall back on" : "");
    if (postcopy_or_pause(c, s, o, bw, why, out, max, &n))
        return n;
    size_t l = strlen(why);
    snprintf(why + l, sizeof why - l, "; nothing allowed helps (--allow postcopy,pause)");
    do_abort(s, o, out, max, &n, why);
    return n;
}

/* No switch fits the budget at this throttle: escalate in the cheapest
 * allowed order, once two syncs agree (at once when the deadline is near). */
static int adaptive_escalate(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                             const co_dirty *d, const co_switch_plan *plan, double budget,
                             double left_ms, double bw, co_pol_action *out, int max)
{
    s->pred_k = -1;
    s->pred_downtime_ms = plan->opt[plan->n - 1].downtime_ms;
    if (o->new_sync)
        s->noconv++;
    double pass_ms = fmax(o->since_sync_ms, PASS_MIN_MS);
    int urgent = left_ms < URGENT_PASSES * pass_ms + URGENT_SLACK_MS;
    /* On a real link the first throttle is asked at the first sync that
     * finds no switch: QEMU applies it only at its next check, ~1 s on,
     * and each pass is long (docs/policies.md, "Time on a slow link"). */
    int need = early_throttle_ok(c) && s->throttle_target == 0 && s->dl_pct == 0
                   ? 1 : NOCONV_SYNCS;
    char base[200];
    snprintf(base, sizeof base,
             "not converging: best downtime %.0f ms > max %.0f ms (floor %.0f ms at %.0f%% throttle, "
             "%.0f MB/s)",
             plan->opt[plan->n - 1].downtime_ms, c->max_downtime_ms, plan->floor_ms,
             o->throttle_pct, bw / 1e6);
    /* judged at every sync, not after NOCONV_SYNCS: the throttle has had its syncs */
    double kept;
    if (throttle_misses(c, s, o, &kept)) {
        int k = 0;
        s->postcopy = 1;
        emit(out, max, &k, CO_ACT_POSTCOPY, o->t_ms, 0, 0,
             "%s; the throttle does not bite (at %.0f%% the guest still writes %.0f%% of what it "
             "wrote at %.0f%%: paced by its work, not its CPU): switch to post-copy",
             base, o->throttle_pct, kept * 100, s->bite_base_pct);
        return k;
    }
    if (s->noconv < need && !urgent)
        return 0;
    int n = adaptive_dirty_limit(c, s, o, d, budget, urgent, base, out, max);
    if (n != STEP_NEXT)
        return n;
    if (!urgent && s->dl_pct > 0 && o->sync_count - s->throttle_sync < DL_SHOW_SYNCS)
        return 0; /* the last dirty limit has not had time to show */
    n = adaptive_throttle(c, s, o, d, budget, urgent, base, out, max);
    if (n != STEP_NEXT)
        return n;
    return adaptive_last_resort(c, s, o, bw, urgent, base, out, max);
}

/* Adaptive: hold downtime-limit low through the bulk pass, then at each
 * sync (and every REPLAN_EVERY_MS) ask the model when to switch, and either
 * arm that switch or escalate. */
static int decide_adaptive(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                           co_pol_action *out, int max)
{
    /* a dirty limit in force counts as the throttle it stands for */
    co_pol_obs eff = *o;
    if (s->dl_pct > eff.throttle_pct)
        eff.throttle_pct = s->dl_pct;
    o = &eff;
    if (!isfinite(s->limit_ms) || s->limit_ms == 0)
        s->limit_ms = adaptive_hold_ms(c);
    if (o->status != CO_DRV_MIG_ACTIVE || s->postcopy || s->paused)
        return 0;
    double left_ms = c->deadline_ms - o->t_ms;
    double bw = o->bandwidth_bytes_per_s;
    if (!(bw > 0))
        return 0;
    if (o->sync_count < FIRST_PLAN_SYNC)
        return adaptive_check_bulk(c, s, o, left_ms, bw, out, max);
    if (o->new_sync && isfinite(o->pending_at_sync_bytes) && o->pending_at_sync_bytes >= 0)
        s->recent_pend[s->recent_n++ % 4] = o->pending_at_sync_bytes;
    if (!o->new_sync && o->t_ms - s->last_plan_ms < REPLAN_EVERY_MS)
        return 0;
    s->last_plan_ms = o->t_ms;
    int g = adaptive_ramp_guard(c, s, o, bw, out, max);
    if (g != STEP_NEXT)
        return g;
    co_dirty d;
    if (!obs_curve(o, &d))
        return 0;
    double budget = adaptive_budget_ms(c, left_ms);
    co_switch_plan plan;
    if (plan_at(c, o, &d, o->throttle_pct, budget, &plan) != CO_OK)
        return 0;
    s->pred_floor_ms = plan.floor_ms;
    int n = adaptive_early_hold(s, o, out, max);
    if (plan.best >= 0) {
        n += adaptive_early_throttle(c, s, o, &d, &plan, budget, out + n, max - n);
        return n + adaptive_arm(c, s, o, &plan, bw, out + n, max - n);
    }
    return n + adaptive_escalate(c, s, o, &d, &plan, budget, left_ms, bw, out + n, max - n);
}

int co_pol_decide(const co_pol_config *c, co_pol_state *s, const co_pol_obs *o,
                     co_pol_action *out, int max)
{
    if (s->aborted)
        return 0;
    int n = 0;
    switch (c->kind) {
    case CO_POL_ADAPTIVE: n = decide_adaptive(c, s, o, out, max); break;
    case CO_POL_NOVA: n = decide_nova(c, s, o, out, max); break;
    case CO_POL_OVIRT: n = decide_ovirt(c, s, o, out, max); break;
    case CO_POL_KUBEVIRT: n = decide_kubevirt(c, s, o, out, max); break;
    case CO_POL_QEMU: {
        int st;
        double prev;
        track_progress(s, o, &st, &prev);
        break;
    }
    }
    /* every policy: the deadline is a hard stop for pre-copy */
    if (!s->aborted && !s->postcopy && is_precopy(o) && o->t_ms >= c->deadline_ms)
        do_abort(s, o, out, max, &n, "deadline reached (--deadline)");
    return n;
}

void co_pol_obs_from(const co_est *e, const co_drv_stats *st, co_pol_obs *o)
{
    memset(o, 0, sizeof *o);
    o->t_ms = co_est_elapsed_ms(e, st->sampled_at_ms);
    if (isfinite(st->total_time_ms) && st->total_time_ms > o->t_ms)
        o->t_ms = st->total_time_ms; /* QEMU's clock started before our first sample */
    o->status = st->status;
    o->remaining_bytes = e->remaining_bytes;
    o->transferred_bytes = e->transferred_bytes;
    o->mem_bytes = e->mem_bytes;
    o->page_size_bytes = e->page_size_bytes > 0 ? e->page_size_bytes : DEFAULT_PAGE_BYTES;
    o->sync_count = e->sync_count;
    o->new_sync = e->new_sync;
    o->pending_at_sync_bytes = e->pending_at_sync_bytes;
    o->since_sync_ms = isfinite(e->last_sync_ms) ? st->sampled_at_ms - e->last_sync_ms : 0;
    if (o->since_sync_ms < 0)
        o->since_sync_ms = 0;
    o->bandwidth_bytes_per_s = e->bandwidth_bytes_per_s;
    o->throttle_pct = e->throttle_pct;
    o->dirty_rate_pages_per_s = e->dirty_rate_pages_per_s;
    o->have_curve = e->have_curve;
    o->curve = e->curve;
}
