/* tests/sim/test_run.c: analytic cases, bandwidth sharing, ordering,
 * faults, conservation and determinism of the patch-cycle simulator. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

/* steps: 1min + 10s + 2min + 3min + 5min + 1min + 10s + 30s */
#define STEPS "\"rebalance\": \"duration\", " STEPS_OBJ
#define STEPS_OBJ                                                                      \
    "\"steps\": {\"health_check\": \"1min\", \"enter_maintenance\": \"10s\", "         \
    "\"repo_sync\": \"2min\", \"apply\": \"3min\", \"reboot\": \"5min\", "             \
    "\"validate\": \"1min\", \"exit_maintenance\": \"10s\", \"rebalance\": \"30s\"}"
#define STEPS_MS ((60 + 10 + 120 + 180 + 300 + 60 + 10 + 30) * 1000.0)
/* two 16-core, 64 GiB hosts with 10 Gbit NICs; the file goes on with "vms" */
#define TWO_HOSTS                                                                      \
    "{\"hosts\": [{\"name\": \"h1\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"}," \
    "{\"name\": \"h2\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"}],"
#define DIRTY "\"dirty\": {\"kind\": \"uniform\", \"wss\": \"256MiB\", \"rate_pages_per_s\": 2000}"

static co_sim_cluster *load(const char *text)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    int rc = co_sim_load_buffer(text, strlen(text), "test", &c, &d);
    cr_assert_eq(rc, 0, "load: %s", d.msg);
    return c;
}

/* The model's migration time of the DIRTY VM (4 GiB) at a wire rate. */
static double model_ms(double line_rate, double *down_ms)
{
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = 4.0 * (1 << 30);
    co_dirty_uniform(&p.dirty, 256.0 * (1 << 20) / 4096, 2000);
    p.link.line_rate_bytes_per_s = line_rate;
    co_mig_result r;
    cr_assert_eq(co_mig_predict(&p, &r), 0);
    cr_assert(r.converged);
    if (down_ms)
        *down_ms = r.downtime_ms;
    return r.total_time_ms;
}

static co_sim_run_result run1(co_sim_cluster *c, uint64_t seed, co_sim_run **keep)
{
    co_sim_run *r = co_sim_run_new(c);
    cr_assert_not_null(r);
    co_sim_run_set_check(r, 1);
    co_sim_run_set_record(r, 1);
    co_sim_run_result res;
    cr_assert_eq(co_sim_run_once(r, seed, 0, &res), 0);
    cr_assert_eq(res.violations, 0, "%ld invariant violations", res.violations);
    if (keep)
        *keep = r;
    else
        co_sim_run_free(r);
    return res;
}

/* One VM, one host patched. Rebalance "duration": the window is the steps
 * plus one migration and the VM stays on h2. Rebalance "return": the VM
 * comes back when h1 exits (a second migration through the same sharing
 * and model timing) and the 30 s rebalance step is not used. */
Test(run, one_host_one_vm_is_steps_plus_model_time)
{
    double down, T = model_ms(1.25e9, &down);
    for (int ret = 0; ret <= 1; ret++) {
        co_sim_cluster *c = load(
            ret ? TWO_HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, "
                  "\"mem\": \"4GiB\", " DIRTY "}],"
                  "\"plan\": {\"hosts\": [\"h1\"], \"rebalance\": \"return\", " STEPS_OBJ "}}"
                : TWO_HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, "
                  "\"mem\": \"4GiB\", " DIRTY "}],"
                  "\"plan\": {\"hosts\": [\"h1\"], " STEPS "}}");
        double want = ret ? STEPS_MS - 30e3 + 2 * T : STEPS_MS + T;
        co_sim_run *r;
        co_sim_run_result res = run1(c, 1, &r);
        cr_assert_float_eq(res.window_ms, want, 0.01, "window %.3f, want %.3f", res.window_ms,
                           want);
        cr_assert_eq(res.migrations, 1 + ret);
        cr_assert_float_eq(co_sim_run_stun_ms(r)[0], (1 + ret) * down, 1e-9);
        cr_assert_eq(co_sim_run_vm_host(r)[0], ret ? 0 : 1, "home again only with return");
        if (ret) { /* the return starts when h1 exits maintenance */
            size_t n;
            const co_sim_span *sp = co_sim_run_spans(r, &n);
            int found = 0;
            for (size_t i = 0; i < n; i++)
                if (sp[i].kind == 1 && sp[i].host == 1 && sp[i].other == 0) {
                    cr_assert_float_eq(sp[i].start_us / 1e3, STEPS_MS - 30e3 + T, 0.01);
                    found = 1;
                }
            cr_assert(found);
        }
        co_sim_run_free(r);
        co_sim_cluster_free(c);
    }
}

