/* tests/sim/test_digest.c: the simulator's results, bit for bit, on fleets
 * where one shared link couples hundreds of migrations (the case the
 * dominant-link fast path of sim/run.c takes) and on the bench's kind of
 * fleet. The digests were taken with the code before that fast path
 * (commit cba6ed9), with slack links kept in every solve as then
 * (co_sim_run_set_split off); a change that moves one bit of one VM's stun, outage,
 * final host, migration count, any span of the timeline or any counter of
 * a run changes them. They depend on the C library's exp/log/pow (see
 * docs/simulate.md, "Limits"): glibc on x86-64 here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* H hosts of 20 VMs (sizes and dirty rates varied), the first half patched
 * at once. backbone: the halves sit behind two uplinks of bb_gbit (every
 * migration crosses both). conc: the plan's "concurrency" value. */
static char *fleet(int H, int bb_gbit, const char *conc, double tol, int faults)
{
    size_t cap = (size_t)H * 20 * 400 + 100000, n = 0;
    char *b = malloc(cap);
    n += (size_t)snprintf(b + n, cap - n, "{\"hosts\": [");
    for (int h = 0; h < H; h++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"h%d\", \"cores\": 256, \"mem\": \"1TiB\", "
                              "\"nic_rate\": \"25Gbit\", \"mtu\": 9000, \"channels\": 2%s}",
                              h ? "," : "", h,
                              bb_gbit ? (h < H / 2 ? ", \"uplink\": \"a\"" : ", \"uplink\": \"b\"") : "");
    n += (size_t)snprintf(b + n, cap - n, "], \"vms\": [");
    for (int v = 0; v < H * 20; v++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"v%d\", \"host\": \"h%d\", \"vcpus\": 2, "
                              "\"mem\": \"%dGiB\", \"mem_used\": \"%dGiB\", \"dirty\": {\"kind\": "
                              "\"uniform\", \"wss\": \"512MiB\", \"rate_pages_per_s\": {\"dist\": "
                              "\"empirical\", \"values\": [%d, %d, %d]}}}",
                              v ? "," : "", v, v / 20, 4 << (v % 3), 2 << (v % 3), 100 + v % 7 * 300,
                              2000 + v % 5 * 1000, 9000);
    if (bb_gbit)
        n += (size_t)snprintf(b + n, cap - n,
                              "], \"uplinks\": [{\"name\": \"a\", \"rate\": \"%dGbit\"}, "
                              "{\"name\": \"b\", \"rate\": \"%dGbit\"}", bb_gbit, bb_gbit);
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"plan\": {\"order\": \"list\", \"hosts\": [");
    for (int h = 0; h < H / 2; h++)
        n += (size_t)snprintf(b + n, cap - n, "%s\"h%d\"", h ? "," : "", h);
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"max_hosts_in_maintenance\": %d, \"concurrency\": %s, "
                          "\"share_tolerance\": %g, \"policy\": {\"auto_converge\": true}%s}}",
                          H / 2, conc, tol,
                          faults ? ", \"faults\": {\"migration_abort_prob\": 0.02, "
                                   "\"patch_fail_prob\": 0.05}" : "");
    cr_assert_lt(n, cap);
    return b;
}

static uint64_t digest_runs(const char *text, int runs, int check, int split)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "test", &c, &d), 0, "load: %s", d.msg);
    co_sim_run *r = co_sim_run_new(c);
    cr_assert_not_null(r);
    co_sim_run_set_record(r, 1);
    co_sim_run_set_check(r, check);
    co_sim_run_set_split(r, split);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < runs; i++) {
        co_sim_run_result res;
        cr_assert_eq(co_sim_run_once(r, 11, (uint64_t)i, &res), 0);
        cr_assert_eq(res.violations, 0, "%ld invariant violations", res.violations);
        res.violations = 0;
        h = fnv(h, &res.window_ms, sizeof res.window_ms);
        h = fnv(h, &res.host_hours, sizeof res.host_hours);
        long cnt[] = {res.migrations, res.aborts, res.cold, res.parked, res.patch_failures,
                      res.hosts_failed, res.events};
        h = fnv(h, cnt, sizeof cnt);
        h = fnv(h, co_sim_run_stun_ms(r), (size_t)c->nvms * sizeof(double));
        h = fnv(h, co_sim_run_outage_ms(r), (size_t)c->nvms * sizeof(double));
        h = fnv(h, co_sim_run_vm_migrations(r), (size_t)c->nvms * sizeof(int));
        h = fnv(h, co_sim_run_vm_host(r), (size_t)c->nvms * sizeof(int));
        size_t ns;
        const co_sim_span *sp = co_sim_run_spans(r, &ns);
        for (size_t k = 0; k < ns; k++) {
            int64_t f[] = {sp[k].kind, sp[k].host, sp[k].other, sp[k].vm, sp[k].start_us,
                           sp[k].end_us, sp[k].aborted};
            h = fnv(h, f, sizeof f);
            h = fnv(h, &sp[k].stun_ms, sizeof sp[k].stun_ms);
        }
    }
    co_sim_run_free(r);
    co_sim_cluster_free(c);
    return h;
}

