/* tests/engine/test_policy.c: the policies' decisions on sample series.
 *
 * Two kinds of series: a closed loop with a small pre-copy simulator that
 * follows QEMU 7.2's rules (send at the bandwidth, sync when pending falls
 * below bandwidth x downtime-limit, switch if still below), so a policy's
 * actions change what happens next; and fixed open-loop series for the
 * baselines' schedules. Both go through the estimator exactly as the
 * controller feeds it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/estimate.h"
#include "engine/policy.h"
#include "model/dirty.h"
#include "model/fit.h"
#include "util/error.h"

#define MIB 1048576.0
#define GIB 1073741824.0

typedef struct sim {
    double mem, bw, page;
    double stop_bw; /* stop-and-copy rate (QEMU lifts max-bandwidth); 0 = bw */
    double backlog; /* bytes queued in the sender's socket at the stop (a real link) */
    double rate_report; /* dirty-pages-rate QEMU reports, as a multiple of the truth (0 = 1) */
    co_dirty curve;
    double t_ms, remaining, transferred, since_sync_ms, limit_ms, throttle;
    double dl; /* dirty limit in force, as the throttle % it stands for */
    int64_t syncs;
    int done, aborted, postcopy, paused;
    double downtime_ms, end_ms;
    double sync_at_ms; /* time of the last sync (QEMU's MIGRATION_PASS) */
    /* throttle fixed at the start (libvirt 9.0): QEMU's own auto-converge
     * ramp, throttle actions refused (0 = the live QMP path) */
    int fixed;
    double ramp_init, ramp_inc;
    /* the bench's measured 1 s window (calc-dirty-rate, which the
     * controller starts with the migration) fed at 1 s; 0 = none */
    int window;
    /* phases (bench phases-1k-30k): the curve's rate scaled by ph_rate[i]
     * for ph_ms[i] in turn, from ph_offset_ms before the migration; the
     * writes are then counted tick by tick (throttle changes included) */
    int phased;
    double ph_ms[2], ph_scale[2], ph_offset_ms;
    double eff_s; /* effective unthrottled seconds of writing since the last sync */
    /* QEMU 7.2's own auto-converge trigger (migration_trigger_throttle,
     * migration/ram.c): at a sync at least 1 s after the period began, if
     * the pages dirtied in the period exceed half the bytes sent in it for
     * the second time, start the throttle at cpu-throttle-initial or raise
     * it by -increment (up to max-cpu-throttle). A throttle action only
     * sets the parameters, as through QMP. 0 = the action sets it at once. */
    int qemu_ac;
    int ac_on, ac_high;
    double ac_init, ac_inc, ac_max, ac_trigger, ac_t0, ac_xfer0, ac_dirty;
    double sleep_ms; /* add the throttle's last sleep, p/(1-p) x 10 ms, to the downtime */
    int paced; /* writes paced by the guest's work: the throttle does not slow them */
    double throttled_ms, cpu_lost_s; /* see bench_out */
    int n_actions;
    co_pol_action acts[64];
} sim;

/* Writing speed now, as a multiple of the curve's rate (phases). */
static double sim_scale(const sim *s)
{
    if (!s->phased)
        return 1;
    double cyc = s->ph_ms[0] + s->ph_ms[1];
    double t = fmod(s->t_ms + s->ph_offset_ms, cyc);
    return t < s->ph_ms[0] ? s->ph_scale[0] : s->ph_scale[1];
}

static void sim_init(sim *s, double mem, double bw, const co_dirty *d, double limit)
{
    memset(s, 0, sizeof *s);
    s->mem = mem;
    s->bw = bw;
    s->page = 4096;
    s->curve = *d;
    s->remaining = mem;
    s->syncs = 1;
    s->limit_ms = limit;
}

/* 10 ms of QEMU pre-copy */
static void sim_tick(sim *s)
{
    double dt = 10;
    s->t_ms += dt;
    s->since_sync_ms += dt;
    if (s->paused) {
        double sent = fmin(s->remaining, s->bw * dt / 1000);
        s->remaining -= sent;
        s->transferred += sent;
        s->downtime_ms += dt;
        if (s->remaining <= 0) {
            s->done = 1;
            s->end_ms = s->t_ms;
        }
        return;
    }
    double sent = fmin(s->remaining, s->bw * dt / 1000);
    s->remaining -= sent;
    s->transferred += sent;
    double keep = s->paced ? 1 : 1 - fmax(s->throttle, s->dl) / 100;
    s->eff_s += dt / 1000 * keep * sim_scale(s);
    s->cpu_lost_s += dt / 1000 * s->throttle / 100;
    if (s->throttle > 2)
        s->throttled_ms += dt;
    double thr = s->bw * s->limit_ms / 1000;
    if (s->remaining <= thr) {
        double eff = s->phased ? s->eff_s : s->since_sync_ms / 1000 * keep;
        double fresh = co_dirty_pages(&s->curve, eff) * s->page;
        double added = fresh * (1 - s->remaining / s->mem);
        s->remaining = fmin(s->mem, s->remaining + added);
        if (s->qemu_ac && s->ac_on) {
            s->ac_dirty += added;
            if (s->t_ms - s->ac_t0 >= 1000) {
                if (s->ac_dirty > (s->transferred - s->ac_xfer0) * s->ac_trigger / 100 &&
                    ++s->ac_high >= 2) {
                    s->ac_high = 0;
                    s->throttle = s->throttle > 0 ? fmin(s->ac_max, s->throttle + s->ac_inc)
                                                  : fmin(s->ac_max, s->ac_init);
                }
                s->ac_t0 = s->t_ms;
                s->ac_xfer0 = s->transferred;
                s->ac_dirty = 0;
            }
        }
        s->syncs++;
        s->since_sync_ms = 0;
        s->eff_s = 0;
        s->sync_at_ms = s->t_ms;
        /* QEMU's ramp (simplified: every sync that still finds too much) */
        if (s->fixed && s->ramp_init > 0 && s->remaining > thr)
            s->throttle = s->throttle > 0 ? fmin(99, s->throttle + s->ramp_inc) : s->ramp_init;
        if (s->remaining <= thr) {
            s->done = 1;
            s->downtime_ms = (s->remaining + s->backlog) / (s->stop_bw > 0 ? s->stop_bw : s->bw) *
                                 1000 + 15;
            if (s->sleep_ms && s->throttle > 0)
                s->downtime_ms += fmin(s->throttle, 99) / (100 - fmin(s->throttle, 99)) * 10;
            s->transferred += s->remaining;
            s->end_ms = s->t_ms + s->downtime_ms;
        }
    }
}

static co_drv_stats sim_stats(const sim *s, double t0)
{
    co_drv_stats st;
    co_drv_stats_init(&st);
    st.status = s->done ? CO_DRV_MIG_COMPLETED : CO_DRV_MIG_ACTIVE;
    st.sampled_at_ms = t0 + s->t_ms;
    st.total_time_ms = s->t_ms;
    st.ram_transferred_bytes = s->transferred;
    st.ram_remaining_bytes = s->remaining;
    st.ram_total_bytes = s->mem;
    st.ram_page_size_bytes = s->page;
    st.ram_dirty_sync_count = s->syncs;
    st.cpu_throttle_pct = s->throttle;
    st.ram_dirty_pages_rate = co_dirty_rate0(&s->curve) * sim_scale(s) *
                              (s->paced ? 1 : 1 - fmax(s->throttle, s->dl) / 100) *
                              (s->rate_report > 0 ? s->rate_report : 1);
    return st;
}

/* Run a policy in the loop for at most deadline + 5 s. */
static void sim_run(sim *s, const co_pol_config *c)
{
    co_est e;
    co_est_init(&e);
    co_pol_state ps;
    co_pol_init(c, &ps);
    co_drv_tunables orig = {.downtime_limit_ms = 300}, want;
    co_pol_prestart(c, &orig, &want);
    s->limit_ms = want.downtime_limit_ms;
    if (s->fixed && want.auto_converge == 1) {
        s->ramp_init = want.cpu_throttle_initial_pct;
        s->ramp_inc = want.cpu_throttle_increment_pct;
    }
    if (s->qemu_ac && want.auto_converge == 1) {
        s->ac_on = 1;
        s->ac_init = want.cpu_throttle_initial_pct;
        s->ac_inc = want.cpu_throttle_increment_pct;
        s->ac_max = want.max_cpu_throttle_pct > 0 ? want.max_cpu_throttle_pct : 99;
        s->ac_trigger = want.throttle_trigger_pct > 0 ? want.throttle_trigger_pct : 50;
    }
    double t0 = 5000;
    int windowed = 0;
    while (!s->done && !s->aborted && s->t_ms < c->deadline_ms + 5000) {
        for (int i = 0; i < 10 && !s->done; i++)
            sim_tick(s);
        if (s->done)
            break;
        if (s->window && !windowed && s->t_ms >= 1000) {
            /* the window ran over the migration's first second, unthrottled */
            co_est_add_window(&e, 1.0, co_dirty_pages(&s->curve, sim_scale(s)));
            windowed = 1;
        }
        co_drv_stats st = sim_stats(s, t0);
        co_drv_stats st_e = st; /* as the controller feeds it (controller.c) */
        if (ps.dl_pct > st_e.cpu_throttle_pct)
            st_e.cpu_throttle_pct = ps.dl_pct;
        co_est_feed(&e, &st_e, s->t_ms - s->sync_at_ms < 100 ? t0 + s->sync_at_ms : NAN);
        co_pol_obs o;
        co_pol_obs_from(&e, &st, &o);
        co_pol_action a[8];
        int n = co_pol_decide(c, &ps, &o, a, 8);
        for (int i = 0; i < n; i++) {
            if (s->n_actions < 64)
                s->acts[s->n_actions++] = a[i];
            switch (a[i].kind) {
            case CO_ACT_DOWNTIME: s->limit_ms = a[i].value; break;
            case CO_ACT_THROTTLE:
                if (s->qemu_ac) { /* QEMU applies it at its next trigger */
                    s->ac_init = a[i].value;
                    s->ac_inc = a[i].value2;
                } else if (!s->fixed) { /* libvirt refuses it while the job runs */
                    s->throttle = a[i].value;
                }
                break;
            case CO_ACT_DIRTYLIMIT: s->dl = a[i].value2; break;
            case CO_ACT_POSTCOPY:
                s->postcopy = 1;
                s->done = 1;
                s->downtime_ms = 30;
                break;
            case CO_ACT_PAUSE: s->paused = 1; break;
            case CO_ACT_ABORT: s->aborted = 1; s->end_ms = s->t_ms; break;
            }
        }
    }
}

