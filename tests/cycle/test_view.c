/* tests/cycle/test_view.c: the TTY view's snapshot and rendering
 * (cycle/view.h), from journal records written here; no TTY, no lab.
 *   fmt              m:ss and h:mm:ss
 *   before_any_step  every host waiting; the ETA from the plan's step means
 *                    for the steps whose hook is configured, a lower bound
 *                    (">") while no evacuation is predicted
 *   mid_cycle        h1 done, h2 in evacuate with a migration in flight,
 *                    h3 waiting: each ETA from the rule (own prediction,
 *                    then measured means); the rendered table names each
 *                    host, its step, the migration
 *   narrow           every line fits the width; the line count is right
 *   ended            cycle_end's status; a failed host
 *   eta_at_once      the cycle's ETA with k hosts at once, phase by phase */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cycle/cyc_int.h"
#include "cycle/view.h"
#include "util/error.h"

#define T0 1.7e12

static co_sim_cluster *cluster(void)
{
    const char *text =
        "{\"hosts\": [\n"
        " {\"name\": \"h1\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\", "
        "\"uri\": \"qemu:///1\"},\n"
        " {\"name\": \"h2\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\", "
        "\"uri\": \"qemu:///2\"},\n"
        " {\"name\": \"h3\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\", "
        "\"uri\": \"qemu:///3\"}\n"
        "], \"vms\": [],\n"
        "\"hooks\": {\"patch\": [\"p\"], \"reboot\": [\"r\"]}}\n";
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "v.json", &c, &d), CO_OK, "%s", d.msg);
    return c;
}

static const int order[] = {0, 1, 2};
static const int canary[] = {1, 0, 0};

static void add(json_t *recs, double t, const char *ev, const char *host, const char *step,
                int ok, double dur)
{
    json_t *r = json_pack("{s:s, s:f}", "ev", ev, "t_ms", t);
    if (host)
        json_object_set_new(r, "host", json_string(host));
    if (step)
        json_object_set_new(r, "step", json_string(step));
    if (!strcmp(ev, "step_end")) {
        json_object_set_new(r, "ok", json_boolean(ok));
        json_object_set_new(r, "duration_ms", json_real(dur));
    }
    if (!strcmp(ev, "host_end"))
        json_object_set_new(r, "ok", json_boolean(ok));
    json_array_append_new(recs, r);
}

/* one whole step: start at t, end at t + dur; returns the end */
static double step(json_t *recs, double t, const char *host, int s, double dur)
{
    add(recs, t, "step_start", host, co_cyc_step_names[s], 0, 0);
    add(recs, t + dur, "step_end", host, co_cyc_step_names[s], 1, dur);
    return t + dur;
}

static void set_last(json_t *recs, const char *k, json_t *v)
{
    json_object_set_new(json_array_get(recs, json_array_size(recs) - 1), k, v);
}

Test(view, fmt)
{
    char b[24];
    co_view_fmt_ms(0, b, sizeof b);
    cr_expect_str_eq(b, "0:00");
    co_view_fmt_ms(61499, b, sizeof b);
    cr_expect_str_eq(b, "1:01");
    co_view_fmt_ms(3600e3 + 62e3, b, sizeof b);
    cr_expect_str_eq(b, "1:01:02");
    co_view_fmt_ms(-1, b, sizeof b);
    cr_expect_str_eq(b, "-");
    co_view_fmt_ms(NAN, b, sizeof b);
    cr_expect_str_eq(b, "-");
}

Test(view, before_any_step)
{
    co_sim_cluster *c = cluster();
    json_t *recs = json_array();
    add(recs, T0, "cycle_start", NULL, NULL, 0, 0);
    co_view v;
    cr_assert_eq(co_view_build(recs, c, order, 3, canary, T0 + 5000, &v), CO_OK);
    cr_expect_str_eq(v.status, "running");
    cr_expect_float_eq(v.elapsed_ms, 5000, 1e-6);
    cr_expect_eq(v.left, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(v.hosts[i].state, CO_VIEW_WAIT);
        /* apply 300 s + reboot 480 s (the plan's defaults, hooks configured);
         * no preflight, stage, firmware or validate hook: 0; evacuate and
         * rebalance not predicted yet */
        cr_expect_float_eq(v.hosts[i].eta_ms, 780e3, 1e-6, "%s", v.hosts[i].name);
        cr_expect_eq(v.hosts[i].eta_partial, 1);
    }
    cr_expect(v.hosts[0].canary);
    cr_expect_float_eq(v.eta_ms, 3 * 780e3, 1e-6);
    char buf[4096];
    int n = co_view_render(&v, 100, buf, sizeof buf);
    cr_expect_eq(n, 5, "%s", buf);
    cr_expect(strstr(buf, "ETA >39:00  (3 of 3 host(s) left)") != NULL, "%s", buf);
    cr_expect(strstr(buf, "  h1*") != NULL, "%s", buf);
    cr_expect(strstr(buf, "waiting") != NULL, "%s", buf);
    co_view_free(&v);
    json_decref(recs);
    co_sim_cluster_free(c);
}

