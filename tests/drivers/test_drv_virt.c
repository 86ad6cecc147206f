/* tests/drivers/test_drv_virt.c: the libvirt driver against two real libvirtd
 * daemons (tests/libvirt/bed.sh) and a real KVM guest (the dirtier).
 *
 * Each test brings up its own bed (3 to 7 s here) and tears it down in fini,
 * also when an assertion fails; if the test process dies, the bed's watchdog
 * tears it down. Skipped when not root or without libvirtd/KVM. Suite
 * drv_virt (plain make check, about 35 s): a migration a->b->a with stats,
 * destination killed, bad destination, open errors, the monitor passthrough
 * (--allow qemu-monitor). Suite drv_virt_slow
 * (CUTOVER_SLOW=1): cancel, post-copy, pause then cancel. */
#include <criterion/criterion.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <math.h>

#include "drivers/drv_virt.h"
#include "libvirt/bed.h"

static co_bed bed;

static void bed_init(void)
{
    const char *why = co_bed_unavailable();
    if (why)
        cr_skip_test("%s", why);
    char err[512];
    if (co_bed_up(&bed, err, sizeof err) != 0)
        cr_assert_fail("bed: %s", err);
    fprintf(stderr, "[virt] bed up in %.0f ms (%s)\n", bed.up_ms, bed.dir);
}

/* Suite drv_virt_slow: the extra policies' paths (cancel, post-copy,
 * pause), about 20 s more; only with CUTOVER_SLOW=1 (make check-slow). */
static void bed_init_slow(void)
{
    const char *slow = getenv("CUTOVER_SLOW");
    if (slow == NULL || strcmp(slow, "1") != 0)
        cr_skip_test("slow libvirt test: run with CUTOVER_SLOW=1 (make check-slow)");
    bed_init();
}

static void bed_fini(void)
{
    co_bed_down(&bed);
}

/* Start the dirtier guest NAME on daemon a, wait until its RAM is filled. */
static void start_guest(const char *name, int payload_mib, const char *cmdline)
{
    char err[512];
    double t0 = co_bed_now_ms();
    cr_assert_eq(co_bed_start_guest(&bed, name, payload_mib, cmdline, err, sizeof err), 0, "%s",
                 err);
    fprintf(stderr, "[virt] guest %s (%d MiB payload) ready in %.0f ms\n", name, payload_mib,
            co_bed_now_ms() - t0);
}

static void define_guest(const char *name)
{
    char err[512];
    cr_assert_eq(co_bed_make_domain(&bed, name, 0, "", 0, err, sizeof err), 0, "%s", err);
}

static co_drv *open_drv(const char *name)
{
    co_virt_opts o = {.conn_uri = bed.uri_a, .domain = name, .timeout_ms = 5000};
    co_drv *drv = NULL;
    co_diag dg;
    co_diag_init(&dg);
    int rc = co_virt_open(&o, &drv, &dg);
    cr_assert_eq(rc, CO_OK, "open: %s", dg.msg);
    return drv;
}

typedef struct run_result {
    int samples, active_samples, passes, status, status_events, last_status_event;
    double first_transferred, last_transferred;
    co_drv_stats final;
    double total_ms;
} run_result;

/* Poll every 50 ms until the migration ends or limit_ms passes; call
 * at_bytes(drv) once, when transferred data first exceeds trigger_bytes. */
