/* bench/accuracy.c: `make bench-accuracy`, the model against real migrations.
 *
 * For each workload of the matrix: start the lab (source + destination QEMU
 * running the test guest), record the guest's dirty curve with
 * calc-dirty-rate, predict the migration with model/ (and with the
 * geometric baseline), run the real migration under QEMU's defaults
 * (downtime-limit 300 ms) with max-bandwidth emulating the link, and print
 * predicted against measured total time, data sent, passes, QEMU's downtime
 * and the heartbeat downtime.
 *
 * The protocol is split so that its figures are not in-sample: the matrix
 * holds a calibration set (c0..c11) and a held-out set (h0..h11) of
 * different workloads, guest sizes, link rates and guest seeds. The two
 * fixed costs of the model (switchover cost, per-channel rate) are fitted on
 * the calibration runs only (grid search, median heartbeat-downtime error),
 * then both sets are scored with the shipped constants (co_mig_defaults, or
 * --switchover-cost/--channel-cap) and with the fitted ones. The fit re-runs
 * the model on the recorded curves; nothing is migrated twice for it.
 * docs/accuracy.md explains the split and holds the figures.
 *
 * Flags: --set calibration|held-out|all (which runs; a fit needs calibration
 * runs), --repeat N (N rounds of the matrix, scored per round and pooled),
 * --quick (3 workloads per set), --only NAME (one workload, e.g. c5, h0),
 * --json FILE, --switchover-cost MS, --channel-cap BYTES_PER_S, --rescore
 * FILE (repeatable: fit and score the runs of earlier --json files, nothing
 * migrated). */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "drivers/qmp.h"
#include "engine/recorder.h"
#include "lab/lab.h"
#include "model/geometric.h"
#include "model/migration.h"
#include "traces/dirty_trace.h"

enum set { SET_CAL, SET_HELD, NSET };
static const char *const set_name[NSET] = {"calibration", "held-out"};

struct workload {
    enum set set;
    double mem_mib;
    const char *guest;
    double link_gbit;
};

/* The calibration set is the matrix the constants shipped before the split
 * were fitted on (commit 580053e). The held-out set was written down before
 * any of its runs: each pattern again, but other rates, working sets, hot
 * shares, guest sizes (768, 1536, 2560 MiB are not in the calibration set)
 * and link rates (1.5 and 2.0 Gbit/s are new), and the guest's random seed
 * 7 instead of the default 1. Both sets span 512 MiB..2.5-3 GiB, 1..2.5
 * Gbit/s and about 15 GiB of guest memory in all, so neither is the easy
 * half. */
static const struct workload matrix[] = {
    {SET_CAL, 512, "pattern=uniform rate=5000 wss=64M", 1.0},
    {SET_CAL, 512, "pattern=uniform rate=20000 wss=128M", 1.0},
    {SET_CAL, 512, "pattern=hotcold rate=20000 hot=16M cold=256M hotfrac=0.9", 1.0},
    {SET_CAL, 512, "pattern=seq rate=10000 wss=128M", 1.0},
    {SET_CAL, 1024, "pattern=uniform rate=10000 wss=256M", 1.0},
    {SET_CAL, 1024, "pattern=uniform rate=40000 wss=256M", 2.5},
    {SET_CAL, 1024, "pattern=hotcold rate=30000 hot=32M cold=512M hotfrac=0.8", 2.5},
    {SET_CAL, 1024, "pattern=seq rate=20000 wss=256M", 2.5},
    {SET_CAL, 2048, "pattern=uniform rate=20000 wss=512M", 2.5},
    {SET_CAL, 2048, "pattern=hotcold rate=50000 hot=64M cold=1024M hotfrac=0.9", 2.5},
    {SET_CAL, 2048, "pattern=uniform rate=2000 wss=1024M", 1.0},
    {SET_CAL, 3072, "pattern=uniform rate=10000 wss=512M", 2.5},
    {SET_HELD, 768, "pattern=uniform rate=8000 wss=96M seed=7", 1.0},
    {SET_HELD, 768, "pattern=hotcold rate=15000 hot=24M cold=384M hotfrac=0.85 seed=7", 1.5},
    {SET_HELD, 768, "pattern=seq rate=15000 wss=192M seed=7", 1.0},
    {SET_HELD, 512, "pattern=uniform rate=30000 wss=192M seed=7", 2.0},
    {SET_HELD, 1536, "pattern=uniform rate=15000 wss=384M seed=7", 1.5},
    {SET_HELD, 1536, "pattern=hotcold rate=30000 hot=40M cold=768M hotfrac=0.7 seed=7", 2.0},
    {SET_HELD, 1536, "pattern=seq rate=30000 wss=384M seed=7", 2.0},
    {SET_HELD, 1024, "pattern=uniform rate=3000 wss=640M seed=7", 1.5},
    {SET_HELD, 2560, "pattern=uniform rate=25000 wss=768M seed=7", 2.0},
    {SET_HELD, 2560, "pattern=hotcold rate=30000 hot=32M cold=1536M hotfrac=0.9 seed=7", 1.5},
    {SET_HELD, 1024, "pattern=seq rate=5000 wss=512M seed=7", 2.5},
    {SET_HELD, 512, "pattern=hotcold rate=10000 hot=8M cold=128M hotfrac=0.5 seed=7", 1.0},
};
#define NW (int)(sizeof matrix / sizeof matrix[0])
#define MAXREP 9

