/* cli/cmd_record.c: `cutover record`, a running VM's dirty curve to a trace.
 *
 * Measures U(t) with QEMU's calc-dirty-rate (dirty-bitmap mode by default:
 * every page, no sampling) over several windows, one after the other, and
 * writes a dirty trace (docs/traces.md). Works on any QEMU >= 7.1 that is
 * not migrating; QEMU 7.2 takes whole seconds for calc-time. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/qmp.h"
#include "model/fit.h"
#include "traces/dirty_trace.h"
#include "util/units.h"

#define MAX_WINDOWS CO_DIRTY_TABLE_MAX

static int parse_windows(const char *text, int *secs, int *n, co_diag *d)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        double ms;
        int rc = co_parse_time(tok, "--windows", &ms, d);
        if (rc != CO_OK)
            return rc;
        if (ms < 1000 || fmod(ms, 1000.0) != 0 || ms > 3600e3)
            return co_diag_set(d, CO_EUSAGE,
                               "--windows: '%s': QEMU 7.2 measures whole seconds, 1s to 1h", tok);
        if (*n >= MAX_WINDOWS)
            return co_diag_set(d, CO_EUSAGE, "--windows: at most %d windows", MAX_WINDOWS);
        int s = (int)(ms / 1000);
        if (*n > 0 && s <= secs[*n - 1])
            return co_diag_set(d, CO_EUSAGE, "--windows: '%s': windows must increase", text);
        secs[(*n)++] = s;
    }
    if (*n == 0)
        return co_diag_set(d, CO_EUSAGE, "--windows: empty list");
    return CO_OK;
}

static int mem_bytes_of(co_qmp *q, double *mem, co_diag *d)
{
    json_t *ret = NULL;
    int rc = co_qmp_call(q, "query-memory-size-summary", NULL, &ret, d);
    if (rc != CO_OK)
        return rc;
    json_t *b = json_object_get(ret, "base-memory");
    if (!json_is_integer(b)) {
        json_decref(ret);
        return co_diag_set(d, CO_EPROTO, "query-memory-size-summary: no base-memory in the reply");
    }
    *mem = (double)json_integer_value(b);
    json_t *p = json_object_get(ret, "plugged-memory");
    if (json_is_integer(p))
        *mem += (double)json_integer_value(p);
    json_decref(ret);
    return CO_OK;
}

static int vcpus_of(co_qmp *q, int *n, co_diag *d)
{
    json_t *ret = NULL;
    int rc = co_qmp_call(q, "query-cpus-fast", NULL, &ret, d);
    if (rc != CO_OK)
        return rc;
    *n = json_is_array(ret) ? (int)json_array_size(ret) : 0;
    json_decref(ret);
    return CO_OK;
}

/* 1 if the VM runs under KVM (query-kvm "enabled"). */
static int kvm_enabled(co_qmp *q, int *on, co_diag *d)
{
    json_t *ret = NULL;
    int rc = co_qmp_call(q, "query-kvm", NULL, &ret, d);
    if (rc != CO_OK)
        return rc;
    *on = json_is_true(json_object_get(ret, "enabled"));
    json_decref(ret);
    return CO_OK;
}

static int measure(co_qmp *q, int secs, const char *mode, double *mib_per_s, co_diag *d)
{
    int rc = co_qmp_calc_dirty_rate(q, secs, mode, -1, d);
    if (rc != CO_OK)
        return rc;
    /* QEMU measures in its own thread; poll until it says measured */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        usleep(200 * 1000);
        co_qmp_dirty_rate r;
        if ((rc = co_qmp_query_dirty_rate(q, &r, d)) != CO_OK)
            return rc;
        if (strcmp(r.status, "measured") == 0) {
            *mib_per_s = (double)r.dirty_rate_mib_per_s;
            return CO_OK;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > secs + 10)
            return co_diag_set(d, CO_ETIMEDOUT, "calc-dirty-rate: no result %d s after a %d s window",
                               secs + 10, secs);
    }
}