Test(run, dirty_spec_string_and_trace)
{
    /* the --dirty spec syntax gives the same curve as the object form */
    co_sim_cluster *c = load(
        TWO_HOSTS
        "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", "
        "\"dirty\": \"uniform:wss=256MiB,rate=2000\"}],"
        "\"plan\": {\"hosts\": [\"h1\"], " STEPS "}}");
    co_sim_run_result res = run1(c, 1, NULL);
    cr_assert_float_eq(res.window_ms, STEPS_MS + model_ms(1.25e9, NULL), 0.01);
    co_sim_cluster_free(c);
    /* a recorded trace, relative to the cluster file */
    const char *t =
        TWO_HOSTS
        "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", "
        "\"dirty\": \"trace:trace-good.json\"}]}";
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(t, strlen(t), "tests/data/c.json", &c, &d), 0, "%s", d.msg);
    cr_assert_eq(c->profiles[0].dirty.kind, CO_DIRTY_TABLE);
    res = run1(c, 1, NULL);
    cr_assert_eq(res.migrations, 2);
    co_sim_cluster_free(c);
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(t, strlen(t), "/nonexistent/c.json", &c, &d), CO_ENOINPUT);
    cr_assert(strstr(d.msg, "vms[0].dirty: /nonexistent/trace-good.json"), "%s", d.msg);
}

Test(run, two_hosts_both_patched_vm_moves_twice)
{
    co_sim_cluster *c = load(
        TWO_HOSTS
        "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "}],"
        "\"plan\": {" STEPS "}}");
    double down, T = model_ms(1.25e9, &down);
    co_sim_run *r;
    co_sim_run_result res = run1(c, 1, &r);
    cr_assert_float_eq(res.window_ms, 2 * (STEPS_MS + T), 0.02);
    cr_assert_float_eq(res.host_hours, 2 * (STEPS_MS - 60e3 - 30e3 + T) / 3.6e6, 1e-6);
    cr_assert_eq(co_sim_run_vm_migrations(r)[0], 2);
    cr_assert_float_eq(co_sim_run_stun_ms(r)[0], 2 * down, 1e-9); /* summed over migrations */
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}

static const char *three_hosts(char *buf, size_t n, const char *extra_plan, const char *uplinks)
{
    snprintf(buf, n,
             "{%s\"hosts\": ["
             "{\"name\": \"a\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"%s},"
             "{\"name\": \"b\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"%s},"
             "{\"name\": \"c\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"%s}],"
             "\"vms\": [{\"name\": \"v1\", \"host\": \"a\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "},"
             "{\"name\": \"v2\", \"host\": \"a\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "}],"
             "\"plan\": {\"hosts\": [\"a\"], %s, " STEPS "}}",
             uplinks ? "\"uplinks\": [{\"name\": \"u1\", \"rate\": \"4Gbit\"}, "
                       "{\"name\": \"u2\", \"rate\": \"40Gbit\"}], " : "",
             uplinks ? ", \"uplink\": \"u1\"" : "", uplinks ? ", \"uplink\": \"u2\"" : "",
             uplinks ? ", \"uplink\": \"u2\"" : "", extra_plan);
    return buf;
}