static int count_kind(const sim *s, int kind)
{
    int n = 0;
    for (int i = 0; i < s->n_actions; i++)
        n += s->acts[i].kind == kind;
    return n;
}

static co_pol_config cfg(int kind, double max_dt, double deadline, unsigned allow, double mem)
{
    co_pol_config c = {.kind = kind, .max_downtime_ms = max_dt, .deadline_ms = deadline,
                       .allow = allow, .postcopy_ready = 1, .pause_ready = 1, .mem_bytes = mem};
    return c;
}

Test(policy, parse_names_and_allow)
{
    cr_assert_eq(co_pol_parse("adaptive"), CO_POL_ADAPTIVE);
    cr_assert_eq(co_pol_parse("kubevirt"), CO_POL_KUBEVIRT);
    cr_assert_eq(co_pol_parse("vmware"), -1);
    cr_assert_str_eq(co_pol_name(CO_POL_OVIRT), "ovirt");
    unsigned a;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_pol_parse_allow("auto-converge,pause", &a, &d), CO_OK);
    cr_assert_eq(a, CO_ALLOW_AUTOCONVERGE | CO_ALLOW_PAUSE);
    cr_assert_eq(co_pol_parse_allow("dirty-limit,postcopy", &a, &d), CO_OK);
    cr_assert_eq(a, CO_ALLOW_DIRTYLIMIT | CO_ALLOW_POSTCOPY);
    cr_assert_eq(co_pol_parse_allow("none", &a, &d), CO_OK);
    cr_assert_eq(a, 0u);
    cr_assert_eq(co_pol_parse_allow("postcopy,turbo", &a, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "'turbo'") != NULL, "%s", d.msg);
}

Test(policy, prestart_tunables)
{
    co_drv_tunables orig = {.downtime_limit_ms = 300, .auto_converge = 0, .postcopy_ram = 0,
                            .cpu_throttle_initial_pct = 20, .cpu_throttle_increment_pct = 10};
    co_drv_tunables w;
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 60e3, CO_ALLOW_AUTOCONVERGE | CO_ALLOW_POSTCOPY,
                          GIB);
    co_pol_prestart(&c, &orig, &w);
    cr_assert_lt(w.downtime_limit_ms, 300, "adaptive holds the limit low at first");
    cr_assert_eq(w.auto_converge, 1);
    cr_assert_eq(w.cpu_throttle_initial_pct, 1, "auto-converge inert until asked");
    cr_assert_eq(w.postcopy_ram, 1);
    c.postcopy_ready = 0;
    co_pol_prestart(&c, &orig, &w);
    cr_assert_eq(w.postcopy_ram, 0, "no postcopy-ram without the destination");
    c = cfg(CO_POL_QEMU, 250, 60e3, 0, GIB);
    co_pol_prestart(&c, &orig, &w);
    cr_assert_eq(w.downtime_limit_ms, 250);
    cr_assert_eq(w.auto_converge, 0);
    c = cfg(CO_POL_NOVA, 500, 60e3, 0, GIB);
    co_pol_prestart(&c, &orig, &w);
    cr_assert_float_eq(w.downtime_limit_ms, 50, 1e-9, "nova: 500/10 first step");
    c = cfg(CO_POL_OVIRT, 300, 60e3, 0, GIB);
    co_pol_prestart(&c, &orig, &w);
    cr_assert_eq(w.downtime_limit_ms, 100);
}

/* A converging guest: adaptive completes within the budget with less
 * downtime than QEMU's fixed limit at the same maximum. */
Test(policy, adaptive_converging_beats_fixed_limit)
{
    co_dirty d;
    co_dirty_uniform(&d, 16384, 20000); /* 64 MiB working set, 20k pages/s */
    sim a, q;
    sim_init(&a, 1 * GIB, 500 * MIB, &d, 300);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 60e3, 0, GIB);
    sim_run(&a, &ca);
    sim_init(&q, 1 * GIB, 500 * MIB, &d, 300);
    co_pol_config cq = cfg(CO_POL_QEMU, 300, 60e3, 0, GIB);
    sim_run(&q, &cq);
    cr_assert(a.done && !a.aborted, "adaptive completes");
    cr_assert(q.done, "qemu completes");
    cr_assert_leq(a.downtime_ms, 300);
    cr_assert_lt(a.downtime_ms, q.downtime_ms * 0.7, "adaptive %.0f ms vs qemu %.0f ms",
                 a.downtime_ms, q.downtime_ms);
    cr_assert_geq(count_kind(&a, CO_ACT_DOWNTIME), 1);
    cr_assert_eq(count_kind(&a, CO_ACT_ABORT), 0);
}

/* Pre-copy capped at 50 MB/s on loopback, where the stop-and-copy runs at
 * the migration thread's rate: a 96 MiB working set dirtied at 120 MB/s
 * never gets under QEMU's fixed threshold (bandwidth x 300 ms = 15 MB), but
 * switching it at the link rate costs ~55 ms. Adaptive, knowing the link,
 * switches after the bulk pass; without the link it cannot tell. */
Test(policy, adaptive_uses_stop_rate_of_the_link)
{
    co_dirty d;
    co_dirty_uniform(&d, 24576, 30000);
    sim a, q, u;
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 40e3, 0, 128 * MIB);
    ca.link_known = ca.link_loopback = 1;
    sim_init(&a, 128 * MIB, 50e6, &d, 300);
    a.stop_bw = 2.2e9;
    sim_run(&a, &ca);
    cr_assert(a.done && !a.aborted, "adaptive completes (t=%.1f s)", a.t_ms / 1000);
    cr_assert_leq(a.downtime_ms, 300, "downtime %.0f ms", a.downtime_ms);
    cr_assert_eq(count_kind(&a, CO_ACT_THROTTLE), 0);
    cr_assert_lt(a.end_ms, 10e3, "switched early: %.1f s", a.end_ms / 1000);
    /* some limit above --max-downtime - cost was needed, in QEMU's terms */
    double top = 0;
    for (int i = 0; i < a.n_actions; i++)
        if (a.acts[i].kind == CO_ACT_DOWNTIME)
            top = fmax(top, a.acts[i].value);
    cr_assert_gt(top, 300, "limit %.0f ms", top);
    co_pol_config cq = cfg(CO_POL_QEMU, 300, 40e3, 0, 128 * MIB);
    sim_init(&q, 128 * MIB, 50e6, &d, 300);
    q.stop_bw = 2.2e9;
    sim_run(&q, &cq);
    cr_assert(q.aborted, "qemu's fixed threshold never fits");
    co_pol_config cu = cfg(CO_POL_ADAPTIVE, 300, 40e3, 0, 128 * MIB);
    sim_init(&u, 128 * MIB, 50e6, &d, 300);
    u.stop_bw = 2.2e9;
    sim_run(&u, &cu);
    cr_assert(u.aborted, "without the link, the stop-and-copy is assumed at 50 MB/s");
}

/* A converging guest on the same capped loopback: knowing the link,
 * adaptive is no slower than QEMU's fixed limit and its downtime stays near
 * the model's floor. */
Test(policy, adaptive_link_known_as_fast_as_qemu)
{
    co_dirty d;
    co_dirty_uniform(&d, 16384, 10000); /* 64 MiB set at 40 MB/s */
    sim a, q;
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 40e3, 0, 128 * MIB);
    ca.link_known = ca.link_loopback = 1;
    sim_init(&a, 128 * MIB, 50e6, &d, 300);
    a.stop_bw = 2.2e9;
    sim_run(&a, &ca);
    co_pol_config cq = cfg(CO_POL_QEMU, 300, 40e3, 0, 128 * MIB);
    sim_init(&q, 128 * MIB, 50e6, &d, 300);
    q.stop_bw = 2.2e9;
    sim_run(&q, &cq);
    cr_assert(a.done && q.done);
    cr_assert_leq(a.end_ms, q.end_ms * 1.05, "adaptive %.2f s, qemu %.2f s", a.end_ms / 1000,
                  q.end_ms / 1000);
    cr_assert_leq(a.downtime_ms, 300);
}

/* A real 400 Mbit/s link (the lab's shaped veth): the stop-and-copy runs
 * at the link rate behind the 4 MiB the pre-copy left in the socket, ~84 ms
 * QEMU does not count. A guest dirtying 120 MB/s must be throttled; the
 * limit adaptive arms leaves room for the backlog, so the downtime the
 * guest sees stays within --max-downtime. */
