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

/* The split mode (the default) against the solves of issue 6 (split off).
 * With slack links left out, the still-fair check and the dominant link's
 * level mode (sim/run.c, lvl_shortcut) the rates are the same max-min
 * rates, computed over smaller problems and, in level mode, from running
 * sums: they differ in the last bits. Where a migration's share sits
 * exactly on the share tolerance's edge (on symmetric fleets, shares like
 * cap/51 against cap/50 with the 2 % tolerance), those bits decide whether
 * it is re-timed, and from there which of several identical VMs ends
 * first in a microsecond; the runs then differ VM by VM while staying
 * equally valid. The stated tolerance (docs/simulate.md, "Fleet scale"):
 * max-min fairness after every event (--check), every VM on the same host
 * at the end, each run's window within 1e-5 relative, the stun summed over
 * VMs within 1e-4 relative, and at most 5 % of the VMs with a stun more
 * than 1e-6 relative away (measured: at most 2.2e-6, 2.3e-5 and 1.7 %);
 * on the issue's symmetric backbone fleet see level_mode_issue_backbone. */
struct split_cmp {
    double window, stun_sum, diff_frac;
    long moved, level;
};

/* Split off (issue 6's solves) against split on; coalesce: the split
 * run's one re-sharing per microsecond (co_sim_run_set_coalesce). */
static struct split_cmp compare_split_on(char *text, int runs, int coalesce)
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
    co_sim_run_set_coalesce(b, coalesce);
    co_sim_run_set_check(b, 1);
    co_sim_run_set_profile(b, 1);
    struct split_cmp out = {0};
    double sumx = 0, sumy = 0;
    long ndiff = 0, n = 0;
    for (int i = 0; i < runs; i++) {
        co_sim_run_result x, y;
        cr_assert_eq(co_sim_run_once(a, 5, (uint64_t)i, &x), 0);
        cr_assert_eq(x.violations, 0);
        cr_assert_eq(co_sim_run_once(b, 5, (uint64_t)i, &y), 0);
        cr_assert_eq(y.violations, 0, "max-min fairness holds in split mode");
        out.window = fmax(out.window, fabs(y.window_ms - x.window_ms) / x.window_ms);
        const double *sx = co_sim_run_stun_ms(a), *sy = co_sim_run_stun_ms(b);
        const int *hx = co_sim_run_vm_host(a), *hy = co_sim_run_vm_host(b);
        for (int v = 0; v < c->nvms; v++) {
            if (sx[v] > 0) {
                ndiff += fabs(sy[v] - sx[v]) > 1e-6 * sx[v];
                n++;
            }
            sumx += sx[v];
            sumy += sy[v];
            out.moved += hx[v] != hy[v];
        }
    }
    out.stun_sum = sumx > 0 ? fabs(sumy - sumx) / sumx : 0;
    out.diff_frac = n > 0 ? (double)ndiff / n : 0;
    co_sim_prof p;
    co_sim_run_profile(b, &p);
    out.level = p.level;
    if (getenv("CO_PRINT_DIGESTS"))
        fprintf(stderr, "split (coalesce %d): window %g, stun sum %g, VMs off by > 1e-6: %g, "
                "level events %ld, VMs on another host %ld\n", coalesce, out.window, out.stun_sum,
                out.diff_frac, out.level, out.moved);
    co_sim_run_free(a);
    co_sim_run_free(b);
    co_sim_cluster_free(c);
    return out;
}