static json_t *mid_cycle(double *now)
{
    json_t *recs = json_array();
    add(recs, T0, "cycle_start", NULL, NULL, 0, 0);
    double t = T0;
    /* h1: every step, evacuate 20 s, apply 5 s, reboot 8 s, validate 1 s,
     * rebalance 15 s */
    const double dur[CO_CYC_S_N] = {1000, 0, 0, 20000, 5000, 8000, 0, 0, 1000, 0, 15000};
    for (int s = 0; s < CO_CYC_S_N; s++) {
        t = step(recs, t, "h1", s, dur[s]);
        if (s == CO_CYC_S_PREFLIGHT)
            set_last(recs, "predicted_ms", json_real(18000));
    }
    add(recs, t, "host_end", "h1", NULL, 1, 0);
    /* h2: preflight (2 s, evacuation predicted 30 s), stage, enter; in
     * evacuate for 10 s, vm2 migrating for 4 s */
    t = step(recs, t, "h2", CO_CYC_S_PREFLIGHT, 2000);
    set_last(recs, "predicted_ms", json_real(30000));
    t = step(recs, t, "h2", CO_CYC_S_STAGE, 0);
    t = step(recs, t, "h2", CO_CYC_S_ENTER, 0);
    add(recs, t, "step_start", "h2", "evacuate", 0, 0);
    json_array_append_new(recs, json_pack("{s:s, s:f, s:s, s:s, s:s, s:s}", "ev", "mig_start",
                                          "t_ms", t + 6000, "vm", "vm9", "from", "h2", "to",
                                          "h1", "purpose", "evacuate"));
    json_array_append_new(recs, json_pack("{s:s, s:f, s:s, s:s}", "ev", "mig_end", "t_ms",
                                          t + 6500, "vm", "vm9", "status", "completed"));
    json_array_append_new(recs, json_pack("{s:s, s:f, s:s, s:s, s:s, s:s}", "ev", "mig_start",
                                          "t_ms", t + 6000, "vm", "vm2", "from", "h2", "to",
                                          "h3", "purpose", "evacuate"));
    *now = t + 10000;
    return recs;
}

Test(view, mid_cycle)
{
    co_sim_cluster *c = cluster();
    double now;
    json_t *recs = mid_cycle(&now);
    co_view v;
    cr_assert_eq(co_view_build(recs, c, order, 3, canary, now, &v), CO_OK);
    cr_expect_eq(v.left, 2);
    cr_expect_eq(v.hosts[0].state, CO_VIEW_DONE);
    cr_expect_float_eq(v.hosts[0].eta_ms, 0, 1e-6);
    cr_expect_float_eq(v.hosts[0].host_elapsed_ms, 50000, 1e-6);
    cr_expect_eq(v.hosts[1].state, CO_VIEW_RUN);
    cr_expect_str_eq(v.hosts[1].step, "evacuate");
    cr_expect_float_eq(v.hosts[1].step_elapsed_ms, 10000, 1e-6);
    /* its own prediction (30 s) less 10 s in it, then h1's measured apply
     * 5 s, reboot 8 s, validate 1 s, and its rebalance as predicted, 30 s */
    cr_expect_float_eq(v.hosts[1].eta_ms, 20000 + 5000 + 8000 + 1000 + 30000, 1e-6);
    cr_expect_eq(v.hosts[1].eta_partial, 0);
    /* h3: measured means (preflight (1 + 2) / 2 s, evacuate 20 s, apply,
     * reboot, validate, rebalance 15 s) */
    cr_expect_float_eq(v.hosts[2].eta_ms, 1500 + 20000 + 5000 + 8000 + 1000 + 15000, 1e-6);
    cr_expect_eq(v.hosts[2].eta_partial, 0);
    cr_expect_float_eq(v.eta_ms, 64000 + 50500, 1e-6);
    cr_expect_eq(v.nmigs, 1, "vm9 ended; vm2 in flight");
    cr_expect_str_eq(v.migs[0].vm, "vm2");
    cr_expect_float_eq(v.migs[0].elapsed_ms, 4000, 1e-6);

    char buf[4096];
    int n = co_view_render(&v, 100, buf, sizeof buf);
    cr_expect_eq(n, 6, "%s", buf);
    cr_expect(strstr(buf, "cycle running  elapsed 1:02  ETA 1:55  (2 of 3 host(s) left)") !=
                  NULL, "%s", buf);
    cr_expect(strstr(buf, "  h1*          done") != NULL, "%s", buf);
    cr_expect(strstr(buf, "> h2           evacuate                     0:10     0:12      1:04") !=
                  NULL, "%s", buf);
    cr_expect(strstr(buf, "  h3           waiting") != NULL, "%s", buf);
    cr_expect(strstr(buf, "  migrating vm2 h2 -> h3  0:04  (evacuate)") != NULL, "%s", buf);
    co_view_free(&v);
    json_decref(recs);
    co_sim_cluster_free(c);
}