Test(policy, adaptive_counts_the_send_backlog_on_a_real_link)
{
    co_dirty d;
    co_dirty_uniform(&d, 24576, 30000);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 60e3, CO_ALLOW_AUTOCONVERGE, 128 * MIB);
    ca.link_known = 1;
    ca.link_rate_bytes_per_s = 50e6;
    ca.link_mtu = 9000;
    sim a;
    sim_init(&a, 128 * MIB, 49e6, &d, 300);
    a.stop_bw = 49e6;
    a.backlog = 4 * MIB;
    sim_run(&a, &ca);
    cr_assert(a.done && !a.aborted, "adaptive completes (t=%.1f s)", a.t_ms / 1000);
    cr_assert_leq(a.downtime_ms, 300, "downtime with the backlog %.0f ms", a.downtime_ms);
    double top = 0;
    for (int i = 0; i < a.n_actions; i++)
        if (a.acts[i].kind == CO_ACT_DOWNTIME)
            top = fmax(top, a.acts[i].value);
    /* 4 MiB at ~49 MB/s is ~85 ms of the 300 */
    cr_assert_leq(top, 300 - 80, "limit %.0f ms leaves no room for the backlog", top);
}

/* The same link and backlog, a guest that converges: the backlog is paid
 * whatever pass the switch comes at, so it does not widen what adaptive
 * accepts as "close enough to the floor": the copy it leaves for the stop
 * stays as small as on loopback (docs/policies.md, adaptive step 3). */
Test(policy, adaptive_pick_tolerance_ignores_the_backlog)
{
    co_dirty d;
    co_dirty_uniform(&d, 8192, 5000); /* 32 MiB set at 20 MB/s */
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 40e3, 0, 128 * MIB);
    ca.link_known = 1;
    ca.link_rate_bytes_per_s = 50e6;
    ca.link_mtu = 9000;
    sim a;
    sim_init(&a, 128 * MIB, 49e6, &d, 300);
    a.stop_bw = 49e6;
    a.backlog = 4 * MIB;
    sim_run(&a, &ca);
    cr_assert(a.done && !a.aborted, "adaptive completes");
    double copy_ms = a.downtime_ms - 15 - a.backlog / a.stop_bw * 1000;
    cr_log_info("downtime %.0f ms, of which the copy left at the stop %.0f ms", a.downtime_ms,
                copy_ms);
    cr_assert_leq(copy_ms, 20, "left %.0f ms of copy for the stop", copy_ms);
}

/* ---- the bench-policies matrix on the shaped link, simulated ------------
 * bench/bench_policies.c's workloads on a 128 MiB guest over a 400 Mbit/s
 * link (49 MB/s of stream, stop-and-copy at the same rate behind a 4 MiB
 * send backlog, 15 ms switch cost), --max-downtime 300 ms, --deadline 40 s;
 * adaptive knows the link and may auto-converge through QEMU's own trigger
 * (ovirt too, at QEMU's 20 %, +10 %), the others run at their defaults. */
enum { BWL_IDLE, BWL_U5K, BWL_U10K, BWL_HC20K, BWL_SEQ10K, BWL_PHASES, BWL_U30K, BWL_HC40K, NBWL };
static const char *const bwl_name[NBWL] = {"idle",        "uniform-5k-32M", "uniform-10k-64M",
                                           "hotcold-20k", "seq-10k-64M",    "phases-1k-30k",
                                           "uniform-30k-96M", "hotcold-40k"};

typedef struct bench_out {
    int done;
    double total_ms, downtime_ms, max_throttle;
    double throttled_ms; /* time under a throttle above auto-converge's inert 1-2 % */
    double cpu_lost_s;   /* vCPU time the throttle took: its % integrated over time */
    int early;           /* adaptive asked for the slow link's early throttle */
} bench_out;

/* One cell; sc scales every workload's rate (TCG's rates move with the
 * machine's load). */