/* --quick: small, middle and large of each set (positions within the set) */
static int quick_pick(int pos)
{
    return pos == 0 || pos == 5 || pos == 9;
}

/* one real migration and what was recorded before it */
struct run {
    int w, round, ok;
    char why[800];
    co_dirty_trace trace;
    double maxbw_bytes_per_s;
    double meas_total_ms, meas_down_ms, meas_bytes, hb_down_ms;
    long meas_syncs;
    double load1; /* the machine's 1-minute load average after the run */
};

/* 1-minute load average, NAN if unreadable: printed with each run because
 * the migration thread and the TCG vCPU share the machine's cores with
 * whatever else runs, and that shows in the measured times */
static double load1(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

/* the model's and the baseline's prediction of one run under given constants */
struct pred {
    double total_ms, down_ms, bytes, passes;
    double geo_total_ms, geo_down_ms, geo_bytes;
};

struct consts {
    double cost_ms, cap_bytes_per_s;
};

/* position of workload w within its set */
static int set_pos(int w)
{
    int pos = 0;
    for (int i = 0; i < w; i++)
        pos += matrix[i].set == matrix[w].set;
    return pos;
}

/* "c5", "h0": the set's letter and the position within it */
static void workload_name(int w, char *buf, size_t n)
{
    snprintf(buf, n, "%c%d", matrix[w].set == SET_CAL ? 'c' : 'h', set_pos(w) % 100);
}

static void predict(const struct run *r, const struct consts *k, struct pred *o)
{
    /* model: loopback link, the emulated rate as max-bandwidth; QEMU lifts
     * max-bandwidth for the stop-and-copy, which then runs at what one
     * channel can push (channel_cap) */
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = r->trace.mem_bytes;
    co_dirty_trace_curve(&r->trace, &p.dirty);
    p.link.ethernet = 0;
    p.link.mtu = 65536;
    p.link.line_rate_bytes_per_s = 100e9 / 8;
    p.link.channel_cap_bytes_per_s = k->cap_bytes_per_s;
    p.link.max_bandwidth_bytes_per_s = r->maxbw_bytes_per_s;
    p.switchover_cost_ms = k->cost_ms;
    p.deadline_ms = 300e3;
    co_mig_result pr;
    co_mig_predict(&p, &pr);
    o->total_ms = pr.total_time_ms;
    o->down_ms = pr.downtime_ms;
    o->bytes = pr.transferred_bytes;
    o->passes = pr.dirty_sync_count;
    co_geo_result g;
    co_geo_predict(r->trace.mem_bytes, r->trace.dirty_pages[0] * 4096.0,
                   r->maxbw_bytes_per_s * 4096.0 / (4096.0 + CO_MIG_PAGE_HEADER_BYTES), 300,
                   k->cost_ms, 30, &g);
    o->geo_total_ms = g.total_time_ms;
    o->geo_down_ms = g.downtime_ms;
    o->geo_bytes = g.transferred_bytes;
}

static int run_one(int w_idx, int round, struct run *r)
{
    const struct workload *w = &matrix[w_idx];
    memset(r, 0, sizeof *r);
    r->w = w_idx;
    r->round = round;
    r->hb_down_ms = NAN;
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
    int secs[] = {1, 2, 4};
    if (rc == CO_OK)
        rc = co_record_curve(q, secs, 3, NULL, &r->trace, NULL, NULL, &d);
    if (rc != CO_OK)
        goto out;
    r->maxbw_bytes_per_s = w->link_gbit * 1e9 / 8;

    json_t *params = json_pack("{s:I,s:I}", "max-bandwidth", (json_int_t)r->maxbw_bytes_per_s,
                               "downtime-limit", (json_int_t)300);
    rc = co_qmp_set_parameters(q, params, &d);
    json_decref(params);
    if (rc == CO_OK)
        rc = co_qmp_migrate(q, info->migrate_uri, &d);
    co_drv_stats st;
    double t0 = co_clock_ms();
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
        if (co_clock_ms() - t0 > 300e3) {
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
    co_lab_status ls;
    co_lab_get_status(lab, &ls);
    if (ls.err_lines > 0) {
        rc = co_diag_set(&d, CO_EFAILED, "guest memory corrupted: %s", ls.first_err);
        goto out;
    }
    r->ok = 1;
out:
    r->load1 = load1();
    if (rc != CO_OK)
        snprintf(r->why, sizeof r->why, "%s", d.msg);
    if (q)
        co_qmp_close(q);
    if (lab)
        co_lab_stop(lab);
    return rc;
}

/* absolute relative error, % */
static double ape(double pred, double meas)
{
    return fabs(pred - meas) / meas * 100.0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median, nearest-rank p90, worst and mean of n errors (sorts v) */
struct stat3 {
    int n;
    double median, p90, worst, mean;
};

static struct stat3 stat3(double *v, int n)
{
    struct stat3 s = {n, NAN, NAN, NAN, NAN};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, cmp);
    s.mean = 0;
    for (int i = 0; i < n; i++)
        s.mean += v[i] / n;
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    int k = (int)ceil(0.9 * n) - 1;
    s.p90 = v[k < 0 ? 0 : k];
    s.worst = v[n - 1];
    return s;
}

enum metric { M_TOTAL, M_BYTES, M_DOWN, NMETRIC };
static const char *const metric_name[NMETRIC] = {"total time", "data sent", "downtime"};
static const char *const metric_key[NMETRIC] = {"total_time", "data_sent", "heartbeat_downtime"};

/* errors of the model (and the baseline) on the runs of one set and round
 * (round < 0: every round) under constants k. Downtime is scored against the
 * heartbeat gap; a run without one is left out of that metric only. */
struct score {
    struct stat3 model[NMETRIC], geo[NMETRIC];
};

static void score(const struct run *runs, int n, enum set s, int round, const struct consts *k,
                  struct score *out)
{
    double *e[2][NMETRIC];
    int m[NMETRIC] = {0};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < NMETRIC; j++)
            e[i][j] = calloc(n ? n : 1, sizeof(double));
    for (int i = 0; i < n; i++) {
        const struct run *r = &runs[i];
        if (!r->ok || matrix[r->w].set != s || (round >= 0 && r->round != round))
            continue;
        struct pred p;
        predict(r, k, &p);
        e[0][M_TOTAL][m[M_TOTAL]] = ape(p.total_ms, r->meas_total_ms);
        e[1][M_TOTAL][m[M_TOTAL]++] = ape(p.geo_total_ms, r->meas_total_ms);
        e[0][M_BYTES][m[M_BYTES]] = ape(p.bytes, r->meas_bytes);
        e[1][M_BYTES][m[M_BYTES]++] = ape(p.geo_bytes, r->meas_bytes);
        if (isfinite(r->hb_down_ms) && r->hb_down_ms > 0) {
            e[0][M_DOWN][m[M_DOWN]] = ape(p.down_ms, r->hb_down_ms);
            e[1][M_DOWN][m[M_DOWN]++] = ape(p.geo_down_ms, r->hb_down_ms);
        }
    }
    for (int j = 0; j < NMETRIC; j++) {
        out->model[j] = stat3(e[0][j], m[j]);
        out->geo[j] = stat3(e[1][j], m[j]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < NMETRIC; j++)
            free(e[i][j]);
}

/* The fit: switchover cost 0..FIT_COST_MAX_MS in 1 ms steps and per-channel
 * rate 0.2..6.0 GB/s in 0.1 GB/s steps (the stop-and-copy rate on loopback;
 * the shipped 10 ms and 2.2 GB/s sit well inside; the wide cost range lets a
 * loaded machine's slow switchover show as what it is instead of piling up
 * on the edge), minimising the mean heartbeat-downtime
 * error over the calibration runs, ties to the lower worst error. The mean,
 * not the median: with two free constants a median can be driven to zero by
 * matching the middle run or two whatever the others do (a 3-run trial fitted
 * a 0.8 % median with a 75 % worst error). Only these two constants are free:
 * total time and data sent hardly depend on them, so they are scored, not
 * fitted. Returns 0 when there is no calibration run with a heartbeat gap. */
#define FIT_COST_MAX_MS 200
#define FIT_CAP_MIN_DGBPS 2 /* in 0.1 GB/s */
#define FIT_CAP_MAX_DGBPS 60

static int fit(const struct run *runs, int n, struct consts *best, struct stat3 *best_s)
{
    int found = 0;
    for (int c = 0; c <= FIT_COST_MAX_MS; c++) {
        for (int g = FIT_CAP_MIN_DGBPS; g <= FIT_CAP_MAX_DGBPS; g++) {
            struct consts k = {c, g * 1e8};
            struct score sc;
            score(runs, n, SET_CAL, -1, &k, &sc);
            struct stat3 s = sc.model[M_DOWN];
            if (s.n == 0)
                return 0;
            if (!found || s.mean < best_s->mean ||
                (s.mean == best_s->mean && s.worst < best_s->worst)) {
                *best = k;
                *best_s = s;
                found = 1;
            }
        }
    }
    return found;
}

static void print_run(const struct run *r, const struct consts *k)
{
    const struct workload *w = &matrix[r->w];
    char name[8];
    workload_name(r->w, name, sizeof name);
    if (!r->ok) {
        printf("%-3s %d %-5.0f %-4.1f %-62s | FAILED: %s\n", name, r->round + 1, w->mem_mib,
               w->link_gbit, w->guest, r->why);
        return;
    }
    struct pred p;
    predict(r, k, &p);
    printf("%-3s %d %-5.0f %-4.1f %-62s | %7.0f %7.0f %5.1f | %7.1f %7.1f %5.1f | %5.0f %5.0f %5.0f "
           "%5.1f | %4ld %4.0f | %4.1f\n",
           name, r->round + 1, w->mem_mib, w->link_gbit, w->guest, p.total_ms, r->meas_total_ms,
           ape(p.total_ms, r->meas_total_ms), p.bytes / 1e6, r->meas_bytes / 1e6,
           ape(p.bytes, r->meas_bytes), p.down_ms, r->meas_down_ms, r->hb_down_ms,
           isfinite(r->hb_down_ms) ? ape(p.down_ms, r->hb_down_ms) : NAN, r->meas_syncs,
           p.passes, r->load1);
}

static void print_header(void)
{
    printf("%-3s %s %-5s %-4s %-62s | %7s %7s %5s | %7s %7s %5s | %5s %5s %5s %5s | %4s %4s | %4s\n",
           "#", "r", "MiB", "Gbit", "workload", "T pred", "T meas", "err%", "MB pred", "MB meas",
           "err%", "Dpred", "Dqemu", "D hb", "err%", "sync", "pred", "load");
}

static void print_score_line(const char *label, int n_runs, const struct stat3 *s)
{
    printf("  %-34s %4d", label, n_runs);
    for (int j = 0; j < NMETRIC; j++)
        printf("  %6.1f %6.1f %6.1f", s[j].median, s[j].p90, s[j].worst);
    printf("\n");
}

static int count_ok(const struct run *runs, int n, enum set s, int round)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += runs[i].ok && matrix[runs[i].w].set == s && (round < 0 || runs[i].round == round);
    return c;
}

static json_t *stat3_json(const struct stat3 *s)
{
    return json_pack("{s:i,s:f,s:f,s:f}", "runs", s->n, "median_pct",
                     isfinite(s->median) ? s->median : -1.0, "p90_pct",
                     isfinite(s->p90) ? s->p90 : -1.0, "worst_pct",
                     isfinite(s->worst) ? s->worst : -1.0);
}

static json_t *score_json(const struct score *sc)
{
    json_t *o = json_object(), *mo = json_object(), *go = json_object();
    for (int j = 0; j < NMETRIC; j++) {
        json_object_set_new(mo, metric_key[j], stat3_json(&sc->model[j]));
        json_object_set_new(go, metric_key[j], stat3_json(&sc->geo[j]));
    }
    json_object_set_new(o, "model", mo);
    json_object_set_new(o, "geometric", go);
    return o;
}

/* Appends the runs of a --json file to runs (room for max), their rounds
 * shifted by round_base; returns the number added or -1 with a message.
 * Only what the fit and the scores need is read back: the workload's name,
 * the measurements and the recorded curve. */
static int load_runs(const char *path, int round_base, struct run *runs, int max, int *rounds)
{
    json_error_t err;
    json_t *js = json_load_file(path, 0, &err);
    json_t *arr = js ? json_object_get(js, "runs") : NULL;
    if (!json_is_array(arr)) {
        fprintf(stderr, "accuracy: --rescore %s:%d: %s\n", path, err.line,
                js ? "no \"runs\" array" : err.text);
        json_decref(js);
        return -1;
    }
    int n = 0;
    *rounds = 0;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        const char *name = NULL;
        int round = 0, ok = 0;
        if (json_unpack(o, "{s:s,s:i,s:b}", "name", &name, "round", &round, "ok", &ok) != 0 ||
            round < 1) {
            fprintf(stderr, "accuracy: --rescore %s: runs[%zu]: no name, round or ok\n", path, i);
            json_decref(js);
            return -1;
        }
        if (!ok)
            continue;
        if (n == max) {
            fprintf(stderr, "accuracy: --rescore: more than %d runs\n", max);
            json_decref(js);
            return -1;
        }
        struct run *r = &runs[n];
        memset(r, 0, sizeof *r);
        r->w = -1;
        for (int w = 0; w < NW; w++) {
            char wn[16];
            workload_name(w, wn, sizeof wn);
            if (!strcmp(wn, name))
                r->w = w;
        }
        json_t *curve = json_object_get(o, "dirty_curve_ms_pages"), *hb;
        double hb_ms = NAN;
        json_int_t syncs = 0;
        int bad = r->w < 0 || !json_is_array(curve) || json_array_size(curve) < 1 ||
                  json_array_size(curve) > CO_DIRTY_TABLE_MAX ||
                  json_unpack(o, "{s:F,s:F,s:F,s:o,s:I}", "meas_total_ms", &r->meas_total_ms,
                              "meas_bytes", &r->meas_bytes, "qemu_downtime_ms", &r->meas_down_ms,
                              "hb_downtime_ms", &hb, "meas_dirty_sync_count", &syncs) != 0;
        /* files written before these two fields: the guest's RAM, 4 KiB pages */
        r->trace.mem_bytes = r->w >= 0 ? matrix[r->w].mem_mib * 1048576.0 : 0;
        r->trace.page_size_bytes = 4096;
        bad = bad || json_unpack(o, "{s?F,s?F}", "trace_mem_bytes", &r->trace.mem_bytes,
                                 "trace_page_size_bytes", &r->trace.page_size_bytes) != 0;
        for (size_t j = 0; !bad && j < json_array_size(curve); j++)
            bad = json_unpack(json_array_get(curve, j), "[F,F]", &r->trace.window_ms[j],
                              &r->trace.dirty_pages[j]) != 0;
        if (bad || (!json_is_null(hb) && json_unpack(hb, "F", &hb_ms) != 0)) {
            fprintf(stderr, "accuracy: --rescore %s: runs[%zu] (%s): a field is missing or not a "
                            "number, or the workload is not in this matrix\n",
                    path, i, name);
            json_decref(js);
            return -1;
        }
        r->trace.n = (int)json_array_size(curve);
        r->hb_down_ms = hb_ms;
        r->meas_syncs = (long)syncs;
        r->maxbw_bytes_per_s = matrix[r->w].link_gbit * 1e9 / 8;
        r->load1 = NAN;
        json_t *l = json_object_get(o, "load1_after");
        if (json_is_number(l))
            r->load1 = json_number_value(l);
        r->round = round_base + round - 1;
        if (round > *rounds)
            *rounds = round;
        r->ok = 1;
        n++;
    }
    json_decref(js);
    return n;
}

