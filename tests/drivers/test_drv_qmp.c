/* tests/drivers/test_drv_qmp.c: the QMP migration driver (drivers/drv_qmp.h)
 * driving real migrations between two QEMU 7.2 processes on loopback.
 * QEMUs are killed in the fini hook (also after a failed assertion). */
#include <criterion/criterion.h>
#include <math.h>

#include "drv_pair.h"

TestSuite(drv_qmp, .init = drv_pair_open, .fini = drv_pair_close, .timeout = 90);

/* Apply the tunables and migrate to the destination on loopback. */
static void start_with(const co_drv_tunables *s)
{
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(drv->ops->set_tunables(drv, s, &d), CO_OK, "%s", d.msg);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", port);
    cr_assert_eq(drv->ops->start(drv, uri, &d), CO_OK, "%s", d.msg);
}

/* Poll until QEMU says active (5 s at most); the last sample. */
static co_drv_stats poll_until_active(void)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_event evs[4];
    int n;
    co_drv_stats st;
    double t0 = tq_mono_ms();
    do
        cr_assert_eq(drv->ops->poll(drv, 50, evs, 4, &n, &st, &d), CO_OK, "%s", d.msg);
    while (st.status != CO_DRV_MIG_ACTIVE && tq_mono_ms() - t0 < 5000);
    return st;
}

