/* tests/lab/test_lab.c: the lab launcher and the test guest on real QEMU.
 *
 * Every test that starts QEMU keeps its lab in a per-process fixture that
 * the .fini stops, so an assertion failure still kills and reaps both QEMUs
 * and removes the temp dir (Criterion runs each test in its own process;
 * the children also carry PR_SET_PDEATHSIG). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "lab/lab.h"
#include "util/clock.h"
#include "drivers/qmp.h"
#include "test_util.h"

/* Fixture state: one lab and one QMP connection per test process. */
static co_lab *fx_lab;
static co_qmp *fx_qmp;

static void fx_fini(void)
{
    co_qmp_close(fx_qmp);
    fx_qmp = NULL;
    co_lab_stop(fx_lab);
    fx_lab = NULL;
}

static int gone(pid_t pid)
{
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

static co_lab *start_lab(double mem_mib, const char *workload, int no_dest)
{
    co_lab_config cfg = {0};
    cfg.mem_bytes = mem_mib * 1048576;
    cfg.workload = workload;
    cfg.no_dest = no_dest;
    cfg.boot_timeout_ms = 60000;
    co_diag d;
    co_diag_init(&d);
    int rc = co_lab_start(&cfg, &fx_lab, &d);
    cr_assert_eq(rc, CO_OK, "co_lab_start: %s", d.msg);
    return fx_lab;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6)};
    nanosleep(&ts, NULL);
}

/* Run a migration from the lab's source to uri and wait for the end;
 * returns the final status name. */
static const char *migrate_and_wait(co_qmp *q, const char *uri, co_drv_stats *st,
                                    double timeout_ms)
{
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_migrate(q, uri, &d), CO_OK, "migrate: %s", d.msg);
    double end = co_clock_ms() + timeout_ms;
    for (;;) {
        co_diag_init(&d);
        cr_assert_eq(co_qmp_query_migrate(q, st, &d), CO_OK, "query-migrate: %s", d.msg);
        if (st->status == CO_DRV_MIG_COMPLETED || st->status == CO_DRV_MIG_FAILED ||
            st->status == CO_DRV_MIG_CANCELLED)
            return co_drv_status_name(st->status);
        cr_assert(co_clock_ms() < end, "migration not done after %.0f ms (status %s)",
                  timeout_ms, co_drv_status_name(st->status));
        sleep_ms(20);
    }
}

TestSuite(lab, .fini = fx_fini, .timeout = 180);

Test(lab, guest_boots_and_heartbeats)
{
    co_lab *lab = start_lab(64, "pattern=uniform rate=1000 wss=16M", 1);
    const co_lab_info *in = co_lab_get_info(lab);
    cr_assert_gt(in->boot_ms, 0);
    cr_log_info("boot to first heartbeat: %.0f ms (%s)", in->boot_ms, in->accel);
    /* TCG needs the guest's TLB flush for correct dirty tracking (docs/lab.md) */
    if (strcmp(in->accel, "tcg") == 0)
        cr_assert(strstr(in->workload, "tlbflush=1ms") != NULL, "workload '%s'", in->workload);
    else
        cr_assert(strstr(in->workload, "tlbflush") == NULL, "workload '%s'", in->workload);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "%s", d.msg);
    double t0 = co_clock_ms();
    sleep_ms(1000);
    co_lab_status st;
    co_lab_get_status(lab, &st);
    cr_assert(strstr(st.boot_line, "BOOT cutover-guest v1") != NULL, "boot line: '%s'",
              st.boot_line);
    cr_assert(strstr(st.boot_line, "pattern=uniform rate=1000 wss_pages=4096") != NULL,
              "boot line: '%s'", st.boot_line);
    cr_assert_gt(st.hb_count, 100, "only %llu heartbeats", (unsigned long long)st.hb_count);
    cr_assert_gt(st.hb_last_ms, t0);
    cr_assert_eq(st.senders, 1);
    cr_assert_eq(st.hb_seq_skips, 0, "heartbeat sequence has holes");
    cr_assert_eq(st.err_lines, 0, "guest reported: %s", st.first_err);
    co_lab_gap g;
    cr_assert_eq(co_lab_max_gap(lab, t0, co_clock_ms(), &g, &d), CO_OK, "%s", d.msg);
    /* 1 ms heartbeats for 1 s; a loaded 2-core host delays the TCG vCPU */
    cr_assert_gt(g.samples, 20, "only %d samples", (int)g.samples);

    pid_t src = in->src_pid;
    char dir[256];
    snprintf(dir, sizeof dir, "%s", in->dir);
    co_lab_stop(fx_lab);
    fx_lab = NULL;
    cr_assert(gone(src), "source QEMU %d still exists after stop", (int)src);
    cr_assert_neq(access(dir, F_OK), 0, "temp dir %s left behind", dir);
}

