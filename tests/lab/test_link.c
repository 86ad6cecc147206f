/* tests/lab/test_link.c: the lab's shaped link (lab/lab.h co_lab_link) on
 * real QEMU: the destination in its own network namespace behind a
 * tbf-shaped veth. The migration stream must cross the veth at no more
 * than the rate (+10%: tbf's bucket and the counters' framing), the
 * heartbeat must reach the receiver from the namespace, and namespace and
 * veth must be gone after co_lab_stop(). The lab lives in a fixture the
 * .fini stops, so a failed assertion removes them too. Needs root, ip, tc. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drivers/qmp.h"
#include "lab/lab.h"
#include "util/clock.h"
#include "test_util.h"

static co_lab *fx_lab;
static co_qmp *fx_qmp;

static void fx_fini(void)
{
    co_qmp_close(fx_qmp);
    fx_qmp = NULL;
    co_lab_stop(fx_lab);
    fx_lab = NULL;
}

static void need_link(void)
{
    co_test_need_root("network namespaces and tc");
    co_diag d;
    co_diag_init(&d);
    if (co_lab_link_available(&d) != CO_OK)
        cr_skip_test("%s", d.msg);
}

static double tx_bytes(const char *dev)
{
    char p[96];
    snprintf(p, sizeof p, "/sys/class/net/%s/statistics/tx_bytes", dev);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    double v = 0;
    cr_assert_eq(fscanf(f, "%lf", &v), 1, "%s unreadable", p);
    fclose(f);
    return v;
}

static int path_exists(const char *fmt, const char *name)
{
    char p[128];
    snprintf(p, sizeof p, fmt, name);
    return access(p, F_OK) == 0;
}

Test(lab_link, migration_runs_at_the_link_rate_and_link_is_removed, .fini = fx_fini,
     .timeout = 240)
{
    need_link();
    const double rate_bit = 200e6;
    co_lab_config cfg = {.mem_bytes = 64 * 1048576.0, .workload = "rate=100",
                         .boot_timeout_ms = 60000,
                         .link = {.rate_bits_per_s = rate_bit, .mtu = 9000}};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_start(&cfg, &fx_lab, &d), CO_OK, "co_lab_start: %s", d.msg);
    const co_lab_info *in = co_lab_get_info(fx_lab);
    char netns[40], dev[16];
    snprintf(netns, sizeof netns, "%s", in->link_netns);
    snprintf(dev, sizeof dev, "%s", in->link_dev);
    cr_assert(netns[0] && dev[0], "no link names");
    cr_assert(path_exists("/run/netns/%s", netns), "namespace %s missing", netns);
    cr_assert(strstr(in->migrate_uri, in->link_dst_addr) != NULL, "uri %s", in->migrate_uri);
    cr_assert_eq(co_lab_wait_ready(fx_lab, 120000, &d), CO_OK, "%s", d.msg);

    cr_assert_eq(co_qmp_connect(in->src_qmp, 10000, &fx_qmp, &d), CO_OK, "%s", d.msg);
    /* QEMU's default max-bandwidth (128 MiB/s) is above the link: tbf bounds it */
    double tx0 = tx_bytes(dev), t0 = co_clock_ms();
    cr_assert_eq(co_qmp_migrate(fx_qmp, in->migrate_uri, &d), CO_OK, "migrate: %s", d.msg);
    co_drv_stats st;
    for (;;) {
        co_diag_init(&d);
        cr_assert_eq(co_qmp_query_migrate(fx_qmp, &st, &d), CO_OK, "%s", d.msg);
        if (st.status == CO_DRV_MIG_COMPLETED || st.status == CO_DRV_MIG_FAILED ||
            st.status == CO_DRV_MIG_CANCELLED)
            break;
        cr_assert(co_clock_ms() - t0 < 120000, "migration not done after 120 s");
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    double t1 = co_clock_ms(), tx1 = tx_bytes(dev);
    cr_assert_eq(st.status, CO_DRV_MIG_COMPLETED, "status %s", co_drv_status_name(st.status));
    double sent = tx1 - tx0, secs = (t1 - t0) / 1000;
    double measured_bit = sent * 8 / secs;
    cr_log_info("link: %.1f MB in %.2f s over %s = %.1f Mbit/s (rate %.0f Mbit/s), QEMU "
                "ram.transferred %.1f MB, downtime %.0f ms", sent / 1e6, secs, dev,
                measured_bit / 1e6, rate_bit / 1e6, st.ram_transferred_bytes / 1e6,
                st.downtime_ms);
    /* the stream crossed the veth, not loopback */
    cr_assert(sent >= 0.9 * st.ram_transferred_bytes, "only %.1f MB crossed %s of %.1f MB sent",
              sent / 1e6, dev, st.ram_transferred_bytes / 1e6);
    cr_assert(measured_bit <= 1.10 * rate_bit, "%.1f Mbit/s over a %.0f Mbit/s link",
              measured_bit / 1e6, rate_bit / 1e6);
    /* the destination's heartbeat reaches the receiver from the namespace */
    cr_assert_eq(co_lab_wait_heartbeat(fx_lab, 1, t0, 20000, &d), CO_OK, "%s", d.msg);

    co_qmp_close(fx_qmp);
    fx_qmp = NULL;
    co_lab_stop(fx_lab);
    fx_lab = NULL;
    cr_assert(!path_exists("/run/netns/%s", netns), "namespace %s left behind", netns);
    cr_assert(!path_exists("/sys/class/net/%s", dev), "veth %s left behind", dev);
}

Test(lab_link, bad_link_is_refused_and_leaves_nothing, .fini = fx_fini)
{
    need_link();
    co_lab_config cfg = {.mem_bytes = 32 * 1048576.0, .link = {.rate_bits_per_s = 100e6, .mtu = 100}};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_start(&cfg, &fx_lab, &d), CO_EUSAGE, "%s", d.msg);
    cr_assert_null(fx_lab);
    cr_assert(strstr(d.msg, "MTU") != NULL, "%s", d.msg);
}