static void run_until_done(co_drv *drv, run_result *r, int limit_ms, double trigger_bytes,
                           void (*trigger)(co_drv *))
{
    memset(r, 0, sizeof *r);
    r->first_transferred = NAN;
    double t0 = co_bed_now_ms();
    int fired = 0;
    for (;;) {
        co_drv_event ev[16];
        int n = 0;
        co_drv_stats st;
        co_diag dg;
        co_diag_init(&dg);
        cr_assert_eq(drv->ops->poll(drv, 50, ev, 16, &n, &st, &dg), CO_OK, "poll: %s", dg.msg);
        r->samples++;
        for (int i = 0; i < n; i++) {
            if (ev[i].kind == CO_DRV_EV_PASS)
                r->passes++;
            if (ev[i].kind == CO_DRV_EV_STATUS) {
                r->status_events++;
                r->last_status_event = ev[i].status;
            }
        }
        if (st.status == CO_DRV_MIG_ACTIVE) {
            r->active_samples++;
            if (isnan(r->first_transferred))
                r->first_transferred = st.ram_transferred_bytes;
            r->last_transferred = st.ram_transferred_bytes;
            cr_expect(st.ram_total_bytes >= 256.0 * 1048576, "ram_total %g",
                      st.ram_total_bytes);
        }
        if (trigger && !fired && st.ram_transferred_bytes > trigger_bytes) {
            fired = 1;
            trigger(drv);
        }
        if (st.status == CO_DRV_MIG_COMPLETED || st.status == CO_DRV_MIG_FAILED ||
            st.status == CO_DRV_MIG_CANCELLED) {
            r->status = st.status;
            r->final = st;
            r->total_ms = co_bed_now_ms() - t0;
            return;
        }
        cr_assert(co_bed_now_ms() - t0 < limit_ms, "migration still running after %d ms",
                  limit_ms);
    }
}

TestSuite(drv_virt, .init = bed_init, .fini = bed_fini, .timeout = 180);
TestSuite(drv_virt_slow, .init = bed_init_slow, .fini = bed_fini, .timeout = 180);

