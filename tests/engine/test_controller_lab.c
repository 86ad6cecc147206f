/* tests/engine/test_controller_lab.c: adaptive's escalations on real QEMU
 * running the test guest (lab/lab.h), with a workload that does not
 * converge at 300 ms: it writes pages as fast as its vCPU can (CPU-bound, so a
 * CPU throttle slows it; a paced guest catches up after throttle sleeps)
 * over 24 MiB while max-bandwidth is 10 MB/s, and `--link 80Mbit` says the
 * link is that slow too (so the stop-and-copy is as well). Each escalation
 * must end with the guest running on the destination; without any,
 * adaptive must abort early with the guest running on the source. Without
 * --link, the link is loopback: the stop-and-copy runs at the migration
 * thread's rate and adaptive switches at once. The lab kills its QEMUs in teardown. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/lab.h"
#include "qemu_proc.h"
#include "drivers/qmp.h"
#include "util/error.h"

static co_lab *g_lab;
static char g_out[320];

static void fini(void)
{
    co_lab_stop(g_lab);
    g_lab = NULL;
    if (g_out[0])
        unlink(g_out);
}

static void init(void)
{
    co_diag d;
    co_diag_init(&d);
    co_lab_config c = {.mem_bytes = 32 * 1048576.0,
                       .workload = "pattern=uniform rate=1000000 wss=24M"};
    cr_assert_eq(co_lab_start(&c, &g_lab, &d), CO_OK, "lab: %s", d.msg);
    cr_assert_eq(co_lab_wait_ready(g_lab, 60000, &d), CO_OK, "guest ready: %s", d.msg);
    usleep(1000000);
    snprintf(g_out, sizeof g_out, "%.250s/cutover.out", co_lab_get_info(g_lab)->dir);
}

TestSuite(controller_lab, .init = init, .fini = fini, .timeout = 180);

/* Run cutover migrate on the lab with extra flags; returns the exit code
 * and the JSON report (caller decrefs). */
static int run(const char *extra, json_t **report, char *err, size_t errlen)
{
    const co_lab_info *in = co_lab_get_info(g_lab);
    const char *bin = getenv("CUTOVER_BIN") ? getenv("CUTOVER_BIN") : "build/cutover";
    char cmd[2048], efile[300];
    snprintf(efile, sizeof efile, "%s/cutover.err", in->dir);
    snprintf(cmd, sizeof cmd,
             "timeout -s KILL 120 %s migrate --qmp %s --dest-qmp %s --uri %s --bandwidth 80Mbit "
             "--deadline 60s --json %s >%s 2>%s </dev/null",
             bin, in->src_qmp, in->dst_qmp, in->migrate_uri, extra, g_out, efile);
    int st = system(cmd);
    FILE *f = fopen(efile, "r");
    err[0] = '\0';
    if (f) {
        size_t k = fread(err, 1, errlen - 1, f);
        err[k] = '\0';
        fclose(f);
    }
    json_error_t je;
    *report = json_load_file(g_out, 0, &je);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int has_action(json_t *r, const char *what)
{
    if (r == NULL)
        return 0;
    json_t *acts = json_object_get(r, "actions");
    for (size_t i = 0; i < json_array_size(acts); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(acts, i), "what")), what) ==
            0)
            return 1;
    return 0;
}

/* The guest checks its own memory after the switch: no error lines. */
static void guest_memory_verified(void)
{
    usleep(500000);
    co_lab_status st;
    co_lab_get_status(g_lab, &st);
    cr_assert_eq(st.err_lines, 0, "guest memory verified: %s", st.first_err);
}

Test(controller_lab, nothing_allowed_aborts_early)
{
    json_t *r;
    char err[2048];
    int rc = run("--link 80Mbit", &r, err, sizeof err);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
    cr_assert_not_null(r);
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "aborted");
    cr_assert(has_action(r, "abort"));
    cr_assert_lt(json_number_value(json_object_get(r, "total_time_ms")), 45000,
                 "aborted before the 60 s deadline");
    cr_assert(strstr(err, "not converging") != NULL, "%s", err);
    json_decref(r);
    cr_assert(1 == tq_qmp_running(co_lab_get_info(g_lab)->src_qmp), "guest running on the source");
}

/* With only auto-converge allowed, adaptive throttles first. The test
 * guest paces its writes by the TSC and catches up after host stalls, so on
 * this guest a CPU throttle barely lowers the dirty rate (QEMU's
 * dirty-pages-rate stayed at ~4k pages/s at 93%): the outcome is either a
 * completion on the destination or an early, clean abort on the source,
 * never anything else. */
