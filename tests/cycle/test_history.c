/* tests/cycle/test_history.c: `simulate --history`: journals read into
 * samples, fits replacing the plan's guesses, bad lines named file:line,
 * too few samples keeping the guess (tests/data/history, made by make.py
 * there), and the command's text and JSON. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cycle/history.h"
#include "test_util.h"
#include "util/error.h"

#define D "tests/data/history/"

static co_sim_cluster *load(void)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    cr_assert_eq(co_sim_load_file(D "cluster.json", &c, &d), CO_OK, "%s", d.msg);
    return c;
}

Test(history, three_cycles_replace_the_guesses)
{
    co_sim_cluster *c = load();
    co_history h;
    co_history_init(&h);
    co_diag d;
    co_diag_init(&d);
    const char *j[] = {D "cycle1.jsonl", D "cycle2.jsonl", D "cycle3.jsonl"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(co_history_read(&h, j[i], c, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_history_apply(&h, c, &d), CO_OK);
    cr_assert_eq(h.journals, 3);
    cr_assert_eq(h.cycles, 3);
    /* cycle 3: h2's apply failed, so 9 apply runs and 8 durations */
    cr_assert_eq(h.step[CO_STEP_APPLY].trials, 9);
    cr_assert_eq(h.step[CO_STEP_APPLY].ms.n, 8);
    cr_assert(h.step[CO_STEP_APPLY].applied);
    int k = c->plan.step[CO_STEP_APPLY].kind;
    cr_assert(k == CO_DIST_LOGNORMAL || k == CO_DIST_WEIBULL);
    /* the journals' apply: median 200 s, sigma 0.3 */
    cr_assert(fabs(h.step[CO_STEP_APPLY].lognormal.p1 - 200e3) <
                  3 * h.step[CO_STEP_APPLY].lognormal.se_p1 + 1,
              "median %g", h.step[CO_STEP_APPLY].lognormal.p1);
    /* evacuate is the simulator's: reported, never replaced */
    cr_assert_not(h.step[CO_STEP_EVACUATE].applied);
    cr_assert_eq(c->plan.step[CO_STEP_EVACUATE].kind, CO_DIST_FIXED);
    cr_assert_float_eq(c->plan.p_patch_fail, 1.0 / 9, 1e-12);
    cr_assert(h.patch_fail.lo > 0 && h.patch_fail.hi < 0.5);
    cr_assert_eq(h.validate_fail.events, 1);
    /* a validation that failed flows into the plan: the simulator's fault */
    cr_assert(h.validate_fail.applied);
    cr_assert_float_eq(c->plan.p_validate_fail,
                       (double)h.validate_fail.events / h.validate_fail.trials, 1e-12);
    /* one migration per host at half the 10 Gbit/s line, none overlapping */
    cr_assert_eq(h.migs, 9);
    cr_assert_eq(h.migs_solo, 9);
    cr_assert_float_eq(h.eff_median, 0.5, 0.01);
    cr_assert(h.stream_applied);
    cr_assert_float_eq(c->plan.mig.link.channel_cap_bytes_per_s, 0.625e9, 0.01e9);
    json_t *js = co_history_json(&h);
    cr_assert_not_null(js);
    json_t *ap = json_object_get(json_object_get(js, "steps"), "apply");
    cr_assert(json_is_true(json_object_get(ap, "from_history")));
    cr_assert_eq(json_integer_value(json_object_get(ap, "samples")), 8);
    json_decref(js);
    co_history_free(&h);
    co_sim_cluster_free(c);
}

