/* `cutover record` against a real QEMU running the test guest (TCG, so the
 * run is the same on every machine): a trace whose curve matches the
 * guest's configured dirtying; dirty-bitmap refused on TCG with the VM left
 * alive; unreachable sockets and bad windows refused. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "lab/lab.h"
#include "test_util.h"
#include "traces/dirty_trace.h"

static char out[1 << 16], err[1 << 16];
static co_lab *lab;

static void start_lab(void)
{
    co_lab_config cfg = {0};
    cfg.mem_bytes = 128.0 * 1048576;
    cfg.workload = "pattern=uniform rate=4000 wss=32M";
    cfg.accel = CO_LAB_ACCEL_TCG;
    cfg.no_dest = 1;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_start(&cfg, &lab, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "%s", d.msg);
}

static void stop_lab(void)
{
    if (lab)
        co_lab_stop(lab);
    lab = NULL;
}

Test(record, writes_a_trace_that_matches_the_guest, .init = start_lab, .fini = stop_lab,
     .timeout = 120)
{
    char path[] = "/tmp/corec-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char args[512];
    snprintf(args, sizeof args, "record --qmp %s -o %s --windows 1s,2s --json",
             co_lab_get_info(lab)->src_qmp, path);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    co_dirty_trace t;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load(path, &t, &d), CO_OK, "%s", d.msg);
    unlink(path);
    cr_assert_eq(t.n, 2);
    cr_assert_str_eq(t.method, "calc-dirty-rate/page-sampling");
    cr_assert_float_eq(t.mem_bytes, 128.0 * 1048576, 1);
    /* uniform 4000 writes/s over 8192 pages: U(1 s) = 8192 (1 - e^-0.488) = 3164.
     * page-sampling reads 4096 pages per GiB (recorder.c) and QEMU reports whole MiB/s:
     * accept a wide band, it is a sampled estimate */
    double u1 = 8192 * (1 - exp(-4000.0 / 8192));
    cr_assert(t.dirty_pages[0] > 0.4 * u1 && t.dirty_pages[0] < 2.0 * u1, "U(1s)=%g want ~%g",
              t.dirty_pages[0], u1);
    cr_assert(t.dirty_pages[1] >= t.dirty_pages[0]);
    cr_assert(strstr(out, "\"points\""), "%s", out);
}

Test(record, dirty_bitmap_on_tcg_is_refused_and_vm_lives, .init = start_lab, .fini = stop_lab,
     .timeout = 120)
{
    char args[512];
    snprintf(args, sizeof args, "record --qmp %s -o /tmp/never.json --windows 1s --mode dirty-bitmap",
             co_lab_get_info(lab)->src_qmp);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 64, "%s", err);
    cr_assert(strstr(err, "TCG"), "%s", err);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_alive(lab, 0, &d), 1, "the source QEMU died: %s", d.msg);
}

Test(record, bad_input)
{
    cr_assert_eq(co_test_run("record --qmp /nonexistent.sock -o /tmp/x.json", out, sizeof out, err,
                             sizeof err),
                 69, "%s", err);
    cr_assert(strstr(err, "/nonexistent.sock"), "%s", err);
    cr_assert_eq(co_test_run("record --qmp /x -o /tmp/x.json --windows 500ms", out, sizeof out, err,
                             sizeof err),
                 64);
    cr_assert(strstr(err, "--windows"), "%s", err);
    cr_assert_eq(co_test_run("record --qmp /x -o /tmp/x.json --windows 2s,1s", out, sizeof out, err,
                             sizeof err),
                 64);
    cr_assert_eq(co_test_run("record -o /tmp/x.json", out, sizeof out, err, sizeof err), 64);
    cr_assert_eq(co_test_run("record --qmp /x", out, sizeof out, err, sizeof err), 64);
    cr_assert_eq(co_test_run("record --qmp /x -o /tmp/x.json --mode wild", out, sizeof out, err,
                             sizeof err),
                 64);
}
