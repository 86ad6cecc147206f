/* sim/mc.c: Monte Carlo over runs, across threads (and, through
 * co_sim_acc, across processes), invariant under any split of the runs.
 *
 * Run i always uses the RNG stream of (seed, i). Each thread adds its runs
 * into its own accumulator (co_sim_acc): integer counts, integer sums of
 * per-run figures turned into integers first (microseconds, ms^2), exact
 * min and max, and log-bucketed histograms with integer counts. Merging two
 * accumulators is exact, associative and commutative, so the summary is the
 * same for 1 or 64 threads and 1 or 64 MPI ranks (mpi/main.c), and memory
 * does not grow with runs (no per-run array; docs/simulate.md). */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

/* ---- histogram ---- */

void co_sim_hist_init(co_sim_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = INFINITY;
    h->max = -INFINITY;
}

static int hist_bucket(double ms)
{
    if (!(ms > CO_SIM_HIST_LO_MS))
        return 0;
    double k = floor(log(ms / CO_SIM_HIST_LO_MS) / log(CO_SIM_HIST_RATIO));
    return k < CO_SIM_HIST_BINS - 2 ? 1 + (int)k : CO_SIM_HIST_BINS - 1;
}

double co_sim_hist_mid_ms(int b)
{
    if (b <= 0)
        return CO_SIM_HIST_LO_MS;
    return CO_SIM_HIST_LO_MS * pow(CO_SIM_HIST_RATIO, b - 0.5);
}

void co_sim_hist_add(co_sim_hist *h, double ms)
{
    h->bin[hist_bucket(ms)]++;
    h->n++;
    if (ms < h->min)
        h->min = ms;
    if (ms > h->max)
        h->max = ms;
}

/* Value reported for bucket b: its middle, clamped to the exact extremes
 * (the overflow bucket has no middle: its values are reported as the max). */
static double hist_value(const co_sim_hist *h, int b)
{
    if (b == CO_SIM_HIST_BINS - 1)
        return h->max;
    double v = co_sim_hist_mid_ms(b);
    return v < h->min ? h->min : v > h->max ? h->max : v;
}

double co_sim_hist_q(const co_sim_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    int64_t want = (int64_t)ceil(q * (double)h->n);
    if (want < 1)
        want = 1;
    int64_t acc = 0;
    for (int b = 0; b < CO_SIM_HIST_BINS; b++) {
        acc += h->bin[b];
        if (acc >= want)
            return hist_value(h, b);
    }
    return h->max;
}

static void hist_merge(co_sim_hist *d, const co_sim_hist *s)
{
    d->n += s->n;
    d->min = fmin(d->min, s->min);
    d->max = fmax(d->max, s->max);
    for (int b = 0; b < CO_SIM_HIST_BINS; b++)
        d->bin[b] += s->bin[b];
}

/* ---- accumulator ---- */

size_t co_sim_acc_bytes(int nvms)
{
    return sizeof(co_sim_acc) + (size_t)nvms * sizeof(int64_t);
}

co_sim_acc *co_sim_acc_new(int nvms)
{
    size_t n = co_sim_acc_bytes(nvms);
    co_sim_acc *a = calloc(1, n);
    if (a == NULL)
        return NULL;
    a->bytes = (int64_t)n;
    a->nvms = nvms;
    co_sim_hist_init(&a->window);
    co_sim_hist_init(&a->stun);
    co_sim_hist_init(&a->outage);
    return a;
}

int co_sim_acc_merge(co_sim_acc *d, const co_sim_acc *s)
{
    if (d->bytes != s->bytes || d->nvms != s->nvms)
        return CO_ESOFTWARE;
    if (s->err && (!d->err || s->err_part < d->err_part)) {
        d->err = s->err;
        d->err_part = s->err_part;
    }
    d->runs += s->runs;
    d->events += s->events;
    d->violations += s->violations;
    d->migrations += s->migrations;
    d->aborts += s->aborts;
    d->cold += s->cold;
    d->parked += s->parked;
    d->patch_failures += s->patch_failures;
    d->hosts_failed += s->hosts_failed;
    d->window_us += s->window_us;
    d->host_us += s->host_us;
    d->repair_us += s->repair_us;
    d->repair_ms2 += s->repair_ms2;
    hist_merge(&d->window, &s->window);
    hist_merge(&d->stun, &s->stun);
    hist_merge(&d->outage, &s->outage);
    for (int64_t v = 0; v < d->nvms; v++)
        d->over[v] += s->over[v];
    return CO_OK;
}