static void compare_split(char *text, int runs)
{
    struct split_cmp s = compare_split_on(text, runs, 0);
    cr_expect_leq(s.window, 1e-5, "window differs by %g relative", s.window);
    cr_expect_leq(s.stun_sum, 1e-4, "summed stun differs by %g relative", s.stun_sum);
    cr_expect_leq(s.diff_frac, 0.05, "%g of the VMs have a stun more than 1e-6 away", s.diff_frac);
    cr_expect_eq(s.moved, 0);
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

/* The issue's scenario (bench/simgrid/gen.py): H hosts x 20 VMs of 4 GiB
 * (mixed: 1 - 16 GiB) writing nothing, the first half emptied at once
 * behind a backbone of H/2 x 25 Gbit/s / 4 that every migration crosses.
 * The backbone is full while its share climbs to the NICs' and past: the
 * level mode's case (held migrations appear when a NIC's share falls below
 * the backbone's). */
static char *issue_fleet_kind(int H, int kind, double tol);
static char *issue_fleet(int H, int mixed) { return issue_fleet_kind(H, mixed, -1); }

/* kind: 0 backbone, 1 mixed sizes behind the backbone, 2 NIC-bound (no
 * uplinks); tol: the plan's share_tolerance (< 0: the default). */
static char *issue_fleet_kind(int H, int kind, double tol)
{
    int mixed = kind == 1;
    size_t cap = (size_t)H * 20 * 200 + 100000, n = 0;
    char *b = malloc(cap);
    n += (size_t)snprintf(b + n, cap - n, "{\"hosts\": [");
    for (int h = 0; h < H; h++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"h%d\", \"cores\": 256, \"mem\": \"656GiB\", "
                              "\"nic_rate\": \"25Gbit\", \"mtu\": 1500, \"channels\": 1%s}",
                              h ? "," : "", h,
                              kind == 2 ? "" : h < H / 2 ? ", \"uplink\": \"a\"" : ", \"uplink\": \"b\"");
    n += (size_t)snprintf(b + n, cap - n, "], \"vms\": [");
    static const int sizes[] = {1, 2, 4, 8, 16};
    for (int v = 0; v < H * 20; v++)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s{\"name\": \"v%d\", \"host\": \"h%d\", \"vcpus\": 2, "
                              "\"mem\": \"%dGiB\", \"dirty\": {\"kind\": \"none\"}}",
                              v ? "," : "", v, v / 20, mixed ? sizes[v % 5] : 4);
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"uplinks\": [{\"name\": \"a\", \"rate\": \"%dGbit\"}, "
                          "{\"name\": \"b\", \"rate\": \"%dGbit\"}], "
                          "\"plan\": {\"order\": \"list\", \"hosts\": [",
                          H / 2 * 25 / 4, H / 2 * 25 / 4);
    for (int h = 0; h < H / 2; h++)
        n += (size_t)snprintf(b + n, cap - n, "%s\"h%d\"", h ? "," : "", h);
    n += (size_t)snprintf(b + n, cap - n,
                          "], \"max_hosts_in_maintenance\": %d, \"concurrency\": " NOLIMIT ", "
                          "\"rebalance\": \"duration\", \"steps\": {\"health_check\": \"0s\", "
                          "\"enter_maintenance\": \"0s\", \"repo_sync\": \"0s\", \"apply\": \"0s\", "
                          "\"reboot\": \"0s\", \"validate\": \"0s\", \"exit_maintenance\": \"0s\", "
                          "\"rebalance\": \"0s\"}",
                          H / 2);
    if (tol >= 0)
        n += (size_t)snprintf(b + n, cap - n, ", \"share_tolerance\": %g", tol);
    n += (size_t)snprintf(b + n, cap - n, "}}");
    cr_assert_lt(n, cap);
    return b;
}

Test(digest, level_mode_issue_backbone, .timeout = 240)
{
    /* every VM alike: ties at the tolerance's edge are everywhere, and
     * which of the identical VMs is re-timed when decides their stun (each
     * within the share tolerance of its share): the summed stun is held to
     * 1 % (half the 2 % tolerance; measured 0.22 %) */
    struct split_cmp s = compare_split_on(issue_fleet(200, 0), 1, 0);
    cr_expect_gt(s.level, 0, "the level mode was not used");
    cr_expect_leq(s.window, 1e-5, "window differs by %g relative", s.window);
    cr_expect_leq(s.stun_sum, 1e-2, "summed stun differs by %g relative", s.stun_sum);
    cr_expect_eq(s.moved, 0);
}

Test(digest, level_mode_issue_mixed, .timeout = 240)
{
    struct split_cmp s = compare_split_on(issue_fleet(200, 1), 1, 0);
    cr_expect_gt(s.level, 0, "the level mode was not used");
    cr_expect_leq(s.window, 1e-5, "window differs by %g relative", s.window);
    cr_expect_leq(s.stun_sum, 1e-4, "summed stun differs by %g relative", s.stun_sum);
    cr_expect_leq(s.diff_frac, 0.05, "%g of the VMs have a stun more than 1e-6 away", s.diff_frac);
    cr_expect_eq(s.moved, 0);
}

/* One re-sharing per microsecond (the default in split mode; sim/run.c,
 * same_us) against the exact solves of issue 6 (split off, share
 * tolerance 0) on the issue's three scenarios: the window (the evacuation's
 * makespan) is the exact one (measured: identical to the bit; main's
 * re-sharing after every event, 2 % tolerance, was 0.8 % short at 1,000
 * hosts), max-min fairness holds after every re-sharing (--check), every
 * VM ends on the same host. Stun differs: see coalesce_stun_bounded. */
