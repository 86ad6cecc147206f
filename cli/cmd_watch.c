/* cli/cmd_watch.c: `cutover watch`, sample query-migrate (or, with
 * --connect, libvirt's virDomainGetJobStats) during a migration someone else
 * started, writing the JSONL timeline of engine/timeline.h.
 *
 * It only reads: it never changes parameters or capabilities (QEMU refuses
 * capability changes during a migration anyway), so MIGRATION and
 * MIGRATION_PASS events appear in the timeline only when whoever started
 * the migration turned the "events" capability on. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drivers/drv_virt.h"
#include "drivers/qmp.h"
#include "engine/timeline.h"
#include "util/clock.h"
#include "util/units.h"

/* The stop-signal flag (cli/cli.h co_cli_catch_stop_signals): SIGINT,
 * SIGTERM or SIGHUP stops watching and closes the timeline cleanly. */
static volatile sig_atomic_t *watch_stop_level;
#define watch_stop (*watch_stop_level)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cutover watch --qmp SOCKET [-o FILE] [--interval TIME] [--wait TIME]\n"
            "                     [--timeout TIME]\n"
            "       cutover watch --connect URI --domain NAME [-o FILE] [...]\n\n"
            "Sample query-migrate on a QEMU whose migration someone else starts or runs (or\n"
            "libvirt's job statistics of a domain), and write one JSON object per line\n"
            "(header, samples, events, end; docs/timeline.md) until the migration completes,\n"
            "fails or is cancelled. Changes nothing in QEMU or libvirt.\n\n"
            "  --qmp SOCKET     QMP socket path, unix:PATH or tcp:HOST:PORT (QEMU serves one\n"
            "                   QMP client per monitor: give QEMU a second -qmp for watching)\n"
            "  --connect URI    libvirt connection of the source instead, e.g. qemu:///system\n"
            "  --domain NAME    the domain (name, UUID or id), with --connect\n"
            "  -o, --output F   timeline file, '-' for stdout (default '-')\n"
            "  --interval TIME  sampling period, 10ms..60s (default 100ms)\n"
            "  --wait TIME      how long to wait for a migration to start (default 60s)\n"
            "  --timeout TIME   bound on each QMP or libvirt call (default 5s)\n\n"
            "Exit status: 0 completed; 1 failed or cancelled (the timeline is whole either\n"
            "way); 64 usage; 66 no such domain; 69 QEMU or libvirt unreachable or gone; 74\n"
            "write error; 75 no migration started in time, a timeout, or interrupted; 76 QMP\n"
            "protocol error.\n");
}

static int in_progress(int s)
{
    return s != CO_DRV_MIG_NONE && s != CO_DRV_MIG_COMPLETED && s != CO_DRV_MIG_FAILED &&
           s != CO_DRV_MIG_CANCELLED;
}