Test(run, concurrent_migrations_share_the_source_nic)
{
    char buf[4096];
    co_sim_cluster *c = load(three_hosts(buf, sizeof buf, "\"concurrency\": \"kubevirt\"", NULL));
    double Thalf = model_ms(1.25e9 / 2, NULL);
    co_sim_run_result res = run1(c, 1, NULL);
    /* both start together, each gets half of a's NIC, both end at T(half) */
    cr_assert_float_eq(res.window_ms, STEPS_MS + Thalf, 0.02, "window %.3f want %.3f",
                       res.window_ms, STEPS_MS + Thalf);
    co_sim_cluster_free(c);

    c = load(three_hosts(buf, sizeof buf, "\"concurrency\": \"nova\"", NULL));
    double T = model_ms(1.25e9, NULL);
    res = run1(c, 1, NULL);
    cr_assert_float_eq(res.window_ms, STEPS_MS + 2 * T, 0.02); /* one at a time */
    co_sim_cluster_free(c);
}

/* plan.mig_evac_follow_factor (cycle/forecast.c sets it from the history's
 * overlaps): the second migration of a drain run one at a time takes the
 * factor, the first does not. */
Test(run, a_drains_later_migrations_take_the_follow_factor)
{
    char buf[4096];
    co_sim_cluster *c = load(three_hosts(buf, sizeof buf, "\"concurrency\": \"nova\"", NULL));
    double T = model_ms(1.25e9, NULL);
    c->plan.mig_evac_follow_factor = 0.5;
    co_sim_run_result res = run1(c, 1, NULL);
    cr_assert_float_eq(res.window_ms, STEPS_MS + 1.5 * T, 0.02, "window %.3f want %.3f",
                       res.window_ms, STEPS_MS + 1.5 * T);
    co_sim_cluster_free(c);
}

Test(run, shared_uplink_limits_the_share)
{
    char buf[4096];
    co_sim_cluster *c = load(three_hosts(buf, sizeof buf, "\"concurrency\": \"nova\"", "u"));
    double T = model_ms(0.5e9, NULL); /* 4 Gbit uplink of a */
    co_sim_run_result res = run1(c, 1, NULL);
    cr_assert_float_eq(res.window_ms, STEPS_MS + 2 * T, 0.02);
    co_sim_cluster_free(c);
}

Test(run, duration_changes_when_another_migration_ends)
{
    /* v1 small (ends early), v2 large: v2 runs at half rate while v1 runs,
     * then at full rate; its time lies strictly between T(full) and T(half). */
    co_sim_cluster *c = load(
        "{\"hosts\": ["
        "{\"name\": \"a\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"},"
        "{\"name\": \"b\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"},"
        "{\"name\": \"c\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"}],"
        "\"vms\": [{\"name\": \"v1\", \"host\": \"a\", \"vcpus\": 2, \"mem\": \"1GiB\"},"
        "{\"name\": \"v2\", \"host\": \"a\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "}],"
        "\"plan\": {\"hosts\": [\"a\"], \"concurrency\": \"kubevirt\", " STEPS "}}");
    double T = model_ms(1.25e9, NULL), Th = model_ms(0.625e9, NULL);
    co_sim_run_result res = run1(c, 1, NULL);
    double mig = res.window_ms - STEPS_MS;
    cr_assert(mig > T + 1 && mig < Th - 1, "mig %.1f not in (%.1f, %.1f)", mig, T, Th);
    co_sim_cluster_free(c);
}

