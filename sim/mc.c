/* sim/mc.c: Monte Carlo over runs, across threads, thread-count invariant.
 *
 * Run i always uses the RNG stream of (seed, i). Per-run figures are stored
 * by run index and reduced in index order; per-VM statistics go into
 * integer histograms and counters, whose sums do not depend on the order
 * the threads add them. So the summary is the same for 1 or 64 threads. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

struct worker;

struct shared {
    const co_sim_cluster *c;
    const co_sim_mc_opts *o;
    co_sim_run_result *res; /* per run */
    pthread_mutex_t lock;   /* guards next and done */
    int next, done, err;
};

struct worker {
    struct shared *s;
    long *stun_hist, *outage_hist; /* CO_SIM_HIST_BINS each */
    int *over;                     /* per VM */
    double stun_max, outage_max;
    long stun_n, outage_n;
    pthread_t tid;
};

static int hist_bin(double ms)
{
    if (!(ms > CO_SIM_HIST_LO_MS))
        return 0;
    int b = 1 + (int)floor(log10(ms / CO_SIM_HIST_LO_MS) * CO_SIM_HIST_DECADE);
    return b < CO_SIM_HIST_BINS - 1 ? b : CO_SIM_HIST_BINS - 1;
}

/* Geometric middle of a bin (bin 0 holds values at or below the floor). */
double co_sim_hist_mid_ms(int b)
{
    if (b == 0)
        return CO_SIM_HIST_LO_MS;
    return CO_SIM_HIST_LO_MS * pow(10.0, (b - 0.5) / CO_SIM_HIST_DECADE);
}