static void bench_sim(int w, int kind, double sc, bench_out *r)
{
    const double page = 4096, mem = 128 * MIB;
    co_dirty d;
    sim s;
    switch (w) {
    case BWL_IDLE: co_dirty_uniform(&d, 30000, 100 * sc); break; /* rate=100, the test pages */
    case BWL_U5K: co_dirty_uniform(&d, 32 * MIB / page, 5000 * sc); break;
    case BWL_U10K: co_dirty_uniform(&d, 64 * MIB / page, 10000 * sc); break;
    case BWL_HC20K: co_dirty_hotcold(&d, 8 * MIB / page, 96 * MIB / page, 0.9, 20000 * sc); break;
    case BWL_SEQ10K: co_dirty_seq(&d, 64 * MIB / page, 10000 * sc); break;
    case BWL_PHASES: co_dirty_uniform(&d, 64 * MIB / page, 30000 * sc); break;
    case BWL_U30K: co_dirty_uniform(&d, 96 * MIB / page, 30000 * sc); break;
    default: co_dirty_hotcold(&d, 48 * MIB / page, 64 * MIB / page, 0.8, 40000 * sc); break;
    }
    sim_init(&s, mem, 49e6, &d, 300);
    s.stop_bw = 49e6;
    s.backlog = 4 * MIB;
    s.window = 1;
    s.sleep_ms = 1;
    s.qemu_ac = 1;
    if (w == BWL_PHASES) {
        /* 3 s at 1k pages/s, 3 s at 30k; the bench migrates 1.5 s in */
        s.phased = 1;
        s.ph_ms[0] = s.ph_ms[1] = 3000;
        s.ph_scale[0] = 1000.0 / 30000;
        s.ph_scale[1] = 1;
        s.ph_offset_ms = 1500;
    }
    unsigned allow = kind == CO_POL_ADAPTIVE || kind == CO_POL_OVIRT ? CO_ALLOW_AUTOCONVERGE : 0;
    co_pol_config c = cfg(kind, 300, 40e3, allow, mem);
    if (kind == CO_POL_ADAPTIVE) {
        c.link_known = 1;
        c.link_rate_bytes_per_s = 50e6;
        c.link_mtu = 9000;
    }
    sim_run(&s, &c);
    memset(r, 0, sizeof *r);
    r->done = s.done && !s.aborted && !s.postcopy && !s.paused;
    r->total_ms = s.done ? s.end_ms : s.t_ms;
    r->downtime_ms = s.downtime_ms;
    r->max_throttle = s.throttle;
    r->throttled_ms = s.throttled_ms;
    r->cpu_lost_s = s.cpu_lost_s;
    for (int i = 0; i < s.n_actions; i++)
        r->early |= s.acts[i].kind == CO_ACT_THROTTLE && strstr(s.acts[i].reason, "slow link");
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, dbl_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The matrix at rate scale sc; the medians of adaptive's time and downtime
 * over the workloads qemu also completes, as ratios to qemu's. With
 * CUTOVER_TEST_VERBOSE set, prints the table of docs/policies.md. */
static int bench_matrix(double sc, bench_out R[NBWL][CO_POL_COUNT], double *mt, double *md)
{
    int verbose = getenv("CUTOVER_TEST_VERBOSE") != NULL;
    double at[NBWL], qt[NBWL], ad[NBWL], qd[NBWL];
    int n = 0;
    if (verbose)
        fprintf(stderr, "rate x%.1f\n| workload | adaptive s / ms | qemu s / ms | time ratio | "
                        "downtime ratio | adaptive's throttle |\n", sc);
    for (int w = 0; w < NBWL; w++) {
        for (int k = 0; k < CO_POL_COUNT; k++)
            bench_sim(w, k, sc, &R[w][k]);
        const bench_out *a = &R[w][CO_POL_ADAPTIVE], *q = &R[w][CO_POL_QEMU];
        if (verbose) {
            char as[64], qs[64], rt[32] = "-", rd[32] = "-";
            snprintf(as, sizeof as, a->done ? "%.2f / %.0f" : "aborted", a->total_ms / 1000,
                     a->downtime_ms);
            snprintf(qs, sizeof qs, q->done ? "%.2f / %.0f" : "aborted", q->total_ms / 1000,
                     q->downtime_ms);
            if (a->done && q->done) {
                snprintf(rt, sizeof rt, "%.2f", a->total_ms / q->total_ms);
                snprintf(rd, sizeof rd, "%.2f", a->downtime_ms / q->downtime_ms);
            }
            fprintf(stderr, "| %s | %s | %s | %s | %s | %.0f%% for %.1f s (%.2f vCPU-s)%s |\n",
                    bwl_name[w], as, qs, rt, rd, a->max_throttle, a->throttled_ms / 1000,
                    a->cpu_lost_s, a->early ? ", early" : "");
        }
        if (a->done && q->done) {
            at[n] = a->total_ms;
            qt[n] = q->total_ms;
            ad[n] = a->downtime_ms;
            qd[n] = q->downtime_ms;
            n++;
        }
    }
    *mt = n ? median(at, n) / median(qt, n) : NAN;
    *md = n ? median(ad, n) / median(qd, n) : NAN;
    if (verbose)
        fprintf(stderr, "over %d workloads: median time %.2fx qemu's, median downtime %.2fx\n", n,
                *mt, *md);
    return n;
}

/* Issue 12 part 5 in the simulator: on the 400 Mbit/s link adaptive's
 * median time is within 1.05x qemu's (1.1x is the target on the real
 * bench, the rest kept for what the simulator misses) at a median downtime
 * within 0.45x, within --max-downtime everywhere, never dominated. Before
 * the early throttle: 1.14x and 0.28x (uniform-10k-64M 6.58 s / 115 ms). */
Test(policy, shaped_link_matrix_adaptive_vs_qemu)
{
    static bench_out R[NBWL][CO_POL_COUNT];
    double mt, md;
    int n = bench_matrix(1.0, R, &mt, &md);
    cr_assert_geq(n, 5, "both complete on %d workloads", n);
    cr_assert_leq(mt, 1.05, "median time %.2fx qemu's", mt);
    cr_assert_leq(md, 0.45, "median downtime %.2fx qemu's", md);
    for (int w = 0; w < NBWL; w++) {
        const bench_out *a = &R[w][CO_POL_ADAPTIVE];
        cr_assert(a->done, "%s: adaptive aborted at %.1f s", bwl_name[w], a->total_ms / 1000);
        cr_assert_leq(a->downtime_ms, 300, "%s: %.0f ms", bwl_name[w], a->downtime_ms);
        for (int k = 1; k < CO_POL_COUNT; k++) {
            const bench_out *b = &R[w][k];
            cr_assert(!(b->done && b->total_ms < 0.95 * a->total_ms &&
                        b->downtime_ms < 0.8 * a->downtime_ms),
                      "%s: %s dominates (%.2f s / %.0f ms vs %.2f s / %.0f ms)", bwl_name[w],
                      co_pol_name(k), b->total_ms / 1000, b->downtime_ms, a->total_ms / 1000,
                      a->downtime_ms);
        }
    }
    /* the simulator's figures (docs/policies.md, "Time on a slow link"):
     * adaptive's time s, downtime ms, early throttle % (0 = none asked) */
    static const struct {
        double s, ms, early;
    } pin[NBWL] = {{2.86, 112, 0}, {3.72, 105, 0}, {5.38, 113, 30}, {4.11, 296, 0},
                   {7.25, 121, 0},  {5.96, 108, 40}, {8.91, 154, 0}, {9.88, 150, 0}};
    for (int w = 0; w < NBWL; w++) {
        const bench_out *a = &R[w][CO_POL_ADAPTIVE];
        cr_expect_float_eq(a->total_ms / 1000, pin[w].s, 0.05, "%s: %.2f s", bwl_name[w],
                           a->total_ms / 1000);
        cr_expect_float_eq(a->downtime_ms, pin[w].ms, 5, "%s: %.0f ms", bwl_name[w],
                           a->downtime_ms);
        cr_expect_eq(a->early, pin[w].early > 0, "%s: early throttle %d", bwl_name[w], a->early);
        if (pin[w].early > 0)
            cr_expect_float_eq(a->max_throttle, pin[w].early, 0.5, "%s: throttle %.0f%%",
                               bwl_name[w], a->max_throttle);
    }
    /* where it matters: uniform-10k-64M no slower than qemu, at 0.28x its downtime */
    const bench_out *a = &R[BWL_U10K][CO_POL_ADAPTIVE], *q = &R[BWL_U10K][CO_POL_QEMU];
    cr_assert_leq(a->total_ms, q->total_ms, "%.2f s vs qemu %.2f s", a->total_ms / 1000,
                  q->total_ms / 1000);
    cr_assert_leq(a->downtime_ms, 0.3 * q->downtime_ms);
}

/* The same targets hold with every rate 0.8x to 1.2x (under TCG the rates
 * move with the machine's load; the real bench saw qemu converge in one
 * round and not the next). */
Test(policy, shaped_link_matrix_holds_across_rates)
{
    static bench_out R[NBWL][CO_POL_COUNT];
    const double scales[] = {0.8, 0.9, 1.1, 1.2};
    for (int i = 0; i < 4; i++) {
        double mt, md;
        int n = bench_matrix(scales[i], R, &mt, &md);
        cr_assert_geq(n, 4, "x%.1f: both complete on %d workloads", scales[i], n);
        cr_assert_leq(mt, 1.05, "x%.1f: median time %.2fx qemu's", scales[i], mt);
        cr_assert_leq(md, 0.45, "x%.1f: median downtime %.2fx qemu's", scales[i], md);
        for (int w = 0; w < NBWL; w++) {
            const bench_out *a = &R[w][CO_POL_ADAPTIVE];
            if (a->done)
                cr_assert_leq(a->downtime_ms, 300, "x%.1f %s: %.0f ms", scales[i], bwl_name[w],
                              a->downtime_ms);
            else
                cr_assert(!R[w][CO_POL_QEMU].done, "x%.1f %s: qemu completes, adaptive not",
                          scales[i], bwl_name[w]);
        }
    }
}

/* The early throttle is for a real link only: on loopback (the stop-and-
 * copy at the migration thread's rate) the same guest is not throttled,
 * and QEMU's throttle-trigger-threshold is left as it is. */
Test(policy, early_throttle_only_on_a_real_link)
{
    co_drv_tunables orig, want;
    co_drv_tunables_init(&orig);
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 40e3, CO_ALLOW_AUTOCONVERGE, 128 * MIB);
    c.link_known = 1;
    c.link_rate_bytes_per_s = 50e6;
    co_pol_prestart(&c, &orig, &want);
    cr_assert_eq(want.throttle_trigger_pct, 25);
    c.link_loopback = 1;
    co_pol_prestart(&c, &orig, &want);
    cr_assert(isnan(want.throttle_trigger_pct), "loopback: QEMU's own threshold");
    c.link_loopback = 0;
    c.throttle_fixed = 1;
    co_pol_prestart(&c, &orig, &want);
    cr_assert(isnan(want.throttle_trigger_pct), "libvirt 9.0 cannot set it");
    /* libvirt's fixed ramp: QEMU's 20 % + 10 %, or where the VM's last
     * migration's throttle went, held at the cap (93 % for 300 ms) */
    cr_assert_eq(want.cpu_throttle_initial_pct, 20);
    cr_assert_eq(want.cpu_throttle_increment_pct, 10);
    cr_assert_eq(co_pol_ramp_start(99), 99);
    cr_assert_eq(co_pol_ramp_start(60), 60);
    cr_assert_eq(co_pol_ramp_start(20), 0, "not above QEMU's 20 %");
    cr_assert_eq(co_pol_ramp_start(NAN), 0);
    c.throttle_start_pct = co_pol_ramp_start(60);
    co_pol_prestart(&c, &orig, &want);
    cr_assert_eq(want.cpu_throttle_initial_pct, 60);
    c.throttle_start_pct = co_pol_ramp_start(99);
    co_pol_prestart(&c, &orig, &want);
    cr_assert_float_eq(want.cpu_throttle_initial_pct, 93, 0.5, "%g", want.cpu_throttle_initial_pct);
    c.kind = CO_POL_OVIRT; /* a baseline keeps its system's ramp */
    co_pol_prestart(&c, &orig, &want);
    cr_assert_eq(want.cpu_throttle_initial_pct, 20);
    c.kind = CO_POL_ADAPTIVE;
    c.throttle_start_pct = 0;

    co_dirty d;
    co_dirty_uniform(&d, 16384, 10000);
    sim a;
    sim_init(&a, 128 * MIB, 50e6, &d, 300);
    a.stop_bw = 2.2e9;
    a.qemu_ac = 1;
    co_pol_config cl = cfg(CO_POL_ADAPTIVE, 300, 40e3, CO_ALLOW_AUTOCONVERGE, 128 * MIB);
    cl.link_known = cl.link_loopback = 1;
    sim_run(&a, &cl);
    cr_assert(a.done && !a.aborted);
    cr_assert_eq(count_kind(&a, CO_ACT_THROTTLE), 0, "loopback: no throttle");
}

/* At the throttle cap the model can be wrong (it undoes QEMU's throttled
 * dirty rate by the share left, x14 at 93%). With nothing left to escalate
 * and no plan within budget, adaptive first sets the highest limit whose
 * switch stays within --max-downtime (backlog and the throttle's last
 * sleep counted) and lets QEMU's own test decide; it aborts only when QEMU
 * has not switched 3 syncs later. */
Test(policy, adaptive_at_the_cap_lets_qemu_decide_before_aborting)
{
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 60e3, CO_ALLOW_AUTOCONVERGE, 128 * MIB);
    c.link_known = 1;
    c.link_rate_bytes_per_s = 50e6;
    c.link_mtu = 9000;
    co_pol_state s;
    co_pol_init(&c, &s);
    s.limit_ms = 20;
    s.throttle_target = 93; /* the cap at 300 ms: floor(100 x 150 / 160) */
    s.throttle_sync = 2;
    s.noconv = 5;
    co_pol_obs o = {.t_ms = 20e3, .status = CO_DRV_MIG_ACTIVE, .remaining_bytes = 40 * MIB,
                    .mem_bytes = 128 * MIB, .page_size_bytes = 4096, .sync_count = 20,
                    .new_sync = 1, .pending_at_sync_bytes = 40 * MIB, .since_sync_ms = 0,
                    .bandwidth_bytes_per_s = 49e6, .throttle_pct = 93,
                    .dirty_rate_pages_per_s = 20000 /* 82 MB/s throttled, over the link */};
    co_pol_action a[8];
    int n = co_pol_decide(&c, &s, &o, a, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].kind, CO_ACT_DOWNTIME, "%s", a[0].reason);
    cr_assert(strstr(a[0].reason, "nothing left to escalate") != NULL, "%s", a[0].reason);
    /* 300 - switch cost - ~85 ms backlog - 133 ms sleep at 93% */
    cr_assert(a[0].value >= 10 && a[0].value <= 300 - 85 - 133, "limit %.0f ms", a[0].value);
    for (int k = 1; k <= 2; k++) {
        o.sync_count++;
        o.t_ms += 2000;
        n = co_pol_decide(&c, &s, &o, a, 8);
        for (int i = 0; i < n; i++)
            cr_assert_neq(a[i].kind, CO_ACT_ABORT, "aborted %d sync(s) after: %s", k, a[i].reason);
    }
    int aborted = 0;
    for (int k = 0; k < 4 && !aborted; k++) {
        o.sync_count++;
        o.t_ms += 2000;
        n = co_pol_decide(&c, &s, &o, a, 8);
        for (int i = 0; i < n; i++)
            aborted |= a[i].kind == CO_ACT_ABORT;
    }
    cr_assert(aborted, "aborts once QEMU has not switched at the ceiling");
}