Test(controller_lab, throttle_first_then_complete_or_clean_abort)
{
    json_t *r;
    char err[2048];
    int rc = run("--link 80Mbit --allow auto-converge", &r, err, sizeof err);
    cr_assert_not_null(r, "a report: %s", err);
    cr_assert(has_action(r, "throttle"), "%s", json_dumps(r, 0));
    const char *status = json_string_value(json_object_get(r, "status"));
    if (rc == 0) {
        cr_assert_str_eq(status, "completed");
        cr_assert_leq(json_number_value(json_object_get(r, "downtime_ms")), 300);
        cr_assert(1 == tq_qmp_running(co_lab_get_info(g_lab)->dst_qmp),
                  "guest running on the destination");
        guest_memory_verified();
    } else {
        cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
        cr_assert_str_eq(status, "aborted");
        cr_assert(strstr(err, "throttle") != NULL, "%s", err);
        cr_assert_lt(json_number_value(json_object_get(r, "total_time_ms")), 59000,
                     "before the 60 s deadline");
        cr_assert(strstr(err, "deadline reached") == NULL, "the model's abort: %s", err);
        cr_assert(1 == tq_qmp_running(co_lab_get_info(g_lab)->src_qmp),
                  "guest running on the source");
    }
    json_decref(r);
}

Test(controller_lab, postcopy_completes)
{
    json_t *r;
    char err[2048];
    int rc = run("--link 80Mbit --allow postcopy,pause", &r, err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_assert(has_action(r, "postcopy"), "post-copy before pause: %s", json_dumps(r, 0));
    cr_assert(!has_action(r, "pause"));
    /* QEMU 7.2 has postcopy-preempt: the faulted pages get their own
     * channel (engine/policy.c, co_pol_prestart), at both ends */
    json_t *a0 = json_array_get(json_object_get(r, "actions"), 0);
    const char *why = json_string_value(json_object_get(a0, "reason"));
    cr_assert(why && strstr(why, "postcopy-preempt"), "start: %s", why ? why : "(none)");
    json_decref(r);
    cr_assert(1 == tq_qmp_running(co_lab_get_info(g_lab)->dst_qmp),
              "guest running on the destination");
    guest_memory_verified();
}

Test(controller_lab, pause_completes_and_destination_runs)
{
    json_t *r;
    char err[2048];
    int rc = run("--link 80Mbit --allow pause", &r, err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_assert(has_action(r, "pause"), "%s", json_dumps(r, 0));
    json_decref(r);
    cr_assert(1 == tq_qmp_running(co_lab_get_info(g_lab)->dst_qmp),
              "the destination was resumed after a paused migration");
}

/* Loopback, no --link: max-bandwidth holds pre-copy at 10 MB/s but QEMU
 * lifts it for the stop-and-copy, which moves the 24 MiB at the migration
 * thread's rate. Nothing allowed, and adaptive still completes by raising
 * downtime-limit past what the capped rate alone would suggest. */
Test(controller_lab, loopback_switches_at_the_thread_rate)
{
    json_t *r;
    char err[2048];
    int rc = run("--dirty-rate-probe", &r, err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "completed");
    /* seen once over 300 at load 20 (five labs on 2 cores): the JSON says by how much */
    cr_assert_leq(json_number_value(json_object_get(r, "downtime_ms")), 300, "%s",
                  json_dumps(r, 0));
    /* the hot 24 MiB went in the stop-and-copy, well above the 10 MB/s cap */
    cr_assert_gt(json_number_value(json_object_get(r, "stop_copy_bytes")), 1e6, "%s",
                 json_dumps(r, 0));
    cr_assert_gt(json_number_value(json_object_get(r, "stop_copy_rate_bytes_per_s")), 10e6);
    /* adaptive measured a 1 s window of the dirty curve beside the migration
     * (24 MiB re-written: far above QEMU's 1 MiB/s steps) and used it */
    cr_assert(has_action(r, "dirty-rate"), "%s", json_dumps(r, 0));
    json_t *acts = json_object_get(r, "actions");
    int used = 0;
    for (size_t i = 0; i < json_array_size(acts); i++) {
        json_t *a = json_array_get(acts, i);
        if (strcmp(json_string_value(json_object_get(a, "what")), "dirty-rate") == 0)
            used = strstr(json_string_value(json_object_get(a, "reason")), "a point of the dirty "
                                                                           "curve") != NULL;
    }
    cr_assert(used, "%s", json_dumps(acts, 0));
    json_decref(r);
    cr_assert(1 == tq_qmp_running(co_lab_get_info(g_lab)->dst_qmp),
              "guest running on the destination");
    guest_memory_verified();
}