Test(drv_virt, migrates_a_to_b_with_stats)
{
    start_guest("co-mig", 160, "dirty_mib=8 spin=20000");
    co_drv *drv = open_drv("co-mig");
    co_diag dg;
    co_diag_init(&dg);
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_expect(t.downtime_limit_ms > 0, "default downtime limit %g", t.downtime_limit_ms);
    /* 40 MiB/s: ~4 s for 160 MiB, so there are samples to see even when the
     * live change below waits on libvirt's job lock for a while */
    t.downtime_limit_ms = 500;
    t.max_bandwidth_bytes_per_s = 40.0 * 1048576;
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    co_drv_tunables back;
    cr_assert_eq(drv->ops->get_tunables(drv, &back, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(back.downtime_limit_ms, 500);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    /* the limit kept back before the start is in force once the job runs */
    cr_expect_eq(co_bed_max_downtime(bed.uri_a, "co-mig"), 500);
    /* live change during the run */
    cr_expect_eq(drv->ops->set_max_bandwidth(drv, 50.0 * 1048576, &dg), CO_OK, "%s", dg.msg);
    run_result r;
    run_until_done(drv, &r, 60000, 0, NULL);
    fprintf(stderr,
            "[virt] 256 MiB guest (160 MiB random, 8 MiB dirtied) migrated in %.0f ms "
            "(libvirt: %.0f ms, downtime %.0f ms, %.1f MiB sent, %d samples, %d pass events, "
            "iteration %lld)\n",
            r.total_ms, r.final.total_time_ms, r.final.downtime_ms,
            r.final.ram_transferred_bytes / 1048576, r.samples, r.passes,
            (long long)r.final.ram_dirty_sync_count);
    cr_assert_eq(r.status, CO_DRV_MIG_COMPLETED, "status %d: %s", r.status, r.final.error_desc);
    cr_expect_geq(r.active_samples, 3, "only %d samples while active", r.active_samples);
    cr_expect_gt(r.last_transferred, r.first_transferred, "transferred did not grow");
    cr_expect_geq(r.passes, 1, "no migration-iteration event");
    cr_expect_geq(r.status_events, 2, "status events: %d", r.status_events);
    cr_expect_eq(r.last_status_event, CO_DRV_MIG_COMPLETED, "last status event %d",
                 r.last_status_event);
    cr_expect(isfinite(r.final.downtime_ms), "no final downtime");
    cr_expect_geq(r.final.ram_transferred_bytes, 155.0 * 1048576, "sent only %g bytes",
                  r.final.ram_transferred_bytes);
    int running = -1;
    cr_expect_eq(drv->ops->guest_running(drv, &running, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(running, 0, "guest still running on the source");
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-mig"), VIR_DOMAIN_RUNNING, "not running on b");
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-mig"), -1, "still defined on a");
    cr_expect_eq(strlen(drv->ops->vm_id(drv)), 36);
    drv->ops->close(drv);

    /* and back from b to a, bandwidth unlimited: b's daemon opens the
     * peer-to-peer connection to a over the veth this time */
    co_virt_opts ob = {.conn_uri = bed.uri_b, .domain = "co-mig", .timeout_ms = 5000};
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&ob, &drv, &dg), CO_OK, "open on b: %s", dg.msg);
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    t.max_bandwidth_bytes_per_s = 0;
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(drv->ops->start(drv, "qemu+tcp://169.254.77.1/system", &dg), CO_OK, "start: %s",
                 dg.msg);
    run_until_done(drv, &r, 60000, 0, NULL);
    fprintf(stderr,
            "[virt] back b->a, unlimited: %.0f ms after start (libvirt: %.0f ms, downtime %.0f "
            "ms, %.1f MiB sent, iteration %lld)\n",
            r.total_ms, r.final.total_time_ms, r.final.downtime_ms,
            r.final.ram_transferred_bytes / 1048576, (long long)r.final.ram_dirty_sync_count);
    cr_assert_eq(r.status, CO_DRV_MIG_COMPLETED, "status %d: %s", r.status, r.final.error_desc);
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-mig"), VIR_DOMAIN_RUNNING, "not running on a");
    drv->ops->close(drv);
}

static void postcopy_now(co_drv *drv)
{
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->start_postcopy(drv, &dg), CO_OK, "start_postcopy: %s", dg.msg);
}

Test(drv_virt_slow, postcopy_switch_completes_on_b)
{
    start_guest("co-pc", 160, "dirty_mib=8 spin=20000");
    co_drv *drv = open_drv("co-pc");
    co_diag dg;
    co_diag_init(&dg);
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    t.max_bandwidth_bytes_per_s = 20.0 * 1048576;
    t.postcopy_ram = 1;
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    /* post-copy bandwidth is libvirt's bandwidth.postcopy (unlimited here) */
    run_result r;
    int saw_postcopy = 0;
    double t0 = co_bed_now_ms();
    int fired = 0;
    for (;;) {
        co_drv_event ev[16];
        int n = 0;
        co_drv_stats st;
        co_diag_init(&dg);
        cr_assert_eq(drv->ops->poll(drv, 50, ev, 16, &n, &st, &dg), CO_OK, "poll: %s", dg.msg);
        for (int i = 0; i < n; i++)
            if (ev[i].kind == CO_DRV_EV_STATUS && ev[i].status == CO_DRV_MIG_POSTCOPY_ACTIVE)
                saw_postcopy = 1;
        if (st.status == CO_DRV_MIG_POSTCOPY_ACTIVE)
            saw_postcopy = 1;
        if (!fired && st.ram_transferred_bytes > 10.0 * 1048576) {
            fired = 1;
            postcopy_now(drv);
        }
        if (st.status == CO_DRV_MIG_COMPLETED || st.status == CO_DRV_MIG_FAILED ||
            st.status == CO_DRV_MIG_CANCELLED) {
            r.status = st.status;
            r.final = st;
            break;
        }
        cr_assert(co_bed_now_ms() - t0 < 60000, "post-copy migration still running");
    }
    fprintf(stderr, "[virt] post-copy: %.0f ms, downtime %.0f ms, %.0f page requests\n",
            co_bed_now_ms() - t0, r.final.downtime_ms, r.final.ram_postcopy_requests);
    cr_assert_eq(r.status, CO_DRV_MIG_COMPLETED, "status %d: %s", r.status, r.final.error_desc);
    cr_expect(saw_postcopy, "never saw postcopy-active");
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-pc"), VIR_DOMAIN_RUNNING, "not running on b");
    drv->ops->close(drv);
}

static void pause_then_cancel(co_drv *drv)
{
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->pause_guest(drv, &dg), CO_OK, "pause: %s", dg.msg);
    int running = 1;
    cr_assert_eq(drv->ops->guest_running(drv, &running, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(running, 0, "guest not paused");
    cr_assert_eq(drv->ops->cancel(drv, &dg), CO_OK, "cancel: %s", dg.msg);
}

Test(drv_virt_slow, paused_then_cancelled_guest_runs_again_after_close)
{
    start_guest("co-pause", 160, "");
    co_drv *drv = open_drv("co-pause");
    co_diag dg;
    co_diag_init(&dg);
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    t.max_bandwidth_bytes_per_s = 20.0 * 1048576;
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    run_result r;
    run_until_done(drv, &r, 60000, 10.0 * 1048576, pause_then_cancel);
    cr_assert_eq(r.status, CO_DRV_MIG_CANCELLED, "status %d: %s", r.status, r.final.error_desc);
    /* the driver paused it, the migration did not complete: close resumes */
    drv->ops->close(drv);
    cr_assert_eq(co_bed_domain_state(bed.uri_a, "co-pause"), VIR_DOMAIN_RUNNING,
                 "guest left paused on the source");
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-pause"), -1, "left behind on b");
}

static void kill_b(co_drv *drv)
{
    (void)drv;
    cr_assert_eq(co_bed_kill_daemon(&bed, "b"), 0, "kill libvirtd b");
}

Test(drv_virt, destination_killed_leaves_guest_on_source)
{
    start_guest("co-kill", 160, "");
    co_drv *drv = open_drv("co-kill");
    co_diag dg;
    co_diag_init(&dg);
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    t.max_bandwidth_bytes_per_s = 20.0 * 1048576; /* ~10 s: time to kill b mid-way */
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    run_result r;
    run_until_done(drv, &r, 60000, 20.0 * 1048576, kill_b);
    fprintf(stderr, "[virt] destination killed: %s after %.0f ms: %s\n",
            r.status == CO_DRV_MIG_FAILED ? "failed" : "?", r.total_ms, r.final.error_desc);
    cr_assert_eq(r.status, CO_DRV_MIG_FAILED, "status %d", r.status);
    cr_expect_neq(r.final.error_desc[0], '\0', "no error text");
    int running = 0;
    cr_assert_eq(drv->ops->guest_running(drv, &running, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(running, 1, "guest not running on the source");
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-kill"), VIR_DOMAIN_RUNNING);
    drv->ops->close(drv);
}

/* A migration cancelled: the guest still runs on the source. */
static void expect_cancelled_on_source(co_drv *drv, const run_result *r)
{
    cr_assert_eq(r->status, CO_DRV_MIG_CANCELLED, "status %d: %s", r->status,
                 r->final.error_desc);
    int running = 0;
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->guest_running(drv, &running, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(running, 1, "guest not running on the source");
}

static void cancel_now(co_drv *drv)
{
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->cancel(drv, &dg), CO_OK, "cancel: %s", dg.msg);
}

Test(drv_virt_slow, cancel_leaves_guest_running_on_source)
{
    start_guest("co-cancel", 160, "");
    co_drv *drv = open_drv("co-cancel");
    co_diag dg;
    co_diag_init(&dg);
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    t.max_bandwidth_bytes_per_s = 20.0 * 1048576;
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    run_result r;
    run_until_done(drv, &r, 60000, 10.0 * 1048576, cancel_now);
    expect_cancelled_on_source(drv, &r);
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-cancel"), -1, "left behind on b");
    drv->ops->close(drv);
}

Test(drv_virt, bad_destination_fails_before_anything_changes)
{
    start_guest("co-bad", 0, "");
    co_drv *drv = open_drv("co-bad");
    co_diag dg;

    /* tunables: "leave as is" changes nothing; what libvirt cannot set is
     * refused before anything changes */
    co_drv_tunables keep, tun0, tun1;
    co_drv_tunables_init(&keep);
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->get_tunables(drv, &tun0, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(tun0.max_cpu_throttle_pct, 99);
    cr_expect_eq(tun0.multifd_channels, 1);
    cr_assert_eq(drv->ops->set_tunables(drv, &keep, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(drv->ops->set_tunables(drv, &tun0, &dg), CO_OK, "round trip: %s", dg.msg);
    co_drv_tunables bad = keep;
    bad.downtime_limit_ms = 123;
    bad.max_cpu_throttle_pct = 80;
    cr_expect_eq(drv->ops->set_tunables(drv, &bad, &dg), CO_EUSAGE, "%s", dg.msg);
    cr_expect(strstr(dg.msg, "max-cpu-throttle") != NULL, "%s", dg.msg);
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->get_tunables(drv, &tun1, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(tun1.downtime_limit_ms, tun0.downtime_limit_ms, "downtime changed by a refused set");

    /* not a URI at all: refused before libvirt is asked */
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->start(drv, "not a uri", &dg), CO_EUSAGE, "%s", dg.msg);
    cr_expect(strstr(dg.msg, "not a uri") != NULL, "message does not name the URI: %s", dg.msg);

    /* well-formed but unreachable (no route inside a's namespace); the
     * downtime limit asked before it is kept back until the job runs, so
     * the domain's own limit never changes */
    long long dt0 = co_bed_max_downtime(bed.uri_a, "co-bad");
    co_drv_tunables lim = keep;
    lim.downtime_limit_ms = dt0 == 123 ? 124 : 123;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->set_tunables(drv, &lim, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(co_bed_max_downtime(bed.uri_a, "co-bad"), dt0, "changed before the start");
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->get_tunables(drv, &tun1, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(tun1.downtime_limit_ms, lim.downtime_limit_ms, "the limit asked for");
    co_diag_init(&dg);
    double t0 = co_bed_now_ms();
    int rc = drv->ops->start(drv, "qemu+tcp://169.254.77.9/system", &dg);
    double took = co_bed_now_ms() - t0;
    fprintf(stderr, "[virt] unreachable destination: %s (%.0f ms)\n", dg.msg, took);
    cr_assert_eq(rc, CO_EUNAVAIL, "rc %d: %s", rc, dg.msg);
    cr_expect(strstr(dg.msg, "169.254.77.9") != NULL, "message does not name the URI: %s",
              dg.msg);
    cr_expect(strchr(dg.msg, '\n') == NULL, "not one line");
    int running = 0;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->guest_running(drv, &running, &dg), CO_OK, "%s", dg.msg);
    cr_assert_eq(running, 1, "guest not running on the source");
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-bad"), -1);
    cr_assert_eq(co_bed_max_downtime(bed.uri_a, "co-bad"), dt0, "changed by a refused start");
    /* what the caller puts back after the refusal supersedes the kept limit */
    co_drv_tunables back = keep;
    back.downtime_limit_ms = (double)dt0;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->set_tunables(drv, &back, &dg), CO_OK, "%s", dg.msg);

    /* the same driver then migrates to the right destination */
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    run_result r;
    run_until_done(drv, &r, 60000, 0, NULL);
    cr_assert_eq(r.status, CO_DRV_MIG_COMPLETED, "status %d: %s", r.status, r.final.error_desc);
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-bad"), VIR_DOMAIN_RUNNING);
    co_diag_init(&dg);
    cr_expect_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_EUSAGE, "second start: %s",
                 dg.msg);
    drv->ops->close(drv);
}

/* --allow qemu-monitor: what libvirt 9.0 cannot set (max-cpu-throttle,
 * throttle-trigger-threshold, the throttle of a running migration) goes
 * through libvirt-qemu's monitor passthrough, checked in QEMU itself; a
 * migration cancelled leaves the guest with QEMU's own values again. */
static co_drv *mon_drv;
static void mon_raise(co_drv *drv)
{
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->set_throttle(drv, 40, 1, &dg), CO_OK, "live throttle: %s", dg.msg);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "cpu-throttle-initial"), 40);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "cpu-throttle-increment"), 1);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "max-cpu-throttle"), 60);
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->cancel(drv, &dg), CO_OK, "cancel: %s", dg.msg);
}