static void expect(const char *what, char *text, int runs, int check, uint64_t want)
{
    uint64_t got = digest_runs(text, runs, check, 0);
    free(text);
    if (getenv("CO_PRINT_DIGESTS"))
        fprintf(stderr, "digest %s 0x%016llxull\n", what, (unsigned long long)got);
    cr_expect_eq(got, want, "%s: digest 0x%016llx, expected 0x%016llx", what,
                 (unsigned long long)got, (unsigned long long)want);
}

#define NOLIMIT "{\"per_host\": 0, \"per_cluster\": 0}"

Test(digest, backbone_all_at_once, .timeout = 120)
{
    expect("backbone_all_at_once", fleet(40, 100, NOLIMIT, 0.02, 1), 3, 1, 0x1c49c98015f6b5a3ull);
}

Test(digest, backbone_all_at_once_exact, .timeout = 120)
{
    expect("backbone_all_at_once_exact", fleet(40, 100, NOLIMIT, 0, 1), 2, 1, 0x36be19bffc42ba40ull);
}

Test(digest, backbone_vsphere_limits, .timeout = 120)
{
    expect("backbone_vsphere_limits", fleet(40, 100, "\"vsphere\"", 0.02, 1), 3, 1, 0xc4a235d8f49c0886ull);
}

Test(digest, backbone_nova_no_check, .timeout = 120)
{
    expect("backbone_nova_no_check", fleet(200, 400, "\"nova\"", 0.02, 1), 2, 0, 0x13340d1440b1547dull);
}

Test(digest, backbone_large_no_check, .timeout = 120)
{
    expect("backbone_large_no_check", fleet(200, 400, NOLIMIT, 0.05, 0), 2, 0, 0xa9dac69078cf9bb6ull);
}

Test(digest, nic_coupled, .timeout = 120)
{
    expect("nic_coupled", fleet(40, 0, NOLIMIT, 0.02, 1), 3, 1, 0x65abf863d4af9df8ull);
}

Test(digest, example_cluster, .timeout = 120)
{
    FILE *f = fopen("traces/example-cluster.json", "r");
    cr_assert_not_null(f);
    char *t = calloc(1, 1 << 20);
    size_t n = fread(t, 1, (1 << 20) - 1, f);
    fclose(f);
    t[n] = 0;
    expect("example_cluster", t, 20, 1, 0xad3195ba00d19081ull);
}

/* With slack links left out (the default) the rates are the same max-min
 * rates, computed over smaller problems; floating-point rounding in the
 * last bit and the order of re-timings (ties between migrations ending in
 * the same microsecond) may differ. The stated tolerance: each run's
 * window and each VM's summed stun within 1e-6 relative, every VM on the
 * same host at the end, and max-min fairness after every event (--check).
 * On these fleets, and on the digests above, nothing differs at all. */
static void compare_split(char *text, int runs)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "test", &c, &d), 0, "load: %s", d.msg);
    free(text);
    co_sim_run *a = co_sim_run_new(c), *b = co_sim_run_new(c);
    co_sim_run_set_split(a, 0);
    co_sim_run_set_check(a, 1);
    co_sim_run_set_split(b, 1);
    co_sim_run_set_check(b, 1);
    double worst_w = 0, worst_s = 0;
    long moved = 0;
    for (int i = 0; i < runs; i++) {
        co_sim_run_result x, y;
        cr_assert_eq(co_sim_run_once(a, 5, (uint64_t)i, &x), 0);
        cr_assert_eq(x.violations, 0);
        cr_assert_eq(co_sim_run_once(b, 5, (uint64_t)i, &y), 0);
        cr_assert_eq(y.violations, 0, "max-min fairness holds with slack links left out");
        worst_w = fmax(worst_w, fabs(y.window_ms - x.window_ms) / x.window_ms);
        const double *sx = co_sim_run_stun_ms(a), *sy = co_sim_run_stun_ms(b);
        const int *hx = co_sim_run_vm_host(a), *hy = co_sim_run_vm_host(b);
        for (int v = 0; v < c->nvms; v++) {
            if (sx[v] > 0)
                worst_s = fmax(worst_s, fabs(sy[v] - sx[v]) / sx[v]);
            moved += hx[v] != hy[v];
        }
    }
    cr_expect_leq(worst_w, 1e-6, "window differs by %g relative", worst_w);
    cr_expect_leq(worst_s, 1e-6, "a VM's stun differs by %g relative", worst_s);
    cr_expect_eq(moved, 0);
    co_sim_run_free(a);
    co_sim_run_free(b);
    co_sim_cluster_free(c);
}

Test(digest, slack_split_within_tolerance_nova, .timeout = 120)
{
    compare_split(fleet(200, 400, "\"nova\"", 0.02, 1), 2);
}

Test(digest, slack_split_within_tolerance_all_at_once, .timeout = 120)
{
    compare_split(fleet(200, 400, NOLIMIT, 0.05, 0), 2);
}

Test(digest, slack_split_within_tolerance_exact_shares, .timeout = 120)
{
    compare_split(fleet(100, 200, NOLIMIT, 0, 1), 2);
}