/* One run into the accumulator. The per-run doubles become integers here,
 * a function of the run alone, so their sums are exact whatever the split:
 * the window is whole microseconds in the run (sim/run.c divides it by
 * 1000), host time and repair times are rounded to the microsecond, squared
 * repair times to the ms^2 (relative 1e-14 of a 4 h repair). */
static void acc_run(co_sim_acc *a, const co_sim_cluster *c, co_sim_run *r,
                    const co_sim_run_result *rr)
{
    a->runs++;
    a->events += rr->events;
    a->violations += rr->violations;
    a->migrations += rr->migrations;
    a->aborts += rr->aborts;
    a->cold += rr->cold;
    a->parked += rr->parked;
    a->patch_failures += rr->patch_failures;
    a->hosts_failed += rr->hosts_failed;
    a->window_us += llround(rr->window_ms * 1e3);
    a->host_us += llround(rr->host_hours * 3.6e9);
    a->repair_us += llround(rr->repair_ms_sum * 1e3);
    a->repair_ms2 += llround(rr->repair_ms_sumsq);
    co_sim_hist_add(&a->window, rr->window_ms);
    const double *stun = co_sim_run_stun_ms(r), *out = co_sim_run_outage_ms(r);
    const int *nm = co_sim_run_vm_migrations(r);
    double budget = c->plan.stun_budget_ms;
    for (int v = 0; v < c->nvms; v++) {
        if (nm[v] > 0) {
            co_sim_hist_add(&a->stun, stun[v]);
            if (stun[v] > budget)
                a->over[v]++;
        }
        if (out[v] > 0)
            co_sim_hist_add(&a->outage, out[v]);
    }
}

/* ---- threads ---- */

struct shared {
    const co_sim_cluster *c;
    const co_sim_mc_opts *o;
    pthread_mutex_t lock; /* guards next, done and err */
    long next;            /* next k: run index first + k * stride */
    int done, total, err;
};

struct worker {
    struct shared *s;
    co_sim_acc *acc;
    pthread_t tid;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->s;
    const co_sim_mc_opts *o = s->o;
    long stride = o->stride > 0 ? o->stride : 1;
    co_sim_run *r = co_sim_run_new(s->c);
    if (r == NULL) {
        pthread_mutex_lock(&s->lock);
        s->err = CO_ENOMEM;
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    co_sim_run_set_check(r, o->check);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        long i = s->err ? o->runs : o->first + s->next++ * stride;
        pthread_mutex_unlock(&s->lock);
        if (i >= o->runs)
            break;
        co_sim_run_result rr;
        int rc = co_sim_run_once(r, o->seed, (uint64_t)i, &rr);
        if (rc != CO_OK) {
            pthread_mutex_lock(&s->lock);
            s->err = rc;
            pthread_mutex_unlock(&s->lock);
            break;
        }
        acc_run(w->acc, s->c, r, &rr);
        pthread_mutex_lock(&s->lock);
        int done = ++s->done;
        pthread_mutex_unlock(&s->lock);
        if (o->progress)
            o->progress(o->progress_arg, done, s->total);
    }
    co_sim_run_free(r);
    return NULL;
}