static int usage(void)
{
    fprintf(stderr, "usage: accuracy [--set calibration|held-out|all] [--repeat N] [--quick] "
                    "[--only NAME] [--json FILE] [--switchover-cost MS] "
                    "[--channel-cap BYTES_PER_S] [--rescore FILE]...\n");
    return 64;
}

int main(int argc, char **argv)
{
    int quick = 0, only = -1, repeat = 1, want[NSET] = {1, 1};
    const char *json_path = NULL, *rescore[MAXREP];
    int nrescore = 0;
    double cost = -1, cap = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--only") && v) {
            i++;
            for (int w = 0; w < NW; w++) {
                char name[8];
                workload_name(w, name, sizeof name);
                if (!strcmp(name, v))
                    only = w;
            }
            if (only < 0) {
                fprintf(stderr, "accuracy: --only '%s': no such workload (c0..c11, h0..h11)\n", v);
                return 64;
            }
        } else if (!strcmp(a, "--set") && v) {
            i++;
            want[SET_CAL] = !strcmp(v, "calibration") || !strcmp(v, "all");
            want[SET_HELD] = !strcmp(v, "held-out") || !strcmp(v, "all");
            if (!want[SET_CAL] && !want[SET_HELD]) {
                fprintf(stderr, "accuracy: --set '%s': expected calibration, held-out or all\n", v);
                return 64;
            }
        } else if (!strcmp(a, "--repeat") && v) {
            i++;
            repeat = (int)strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || repeat < 1 || repeat > MAXREP) {
                fprintf(stderr, "accuracy: --repeat '%s': expected an integer in 1..%d\n", v,
                        MAXREP);
                return 64;
            }
        } else if (!strcmp(a, "--rescore") && v) {
            if (nrescore == MAXREP) {
                fprintf(stderr, "accuracy: at most %d --rescore files\n", MAXREP);
                return 64;
            }
            rescore[nrescore++] = argv[++i];
        } else if (!strcmp(a, "--json") && v) {
            json_path = argv[++i];
        } else if (!strcmp(a, "--switchover-cost") && v) {
            i++;
            cost = strtod(v, &end);
            if (*v == '\0' || *end != '\0' || !(cost >= 0) || !isfinite(cost)) {
                fprintf(stderr, "accuracy: --switchover-cost '%s': expected ms >= 0\n", v);
                return 64;
            }
        } else if (!strcmp(a, "--channel-cap") && v) {
            i++;
            cap = strtod(v, &end);
            if (*v == '\0' || *end != '\0' || !(cap > 0) || !isfinite(cap)) {
                fprintf(stderr, "accuracy: --channel-cap '%s': expected bytes/s > 0\n", v);
                return 64;
            }
        } else {
            return usage();
        }
    }
    if (nrescore > 0 && (quick || only >= 0 || repeat != 1 || !want[SET_CAL] || !want[SET_HELD])) {
        fprintf(stderr, "accuracy: --rescore scores the files' runs as they are; --quick, --only, "
                        "--repeat and --set choose runs to migrate\n");
        return 64;
    }
    co_mig_params defaults;
    co_mig_defaults(&defaults);
    struct consts shipped = {cost >= 0 ? cost : defaults.switchover_cost_ms,
                             cap > 0 ? cap : defaults.link.channel_cap_bytes_per_s};
    signal(SIGPIPE, SIG_IGN);

    struct run *runs = calloc((size_t)NW * repeat, sizeof *runs);
    if (!runs)
        return 71;
    int n = 0;
    double t_start = co_clock_ms();
    if (nrescore > 0) {
        /* the runs of earlier --json files, nothing migrated: rounds follow
         * each other across files */
        free(runs);
        runs = calloc((size_t)NW * MAXREP * nrescore, sizeof *runs);
        if (!runs)
            return 71;
        repeat = 0;
        for (int f = 0; f < nrescore; f++) {
            int rounds;
            int got = load_runs(rescore[f], repeat, runs + n, NW * MAXREP * nrescore - n, &rounds);
            if (got < 0) {
                free(runs);
                return 65;
            }
            n += got;
            repeat += rounds;
        }
    }
    printf("bench-accuracy: model vs real QEMU migrations (downtime-limit 300 ms, max-bandwidth = "
           "link, loopback)\n");
    printf("protocol: fit switchover cost and channel rate on the calibration set (c*), score "
           "both sets; ");
    if (nrescore > 0)
        printf("the runs of %d earlier --json file%s, nothing migrated\n", nrescore,
               nrescore > 1 ? "s" : "");
    else
        printf("%d round%s\n", repeat, repeat > 1 ? "s" : "");
    printf("load average at start %.2f (1 min); each row ends with the load after its run\n",
           load1());
    printf("shipped constants: switchover cost %.1f ms, channel rate %.0f MB/s; rows below use "
           "them\n\n",
           shipped.cost_ms, shipped.cap_bytes_per_s / 1e6);
    print_header();
    for (int i = 0; i < n; i++) /* --rescore */
        print_run(&runs[i], &shipped);
    /* rounds outermost, so a change of the machine's load spreads over
     * every workload instead of landing on a few */
    for (int round = 0; nrescore == 0 && round < repeat; round++) {
        for (int w = 0; w < NW; w++) {
            if (!want[matrix[w].set] || (only >= 0 && w != only) ||
                (quick && only < 0 && !quick_pick(set_pos(w))))
                continue;
            struct run *r = &runs[n++];
            run_one(w, round, r);
            print_run(r, &shipped);
            fflush(stdout);
        }
    }

    struct consts fitted;
    struct stat3 fit_s;
    int have_fit = fit(runs, n, &fitted, &fit_s);
    printf("\nfit on the calibration set: ");
    if (!have_fit)
        printf("none (no calibration run with a heartbeat gap)\n");
    else
        printf("switchover cost %.0f ms, channel rate %.1f GB/s (downtime error mean %.1f%%, "
               "median %.1f%%, over %d runs)\n",
               fitted.cost_ms, fitted.cap_bytes_per_s / 1e9, fit_s.mean, fit_s.median, fit_s.n);
    if (have_fit && (fitted.cost_ms == 0 || fitted.cost_ms == FIT_COST_MAX_MS ||
                     fitted.cap_bytes_per_s <= FIT_CAP_MIN_DGBPS * 1e8 ||
                     fitted.cap_bytes_per_s >= FIT_CAP_MAX_DGBPS * 1e8))
        printf("  (on the edge of the grid: the best value may lie outside it)\n");

    printf("\nabsolute relative error, %%: median, p90 (nearest rank), worst; downtime is against "
           "the heartbeat gap\n");
    printf("  %-34s %4s", "set / constants / round", "runs");
    for (int j = 0; j < NMETRIC; j++)
        printf("  %-20s", metric_name[j]);
    printf("\n");
    json_t *js = json_object();
    json_t *jsum = json_array();
    struct consts *kk[2] = {&shipped, have_fit ? &fitted : NULL};
    const char *kname[2] = {"shipped", "fitted"};
    for (int s = 0; s < NSET; s++) {
        if (count_ok(runs, n, s, -1) == 0)
            continue;
        for (int ki = 0; ki < 2; ki++) {
            if (!kk[ki])
                continue;
            /* each round (when there are several), then every round pooled */
            for (int ri = repeat > 1 ? 0 : repeat; ri <= repeat; ri++) {
                int rr = ri < repeat ? ri : -1;
                struct score sc;
                score(runs, n, s, rr, kk[ki], &sc);
                char label[64];
                if (rr < 0)
                    snprintf(label, sizeof label, "%s %s all", set_name[s], kname[ki]);
                else
                    snprintf(label, sizeof label, "%s %s round %d", set_name[s], kname[ki], rr + 1);
                print_score_line(label, count_ok(runs, n, s, rr), sc.model);
                json_t *o = score_json(&sc);
                json_object_set_new(o, "set", json_string(set_name[s]));
                json_object_set_new(o, "constants", json_string(kname[ki]));
                json_object_set_new(o, "round", rr < 0 ? json_null() : json_integer(rr + 1));
                json_array_append_new(jsum, o);
            }
        }
        struct score sc;
        score(runs, n, s, -1, &shipped, &sc);
        char label[64];
        snprintf(label, sizeof label, "%s geometric baseline all", set_name[s]);
        print_score_line(label, count_ok(runs, n, s, -1), sc.geo);
    }
    printf("\nwall time %.0f s\n", (co_clock_ms() - t_start) / 1000);

    if (json_path) {
        json_t *jk = json_pack("{s:f,s:f}", "switchover_cost_ms", shipped.cost_ms,
                               "channel_cap_bytes_per_s", shipped.cap_bytes_per_s);
        json_object_set_new(js, "shipped", jk);
        if (have_fit)
            json_object_set_new(js, "fitted",
                                json_pack("{s:f,s:f}", "switchover_cost_ms", fitted.cost_ms,
                                          "channel_cap_bytes_per_s", fitted.cap_bytes_per_s));
        json_object_set_new(js, "scores", jsum);
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) {
            struct run *r = &runs[i];
            char name[8];
            workload_name(r->w, name, sizeof name);
            json_t *o = json_pack("{s:s,s:s,s:i,s:f,s:s,s:f,s:b,s:s}", "name", name, "set",
                                  set_name[matrix[r->w].set], "round", r->round + 1, "mem_mib",
                                  matrix[r->w].mem_mib, "workload", matrix[r->w].guest,
                                  "link_gbit", matrix[r->w].link_gbit, "ok", r->ok, "why", r->why);
            if (r->ok) {
                json_object_set_new(o, "meas_total_ms", json_real(r->meas_total_ms));
                json_object_set_new(o, "meas_bytes", json_real(r->meas_bytes));
                json_object_set_new(o, "qemu_downtime_ms", json_real(r->meas_down_ms));
                json_object_set_new(o, "hb_downtime_ms",
                                    isfinite(r->hb_down_ms) ? json_real(r->hb_down_ms) : json_null());
                json_object_set_new(o, "meas_dirty_sync_count", json_integer(r->meas_syncs));
                json_object_set_new(o, "load1_after",
                                    isfinite(r->load1) ? json_real(r->load1) : json_null());
                json_t *curve = json_array();
                for (int j = 0; j < r->trace.n; j++)
                    json_array_append_new(curve, json_pack("[f,f]", r->trace.window_ms[j],
                                                           r->trace.dirty_pages[j]));
                json_object_set_new(o, "dirty_curve_ms_pages", curve);
                json_object_set_new(o, "trace_mem_bytes", json_real(r->trace.mem_bytes));
                json_object_set_new(o, "trace_page_size_bytes",
                                    json_real(r->trace.page_size_bytes));
                for (int ki = 0; ki < 2; ki++) {
                    if (!kk[ki])
                        continue;
                    struct pred p;
                    predict(r, kk[ki], &p);
                    json_object_set_new(
                        o, kname[ki],
                        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "pred_total_ms", p.total_ms,
                                  "pred_bytes", p.bytes, "pred_downtime_ms", p.down_ms,
                                  "pred_passes", p.passes, "geo_total_ms", p.geo_total_ms,
                                  "geo_bytes", p.geo_bytes, "geo_downtime_ms", p.geo_down_ms));
                }
            }
            json_array_append_new(arr, o);
        }
        json_object_set_new(js, "runs", arr);
        if (json_dump_file(js, json_path, JSON_INDENT(2)) != 0)
            fprintf(stderr, "accuracy: cannot write %s\n", json_path);
    }
    json_decref(js);
    free(runs);
    return 0;
}