Test(drv_virt, qemu_monitor_sets_what_libvirt_cannot)
{
    start_guest("co-mon", 160, "");
    if (co_bed_migrate_param(bed.uri_a, "co-mon", "max-cpu-throttle") < 0)
        cr_skip_test("libvirt-qemu.so.0 (virDomainQemuMonitorCommand) not usable here");
    co_virt_opts o = {.conn_uri = bed.uri_a, .domain = "co-mon", .timeout_ms = 5000,
                      .qemu_monitor = 1};
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&o, &mon_drv, &dg), CO_OK, "open: %s", dg.msg);
    co_drv *drv = mon_drv;
    cr_expect_str_eq(drv->ops->name, "libvirt-monitor");
    co_drv_tunables t;
    cr_assert_eq(drv->ops->get_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    t.max_bandwidth_bytes_per_s = 20.0 * 1048576; /* ~10 s: time to change it mid-way */
    t.auto_converge = 1;
    t.cpu_throttle_initial_pct = 5;
    t.cpu_throttle_increment_pct = 2;
    t.max_cpu_throttle_pct = 60;
    t.throttle_trigger_pct = 30;
    cr_assert_eq(drv->ops->set_tunables(drv, &t, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "max-cpu-throttle"), 60);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "throttle-trigger-threshold"), 30);
    /* out of QEMU's range: refused before anything changes */
    co_drv_tunables bad;
    co_drv_tunables_init(&bad);
    bad.max_cpu_throttle_pct = 100;
    cr_expect_eq(drv->ops->set_tunables(drv, &bad, &dg), CO_ERANGE, "%s", dg.msg);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "max-cpu-throttle"), 60);
    co_diag_init(&dg);
    cr_assert_eq(drv->ops->start(drv, bed.uri_b_tcp, &dg), CO_OK, "start: %s", dg.msg);
    /* libvirt set the ramp it was given at the start and left the rest */
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "cpu-throttle-initial"), 5);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "max-cpu-throttle"), 60);
    run_result r;
    run_until_done(drv, &r, 60000, 10.0 * 1048576, mon_raise);
    expect_cancelled_on_source(drv, &r);
    drv->ops->close(drv);
    /* the guest stayed: QEMU's own cap and trigger are back */
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "max-cpu-throttle"), 99);
    cr_expect_eq(co_bed_migrate_param(bed.uri_a, "co-mon", "throttle-trigger-threshold"), 50);
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-mon"), VIR_DOMAIN_RUNNING);
}