/* libvirt's fixed ramp: QEMU climbs 20, 30, ... 90 %, then 99 % (a 990 ms
 * sleep) whatever adaptive plans. At 90 % (the next step past the 93 %
 * cap for 300 ms) adaptive lets QEMU switch as soon as pending fits the
 * budget; at 99 % it takes the last resort at once, even with others on
 * the link: post-copy where allowed, else abort (bench-evacuate `hot`: a
 * 1080 ms heartbeat gap at 99 %). */
Test(policy, adaptive_fixed_ramp_stops_before_the_sleep_passes_the_budget)
{
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 90e3, CO_ALLOW_AUTOCONVERGE, 64 * MIB);
    c.link_known = 1;
    c.link_rate_bytes_per_s = 50e6;
    c.link_mtu = 9000;
    c.throttle_fixed = 1;
    c.link_peers = 2;
    co_pol_state s;
    co_pol_init(&c, &s);
    /* a paced guest sharing the link: 8k pages/s at 20 MB/s, pending 10 MB */
    co_pol_obs o = {.t_ms = 20e3, .status = CO_DRV_MIG_ACTIVE, .remaining_bytes = 10e6,
                    .mem_bytes = 64 * MIB, .page_size_bytes = 4096, .sync_count = 10,
                    .new_sync = 1, .pending_at_sync_bytes = 10e6, .since_sync_ms = 0,
                    .bandwidth_bytes_per_s = 20e6, .throttle_pct = 80,
                    .dirty_rate_pages_per_s = 8000};
    co_pol_action a[8];
    int n = co_pol_decide(&c, &s, &o, a, 8);
    for (int i = 0; i < n; i++)
        cr_assert(strstr(a[i].reason, "ramp") == NULL, "80%%: no guard yet: %s", a[i].reason);
    o.sync_count++;
    o.t_ms += 1500;
    o.throttle_pct = 90;
    n = co_pol_decide(&c, &s, &o, a, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].kind, CO_ACT_DOWNTIME, "%s", a[0].reason);
    cr_assert(strstr(a[0].reason, "about to pass the cap") != NULL, "%s", a[0].reason);
    /* 300 ms less the switch's costs and the 90 ms sleep, in pre-copy units */
    cr_assert(a[0].value > 20 && a[0].value < 300, "limit %.0f ms", a[0].value);
    o.sync_count++;
    o.t_ms += 1500;
    n = co_pol_decide(&c, &s, &o, a, 8);
    cr_assert_eq(n, 0, "held while QEMU's own test decides");
    o.sync_count++;
    o.t_ms += 1500;
    o.throttle_pct = 99;
    n = co_pol_decide(&c, &s, &o, a, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].kind, CO_ACT_ABORT, "%s", a[0].reason);
    cr_assert(strstr(a[0].reason, "past the cap") != NULL, "%s", a[0].reason);
    cr_expect(strstr(a[0].reason, "the cap allows (half of the") != NULL, "%s", a[0].reason);

    c.allow |= CO_ALLOW_POSTCOPY;
    co_pol_init(&c, &s);
    o.throttle_pct = 99;
    n = co_pol_decide(&c, &s, &o, a, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].kind, CO_ACT_POSTCOPY, "%s", a[0].reason);
    /* the sleep is judged against the cap's share, not the whole budget */
    cr_expect(strstr(a[0].reason, "the cap allows (a tenth of the") != NULL, "%s", a[0].reason);
    cr_expect(strstr(a[0].reason, "post-copy to fall back on") != NULL, "%s", a[0].reason);

    /* the live ramp (QMP) is adaptive's own: no guard */
    c.throttle_fixed = 0;
    c.allow = CO_ALLOW_AUTOCONVERGE;
    co_pol_init(&c, &s);
    n = co_pol_decide(&c, &s, &o, a, 8);
    for (int i = 0; i < n; i++)
        cr_assert(strstr(a[i].reason, "ramp") == NULL, "QMP: %s", a[i].reason);
}

/* A guest that never converges: 1 GiB, a 512 MiB set written at 200k
 * pages/s (800 MB/s), through 200 MB/s. */
static void run_hot_guest(sim *s, const co_pol_config *c)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 200000);
    sim_init(s, 1 * GIB, 200 * MIB, &d, 300);
    sim_run(s, c);
}

/* Dirtying outpaces the link: without anything allowed, adaptive aborts
 * well before the deadline and says why; qemu runs into the deadline. */
Test(policy, adaptive_not_converging_aborts_early)
{
    sim a, q;
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 60e3, 0, GIB);
    run_hot_guest(&a, &ca);
    cr_assert(a.aborted);
    cr_assert_lt(a.end_ms, 30e3, "aborted at %.1f s, deadline 60 s", a.end_ms / 1000);
    const co_pol_action *last = &a.acts[a.n_actions - 1];
    cr_assert_eq(last->kind, CO_ACT_ABORT);
    cr_assert(strstr(last->reason, "not converging") != NULL, "%s", last->reason);
    co_pol_config cq = cfg(CO_POL_QEMU, 300, 60e3, 0, GIB);
    run_hot_guest(&q, &cq);
    cr_assert(q.aborted);
    cr_assert_geq(q.end_ms, 60e3, "qemu only stops at the deadline");
}

/* The same guest in a drain with another migration sending on the link
 * (link_peers): no abort while the other sends, only when the deadline
 * nears; and at once as above when the other has ended. */
Test(policy, adaptive_waits_for_the_link_while_others_send)
{
    sim a;
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 60e3, 0, GIB);
    ca.link_peers = 1;
    run_hot_guest(&a, &ca);
    cr_assert(a.aborted);
    cr_assert_gt(a.end_ms, 50e3, "aborted at %.1f s: before the deadline neared", a.end_ms / 1e3);
    const co_pol_action *last = &a.acts[a.n_actions - 1];
    cr_assert(strstr(last->reason, "not converging") != NULL, "%s", last->reason);
}

/* With auto-converge allowed, adaptive throttles first and completes. */
Test(policy, adaptive_throttles_then_completes)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 100000);
    sim a;
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 120e3, CO_ALLOW_AUTOCONVERGE, GIB);
    sim_run(&a, &ca);
    cr_assert_geq(count_kind(&a, CO_ACT_THROTTLE), 1);
    cr_assert(a.done && !a.aborted, "completes after throttling (t=%.1f s)", a.t_ms / 1000);
    cr_assert_leq(a.downtime_ms, 300);
}

/* Through libvirt 9.0 the throttle ramp is fixed at the start: adaptive
 * starts QEMU's own (20 %, +10 %), asks for no throttle it cannot get, and
 * lets the ramp climb before it judges; the same hot guest completes within
 * budget. With the near-inert 1 % + 1 % it would still be at a few percent
 * when adaptive gives up (bench-evacuate `hot`, docs/evacuate.md). */
Test(policy, adaptive_with_the_ramp_fixed_at_the_start)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 100000);
    sim a;
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    a.fixed = 1;
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 120e3, CO_ALLOW_AUTOCONVERGE, GIB);
    ca.throttle_fixed = 1;
    co_drv_tunables orig = {.downtime_limit_ms = 300}, want;
    co_pol_prestart(&ca, &orig, &want);
    cr_expect_eq(want.auto_converge, 1);
    cr_expect_eq(want.cpu_throttle_initial_pct, 20);
    cr_expect_eq(want.cpu_throttle_increment_pct, 10);
    sim_run(&a, &ca);
    cr_expect_eq(count_kind(&a, CO_ACT_THROTTLE), 0, "no throttle asked of a fixed ramp");
    cr_assert(a.done && !a.aborted, "completes on QEMU's ramp (t=%.1f s, throttle %.0f%%)",
              a.t_ms / 1000, a.throttle);
    cr_expect_leq(a.downtime_ms, 300);
    /* the old start (1 % + 1 %) on the same fixed ramp: adaptive aborts */
    sim b;
    sim_init(&b, 1 * GIB, 200 * MIB, &d, 300);
    b.fixed = 1;
    b.ramp_init = 1;
    b.ramp_inc = 1;
    co_pol_config cb = cfg(CO_POL_ADAPTIVE, 300, 120e3, CO_ALLOW_AUTOCONVERGE, GIB);
    sim_run(&b, &cb); /* not told the ramp is fixed: asks, is refused, gives up */
    cr_expect(b.aborted || b.downtime_ms > 300, "the inert ramp should not have made it "
              "(t=%.1f s, throttle %.0f%%)", b.t_ms / 1000, b.throttle);
}

/* Where the guest has a dirty ring, adaptive limits the dirtying vCPUs
 * instead of throttling the whole guest; where it has none, auto-converge. */
