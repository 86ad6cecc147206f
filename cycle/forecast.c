/* cycle/forecast.c: the forecast of `cutover cycle --forecast` on the live
 * state, and the forecast beside the actual (cycle/forecast.h). */
#define _GNU_SOURCE
#include "cycle/forecast.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cycle/history.h"
#include "cycle/journal.h"
#include "evacuate/evacuate.h"
#include "inventory/inventory.h"
#include "sim/sim.h"
#include "util/error.h"
#include "util/fs.h"

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank q-quantile of v[0..n-1] (sorted in place). */
static double quant(double *v, int n, double q)
{
    if (n <= 0)
        return 0;
    int k = (int)ceil(q * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static json_t *q3(double *v, int n, double scale)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return json_pack("{s:f, s:f, s:f}", "p10", quant(v, n, 0.10) * scale, "p50",
                     quant(v, n, 0.50) * scale, "p90", quant(v, n, 0.90) * scale);
}

/* The live cluster as a loaded co_sim_cluster: inventory of FILE's hosts,
 * written to dir/inventory.json (+ traces) and read back by the
 * simulator's own loader. *src gets the inventory's "source" account. */
static int live_cluster(const co_cyc_fc_opts *o, const char *dir, co_sim_cluster **out,
                        json_t **src, int *ntcg, co_diag *d)
{
    co_inv *inv = malloc(sizeof *inv);
    if (inv == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    co_inv_init(inv);
    snprintf(inv->command, sizeof inv->command, "cutover cycle %s --forecast", o->file);
    co_inv_opts io = {.measure_dirty = 1, .timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000};
    char path[600];
    snprintf(path, sizeof path, "%s/inventory.json", dir);
    int rc = co_inv_from_file(inv, o->file, d);
    if (rc == CO_OK)
        rc = co_inv_collect(inv, &io, d);
    if (rc == CO_OK)
        rc = co_inv_save(inv, path, d);
    *ntcg = 0;
    for (int i = 0; i < inv->nvms; i++)
        *ntcg += inv->vms[i].tcg;
    if (rc == CO_OK) {
        json_t *j = co_inv_json(inv);
        *src = j ? json_incref(json_object_get(j, "source")) : NULL;
        json_decref(j);
        rc = co_sim_load_file(path, out, d);
    }
    if (rc != CO_OK) {
        json_decref(*src);
        *src = NULL;
    }
    co_inv_free(inv);
    free(inv);
    return rc;
}

/* The records of a history journal, or NULL when it cannot be read (the
 * calibration does without it; co_history_read, which reads the same
 * journals first, has already failed naming it). */
static json_t *history_records(const char *path)
{
    json_t *recs = NULL;
    int torn = 0;
    co_diag d;
    co_diag_init(&d);
    return co_jrn_read(path, &recs, &torn, &d) == CO_OK ? recs : NULL;
}

/* The concurrency evacuate's planner started each drain with: the median of
 * the journals' evacuate step_end "concurrency", 0 when none says. */
static int step_end_concurrency(const char *const *history, int nhistory, int *samples)
{
    int k[256], n = 0;
    for (int i = 0; i < nhistory; i++) {
        json_t *recs = history_records(history[i]);
        if (!recs)
            continue;
        size_t j;
        json_t *r;
        json_array_foreach(recs, j, r) {
            const char *ev = json_string_value(json_object_get(r, "ev"));
            const char *st = json_string_value(json_object_get(r, "step"));
            json_t *c = json_object_get(r, "concurrency");
            if (ev && st && !strcmp(ev, "step_end") && !strcmp(st, "evacuate") &&
                json_is_integer(c) && json_integer_value(c) > 0 && n < 256)
                k[n++] = (int)json_integer_value(c);
        }
        json_decref(recs);
    }
    *samples = n;
    if (n == 0)
        return 0;
    for (int i = 1; i < n; i++)
        for (int m = i; m > 0 && k[m - 1] > k[m]; m--) {
            int t = k[m];
            k[m] = k[m - 1];
            k[m - 1] = t;
        }
    return k[(n - 1) / 2];
}

/* A dirty curve writing s times as many pages (a table's points scaled). */
static void scale_dirty(co_dirty *dd, double s)
{
    if (dd->kind != CO_DIRTY_TABLE) {
        dd->rate_pages_per_s *= s;
        return;
    }
    /* co_dirty_table resets *dd first: build from copies */
    double t[CO_DIRTY_TABLE_MAX], u[CO_DIRTY_TABLE_MAX];
    int n = dd->n;
    for (int i = 0; i < n; i++) {
        t[i] = dd->t_s[i];
        u[i] = dd->pages[i] * s;
    }
    co_dirty_table(dd, t, u, n, dd->cap_pages * s);
}

static void scale_dist(co_sim_dist *x, double s)
{
    if (x->kind == CO_DIST_EMPIRICAL) {
        for (int i = 0; i < x->n; i++)
            x->values[i] *= s;
    } else {
        x->a *= s;
        if (x->kind == CO_DIST_UNIFORM || x->kind == CO_DIST_NORMAL)
            x->b *= s;
    }
}

/* A migration of the history (every one, for the overlaps; the completed
 * ones are fitted). */
struct hmig {
    int vm, a, b;            /* VM, source and destination (index into c), -1 unknown */
    int journal;             /* which history journal */
    int rebalance;           /* purpose "rebalance" (the cycle's return moves) */
    int fit;                 /* completed, known VM and hosts, time and downtime */
    double t0, t1;           /* wall ms: mig_start (or t1 - time_ms) and mig_end */
    double wall_ms, down_ms; /* mig_end - mig_start: time_ms plus libvirt's setup */
    double bytes;            /* sent, 0 = not in the journal */
    double k;                /* migrations in flight sharing a host with it (itself
                                included), averaged over its time */
};

#define FC_MAX_MIGS 512

static int name_index(const co_sim_cluster *c, const char *name, int vm)
{
    if (!name)
        return -1;
    int n = vm ? c->nvms : c->nhosts;
    for (int q = 0; q < n; q++)
        if (!strcmp(vm ? c->vms[q].name : c->hosts[q].name, name))
            return q;
    return -1;
}

/* The history's migrations, each with its concurrency: for migration i,
 * k = sum over migrations j of the same journal that shared a host with it
 * (j = i included) of the time they overlapped, / i's time. In the lab the
 * cycle moves one host's VMs at a time, so these are the migrations in
 * flight on its source (evacuate: 2 at once; rebalance: 1). */
static int history_migs(const char *const *history, int nhistory, const co_sim_cluster *c,
                        struct hmig *m)
{
    int n = 0;
    for (int i = 0; i < nhistory; i++) {
        json_t *recs = history_records(history[i]);
        if (!recs)
            continue;
        int first = n;
        size_t j;
        json_t *r;
        json_array_foreach(recs, j, r) {
            const char *ev = json_string_value(json_object_get(r, "ev"));
            const char *vm = json_string_value(json_object_get(r, "vm"));
            double t = json_number_value(json_object_get(r, "t_ms"));
            if (!ev || !vm)
                continue;
            if (!strcmp(ev, "mig_start")) {
                if (n >= FC_MAX_MIGS)
                    continue;
                const char *pu = json_string_value(json_object_get(r, "purpose"));
                m[n++] = (struct hmig){
                    .vm = name_index(c, vm, 1),
                    .a = name_index(c, json_string_value(json_object_get(r, "from")), 0),
                    .b = name_index(c, json_string_value(json_object_get(r, "to")), 0),
                    .journal = i, .rebalance = pu && !strcmp(pu, "rebalance"), .t0 = t,
                    .t1 = -1};
                continue;
            }
            if (strcmp(ev, "mig_end"))
                continue;
            int q = n - 1;
            int v = name_index(c, vm, 1);
            while (q >= first && !(m[q].t1 < 0 && m[q].vm == v))
                q--;
            const char *st = json_string_value(json_object_get(r, "status"));
            double tm = json_number_value(json_object_get(r, "time_ms"));
            json_t *dt = json_object_get(r, "downtime_ms");
            if (q < first) { /* no mig_start seen: from its own time */
                if (n >= FC_MAX_MIGS || !(tm > 0))
                    continue;
                const char *pu = json_string_value(json_object_get(r, "purpose"));
                q = n++;
                m[q] = (struct hmig){
                    .vm = v, .a = name_index(c, json_string_value(json_object_get(r, "from")), 0),
                    .b = name_index(c, json_string_value(json_object_get(r, "to")), 0),
                    .journal = i, .rebalance = pu && !strcmp(pu, "rebalance"), .t0 = t - tm};
            }
            m[q].t1 = t;
            m[q].wall_ms = t - m[q].t0;
            if (!(m[q].wall_ms > 0) && tm > 0)
                m[q].wall_ms = tm;
            m[q].down_ms = json_number_value(dt);
            m[q].bytes = json_number_value(json_object_get(r, "bytes"));
            m[q].fit = st && !strcmp(st, "completed") && json_is_number(dt) && tm > 0 &&
                       !json_object_get(r, "reconciled") && m[q].vm >= 0 && m[q].a >= 0 &&
                       m[q].b >= 0 && m[q].wall_ms > 0;
        }
        json_decref(recs);
        /* one still open at the journal's end ran to its end */
        double last = 0;
        for (int q = first; q < n; q++)
            last = fmax(last, fmax(m[q].t0, m[q].t1));
        for (int q = first; q < n; q++)
            if (m[q].t1 < 0)
                m[q].t1 = last;
        for (int q = first; q < n; q++) {
            double len = m[q].t1 - m[q].t0, ov = 0;
            for (int p = first; p < n && len > 0; p++) {
                int share = p == q || m[p].a == m[q].a || m[p].a == m[q].b ||
                            m[p].b == m[q].a || m[p].b == m[q].b;
                double o0 = fmax(m[p].t0, m[q].t0), o1 = fmin(m[p].t1, m[q].t1);
                if (share && o1 > o0)
                    ov += o1 - o0;
            }
            m[q].k = len > 0 ? fmax(1, ov / len) : 1;
        }
    }
    return n;
}

/* 1 when another evacuation migration left m[q]'s source in the same
 * journal: m[q]'s drain moved 2 VMs or more. */
static int drain_sibling(const struct hmig *m, int nm, int q)
{
    for (int p = 0; p < nm; p++)
        if (p != q && !m[p].rebalance && m[p].journal == m[q].journal && m[p].a == m[q].a)
            return 1;
    return 0;
}

/* Migrations at once per evacuating host, as the history ran them (the
 * cycle's evacuations pick their own; plan.concurrency does not bind them):
 * the evacuations' overlap, sum of each one's in-flight time-average k
 * weighted by its time, rounded; *mean the unrounded figure, *samples the
 * migrations counted. The step_end "concurrency" is only where the planner
 * started: with early starts and re-plans the lab's drains that started at
 * 1 ran 1.77 at once, and the forecast that took 1 evacuated one at a time
 * at solo stuns (docs/forecast.md, "Concurrency from the overlaps").
 * Only the migrations of drains that moved 2 VMs or more count when there
 * are any: a host with one VM has nothing to overlap it, and averaging it
 * in took mix100's drains (h1 two VMs 2 at once, h2 and h3 one each) to
 * 1.3 - 1.4 and so to one at a time (docs/forecast.md, "Per-VM time
 * factors").
 * Journals without mig_start / mig_end: that median. 0: none says. */
static int history_concurrency(const char *const *history, int nhistory, const struct hmig *m,
                               int nm, double *mean, int *samples)
{
    *mean = 0;
    *samples = 0;
    double sum = 0, len = 0;
    int n = 0;
    int multi_only = 0; /* 1: some drain moved 2 VMs or more */
    for (int q = 0; q < nm && !multi_only; q++)
        multi_only = !m[q].rebalance && drain_sibling(m, nm, q);
    for (int q = 0; q < nm; q++) {
        double l = m[q].t1 - m[q].t0;
        if (m[q].rebalance || !(l > 0))
            continue;
        if (multi_only && !drain_sibling(m, nm, q))
            continue;
        sum += m[q].k * l;
        len += l;
        n++;
    }
    if (n == 0 || !(len > 0))
        return step_end_concurrency(history, nhistory, samples);
    *samples = n;
    *mean = sum / len;
    int k = (int)lround(*mean);
    return k < 1 ? 1 : k;
}

/* The drains' overlap one at a time does not see (plan.mig_evac_follow_factor):
 * each evacuation migration of the history after the first of its drain
 * (same journal and source; started later, or at the same moment and listed
 * later) overlapped the ones before it from its start to the latest end
 * among them, at most its own wall time. Returns 1 - the overlaps over
 * those migrations' wall times, at least 0.3; 0 when fewer than 2 such
 * migrations. *n the migrations counted, *mean_ms their mean overlap.
 * Why: evacuate starts the next VM's set-up while the last one ends, so a
 * drain took 5 - 25 % less than its migrations' summed wall times, and the
 * forecast that ran them back to back put mix200's evacuations 5 - 10 %
 * above their history and its window above all three history cycles
 * (docs/forecast.md, "Guests that idle"). */
static double evac_follow_factor(const struct hmig *m, int nm, int *n, double *mean_ms)
{
    double ov = 0, wall = 0;
    *n = 0;
    *mean_ms = 0;
    for (int q = 0; q < nm; q++) {
        double w = m[q].t1 - m[q].t0;
        if (m[q].rebalance || m[q].a < 0 || !(w > 0))
            continue;
        double prev_end = -INFINITY;
        int follows = 0;
        for (int p = 0; p < nm; p++) {
            if (p == q || m[p].rebalance || m[p].journal != m[q].journal || m[p].a != m[q].a ||
                !(m[p].t1 > m[p].t0))
                continue;
            if (m[p].t0 < m[q].t0 || (m[p].t0 == m[q].t0 && p < q)) {
                follows = 1;
                prev_end = fmax(prev_end, m[p].t1);
            }
        }
        if (!follows)
            continue;
        ov += fmax(0, fmin(fmin(prev_end, m[q].t1) - m[q].t0, w));
        wall += w;
        (*n)++;
    }
    if (*n < 2 || !(wall > 0))
        return 0;
    *mean_ms = ov / *n;
    return fmax(0.3, 1 - ov / wall);
}

/* One migration predicted by the model: stream ceiling cap (payload per
 * channel), the host's migration capacity C (line bytes/s shared by the
 * migrations in flight on it, INFINITY = none), page-rate factor s,
 * downtime limit dl; at the migration's share of the slower end's NIC. */
static int predict_hist(const co_sim_cluster *c, const struct hmig *h, double cap, double C,
                        double s, double dl, double *t_ms, double *down_ms, double *bytes)
{
    const co_sim_vm *vm = &c->vms[h->vm];
    const co_sim_profile *pf = &c->profiles[vm->profile];
    co_mig_params p = c->plan.mig;
    p.mem_bytes = pf->mem_bytes;
    p.zero_fraction = pf->zero_fraction;
    p.dirty = pf->dirty;
    if (pf->rate_sampled)
        p.dirty.rate_pages_per_s = co_sim_dist_mean(&pf->rate);
    scale_dirty(&p.dirty, s);
    double line = fmin(c->hosts[h->a].nic_bytes_per_s, c->hosts[h->b].nic_bytes_per_s);
    p.link.line_rate_bytes_per_s = fmin(line, C) / h->k;
    p.downtime_limit_ms = dl;
    p.link.channel_cap_bytes_per_s = cap;
    int ch = c->hosts[h->a].channels < c->hosts[h->b].channels ? c->hosts[h->a].channels
                                                               : c->hosts[h->b].channels;
    p.link.channels = ch < 1 ? 1 : ch;
    p.link.mtu = c->hosts[h->a].mtu < c->hosts[h->b].mtu ? c->hosts[h->a].mtu
                                                         : c->hosts[h->b].mtu;
    co_mig_result res;
    if (co_mig_predict(&p, &res) != CO_OK || !res.converged)
        return 0;
    *t_ms = res.total_time_ms;
    *down_ms = res.downtime_ms;
    *bytes = res.transferred_bytes;
    return 1;
}

/* Squared log errors of time and downtime (+20 ms) over the migrations
 * with sel(k) (1: solo ones, 2: all); a predicted non-convergence of a
 * migration that completed costs 25. */
static double cal_err(const co_sim_cluster *c, const struct hmig *m, const int *use, int n,
                      int only_solo, double cap, double C, double s, double dl)
{
    double err = 0;
    for (int q = 0; q < n; q++) {
        const struct hmig *h = &m[use[q]];
        if (only_solo && h->k >= 1.25)
            continue;
        double t, dn, b;
        if (!predict_hist(c, h, cap, C, s, dl, &t, &dn, &b)) {
            err += 25;
            continue;
        }
        double et = log(t / h->wall_ms), ed = log((dn + 20) / (h->down_ms + 20));
        err += et * et + ed * ed;
    }
    return err;
}

typedef struct fc_cal {
    int n, nsolo, nconc;      /* migrations used; with k < 1.25; with k >= 1.25 */
    double cap;               /* one stream's payload ceiling, bytes/s */
    int cap_fixed;            /* 1: from the journals' bytes (co_history_apply; not used) */
    double host_cap;          /* a host's migration capacity (line bytes/s), INFINITY = none */
    int host_cap_weighted;    /* 1: C (and s, dl, cap) the evidence-weighted means over the
                                 grid; 0: no C fitted (no solo and concurrent migrations) */
    double host_cap_best;     /* the grid's single best point (INFINITY = none) */
    double host_cap_w_none;   /* the weight on capacities that never bind */
    double scale, dl_ms;
    double rms, rms_time, rms_down, rms_time_solo, rms_time_conc;
    double rms_down_vm;       /* downtime residual left after each VM's own factor */
    double vm_down_tau, vm_down_sw; /* between-VM and within-VM spread of the log residuals */
    double down_class[2];     /* factor on the stun of solo [0] and concurrent [1] migrations */
    double run_sigma;         /* per run: the fit's standard error (+) between cycles */
    double run_between_sigma; /* the spread of the journals' mean residuals (>= 2), else 0 */
    int run_sigma_cycles;     /* journals with migrations, when >= 2 */
    int journals;             /* journals the migrations used came from */
    double k_solo, k_conc;    /* mean concurrency of the two groups */
    int rebal_n;              /* rebalance migrations */
    double rebal_k;           /* their mean concurrency */
    double *vm_down;          /* per VM (c->nvms): factor on its stun from its own history
                                 migrations' downtimes, 1 = none (caller frees) */
    int vm_down_n;            /* VMs with a factor from history */
    double *vm_time;          /* per VM: factor on its migrations' times, 1 = none (caller frees) */
    int vm_time_n;            /* VMs with a time factor */
    double vm_time_tau, vm_time_sw, rms_time_vm;
} fc_cal;

/* Empirical Bayes per-VM means of log residuals e[i] of VM vm[i] (i < N):
 * each VM's mean shrunk towards 0 by tau^2 / (tau^2 + s_w^2 / n_v), tau^2
 * the spread between the VMs' means beyond what the within-VM spread s_w^2
 * explains. fac[v] = exp(shrunk mean) (1 for VMs without residuals);
 * *left: the rms of the residuals about the shrunk means. Returns the VMs
 * given a factor. */
static int eb_vm_factors(const int *vm, const double *e, int N, int nvms, double *fac,
                         double *tau, double *sw, double *left)
{
    double *vs = calloc((size_t)(nvms ? nvms : 1), sizeof *vs);
    double *vq = calloc((size_t)(nvms ? nvms : 1), sizeof *vq);
    int *vn = calloc((size_t)(nvms ? nvms : 1), sizeof *vn);
    int nf = 0;
    *tau = *sw = 0;
    *left = 0;
    for (int v = 0; v < nvms; v++)
        fac[v] = 1;
    if (!vs || !vq || !vn || N == 0) {
        free(vs);
        free(vq);
        free(vn);
        return 0;
    }
    for (int i = 0; i < N; i++) {
        vs[vm[i]] += e[i];
        vq[vm[i]] += e[i] * e[i];
        vn[vm[i]]++;
    }
    int V = 0;
    double within = 0, mm = 0, between = 0, inv_n = 0;
    for (int v = 0; v < nvms; v++)
        if (vn[v]) {
            V++;
            double mu = vs[v] / vn[v];
            within += vq[v] - vn[v] * mu * mu;
            mm += mu;
            inv_n += 1.0 / vn[v];
        }
    double sw2 = N > V ? within / (N - V) : 0;
    if (V >= 2) {
        mm /= V;
        for (int v = 0; v < nvms; v++)
            if (vn[v])
                between += (vs[v] / vn[v] - mm) * (vs[v] / vn[v] - mm);
        between /= V - 1;
    }
    double tau2 = V >= 2 && N > V ? fmax(0, between - sw2 * inv_n / V) : 0, sd2 = 0;
    for (int v = 0; v < nvms; v++) {
        double w = vn[v] && tau2 > 0 ? tau2 / (tau2 + sw2 / vn[v]) : 0;
        double mu = vn[v] ? w * vs[v] / vn[v] : 0;
        fac[v] = exp(mu);
        nf += w > 0;
        sd2 += vq[v] - 2 * mu * vs[v] + vn[v] * mu * mu;
    }
    *tau = sqrt(tau2);
    *sw = sqrt(sw2);
    *left = sqrt(sd2 / N);
    free(vs);
    free(vq);
    free(vn);
    return nf;
}

/* Calibrate the migration model to the history's completed migrations
 * (m[0..nm), as history_migs read them):
 * one stream's payload ceiling (plan.policy.channel_cap), a host's
 * migration capacity shared by the migrations in flight on it (the CPU of
 * TCG streams: two streams at once are each slower than one alone), a
 * factor on every VM's page-write rate (under TCG a workload writes fewer
 * pages than its nominal rate) and the downtime limit at which evacuate's
 * controller switches over; chosen on grids to minimise the squared log
 * errors of each migration's wall time (mig_start to mig_end: libvirt's
 * setup included, as the cycle's steps see it) and downtime, each
 * migration at its own concurrency. The ceiling is fitted on the solo
 * migrations (k < 1.25) unless fixed_cap gives it (on a grid around
 * hint_cap, the journals' payload rate, when known), the capacity on all
 * with that ceiling. When both solo and concurrent migrations are there
 * (a capacity is fitted), the parameters are not the grid's single best
 * point but its evidence-weighted means (below). Returns the migrations
 * used (0: nothing fitted, *cal untouched but for the rebalance figures). */
static int calibrate(const struct hmig *m, int nm, const co_sim_cluster *c, double fixed_cap,
                     double hint_cap, fc_cal *cal)
{
    int *use = malloc(FC_MAX_MIGS * sizeof *use);
    memset(cal, 0, sizeof *cal);
    cal->host_cap = INFINITY;
    cal->down_class[0] = cal->down_class[1] = 1;
    if (!use)
        return 0;
    int n = 0;
    double ks = 0, kc = 0, kr = 0;
    for (int q = 0; q < nm; q++) {
        if (m[q].rebalance && m[q].t1 > m[q].t0) {
            cal->rebal_n++;
            kr += m[q].k;
        }
        if (!m[q].fit)
            continue;
        use[n++] = q;
    }
    /* the grids cost about 10^5 predictions for 12 migrations: the latest 64 */
    if (n > 64) {
        memmove(use, use + n - 64, 64 * sizeof *use);
        n = 64;
    }
    for (int q = 0; q < n; q++) {
        if (m[use[q]].k < 1.25) {
            cal->nsolo++;
            ks += m[use[q]].k;
        } else {
            cal->nconc++;
            kc += m[use[q]].k;
        }
    }
    cal->rebal_k = cal->rebal_n ? kr / cal->rebal_n : 0;
    cal->k_solo = cal->nsolo ? ks / cal->nsolo : 0;
    cal->k_conc = cal->nconc ? kc / cal->nconc : 0;
    if (n < CO_HISTORY_MIN_SAMPLES) {
        free(use);
        return 0;
    }
    static const double scales[] = {1, 0.7, 0.5, 0.35, 0.25, 0.18, 0.125, 0.09, 0.06, 0.03, 0};
    static const double limits[] = {50, 100, 150, 200, 300, 400, 500, 750, 1000};
    double best = INFINITY;
    /* the grids: 12 % steps around the journals' payload rate when they
     * had bytes (1/8 to 4 times), else 1 MB/s to twice the fastest NIC */
    double nic_max = 0;
    for (int h = 0; h < c->nhosts; h++)
        nic_max = fmax(nic_max, c->hosts[h].nic_bytes_per_s);
    double cap_lo = hint_cap > 0 ? hint_cap / 8 : 1e6;
    double cap_hi = hint_cap > 0 ? hint_cap * 4 : fmax(2 * nic_max, 2e6);
    if (2 * nic_max < cap_lo)
        nic_max = cap_lo;
    /* ceilings fitted on the solo ones; when none is solo, on all (the
     * capacity is then not told apart from the ceiling: none) */
    int solo_only = cal->nsolo >= 1 && cal->nconc >= 1;
    const int NL = sizeof limits / sizeof limits[0], NS = sizeof scales / sizeof scales[0];
    int nC = 0;
    if (solo_only)
        for (double x = cap_lo; x <= 2 * nic_max; x *= 1.12)
            nC++;
    double *Cg = malloc(((size_t)nC + 1) * sizeof *Cg);
    double *E = malloc((size_t)NL * NS * ((size_t)nC + 1) * sizeof *E);
    double *capv = malloc((size_t)NL * NS * sizeof *capv);
    if (!Cg || !E || !capv) {
        free(Cg);
        free(E);
        free(capv);
        free(use);
        return 0;
    }
    nC = 0;
    if (solo_only)
        for (double x = cap_lo; x <= 2 * nic_max; x *= 1.12)
            Cg[nC++] = x;
    for (int li = 0; li < NL; li++)
        for (int si = 0; si < NS; si++) {
            double s = scales[si], dl = limits[li];
            double cap = fixed_cap, e = INFINITY;
            if (!(fixed_cap > 0))
                for (double x = cap_lo; x <= cap_hi; x *= 1.12) {
                    double ex = cal_err(c, m, use, n, solo_only, x, INFINITY, s, dl);
                    if (ex < e) {
                        e = ex;
                        cap = x;
                    }
                }
            double *Ep = E + ((size_t)li * NS + si) * (nC + 1);
            capv[li * NS + si] = cap;
            /* the single best point, reported beside the means */
            double C = INFINITY;
            e = Ep[nC] = cal_err(c, m, use, n, 0, cap, INFINITY, s, dl);
            for (int ci = 0; ci < nC; ci++) {
                double ex = Ep[ci] = cal_err(c, m, use, n, 0, cap, Cg[ci], s, dl);
                if (ex < e) {
                    e = ex;
                    C = Cg[ci];
                }
            }
            if (e < best) {
                best = e;
                cal->cap = cap;
                cal->host_cap = C;
                cal->scale = s;
                cal->dl_ms = dl;
            }
        }
    /* The grid's single best point is a discrete choice (a capacity or
     * none, and with it a page-rate factor: on mix100's histories the two
     * trade off along a flat ridge, and two near-identical sets of
     * journals chose "10.6 MB/s, 70 %" and "none, 100 %", windows 87 and
     * 101 s). So the parameters are the means over the whole grid (C, s,
     * the limit, the ceiling), each point weighted by its evidence
     * exp(-(e - e_min) / (2 sigma^2)), sigma^2 = e_min / (2 n) the
     * variance of one squared log residual at the best point (a uniform
     * prior on the grid: log C, the scales, the limits as listed); C, the
     * limit and the ceiling as geometric means, s arithmetic. A capacity
     * at or above the fastest NIC never binds (the same prediction as
     * none): it counts at the NIC's rate, and the INFINITY point, the
     * same as the grid's top, is not counted twice. The mean at the NIC
     * (every weight there) is none. */
    cal->host_cap_best = cal->host_cap;
    cal->host_cap_w_none = isfinite(cal->host_cap) ? 0 : 1;
    if (nC > 0) {
        double s2 = fmax(best / (2.0 * n), 1e-4);
        double sw = 0, slc = 0, ss = 0, sdl = 0, scap = 0, wnone = 0;
        for (int li = 0; li < NL; li++)
            for (int si = 0; si < NS; si++) {
                const double *Ep = E + ((size_t)li * NS + si) * (nC + 1);
                for (int ci = 0; ci < nC; ci++) {
                    double w = exp(-(Ep[ci] - best) / (2 * s2));
                    sw += w;
                    slc += w * log(fmin(Cg[ci], nic_max));
                    ss += w * scales[si];
                    sdl += w * log(limits[li]);
                    scap += w * log(capv[li * NS + si]);
                    wnone += Cg[ci] >= nic_max ? w : 0;
                }
            }
        double Ceff = exp(slc / sw);
        cal->host_cap_weighted = 1;
        cal->host_cap_w_none = wnone / sw;
        cal->host_cap = Ceff >= nic_max * (1 - 1e-9) ? INFINITY : Ceff;
        cal->scale = ss / sw;
        cal->dl_ms = exp(sdl / sw);
        if (!(fixed_cap > 0))
            cal->cap = exp(scap / sw);
        /* the residuals (and so the sigmas drawn) at the means */
        best = cal_err(c, m, use, n, 0, cal->cap, cal->host_cap, cal->scale, cal->dl_ms);
    }
    free(Cg);
    free(E);
    free(capv);
    cal->n = n;
    cal->cap_fixed = fixed_cap > 0;
    cal->rms = sqrt(best / n);
    /* the residuals at the fit: their spread is the model's error, drawn
     * into the runs (plan.mig_*_sigma) */
    double st = 0, sd = 0, sts = 0, stc = 0, jm[64] = {0};
    int jn[64] = {0};
    for (int q = 0; q < n; q++) {
        const struct hmig *h = &m[use[q]];
        double t, dn, bb;
        double et = 5, ed = 5; /* a predicted failure: a factor of e^5 */
        if (predict_hist(c, h, cal->cap, cal->host_cap, cal->scale, cal->dl_ms, &t, &dn, &bb)) {
            et = log(t / h->wall_ms);
            ed = log((dn + 20) / (h->down_ms + 20));
        }
        st += et * et;
        sd += ed * ed;
        if (h->k < 1.25)
            sts += et * et;
        else
            stc += et * et;
        if (h->journal < 64) {
            jm[h->journal] += et;
            jn[h->journal]++;
        }
    }
    cal->rms_time = sqrt(st / n);
    cal->rms_down = sqrt(sd / n);
    /* Each VM's switchover: the model gives similar guests similar
     * downtimes, but a TCG guest's stun depends on its own workload (where
     * its dirtying loop is stopped) more than the model sees. Each VM's mean
     * log residual over its history migrations, shrunk towards 0 as an
     * empirical Bayes estimate (weight tau^2 / (tau^2 + s_w^2 / n_v): tau^2
     * the spread between VMs' means beyond what their within-VM spread s_w^2
     * explains), becomes a factor on its stun; what is left is the
     * downtime's sigma. */
    int nvm = c->nvms ? c->nvms : 1;
    cal->vm_down = malloc((size_t)nvm * sizeof *cal->vm_down);
    cal->vm_time = malloc((size_t)nvm * sizeof *cal->vm_time);
    int *dv = malloc((size_t)n * sizeof *dv);
    double *de = malloc((size_t)n * sizeof *de), *te = malloc((size_t)n * sizeof *te);
    if (cal->vm_down && cal->vm_time && dv && de && te) {
        /* first the concurrency's own factor: under TCG a switchover with a
         * second stream beside it stops the guest far longer than the model
         * says (busy400: 600 - 1400 ms 2 at once, 50 - 400 ms alone, for a
         * limit of 300 ms); the mean log residual of each class (solo,
         * concurrent) with 3 migrations or more */
        double cs[2] = {0, 0};
        int cn[2] = {0, 0};
        for (int q = 0; q < n; q++) {
            const struct hmig *h = &m[use[q]];
            double t, dn, bb;
            if (!predict_hist(c, h, cal->cap, cal->host_cap, cal->scale, cal->dl_ms, &t, &dn, &bb))
                continue;
            int k = h->k >= 1.25;
            cs[k] += -log((dn + 20) / (h->down_ms + 20));
            cn[k]++;
        }
        for (int k = 0; k < 2; k++)
            cal->down_class[k] = cn[k] >= CO_HISTORY_MIN_SAMPLES ? exp(cs[k] / cn[k]) : 1;
        /* each migration's residuals at the fit, for both kinds of factor */
        int N = 0;
        for (int q = 0; q < n; q++) {
            const struct hmig *h = &m[use[q]];
            double t, dn, bb;
            if (!predict_hist(c, h, cal->cap, cal->host_cap, cal->scale, cal->dl_ms, &t, &dn, &bb))
                continue;
            dv[N] = h->vm;
            te[N] = log(h->wall_ms / t);
            de[N++] = -log((dn + 20) / (h->down_ms + 20)) - log(cal->down_class[h->k >= 1.25]);
        }
        cal->vm_down_n = eb_vm_factors(dv, de, N, c->nvms, cal->vm_down, &cal->vm_down_tau,
                                       &cal->vm_down_sw, &cal->rms_down_vm);
        if (N == 0)
            cal->rms_down_vm = cal->rms_down;
        /* Each VM's migration time: the model times a workload from its
         * nominal curve and one page-rate factor for all, but under TCG some
         * workloads take longer than that, run after run, evacuated or
         * returned (the bench's hot/cold guest: +30 to +55 % in every
         * scenario, the idle and light ones -10 to -18 %). Each VM's mean log
         * residual of wall time, shrunk towards 0 as the stun's, becomes a
         * factor on its migrations' times (co_sim_vm.time_factor). The time
         * sigma drawn stays the calibration's rms. */
        cal->vm_time_n = eb_vm_factors(dv, te, N, c->nvms, cal->vm_time, &cal->vm_time_tau,
                                       &cal->vm_time_sw, &cal->rms_time_vm);
        if (N == 0)
            cal->rms_time_vm = cal->rms_time;
    } else {
        free(cal->vm_down);
        free(cal->vm_time);
        cal->vm_down = cal->vm_time = NULL;
        cal->rms_time_vm = cal->rms_time;
    }
    free(dv);
    free(de);
    free(te);
    cal->rms_time_solo = cal->nsolo ? sqrt(sts / cal->nsolo) : NAN;
    cal->rms_time_conc = cal->nconc ? sqrt(stc / cal->nconc) : NAN;
    /* the run's factor: the fit's own standard error (rms / sqrt n: the
     * calibration is uncertain for all migrations at once) and, with two
     * journals or more, how far one cycle's migrations sit from another's
     * on the whole (the load of the machine, another tenant): the spread of
     * the journals' mean residuals; the two add in variance */
    int nj = 0;
    double mj = 0, vj = 0;
    for (int i = 0; i < 64; i++)
        if (jn[i]) {
            jm[i] /= jn[i];
            mj += jm[i];
            nj++;
        }
    cal->journals = nj;
    if (nj >= 2) {
        mj /= nj;
        for (int i = 0; i < 64; i++)
            if (jn[i])
                vj += (jm[i] - mj) * (jm[i] - mj);
        cal->run_between_sigma = sqrt(vj / (nj - 1));
        cal->run_sigma_cycles = nj;
    }
    cal->run_sigma = sqrt(cal->run_between_sigma * cal->run_between_sigma +
                          cal->rms_time * cal->rms_time / n);
    free(use);
    return n;
}

/* Give the cluster the calibration: the ceiling, the page-rate factor, the
 * downtime limit, the error sigmas, the stun factors, and the host capacity
 * as one uplink per host (the simulator shares an uplink's rate max-min among the migrations
 * that leave or enter its hosts, exactly how the capacity was fitted). A
 * cluster with uplinks of its own keeps them: the capacity becomes a
 * per-stream ceiling at concurrency k_conc instead (*how says which). */
static int apply_cal(co_sim_cluster *c, const fc_cal *cal, const char **how)
{
    c->plan.mig.link.channel_cap_bytes_per_s = cal->cap;
    c->plan.mig.downtime_limit_ms = cal->dl_ms;
    for (int q = 0; q < c->nprofiles; q++) {
        co_sim_profile *pf = &c->profiles[q];
        if (pf->rate_sampled)
            scale_dist(&pf->rate, cal->scale);
        scale_dirty(&pf->dirty, cal->scale);
    }
    c->plan.mig_time_sigma = cal->rms_time;
    c->plan.mig_down_sigma = cal->vm_down ? cal->rms_down_vm : cal->rms_down;
    c->plan.mig_run_sigma = cal->run_sigma;
    /* the stun factors, applied by the simulator to each switchover */
    c->plan.mig_down_class[0] = cal->down_class[0];
    c->plan.mig_down_class[1] = cal->down_class[1];
    for (int v = 0; cal->vm_down && v < c->nvms; v++)
        c->vms[v].down_factor = cal->vm_down[v];
    for (int v = 0; cal->vm_time && v < c->nvms; v++)
        c->vms[v].time_factor = cal->vm_time[v];
    *how = "none";
    if (!isfinite(cal->host_cap))
        return CO_OK;
    if (c->nuplinks > 0) {
        double per = cal->host_cap / (cal->k_conc > 1 ? cal->k_conc : 2);
        if (per < c->plan.mig.link.channel_cap_bytes_per_s)
            c->plan.mig.link.channel_cap_bytes_per_s = per;
        *how = "per-stream ceiling (the file has uplinks of its own)";
        return CO_OK;
    }
    co_sim_uplink *u = calloc((size_t)c->nhosts + 1, sizeof *u);
    if (u == NULL)
        return CO_ENOMEM;
    free(c->uplinks);
    c->uplinks = u;
    for (int h = 0; h < c->nhosts; h++) {
        if ((u[h].name = malloc(strlen(c->hosts[h].name) + 8)) == NULL)
            return CO_ENOMEM;
        sprintf(u[h].name, "cpu-%s", c->hosts[h].name);
        u[h].rate_bytes_per_s = cal->host_cap;
        c->hosts[h].uplink = h;
        c->nuplinks = h + 1;
    }
    *how = "uplink per host";
    return CO_OK;
}

/* See cycle/forecast.h. */
/* {"vmN": factor} for the VMs whose factor is not 1 (fac NULL: {}). */
static json_t *vm_factors_json(const co_sim_cluster *c, const double *fac)
{
    json_t *o = json_object();
    for (int v = 0; fac && v < c->nvms; v++)
        if (fac[v] != 1)
            json_object_set_new(o, c->vms[v].name, json_real(fac[v]));
    return o;
}

int co_cyc_fit_history(co_sim_cluster *c, const char *const *history, int nhistory,
                       json_t *assumed, co_cyc_fit *out, co_diag *d)
{
    int rc = CO_OK;
    memset(out, 0, sizeof *out);
    co_history h;
    co_history_init(&h);
    for (int i = 0; i < nhistory && rc == CO_OK; i++)
        if ((rc = co_history_read(&h, history[i], c, d)) != CO_OK)
            co_diag_prefix(d, "--history");
    if (rc == CO_OK)
        rc = co_history_apply(&h, c, d);
    if (rc == CO_OK && (out->history = co_history_json(&h)) == NULL)
        rc = co_diag_set(d, CO_ENOMEM, "out of memory");
    out->stream_fitted = h.stream_applied;
    co_history_free(&h);
    if (rc != CO_OK)
        return rc;
    /* the history's migrations, read once for the concurrency and the
     * calibration */
    struct hmig *m = malloc(FC_MAX_MIGS * sizeof *m);
    int nm = m ? history_migs(history, nhistory, c, m) : 0;
    double kmean;
    int ns, k = history_concurrency(history, nhistory, m, nm, &kmean, &ns);
    /* with the drains run one at a time, what their overlap saved */
    int nfollow = 0;
    double follow_ms = 0, follow = k == 1 ? evac_follow_factor(m, nm, &nfollow, &follow_ms) : 0;
    if (follow > 0 && follow < 1) {
        c->plan.mig_evac_follow_factor = follow;
        json_array_append_new(assumed, json_sprintf(
            "a drain's migrations after its first take x %.2f of their time: in the history "
            "%d of them started %.1f s on average before the one before them ended (evacuate "
            "starts the next VM's set-up while the last one ends; the forecast runs a drain's "
            "migrations one after the other)", follow, nfollow, follow_ms / 1e3));
    }
    if ((out->per_host = k) > 0) {
        c->plan.per_host = k;
        c->plan.count_incoming = 0;
        if (kmean > 0)
            json_array_append_new(assumed, json_sprintf(
                "%d migration(s) at once per evacuating host: the history's %d evacuation "
                "migrations (of drains of 2 VMs or more, when there are any) had %.2f in "
                "flight on their source, time-weighted (the cycle's "
                "evacuations pick their own concurrency; plan.concurrency does not bind them)",
                k, ns, kmean));
        else
            json_array_append_new(assumed, json_sprintf(
                "%d migration(s) at once per evacuating host: the median of the %d evacuations "
                "in the history (the cycle's evacuations pick their own concurrency; "
                "plan.concurrency does not bind them)", k, ns));
    }
    fc_cal fc;
    /* the ceiling from the solo migrations' wall times, not from the
     * journals' bytes (co_history_apply's median payload rate): with
     * the bytes' ceiling the solo moves came out 10 - 17 % short of the
     * history cycles (docs/forecast.md, "The migration calibration") */
    double bytes_cap = out->stream_fitted ? c->plan.mig.link.channel_cap_bytes_per_s : 0;
    ns = calibrate(m, nm, c, 0, bytes_cap, &fc);
    free(m);
    if (fc.rebal_n > 0 && fc.rebal_k < 1.25 && c->plan.rebalance != CO_REBAL_DURATION) {
        /* the cycle's rebalance moves one VM at a time */
        c->plan.returns_at_once = 1;
        json_array_append_new(assumed, json_sprintf(
            "rebalance returns one VM at a time: the %d rebalance migration(s) of the "
            "history ran %.2f at once on average", fc.rebal_n, fc.rebal_k));
    }
    const char *how = "none";
    if (ns > 0 && (rc = apply_cal(c, &fc, &how)) != CO_OK) {
        free(fc.vm_down);
        free(fc.vm_time);
        co_cyc_fit_free(out);
        return co_diag_set(d, rc, "out of memory");
    }
    /* how C was applied and chosen */
    char how_as[240], best_c[40] = "none";
    if (isfinite(fc.host_cap_best))
        snprintf(best_c, sizeof best_c, "%.1f MB/s", fc.host_cap_best / 1e6);
    if (fc.host_cap_weighted)
        snprintf(how_as, sizeof how_as, "%s; the evidence-weighted mean over the fit's grid, "
                 "%.0f %% of the weight on none, the single best point %s", how,
                 100 * fc.host_cap_w_none, best_c);
    else
        snprintf(how_as, sizeof how_as, "%s", how);
    if (ns > 0) {
        json_t *cal = out->calibration = json_pack(
            "{s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:s, s:o, s:s, s:f, s:f, s:f, s:f, s:o, s:o, "
            "s:f, s:f, s:f, s:i, s:i, s:f}",
            "migrations", ns, "journals", fc.journals, "solo", fc.nsolo, "concurrent",
            fc.nconc, "solo_mean_k",
            fc.k_solo, "concurrent_mean_k", fc.k_conc, "channel_cap_bytes_per_s", fc.cap,
            "channel_cap_from",
            fc.cap_fixed ? "the journals' bytes (co_history_apply)"
                         : "this calibration (the solo migrations' wall times)",
            "host_capacity_bytes_per_s",
            isfinite(fc.host_cap) ? json_real(fc.host_cap) : json_null(),
            "host_capacity_as", how_as, "dirty_rate_factor", fc.scale, "downtime_limit_ms",
            fc.dl_ms, "rms_log_error", fc.rms, "rms_log_error_time", fc.rms_time,
            "rms_log_error_time_solo",
            isfinite(fc.rms_time_solo) ? json_real(fc.rms_time_solo) : json_null(),
            "rms_log_error_time_concurrent",
            isfinite(fc.rms_time_conc) ? json_real(fc.rms_time_conc) : json_null(),
            "rms_log_error_downtime", fc.rms_down, "run_sigma", fc.run_sigma,
            "run_between_cycles_sigma", fc.run_between_sigma, "run_sigma_cycles",
            fc.run_sigma_cycles, "rebalance_migrations", fc.rebal_n,
            "rebalance_mean_k", fc.rebal_k);
        if (cal) {
            /* the drains' overlap (evac_follow_factor); null = not applied */
            json_object_set_new(cal, "evac_follow_factor",
                                c->plan.mig_evac_follow_factor > 0
                                    ? json_real(c->plan.mig_evac_follow_factor)
                                    : json_null());
            if (bytes_cap > 0)
                json_object_set_new(cal, "channel_cap_from_bytes_bytes_per_s",
                                    json_real(bytes_cap));
            if (fc.host_cap_weighted) {
                json_object_set_new(cal, "host_capacity_weight_none",
                                    json_real(fc.host_cap_w_none));
                json_object_set_new(cal, "host_capacity_best_bytes_per_s",
                                    isfinite(fc.host_cap_best) ? json_real(fc.host_cap_best)
                                                               : json_null());
            }
            json_object_set_new(cal, "rms_log_error_downtime_within_vm",
                                json_real(fc.rms_down_vm));
            json_object_set_new(cal, "vms_with_stun_factor", json_integer(fc.vm_down_n));
            json_object_set_new(cal, "downtime_between_vm_sigma", json_real(fc.vm_down_tau));
            json_object_set_new(cal, "downtime_within_vm_sigma", json_real(fc.vm_down_sw));
            json_object_set_new(cal, "vm_stun_factor", vm_factors_json(c, fc.vm_down));
            json_object_set_new(cal, "vm_time_factor", vm_factors_json(c, fc.vm_time));
            json_object_set_new(cal, "vms_with_time_factor", json_integer(fc.vm_time_n));
            json_object_set_new(cal, "time_between_vm_sigma", json_real(fc.vm_time_tau));
            json_object_set_new(cal, "time_within_vm_sigma", json_real(fc.vm_time_sw));
            json_object_set_new(cal, "stun_factor_solo", json_real(fc.down_class[0]));
            json_object_set_new(cal, "stun_factor_concurrent", json_real(fc.down_class[1]));
        }
        char hc[360] = "no host capacity (no solo and concurrent migrations to tell apart)";
        if (fc.host_cap_weighted && isfinite(fc.host_cap))
            snprintf(hc, sizeof hc, "a host moves %.1f MB/s in all, shared by the "
                     "migrations in flight on it (%s)", fc.host_cap / 1e6, how_as);
        else if (fc.host_cap_weighted)
            snprintf(hc, sizeof hc, "no host capacity (the fit's grid weighted by its "
                     "evidence: all of the weight on a capacity that never binds)");
        json_array_append_new(assumed, json_sprintf(
            "migration model calibrated to the %d completed migrations of %d history "
            "cycle(s) (%d solo, %d concurrent at %.2f on average; wall time and downtime; "
            "rms log error %.2f): one stream carries %.1f MB/s, %s, the VMs write %.0f%% of "
            "their nominal page rate, switchover at a downtime limit of %.0f ms", ns,
            fc.journals, fc.nsolo,
            fc.nconc, fc.k_conc, fc.rms, fc.cap / 1e6, hc, 100 * fc.scale, fc.dl_ms));
        char between[120] = "one history cycle: the variation between cycles is not "
                            "known, not drawn";
        if (fc.run_sigma_cycles >= 2)
            snprintf(between, sizeof between, "and the spread between the %d history "
                     "cycles, %.2f", fc.run_sigma_cycles, fc.run_between_sigma);
        json_array_append_new(assumed, json_sprintf(
            "model error drawn in the runs: each migration's time x lognormal(sigma %.2f) "
            "and downtime x lognormal(sigma %.2f) (the calibration's rms log residuals; "
            "the downtime's within each VM, after the stun factors: x %.2f alone, x %.2f "
            "with others at once, and %d VM(s) a factor of their own from their history "
            "switchovers), and every migration of a run x lognormal(sigma %.2f: the "
            "fit's standard error %.2f; %s); %d VM(s) a factor on their migrations' times "
            "from their history migrations", fc.rms_time,
            fc.vm_down ? fc.rms_down_vm : fc.rms_down, fc.down_class[0], fc.down_class[1],
            fc.vm_down_n, fc.run_sigma,
            fc.rms_time / sqrt(ns), between, fc.vm_time_n));
        out->stream_fitted = 1;
    }
    free(fc.vm_down);
    free(fc.vm_time);
    if (ns > 0 && out->calibration == NULL) {
        co_cyc_fit_free(out);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    return CO_OK;
}

void co_cyc_fit_free(co_cyc_fit *f)
{
    json_decref(f->history);
    json_decref(f->calibration);
    f->history = f->calibration = NULL;
}

int co_cyc_forecast(const co_cyc_fc_opts *o, json_t **out, co_diag *d)
{
    *out = NULL;
    int runs = o->runs > 0 ? o->runs : 300;
    uint64_t seed = o->seed ? o->seed : 1;
    co_sim_cluster *c = NULL;
    json_t *src = NULL, *assumed = json_array();
    const char *basis = "file";
    char note[1100] = "", dir[600] = "", kept[700] = "";
    int rc = CO_OK, ntcg = 0;
    json_t *cal = NULL; /* before any goto fail */
    if (o->live) {
        if (o->keep_dir)
            snprintf(dir, sizeof dir, "%s", o->keep_dir);
        else if (snprintf(dir, sizeof dir, "/tmp/cutover-fc-XXXXXX") && mkdtemp(dir) == NULL) {
            dir[0] = '\0';
            snprintf(note, sizeof note, "FILE as written: no temporary directory: %s",
                     strerror(errno));
        }
        if (dir[0]) {
            co_diag ld;
            co_diag_init(&ld);
            if (live_cluster(o, dir, &c, &src, &ntcg, &ld) == CO_OK) {
                basis = "live";
                snprintf(note, sizeof note, "the live cluster (cutover inventory of FILE's "
                         "hosts; FILE's plan, hooks and execution)");
                if (o->keep_dir)
                    snprintf(kept, sizeof kept, "%s/inventory.json", dir);
            } else
                snprintf(note, sizeof note, "FILE as written: the inventory failed: %s",
                         ld.msg);
            if (!o->keep_dir)
                (void)co_fs_rm_tree(dir);
        }
    } else
        snprintf(note, sizeof note, "FILE as written");
    if (c == NULL && (rc = co_sim_load_file(o->file, &c, d)) != CO_OK)
        goto fail;
    if (o->max_downtime_ms > 0) {
        /* the cycle's budget, as evacuate is given it */
        c->plan.stun_budget_ms = o->max_downtime_ms;
        json_array_append_new(assumed, json_sprintf("stun budget %.0f ms (--max-downtime)",
                                                    o->max_downtime_ms));
    }
    json_t *hj = NULL;
    int k_hist = 0, stream_fitted = 0;
    if (o->nhistory > 0) {
        co_cyc_fit fit;
        if ((rc = co_cyc_fit_history(c, o->history, o->nhistory, assumed, &fit, d)) != CO_OK)
            goto fail;
        hj = fit.history;
        cal = fit.calibration;
        k_hist = fit.per_host;
        stream_fitted = fit.stream_fitted;
    }

    if (!stream_fitted && ntcg > 0) {
        /* evacuate's planner assumes the same for TCG guests */
        c->plan.mig.link.channel_cap_bytes_per_s = CO_EVAC_TCG_STREAM_BYTES_PER_S;
        json_array_append_new(assumed, json_sprintf(
            "one migration stream carries %.0f MB/s: %d of the VMs are TCG guests (emulated: "
            "their stream is CPU bound; evacuate's planner assumes the same)",
            CO_EVAC_TCG_STREAM_BYTES_PER_S / 1e6, ntcg));
    }
    if (k_hist == 0)
        json_array_append_new(assumed, json_sprintf(
            "plan.concurrency: %d migration(s) at once per host (%s); the cycle's evacuations "
            "pick their own (evacuate's planner, 1-8)", c->plan.per_host, c->plan.preset));

    /* One run at a time, timeline recorded: per-host evacuation spans and
     * per-VM stun of every run (co_sim_mc pools them). The same (seed, i)
     * streams as `cutover simulate --seed`. */
    int nh = c->nhosts, nv = c->nvms;
    double *win = calloc((size_t)runs, sizeof *win);
    double *evac = calloc((size_t)runs * (nh ? nh : 1), sizeof *evac);
    double *hstun = calloc((size_t)runs * (nh ? nh : 1), sizeof *hstun);
    double *stun = calloc((size_t)runs * (nv ? nv : 1), sizeof *stun);
    co_sim_run *r = co_sim_run_new(c);
    if (!win || !evac || !hstun || !stun || !r) {
        rc = co_diag_set(d, CO_ENOMEM, "out of memory");
        goto runs_done;
    }
    co_sim_run_set_record(r, 1);
    double wsum = 0;
    for (int i = 0; i < runs; i++) {
        co_sim_run_result rr;
        if ((rc = co_sim_run_once(r, seed, (uint64_t)i, &rr)) != CO_OK) {
            co_diag_set(d, rc, "out of memory in the forecast's runs");
            goto runs_done;
        }
        win[i] = rr.window_ms;
        wsum += rr.window_ms;
        size_t n;
        const co_sim_span *sp = co_sim_run_spans(r, &n);
        for (size_t k = 0; k < n; k++) {
            if (sp[k].kind == 0 && sp[k].other == CO_STEP_EVACUATE)
                evac[(size_t)sp[k].host * runs + i] += (sp[k].end_us - sp[k].start_us) / 1e3;
            /* the runbook's measure of a host's impact: the stun of the VMs
             * that left it (evacuation, not the return) */
            if (sp[k].kind != 1 || sp[k].aborted || sp[k].vm < 0)
                continue;
            /* the calibration's stun factors are in it (the simulator
             * applies co_sim_vm.down_factor and plan.mig_down_class) */
            int v = sp[k].vm, leaves = c->vms[v].host == sp[k].host;
            double st = sp[k].stun_ms;
            stun[(size_t)v * runs + i] += st;
            if (leaves)
                hstun[(size_t)sp[k].host * runs + i] += st;
        }
    }
    json_t *j = json_pack("{s:i, s:I, s:s, s:s, s:s?, s:O?, s:O?, s:O}", "runs", runs,
                          "seed", (json_int_t)seed, "basis", basis, "basis_note", note,
                          "inventory", kept[0] ? kept : NULL, "inventory_source", src,
                          "history", hj, "assumed", assumed);
    if (cal)
        json_object_set_new(j, "calibration", cal);
    cal = NULL;
    json_t *w = q3(win, runs, 1e-3);
    json_object_set_new(w, "mean", json_real(wsum / runs / 1e3));
    json_object_set_new(j, "window_s", w);
    json_t *ha = json_array();
    for (int k = 0; k < c->plan.nhosts; k++) {
        int h = c->plan.hosts[k];
        json_array_append_new(ha, json_pack("{s:s, s:o, s:o}", "name", c->hosts[h].name,
                                            "evacuate_s", q3(evac + (size_t)h * runs, runs, 1e-3),
                                            "stun_ms", q3(hstun + (size_t)h * runs, runs, 1)));
    }
    json_object_set_new(j, "hosts", ha);
    json_t *va = json_array();
    for (int v = 0; v < nv; v++)
        json_array_append_new(va, json_pack("{s:s, s:s, s:o}", "name", c->vms[v].name, "host",
                                            c->hosts[c->vms[v].host].name, "stun_ms",
                                            q3(stun + (size_t)v * runs, runs, 1)));
    json_object_set_new(j, "vms", va);
    *out = j;
runs_done:
    json_decref(cal);
    co_sim_run_free(r);
    free(win);
    free(evac);
    free(hstun);
    free(stun);
    json_decref(hj);
fail:
    json_decref(src);
    json_decref(assumed);
    co_sim_cluster_free(c);
    if (rc == CO_OK && *out == NULL)
        rc = co_diag_set(d, CO_ENOMEM, "out of memory");
    return rc;
}

/* ---- forecast beside actual ---- */

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double nget(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static const json_t *by_name(const json_t *arr, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
        if (!strcmp(sget(e, "name"), name))
            return e;
    return NULL;
}

/* A copy of the forecast's quantiles with the actual and the error. */
static json_t *field(const json_t *q, const json_t *actual, double *abs_err)
{
    json_t *f = json_deep_copy(q);
    double p50 = nget(q, "p50");
    *abs_err = NAN;
    if (json_is_number(actual)) {
        double a = json_number_value(actual);
        json_object_set_new(f, "actual", json_real(a));
        json_object_set_new(f, "inside", json_boolean(a >= nget(q, "p10") &&
                                                      a <= nget(q, "p90")));
        if (p50 > 0) {
            double e = 100 * (a - p50) / p50;
            json_object_set_new(f, "error_pct", json_real(e));
            *abs_err = fabs(e);
        } else
            json_object_set_new(f, "error_pct", json_null());
    } else {
        json_object_set_new(f, "actual", json_null());
        json_object_set_new(f, "error_pct", json_null());
    }
    return f;
}

static double median(double *v, int n)
{
    if (n == 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *co_cyc_forecast_compare(const json_t *fc, const json_t *report)
{
    json_t *j = json_object();
    double e;
    json_t *w = field(json_object_get(fc, "window_s"), json_object_get(report, "window_s"), &e);
    json_object_set_new(j, "window_s", w);
    size_t i, nh = json_array_size(json_object_get(fc, "hosts"));
    size_t nv = json_array_size(json_object_get(fc, "vms"));
    double *he = calloc(nh + 1, sizeof *he), *ve = calloc(nv + 1, sizeof *ve);
    int nhe = 0, nve = 0;
    json_t *ha = json_array(), *va = json_array(), *x;
    json_array_foreach(json_object_get(fc, "hosts"), i, x) {
        const json_t *a = by_name(json_object_get(report, "hosts"), sget(x, "name"));
        /* a host the cycle did not evacuate has no actual */
        json_t *steps = json_object_get(a, "steps_ms");
        json_t *act = NULL;
        if (json_object_get(steps, "evacuate"))
            act = json_real(nget(steps, "evacuate") / 1e3);
        json_t *f = field(json_object_get(x, "evacuate_s"), act, &e);
        json_decref(act);
        if (isfinite(e) && he)
            he[nhe++] = e;
        json_array_append_new(ha, json_pack("{s:s, s:o}", "name", sget(x, "name"),
                                            "evacuate_s", f));
    }
    json_array_foreach(json_object_get(fc, "vms"), i, x) {
        const json_t *a = by_name(json_object_get(report, "vms"), sget(x, "name"));
        /* a VM that did not migrate has no measured stun to compare */
        json_t *act = a && json_integer_value(json_object_get(a, "migrations")) > 0
                          ? json_object_get(a, "stun_ms") : NULL;
        json_t *f = field(json_object_get(x, "stun_ms"), act, &e);
        if (isfinite(e) && ve)
            ve[nve++] = e;
        json_array_append_new(va, json_pack("{s:s, s:o}", "name", sget(x, "name"), "stun_ms",
                                            f));
    }
    json_object_set_new(j, "hosts", ha);
    json_object_set_new(j, "vms", va);
    json_object_set_new(j, "summary", json_pack(
        "{s:O, s:O, s:o, s:o, s:i, s:i}", "window_error_pct", json_object_get(w, "error_pct"),
        "window_inside", json_object_get(w, "inside") ? json_object_get(w, "inside")
                                                      : json_null(),
        "host_evacuate_median_abs_error_pct", num_or_null(median(he, nhe)),
        "vm_stun_median_abs_error_pct", num_or_null(median(ve, nve)), "hosts_compared", nhe,
        "vms_compared", nve));
    free(he);
    free(ve);
    return j;
}

int co_cyc_fit_text(FILE *out, const json_t *cal, const json_t *assumed)
{
    if (json_is_object(cal)) {
        json_t *hc = json_object_get(cal, "host_capacity_bytes_per_s");
        char cap[320] = "no host capacity";
        if (json_is_number(hc))
            snprintf(cap, sizeof cap, "host capacity %.1f MB/s (%s)",
                     json_number_value(hc) / 1e6, sget(cal, "host_capacity_as"));
        char bytes[96] = "";
        json_t *bc = json_object_get(cal, "channel_cap_from_bytes_bytes_per_s");
        if (json_is_number(bc))
            snprintf(bytes, sizeof bytes, " (replaces the journals' bytes' %.1f MB/s)",
                     json_number_value(bc) / 1e6);
        fprintf(out, "  calibration: %lld migrations of %lld cycle(s) (%lld solo, %lld "
                "concurrent): stream %.1f MB/s%s, %s, page rate x %.2f, downtime limit %.0f ms, "
                "stun x %.2f solo / x %.2f concurrent, %lld VM(s) a factor of their own; "
                "rms log error %.2f; drawn sigmas: time %.2f, downtime %.2f, run %.2f\n",
                json_integer_value(json_object_get(cal, "migrations")),
                json_integer_value(json_object_get(cal, "journals")),
                json_integer_value(json_object_get(cal, "solo")),
                json_integer_value(json_object_get(cal, "concurrent")),
                nget(cal, "channel_cap_bytes_per_s") / 1e6, bytes, cap,
                nget(cal, "dirty_rate_factor"),
                nget(cal, "downtime_limit_ms"), nget(cal, "stun_factor_solo"),
                nget(cal, "stun_factor_concurrent"),
                json_integer_value(json_object_get(cal, "vms_with_stun_factor")),
                nget(cal, "rms_log_error"), nget(cal, "rms_log_error_time"),
                nget(cal, "rms_log_error_downtime_within_vm"), nget(cal, "run_sigma"));
    }
    size_t i;
    json_t *x;
    json_array_foreach(assumed, i, x)
        fprintf(out, "  assumed: %s\n", json_string_value(x));
    return ferror(out) ? CO_EIO : CO_OK;
}

void co_cyc_forecast_text(const json_t *fc, FILE *out)
{
    json_t *w = json_object_get(fc, "window_s");
    fprintf(out, "forecast (%lld simulate runs, seed %lld) on %s\n",
            json_integer_value(json_object_get(fc, "runs")),
            json_integer_value(json_object_get(fc, "seed")), sget(fc, "basis_note"));
    if (json_is_string(json_object_get(fc, "inventory")))
        fprintf(out, "  inventory kept in %s\n", sget(fc, "inventory"));
    json_t *hj = json_object_get(fc, "history");
    if (json_is_object(hj))
        fprintf(out, "  history: %lld journal(s), %lld cycle(s) (the fits: cutover simulate "
                "--history, or the JSON)\n", json_integer_value(json_object_get(hj, "journals")),
                json_integer_value(json_object_get(hj, "cycles")));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(fc, "assumed"), i, x)
        fprintf(out, "  assumed: %s\n", json_string_value(x));
    fprintf(out, "  window        p10 %8.1f s  p50 %8.1f s  p90 %8.1f s\n", nget(w, "p10"),
            nget(w, "p50"), nget(w, "p90"));
    json_array_foreach(json_object_get(fc, "hosts"), i, x) {
        json_t *q = json_object_get(x, "evacuate_s");
        fprintf(out, "  %-12s evacuation p10 %6.1f s  p50 %6.1f s  p90 %6.1f s\n",
                sget(x, "name"), nget(q, "p10"), nget(q, "p50"), nget(q, "p90"));
    }
    json_array_foreach(json_object_get(fc, "vms"), i, x) {
        json_t *q = json_object_get(x, "stun_ms");
        fprintf(out, "  %-12s stun       p10 %6.0f ms p50 %6.0f ms p90 %6.0f ms\n",
                sget(x, "name"), nget(q, "p10"), nget(q, "p50"), nget(q, "p90"));
    }
}

static void row(FILE *out, const char *what, const char *name, const json_t *f, const char *unit,
                const char *fmt_prec)
{
    char a[32] = "-", e[32] = "-";
    if (json_is_number(json_object_get(f, "actual")))
        snprintf(a, sizeof a, fmt_prec, nget(f, "actual"));
    if (json_is_number(json_object_get(f, "error_pct")))
        snprintf(e, sizeof e, "%+.0f%%", nget(f, "error_pct"));
    char p10[32], p50[32], p90[32];
    snprintf(p10, sizeof p10, fmt_prec, nget(f, "p10"));
    snprintf(p50, sizeof p50, fmt_prec, nget(f, "p50"));
    snprintf(p90, sizeof p90, fmt_prec, nget(f, "p90"));
    json_t *in = json_object_get(f, "inside");
    fprintf(out, "  %-10s %-10s %9s %9s %9s %9s %-3s %7s  %s\n", what, name, p10, p50, p90, a,
            unit, e, json_is_true(in) ? "inside" : in ? "OUTSIDE" : "");
}

void co_cyc_compare_text(const json_t *cmp, FILE *out)
{
    fprintf(out, "\nforecast beside actual:\n  %-10s %-10s %9s %9s %9s %9s %-3s %7s\n", "field",
            "name", "p10", "p50", "p90", "actual", "", "error");
    row(out, "window", "", json_object_get(cmp, "window_s"), "s", "%.1f");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(cmp, "hosts"), i, x)
        row(out, "evacuate", sget(x, "name"), json_object_get(x, "evacuate_s"), "s", "%.1f");
    json_array_foreach(json_object_get(cmp, "vms"), i, x)
        row(out, "stun", sget(x, "name"), json_object_get(x, "stun_ms"), "ms", "%.0f");
    json_t *s = json_object_get(cmp, "summary");
    json_t *he = json_object_get(s, "host_evacuate_median_abs_error_pct");
    json_t *ve = json_object_get(s, "vm_stun_median_abs_error_pct");
    fprintf(out, "  median |error|: host evacuation %s%.0f%% (%lld hosts), VM stun %s%.0f%% "
            "(%lld VMs)\n", he && json_is_number(he) ? "" : "- ", json_number_value(he),
            json_integer_value(json_object_get(s, "hosts_compared")),
            ve && json_is_number(ve) ? "" : "- ", json_number_value(ve),
            json_integer_value(json_object_get(s, "vms_compared")));
}
