/* bench/bench_lab.c: figures of the lab on this machine. For each guest
 * size: boot to first heartbeat, fill time, then a real migration over
 * loopback (QEMU defaults) with total time, QEMU's downtime and the
 * heartbeat gap the guest saw. Env: CUTOVER_BENCH_LAB_ACCEL=kvm|tcg|auto,
 * CUTOVER_BENCH_LAB_MEM="256,1024" (MiB), CUTOVER_BENCH_LAB_WORKLOAD,
 * CUTOVER_BENCH_LAB_NOFILL=1 (do not wait for the guest's fill). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/lab.h"
#include "util/clock.h"
#include "drivers/qmp.h"

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6)};
    nanosleep(&ts, NULL);
}

static int run_one(double mem_mib, int accel, const char *workload)
{
    co_lab_config cfg = {0};
    cfg.mem_bytes = mem_mib * 1048576;
    cfg.workload = workload;
    cfg.accel = accel;
    cfg.boot_timeout_ms = 60000;
    co_diag d;
    co_diag_init(&d);
    co_lab *lab = NULL;
    co_qmp *q = NULL;
    int rc = co_lab_start(&cfg, &lab, &d);
    if (rc)
        goto out;
    const co_lab_info *in = co_lab_get_info(lab);
    double t_ready0 = co_clock_ms();
    /* CUTOVER_BENCH_LAB_NOFILL=1: migrate 2 s after boot, fill or not
     * (kvm_pvm emulates the guest: its fill takes minutes) */
    double fill_ms = NAN;
    const char *nofill = getenv("CUTOVER_BENCH_LAB_NOFILL");
    if (nofill && strcmp(nofill, "1") == 0) {
        sleep_ms(1000);
    } else {
        if ((rc = co_lab_wait_ready(lab, 600000, &d)))
            goto out;
        fill_ms = co_clock_ms() - t_ready0 + in->boot_ms;
    }
    sleep_ms(1000);
    if ((rc = co_qmp_connect(in->src_qmp, 5000, &q, &d)) ||
        (rc = co_qmp_migrate(q, in->migrate_uri, &d)))
        goto out;
    double t0 = co_clock_ms();
    co_drv_stats ms;
    for (;;) {
        if ((rc = co_qmp_query_migrate(q, &ms, &d)))
            goto out;
        if (ms.status == CO_DRV_MIG_COMPLETED || ms.status == CO_DRV_MIG_FAILED ||
            ms.status == CO_DRV_MIG_CANCELLED)
            break;
        if (co_clock_ms() - t0 > 600000) {
            rc = co_diag_set(&d, CO_ETIMEDOUT, "migration not done after 600 s");
            goto out;
        }
        sleep_ms(20);
    }
    double t_done = co_clock_ms(); /* within one 20 ms poll of the end */
    if (ms.status != CO_DRV_MIG_COMPLETED) {
        rc = co_diag_set(&d, CO_EFAILED, "migration %s: %s", co_drv_status_name(ms.status),
                         ms.error_desc);
        goto out;
    }
    if ((rc = co_lab_wait_heartbeat(lab, 1, t0, 10000, &d)))
        goto out;
    sleep_ms(500);
    co_lab_gap sw;
    if ((rc = co_lab_switch_gap(lab, 0, 1, &sw, &d)))
        goto out;
    co_lab_status st;
    co_lab_get_status(lab, &st);
    printf("lab %5.0f MiB %-3s  boot %6.0f ms  fill+boot %7.0f ms  migration total %7.0f ms  "
           "QEMU downtime %5.0f ms  heartbeat gap %6.1f ms (from %+.0f to %+.0f ms around the "
           "observed end)  seq %u -> %u  sent %6.1f MiB  verify errors %llu\n",
           mem_mib, in->accel, in->boot_ms, fill_ms, ms.total_time_ms, ms.downtime_ms,
           sw.gap_ms, sw.start_ms - t_done, sw.end_ms - t_done, sw.from_seq, sw.to_seq,
           ms.ram_transferred_bytes / 1048576.0, (unsigned long long)st.err_lines);
    fflush(stdout);
out:
    if (rc)
        fprintf(stderr, "bench_lab: %.0f MiB: %s\n", mem_mib, d.msg);
    co_qmp_close(q);
    co_lab_stop(lab);
    return rc;
}

int main(void)
{
    const char *a = getenv("CUTOVER_BENCH_LAB_ACCEL");
    int accel = CO_LAB_ACCEL_AUTO;
    if (a && strcmp(a, "kvm") == 0)
        accel = CO_LAB_ACCEL_KVM;
    else if (a && strcmp(a, "tcg") == 0)
        accel = CO_LAB_ACCEL_TCG;
    const char *mems = getenv("CUTOVER_BENCH_LAB_MEM");
    if (mems == NULL || *mems == '\0')
        mems = "256,1024";
    const char *w = getenv("CUTOVER_BENCH_LAB_WORKLOAD");
    if (w == NULL || *w == '\0')
        w = "pattern=uniform rate=2000 wss=64M";
    printf("workload: %s\n", w);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", mems);
    int fails = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        fails += run_one(atof(t), accel, w) != 0;
    return fails ? 1 : 0;
}