Test(policy, adaptive_dirty_limit_before_throttle)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 100000);
    sim a;
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 120e3,
                           CO_ALLOW_DIRTYLIMIT | CO_ALLOW_AUTOCONVERGE, GIB);
    ca.dirty_limit_ready = 1;
    ca.vcpus = 2;
    sim_run(&a, &ca);
    cr_assert_geq(count_kind(&a, CO_ACT_DIRTYLIMIT), 1);
    cr_assert_eq(count_kind(&a, CO_ACT_THROTTLE), 0);
    cr_assert(a.done && !a.aborted, "completes under the dirty limit (t=%.1f s)", a.t_ms / 1000);
    cr_assert_leq(a.downtime_ms, 300);
    for (int i = 0; i < a.n_actions; i++)
        if (a.acts[i].kind == CO_ACT_DIRTYLIMIT) {
            /* 100k pages/s = 390 MiB/s over 2 vCPUs, less the throttle share */
            double want = 100000 * 4096 / 1048576.0 / 2 * (1 - a.acts[i].value2 / 100);
            /* from the fitted curve, so within 15% */
            cr_assert(fabs(a.acts[i].value - fmax(1, want)) <= 0.15 * fmax(1, want),
                      "%.1f vs %.1f MiB/s: %s", a.acts[i].value, want, a.acts[i].reason);
            cr_assert(strstr(a.acts[i].reason, "MiB/s") != NULL, "%s", a.acts[i].reason);
        }
    ca.dirty_limit_ready = 0;
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    sim_run(&a, &ca);
    cr_assert_eq(count_kind(&a, CO_ACT_DIRTYLIMIT), 0);
    cr_assert_geq(count_kind(&a, CO_ACT_THROTTLE), 1);
}

/* The cheapest allowed order: post-copy before pause when throttling is
 * not allowed; pause when only pause is. */
Test(policy, adaptive_escalation_order)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 200000);
    sim a;
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 60e3, CO_ALLOW_POSTCOPY | CO_ALLOW_PAUSE, GIB);
    sim_run(&a, &ca);
    cr_assert_eq(count_kind(&a, CO_ACT_POSTCOPY), 1);
    cr_assert_eq(count_kind(&a, CO_ACT_PAUSE), 0);
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    ca.allow = CO_ALLOW_PAUSE;
    sim_run(&a, &ca);
    cr_assert_eq(count_kind(&a, CO_ACT_PAUSE), 1);
    cr_assert(a.done);
    /* postcopy allowed but the destination cannot take it: pause */
    sim_init(&a, 1 * GIB, 200 * MIB, &d, 300);
    ca.allow = CO_ALLOW_POSTCOPY | CO_ALLOW_PAUSE;
    ca.postcopy_ready = 0;
    sim_run(&a, &ca);
    cr_assert_eq(count_kind(&a, CO_ACT_POSTCOPY), 0);
    cr_assert_eq(count_kind(&a, CO_ACT_PAUSE), 1);
}

/* A guest whose writes are paced by its work writes as fast under the
 * throttle (bench-policies uniform-30k-96M on TCG, docs/policies.md "When
 * the throttle does not bite"): with post-copy allowed adaptive sees it
 * the first sync after the throttle held, and switches to post-copy then
 * instead of climbing to its cap and waiting there. A guest the throttle
 * slows keeps the throttle and never needs post-copy. */
/* The hot guest of these tests (100k pages/s over 512 MiB of a 1 GiB
 * guest, a 200 MiB/s link), paced or not. */
static void hot_guest(sim *s, co_dirty *d, int paced)
{
    co_dirty_uniform(d, 131072, 100000);
    sim_init(s, 1 * GIB, 200 * MIB, d, 300);
    s->paced = paced;
}

Test(policy, adaptive_postcopy_when_the_throttle_does_not_bite)
{
    co_dirty d;
    sim a;
    hot_guest(&a, &d, 1);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 120e3,
                           CO_ALLOW_AUTOCONVERGE | CO_ALLOW_POSTCOPY, GIB);
    sim_run(&a, &ca);
    cr_assert_eq(count_kind(&a, CO_ACT_POSTCOPY), 1, "post-copy (t=%.1f s)", a.t_ms / 1000);
    int throttles = count_kind(&a, CO_ACT_THROTTLE);
    cr_assert_eq(throttles, 1, "one throttle step, then post-copy, not %d", throttles);
    for (int i = 0; i < a.n_actions; i++)
        if (a.acts[i].kind == CO_ACT_POSTCOPY)
            cr_assert(strstr(a.acts[i].reason, "does not bite") != NULL, "%s", a.acts[i].reason);
    /* without the check it climbs to the cap first: later */
    sim b;
    hot_guest(&b, &d, 1);
    co_pol_config cb = ca;
    cb.postcopy_ready = 0;
    cb.allow = CO_ALLOW_AUTOCONVERGE;
    sim_run(&b, &cb);
    cr_expect_geq(count_kind(&b, CO_ACT_THROTTLE), 2, "without post-copy it keeps throttling");
    /* the throttle bites: no post-copy */
    sim c;
    hot_guest(&c, &d, 0);
    sim_run(&c, &ca);
    cr_assert_eq(count_kind(&c, CO_ACT_POSTCOPY), 0);
    cr_assert(c.done && !c.aborted, "completes on the throttle (t=%.1f s)", c.t_ms / 1000);
}

/* The first pass alone cannot end in time: abort at once, not at the
 * deadline. */
Test(policy, adaptive_bulk_pass_too_slow)
{
    co_dirty d;
    co_dirty_none(&d);
    sim a;
    sim_init(&a, 4 * GIB, 50 * MIB, &d, 300); /* 80 s of copying */
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 30e3, 0, 4 * GIB);
    sim_run(&a, &ca);
    cr_assert(a.aborted);
    cr_assert_lt(a.end_ms, 5e3, "aborted at %.1f s", a.end_ms / 1000);
    cr_assert(strstr(a.acts[a.n_actions - 1].reason, "first pass") != NULL);
}

/* A stream far below a known link shares it (an evacuation): the first
 * pass is judged at the link's rate, not given up at once; the deadline
 * still ends it. */
Test(policy, adaptive_bulk_pass_starved_on_a_shared_link)
{
    co_dirty d;
    co_dirty_none(&d);
    sim a;
    sim_init(&a, 4 * GIB, 50 * MIB, &d, 300); /* 80 s at what it gets */
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 30e3, 0, 4 * GIB);
    ca.link_known = 1;
    ca.link_rate_bytes_per_s = 1250e6; /* 10 Gbit/s: 4 GiB in 3.4 s if it had it */
    sim_run(&a, &ca);
    /* given up only when even the link's rate could not end it in time
     * (2 s before the deadline here), not at 2-5 s as without the link */
    cr_assert(a.end_ms > 25e3, "given up early: %.1f s", a.end_ms / 1000);
}

/* Nova: 10 steps, 75 s per GiB apart (data floored at 2 GiB), then abort
 * at 800 s per GiB. */
Test(policy, nova_schedule)
{
    sim s;
    co_pol_config c = cfg(CO_POL_NOVA, 500, 2000e3, 0, GIB);
    run_hot_guest(&s, &c);
    cr_assert(s.aborted);
    cr_assert_eq(count_kind(&s, CO_ACT_DOWNTIME), 10);
    cr_assert_float_eq(s.acts[0].at_ms, 150e3, 200, "first step after 75 s x 2 GiB, got %.0f",
                       s.acts[0].at_ms);
    cr_assert_float_eq(s.acts[0].value, 95, 1e-6);
    cr_assert_float_eq(s.acts[9].value, 500, 1e-6);
    cr_assert_float_eq(s.end_ms, 1600e3, 200);
}

/* oVirt: 100 ms, then 150/200/300 as passes stall (400/500 are above
 * --max-downtime 300 ms and dropped), abort after the schedule. */
Test(policy, ovirt_schedule)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 200000);
    sim s;
    sim_init(&s, 1 * GIB, 200 * MIB, &d, 300);
    co_pol_config c = cfg(CO_POL_OVIRT, 300, 600e3, 0, GIB);
    sim_run(&s, &c);
    cr_assert(s.aborted);
    cr_assert_eq(count_kind(&s, CO_ACT_DOWNTIME), 3);
    cr_assert_float_eq(s.acts[0].value, 150, 1e-6);
    cr_assert_float_eq(s.acts[2].value, 300, 1e-6);
    cr_assert(strstr(s.acts[s.n_actions - 1].reason, "stalling") != NULL, "%s",
              s.acts[s.n_actions - 1].reason);
}

/* KubeVirt: 150 s per GiB completion timeout (a 0.25 GiB guest: 37.5 s). */
Test(policy, kubevirt_completion_timeout)
{
    co_dirty d;
    co_dirty_uniform(&d, 65536, 200000);
    sim s;
    sim_init(&s, 0.25 * GIB, 20 * MIB, &d, 300);
    co_pol_config c = cfg(CO_POL_KUBEVIRT, 300, 600e3, 0, 0.25 * GIB);
    sim_run(&s, &c);
    cr_assert(s.aborted);
    cr_assert_float_eq(s.end_ms, 37.5e3, 200, "got %.0f", s.end_ms);
    cr_assert(strstr(s.acts[0].reason, "completionTimeoutPerGiB") != NULL);
    /* with post-copy allowed, it switches instead of aborting */
    sim_init(&s, 0.25 * GIB, 20 * MIB, &d, 300);
    c.allow = CO_ALLOW_POSTCOPY;
    sim_run(&s, &c);
    cr_assert_eq(count_kind(&s, CO_ACT_POSTCOPY), 1);
    cr_assert(!s.aborted);
    /* allowWorkloadDisruption without post-copy: pause, and it completes */
    sim_init(&s, 0.25 * GIB, 20 * MIB, &d, 300);
    c.allow = CO_ALLOW_PAUSE;
    sim_run(&s, &c);
    cr_assert_eq(count_kind(&s, CO_ACT_PAUSE), 1);
    cr_assert(s.done && !s.aborted);
    cr_assert_float_eq(s.acts[0].at_ms, 37.5e3, 200, "paused at %.0f", s.acts[0].at_ms);
}

/* RAM size not known yet (cutover migrate on a VM that never migrated: no
 * ram.total before the start): the per-GiB timeouts must not fire at once. */