/* A larger cluster: 4 domains x 3 hosts, canary, soak, limits. */
static char *big_cluster(const char *plan_extra, int tight)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    n += (size_t)snprintf(b + n, cap - n, "{\"uplinks\": [");
    for (int d = 0; d < 4; d++)
        n += (size_t)snprintf(b + n, cap - n, "%s{\"name\": \"u%d\", \"rate\": \"20Gbit\"}",
                              d ? "," : "", d);
    n += (size_t)snprintf(b + n, cap - n, "], \"hosts\": [");
    for (int h = 0; h < 12; h++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"h%d\", \"cores\": 32, \"mem\": \"%s\", "
                              "\"nic_rate\": \"10Gbit\", \"failure_domain\": \"fd%d\", "
                              "\"uplink\": \"u%d\"}",
                              h ? "," : "", h, tight ? "48GiB" : "256GiB", h / 3, h / 3);
    n += (size_t)snprintf(b + n, cap - n, "], \"vms\": [");
    for (int v = 0; v < 72; v++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"v%d\", \"host\": \"h%d\", \"vcpus\": %d, "
                              "\"mem\": \"%dGiB\", %s%s"
                              "\"dirty\": {\"kind\": \"uniform\", \"wss\": \"512MiB\", "
                              "\"rate_pages_per_s\": {\"dist\": \"lognormal\", \"median\": 3000, "
                              "\"sigma\": 1}}}",
                              v ? "," : "", v, v % 12, 1 + v % 4, 2 + 2 * (v % 4),
                              v % 17 == 0 ? "\"passthrough\": true, " : "",
                              v > 0 && v < 4 ? "\"anti_affinity\": \"g1\", " : "");
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"plan\": {\"canary\": [\"h4\"], \"canary_soak\": \"20min\", "
                          "\"max_hosts_in_maintenance\": 2, %s, "
                          "\"steps\": {\"reboot\": {\"dist\": \"weibull\", \"scale\": \"8min\", "
                          "\"shape\": 3}, \"apply\": {\"dist\": \"normal\", \"mean\": \"5min\", "
                          "\"sd\": \"1min\"}},"
                          "\"faults\": {\"patch_fail_prob\": 0.1, \"no_return_prob\": 0.1, "
                          "\"migration_abort_prob\": 0.05}}}",
                          plan_extra);
    cr_assert_lt(n, cap);
    return b;
}

Test(run, ordering_limits_and_conservation)
{
    char *t = big_cluster("\"concurrency\": \"kubevirt\"", 0);
    co_sim_cluster *c = load(t);
    free(t);
    cr_assert_eq(c->plan.rebalance, CO_REBAL_RETURN, "return is the default");
    for (uint64_t seed = 1; seed <= 5; seed++) {
        co_sim_run *r;
        co_sim_run_result res = run1(c, seed, &r);
        size_t n;
        const co_sim_span *sp = co_sim_run_spans(r, &n);
        double start[12], end[12];
        for (int h = 0; h < 12; h++)
            start[h] = INFINITY, end[h] = -1;
        for (size_t i = 0; i < n; i++)
            if (sp[i].kind == 0) {
                start[sp[i].host] = fmin(start[sp[i].host], sp[i].start_us);
                end[sp[i].host] = fmax(end[sp[i].host], sp[i].end_us);
            }
        for (int h = 0; h < 12; h++) {
            cr_assert(end[h] > 0, "host %d never patched", h);
            if (h != 4) /* canary first, then the soak */
                cr_assert_geq(start[h], end[4] + 20 * 60e6);
            for (int k = 0; k < 12; k++) /* one failure domain at a time */
                if (h != 4 && k != 4 && h / 3 != k / 3)
                    cr_assert(end[h] <= start[k] || end[k] <= start[h],
                              "h%d and h%d overlap across domains", h, k);
        }
        /* at most 2 hosts busy, at most 2 migrations per source, 5 per cluster */
        for (size_t i = 0; i < n; i++) {
            int64_t t0 = sp[i].start_us;
            int busy = 0, mig = 0, per[12] = {0};
            for (int h = 0; h < 12; h++)
                busy += start[h] <= t0 && t0 < end[h];
            for (size_t k = 0; k < n; k++)
                if (sp[k].kind == 1 && sp[k].start_us <= t0 && t0 < sp[k].end_us) {
                    mig++;
                    per[sp[k].host]++;
                }
            cr_assert_leq(busy, 2);
            cr_assert_leq(mig, 5);
            for (int h = 0; h < 12; h++)
                cr_assert_leq(per[h], 2);
        }
        cr_assert_gt(res.migrations, 0);
        const int *vh = co_sim_run_vm_host(r);
        for (int v = 0; v < c->nvms; v++)
            cr_assert(vh[v] >= 0 && vh[v] < c->nhosts);
        /* rebalance "return" (the default) brings most VMs home: not the
         * passthrough ones, nor those whose return aborted or whose home
         * an anti-affinity peer took meanwhile */
        int home = 0, movable = 0;
        for (int v = 0; v < c->nvms; v++)
            if (!c->vms[v].passthrough) {
                movable++;
                home += vh[v] == c->vms[v].host;
            }
        cr_assert_geq(home, movable * 8 / 10, "seed %d: only %d of %d VMs home", (int)seed,
                      home, movable);
        co_sim_run_free(r);
    }
    co_sim_cluster_free(c);
}

