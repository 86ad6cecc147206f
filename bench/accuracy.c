/* bench/accuracy.c: `make bench-accuracy`, the model against real migrations.
 *
 * For each workload of the matrix: start the lab (source + destination QEMU
 * running the test guest), record the guest's dirty curve with
 * calc-dirty-rate, predict the migration with model/ (and with the
 * geometric baseline), run the real migration under QEMU's defaults
 * (downtime-limit 300 ms) with max-bandwidth emulating the link, and print
 * predicted against measured total time, data sent, passes, QEMU's downtime
 * and the heartbeat downtime, then the median and p90 absolute errors.
 * Flags: --quick (3 workloads), --only N (one workload), --json FILE. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "util/clock.h"
#include "drivers/qmp.h"
#include "engine/recorder.h"
#include "model/geometric.h"
#include "model/migration.h"
#include "traces/dirty_trace.h"

struct workload {
    double mem_mib;
    const char *guest;
    double link_gbit;
};

static const struct workload matrix[] = {
    {512, "pattern=uniform rate=5000 wss=64M", 1.0},
    {512, "pattern=uniform rate=20000 wss=128M", 1.0},
    {512, "pattern=hotcold rate=20000 hot=16M cold=256M hotfrac=0.9", 1.0},
    {512, "pattern=seq rate=10000 wss=128M", 1.0},
    {1024, "pattern=uniform rate=10000 wss=256M", 1.0},
    {1024, "pattern=uniform rate=40000 wss=256M", 2.5},
    {1024, "pattern=hotcold rate=30000 hot=32M cold=512M hotfrac=0.8", 2.5},
    {1024, "pattern=seq rate=20000 wss=256M", 2.5},
    {2048, "pattern=uniform rate=20000 wss=512M", 2.5},
    {2048, "pattern=hotcold rate=50000 hot=64M cold=1024M hotfrac=0.9", 2.5},
    {2048, "pattern=uniform rate=2000 wss=1024M", 1.0},
    {3072, "pattern=uniform rate=10000 wss=512M", 2.5},
};
#define NW (sizeof matrix / sizeof matrix[0])

struct row {
    int ok;
    char why[800];
    double pred_total_ms, pred_down_ms, pred_bytes, pred_passes;
    double geo_total_ms, geo_down_ms, geo_bytes;
    double meas_total_ms, meas_down_ms, meas_bytes, hb_down_ms;
    long meas_syncs;
    double u1_pages;
};

static double now_ms(void)
{
    return co_clock_ms();
}

static int run_one(const struct workload *w, struct row *r, double switch_cost_ms, double chan_cap)
{
    memset(r, 0, sizeof *r);
    co_diag d;
    co_diag_init(&d);
    co_lab_config cfg = {0};
    cfg.mem_bytes = w->mem_mib * 1048576.0;
    cfg.workload = w->guest;
    cfg.accel = CO_LAB_ACCEL_AUTO;
    co_lab *lab = NULL;
    co_qmp *q = NULL;
    int rc = co_lab_start(&cfg, &lab, &d);
    if (rc == CO_OK)
        rc = co_lab_wait_ready(lab, 180000, &d);
    const co_lab_info *info = lab ? co_lab_get_info(lab) : NULL;
    if (rc == CO_OK)
        rc = co_qmp_connect(info->src_qmp, 10000, &q, &d);
    co_dirty_trace t;
    int secs[] = {1, 2, 4};
    if (rc == CO_OK)
        rc = co_record_curve(q, secs, 3, NULL, &t, NULL, NULL, &d);
    if (rc != CO_OK)
        goto out;
    r->u1_pages = t.dirty_pages[0];

    /* model: loopback link, the emulated rate as max-bandwidth */
    double maxbw = w->link_gbit * 1e9 / 8;
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = t.mem_bytes;
    co_dirty_trace_curve(&t, &p.dirty);
    p.link.ethernet = 0;
    p.link.mtu = 65536;
    p.link.line_rate_bytes_per_s = 100e9 / 8;
    p.link.channel_cap_bytes_per_s = chan_cap;
    p.link.max_bandwidth_bytes_per_s = maxbw;
    p.switchover_cost_ms = switch_cost_ms;
    p.deadline_ms = 300e3;
    co_mig_result pr;
    co_mig_predict(&p, &pr);
    r->pred_total_ms = pr.total_time_ms;
    r->pred_down_ms = pr.downtime_ms;
    r->pred_bytes = pr.transferred_bytes;
    r->pred_passes = pr.dirty_sync_count;
    co_geo_result g;
    co_geo_predict(t.mem_bytes, t.dirty_pages[0] * 4096.0, maxbw * 4096.0 / (4096.0 + CO_MIG_PAGE_HEADER_BYTES), 300,
                   switch_cost_ms, 30, &g);
    r->geo_total_ms = g.total_time_ms;
    r->geo_down_ms = g.downtime_ms;
    r->geo_bytes = g.transferred_bytes;

    /* the real migration */
    json_t *params = json_pack("{s:I,s:I}", "max-bandwidth", (json_int_t)maxbw, "downtime-limit",
                               (json_int_t)300);
    rc = co_qmp_set_parameters(q, params, &d);
    json_decref(params);
    if (rc == CO_OK)
        rc = co_qmp_migrate(q, info->migrate_uri, &d);
    co_drv_stats st;
    double t0 = now_ms();
    while (rc == CO_OK) {
        usleep(100 * 1000);
        rc = co_qmp_query_migrate(q, &st, &d);
        if (rc != CO_OK)
            break;
        if (st.status == CO_DRV_MIG_COMPLETED)
            break;
        if (st.status == CO_DRV_MIG_FAILED || st.status == CO_DRV_MIG_CANCELLED) {
            rc = co_diag_set(&d, CO_EFAILED, "migration %s: %s", co_drv_status_name(st.status),
                             st.error_desc);
            break;
        }
        if (now_ms() - t0 > 300e3) {
            co_qmp_migrate_cancel(q, NULL);
            rc = co_diag_set(&d, CO_ETIMEDOUT, "did not converge in 300 s (cancelled)");
        }
    }
    if (rc != CO_OK)
        goto out;
    r->meas_total_ms = st.total_time_ms;
    r->meas_down_ms = st.downtime_ms;
    r->meas_bytes = st.ram_transferred_bytes;
    r->meas_syncs = (long)st.ram_dirty_sync_count;
    /* heartbeats from the destination, then the switchover gap */
    co_lab_wait_heartbeat(lab, 1, 0, 5000, NULL);
    co_lab_gap gap;
    if (co_lab_switch_gap(lab, 0, 1, &gap, &d) == CO_OK)
        r->hb_down_ms = gap.gap_ms;
    else
        r->hb_down_ms = NAN;
    co_lab_status ls;
    co_lab_get_status(lab, &ls);
    if (ls.err_lines > 0) {
        rc = co_diag_set(&d, CO_EFAILED, "guest memory corrupted: %s", ls.first_err);
        goto out;
    }
    r->ok = 1;