Test(view, narrow)
{
    co_sim_cluster *c = cluster();
    double now;
    json_t *recs = mid_cycle(&now);
    co_view v;
    cr_assert_eq(co_view_build(recs, c, order, 3, canary, now, &v), CO_OK);
    char buf[4096];
    int n = co_view_render(&v, 30, buf, sizeof buf);
    int lines = 0;
    for (char *p = buf, *e; *p; p = e + 1) {
        e = strchr(p, '\n');
        cr_assert_not_null(e);
        cr_expect_leq(e - p, 29, "line too wide: %.*s", (int)(e - p), p);
        lines++;
    }
    cr_expect_eq(lines, n);
    /* a buffer too small: what fits, never an overrun */
    char tiny[40];
    co_view_render(&v, 100, tiny, sizeof tiny);
    cr_expect_lt(strlen(tiny), sizeof tiny);
    co_view_free(&v);
    json_decref(recs);
    co_sim_cluster_free(c);
}

Test(view, ended)
{
    co_sim_cluster *c = cluster();
    double now;
    json_t *recs = mid_cycle(&now);
    add(recs, now, "step_end", "h2", "evacuate", 0, 10000);
    json_array_append_new(recs, json_pack("{s:s, s:f, s:s}", "ev", "cycle_end", "t_ms", now,
                                          "status", "stopped"));
    co_view v;
    cr_assert_eq(co_view_build(recs, c, order, 3, canary, now + 1000, &v), CO_OK);
    cr_expect_str_eq(v.status, "stopped");
    cr_expect_eq(v.hosts[1].state, CO_VIEW_FAILED);
    char buf[4096];
    co_view_render(&v, 100, buf, sizeof buf);
    cr_expect(strstr(buf, "cycle stopped") != NULL, "%s", buf);
    cr_expect(strstr(buf, "FAILED at evacuate") != NULL, "%s", buf);
    co_view_free(&v);
    json_decref(recs);
    co_sim_cluster_free(c);
}

Test(view, eta_at_once)
{
    co_view_host hs[5] = {
        {.name = "c1", .state = CO_VIEW_DONE, .eta_ms = 0},
        {.name = "a1", .state = CO_VIEW_RUN, .eta_ms = 30},
        {.name = "a2", .state = CO_VIEW_WAIT, .eta_ms = 50},
        {.name = "a3", .state = CO_VIEW_WAIT, .eta_ms = 40},
        {.name = "b1", .state = CO_VIEW_WAIT, .eta_ms = 20},
    };
    const int ph[5] = {0, 1, 1, 1, 2};
    co_view v = {.nhosts = 5, .hosts = hs, .eta_ms = 190};
    co_view_eta_at_once(&v, ph, 1);
    cr_assert_float_eq(v.eta_ms, 140, 1e-9, "one at a time: the sum, %g", v.eta_ms);
    /* k = 2: a1 (30) and a2 (50) at once, a3 after a1 (30 + 40 = 70): the
     * domain lasts 70; then b1 20 */
    co_view_eta_at_once(&v, ph, 2);
    cr_assert_float_eq(v.eta_ms, 90, 1e-9, "two at once: %g", v.eta_ms);
    co_view_eta_at_once(&v, ph, 8);
    cr_assert_float_eq(v.eta_ms, 70, 1e-9, "all of a domain at once: %g", v.eta_ms);
}