Test(drv_virt, open_errors_are_one_clear_line)
{
    co_diag dg;
    co_drv *drv = NULL;

    co_virt_opts nodom = {.conn_uri = bed.uri_a, .domain = "co-no-such-domain"};
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&nodom, &drv, &dg), CO_ENOINPUT, "%s", dg.msg);
    cr_expect(strstr(dg.msg, "co-no-such-domain") != NULL, "%s", dg.msg);
    cr_assert_null(drv);

    char uri[600];
    snprintf(uri, sizeof uri, "qemu+unix:///system?socket=%s/nonexistent-sock", bed.dir);
    co_virt_opts nosock = {.conn_uri = uri, .domain = "x"};
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&nosock, &drv, &dg), CO_EUNAVAIL, "%s", dg.msg);
    cr_expect(strstr(dg.msg, "nonexistent-sock") != NULL, "%s", dg.msg);
    cr_expect(strchr(dg.msg, '\n') == NULL, "not one line: %s", dg.msg);

    co_virt_opts badto = {.conn_uri = bed.uri_a, .domain = "x", .dest_uri = "host:16509"};
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&badto, &drv, &dg), CO_EUSAGE, "%s", dg.msg);
    cr_expect(strstr(dg.msg, "--to") != NULL, "%s", dg.msg);

    co_virt_opts nouri = {.conn_uri = NULL, .domain = "x"};
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&nouri, &drv, &dg), CO_EUSAGE, "%s", dg.msg);
}