static double hist_q(const long *h, long n, double q)
{
    if (n == 0)
        return 0;
    long want = (long)ceil(q * n);
    if (want < 1)
        want = 1;
    long acc = 0;
    for (int b = 0; b < CO_SIM_HIST_BINS; b++) {
        acc += h[b];
        if (acc >= want)
            return co_sim_hist_mid_ms(b);
    }
    return co_sim_hist_mid_ms(CO_SIM_HIST_BINS - 1);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->s;
    const co_sim_cluster *c = s->c;
    co_sim_run *r = co_sim_run_new(c);
    if (r == NULL) {
        pthread_mutex_lock(&s->lock);
        s->err = CO_ENOMEM;
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    co_sim_run_set_check(r, s->o->check);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        int i = s->err ? s->o->runs : s->next++;
        pthread_mutex_unlock(&s->lock);
        if (i >= s->o->runs)
            break;
        co_sim_run_result rr;
        int rc = co_sim_run_once(r, s->o->seed, (uint64_t)i, &rr);
        if (rc != CO_OK) {
            pthread_mutex_lock(&s->lock);
            s->err = rc;
            pthread_mutex_unlock(&s->lock);
            break;
        }
        s->res[i] = rr;
        const double *stun = co_sim_run_stun_ms(r), *out = co_sim_run_outage_ms(r);
        const int *nm = co_sim_run_vm_migrations(r);
        double budget = c->plan.stun_budget_ms;
        for (int v = 0; v < c->nvms; v++) {
            if (nm[v] > 0) {
                w->stun_hist[hist_bin(stun[v])]++;
                w->stun_n++;
                if (stun[v] > w->stun_max)
                    w->stun_max = stun[v];
                if (stun[v] > budget)
                    w->over[v]++;
            }
            if (out[v] > 0) {
                w->outage_hist[hist_bin(out[v])]++;
                w->outage_n++;
                if (out[v] > w->outage_max)
                    w->outage_max = out[v];
            }
        }
        pthread_mutex_lock(&s->lock);
        int done = ++s->done;
        pthread_mutex_unlock(&s->lock);
        if (s->o->progress)
            s->o->progress(s->o->progress_arg, done, s->o->runs);
    }
    co_sim_run_free(r);
    return NULL;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile of sorted values, nearest rank (no interpolation: exact values
 * that occurred). */
static double q_sorted(const double *v, int n, double q)
{
    if (n == 0)
        return 0;
    int k = (int)ceil(q * n) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return v[k];
}

int co_sim_mc(const co_sim_cluster *c, const co_sim_mc_opts *o, co_sim_summary *out,
              co_diag *d)
{
    memset(out, 0, sizeof *out);
    if (o->runs < 1 || o->threads < 1)
        return co_diag_set(d, CO_EUSAGE, "runs and threads must be at least 1");
    int T = o->threads < o->runs ? o->threads : o->runs;
    struct shared s = {.c = c, .o = o};
    s.res = calloc((size_t)o->runs, sizeof *s.res);
    struct worker *w = calloc((size_t)T, sizeof *w);
    int rc = CO_OK;
    if (s.res == NULL || w == NULL) {
        rc = co_diag_set(d, CO_ENOMEM, "out of memory for %d runs", o->runs);
        goto out;
    }
    pthread_mutex_init(&s.lock, NULL);
    int started = 0;
    for (int t = 0; t < T; t++) {
        w[t].s = &s;
        w[t].stun_hist = calloc(CO_SIM_HIST_BINS, sizeof(long));
        w[t].outage_hist = calloc(CO_SIM_HIST_BINS, sizeof(long));
        w[t].over = calloc((size_t)c->nvms + 1, sizeof(int));
        if (!w[t].stun_hist || !w[t].outage_hist || !w[t].over) {
            s.err = CO_ENOMEM;
            break;
        }
    }
    if (s.err == CO_OK) {
        if (T == 1) {
            work(&w[0]); /* no thread for the common single-thread case */
            started = 0;
        } else {
            for (; started < T; started++)
                if (pthread_create(&w[started].tid, NULL, work, &w[started]) != 0) {
                    pthread_mutex_lock(&s.lock);
                    s.err = CO_EOS;
                    pthread_mutex_unlock(&s.lock);
                    break;
                }
        }
    }
    for (int t = 0; t < started; t++)
        pthread_join(w[t].tid, NULL);
    pthread_mutex_destroy(&s.lock);
    if (s.err != CO_OK) {
        rc = co_diag_set(d, s.err, s.err == CO_EOS ? "cannot start threads" : "out of memory");
        goto out;
    }

    /* reduce */
    out->runs = o->runs;
    out->seed = o->seed;
    out->threads = T;
    out->stun_budget_ms = c->plan.stun_budget_ms;
    out->window_ms = calloc((size_t)o->runs, sizeof(double));
    out->over_budget_runs = calloc((size_t)c->nvms + 1, sizeof(int));
    double *sorted = calloc((size_t)o->runs, sizeof(double));
    long *sh = calloc(CO_SIM_HIST_BINS, sizeof(long)), *oh = calloc(CO_SIM_HIST_BINS, sizeof(long));
    if (!out->window_ms || !out->over_budget_runs || !sorted || !sh || !oh) {
        free(sorted);
        free(sh);
        free(oh);
        rc = co_diag_set(d, CO_ENOMEM, "out of memory");
        goto out;
    }
    double wsum = 0, rep_sum = 0, rep_sq = 0;
    for (int i = 0; i < o->runs; i++) {
        const co_sim_run_result *r = &s.res[i];
        out->window_ms[i] = sorted[i] = r->window_ms;
        wsum += r->window_ms;
        out->host_hours_mean += r->host_hours;
        out->migrations_mean += r->migrations;
        out->aborts_mean += r->aborts;
        out->cold_mean += r->cold;
        out->parked_mean += r->parked;
        out->patch_failures_mean += r->patch_failures;
        out->hosts_failed_mean += r->hosts_failed;
        out->mttr_n += r->hosts_failed;
        rep_sum += r->repair_ms_sum;
        rep_sq += r->repair_ms_sumsq;
        out->events += r->events;
        out->violations += r->violations;
    }
    double R = o->runs;
    out->host_hours_mean /= R;
    out->migrations_mean /= R;
    out->aborts_mean /= R;
    out->cold_mean /= R;
    out->parked_mean /= R;
    out->patch_failures_mean /= R;
    out->hosts_failed_mean /= R;
    qsort(sorted, (size_t)o->runs, sizeof(double), cmp_dbl);
    out->window = (co_sim_quant){q_sorted(sorted, o->runs, 0.5), q_sorted(sorted, o->runs, 0.9),
                                 q_sorted(sorted, o->runs, 0.99), sorted[o->runs - 1], wsum / R,
                                 o->runs};
    out->window_min_ms = sorted[0];
    out->hist_bins = 20;
    out->hist_lo_ms = sorted[0];
    double span = sorted[o->runs - 1] - sorted[0];
    out->hist_width_ms = span > 0 ? span / out->hist_bins : 1;
    for (int i = 0; i < o->runs; i++) {
        int b = (int)((sorted[i] - sorted[0]) / out->hist_width_ms);
        out->hist[b < out->hist_bins ? b : out->hist_bins - 1]++;
    }
    free(sorted);

    long over_total = 0;
    double smax = 0, omax = 0;
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < CO_SIM_HIST_BINS; b++) {
            sh[b] += w[t].stun_hist[b];
            oh[b] += w[t].outage_hist[b];
        }
        for (int v = 0; v < c->nvms; v++)
            out->over_budget_runs[v] += w[t].over[v];
        out->stun.n += w[t].stun_n;
        out->outage.n += w[t].outage_n;
        smax = fmax(smax, w[t].stun_max);
        omax = fmax(omax, w[t].outage_max);
    }
    for (int v = 0; v < c->nvms; v++)
        over_total += out->over_budget_runs[v];
    out->over_budget_mean = over_total / R;
    out->stun.p50 = hist_q(sh, out->stun.n, 0.5);
    out->stun.p90 = hist_q(sh, out->stun.n, 0.9);
    out->stun.p99 = hist_q(sh, out->stun.n, 0.99);
    out->stun.max = smax;
    memcpy(out->stun_hist, sh, sizeof out->stun_hist);
    out->outage.p50 = hist_q(oh, out->outage.n, 0.5);
    out->outage.p90 = hist_q(oh, out->outage.n, 0.9);
    out->outage.p99 = hist_q(oh, out->outage.n, 0.99);
    out->outage.max = omax;
    out->outage_vms_mean = out->outage.n / R;
    free(sh);
    free(oh);

    if (out->mttr_n > 0) {
        double n = (double)out->mttr_n;
        out->mttr_mean_ms = rep_sum / n;
        double half = 0;
        if (out->mttr_n > 1) {
            double var = (rep_sq - n * out->mttr_mean_ms * out->mttr_mean_ms) / (n - 1);
            double sd = sqrt(var > 0 ? var : 0);
            half = gsl_cdf_tdist_Pinv(0.975, n - 1) * sd / sqrt(n);
        }
        out->mttr_ci_lo_ms = out->mttr_mean_ms - half;
        out->mttr_ci_hi_ms = out->mttr_mean_ms + half;
    }
out:
    if (w)
        for (int t = 0; t < T; t++) {
            free(w[t].stun_hist);
            free(w[t].outage_hist);
            free(w[t].over);
        }
    free(w);
    free(s.res);
    if (rc != CO_OK)
        co_sim_summary_free(out);
    return rc;
}

void co_sim_summary_free(co_sim_summary *s)
{
    free(s->window_ms);
    free(s->over_budget_runs);
    s->window_ms = NULL;
    s->over_budget_runs = NULL;
}