static void coalesce_vs_exact(int kind, double *stun_rel)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *cd = NULL, *ce = NULL;
    char *td = issue_fleet_kind(200, kind, -1), *te = issue_fleet_kind(200, kind, 0);
    cr_assert_eq(co_sim_load_buffer(td, strlen(td), "test", &cd, &d), 0, "load: %s", d.msg);
    cr_assert_eq(co_sim_load_buffer(te, strlen(te), "test", &ce, &d), 0, "load: %s", d.msg);
    free(td);
    free(te);
    co_sim_run *a = co_sim_run_new(cd), *x = co_sim_run_new(ce);
    co_sim_run_set_check(a, 1);
    co_sim_run_set_split(x, 0);
    co_sim_run_result ra, rx;
    cr_assert_eq(co_sim_run_once(a, 5, 0, &ra), 0);
    cr_assert_eq(ra.violations, 0, "max-min fairness after every re-sharing");
    cr_assert_eq(co_sim_run_once(x, 5, 0, &rx), 0);
    double w = fabs(ra.window_ms - rx.window_ms) / rx.window_ms;
    const double *sa = co_sim_run_stun_ms(a), *sx = co_sim_run_stun_ms(x);
    const int *ha = co_sim_run_vm_host(a), *hx = co_sim_run_vm_host(x);
    double suma = 0, sumx = 0;
    long moved = 0;
    for (int v = 0; v < cd->nvms; v++) {
        suma += sa[v];
        sumx += sx[v];
        moved += ha[v] != hx[v];
    }
    *stun_rel = fabs(suma - sumx) / sumx;
    if (getenv("CO_PRINT_DIGESTS"))
        fprintf(stderr, "coalesce vs exact, kind %d: window %g, stun sum %g (%.1f vs %.1f ms)\n",
                kind, w, *stun_rel, suma, sumx);
    cr_expect_leq(w, 1e-9, "window differs from the exact one by %g relative", w);
    cr_expect_eq(moved, 0);
    co_sim_run_free(a);
    co_sim_run_free(x);
    co_sim_cluster_free(cd);
    co_sim_cluster_free(ce);
}

/* The stun: re-sharing after every event re-times a migration whose end
 * falls in the same microsecond as others' at the bandwidth they free, and
 * predicts its stop-and-copy at that share, held for no time at all (the
 * others ended a microsecond before); once per microsecond, every
 * migration's stun is predicted at the share it transferred at. On these
 * symmetric fleets (every VM alike, all ending within microseconds) that
 * lowers the summed stun against the per-event exact solves (measured 3.9 -
 * 5.9 % here, 1.1 - 8.4 % either way on the bench's six scenarios), which
 * the stated tolerance bounds at 10 %. */
Test(digest, coalesce_issue_backbone_exact_window, .timeout = 240)
{
    double s;
    coalesce_vs_exact(0, &s);
    cr_expect_leq(s, 0.10, "summed stun differs by %g", s);
}

Test(digest, coalesce_issue_mixed_exact_window, .timeout = 240)
{
    double s;
    coalesce_vs_exact(1, &s);
    cr_expect_leq(s, 0.10, "summed stun differs by %g", s);
}

Test(digest, coalesce_issue_nic_exact_window, .timeout = 240)
{
    double s;
    coalesce_vs_exact(2, &s);
    cr_expect_leq(s, 0.10, "summed stun differs by %g", s);
}

/* One re-sharing per microsecond against split off (re-sharing after every
 * event) on the digest fleets (VMs of three sizes and dirty rates, faults):
 * fairness after every re-sharing, the window within 1 %, the summed stun
 * within 5 %. VMs may end on other hosts: the order of the ends that fall
 * in one microsecond decides the dispatcher's next placements, and that
 * order follows the re-timings. */
static void compare_coalesce(char *text, int runs)
{
    struct split_cmp s = compare_split_on(text, runs, 1);
    cr_expect_leq(s.window, 1e-2, "window differs by %g relative", s.window);
    cr_expect_leq(s.stun_sum, 5e-2, "summed stun differs by %g relative", s.stun_sum);
}

Test(digest, coalesce_within_tolerance_nova, .timeout = 120)
{
    compare_coalesce(fleet(200, 400, "\"nova\"", 0.02, 1), 2);
}

Test(digest, coalesce_within_tolerance_all_at_once, .timeout = 120)
{
    compare_coalesce(fleet(200, 400, NOLIMIT, 0.05, 0), 2);
}

Test(digest, coalesce_within_tolerance_exact_shares, .timeout = 120)
{
    compare_coalesce(fleet(100, 200, NOLIMIT, 0, 1), 2);
}

Test(digest, coalesce_within_tolerance_issue_backbone, .timeout = 240)
{
    compare_coalesce(issue_fleet(200, 0), 1);
}
