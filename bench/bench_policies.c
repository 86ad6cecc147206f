/* bench/bench_policies.c: every policy on every workload of the test guest,
 * on real QEMU (lab/lab.h starts a fresh source/destination pair per
 * run; KVM or TCG as the lab picks), through the same controller as
 * `cutover migrate`. Run by `make bench-policies`, never by `make check`.
 *
 * Per run: completed, total time, heartbeat downtime (longest gap the guest
 * saw around the switch), QEMU's downtime, data sent. Per policy: completed
 * count and the median ratios to adaptive over the workloads both
 * completed. Prints a markdown table (docs/policies.md keeps a copy).
 *
 * Environment: BENCH_WORKLOADS=1,3,5 (indices) and BENCH_POLICIES=adaptive,qemu
 * pick a subset; BENCH_DEADLINE=40s; BENCH_MEM=128MiB; BENCH_BANDWIDTH=400Mbit;
 * BENCH_REPEAT=3 runs each cell that many times (rounds: every cell once,
 * then again, so slow drifts of the machine hit every policy alike) and
 * reports per cell the median of each figure over its completed runs. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "engine/controller.h"
#include "util/clock.h"
#include "drivers/drv_qmp.h"
#include "lab/lab.h"
#include "util/error.h"
#include "util/units.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int s)
{
    (void)s;
    g_stop = 1;
}

typedef struct workload {
    const char *name;
    const char *spec;
} workload;

/* Some converge at 300 ms, some do not (dirtying above the link rate). */
/* At the bench's 400 Mbit/s (50 MB/s) max-bandwidth; the test guest
 * reaches about 30k pages/s under TCG on this machine. */
static const workload WL[] = {
    {"idle", "rate=100"},
    {"uniform-5k-32M", "pattern=uniform rate=5000 wss=32M"},
    {"uniform-10k-64M", "pattern=uniform rate=10000 wss=64M"},
    {"hotcold-20k", "pattern=hotcold rate=20000 hot=8M cold=96M hotfrac=0.9"},
    {"seq-10k-64M", "pattern=seq rate=10000 wss=64M"},
    {"phases-1k-30k", "pattern=uniform wss=64M phases=3s:1000,3s:30000"},
    {"uniform-30k-96M", "pattern=uniform rate=30000 wss=96M"},
    {"hotcold-40k", "pattern=hotcold rate=40000 hot=48M cold=64M hotfrac=0.8"},
};
#define NWL (int)(sizeof WL / sizeof WL[0])

typedef struct outcome {
    int ran, completed;
    char status[16];
    double total_ms, hb_ms, qemu_dt_ms, sent_bytes;
    double floor_ms; /* adaptive: the model's downtime floor at the end */
    int passes;
} outcome;

static int picked(const char *env, int i, const char *name)
{
    const char *e = getenv(env);
    if (!e || !*e)
        return 1;
    char buf[512];
    snprintf(buf, sizeof buf, ",%s,", e);
    char key[64];
    snprintf(key, sizeof key, ",%d,", i);
    if (strstr(buf, key))
        return 1;
    snprintf(key, sizeof key, ",%s,", name);
    return strstr(buf, key) != NULL;
}

static int run_one(const workload *w, int pol, double mem, double bw, double deadline_ms,
                   outcome *out)
{
    memset(out, 0, sizeof *out);
    out->total_ms = out->hb_ms = out->qemu_dt_ms = out->sent_bytes = out->floor_ms = NAN;
    co_diag d;
    co_diag_init(&d);
    co_lab_config lc = {.mem_bytes = mem, .workload = w->spec, .cancel = &g_stop};
    co_lab *lab = NULL;
    if (co_lab_start(&lc, &lab, &d) != CO_OK) {
        fprintf(stderr, "bench: lab for %s: %s\n", w->name, d.msg);
        return -1;
    }
    const co_lab_info *in = co_lab_get_info(lab);
    if (co_lab_wait_ready(lab, 120000, &d) != CO_OK) {
        fprintf(stderr, "bench: %s: guest not ready: %s\n", w->name, d.msg);
        co_lab_stop(lab);
        return -1;
    }
    usleep(1500000); /* let the workload reach its rate */
    co_drv *src = NULL, *dst = NULL;
    if (co_drv_qmp_open(in->src_qmp, 10000, &src, &d) != CO_OK ||
        co_drv_qmp_open(in->dst_qmp, 10000, &dst, &d) != CO_OK) {
        fprintf(stderr, "bench: %s: %s\n", w->name, d.msg);
        if (src)
            src->ops->close(src);
        co_lab_stop(lab);
        return -1;
    }
    /* adaptive may throttle; oVirt's "Minimal downtime" policy turns
     * auto-converge on too; nova, kubevirt and qemu run at their defaults */
    unsigned allow = pol == CO_POL_ADAPTIVE || pol == CO_POL_OVIRT ? CO_ALLOW_AUTOCONVERGE : 0;
    co_ctl_config cfg = {
        .pol = {.kind = pol, .max_downtime_ms = 300, .deadline_ms = deadline_ms, .allow = allow,
                .postcopy_ready = 1, .pause_ready = 1, .mem_bytes = mem},
        .uri = in->migrate_uri,
        .bandwidth_bytes_per_s = bw,
        .poll_ms = 100,
        .dst = dst,
        .stop_flag = &g_stop,
    };
    co_ctl_result *res = calloc(1, sizeof *res);
    double t0 = co_clock_ms();
    int rc = co_ctl_run(src, &cfg, res, &d);
    double t1 = co_clock_ms();
    usleep(600000); /* heartbeats resume on the destination */
    out->ran = 1;
    out->completed = rc == CO_OK;
    snprintf(out->status, sizeof out->status, "%s", res->status);
    out->total_ms = res->total_time_ms;
    out->qemu_dt_ms = res->downtime_ms;
    out->sent_bytes = res->transferred_bytes;
    out->passes = res->passes;
    out->floor_ms = res->floor_ms;
    if (out->completed) {
        co_lab_gap g;
        co_diag gd;
        co_diag_init(&gd);
        /* the switch is at the end of the migration */
        double from = fmax(t0, t1 - 3000);
        if (co_lab_max_gap(lab, from, t1 + 500, &g, &gd) == CO_OK)
            out->hb_ms = g.gap_ms;
    }
    free(res);
    src->ops->close(src);
    dst->ops->close(dst);
    co_lab_stop(lab);
    return 0;
}