/* The guest's own count (ST lines, guest milliseconds) and QEMU's
 * calc-dirty-rate measurement both agree with the configured rate. */
Test(lab, dirty_rate_as_configured)
{
    const double rate = 4000, wss_pages = 16384; /* 64 MiB */
    co_lab *lab = start_lab(128, "pattern=uniform rate=4000 wss=64M", 1);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "%s", d.msg);
    /* two ST lines at least 3 guest seconds apart */
    co_lab_status a, b;
    double end = co_clock_ms() + 30000;
    do {
        sleep_ms(100);
        co_lab_get_status(lab, &a);
        cr_assert(co_clock_ms() < end, "no ST line with pages dirtied");
    } while (!a.have_st || a.st_dirtied == 0);
    do {
        sleep_ms(100);
        co_lab_get_status(lab, &b);
        cr_assert(co_clock_ms() < end, "no ST line 3 guest seconds later");
    } while (b.st_guest_ms < a.st_guest_ms + 3000);
    /* pacing: pages due (written + still pending) per guest millisecond */
    double guest_rate = ((double)b.st_dirtied + b.st_pending - a.st_dirtied - a.st_pending) *
                        1000.0 / (b.st_guest_ms - a.st_guest_ms);
    cr_log_info("guest-paced rate %.0f pages/s (configured %.0f), backlog %u pages",
                guest_rate, rate, b.st_pending);
    cr_assert(fabs(guest_rate - rate) < 0.02 * rate, "guest paced %.0f pages/s, want %.0f",
              guest_rate, rate);

    /* QEMU's view, in host time: distinct pages dirtied in 1 s. A loaded
     * box steals guest CPU (the guest catches up at most 500 ms), so the
     * expectation uses the rate the guest achieved in host time around the
     * measurement (from its ST lines), not the configured one. */
    cr_assert_eq(co_qmp_connect(co_lab_get_info(lab)->src_qmp, 5000, &fx_qmp, &d), CO_OK,
                 "%s", d.msg);
    co_lab_status s0, s1;
    co_lab_get_status(lab, &s0);
    /* page-sampling with the most samples QEMU allows: dirty-bitmap mode
     * kills QEMU 7.2 under TCG (the connection resets; see docs/lab.md) */
    cr_assert_eq(co_qmp_calc_dirty_rate(fx_qmp, 1, "page-sampling", 4096, &d), CO_OK, "%s",
                 d.msg);
    co_qmp_dirty_rate dr;
    end = co_clock_ms() + 15000;
    do {
        sleep_ms(200);
        co_diag_init(&d);
        cr_assert_eq(co_qmp_query_dirty_rate(fx_qmp, &dr, &d), CO_OK, "%s", d.msg);
        cr_assert(co_clock_ms() < end, "calc-dirty-rate still %s", dr.status);
    } while (strcmp(dr.status, "measured") != 0);
    end = co_clock_ms() + 10000;
    do {
        sleep_ms(50);
        co_lab_get_status(lab, &s1);
        cr_assert(co_clock_ms() < end, "no ST line after the measurement");
    } while (s1.st_at_ms <= s0.st_at_ms + 1000);
    double host_rate = (s1.st_dirtied - s0.st_dirtied) * 1000.0 / (s1.st_at_ms - s0.st_at_ms);
    /* uniform writes: U(1 s) = W (1 - exp(-r/W)) distinct pages (model/dirty.h) */
    double want_mib = wss_pages * (1 - exp(-host_rate / wss_pages)) * 4096 / 1048576;
    cr_log_info("guest rate in host time %.0f pages/s; QEMU page-sampling %lld MiB/s, "
                "expected ~%.1f", host_rate, (long long)dr.dirty_rate_mib_per_s, want_mib);
    /* QEMU samples 512 pages here and rounds to whole MiB/s */
    cr_assert(dr.dirty_rate_mib_per_s >= 0.6 * want_mib - 1 &&
                  dr.dirty_rate_mib_per_s <= 1.4 * want_mib + 1,
              "page-sampling rate %lld MiB/s, expected about %.1f (guest at %.0f pages/s)",
              (long long)dr.dirty_rate_mib_per_s, want_mib, host_rate);
}

