/* cli/cmd_watch.c: `cutover watch`, sample query-migrate during a migration
 * someone else started, writing the JSONL timeline of engine/timeline.h.
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
#include "engine/qmp.h"
#include "engine/timeline.h"
#include "util/units.h"

/* Set by SIGINT/SIGTERM: stop watching, close the timeline cleanly. */
static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
    (void)sig;
    watch_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cutover watch --qmp SOCKET [-o FILE] [--interval TIME] [--wait TIME]\n"
            "                     [--timeout TIME]\n\n"
            "Sample query-migrate on a QEMU whose migration someone else starts or runs, and\n"
            "write one JSON object per line (header, samples, events, end; docs/timeline.md)\n"
            "until the migration completes, fails or is cancelled. Changes nothing in QEMU.\n\n"
            "  --qmp SOCKET     QMP socket path, unix:PATH or tcp:HOST:PORT (QEMU serves one\n"
            "                   QMP client per monitor: give QEMU a second -qmp for watching)\n"
            "  -o, --output F   timeline file, '-' for stdout (default '-')\n"
            "  --interval TIME  sampling period, 10ms..60s (default 100ms)\n"
            "  --wait TIME      how long to wait for a migration to start (default 60s)\n"
            "  --timeout TIME   bound on each QMP call (default 5s)\n\n"
            "Exit status: 0 completed; 1 failed or cancelled (the timeline is whole either\n"
            "way); 64 usage; 69 QEMU unreachable or gone; 74 write error; 75 no migration\n"
            "started in time, a QMP timeout, or interrupted; 76 QMP protocol error.\n");
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int in_progress(int s)
{
    return s != CO_MIG_NONE && s != CO_MIG_COMPLETED && s != CO_MIG_FAILED &&
           s != CO_MIG_CANCELLED;
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
    const char *qmp, *out;
    double interval_ms, wait_ms, timeout_ms;
} watch_opts;

/* Write the events queued so far. */
static int flush_events(co_qmp *q, FILE *out, double t0, int *started, co_diag *d)
{
    co_qmp_event ev;
    while (co_qmp_next_event(q, &ev)) {
        if (strcmp(ev.name, "MIGRATION") == 0) {
            int s = co_mig_status_parse(json_string_value(json_object_get(ev.data, "status")));
            if (in_progress(s))
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
static int idle_until(co_qmp *q, FILE *out, double t0, double until, int *started, co_diag *d)
{
    for (;;) {
        int rc = flush_events(q, out, t0, started, d);
        if (rc != CO_OK)
            return rc;
        double left = until - mono_ms();
        if (left <= 0 || watch_stop)
            return CO_OK;
        rc = co_qmp_pump(q, (int)ceil(left), d);
        if (rc != CO_OK)
            return rc;
    }
}

static int watch(const watch_opts *o, co_diag *d)
{
    co_qmp *q = NULL;
    int rc = co_qmp_connect(o->qmp, (int)o->timeout_ms, &q, d);
    if (rc != CO_OK)
        return rc;
    co_qmp_ver ver;
    co_mig_stats st, first;
    double t0 = mono_ms();
    /* Read once before creating the output, so a dead QEMU leaves no file. */
    if ((rc = co_qmp_query_version(q, &ver, d)) != CO_OK ||
        (rc = co_qmp_query_migrate(q, &first, d)) != CO_OK) {
        co_qmp_close(q);
        return rc;
    }
    FILE *out = co_cli_open_out(o->out, "-o", d);
    if (out == NULL) {
        co_qmp_close(q);
        return d->code;
    }
    char verstr[64];
    snprintf(verstr, sizeof verstr, "%d.%d.%d", ver.major, ver.minor, ver.micro);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    json_t *h = json_pack("{s:s, s:i, s:s, s:s, s:s, s:f, s:f}", "type", "header", "version",
                          CO_TIMELINE_VERSION, "source", "qmp", "target", o->qmp,
                          "qemu_version", verstr, "interval_ms", o->interval_ms, "wall_time_s",
                          (double)wall.tv_sec + wall.tv_nsec / 1e9);
    rc = co_timeline_write(out, h, "timeline", d);

    /* Phase 1: wait for a migration to be in progress. A final status left
     * from an earlier migration does not count, unless it changed (a whole
     * migration ran between two samples) or a MIGRATION event said so. */
    int started = in_progress(first.status), samples = 0;
    st = first;
    double tick = t0;
    while (rc == CO_OK && !started && !watch_stop) {
        if (mono_ms() - t0 > o->wait_ms) {
            rc = co_diag_set(d, CO_ETIMEDOUT,
                             "no migration started on %s within %.0f ms (status '%s'; see --wait)",
                             o->qmp, o->wait_ms, co_mig_status_name(st.status));
            break;
        }
        tick += o->interval_ms;
        if ((rc = idle_until(q, out, t0, tick, &started, d)) != CO_OK)
            break;
        if ((rc = co_qmp_query_migrate(q, &st, d)) != CO_OK)
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
            if ((rc = idle_until(q, out, t0, tick, &started, d)) != CO_OK || watch_stop)
                break;
            if ((rc = co_qmp_query_migrate(q, &st, d)) != CO_OK)
                break;
        }
        have_sample = 0;
        if ((rc = flush_events(q, out, t0, &started, d)) != CO_OK)
            break;
        rc = co_timeline_write(out, co_timeline_sample(&st, st.sampled_at_ms - t0), "timeline",
                               d);
        samples++;
        if (!in_progress(st.status))
            break;
    }
    if (rc == CO_OK && watch_stop)
        rc = co_diag_set(d, CO_ECANCELED, "interrupted while watching %s (QEMU untouched)",
                         o->qmp);

    /* The end record, also after errors (if the output still works), so a
     * reader can tell a finished timeline from a cut one. */
    if (rc != CO_EIO) {
        /* Events that came with the last reply belong before the end. */
        if (rc == CO_OK)
            rc = flush_events(q, out, t0, &started, d);
        json_t *e = json_pack("{s:s, s:f, s:s, s:i}", "type", "end", "t_ms",
                              round((mono_ms() - t0) * 1000) / 1000,
                              "status", co_mig_status_name(st.status), "samples", samples);
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
    co_qmp_close(q);
    if (rc != CO_OK)
        return rc;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "cutover watch: %s after %d samples, total %.0f ms, downtime %.0f ms\n",
                co_mig_status_name(st.status), samples, st.total_time_ms, st.downtime_ms);
    if (st.status == CO_MIG_FAILED)
        return co_diag_set(d, CO_EFAILED, "migration failed: %s",
                           st.error_desc[0] ? st.error_desc : "(QEMU gave no reason)");
    if (st.status == CO_MIG_CANCELLED)
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
    if (o.qmp == NULL)
        return co_cli_usage("watch", "--qmp SOCKET is required");
    if (o.out[0] == '\0')
        return co_cli_usage("watch", "-o needs a file name or '-'");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed stdout pipe becomes a write error (74), not a silent death. */
    signal(SIGPIPE, SIG_IGN);

    int rc = watch(&o, &d);
    if (rc != CO_OK)
        return co_cli_fail("watch", &d);
    return 0;
}