Test(run, tight_capacity_never_exceeded_and_never_hangs)
{
    char *t = big_cluster("\"concurrency\": \"vsphere\", \"cpu_allocation_ratio\": 1", 1);
    co_sim_cluster *c = load(t);
    free(t);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        co_sim_run_result res = run1(c, seed, NULL); /* checks after every event */
        cr_assert_gt(res.window_ms, 0);
    }
    co_sim_cluster_free(c);
}

Test(run, stranded_vm_is_kept_off_not_lost)
{
    co_sim_cluster *c = load(
        "{\"hosts\": [{\"name\": \"h1\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"},"
        "{\"name\": \"h2\", \"cores\": 16, \"mem\": \"8GiB\", \"nic_rate\": \"10Gbit\"}],"
        "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"16GiB\"}],"
        "\"plan\": {\"hosts\": [\"h1\"], " STEPS ", \"faults\": {\"vm_restart\": \"1min\"}}}");
    co_sim_run *r;
    co_sim_run_result res = run1(c, 1, &r);
    cr_assert_eq(res.parked, 1);
    cr_assert_eq(co_sim_run_vm_host(r)[0], 0);
    /* off from evacuation (70 s) to exit (740 s) plus a 60 s boot */
    cr_assert_float_eq(co_sim_run_outage_ms(r)[0], (740 - 70 + 60) * 1e3, 0.01);
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}

Test(run, faults)
{
    const char *base =
        TWO_HOSTS
        "\"vms\": [{\"name\": \"v\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "},"
        "{\"name\": \"p\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", \"passthrough\": true}],"
        "\"plan\": {\"hosts\": [\"h1\"], " STEPS ", \"faults\": {%s}}}";
    char buf[4096];
    /* patch fails: rollback (4 min), then the reboot into the old boot bank */
    snprintf(buf, sizeof buf, base, "\"patch_fail_prob\": 1, \"rollback\": \"4min\"");
    co_sim_cluster *c = load(buf);
    co_sim_run_result res = run1(c, 1, NULL);
    cr_assert_eq(res.patch_failures, 1);
    cr_assert_float_eq(res.window_ms, STEPS_MS + model_ms(1.25e9, NULL) + 240e3, 0.01);
    co_sim_cluster_free(c);
    /* host does not come back: repair 2 h */
    snprintf(buf, sizeof buf, base, "\"no_return_prob\": 1, \"repair\": \"2h\"");
    c = load(buf);
    co_sim_mc_opts o = {.runs = 4, .seed = 3, .threads = 2, .check = 1};
    co_sim_summary s;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_mc(c, &o, &s, &d), 0);
    cr_assert_eq(s.mttr_n, 4);
    cr_assert_float_eq(s.mttr_mean_ms, 7200e3, 1e-6);
    cr_assert_float_eq(s.mttr_ci_hi_ms - s.mttr_ci_lo_ms, 0, 1e-6);
    /* the passthrough VM: one cold restart per run, 90 s outage */
    cr_assert_float_eq(s.cold_mean, 1, 1e-12);
    cr_assert_float_eq(s.outage.max, 90e3, 1e-6);
    co_sim_summary_free(&s);
    co_sim_cluster_free(c);
    /* migrations always abort: retried twice, then cold-migrated */
    snprintf(buf, sizeof buf, base, "\"migration_abort_prob\": 1, \"max_retries\": 2");
    c = load(buf);
    res = run1(c, 1, NULL);
    cr_assert_eq(res.aborts, 3);
    cr_assert_eq(res.migrations, 0);
    cr_assert_eq(res.cold, 2);
    co_sim_cluster_free(c);
    snprintf(buf, sizeof buf, base, "\"migration_abort_prob\": 1, \"on_abort\": \"cold\"");
    c = load(buf);
    res = run1(c, 1, NULL);
    cr_assert_eq(res.aborts, 1);
    cr_assert_eq(res.cold, 2);
    co_sim_cluster_free(c);
}