/* The cell of R[w][p][0..nrep-1] as one outcome: completed when most of its
 * runs did; each figure the median over the completed runs (over all runs
 * when none completed). */
#define MAXREP 9
static double median(double *v, int n);
static outcome cell(const outcome *runs, int nrep, int *ncompleted)
{
    outcome c = runs[0];
    int n = 0, ran = 0;
    for (int i = 0; i < nrep; i++) {
        ran += runs[i].ran;
        n += runs[i].completed;
    }
    *ncompleted = n;
    c.ran = ran > 0;
    c.completed = ran > 0 && 2 * n > ran;
    double t[MAXREP], h[MAXREP], q[MAXREP], s[MAXREP], f[MAXREP], ps[MAXREP];
    int k = 0, kh = 0, kf = 0;
    for (int i = 0; i < nrep; i++) {
        const outcome *o = &runs[i];
        if (!o->ran || (n > 0 && !o->completed))
            continue;
        t[k] = o->total_ms, q[k] = o->qemu_dt_ms, s[k] = o->sent_bytes, ps[k] = o->passes;
        k++;
        if (isfinite(o->floor_ms)) /* no plan was made when it switched at once */
            f[kf++] = o->floor_ms;
        if (isfinite(o->hb_ms))
            h[kh++] = o->hb_ms;
        if (!c.completed || o->completed)
            snprintf(c.status, sizeof c.status, "%s", o->status);
    }
    if (k > 0) {
        c.total_ms = median(t, k);
        c.qemu_dt_ms = median(q, k);
        c.sent_bytes = median(s, k);
        c.floor_ms = kf ? median(f, kf) : NAN;
        c.passes = (int)lround(median(ps, k));
    }
    c.hb_ms = kh ? median(h, kh) : NAN;
    return c;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n == 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fmt_ms(double v, char *b, size_t n)
{
    if (isfinite(v))
        snprintf(b, n, "%.0f", v);
    else
        snprintf(b, n, "-");
}

int main(void)
{
    if (!getenv("CUTOVER_BENCH_POLICIES")) {
        /* `make bench` runs every bench binary; this one takes many minutes */
        printf("bench_policies: skipped (run `make bench-policies`)\n");
        return 0;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    co_diag d;
    co_diag_init(&d);
    double deadline = 40e3, mem = 128 * 1048576.0, bw = 50e6;
    const char *e;
    if ((e = getenv("BENCH_DEADLINE")) && co_parse_time(e, "BENCH_DEADLINE", &deadline, &d))
        return fprintf(stderr, "%s\n", d.msg), 64;
    if ((e = getenv("BENCH_MEM")) && co_parse_size(e, "BENCH_MEM", &mem, &d))
        return fprintf(stderr, "%s\n", d.msg), 64;
    if ((e = getenv("BENCH_BANDWIDTH")) && co_parse_rate(e, "BENCH_BANDWIDTH", &bw, &d))
        return fprintf(stderr, "%s\n", d.msg), 64;
    int nrep = 1;
    if ((e = getenv("BENCH_REPEAT"))) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*e == '\0' || *end != '\0' || v < 1 || v > MAXREP)
            return fprintf(stderr, "BENCH_REPEAT '%s': expected an integer in 1..%d\n", e, MAXREP),
                   64;
        nrep = (int)v;
    }
    static outcome RR[NWL][CO_POL_COUNT][MAXREP], R[NWL][CO_POL_COUNT];
    static int NC[NWL][CO_POL_COUNT];
    for (int rep = 0; rep < nrep && !g_stop; rep++)
        for (int w = 0; w < NWL && !g_stop; w++) {
            if (!picked("BENCH_WORKLOADS", w, WL[w].name))
                continue;
            for (int p = 0; p < CO_POL_COUNT && !g_stop; p++) {
                if (!picked("BENCH_POLICIES", p, co_pol_name(p)))
                    continue;
                fprintf(stderr, "bench: [%d/%d] %-16s %-9s ... ", rep + 1, nrep, WL[w].name,
                        co_pol_name(p));
                fflush(stderr);
                if (run_one(&WL[w], p, mem, bw, deadline, &RR[w][p][rep]) != 0) {
                    fprintf(stderr, "skipped\n");
                    continue;
                }
                outcome *o = &RR[w][p][rep];
                fprintf(stderr, "%s %.1f s, hb %.0f ms, qemu %.0f ms, floor %.0f ms, %.0f MiB, %d passes\n",
                        o->status, o->total_ms / 1000, o->hb_ms, o->qemu_dt_ms, o->floor_ms,
                        o->sent_bytes / 1048576, o->passes);
            }
        }
    for (int w = 0; w < NWL; w++)
        for (int p = 0; p < CO_POL_COUNT; p++)
            R[w][p] = cell(RR[w][p], nrep, &NC[w][p]);
    struct utsname u;
    uname(&u);
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("commit %s, %s %s, %ld CPUs, guest %.0f MiB, --bandwidth %.0f MB/s, --max-downtime "
           "300ms, --deadline %.0fs, %d run(s) per cell%s\n\n",
           CUTOVER_REV, u.sysname, u.release, ncpu, mem / 1048576, bw / 1e6, deadline / 1000, nrep,
           nrep > 1 ? " (figures: medians over the completed runs; status: completed count)" : "");
    printf("| workload | policy | status | total s | heartbeat ms | QEMU downtime ms | model floor ms "
           "| sent MiB | passes |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int w = 0; w < NWL; w++)
        for (int p = 0; p < CO_POL_COUNT; p++) {
            outcome *o = &R[w][p];
            if (!o->ran)
                continue;
            char hb[32], qd[32], fl[32];
            fmt_ms(o->hb_ms, hb, sizeof hb);
            fmt_ms(o->qemu_dt_ms, qd, sizeof qd);
            fmt_ms(o->floor_ms, fl, sizeof fl);
            char st[48];
            if (nrep > 1)
                snprintf(st, sizeof st, "%s %d/%d", o->completed ? "completed" : o->status,
                         NC[w][p], nrep);
            else
                snprintf(st, sizeof st, "%s", o->status);
            printf("| %s | %s | %s | %.1f | %s | %s | %s | %.0f | %d |\n", WL[w].name,
                   co_pol_name(p), st, o->total_ms / 1000, hb, qd, fl,
                   o->sent_bytes / 1048576, o->passes);
        }
    printf("\n| policy | completed | median total / adaptive | median heartbeat / adaptive | "
           "median QEMU downtime / adaptive | median sent / adaptive |\n"
           "|---|---|---|---|---|---|\n");
    for (int p = 0; p < CO_POL_COUNT; p++) {
        int ran = 0, done = 0, n = 0;
        double rt[NWL], rh[NWL], rs[NWL], rq[NWL];
        int nh = 0, nq = 0;
        for (int w = 0; w < NWL; w++) {
            outcome *o = &R[w][p], *a = &R[w][CO_POL_ADAPTIVE];
            if (!o->ran)
                continue;
            ran++;
            done += o->completed;
            if (o->completed && a->completed) {
                rt[n] = o->total_ms / a->total_ms;
                rs[n] = o->sent_bytes / a->sent_bytes;
                n++;
                if (isfinite(o->hb_ms) && isfinite(a->hb_ms) && a->hb_ms > 0)
                    rh[nh++] = o->hb_ms / a->hb_ms;
                /* QEMU reports whole ms: floor at 1 ms so 0 does not divide */
                if (isfinite(o->qemu_dt_ms) && isfinite(a->qemu_dt_ms))
                    rq[nq++] = fmax(o->qemu_dt_ms, 1) / fmax(a->qemu_dt_ms, 1);
            }
        }
        if (!ran)
            continue;
        printf("| %s | %d/%d | %.2f | %.2f | %.2f | %.2f |\n", co_pol_name(p), done, ran,
               median(rt, n), median(rh, nh), median(rq, nq), median(rs, n));
    }
    /* adaptive against its model's floor, run by run */
    int within = 0, with_floor = 0;
    for (int w = 0; w < NWL; w++)
        for (int i = 0; i < nrep; i++) {
            const outcome *o = &RR[w][CO_POL_ADAPTIVE][i];
            if (o->ran && o->completed && isfinite(o->floor_ms) && o->floor_ms > 0 &&
                isfinite(o->hb_ms)) {
                with_floor++;
                within += o->hb_ms <= 1.5 * o->floor_ms;
            }
        }
    if (with_floor)
        printf("\nadaptive: heartbeat downtime within 1.5x the model's floor in %d of %d runs\n",
               within, with_floor);
    return 0;
}