out:
    if (rc != CO_OK)
        snprintf(r->why, sizeof r->why, "%s", d.msg);
    if (q)
        co_qmp_close(q);
    if (lab)
        co_lab_stop(lab);
    return rc;
}

static double ape(double pred, double meas)
{
    return fabs(pred - meas) / meas * 100.0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of n values */
static double pct(double *v, int n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp);
    int k = (int)ceil(p / 100.0 * n) - 1;
    return v[k < 0 ? 0 : k];
}

int main(int argc, char **argv)
{
    int quick = 0, only = -1;
    const char *json_path = NULL;
    double cost = -1, cap = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--switchover-cost") && i + 1 < argc)
            cost = atof(argv[++i]);
        else if (!strcmp(argv[i], "--channel-cap") && i + 1 < argc)
            cap = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: accuracy [--quick] [--only N] [--json FILE] "
                            "[--switchover-cost MS] [--channel-cap BYTES_PER_S]\n");
            return 64;
        }
    }
    co_mig_params defaults;
    co_mig_defaults(&defaults);
    if (cost < 0)
        cost = defaults.switchover_cost_ms;
    if (cap < 0)
        cap = defaults.link.channel_cap_bytes_per_s;
    signal(SIGPIPE, SIG_IGN);
    struct row rows[NW];
    int n = 0;
    double t_start = now_ms();
    printf("bench-accuracy: model vs real QEMU 7.2 migrations (downtime-limit 300 ms, "
           "max-bandwidth = link)\n");
    printf("switchover cost %.1f ms, channel cap %.0f MB/s\n\n", cost, cap / 1e6);
    printf("%-2s %-5s %-4s %-52s | %8s %8s %5s | %8s %8s %5s | %6s %6s %6s | %5s %5s\n", "#",
           "mem", "Gbit", "workload", "T pred", "T meas", "err%", "MB pred", "MB meas", "err%",
           "D pred", "D qemu", "D hb", "syncs", "pred");
    for (size_t i = 0; i < NW; i++) {
        if (only >= 0 && (int)i != only)
            continue;
        if (quick && i != 0 && i != 5 && i != 9)
            continue;
        const struct workload *w = &matrix[i];
        struct row *r = &rows[n++];
        run_one(w, r, cost, cap);
        if (!r->ok) {
            printf("%-2zu %-5.0f %-4.1f %-52s | FAILED: %s\n", i, w->mem_mib, w->link_gbit, w->guest,
                   r->why);
            continue;
        }
        printf("%-2zu %-5.0f %-4.1f %-52s | %8.0f %8.0f %5.1f | %8.1f %8.1f %5.1f | %6.0f %6.0f "
               "%6.0f | %5ld %5.0f\n",
               i, w->mem_mib, w->link_gbit, w->guest, r->pred_total_ms, r->meas_total_ms,
               ape(r->pred_total_ms, r->meas_total_ms), r->pred_bytes / 1e6, r->meas_bytes / 1e6,
               ape(r->pred_bytes, r->meas_bytes), r->pred_down_ms, r->meas_down_ms, r->hb_down_ms,
               r->meas_syncs, r->pred_passes);
        fflush(stdout);
    }
    /* errors */
    double e[6][NW];
    int m = 0;
    for (int i = 0; i < n; i++) {
        struct row *r = &rows[i];
        if (!r->ok)
            continue;
        e[0][m] = ape(r->pred_total_ms, r->meas_total_ms);
        e[1][m] = ape(r->pred_bytes, r->meas_bytes);
        e[2][m] = isfinite(r->hb_down_ms) ? ape(r->pred_down_ms, r->hb_down_ms) : 0;
        e[3][m] = ape(r->geo_total_ms, r->meas_total_ms);
        e[4][m] = ape(r->geo_bytes, r->meas_bytes);
        e[5][m] = isfinite(r->hb_down_ms) ? ape(r->geo_down_ms, r->hb_down_ms) : 0;
        m++;
    }
    const char *names[] = {"total time", "data sent", "heartbeat downtime"};
    printf("\nabsolute error, %d runs        model median / p90      geometric median / p90   "
           "p90 ratio (geo/model)\n", m);
    json_t *js = json_object();
    for (int k = 0; k < 3; k++) {
        double mm = pct(e[k], m, 50), mp = pct(e[k], m, 90);
        double gm = pct(e[k + 3], m, 50), gp = pct(e[k + 3], m, 90);
        printf("  %-20s %10.1f%% / %6.1f%%      %10.1f%% / %6.1f%%      %6.2fx\n", names[k], mm, mp,
               gm, gp, gp / mp);
        json_t *o = json_pack("{s:f,s:f,s:f,s:f}", "model_median_pct", mm, "model_p90_pct", mp,
                              "geometric_median_pct", gm, "geometric_p90_pct", gp);
        json_object_set_new(js, names[k], o);
    }
    printf("\nwall time %.0f s\n", (now_ms() - t_start) / 1000);
    if (json_path) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) {
            struct row *r = &rows[i];
            json_array_append_new(
                arr, json_pack("{s:b,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:I}", "ok", r->ok,
                               "why", r->why, "pred_total_ms", r->pred_total_ms, "meas_total_ms",
                               r->meas_total_ms, "pred_bytes", r->pred_bytes, "meas_bytes",
                               r->meas_bytes, "pred_downtime_ms", r->pred_down_ms,
                               "qemu_downtime_ms", r->meas_down_ms, "hb_downtime_ms",
                               isfinite(r->hb_down_ms) ? r->hb_down_ms : -1.0, "geo_total_ms",
                               r->geo_total_ms, "geo_bytes", r->geo_bytes, "meas_dirty_sync_count",
                               (json_int_t)r->meas_syncs));
        }
        json_object_set_new(js, "runs", arr);
        json_dump_file(js, json_path, JSON_INDENT(2));
    }
    json_decref(js);
    return 0;
}