static void usage(void)
{
    printf("usage: cutover record --qmp SOCKET -o TRACE.json [--windows 1s,2s,4s,8s]\n"
           "                      [--mode dirty-bitmap|page-sampling|dirty-ring] [--json]\n\n"
           "Measure a running VM's dirty curve U(t) (distinct pages dirtied in a window of\n"
           "t) with QEMU's calc-dirty-rate over each window in turn, and write a dirty trace\n"
           "(docs/traces.md) for `cutover model --dirty trace:FILE`. Works on any QEMU 7.1+\n"
           "that is not migrating. QEMU 7.2 measures whole seconds.\n\n"
           "  --qmp SOCKET       QMP socket (path, unix:PATH or tcp:HOST:PORT)\n"
           "  -o, --output FILE  trace to write ('-' = stdout)\n"
           "  --windows LIST     windows, increasing, whole seconds (default 1s,2s,4s,8s)\n"
           "  --mode MODE        calc-dirty-rate mode (default: dirty-bitmap, exact, under KVM;\n"
           "                     page-sampling under TCG, where QEMU 7.2 crashes on dirty-bitmap)\n"
           "  --json             print the summary as JSON\n");
}

int co_cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {
        {"qmp", required_argument, 0, 'q'},   {"output", required_argument, 0, 'o'},
        {"windows", required_argument, 0, 'w'}, {"mode", required_argument, 0, 'm'},
        {"json", no_argument, 0, 'j'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *sock = NULL, *out = NULL, *windows = "1s,2s,4s,8s", *mode = NULL;
    int json = 0, c;
    co_diag d;
    co_diag_init(&d);
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'q': sock = optarg; break;
        case 'o': out = optarg; break;
        case 'w': windows = optarg; break;
        case 'm': mode = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(); return 0;
        case ':': return co_cli_usage("record", "%s needs a value", argv[optind - 1]);
        default: return co_cli_usage("record", "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return co_cli_usage("record", "unexpected argument '%s'", argv[optind]);
    if (sock == NULL)
        return co_cli_usage("record", "--qmp SOCKET is required");
    if (out == NULL)
        return co_cli_usage("record", "-o TRACE.json is required");
    if (mode && strcmp(mode, "dirty-bitmap") && strcmp(mode, "page-sampling") &&
        strcmp(mode, "dirty-ring"))
        return co_cli_usage("record", "--mode: '%s': expected dirty-bitmap, page-sampling or dirty-ring",
                            mode);
    int secs[MAX_WINDOWS], n;
    if (parse_windows(windows, secs, &n, &d) != CO_OK)
        return co_cli_fail("record", &d);

    co_qmp *q = NULL;
    if (co_qmp_connect(sock, 5000, &q, &d) != CO_OK)
        return co_cli_fail("record", &d);
    co_dirty_trace t;
    memset(&t, 0, sizeof t);
    co_qmp_ver v;
    int rc = co_qmp_query_version(q, &v, &d);
    if (rc == CO_OK)
        rc = mem_bytes_of(q, &t.mem_bytes, &d);
    if (rc == CO_OK)
        rc = vcpus_of(q, &t.vcpus, &d);
    int kvm = 0;
    if (rc == CO_OK)
        rc = kvm_enabled(q, &kvm, &d);
    /* QEMU 7.2 under TCG dies on calc-dirty-rate in dirty-bitmap mode (seen
     * here: the process exits without a word), so never send it there. */
    if (rc == CO_OK && mode == NULL)
        mode = kvm ? "dirty-bitmap" : "page-sampling";
    else if (rc == CO_OK && !kvm && strcmp(mode, "page-sampling") != 0)
        rc = co_diag_set(&d, CO_EUSAGE,
                         "--mode %s: this VM runs under TCG, where QEMU 7.2 crashes on "
                         "dirty-bitmap and has no dirty ring; use --mode page-sampling",
                         mode);
    if (rc != CO_OK) {
        co_qmp_close(q);
        return co_cli_fail("record", &d);
    }
    snprintf(t.qemu_version, sizeof t.qemu_version, "%d.%d.%d", v.major, v.minor, v.micro);
    snprintf(t.method, sizeof t.method, "calc-dirty-rate/%s", mode);
    int len = 0;
    for (int i = 0; i < argc && len < (int)sizeof t.command - 2; i++)
        len += snprintf(t.command + len, sizeof t.command - len, "%s%s", i ? " " : "cutover ",
                        argv[i]);
    t.page_size_bytes = 4096; /* x86 target page; QMP does not report it */
    time_t now = time(NULL);
    strftime(t.recorded_at, sizeof t.recorded_at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double max_pages = t.mem_bytes / t.page_size_bytes;
    int tty = isatty(2);
    for (int i = 0; i < n; i++) {
        if (tty)
            fprintf(stderr, "\rrecord: window %d/%d (%d s)...", i + 1, n, secs[i]);
        double mib = 0;
        if ((rc = measure(q, secs[i], mode, &mib, &d)) != CO_OK) {
            if (tty)
                fprintf(stderr, "\n");
            co_qmp_close(q);
            return co_cli_fail("record", &d);
        }
        /* QEMU reports MiB/s over the window: distinct pages = rate x t / page */
        double pages = fmin(mib * 1048576.0 * secs[i] / t.page_size_bytes, max_pages);
        /* windows are measured one after another, so noise can make a longer
         * window count fewer pages; U is non-decreasing, keep the max */
        if (i > 0 && pages < t.dirty_pages[i - 1])
            pages = t.dirty_pages[i - 1];
        t.window_ms[i] = secs[i] * 1000.0;
        t.dirty_pages[i] = pages;
        t.n = i + 1;
    }
    if (tty)
        fprintf(stderr, "\n");
    co_qmp_close(q);
    if ((rc = co_dirty_trace_save(out, &t, &d)) != CO_OK)
        return co_cli_fail("record", &d);

    double ts[MAX_WINDOWS];
    for (int i = 0; i < t.n; i++)
        ts[i] = t.window_ms[i] / 1000.0;
    co_fit_result fit;
    int fitted = t.n >= 2 && co_dirty_fit(CO_DIRTY_UNIFORM, ts, t.dirty_pages, t.n, max_pages,
                                          &fit) == CO_OK;
    FILE *o = strcmp(out, "-") == 0 ? stderr : stdout;
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "trace", json_string(out));
        json_object_set_new(j, "mem_bytes", json_real(t.mem_bytes));
        json_object_set_new(j, "qemu_version", json_string(t.qemu_version));
        json_t *pts = json_array();
        for (int i = 0; i < t.n; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "window_ms", json_real(t.window_ms[i]));
            json_object_set_new(p, "dirty_pages", json_real(t.dirty_pages[i]));
            json_array_append_new(pts, p);
        }
        json_object_set_new(j, "points", pts);
        if (fitted && fit.curve.kind == CO_DIRTY_UNIFORM) {
            json_t *f = json_object();
            json_object_set_new(f, "form", json_string("uniform"));
            json_object_set_new(f, "wss_pages", json_real(fit.curve.wss_pages));
            json_object_set_new(f, "rate_pages_per_s", json_real(fit.curve.rate_pages_per_s));
            json_object_set_new(f, "r2", json_real(fit.r2));
            json_object_set_new(j, "fit", f);
        }
        return co_cli_emit_json(o, j);
    }
    char b[64];
    fprintf(o, "recorded %d windows of a %s VM (QEMU %s) to %s\n", t.n,
            co_fmt_size(t.mem_bytes, b, sizeof b), t.qemu_version, out);
    for (int i = 0; i < t.n; i++)
        fprintf(o, "  %6.0f s  %12.0f pages  (%s)\n", t.window_ms[i] / 1000, t.dirty_pages[i],
                co_fmt_size(t.dirty_pages[i] * t.page_size_bytes, b, sizeof b));
    if (fitted && fit.curve.kind == CO_DIRTY_UNIFORM)
        fprintf(o, "  fit: uniform:wss=%.0fMiB,rate=%.0f (R^2 %.4f)\n",
                fit.curve.wss_pages * t.page_size_bytes / 1048576.0, fit.curve.rate_pages_per_s,
                fit.r2);
    return 0;
}