/* A real migration over loopback: completes, the guest runs on the
 * destination, every page verifies, the heartbeat gap is measured. */
Test(lab, migration_keeps_guest_and_memory)
{
    co_lab *lab = start_lab(128, "pattern=hotcold rate=3000 hot=8M cold=96M hotfrac=0.9", 0);
    const co_lab_info *in = co_lab_get_info(lab);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "%s", d.msg);
    sleep_ms(500);
    cr_assert_eq(co_qmp_connect(in->src_qmp, 5000, &fx_qmp, &d), CO_OK, "%s", d.msg);
    double t0 = co_clock_ms();
    co_drv_stats ms;
    const char *status = migrate_and_wait(fx_qmp, in->migrate_uri, &ms, 120000);
    double t1 = co_clock_ms();
    cr_assert_str_eq(status, "completed", "migration %s: %s", status, ms.error_desc);

    /* heartbeats now come from the destination (second sender) */
    cr_assert_eq(co_lab_wait_heartbeat(lab, 1, t1, 10000, &d), CO_OK, "%s", d.msg);
    co_lab_status st;
    co_lab_get_status(lab, &st);
    cr_assert_eq(st.senders, 2);
    /* the sequence continues across the switchover: the guest's memory
     * (its counter) moved with it */
    uint32_t sweeps0 = st.st_sweeps;

    /* the destination guest keeps verifying: wait for two full sweeps of
     * all RAM after the switchover, then demand zero errors */
    double end = co_clock_ms() + 60000;
    do {
        sleep_ms(100);
        co_lab_get_status(lab, &st);
        cr_assert(co_clock_ms() < end, "guest did not finish a memory sweep on the "
                                         "destination (sweeps %u -> %u)", sweeps0, st.st_sweeps);
    } while (st.hb_last_sender != 1 || st.st_sweeps < sweeps0 + 2);
    co_lab_gap sw0;
    cr_assert_eq(co_lab_switch_gap(lab, 0, 1, &sw0, &d), CO_OK, "%s", d.msg);
    cr_log_info("switch: source seq %u, destination seq %u, errors %llu %s", sw0.from_seq,
                sw0.to_seq, (unsigned long long)st.err_lines, st.first_err);
    cr_assert_eq(st.err_lines, 0, "memory verification failed: %s", st.first_err);
    cr_assert_eq(st.st_err, 0);
    cr_assert_eq(sw0.to_seq, sw0.from_seq + 1, "heartbeat %u from the source, then %u from "
                 "the destination", sw0.from_seq, sw0.to_seq);
    cr_assert_eq(st.hb_seq_skips, 0, "heartbeat sequence has holes");

    co_lab_gap g, sw;
    cr_assert_eq(co_lab_max_gap(lab, t0, co_clock_ms(), &g, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_lab_switch_gap(lab, 0, 1, &sw, &d), CO_OK, "%s", d.msg);
    cr_assert_geq(sw.start_ms, t0);
    cr_assert_leq(sw.end_ms, co_clock_ms());
    cr_assert_lt(sw.gap_ms, 10000);
    cr_assert_geq(g.gap_ms, sw.gap_ms);
    cr_log_info("migration 128 MiB (%s): total %.0f ms, QEMU downtime %.0f ms, switchover "
                "heartbeat gap %.1f ms, longest gap %.1f ms (senders %d->%d)", in->accel,
                ms.total_time_ms, ms.downtime_ms, sw.gap_ms, g.gap_ms, g.from_sender,
                g.to_sender);

    /* the destination runs; the source is paused after migrating */
    co_qmp *qd = NULL;
    cr_assert_eq(co_qmp_connect(in->dst_qmp, 5000, &qd, &d), CO_OK, "%s", d.msg);
    co_qmp_status qs;
    int rc = co_qmp_query_status(qd, &qs, &d);
    co_qmp_close(qd);
    cr_assert_eq(rc, CO_OK, "%s", d.msg);
    cr_assert_str_eq(qs.status, "running");
}