Test(drv_qmp, tunables_round_trip)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &d), CO_OK, "%s", d.msg);
    /* QEMU 7.2 defaults. */
    cr_assert_eq(t.downtime_limit_ms, 300);
    cr_assert_eq(t.max_bandwidth_bytes_per_s, 134217728);
    cr_assert_eq(t.multifd_channels, 1);
    cr_assert_eq(t.auto_converge, 0);
    cr_assert_eq(t.cpu_throttle_initial_pct, 20);
    cr_assert_eq(t.cpu_throttle_increment_pct, 10);
    co_drv_tunables orig = t;

    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.downtime_limit_ms = 120;
    s.max_bandwidth_bytes_per_s = 0; /* unlimited */
    s.auto_converge = 1;
    s.multifd_channels = 4;
    s.cpu_throttle_initial_pct = 30;
    cr_assert_eq(drv->ops->set_tunables(drv, &s, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(t.downtime_limit_ms, 120);
    cr_assert_eq(t.max_bandwidth_bytes_per_s, 0);
    cr_assert_eq(t.auto_converge, 1);
    cr_assert_eq(t.multifd_channels, 4);
    cr_assert_eq(t.cpu_throttle_initial_pct, 30);
    cr_assert_eq(t.cpu_throttle_increment_pct, 10); /* left as is */

    /* Putting the originals back restores them exactly. */
    cr_assert_eq(drv->ops->set_tunables(drv, &orig, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(memcmp(&t, &orig, sizeof t), 0);

    /* Out-of-range values: ours are refused before QEMU sees them, QEMU's
     * own checks come back as a clear error. */
    co_diag_init(&d);
    cr_assert_eq(drv->ops->set_downtime_limit(drv, -1, &d), CO_ERANGE);
    co_diag_init(&d);
    cr_assert_eq(drv->ops->set_throttle(drv, 150, 10, &d), CO_EFAILED);
    cr_assert(strstr(d.msg, "cpu_throttle_initial") || strstr(d.msg, "cpu-throttle-initial"),
              "%s", d.msg);
}

Test(drv_qmp, migration_with_events_and_live_changes)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.max_bandwidth_bytes_per_s = 20e6;
    s.downtime_limit_ms = 300;
    start_with(&s);

    co_drv_event evs[8];
    int n, status_seen[CO_DRV_MIG_WAIT_UNPLUG + 1] = {0}, passes = 0, stops = 0, polls = 0;
    co_drv_stats st;
    double t0 = tq_mono_ms();
    int changed = 0, probing = 0;
    do {
        cr_assert_eq(drv->ops->poll(drv, 100, evs, 8, &n, &st, &d), CO_OK, "%s", d.msg);
        polls++;
        for (int i = 0; i < n; i++) {
            if (evs[i].kind == CO_DRV_EV_STATUS)
                status_seen[evs[i].status]++;
            if (evs[i].kind == CO_DRV_EV_PASS)
                cr_assert_eq(evs[i].pass, ++passes);
            if (evs[i].kind == CO_DRV_EV_STOP)
                stops++;
            cr_assert(evs[i].at_ms <= tq_mono_ms());
        }
        if (!probing && st.status == CO_DRV_MIG_ACTIVE) {
            /* QEMU's page-sampling dirty-rate measurement runs beside it */
            cr_assert_eq(drv->ops->dirty_rate_start(drv, 1, 4096, &d), CO_OK, "%s", d.msg);
            co_diag busy;
            co_diag_init(&busy);
            /* busy, unless QEMU 7.2's measuring thread has not started yet
             * (it sets "measuring" itself, so a second request races it) */
            int brc = drv->ops->dirty_rate_start(drv, 1, 4096, &busy);
            cr_assert(brc == CO_EBUSY || brc == CO_OK, "%d %s", brc, busy.msg);
            probing = 1;
        }
        if (!changed && st.status == CO_DRV_MIG_ACTIVE && st.ram_transferred_bytes > 8e6) {
            /* Live changes are accepted mid-migration. */
            cr_assert_eq(drv->ops->set_downtime_limit(drv, 250, &d), CO_OK, "%s", d.msg);
            cr_assert_eq(drv->ops->set_max_bandwidth(drv, 40e6, &d), CO_OK, "%s", d.msg);
            changed = 1;
        }
        cr_assert(tq_mono_ms() - t0 < 60000);
    } while (st.status != CO_DRV_MIG_COMPLETED && st.status != CO_DRV_MIG_FAILED);
    cr_assert_eq(st.status, CO_DRV_MIG_COMPLETED, "%s", st.error_desc);
    cr_assert(changed);
    /* Events that arrived after the last poll's wait are still queued. */
    while (drv->ops->poll(drv, 100, evs, 8, &n, &st, &d) == CO_OK && n > 0)
        for (int i = 0; i < n; i++) {
            if (evs[i].kind == CO_DRV_EV_STATUS)
                status_seen[evs[i].status]++;
            if (evs[i].kind == CO_DRV_EV_PASS)
                cr_assert_eq(evs[i].pass, ++passes);
            if (evs[i].kind == CO_DRV_EV_STOP)
                stops++;
        }
    cr_assert_eq(status_seen[CO_DRV_MIG_SETUP], 1);
    cr_assert_eq(status_seen[CO_DRV_MIG_ACTIVE], 1);
    cr_assert_eq(status_seen[CO_DRV_MIG_COMPLETED], 1);
    cr_assert(passes >= 2);
    cr_assert_eq(stops, 1);
    cr_assert(polls >= 5);
    cr_assert(probing);
    int measured = 0;
    double mib = -1;
    for (int i = 0; i < 60 && !measured; i++) {
        cr_assert_eq(drv->ops->dirty_rate_read(drv, &measured, &mib, &d), CO_OK, "%s", d.msg);
        if (!measured)
            usleep(100000);
    }
    cr_assert(measured, "dirty rate measured within 6 s");
    cr_assert_geq(mib, 0);
    int running = -1;
    cr_assert_eq(drv->ops->guest_running(drv, &running, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(running, 0); /* the source stays stopped in postmigrate */
    cr_assert(strstr(drv->ops->vm_id(drv), "src.qmp") != NULL);
}

Test(drv_qmp, cancel_returns_when_cancelled_guest_running)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.max_bandwidth_bytes_per_s = 5e6;
    start_with(&s);
    co_drv_event evs[4];
    int n;
    co_drv_stats st = poll_until_active();
    cr_assert_eq(drv->ops->cancel(drv, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(drv->ops->poll(drv, 0, evs, 4, &n, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.status, CO_DRV_MIG_CANCELLED);
    int running = 0;
    cr_assert_eq(drv->ops->guest_running(drv, &running, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(running, 1);
}

Test(drv_qmp, pause_resume_and_bad_uri)
{
    co_diag d;
    co_diag_init(&d);
    int running = -1;
    cr_assert_eq(drv->ops->pause_guest(drv, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(drv->ops->guest_running(drv, &running, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(running, 0);
    cr_assert_eq(drv->ops->resume_guest(drv, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(drv->ops->guest_running(drv, &running, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(running, 1);
    cr_assert_eq(drv->ops->start(drv, "", &d), CO_EUSAGE);
    const char *bad[] = {"bogus:thing", "tcp:", "tcp:host", "tcp:127.0.0.1:0",
                         "tcp:127.0.0.1:70000", "tcp:127.0.0.1:44x", "unix:", "127.0.0.1:4444"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        co_diag_init(&d);
        cr_assert_eq(drv->ops->start(drv, bad[i], &d), CO_EUSAGE, "%s", bad[i]);
        cr_assert(strstr(d.msg, bad[i]), "%s", d.msg);
    }
    /* Nothing started. */
    co_diag_init(&d);
    co_drv_stats st;
    co_drv_event evs[2];
    int n;
    cr_assert_eq(drv->ops->poll(drv, 0, evs, 2, &n, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.status, CO_DRV_MIG_NONE);
    cr_assert_eq(co_drv_qmp_check_uri("tcp:[::1]:4444", &d), CO_OK);
    cr_assert_eq(co_drv_qmp_check_uri("exec:cat > /dev/null", &d), CO_OK);
    cr_assert_not_null(co_drv_qmp_conn(drv));
}

Test(drv_qmp, source_killed_mid_migration)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.max_bandwidth_bytes_per_s = 5e6;
    start_with(&s);
    co_drv_event evs[4];
    int n;
    co_drv_stats st;
    cr_assert_eq(drv->ops->poll(drv, 200, evs, 4, &n, &st, &d), CO_OK, "%s", d.msg);
    tq_stop(&src);
    double t0 = tq_mono_ms();
    int rc = drv->ops->poll(drv, 200, evs, 4, &n, &st, &d);
    cr_assert_eq(rc, CO_EUNAVAIL, "rc %d: %s", rc, d.msg);
    cr_assert(tq_mono_ms() - t0 < 2000);
    cr_assert(strstr(d.msg, "closed the connection"), "%s", d.msg);
}

Test(drv_qmp, open_missing_socket)
{
    co_diag d;
    co_diag_init(&d);
    co_drv *x = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/nope.qmp", dir);
    cr_assert_eq(co_drv_qmp_open(path, 500, &x, &d), CO_EUNAVAIL);
    cr_assert_null(x);
    cr_assert(strstr(d.msg, "nope.qmp"), "%s", d.msg);
}

/* Capabilities the destination must share are set on it directly. */
static void dest_capability(const char *name)
{
    co_qmp *qd = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_connect(dst.qmp, 5000, &qd, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_qmp_set_capability(qd, name, 1, &d), CO_OK, "%s", d.msg);
    co_qmp_close(qd);
}

static co_drv_stats run_to_end(int postcopy_after_bytes, int *saw_postcopy)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_event evs[8];
    int n, switched = 0;
    co_drv_stats st;
    double t0 = tq_mono_ms();
    do {
        cr_assert_eq(drv->ops->poll(drv, 50, evs, 8, &n, &st, &d), CO_OK, "%s", d.msg);
        for (int i = 0; i < n; i++)
            if (evs[i].kind == CO_DRV_EV_STATUS && evs[i].status == CO_DRV_MIG_POSTCOPY_ACTIVE)
                *saw_postcopy = 1;
        if (postcopy_after_bytes > 0 && !switched && st.status == CO_DRV_MIG_ACTIVE &&
            st.ram_transferred_bytes > postcopy_after_bytes) {
            cr_assert_eq(drv->ops->start_postcopy(drv, &d), CO_OK, "%s", d.msg);
            switched = 1;
        }
        cr_assert(tq_mono_ms() - t0 < 60000, "still %s after 60 s", co_drv_status_name(st.status));
    } while (st.status != CO_DRV_MIG_COMPLETED && st.status != CO_DRV_MIG_FAILED);
    return st;
}

Test(drv_qmp, postcopy_switch)
{
    dest_capability("postcopy-ram");
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.postcopy_ram = 1;
    s.max_bandwidth_bytes_per_s = 20e6;
    start_with(&s);
    int saw = 0;
    co_drv_stats st = run_to_end(8000000, &saw);
    cr_assert_eq(st.status, CO_DRV_MIG_COMPLETED, "%s", st.error_desc);
    cr_assert(saw, "no postcopy-active event");
    cr_assert(st.ram_postcopy_bytes > 0, "postcopy bytes %.0f", st.ram_postcopy_bytes);
}

Test(drv_qmp, multifd_two_channels)
{
    dest_capability("multifd");
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.multifd_channels = 2;
    s.max_bandwidth_bytes_per_s = 40e6;
    start_with(&s);
    int saw = 0;
    co_drv_stats st = run_to_end(0, &saw);
    cr_assert_eq(st.status, CO_DRV_MIG_COMPLETED, "%s", st.error_desc);
    cr_assert(st.ram_multifd_bytes > 16e6, "multifd bytes %.0f", st.ram_multifd_bytes);
}

Test(drv_qmp, destination_killed_guest_keeps_running)
{
    co_diag d;
    co_diag_init(&d);
    co_drv_tunables s;
    co_drv_tunables_init(&s);
    s.max_bandwidth_bytes_per_s = 5e6;
    start_with(&s);
    co_drv_event evs[4];
    int n;
    co_drv_stats st = poll_until_active();
    cr_assert_eq(st.status, CO_DRV_MIG_ACTIVE);
    tq_stop(&dst);
    double t0 = tq_mono_ms();
    do
        cr_assert_eq(drv->ops->poll(drv, 50, evs, 4, &n, &st, &d), CO_OK, "%s", d.msg);
    while (st.status == CO_DRV_MIG_ACTIVE && tq_mono_ms() - t0 < 10000);
    cr_assert_eq(st.status, CO_DRV_MIG_FAILED, "status %s", co_drv_status_name(st.status));
    cr_assert(st.error_desc[0] != '\0');
    int running = 0;
    cr_assert_eq(drv->ops->guest_running(drv, &running, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(running, 1);
}
