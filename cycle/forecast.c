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

/* The concurrency the cycle's evacuations chose (evacuate's planner picks
 * it; plan.concurrency does not bind the cycle): the median of the
 * journals' evacuate step_end "concurrency", 0 when none says. */
static int history_concurrency(const co_cyc_fc_opts *o, int *samples)
{
    int k[256], n = 0;
    for (int i = 0; i < o->nhistory; i++) {
        json_t *recs = history_records(o->history[i]);
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

/* A completed migration of the history, for the calibration below. */
struct hmig {
    int vm;                  /* index into c->vms */
    double share_bytes_per_s; /* its share of the line: min of the two ends / concurrency */
    double time_ms, down_ms;
};

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

/* Calibrate the migration model to the history's completed migrations:
 * one stream's payload ceiling (plan.policy.channel_cap) and a factor on
 * every VM's page-write rate, chosen on a grid to minimise the squared
 * log errors of each migration's time and downtime (model/migration.h at
 * the migration's share of the line). Why both: a TCG guest's stream is
 * CPU bound (the ceiling), and under TCG a workload writes fewer pages than
 * its nominal rate (the factor); journals carry times and downtimes, not
 * bytes, so the two are fitted together. Returns the migrations used
 * (0: nothing applied). */
static int calibrate(const co_cyc_fc_opts *o, co_sim_cluster *c, double fixed_cap,
                     double *cap_out, double *scale_out, double *dl_out, double *err_out)
{
    struct hmig m[512];
    int n = 0;
    for (int i = 0; i < o->nhistory; i++) {
        json_t *recs = history_records(o->history[i]);
        if (!recs)
            continue;
        size_t j;
        json_t *r;
        json_array_foreach(recs, j, r) {
            const char *ev = json_string_value(json_object_get(r, "ev"));
            if (!ev || strcmp(ev, "mig_end"))
                continue;
            const char *st = json_string_value(json_object_get(r, "status"));
            const char *vm = json_string_value(json_object_get(r, "vm"));
            const char *from = json_string_value(json_object_get(r, "from"));
            const char *to = json_string_value(json_object_get(r, "to"));
            double t = json_number_value(json_object_get(r, "time_ms"));
            json_t *dt = json_object_get(r, "downtime_ms");
            if (!st || strcmp(st, "completed") || !vm || !from || !to || !(t > 0) ||
                !json_is_number(dt) || json_object_get(r, "reconciled") || n >= 512)
                continue;
            /* the concurrency of its step: on the step_end that follows */
            int k_evac = 1;
            for (size_t q = j + 1; q < json_array_size(recs); q++) {
                json_t *x = json_array_get(recs, q);
                const char *e2 = json_string_value(json_object_get(x, "ev"));
                if (e2 && !strcmp(e2, "step_end")) {
                    json_t *kk = json_object_get(x, "concurrency");
                    if (json_is_integer(kk) && json_integer_value(kk) > 0)
                        k_evac = (int)json_integer_value(kk);
                    break;
                }
            }
            int v = -1, a = -1, b = -1;
            for (int q = 0; q < c->nvms && v < 0; q++)
                if (!strcmp(c->vms[q].name, vm))
                    v = q;
            for (int q = 0; q < c->nhosts; q++) {
                if (!strcmp(c->hosts[q].name, from))
                    a = q;
                if (!strcmp(c->hosts[q].name, to))
                    b = q;
            }
            if (v < 0 || a < 0 || b < 0)
                continue;
            double line = fmin(c->hosts[a].nic_bytes_per_s, c->hosts[b].nic_bytes_per_s);
            m[n++] = (struct hmig){v, line / k_evac, t, json_number_value(dt)};
        }
        json_decref(recs);
    }
    if (n < CO_HISTORY_MIN_SAMPLES)
        return 0;
    /* the grid costs (9 x 47 x 11) predictions per migration: the latest 64 */
    if (n > 64) {
        memmove(m, m + n - 64, 64 * sizeof *m);
        n = 64;
    }
    static const double scales[] = {1, 0.7, 0.5, 0.35, 0.25, 0.18, 0.125, 0.09, 0.06, 0.03, 0};
    static const double limits[] = {50, 100, 150, 200, 300, 400, 500, 750, 1000};
    double best = INFINITY, bcap = 0, bs = 1, bdl = c->plan.mig.downtime_limit_ms;
    /* the ceiling from the journals' bytes (simulate --history) when they had them */
    double cap0 = fixed_cap > 0 ? fixed_cap : 1e6, cap1 = fixed_cap > 0 ? fixed_cap : 200e6;
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++)
    for (double cap = cap0; cap <= cap1; cap *= 1.12) {
        for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
            double err = 0;
            for (int i = 0; i < n; i++) {
                const co_sim_vm *vm = &c->vms[m[i].vm];
                const co_sim_profile *pf = &c->profiles[vm->profile];
                co_mig_params p = c->plan.mig;
                p.mem_bytes = pf->mem_bytes;
                p.zero_fraction = pf->zero_fraction;
                p.dirty = pf->dirty;
                if (pf->rate_sampled)
                    p.dirty.rate_pages_per_s = co_sim_dist_mean(&pf->rate);
                scale_dirty(&p.dirty, scales[si]);
                p.link.line_rate_bytes_per_s = m[i].share_bytes_per_s;
                p.downtime_limit_ms = limits[li];
                p.link.channel_cap_bytes_per_s = cap;
                p.link.channels = c->hosts[vm->host].channels;
                p.link.mtu = c->hosts[vm->host].mtu;
                co_mig_result res;
                if (co_mig_predict(&p, &res) != CO_OK || !res.converged) {
                    err += 25; /* a migration that completed is not predicted to fail */
                    continue;
                }
                double et = log(res.total_time_ms / m[i].time_ms);
                double ed = log((res.downtime_ms + 20) / (m[i].down_ms + 20));
                err += et * et + ed * ed;
            }
            if (err < best) {
                best = err;
                bcap = cap;
                bs = scales[si];
                bdl = limits[li];
            }
        }
    }
    *cap_out = bcap;
    *scale_out = bs;
    *dl_out = bdl;
    c->plan.mig.downtime_limit_ms = bdl;
    *err_out = sqrt(best / n);
    /* apply */
    c->plan.mig.link.channel_cap_bytes_per_s = bcap;
    for (int q = 0; q < c->nprofiles; q++) {
        co_sim_profile *pf = &c->profiles[q];
        if (pf->rate_sampled)
            scale_dist(&pf->rate, bs);
        scale_dirty(&pf->dirty, bs);
    }
    return n;
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
        co_history h;
        co_history_init(&h);
        for (int i = 0; i < o->nhistory && rc == CO_OK; i++)
            if ((rc = co_history_read(&h, o->history[i], c, d)) != CO_OK)
                co_diag_prefix(d, "--history");
        if (rc == CO_OK)
            rc = co_history_apply(&h, c, d);
        if (rc == CO_OK && (hj = co_history_json(&h)) == NULL)
            rc = co_diag_set(d, CO_ENOMEM, "out of memory");
        stream_fitted = h.stream_applied;
        co_history_free(&h);
        if (rc != CO_OK)
            goto fail;
        int ns, k = history_concurrency(o, &ns);
        if ((k_hist = k) > 0) {
            c->plan.per_host = k;
            c->plan.count_incoming = 0;
            json_array_append_new(assumed, json_sprintf(
                "%d migration(s) at once per evacuating host: the median of the %d evacuations "
                "in the history (the cycle's evacuations pick their own concurrency; "
                "plan.concurrency does not bind them)", k, ns));
        }
    }
    json_t *cal = NULL;
    if (o->nhistory > 0) {
        double cap, sc, dl, rms;
        int ns = calibrate(o, c, stream_fitted ? c->plan.mig.link.channel_cap_bytes_per_s : 0,
                           &cap, &sc, &dl, &rms);
        if (ns > 0) {
            cal = json_pack("{s:i, s:f, s:s, s:f, s:f, s:f}", "migrations", ns,
                            "channel_cap_bytes_per_s", cap, "channel_cap_from",
                            stream_fitted ? "the journals' bytes (simulate --history)"
                                          : "this calibration",
                            "dirty_rate_factor", sc, "downtime_limit_ms", dl, "rms_log_error",
                            rms);
            json_array_append_new(assumed, json_sprintf(
                "migration model calibrated to the %d completed migrations of the history "
                "(time and downtime; rms log error %.2f): one stream carries %.1f MB/s, the VMs "
                "write %.0f%% of their nominal page rate, switchover at a downtime limit of "
                "%.0f ms", ns, rms, cap / 1e6, 100 * sc, dl));
            stream_fitted = 1;
        }
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
            if (sp[k].kind == 1 && !sp[k].aborted && sp[k].vm >= 0 &&
                c->vms[sp[k].vm].host == sp[k].host)
                hstun[(size_t)sp[k].host * runs + i] += sp[k].stun_ms;
        }
        const double *s = co_sim_run_stun_ms(r);
        for (int v = 0; v < nv; v++)
            stun[(size_t)v * runs + i] = s[v];
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