/* The verification must catch a corrupted page: migrate into a file, flip
 * one byte of one page, feed the stream to the destination. */
Test(lab, corrupted_page_is_reported)
{
    co_lab *lab = start_lab(64, "rate=0", 0);
    const co_lab_info *in = co_lab_get_info(lab);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_qmp_connect(in->src_qmp, 5000, &fx_qmp, &d), CO_OK, "%s", d.msg);
    char path[400], uri[420];
    snprintf(path, sizeof path, "%s/stream.bin", in->dir);
    snprintf(uri, sizeof uri, "exec:cat > %s", path);
    co_drv_stats ms;
    cr_assert_str_eq(migrate_and_wait(fx_qmp, uri, &ms, 60000), "completed");

    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    /* the page at 16 MiB (pfn 0x1000), generation 1: header words */
    static const unsigned char hdr[8] = {0x00, 0x10, 0x00, 0xC5, 0x01, 0x00, 0x00, 0x00};
    long at = -1;
    for (long i = 0; i + 4096 <= n; i++)
        if (memcmp(buf + i, hdr, 8) == 0) {
            at = i;
            break;
        }
    cr_assert_geq(at, 0, "page 0x1000 not found in the migration stream");
    buf[at + 1000] ^= 0x40;

    /* feed the destination's -incoming port */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)in->incoming_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0, "%s", strerror(errno));
    for (long off = 0; off < n;) {
        ssize_t w = write(s, buf + off, (size_t)(n - off));
        cr_assert_gt(w, 0, "%s", strerror(errno));
        off += w;
    }
    close(s);
    free(buf);
    double t1 = co_clock_ms();
    cr_assert_eq(co_lab_wait_heartbeat(lab, 1, t1 - 1, 20000, &d), CO_OK, "%s", d.msg);
    co_lab_status st;
    double end = co_clock_ms() + 30000;
    do {
        sleep_ms(50);
        co_lab_get_status(lab, &st);
        cr_assert(co_clock_ms() < end, "the guest did not report the corrupted page");
    } while (st.err_lines == 0);
    cr_log_info("guest reported: %s", st.first_err);
    cr_assert(strstr(st.first_err, "pfn=0x00001000") != NULL, "%s", st.first_err);
    cr_assert(strstr(st.first_err, "word=250") != NULL, "%s", st.first_err);
}

/* Phases change the rate on time; the seq pattern paces like the others. */
Test(lab, phases_change_the_rate)
{
    co_lab *lab = start_lab(32, "pattern=seq wss=8M phases=1500ms:500,60s:6000", 1);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "%s", d.msg);
    co_lab_status a, b;
    double end = co_clock_ms() + 30000;
    do {
        sleep_ms(50);
        co_lab_get_status(lab, &a);
        cr_assert(co_clock_ms() < end, "no ST line in the first phase");
    } while (!a.have_st);
    cr_assert_eq(a.st_rate, 500, "first ST line has rate %u", a.st_rate);
    do {
        sleep_ms(50);
        co_lab_get_status(lab, &b);
        cr_assert(co_clock_ms() < end, "no ST line in the second phase");
    } while (b.st_rate != 6000 || b.st_guest_ms < a.st_guest_ms + 3000);
    /* the first ST line at rate 6000 may straddle the switch: measure from
     * the next one on */
    co_lab_status c;
    do {
        sleep_ms(50);
        co_lab_get_status(lab, &c);
        cr_assert(co_clock_ms() < end, "no later ST line");
    } while (c.st_guest_ms < b.st_guest_ms + 2000);
    double r = ((double)c.st_dirtied + c.st_pending - b.st_dirtied - b.st_pending) * 1000.0 /
               (c.st_guest_ms - b.st_guest_ms);
    cr_assert(fabs(r - 6000) < 120, "second phase paced at %.0f pages/s", r);
    cr_assert_eq(c.err_lines, 0, "%s", c.first_err);
}