static void mc(const co_sim_cluster *c, int runs, uint64_t seed, int threads, co_sim_summary *s)
{
    co_sim_mc_opts o = {.runs = runs, .seed = seed, .threads = threads};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_mc(c, &o, s, &d), 0, "%s", d.msg);
}

Test(run, same_seed_same_result_whatever_the_threads)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file("traces/example-cluster.json", &c, &d), 0, "%s", d.msg);
    co_sim_summary a, b, e;
    mc(c, 40, 7, 1, &a);
    mc(c, 40, 7, 3, &b);
    mc(c, 40, 8, 2, &e);
    cr_assert_eq(a.window.p50, b.window.p50);
    cr_assert_eq(a.window.p99, b.window.p99);
    cr_assert_eq(a.window.mean, b.window.mean);
    cr_assert_eq(memcmp(a.hist, b.hist, sizeof a.hist), 0);
    cr_assert_eq(memcmp(a.stun_hist, b.stun_hist, sizeof a.stun_hist), 0);
    cr_assert_eq(memcmp(a.over_budget_runs, b.over_budget_runs, (size_t)c->nvms * sizeof(int)), 0);
    cr_assert_eq(a.stun.max, b.stun.max);
    cr_assert_eq(a.outage.max, b.outage.max);
    cr_assert_eq(a.mttr_mean_ms, b.mttr_mean_ms);
    cr_assert_eq(a.host_hours_mean, b.host_hours_mean);
    cr_assert_eq(a.events, b.events);
    cr_assert_neq(a.window.mean, e.window.mean);
    /* a single run repeated gives the same run as inside the Monte Carlo:
     * the Monte Carlo of run 5 alone (first 5, stride 40) holds its window */
    co_sim_run *r = co_sim_run_new(c);
    co_sim_run_result rr;
    cr_assert_eq(co_sim_run_once(r, 7, 5, &rr), 0);
    co_sim_acc *one = co_sim_acc_new(c->nvms);
    co_sim_mc_opts o5 = {.runs = 40, .seed = 7, .threads = 1, .first = 5, .stride = 40};
    cr_assert_eq(co_sim_mc_acc(c, &o5, one, &d), 0, "%s", d.msg);
    cr_assert_eq(one->runs, 1);
    cr_assert_eq(one->window.max, rr.window_ms);
    free(one);
    co_sim_run_free(r);
    co_sim_summary_free(&a);
    co_sim_summary_free(&b);
    co_sim_summary_free(&e);
    co_sim_cluster_free(c);
}