Test(policy, per_gib_timeouts_wait_for_ram_size)
{
    int kinds[] = {CO_POL_KUBEVIRT, CO_POL_OVIRT};
    for (int k = 0; k < 2; k++) {
        co_pol_config c = cfg(kinds[k], 300, 600e3, 0, 0);
        co_pol_state st;
        co_pol_init(&c, &st);
        co_pol_obs o = {.t_ms = 2, .status = CO_DRV_MIG_SETUP};
        co_pol_action a[8];
        for (double t = 2; t < 5000; t += 100) {
            o.t_ms = t;
            o.status = t < 100 ? CO_DRV_MIG_SETUP : CO_DRV_MIG_ACTIVE;
            int n = co_pol_decide(&c, &st, &o, a, 8);
            for (int i = 0; i < n; i++)
                cr_assert_neq(a[i].kind, CO_ACT_ABORT, "%s aborted at %.0f ms: %s",
                              co_pol_name(kinds[k]), t, a[i].reason);
        }
    }
}

Test(policy, kubevirt_progress_timeout)
{
    /* open loop: remaining never goes below its first value */
    co_pol_config c = cfg(CO_POL_KUBEVIRT, 300, 3600e3, 0, 64 * GIB);
    co_pol_state ps;
    co_pol_init(&c, &ps);
    co_pol_obs o;
    memset(&o, 0, sizeof o);
    o.status = CO_DRV_MIG_ACTIVE;
    o.mem_bytes = 64 * GIB;
    o.page_size_bytes = 4096;
    co_pol_action a[4];
    int total = 0;
    double at = -1;
    for (double t = 0; t <= 200e3; t += 100) {
        o.t_ms = t;
        o.remaining_bytes = 10 * GIB + (t > 1000 ? 1e6 : 0);
        int n = co_pol_decide(&c, &ps, &o, a, 4);
        if (n && at < 0)
            at = t;
        total += n;
    }
    cr_assert_eq(total, 1);
    cr_assert_float_eq(at, 150e3, 150);
    cr_assert(strstr(a[0].reason, "progressTimeout") != NULL);
}

/* The estimator on QEMU-like samples: bandwidth from transferred deltas,
 * not from mbps; curve points from pending at syncs. */
Test(estimate, bandwidth_and_curve_points)
{
    co_dirty d;
    co_dirty_uniform(&d, 131072, 150000); /* busier than the link: it never idles */
    sim s;
    sim_init(&s, 1 * GIB, 500 * MIB, &d, 1); /* limit 1 ms: it never switches */
    co_est e;
    co_est_init(&e);
    for (int k = 0; k < 150; k++) {
        for (int i = 0; i < 10; i++)
            sim_tick(&s);
        co_drv_stats st = sim_stats(&s, 0);
        st.ram_mbps = (k % 2) ? 0 : 99999; /* a noisy 100 ms window: ignored */
        co_est_feed(&e, &st, s.t_ms - s.sync_at_ms < 100 ? s.sync_at_ms : NAN);
    }
    cr_assert_float_eq(e.bandwidth_bytes_per_s, 500 * MIB, 500 * MIB * 0.05, "bw %.0f",
                       e.bandwidth_bytes_per_s);
    cr_assert_geq(e.n_points, 2, "points %d", e.n_points);
    cr_assert(e.have_curve);
    /* the fitted curve predicts the pages of a pass-long window within 15% */
    for (int i = 0; i < e.n_points; i++)
        cr_log_info("pt %.3f s %.0f pages (true %.0f)", e.pt_t_s[i], e.pt_pages[i], co_dirty_pages(&d, e.pt_t_s[i]));
    double want = co_dirty_pages(&d, 0.35), got = co_dirty_pages(&e.curve, 0.35);
    cr_assert_float_eq(got, want, want * 0.15, "U(0.35 s) fitted %.0f, true %.0f", got, want);
}

/* Through libvirt the first active sample may come a second into the bulk
 * pass (libvirtd answers the job query late while it starts the migration).
 * The setup sync's event says when the bulk pass began: its window, and the
 * dirty rate from it, are the pass's own, not the part after the first
 * sample (which made a guest dirtying 16 MB/s look like a hot set that
 * never shrinks: a false floor of 373 ms, bench-evacuate 2026-12-04). */
Test(estimate, bulk_window_from_the_setup_sync_when_the_first_sample_is_late)
{
    co_dirty d;
    co_dirty_uniform(&d, 32768, 4000); /* 16 MB/s over 128 MiB */
    sim s;
    sim_init(&s, 128 * MIB, 50e6, &d, 1);
    const double t0 = 5000;
    co_est e;
    co_est_init(&e);
    while (s.t_ms < 1000)
        sim_tick(&s);
    int fed = 0;
    while (s.syncs < 2) {
        co_drv_stats st = sim_stats(&s, t0);
        /* the first sample carries the setup sync's event (at 0) */
        co_est_feed(&e, &st, fed++ == 0 ? t0 + 0 : NAN);
        for (int i = 0; i < 10; i++)
            sim_tick(&s);
    }
    co_drv_stats st = sim_stats(&s, t0);
    co_est_feed(&e, &st, t0 + s.sync_at_ms);
    cr_assert_eq(e.n_points, 1);
    cr_assert_float_eq(e.pt_t_s[0], s.sync_at_ms / 1000, 0.05, "bulk window %.2f s, true %.2f s",
                       e.pt_t_s[0], s.sync_at_ms / 1000);
    double want = co_dirty_pages(&d, s.sync_at_ms / 1000);
    cr_assert_float_eq(e.pt_pages[0], want, want * 0.1, "pages %.0f, true %.0f", e.pt_pages[0],
                       want);

    /* the event may come with a poll whose sample still says setup (libvirt
     * before QEMU reports RAM figures); the first active one has none */
    sim_init(&s, 128 * MIB, 50e6, &d, 1);
    co_est_init(&e);
    co_drv_stats setup;
    co_drv_stats_init(&setup);
    setup.status = CO_DRV_MIG_SETUP;
    setup.sampled_at_ms = t0 - 900; /* libvirt's prepare, before QEMU's setup sync */
    co_est_feed(&e, &setup, NAN);
    setup.sampled_at_ms = t0 + 5;
    co_est_feed(&e, &setup, t0 + 0);
    while (s.t_ms < 1000)
        sim_tick(&s);
    while (s.syncs < 2) {
        co_drv_stats a = sim_stats(&s, t0);
        co_est_feed(&e, &a, NAN);
        for (int i = 0; i < 10; i++)
            sim_tick(&s);
    }
    st = sim_stats(&s, t0);
    co_est_feed(&e, &st, t0 + s.sync_at_ms);
    cr_assert_eq(e.n_points, 1);
    cr_assert_float_eq(e.pt_t_s[0], s.sync_at_ms / 1000, 0.05,
                       "event with a setup sample: bulk window %.2f s, true %.2f s", e.pt_t_s[0],
                       s.sync_at_ms / 1000);
}

/* A measured 1 s window (QEMU's calc-dirty-rate, which the controller
 * starts with the migration) and the bulk pass's sync point fit the curve
 * at the first sync. Without it one point cannot tell a guest that dirties
 * a small set over and over (uniform-30k-96M of the bench: passes never
 * shrink) from one that dirties fresh pages (they do). */
Test(estimate, measured_window_fits_the_curve_at_the_first_sync)
{
    co_dirty d;
    co_dirty_uniform(&d, 24576, 30000); /* 96 MiB written at 30k pages/s */
    for (int with = 0; with < 2; with++) {
        sim s;
        sim_init(&s, 128 * MIB, 50e6, &d, 1);
        co_est e;
        co_est_init(&e);
        if (with)
            co_est_add_window(&e, 1.0, co_dirty_pages(&d, 1.0));
        while (s.syncs < 2) {
            for (int i = 0; i < 10; i++)
                sim_tick(&s);
            co_drv_stats st = sim_stats(&s, 0);
            co_est_feed(&e, &st, s.t_ms - s.sync_at_ms < 100 ? s.sync_at_ms : NAN);
        }
        if (!with) {
            cr_assert_not(e.have_curve, "one point: no fit yet");
            continue;
        }
        cr_assert(e.have_curve);
        for (int i = 0; i < e.n_points; i++)
            cr_log_info("pt %.3f s %.0f pages (true %.0f)", e.pt_t_s[i], e.pt_pages[i],
                        co_dirty_pages(&d, e.pt_t_s[i]));
        cr_log_info("fit %s W %.0f r %.0f", co_dirty_kind_name(e.curve.kind), e.curve.wss_pages,
                    e.curve.rate_pages_per_s);
        for (int k = 1; k <= 4; k++) {
            double t = 0.25 * k, want = co_dirty_pages(&d, t), got = co_dirty_pages(&e.curve, t);
            cr_assert_float_eq(got, want, want * 0.15, "U(%.2f s) fitted %.0f, true %.0f", t, got,
                               want);
        }
        /* once two passes gave points, the curve is theirs alone */
        while (s.syncs < 4) {
            for (int i = 0; i < 10; i++)
                sim_tick(&s);
            co_drv_stats st = sim_stats(&s, 0);
            co_est_feed(&e, &st, s.t_ms - s.sync_at_ms < 100 ? s.sync_at_ms : NAN);
        }
        cr_assert_geq(e.n_points, 2);
        co_fit_result alone;
        cr_assert_eq(co_dirty_fit(CO_DIRTY_UNIFORM, e.pt_t_s, e.pt_pages, e.n_points,
                                  e.mem_bytes / e.page_size_bytes, &alone), 0);
        cr_assert_eq(e.curve.wss_pages, alone.curve.wss_pages);
        cr_assert_eq(e.curve.rate_pages_per_s, alone.curve.rate_pages_per_s);
    }
    /* nonsense is ignored */
    co_est e;
    co_est_init(&e);
    co_est_add_window(&e, NAN, 5);
    co_est_add_window(&e, 1, INFINITY);
    co_est_add_window(&e, 0, 5);
    cr_assert_eq(e.n_points, 0);
    cr_assert_eq(e.win_t_s, 0);
}