/* A QEMU that dies is reported with how it died; teardown still works. */
Test(lab, killed_qemu_is_reported)
{
    co_lab *lab = start_lab(32, "rate=100", 0);
    const co_lab_info *in = co_lab_get_info(lab);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_alive(lab, 1, &d), 1);
    cr_assert_eq(kill(in->dst_pid, SIGKILL), 0);
    double end = co_clock_ms() + 10000;
    while (co_lab_alive(lab, 1, &d)) {
        cr_assert(co_clock_ms() < end, "destination still alive after SIGKILL");
        sleep_ms(10);
    }
    cr_assert_eq(d.code, CO_EUNAVAIL);
    cr_assert(strstr(d.msg, "destination QEMU") && strstr(d.msg, "killed by signal 9"), "%s",
              d.msg);
    /* waits that need the dead side fail at once instead of timing out */
    co_diag_init(&d);
    cr_assert_eq(co_lab_wait_heartbeat(lab, 1, 0, 60000, &d), CO_EUNAVAIL, "%s", d.msg);
    pid_t src = in->src_pid;
    co_lab_stop(fx_lab);
    fx_lab = NULL;
    cr_assert(gone(src));
}

/* ---- faults: each ends in one clear line and the right code ---- */

Test(lab_faults, bad_workloads)
{
    static const struct {
        const char *w, *needle;
    } cases[] = {
        {"pattern=zigzag", "pattern"},
        {"rate=fast", "rate"},
        {"rate=-5", "rate"},
        {"wss=1T", "exceeds"},
        {"wss=12", "below one page"},
        {"hotfrac=1.5", "hotfrac"},
        {"phases=5s", "DURATION:RATE"},
        {"phases=5:100", "phases"},
        {"colour=blue", "unknown key 'colour'"},
        {"rate", "KEY=VALUE"},
        {"idle=sleep", "workload idle: 'sleep' is not hlt or spin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char canon[512];
        co_diag d;
        co_diag_init(&d);
        cr_assert_eq(co_lab_workload_check(cases[i].w, 256.0 * 1048576, canon, sizeof canon, &d),
                     CO_EUSAGE, "'%s' accepted", cases[i].w);
        cr_assert(strstr(d.msg, cases[i].needle) != NULL, "'%s': message '%s'", cases[i].w,
                  d.msg);
    }
    char canon[512];
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lab_workload_check("pattern=hotcold hot=16M cold=240MiB hotfrac=0.9 "
                                       "phases=5s:1000,500ms:50000 seed=7",
                                       256.0 * 1048576, canon, sizeof canon, &d),
                 CO_OK, "%s", d.msg);
    cr_assert_str_eq(canon, "pattern=hotcold hot=16384K cold=245760K hotfrac=0.90000 "
                            "phases=5000ms:1000,500ms:50000 seed=7");
    co_diag_init(&d);
    cr_assert_eq(co_lab_workload_check("rate=100 idle=spin", 256.0 * 1048576, canon,
                                       sizeof canon, &d),
                 CO_OK, "%s", d.msg);
    cr_assert_str_eq(canon, "rate=100 idle=spin");
}