Test(drv_virt, hung_source_daemon_fails_within_the_timeout)
{
    define_guest("co-hang");
    co_virt_opts o = {.conn_uri = bed.uri_a, .domain = "co-hang", .timeout_ms = 2000};
    co_drv *drv = NULL;
    co_diag dg;
    co_diag_init(&dg);
    cr_assert_eq(co_virt_open(&o, &drv, &dg), CO_OK, "open: %s", dg.msg);
    cr_assert_eq(co_bed_stop_daemon(&bed, "a", 1), 0, "SIGSTOP libvirtd a");
    double t0 = co_bed_now_ms();
    int running = -1;
    co_diag_init(&dg);
    int rc = drv->ops->guest_running(drv, &running, &dg);
    double took = co_bed_now_ms() - t0;
    fprintf(stderr, "[virt] hung daemon: rc %d after %.0f ms: %s\n", rc, took, dg.msg);
    cr_expect_eq(rc, CO_EUNAVAIL, "rc %d: %s", rc, dg.msg);
    /* keepalive: 1 s interval, 2 missed answers (3 s), plus slack for a
     * loaded 2-core CI machine under ASan; a hang would be the test's 180 s */
    cr_expect_lt(took, 15000, "call blocked %.0f ms", took);
    drv->ops->close(drv);
    /* opening while the daemon hangs gives up after timeout_ms */
    co_diag_init(&dg);
    drv = NULL;
    t0 = co_bed_now_ms();
    rc = co_virt_open(&o, &drv, &dg);
    took = co_bed_now_ms() - t0;
    co_bed_stop_daemon(&bed, "a", 0);
    fprintf(stderr, "[virt] open on a hung daemon: rc %d after %.0f ms: %s\n", rc, took, dg.msg);
    cr_expect_eq(rc, CO_ETIMEDOUT, "rc %d: %s", rc, dg.msg);
    cr_expect_lt(took, 2000 + 5000, "open blocked %.0f ms", took);
    cr_expect_null(drv);
    /* a new open on an answering daemon works again; the daemon just
     * resumed has the abandoned open and the dropped connection to serve
     * first, so give it a few tries (what is tested is our recovery, not
     * how fast a SIGCONTed libvirtd catches up) */
    co_virt_opts again = {.conn_uri = bed.uri_a, .domain = "co-hang", .timeout_ms = 5000};
    t0 = co_bed_now_ms();
    for (int i = 0; i < 4; i++) {
        co_diag_init(&dg);
        drv = NULL;
        rc = co_virt_open(&again, &drv, &dg);
        fprintf(stderr, "[virt] open %d after SIGCONT: rc %d at %.0f ms%s%s\n", i + 1, rc,
                co_bed_now_ms() - t0, rc ? ": " : "", rc ? dg.msg : "");
        if (rc == CO_OK)
            break;
    }
    cr_assert_eq(rc, CO_OK, "open after SIGCONT: %s", dg.msg);
    co_diag_init(&dg);
    cr_expect_eq(drv->ops->guest_running(drv, &running, &dg), CO_OK, "%s", dg.msg);
    cr_expect_eq(running, 0, "a defined, never started domain runs");
    drv->ops->close(drv);
}