Test(history, bad_line_named_file_line)
{
    co_sim_cluster *c = load();
    co_history h;
    co_history_init(&h);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_history_read(&h, D "bad-line.jsonl", c, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "bad-line.jsonl:3:"), "%s", d.msg);
    /* a known field of the wrong type; co_jrn_read's own refusals (a blank
     * line, a record without t_ms) are named the same way */
    const char *t1 = "{\"seq\":1,\"t_ms\":0,\"ev\":\"cycle_start\"}\n"
                     "{\"seq\":2,\"t_ms\":1,\"ev\":\"step_end\",\"step\":\"apply\","
                     "\"ok\":true,\"duration_ms\":\"90s\"}\n";
    co_diag_init(&d);
    cr_assert_eq(co_history_read_buffer(&h, t1, strlen(t1), "j1", c, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "j1:2: step_end"), "%s", d.msg);
    const char *t2 = "{\"seq\":1,\"t_ms\":0,\"ev\":\"cycle_start\"}\n\n";
    co_diag_init(&d);
    cr_assert_eq(co_history_read_buffer(&h, t2, strlen(t2), "j2", c, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "j2:2:"), "%s", d.msg);
    const char *t3 = "{\"seq\":1,\"ev\":\"cycle_start\"}\n";
    co_diag_init(&d);
    cr_assert_eq(co_history_read_buffer(&h, t3, strlen(t3), "j3", c, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "j3:1:"), "%s", d.msg);
    const char *t4 = "{\"seq\":1,\"t_ms\":0,\"ev\":\"host_end\",\"ok\":\"yes\"}\n";
    co_diag_init(&d);
    cr_assert_eq(co_history_read_buffer(&h, t4, strlen(t4), "j4", c, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "j4:1: host_end"), "%s", d.msg);
    co_history_free(&h);
    co_sim_cluster_free(c);
}

Test(history, few_samples_keep_the_guess)
{
    co_sim_cluster *c = load();
    co_history h;
    co_history_init(&h);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_history_read(&h, D "short.jsonl", c, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(h.torn, 1);
    cr_assert_eq(co_history_apply(&h, c, &d), CO_OK);
    cr_assert_eq(h.step[CO_STEP_APPLY].ms.n, 1);
    cr_assert_not(h.step[CO_STEP_APPLY].applied);
    cr_assert(strstr(h.step[CO_STEP_APPLY].note, "guess kept"), "%s",
              h.step[CO_STEP_APPLY].note);
    cr_assert_eq(c->plan.step[CO_STEP_APPLY].kind, CO_DIST_FIXED);
    cr_assert_float_eq(c->plan.step[CO_STEP_APPLY].a, 180e3, 1e-6);
    cr_assert_not(h.stream_applied);
    cr_assert_not(h.patch_fail.applied);
    co_history_free(&h);
    co_sim_cluster_free(c);
}

/* A journal written here from a known Weibull: the plan gets a Weibull with
 * the parameters within three standard errors. */
Test(history, fit_recovers_known_weibull)
{
    co_sim_cluster *c = load();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    static char buf[1 << 17];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "{\"seq\":%d,\"t_ms\":%d,\"ev\":\"step_end\",\"host\":"
                              "\"h1\",\"step\":\"reboot\",\"ok\":true,\"duration_ms\":%.0f}\n",
                              i + 1, i, gsl_ran_weibull(r, 240e3, 4.0));
    gsl_rng_free(r);
    co_history h;
    co_history_init(&h);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_history_read_buffer(&h, buf, n, "gen", c, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_history_apply(&h, c, &d), CO_OK);
    const co_sim_dist *s = &c->plan.step[CO_STEP_REBOOT];
    cr_assert_eq(s->kind, CO_DIST_WEIBULL);
    const co_fit_dur *w = &h.step[CO_STEP_REBOOT].weibull;
    cr_assert(fabs(s->a - 240e3) < 3 * w->se_p1, "scale %g +- %g", s->a, w->se_p1);
    cr_assert(fabs(s->b - 4.0) < 3 * w->se_p2, "shape %g +- %g", s->b, w->se_p2);
    co_history_free(&h);
    co_sim_cluster_free(c);
}

static char out[1 << 17], err[1 << 14];