/* Equal, treating two "not reported" NANs as equal. */
static int same_num(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static int parse_time_flag(const char *cmd, const char *flag, const char *text, double lo,
                           double hi, double *ms, co_diag *d)
{
    int rc = co_parse_time(text, flag, ms, d);
    if (rc != CO_OK)
        return rc;
    if (*ms < lo || *ms > hi)
        return co_diag_set(d, CO_EUSAGE, "%s %s is outside %g ms..%g ms", flag, text, lo, hi);
    (void)cmd;
    return CO_OK;
}

typedef struct watch_opts {
    const char *qmp, *conn, *domain, *out;
    double interval_ms, wait_ms, timeout_ms;
} watch_opts;

/* What is watched: a QMP connection or a libvirt domain. */
typedef struct watch_src {
    co_qmp *q;
    co_drv *drv;
    const char *target; /* for messages */
} watch_src;

static int sample(watch_src *s, co_drv_stats *st, co_diag *d)
{
    return s->q ? co_qmp_query_migrate(s->q, st, d) : co_virt_watch_sample(s->drv, st, d);
}

/* Wait up to wait_ms (0: no wait) for events, then write all queued. */
static int pass_events(watch_src *s, FILE *out, double t0, int wait_ms, int *started,
                       co_diag *d)
{
    if (s->drv) {
        co_drv_event ev[32];
        int n;
        do {
            co_virt_wait_events(s->drv, wait_ms, ev, 32, &n);
            wait_ms = 0;
            for (int i = 0; i < n; i++) {
                if (ev[i].kind == CO_DRV_EV_STATUS && in_progress(ev[i].status))
                    *started = 1;
                int rc = co_timeline_write(out, co_timeline_drv_event(&ev[i], ev[i].at_ms - t0),
                                           "timeline", d);
                if (rc != CO_OK)
                    return rc;
            }
        } while (n == 32);
        return CO_OK;
    }
    if (wait_ms > 0) {
        int rc = co_qmp_pump(s->q, wait_ms, d);
        if (rc != CO_OK)
            return rc;
    }
    co_qmp_event ev;
    while (co_qmp_next_event(s->q, &ev)) {
        if (strcmp(ev.name, "MIGRATION") == 0) {
            int st = co_drv_status_parse(json_string_value(json_object_get(ev.data, "status")));
            if (in_progress(st))
                *started = 1;
        }
        int rc = co_timeline_write(out, co_timeline_event(&ev, ev.received_ms - t0), "timeline",
                                   d);
        co_qmp_event_clear(&ev);
        if (rc != CO_OK)
            return rc;
    }
    return CO_OK;
}

/* Wait until `until` (monotonic ms), writing events as they come. */
static int idle_until(watch_src *s, FILE *out, double t0, double until, int *started, co_diag *d)
{
    for (;;) {
        int rc = pass_events(s, out, t0, 0, started, d);
        if (rc != CO_OK)
            return rc;
        double left = until - co_clock_ms();
        if (left <= 0 || watch_stop)
            return CO_OK;
        if ((rc = pass_events(s, out, t0, (int)ceil(left), started, d)) != CO_OK)
            return rc;
    }
}

/* Connect, and read the version for the header: nothing is created before
 * this succeeds, so a dead QEMU or daemon leaves no file. */
static int open_src(const watch_opts *o, watch_src *s, char *ver, size_t verlen, co_diag *d)
{
    memset(s, 0, sizeof *s);
    if (o->conn) {
        s->target = o->conn;
        co_virt_opts vo = {.conn_uri = o->conn, .domain = o->domain,
                           .timeout_ms = (int)o->timeout_ms};
        int rc = co_virt_open(&vo, &s->drv, d);
        co_virt_info in;
        if (rc == CO_OK && (rc = co_virt_get_info(s->drv, &in, d)) == CO_OK)
            snprintf(ver, verlen, "%s", in.qemu_version);
        return rc;
    }
    s->target = o->qmp;
    int rc = co_qmp_connect(o->qmp, (int)o->timeout_ms, &s->q, d);
    co_qmp_ver v;
    if (rc == CO_OK && (rc = co_qmp_query_version(s->q, &v, d)) == CO_OK)
        snprintf(ver, verlen, "%d.%d.%d", v.major, v.minor, v.micro);
    return rc;
}

static void close_src(watch_src *s)
{
    if (s->q)
        co_qmp_close(s->q);
    if (s->drv)
        s->drv->ops->close(s->drv);
    s->q = NULL;
    s->drv = NULL;
}

static int watch(const watch_opts *o, co_diag *d)
{
    watch_src src;
    char verstr[64] = "";
    co_drv_stats st, first;
    double t0 = co_clock_ms();
    /* Read once before creating the output, so a dead QEMU leaves no file. */
    int rc = open_src(o, &src, verstr, sizeof verstr, d);
    if (rc == CO_OK)
        rc = sample(&src, &first, d);
    if (rc != CO_OK) {
        close_src(&src);
        return rc;
    }
    FILE *out = co_cli_open_out(o->out, "-o", d);
    if (out == NULL) {
        close_src(&src);
        return d->code;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    json_t *h = json_pack("{s:s, s:i, s:s, s:s, s:s, s:f, s:f}", "type", "header", "version",
                          CO_TIMELINE_VERSION, "source", o->conn ? "libvirt" : "qmp", "target",
                          src.target, "qemu_version", verstr, "interval_ms", o->interval_ms,
                          "wall_time_s", (double)wall.tv_sec + wall.tv_nsec / 1e9);
    if (h && o->domain)
        json_object_set_new(h, "domain", json_string(o->domain));
    rc = co_timeline_write(out, h, "timeline", d);

    /* Phase 1: wait for a migration to be in progress. A final status left
     * from an earlier migration does not count, unless it changed (a whole
     * migration ran between two samples) or a MIGRATION event said so. */
    int started = in_progress(first.status), samples = 0;
    st = first;
    double tick = t0;
    while (rc == CO_OK && !started && !watch_stop) {
        if (co_clock_ms() - t0 > o->wait_ms) {
            rc = co_diag_set(d, CO_ETIMEDOUT,
                             "no migration started on %s within %.0f ms (status '%s'; see --wait)",
                             src.target, o->wait_ms, co_drv_status_name(st.status));
            break;
        }
        tick += o->interval_ms;
        if ((rc = idle_until(&src, out, t0, tick, &started, d)) != CO_OK)
            break;
        if ((rc = sample(&src, &st, d)) != CO_OK)
            break;
        if (in_progress(st.status) || st.status != first.status ||
            !same_num(st.total_time_ms, first.total_time_ms) ||
            !same_num(st.ram_transferred_bytes, first.ram_transferred_bytes) || started) {
            started = 1;
            /* This sample belongs to the migration: phase 2 writes it. */
        }
    }
    /* Phase 2: one sample a tick until a final status. */
    int have_sample = started;
    while (rc == CO_OK && !watch_stop) {
        if (!have_sample) {
            tick += o->interval_ms;
            if ((rc = idle_until(&src, out, t0, tick, &started, d)) != CO_OK || watch_stop)
                break;
            if ((rc = sample(&src, &st, d)) != CO_OK)
                break;
        }
        have_sample = 0;
        if ((rc = pass_events(&src, out, t0, 0, &started, d)) != CO_OK)
            break;
        rc = co_timeline_write(out, co_timeline_sample(&st, st.sampled_at_ms - t0), "timeline",
                               d);
        samples++;
        if (!in_progress(st.status))
            break;
    }
    if (rc == CO_OK && watch_stop)
        rc = co_diag_set(d, CO_ECANCELED, "interrupted while watching %s (QEMU untouched)",
                         src.target);

    /* The end record, also after errors (if the output still works), so a
     * reader can tell a finished timeline from a cut one. */
    if (rc != CO_EIO) {
        /* Events that came with the last reply belong before the end. */
        if (rc == CO_OK)
            rc = pass_events(&src, out, t0, 0, &started, d);
        json_t *e = json_pack("{s:s, s:f, s:s, s:i}", "type", "end", "t_ms",
                              round((co_clock_ms() - t0) * 1000) / 1000,
                              "status", co_drv_status_name(st.status), "samples", samples);
        if (e && rc != CO_OK)
            json_object_set_new(e, "error", json_string(d->msg));
        if (e && st.error_desc[0])
            json_object_set_new(e, "error_desc", json_string(st.error_desc));
        co_diag wd;
        co_diag_init(&wd);
        int wrc = co_timeline_write(out, e, "timeline", &wd);
        if (rc == CO_OK && wrc != CO_OK)
            rc = co_diag_set(d, wrc, "%s", wd.msg);
    }
    if (out != stdout && fclose(out) != 0 && rc == CO_OK)
        rc = co_diag_set(d, CO_EIO, "-o %s: %s", o->out, strerror(errno));
    close_src(&src);
    if (rc != CO_OK)
        return rc;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "cutover watch: %s after %d samples, total %.0f ms, downtime %.0f ms\n",
                co_drv_status_name(st.status), samples, st.total_time_ms, st.downtime_ms);
    if (st.status == CO_DRV_MIG_FAILED)
        return co_diag_set(d, CO_EFAILED, "migration failed: %s",
                           st.error_desc[0] ? st.error_desc : "(QEMU gave no reason)");
    if (st.status == CO_DRV_MIG_CANCELLED)
        return co_diag_set(d, CO_EFAILED, "migration was cancelled");
    return CO_OK;
}

int co_cmd_watch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"qmp", required_argument, NULL, 'q'},
        {"output", required_argument, NULL, 'o'},
        {"interval", required_argument, NULL, 'i'},
        {"wait", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"connect", required_argument, NULL, 'c'},
        {"domain", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    watch_opts o = {.out = "-", .interval_ms = 100, .wait_ms = 60000, .timeout_ms = 5000};
    co_diag d;
    co_diag_init(&d);
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            o.qmp = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'c':
            o.conn = optarg;
            break;
        case 'D':
            o.domain = optarg;
            break;
        case 'i':
            if (parse_time_flag("watch", "--interval", optarg, 10, 60000, &o.interval_ms, &d))
                return co_cli_fail("watch", &d);
            break;
        case 'w':
            if (parse_time_flag("watch", "--wait", optarg, 0, 86400000, &o.wait_ms, &d))
                return co_cli_fail("watch", &d);
            break;
        case 't':
            if (parse_time_flag("watch", "--timeout", optarg, 100, 600000, &o.timeout_ms, &d))
                return co_cli_fail("watch", &d);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return co_cli_usage("watch", "%s needs a value", argv[optind - 1]);
        default:
            return co_cli_usage("watch", "unknown option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return co_cli_usage("watch", "unexpected argument '%s'", argv[optind]);
    if (o.qmp && o.conn)
        return co_cli_usage("watch", "--qmp and --connect are mutually exclusive (QMP socket or "
                                     "libvirt connection)");
    if (o.domain && !o.conn)
        return co_cli_usage("watch", "--domain needs --connect URI");
    if (o.conn && !o.domain)
        return co_cli_usage("watch", "--connect needs --domain NAME");
    if (o.qmp == NULL && o.conn == NULL)
        return co_cli_usage("watch", "--qmp SOCKET or --connect URI --domain NAME is required");
    if (o.out[0] == '\0')
        return co_cli_usage("watch", "-o needs a file name or '-'");

    /* also ignores SIGPIPE: a closed stdout pipe becomes a write error (74) */
    volatile sig_atomic_t *signo;
    co_cli_catch_stop_signals(&watch_stop_level, &signo);

    int rc = watch(&o, &d);
    if (rc != CO_OK)
        return co_cli_fail("watch", &d);
    return 0;
}