Test(lab_faults, missing_guest_and_qemu, .timeout = 180)
{
    co_lab_config cfg = {0};
    cfg.guest_path = "/nonexistent/guest.elf";
    co_diag d;
    co_diag_init(&d);
    co_lab *lab = NULL;
    cr_assert_eq(co_lab_start(&cfg, &lab, &d), CO_ENOINPUT);
    cr_assert(strstr(d.msg, "/nonexistent/guest.elf") != NULL, "%s", d.msg);
    cr_assert_null(lab);

    co_lab_config c2 = {0};
    c2.qemu_path = "/nonexistent/qemu-system-x86_64";
    co_diag_init(&d);
    cr_assert_eq(co_lab_start(&c2, &lab, &d), CO_EUNAVAIL, "%s", d.msg);
    cr_assert(strstr(d.msg, "QEMU (/nonexistent/qemu-system-x86_64) exited with status 127") != NULL, "%s", d.msg);
    cr_assert(strstr(d.msg, "exec of QEMU failed") != NULL, "%s", d.msg);
    cr_assert_null(lab);

    co_lab_config c3 = {0};
    c3.mem_bytes = 1.5 * 1048576 * 1024 + 1;
    co_diag_init(&d);
    cr_assert_eq(co_lab_start(&c3, &lab, &d), CO_EUSAGE, "%s", d.msg);
}

Test(lab_faults, cancel_leaves_nothing, .timeout = 180)
{
    volatile sig_atomic_t flag = 1;
    co_lab_config cfg = {0};
    cfg.cancel = &flag;
    co_diag d;
    co_diag_init(&d);
    co_lab *lab = NULL;
    cr_assert_eq(co_lab_start(&cfg, &lab, &d), CO_ECANCELED, "%s", d.msg);
    cr_assert_null(lab);
}

Test(lab_cli, bad_flags_exit_64)
{
    static const char *const bad[] = {
        "lab --accel warp",      "lab --mem 1GB",    "lab --mem lots",
        "lab --workload rate=x", "lab --duration 5", "lab --frobnicate",
        "lab extra",             "lab --mem",
    };
    char out[4096], err[4096];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = co_test_run(bad[i], out, sizeof out, err, sizeof err);
        cr_assert_eq(rc, 64, "'%s' exited %d: %s", bad[i], rc, err);
        cr_assert_str_empty(out, "'%s' printed on stdout", bad[i]);
        cr_assert(strncmp(err, "cutover lab: ", 13) == 0, "'%s': %s", bad[i], err);
        cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "'%s': not one line: %s", bad[i],
                     err);
    }
    int rc = co_test_run("lab --guest /nonexistent.elf --duration 1s", out, sizeof out, err,
                         sizeof err);
    cr_assert_eq(rc, 66, "%s", err);
}

Test(lab_cli, json_then_sigterm_tears_down, .timeout = 180)
{
    const char *bin = getenv("CUTOVER_BIN");
    if (bin == NULL)
        bin = "build/cutover";
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(bin, bin, "lab", "--json", "--mem", "32MiB", "--workload", "rate=500", NULL);
        _exit(127);
    }
    close(pfd[1]);
    char buf[8192];
    size_t len = 0;
    json_t *j = NULL;
    double end = co_clock_ms() + 60000;
    while (j == NULL && co_clock_ms() < end) {
        ssize_t r = read(pfd[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        j = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    }
    if (j == NULL) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cr_assert_fail("no JSON from cutover lab: '%s'", buf);
    }
    pid_t src = (pid_t)json_integer_value(json_object_get(j, "src_pid"));
    pid_t dst = (pid_t)json_integer_value(json_object_get(j, "dst_pid"));
    char dir[256];
    snprintf(dir, sizeof dir, "%s", json_string_value(json_object_get(j, "dir")));
    cr_assert(strncmp(json_string_value(json_object_get(j, "migrate_uri")), "tcp:127.0.0.1:", 14) == 0);
    cr_assert_gt(json_integer_value(json_object_get(j, "heartbeat_port")), 0);
    json_decref(j);
    cr_assert_eq(kill(src, 0), 0, "source QEMU not running");
    kill(pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++)
        sleep_ms(20);
    if (kill(pid, 0) == 0 && waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cr_assert_fail("cutover lab ignored SIGTERM");
    }
    close(pfd[0]);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_assert(gone(src) && gone(dst), "a QEMU survived the lab");
    cr_assert_neq(access(dir, F_OK), 0, "temp dir %s left behind", dir);
}