int co_sim_mc_acc(const co_sim_cluster *c, const co_sim_mc_opts *o, co_sim_acc *acc,
                  co_diag *d)
{
    long stride = o->stride > 0 ? o->stride : 1;
    if (o->runs < 1 || o->threads < 1 || o->first < 0)
        return co_diag_set(d, CO_EUSAGE, "runs and threads must be at least 1");
    long mine = o->first < o->runs ? (o->runs - o->first + stride - 1) / stride : 0;
    if (mine == 0)
        return CO_OK;
    int T = o->threads < mine ? o->threads : (int)mine;
    struct shared s = {.c = c, .o = o, .total = (int)mine};
    struct worker *w = calloc((size_t)T, sizeof *w);
    if (w == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory for %d threads", T);
    pthread_mutex_init(&s.lock, NULL);
    for (int t = 0; t < T; t++) {
        w[t].s = &s;
        w[t].acc = co_sim_acc_new(c->nvms);
        if (w[t].acc == NULL) {
            s.err = CO_ENOMEM;
            break;
        }
    }
    int started = 0;
    if (s.err == CO_OK) {
        if (T == 1) {
            work(&w[0]); /* no thread for the common single-thread case */
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
    int rc = CO_OK;
    if (s.err != CO_OK)
        rc = co_diag_set(d, s.err, s.err == CO_EOS ? "cannot start threads" : "out of memory");
    for (int t = 0; t < T; t++) {
        if (rc == CO_OK)
            co_sim_acc_merge(acc, w[t].acc); /* same layout by construction */
        free(w[t].acc);
    }
    free(w);
    return rc;
}

/* ---- summary ---- */

static co_sim_quant quant(const co_sim_hist *h)
{
    return (co_sim_quant){co_sim_hist_q(h, 0.5), co_sim_hist_q(h, 0.9), co_sim_hist_q(h, 0.99),
                          h->n ? h->max : 0, 0, (long)h->n};
}

int co_sim_summarize(const co_sim_cluster *c, const co_sim_mc_opts *o, const co_sim_acc *a,
                     co_sim_summary *out, co_diag *d)
{
    memset(out, 0, sizeof *out);
    if (a->err != 0)
        return co_diag_set(d, (int)a->err, "%s in the runs of rank %lld",
                           a->err == CO_ENOMEM ? "out of memory" : co_strerror((int)a->err),
                           (long long)a->err_part);
    if (a->runs != o->runs || a->nvms != c->nvms)
        return co_diag_set(d, CO_ESOFTWARE, "merged %lld runs of %lld VMs, expected %d of %d",
                           (long long)a->runs, (long long)a->nvms, o->runs, c->nvms);
    out->runs = o->runs;
    out->seed = o->seed;
    out->threads = o->threads;
    out->stun_budget_ms = c->plan.stun_budget_ms;
    out->over_budget_runs = calloc((size_t)c->nvms + 1, sizeof(int));
    if (out->over_budget_runs == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    double R = o->runs;
    out->host_hours_mean = (double)a->host_us / 3.6e9 / R;
    out->migrations_mean = (double)a->migrations / R;
    out->aborts_mean = (double)a->aborts / R;
    out->cold_mean = (double)a->cold / R;
    out->parked_mean = (double)a->parked / R;
    out->patch_failures_mean = (double)a->patch_failures / R;
    out->hosts_failed_mean = (double)a->hosts_failed / R;
    out->mttr_n = a->hosts_failed;
    out->events = a->events;
    out->violations = a->violations;

    out->window = quant(&a->window);
    out->window.mean = (double)a->window_us / 1e3 / R;
    out->window_min_ms = a->window.min;
    out->hist_bins = 20;
    out->hist_lo_ms = a->window.min;
    double span = a->window.max - a->window.min;
    out->hist_width_ms = span > 0 ? span / out->hist_bins : 1;
    for (int b = 0; b < CO_SIM_HIST_BINS; b++)
        if (a->window.bin[b]) {
            int k = (int)((hist_value(&a->window, b) - a->window.min) / out->hist_width_ms);
            out->hist[k < out->hist_bins ? k : out->hist_bins - 1] += a->window.bin[b];
        }

    long over_total = 0;
    for (int v = 0; v < c->nvms; v++) {
        out->over_budget_runs[v] = (int)a->over[v];
        over_total += a->over[v];
    }
    out->over_budget_mean = over_total / R;
    out->stun = quant(&a->stun);
    for (int b = 0; b < CO_SIM_HIST_BINS; b++)
        out->stun_hist[b] = a->stun.bin[b];
    out->outage = quant(&a->outage);
    out->outage_vms_mean = a->outage.n / R;

    if (out->mttr_n > 0) {
        double n = (double)out->mttr_n;
        out->mttr_mean_ms = (double)a->repair_us / 1e3 / n;
        double half = 0;
        if (out->mttr_n > 1) {
            double var = ((double)a->repair_ms2 - n * out->mttr_mean_ms * out->mttr_mean_ms) /
                         (n - 1);
            double sd = sqrt(var > 0 ? var : 0);
            half = gsl_cdf_tdist_Pinv(0.975, n - 1) * sd / sqrt(n);
        }
        out->mttr_ci_lo_ms = out->mttr_mean_ms - half;
        out->mttr_ci_hi_ms = out->mttr_mean_ms + half;
    }
    return CO_OK;
}

int co_sim_mc(const co_sim_cluster *c, const co_sim_mc_opts *o, co_sim_summary *out,
              co_diag *d)
{
    memset(out, 0, sizeof *out);
    co_sim_acc *a = co_sim_acc_new(c->nvms);
    if (a == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    co_sim_mc_opts all = *o;
    all.first = 0;
    all.stride = 1;
    int rc = co_sim_mc_acc(c, &all, a, d);
    if (rc == CO_OK)
        rc = co_sim_summarize(c, o, a, out, d);
    free(a);
    return rc;
}

void co_sim_summary_free(co_sim_summary *s)
{
    free(s->over_budget_runs);
    s->over_budget_runs = NULL;
}