/* A hot set that is dirty again within any pass keeps pending above what a
 * fitted curve predicts for short passes; when QEMU does not switch as
 * predicted, adaptive raises the limit (within the max) and completes. */
Test(policy, adaptive_recovers_when_qemu_does_not_switch)
{
    co_dirty d;
    co_dirty_hotcold(&d, 2000, 200000, 0.9, 200000);
    sim a;
    sim_init(&a, 1 * GIB, 500 * MIB, &d, 300);
    co_pol_config ca = cfg(CO_POL_ADAPTIVE, 300, 60e3, 0, GIB);
    sim_run(&a, &ca);
    for (int i = 0; i < a.n_actions; i++)
        cr_log_info("%.1f s %s %.1f: %s", a.acts[i].at_ms / 1000, co_pol_action_name(a.acts[i].kind),
                    a.acts[i].value, a.acts[i].reason);
    cr_assert(a.done && !a.aborted, "completes (t=%.1f s)", a.t_ms / 1000);
    cr_assert_leq(a.downtime_ms, 300);
}

/* Open loop: the curve says pending will be tiny, but QEMU keeps syncing
 * without switching (the guest keeps a few pages dirty). Adaptive raises
 * the limit step by step, never past --max-downtime minus the switch cost. */
/* An open-loop observation: 1 GiB guest whose curve says almost nothing is
 * dirtied, at bw bytes/s. */
static co_pol_obs open_loop_obs(double bw)
{
    co_pol_obs o;
    memset(&o, 0, sizeof o);
    o.status = CO_DRV_MIG_ACTIVE;
    o.mem_bytes = GIB;
    o.page_size_bytes = 4096;
    o.bandwidth_bytes_per_s = bw;
    o.have_curve = 1;
    co_dirty_uniform(&o.curve, 16384, 100);
    o.dirty_rate_pages_per_s = 100;
    return o;
}

Test(policy, adaptive_raises_limit_when_qemu_keeps_passing)
{
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 600e3, 0, GIB);
    co_pol_state ps;
    co_pol_init(&c, &ps);
    co_pol_obs o = open_loop_obs(500 * MIB);
    co_pol_action a[4];
    double last = 0;
    int raised = 0;
    for (int k = 2; k < 80; k++) {
        o.t_ms = k * 100.0;
        o.sync_count = k;
        o.new_sync = 1;
        o.pending_at_sync_bytes = 50 * 4096;
        o.remaining_bytes = 50 * 4096;
        o.since_sync_ms = 0;
        int n = co_pol_decide(&c, &ps, &o, a, 4);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(a[i].kind, CO_ACT_DOWNTIME, "%s", a[i].reason);
            cr_assert_leq(a[i].value, 300 - 10 + 1e-9); /* the model's switchover cost */
            if (last > 0 && a[i].value > last) {
                raised++;
                cr_assert(strstr(a[i].reason, "did not switch") != NULL, "%s", a[i].reason);
            }
            last = a[i].value;
        }
    }
    cr_assert_geq(raised, 3, "raised %d times", raised);
    cr_assert_geq(last, 100, "limit reached %.0f ms", last);
}

/* Passes do not get shorter than QEMU's sync and what a guest dirties in
 * one keeps pending above a limit the curve alone asks for (bench-policies
 * uniform-10k-64M: 0.6-2 MB at 47 MB/s for 40 passes under 15-22 ms
 * limits): the first raise goes to where QEMU would have taken the lowest
 * pending of the last syncs, not 5 ms up. */
Test(policy, adaptive_raise_goes_to_the_measured_pending)
{
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 600e3, 0, GIB);
    co_pol_state ps;
    co_pol_init(&c, &ps);
    co_pol_obs o = open_loop_obs(47e6);
    co_pol_action a[4];
    double first_raise = 0, before = 0, last = 0;
    double pend[] = {2.0e6, 1.6e6, 1.2e6, 1.5e6, 1.4e6};
    for (int k = 2; k < 40 && first_raise == 0; k++) {
        o.t_ms = k * 50.0;
        o.sync_count = k;
        o.new_sync = 1;
        o.pending_at_sync_bytes = o.remaining_bytes = pend[k % 5];
        o.since_sync_ms = 0;
        int n = co_pol_decide(&c, &ps, &o, a, 4);
        for (int i = 0; i < n; i++) {
            if (a[i].kind != CO_ACT_DOWNTIME)
                continue;
            if (strstr(a[i].reason, "did not switch") && first_raise == 0) {
                first_raise = a[i].value;
                before = last;
            }
            last = a[i].value;
        }
    }
    cr_assert_gt(first_raise, 0, "raised");
    /* the lowest of the last 4 pendings (1.2 MB) at 47 MB/s, x1.3 + 1 ms */
    double want = 1.2e6 / 47e6 * 1000 * 1.3 + 1;
    cr_expect_geq(first_raise, want - 0.5, "first raise to %.1f ms (from %.1f), want >= %.1f",
                  first_raise, before, want);
    cr_expect_leq(first_raise, 300 - 10 + 1e-9);
}

/* ---- replay of a recorded timeline (cutover migrate --log) ------------- */

#include <jansson.h>

static double jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Load the samples of a JSONL timeline into st[] (at most max). */
static int load_timeline(const char *path, co_drv_stats *st, double *sync_ev, int max)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[8192];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "bad line in %s", path);
        const char *type = json_string_value(json_object_get(j, "type"));
        if (type && strcmp(type, "sample") == 0) {
            co_drv_stats *s = &st[n];
            co_drv_stats_init(s);
            s->status = co_drv_status_parse(json_string_value(json_object_get(j, "status")));
            s->sampled_at_ms = jnum(j, "sampled_at_ms");
            s->total_time_ms = jnum(j, "total_time_ms");
            s->ram_transferred_bytes = jnum(j, "ram_transferred_bytes");
            s->ram_remaining_bytes = jnum(j, "ram_remaining_bytes");
            s->ram_total_bytes = jnum(j, "ram_total_bytes");
            s->ram_dirty_pages_rate = jnum(j, "ram_dirty_pages_rate");
            s->ram_mbps = jnum(j, "ram_mbps");
            s->ram_page_size_bytes = jnum(j, "ram_page_size_bytes");
            s->ram_dirty_sync_count = (int64_t)json_integer_value(json_object_get(j, "dirty_sync_count"));
            s->cpu_throttle_pct = jnum(j, "cpu_throttle_pct");
            sync_ev[n] = jnum(j, "sync_event_ms");
            n++;
        }
        json_decref(j);
    }
    fclose(f);
    return n;
}

/* A real QEMU 7.2 run (TCG guest dirtying ~32k pages/s uniformly over
 * 96 MiB, ~135 MB/s over loopback, QEMU's 300 ms limit: it took 46 passes
 * and 16.6 s to find a pass short enough). Replayed through the estimator
 * and adaptive: the bandwidth matches the data moved, the curve is fitted,
 * and adaptive, allowed nothing, calls it not converging and aborts long
 * before QEMU got lucky; allowed to throttle, it throttles instead. */
Test(replay, qemu_uniform_tcg)
{
    static co_drv_stats st[400];
    static double ev[400];
    int n = load_timeline("tests/data/engine/timeline-qemu-uniform-tcg.jsonl", st, ev, 400);
    cr_assert_gt(n, 100);
    for (int variant = 0; variant < 2; variant++) {
        co_pol_config c = cfg(CO_POL_ADAPTIVE, 300, 600e3, variant ? CO_ALLOW_AUTOCONVERGE : 0,
                              st[n - 1].ram_total_bytes);
        co_pol_state ps;
        co_pol_init(&c, &ps);
        co_est e;
        co_est_init(&e);
        int first_kind = 0;
        double first_at = -1;
        char first_reason[240] = "";
        for (int i = 0; i < n; i++) {
            co_est_feed(&e, &st[i], ev[i]);
            co_pol_obs o;
            co_pol_obs_from(&e, &st[i], &o);
            co_pol_action a[4];
            int k = co_pol_decide(&c, &ps, &o, a, 4);
            for (int j = 0; j < k; j++)
                if (!first_kind && a[j].kind != CO_ACT_DOWNTIME) {
                    first_kind = a[j].kind;
                    first_at = a[j].at_ms;
                    snprintf(first_reason, sizeof first_reason, "%s", a[j].reason);
                }
        }
        /* the data moved over the run vs the estimate at the end */
        double moved = (st[n - 1].ram_transferred_bytes - st[n - 40].ram_transferred_bytes) /
                       ((st[n - 1].sampled_at_ms - st[n - 40].sampled_at_ms) / 1000);
        cr_assert_float_eq(e.bandwidth_bytes_per_s, moved, moved * 0.15, "bw %.0f vs %.0f",
                           e.bandwidth_bytes_per_s, moved);
        cr_assert(e.have_curve, "a curve was fitted from %d points", e.n_points);
        cr_assert_eq(first_kind, variant ? CO_ACT_THROTTLE : CO_ACT_ABORT, "%d at %.1f s: %s",
                     first_kind, first_at / 1000, first_reason);
        cr_assert_lt(first_at, 10000, "acted at %.1f s (QEMU finished at 16.6 s)", first_at / 1000);
        cr_assert(strstr(first_reason, "not converging") != NULL, "%s", first_reason);
    }
}