Test(history, cli_text_and_json)
{
    int rc = co_test_run("simulate " D "cluster.json --runs 20 --json --history " D
                         "cycle1.jsonl " D "cycle2.jsonl --history " D "cycle3.jsonl",
                         out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    json_t *h = json_object_get(j, "history");
    cr_assert_eq(json_integer_value(json_object_get(h, "cycles")), 3);
    cr_assert(json_is_true(json_object_get(
        json_object_get(json_object_get(h, "failures"), "patch"), "from_history")));
    json_decref(j);
    rc = co_test_run("simulate " D "cluster.json --runs 20 --history " D "short.jsonl", out,
                     sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "history: 1 journal, 1 cycle") && strstr(out, "guess kept") &&
                  strstr(out, "window"),
              "%s", out);
    rc = co_test_run("simulate " D "cluster.json --history " D "bad-line.jsonl", out, sizeof out,
                     err, sizeof err);
    cr_assert_eq(rc, 65);
    cr_assert_str_eq(out, "");
    cr_assert(strstr(err, "bad-line.jsonl:3:"), "%s", err);
    rc = co_test_run("simulate " D "cluster.json --history /nonexistent.jsonl", out, sizeof out,
                     err, sizeof err);
    cr_assert_eq(rc, 66, "%s", err);
    /* extra arguments without --history are still an error */
    rc = co_test_run("simulate " D "cluster.json " D "cycle1.jsonl", out, sizeof out, err,
                     sizeof err);
    cr_assert_eq(rc, 64);
}

/* plan.faults.validate_fail_prob: a host that fails validation stays in
 * maintenance, takes none of its VMs back, and the cycle goes on. */
Test(history, validate_failure_keeps_the_host_out)
{
    co_sim_cluster *c = load();
    co_sim_run *r = co_sim_run_new(c);
    cr_assert_not_null(r);
    co_sim_run_result base, failed;
    cr_assert_eq(co_sim_run_once(r, 1, 0, &base), CO_OK);
    co_sim_run_free(r);
    c->plan.p_validate_fail = 1;
    r = co_sim_run_new(c);
    cr_assert_not_null(r);
    co_sim_run_set_record(r, 1);
    cr_assert_eq(co_sim_run_once(r, 1, 0, &failed), CO_OK);
    size_t n;
    const co_sim_span *sp = co_sim_run_spans(r, &n);
    for (size_t k = 0; k < n; k++)
        cr_expect_not(sp[k].kind == 0 && (sp[k].other == CO_STEP_EXIT ||
                                          sp[k].other == CO_STEP_REBALANCE),
                      "host %d exited maintenance", sp[k].host);
    /* no host comes back: the last one's VMs have nowhere to go and stay
     * off on it; the window loses the exits and rebalances */
    cr_expect_lt(failed.window_ms, base.window_ms);
    cr_expect_gt(failed.parked, 0);
    co_sim_run_free(r);
    co_sim_cluster_free(c);
}

/* The loader reads plan.faults.validate_fail_prob (0..1). */
Test(history, validate_fail_prob_in_the_file)
{
    const char *f = "{\"hosts\": [{\"name\": \"a\", \"cores\": 8, \"mem\": \"64GiB\", "
                    "\"nic_rate\": \"10Gbit\"}, {\"name\": \"b\", \"cores\": 8, "
                    "\"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"}], "
                    "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, "
                    "\"mem\": \"1GiB\"}], "
                    "\"plan\": {\"faults\": {\"validate_fail_prob\": 0.25}}}";
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    cr_assert_eq(co_sim_load_buffer(f, strlen(f), "t.json", &c, &d), CO_OK, "%s", d.msg);
    cr_expect_float_eq(c->plan.p_validate_fail, 0.25, 1e-12);
    co_sim_cluster_free(c);
    const char *bad = "{\"hosts\": [{\"name\": \"a\", \"cores\": 8, \"mem\": \"64GiB\", "
                      "\"nic_rate\": \"10Gbit\"}], "
                      "\"vms\": [], \"plan\": {\"faults\": {\"validate_fail_prob\": 2}}}";
    cr_expect_neq(co_sim_load_buffer(bad, strlen(bad), "t.json", &c, &d), CO_OK);
    cr_expect(strstr(d.msg, "validate_fail_prob") != NULL, "%s", d.msg);
}
