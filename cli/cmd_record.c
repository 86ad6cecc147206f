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
#include "drivers/drv_virt.h"
#include "engine/recorder.h"
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




static void progress(int i, int n, int secs, void *arg)
{
    (void)arg;
    fprintf(stderr, "\rrecord: window %d/%d (%d s)...", i + 1, n, secs);
}

static void usage(void)
{
    printf("usage: cutover record --qmp SOCKET -o TRACE.json [--windows 1s,2s,4s,8s]\n"
           "                      [--mode dirty-bitmap|page-sampling|dirty-ring] [--json]\n"
           "       cutover record --connect URI --domain NAME -o TRACE.json [...]\n\n"
           "Measure a running VM's dirty curve U(t) (distinct pages dirtied in a window of\n"
           "t) with QEMU's calc-dirty-rate over each window in turn, and write a dirty trace\n"
           "(docs/traces.md) for `cutover model --dirty trace:FILE`. Works on any QEMU 7.1+\n"
           "that is not migrating. QEMU 7.2 measures whole seconds.\n\n"
           "  --qmp SOCKET       QMP socket (path, unix:PATH or tcp:HOST:PORT)\n"
           "  --connect URI      libvirt connection instead of --qmp, e.g. qemu:///system\n"
           "                     (virDomainStartDirtyRateCalc, libvirt 8.1+)\n"
           "  --domain NAME      the domain (name, UUID or id), with --connect\n"
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
        {"connect", required_argument, 0, 'c'}, {"domain", required_argument, 0, 'D'},
        {0, 0, 0, 0},
    };
    const char *sock = NULL, *out = NULL, *windows = "1s,2s,4s,8s", *mode = NULL;
    const char *conn = NULL, *domain = NULL;
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
        case 'c': conn = optarg; break;
        case 'D': domain = optarg; break;
        case 'h': usage(); return 0;
        case ':': return co_cli_usage("record", "%s needs a value", argv[optind - 1]);
        default: return co_cli_usage("record", "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return co_cli_usage("record", "unexpected argument '%s'", argv[optind]);
    if (sock && conn)
        return co_cli_usage("record", "--qmp and --connect are mutually exclusive (QMP socket or "
                                      "libvirt connection)");
    if (domain && !conn)
        return co_cli_usage("record", "--domain needs --connect URI");
    if (conn && !domain)
        return co_cli_usage("record", "--connect needs --domain NAME");
    if (sock == NULL && conn == NULL)
        return co_cli_usage("record", "--qmp SOCKET or --connect URI --domain NAME is required");
    if (out == NULL)
        return co_cli_usage("record", "-o TRACE.json is required");
    if (mode && strcmp(mode, "dirty-bitmap") && strcmp(mode, "page-sampling") &&
        strcmp(mode, "dirty-ring"))
        return co_cli_usage("record", "--mode: '%s': expected dirty-bitmap, page-sampling or dirty-ring",
                            mode);
    int secs[MAX_WINDOWS], n;
    if (parse_windows(windows, secs, &n, &d) != CO_OK)
        return co_cli_fail("record", &d);

    co_dirty_trace t;
    int tty = isatty(2), rc;
    if (conn) {
        co_virt_opts vo = {.conn_uri = conn, .domain = domain};
        co_drv *drv = NULL;
        if (co_virt_open(&vo, &drv, &d) != CO_OK)
            return co_cli_fail("record", &d);
        rc = co_record_curve_virt(drv, secs, n, mode, &t, tty ? progress : NULL, NULL, &d);
        drv->ops->close(drv);
    } else {
        co_qmp *q = NULL;
        if (co_qmp_connect(sock, 5000, &q, &d) != CO_OK)
            return co_cli_fail("record", &d);
        rc = co_record_curve(q, secs, n, mode, &t, tty ? progress : NULL, NULL, &d);
        co_qmp_close(q);
    }
    if (tty)
        fprintf(stderr, "\n");
    if (rc != CO_OK)
        return co_cli_fail("record", &d);
    int len = 0;
    for (int i = 0; i < argc && len < (int)sizeof t.command - 2; i++)
        len += snprintf(t.command + len, sizeof t.command - len, "%s%s", i ? " " : "cutover ",
                        argv[i]);
    double max_pages = t.mem_bytes / t.page_size_bytes;
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