Test(run, example_cluster_conservation)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file("traces/example-cluster.json", &c, &d), 0, "%s", d.msg);
    co_sim_mc_opts o = {.runs = 10, .seed = 1, .threads = 2, .check = 1};
    co_sim_summary s;
    cr_assert_eq(co_sim_mc(c, &o, &s, &d), 0, "%s", d.msg);
    cr_assert_eq(s.violations, 0);
    cr_assert_gt(s.migrations_mean, c->nvms / 2);
    co_sim_summary_free(&s);
    co_sim_cluster_free(c);
}

/* Start a cluster file in b with 40 hosts h0..h39 of the given size; returns
 * the length written. */
static size_t forty_hosts(char *b, size_t cap, int cores, const char *mem, const char *nic)
{
    size_t n = (size_t)snprintf(b, cap, "{\"hosts\": [");
    for (int h = 0; h < 40; h++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"h%d\", \"cores\": %d, \"mem\": \"%s\", "
                              "\"nic_rate\": \"%s\"}", h ? "," : "", h, cores, mem, nic);
    return n;
}

Test(run, absurd_durations_saturate_instead_of_overflowing)
{
    size_t cap = 1 << 14;
    char *b = malloc(cap);
    size_t n = forty_hosts(b, cap, 8, "8GiB", "1Gbit");
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"plan\": {\"steps\": {\"reboot\": \"270000000h\", "
                          "\"apply\": \"270000000h\"}}}");
    cr_assert_lt(n, cap);
    co_sim_cluster *c = load(b);
    free(b);
    co_sim_run_result res = run1(c, 1, NULL);
    cr_assert(res.window_ms > 0 && isfinite(res.window_ms));
    co_sim_cluster_free(c);
}

Test(run, host_waits_for_migrations_coming_in_before_its_patch)
{
    /* a and x start together; x (empty) finishes after ~14 min and b starts
     * while a's 18-minute migration into b is still running: b must wait
     * for it and send the VM on, never patch with a VM arriving. */
    co_sim_cluster *c = load(
        "{\"hosts\": ["
        "{\"name\": \"a\", \"cores\": 16, \"mem\": \"256GiB\", \"nic_rate\": \"1Gbit\"},"
        "{\"name\": \"x\", \"cores\": 16, \"mem\": \"256GiB\", \"nic_rate\": \"1Gbit\"},"
        "{\"name\": \"b\", \"cores\": 16, \"mem\": \"256GiB\", \"nic_rate\": \"1Gbit\"},"
        "{\"name\": \"c\", \"cores\": 16, \"mem\": \"256GiB\", \"nic_rate\": \"1Gbit\"}],"
        "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 2, \"mem\": \"120GiB\"}],"
        "\"plan\": {\"hosts\": [\"a\", \"x\", \"b\"], \"order\": \"list\", "
        "\"max_hosts_in_maintenance\": 2, " STEPS "}}");
    co_sim_run *r;
    co_sim_run_result res = run1(c, 1, &r); /* asserts no violation */
    cr_assert_eq(res.migrations, 2, "the VM must move on from b");
    cr_assert_eq(co_sim_run_vm_host(r)[0], 1, "patched x is preferred");
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}

Test(run, vsphere_counts_migrations_at_both_ends)
{
    char *t = big_cluster("\"concurrency\": \"vsphere\"", 0);
    co_sim_cluster *c = load(t);
    free(t);
    cr_assert(c->plan.count_incoming);
    co_sim_run *r;
    run1(c, 2, &r);
    size_t n;
    const co_sim_span *sp = co_sim_run_spans(r, &n);
    for (size_t i = 0; i < n; i++) {
        if (sp[i].kind != 1)
            continue;
        int64_t t0 = sp[i].start_us;
        int per[12] = {0};
        for (size_t k = 0; k < n; k++)
            if (sp[k].kind == 1 && sp[k].start_us <= t0 && t0 < sp[k].end_us) {
                per[sp[k].host]++;
                per[sp[k].other]++;
            }
        for (int h = 0; h < 12; h++)
            cr_assert_leq(per[h], 8, "host %d has %d migrations in and out", h, per[h]);
    }
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}

