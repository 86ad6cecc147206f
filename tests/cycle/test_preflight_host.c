/* tests/cycle/test_preflight_host.c: the host probes of a cycle's preflight
 * (cycle/preflight.h co_pf_clock_check, co_pf_scratch_check,
 * co_pf_host_step) without a lab: the probes are date(1), echo(1), false(1).
 *   clock_ok            `date +%s.%N`: skew within a second, passes
 *   clock_ahead         an hour ahead: fails, the message names the host,
 *                       the skew and the limit
 *   clock_unreadable    a line that is no time: fails, the line quoted
 *   scratch             a size above scratch_min passes, below fails, a
 *                       failing probe fails with its exit code
 *   not_checked         no probes: nothing runs, the JSON and text say so
 *   bad_file            scratch_min out of range and a clock_probe with a
 *                       probe-only placeholder are refused FILE:LINE */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cycle/preflight.h"
#include "util/error.h"

TestSuite(preflight_host, .timeout = 60);

/* One host h1; hooks: the text of the "hooks" object's members ("" none);
 * exec: members of plan.execution. */
static co_sim_cluster *cluster(const char *hooks, const char *exec)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"hosts\": [{\"name\": \"h1\", \"cores\": 8, \"mem\": \"32GiB\", "
             "\"nic_rate\": \"10Gbit\", \"uri\": \"qemu+tcp://10.0.0.1/system\"}],\n"
             " \"vms\": [],\n \"hooks\": {%s},\n"
             " \"plan\": {\"execution\": {%s}}}\n",
             hooks, exec);
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "ph.json", &c, &d), CO_OK, "%s\n%s",
                 d.msg, text);
    return c;
}

Test(preflight_host, clock_ok)
{
    co_sim_cluster *c = cluster("\"clock_probe\": [\"date\", \"+%s.%N\"]", "");
    co_pf_probe p;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_pf_clock_check(c, 0, NULL, &p, &d), CO_OK, "%s", d.msg);
    cr_assert(p.checked && p.ok);
    cr_assert_lt(fabs(p.value), 1000 + p.rtt_ms, "skew %g ms", p.value);
    cr_assert_float_eq(p.limit, 300e3, 1e-9);
    co_sim_cluster_free(c);
}

Test(preflight_host, clock_ahead)
{
    co_sim_cluster *c = cluster("\"clock_probe\": [\"date\", \"-d\", \"+1 hour\", \"+%s.%N\"]",
                                "\"clock_skew_max\": \"5min\"");
    co_pf_probe p;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_pf_clock_check(c, 0, NULL, &p, &d), CO_EFAILED);
    cr_assert(p.checked && !p.ok);
    cr_assert_gt(p.value, 3590e3, "skew %g ms", p.value);
    cr_assert(strstr(d.msg, "h1: its clock is 3600.") && strstr(d.msg, "ahead of") &&
              strstr(d.msg, "clock_skew_max 300 s"), "%s", d.msg);
    json_t *o = json_object();
    co_diag_init(&d);
    cr_assert_eq(co_pf_host_step(c, 0, NULL, o, &d), CO_EFAILED);
    cr_assert(json_is_false(json_object_get(json_object_get(o, "clock"), "ok")));
    cr_assert(json_is_false(json_object_get(json_object_get(o, "scratch"), "checked")));
    json_decref(o);
    co_sim_cluster_free(c);
}

Test(preflight_host, clock_unreadable)
{
    co_sim_cluster *c = cluster("\"clock_probe\": [\"echo\", \"Wed Dec  2 12:00:00 UTC\"]", "");
    co_pf_probe p;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_pf_clock_check(c, 0, NULL, &p, &d), CO_EFAILED);
    cr_assert(strstr(d.msg, "not Unix seconds") && strstr(d.msg, "'Wed Dec  2 12:00:00 UTC'"),
              "%s", d.msg);
    co_sim_cluster_free(c);
}

Test(preflight_host, scratch)
{
    co_pf_probe p;
    co_diag d;
    co_sim_cluster *c = cluster("\"scratch_probe\": [\"echo\", \"2147483648\"]", "");
    co_diag_init(&d);
    cr_assert_eq(co_pf_scratch_check(c, 0, NULL, &p, &d), CO_OK, "%s", d.msg);
    cr_assert(p.ok);
    cr_assert_float_eq(p.value, 2147483648.0, 1e-3);
    co_sim_cluster_free(c);

    c = cluster("\"scratch_probe\": [\"echo\", \"100MiB\"]", "\"scratch_min\": \"512MiB\"");
    co_diag_init(&d);
    cr_assert_eq(co_pf_scratch_check(c, 0, NULL, &p, &d), CO_EFAILED);
    cr_assert(strstr(d.msg, "h1: 100 MiB of scratch space free, below "
                            "plan.execution.scratch_min 512 MiB"), "%s", d.msg);
    co_sim_cluster_free(c);

    c = cluster("\"scratch_probe\": [\"false\"]", "");
    co_diag_init(&d);
    cr_assert_eq(co_pf_scratch_check(c, 0, NULL, &p, &d), CO_EFAILED);
    cr_assert(strstr(d.msg, "h1: scratch_probe failed (exit 1)"), "%s", d.msg);
    co_sim_cluster_free(c);
}

Test(preflight_host, not_checked)
{
    co_sim_cluster *c = cluster("", "");
    json_t *o = json_object();
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_pf_host_step(c, 0, NULL, o, &d), CO_OK);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "clock"), "why")),
                     "not checked (no clock_probe hook)");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "scratch"), "why")),
                     "not checked (no scratch_probe hook)");
    char buf[512] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");
    co_pf_probe_text("clock", json_object_get(o, "clock"), "  ", f);
    fclose(f);
    cr_assert_str_eq(buf, "  clock: not checked (no clock_probe hook)\n");
    json_decref(o);
    co_sim_cluster_free(c);
}

Test(preflight_host, bad_file)
{
    const char *bad[][2] = {
        {"\"clock_probe\": [\"date\"]", "\"scratch_min\": \"-1GiB\""},
        {"\"clock_probe\": [\"ping\", \"{peer_addr}\"]", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"hosts\": [{\"name\": \"h1\", \"cores\": 8, \"mem\": \"32GiB\", "
                 "\"nic_rate\": \"10Gbit\"}],\n \"vms\": [],\n \"hooks\": {%s},\n"
                 " \"plan\": {\"execution\": {%s}}}\n",
                 bad[i][0], bad[i][1]);
        co_sim_cluster *c = NULL;
        co_diag d;
        co_diag_init(&d);
        cr_assert_neq(co_sim_load_buffer(text, strlen(text), "ph.json", &c, &d), CO_OK, "%s",
                      text);
        cr_assert(strstr(d.msg, "ph.json:"), "no position: %s", d.msg);
        cr_assert(strstr(d.msg, i == 0 ? "scratch_min" : "hooks.clock_probe"), "%s", d.msg);
    }
}