Test(run, rebalance_returns_share_the_nic)
{
    /* two VMs, two slots per host (kubevirt): both leave together at half
     * of h1's NIC and come back together at half of h2's */
    co_sim_cluster *c = load(
        TWO_HOSTS
        "\"vms\": [{\"name\": \"v1\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "},"
        "{\"name\": \"v2\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "}],"
        "\"plan\": {\"hosts\": [\"h1\"], \"concurrency\": \"kubevirt\", " STEPS_OBJ "}}");
    double Th = model_ms(1.25e9 / 2, NULL);
    co_sim_run *r;
    co_sim_run_result res = run1(c, 1, &r);
    cr_assert_float_eq(res.window_ms, STEPS_MS - 30e3 + 2 * Th, 0.02);
    cr_assert_eq(res.migrations, 4);
    cr_assert_eq(co_sim_run_vm_host(r)[0], 0);
    cr_assert_eq(co_sim_run_vm_host(r)[1], 0);
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}

/* "balance" (cutover cycle evens out free memory) is simulated as
 * "return": the same moves, so the same window and migrations. */
Test(run, rebalance_balance_is_simulated_as_return)
{
    const char *fmt = TWO_HOSTS
        "\"vms\": [{\"name\": \"v1\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "},"
        "{\"name\": \"v2\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\", " DIRTY "}],"
        "\"plan\": {\"hosts\": [\"h1\"], \"rebalance\": \"%s\", " STEPS_OBJ "}}";
    char buf[4096];
    co_sim_run_result res[2];
    const char *words[] = {"return", "balance"};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, sizeof buf, fmt, words[i]);
        co_sim_cluster *c = load(buf);
        res[i] = run1(c, 1, NULL);
        co_sim_cluster_free(c);
    }
    cr_assert_eq(res[1].migrations, res[0].migrations);
    cr_assert_eq(res[1].migrations, 4);
    cr_assert_float_eq(res[1].window_ms, res[0].window_ms, 1e-9);
}

/* Far more migrations in flight than the pool of migration slots starts
 * with (64): the pool grows during the run, invariants and max-min fairness
 * hold after every event, and a run object reused for a second run (its
 * pool already grown) gives what a fresh one gives. */
Test(run, many_migrations_in_flight_grow_the_slot_pool)
{
    size_t cap = 1 << 17;
    char *b = malloc(cap);
    size_t n = forty_hosts(b, cap, 64, "512GiB", "25Gbit");
    n += (size_t)snprintf(b + n, cap - n, "], \"vms\": [");
    for (int v = 0; v < 480; v++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"v%d\", \"host\": \"h%d\", \"vcpus\": 2, "
                              "\"mem\": \"8GiB\", " DIRTY "}", v ? "," : "", v, v % 40);
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"plan\": {\"max_hosts_in_maintenance\": 20, "
                          "\"concurrency\": \"vsphere\", " STEPS_OBJ "}}");
    cr_assert_lt(n, cap);
    co_sim_cluster *c = load(b);
    free(b);
    co_sim_run *r0 = co_sim_run_new(c);
    size_t bytes0 = co_sim_run_bytes(r0);
    co_sim_run_free(r0);
    co_sim_run *r;
    co_sim_run_result a = run1(c, 9, &r);
    cr_assert_gt(a.migrations, 480);
    cr_assert_gt(co_sim_run_bytes(r), bytes0, "the pool grew");
    co_sim_run_result again;
    cr_assert_eq(co_sim_run_once(r, 9, 0, &again), 0);
    co_sim_run_result fresh = run1(c, 9, NULL);
    cr_assert_eq(again.events, fresh.events);
    cr_assert_eq(again.migrations, fresh.migrations);
    cr_assert_eq(again.window_ms, fresh.window_ms);
    cr_assert_eq(a.window_ms, fresh.window_ms);
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}
