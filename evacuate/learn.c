/* evacuate/learn.c: what a drain learns about the guests' real dirty
 * rates, the source's sending rate and the per-VM set-up, and the
 * calibration file that carries it to the next plan (see evacuate.h and
 * docs/evacuate.md, "Learning the real dirty rates"). Pure but for the
 * calibration file's read and write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evacuate/evacuate.h"
#include "util/error.h"

#define FIT_MAX 8.0 /* a guest may dirty faster than its nominal curve: up to 8x */

void co_evac_scale_curve(const co_dirty *d, double f, co_dirty *out)
{
    if (!(f > 0) || d->kind == CO_DIRTY_NONE) {
        co_dirty_none(out);
        return;
    }
    *out = *d;
    switch (d->kind) {
    case CO_DIRTY_UNIFORM:
    case CO_DIRTY_HOTCOLD:
    case CO_DIRTY_SEQ: out->rate_pages_per_s = d->rate_pages_per_s * f; break;
    case CO_DIRTY_TABLE: {
        /* U_f(t) = U(f t): the point (t, U) moves to (t / f, U) */
        double t[CO_DIRTY_TABLE_MAX];
        for (int i = 0; i < d->n; i++)
            t[i] = d->t_s[i] / f;
        if (co_dirty_table(out, t, d->pages, d->n, d->cap_pages) != CO_OK)
            *out = *d;
        break;
    }
    default: break;
    }
}

/* Windows shorter than this are not QEMU's rate updates (at least 1 s
 * apart; our 100 ms polling blurs the edges). */
#define WIN_MIN_MS 800.0

/* sum_i m_i U(f dur_i / m_i): what the curve run at speed f dirties as QEMU
 * counts it (each sync counts one pass's worth) */
static double windows_pages(const co_dirty *d, const co_evac_window *w, int n, double f)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        if (!(w[i].dur_ms >= WIN_MIN_MS) || !(w[i].pages >= 0))
            continue;
        double m = w[i].syncs > 1 ? w[i].syncs : 1;
        s += m * co_dirty_pages(d, f * w[i].dur_ms / 1e3 / m);
    }
    return s;
}

double co_evac_fit_factor(const co_dirty *nominal, const co_evac_window *w, int n)
{
    if (nominal->kind == CO_DIRTY_NONE || !(co_dirty_rate0(nominal) > 0))
        return NAN;
    double seen = 0;
    int usable = 0;
    for (int i = 0; i < n; i++) {
        if (!(w[i].dur_ms >= WIN_MIN_MS) || !(w[i].pages >= 0))
            continue;
        usable = 1;
        seen += w[i].pages;
    }
    if (!usable)
        return NAN;
    if (seen <= 0)
        return 0;
    if (windows_pages(nominal, w, n, FIT_MAX) <= seen)
        return FIT_MAX;
    double lo = 0, hi = FIT_MAX;
    for (int it = 0; it < 60; it++) { /* U is monotone in f: bisection */
        double mid = (lo + hi) / 2;
        if (windows_pages(nominal, w, n, mid) < seen)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double co_evac_common_factor(const double *f, int n)
{
    double v[CO_EVAC_MAX_VMS];
    int m = 0;
    for (int i = 0; i < n && m < CO_EVAC_MAX_VMS; i++)
        if (isfinite(f[i]))
            v[m++] = f[i];
    if (!m)
        return NAN;
    qsort(v, (size_t)m, sizeof v[0], cmp_dbl);
    return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

double co_evac_bytes_factor(const co_evac_vm *v)
{
    if (strcmp(v->status, "completed") || !(v->sent_bytes > 0) || !(v->time_ms > 0) ||
        !(v->mem_bytes > 0))
        return NAN;
    const co_dirty *nom = v->nominal_saved ? &v->dirty_nominal : &v->dirty;
    double r = co_dirty_rate0(nom);
    if (!(r > 0))
        return NAN;
    double resent_pages = fmax(0, v->sent_bytes - v->mem_bytes) / 4096;
    return fmin(FIT_MAX, resent_pages / (v->time_ms / 1e3) / r);
}

double co_evac_write_ceiling(const double *rate, const double *f, int n)
{
    if (n <= 0)
        return NAN;
    double eff[CO_EVAC_MAX_VMS];
    int m = 0;
    for (int i = 0; i < n && m < CO_EVAC_MAX_VMS; i++)
        if (isfinite(f[i]) && f[i] < 0.8 && rate[i] > 0)
            eff[m++] = rate[i] * f[i];
    if (!m)
        return 0;
    /* the most any starved guest wrote: what the host lets a vCPU write at
     * least (the median let a 500 pages/s guest seen at 0.77 make a ceiling
     * of 385 pages/s) */
    qsort(eff, (size_t)m, sizeof eff[0], cmp_dbl);
    return eff[m - 1];
}

double co_evac_unseen_factor(double common, double ceiling, double r)
{
    double f = common > 0 && isfinite(common) ? common : 1.0;
    if (ceiling > 0 && r > 0 && r * f > ceiling)
        f = ceiling / r;
    return f;
}

int co_evac_observed_curve(const co_evac_window *w, int n, double cap_pages, co_dirty *out)
{
    double t[CO_EVAC_MAX_WIN], u[CO_EVAC_MAX_WIN];
    int m = 0;
    for (int i = 0; i < n && i < CO_EVAC_MAX_WIN; i++) {
        if (!(w[i].dur_ms >= WIN_MIN_MS) || !(w[i].pages >= 0))
            continue;
        double k = w[i].syncs > 1 ? w[i].syncs : 1;
        /* one pass's worth: the window's length and pages over its syncs */
        double ti = w[i].dur_ms / 1e3 / k, ui = w[i].pages / k;
        int j = m;
        while (j > 0 && t[j - 1] > ti) { /* insertion by t */
            t[j] = t[j - 1];
            u[j] = u[j - 1];
            j--;
        }
        t[j] = ti;
        u[j] = ui;
        m++;
    }
    /* one point per 10 ms of t (averaged), pages non-decreasing in t */
    int q = 0;
    for (int i = 0; i < m; i++) {
        if (q > 0 && t[i] - t[q - 1] < 0.01) {
            u[q - 1] = (u[q - 1] + u[i]) / 2;
            continue;
        }
        t[q] = t[i];
        u[q] = u[i];
        q++;
    }
    for (int i = 1; i < q; i++)
        if (u[i] < u[i - 1])
            u[i] = u[i - 1];
    if (q == 0 || q > CO_DIRTY_TABLE_MAX)
        return co_dirty_none(out), CO_ERANGE;
    return co_dirty_table(out, t, u, q, cap_pages > 0 ? cap_pages : 0);
}

static void save_nominal(co_evac_vm *v)
{
    if (v->nominal_saved)
        return;
    v->dirty_nominal = v->dirty;
    v->nominal_saved = 1;
    v->dirty_factor = 1;
}

void co_evac_apply_factor(co_evac_vm *v, double f, const char *source)
{
    save_nominal(v);
    if (!isfinite(f) || f < 0)
        return;
    v->dirty_factor = f;
    snprintf(v->dirty_factor_source, sizeof v->dirty_factor_source, "%s", source);
    co_evac_scale_curve(&v->dirty_nominal, f, &v->dirty);
}

int co_evac_learn(co_evac *e)
{
    double f[CO_EVAC_MAX_VMS], rate[CO_EVAC_MAX_VMS];
    int n = 0, changed = 0, own_only = 0;
    co_dirty own[CO_EVAC_MAX_VMS];
    int has_own[CO_EVAC_MAX_VMS];
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        save_nominal(v);
        has_own[i] = v->nwin > 0 &&
                     co_evac_observed_curve(v->win, v->nwin, v->mem_bytes / 4096, &own[i]) == CO_OK;
        v->seen_factor = v->nwin > 0 ? co_evac_fit_factor(&v->dirty_nominal, v->win, v->nwin)
                                     : NAN;
        if (!isfinite(v->seen_factor))
            v->seen_factor = co_evac_bytes_factor(v);
        if (isfinite(v->seen_factor)) {
            rate[n] = co_dirty_rate0(&v->dirty_nominal);
            f[n++] = v->seen_factor;
        } else if (has_own[i] && !(co_dirty_rate0(&v->dirty_nominal) > 0)) {
            /* no curve before it moved (a TCG guest is not measured, and
             * the cycle has no trace): no factor to fit, but its windows
             * are its curve; factor 1 by convention, kept out of the
             * common factor (a speed relative to nothing) */
            v->seen_factor = 1;
            own_only++;
        }
    }
    if (n == 0 && own_only == 0)
        return 0;
    double c = e->common_factor, wc = e->write_ceiling_pages_per_s;
    if (n > 0) {
        c = e->common_factor = co_evac_common_factor(f, n);
        wc = e->write_ceiling_pages_per_s = co_evac_write_ceiling(rate, f, n);
        e->learn_obs = n;
    }
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        double old = v->dirty_factor, nf;
        const char *src;
        double r_before = co_dirty_rate0(&v->dirty);
        if (isfinite(v->seen_factor)) {
            nf = v->seen_factor;
            src = v->nwin > 0 && isfinite(co_evac_fit_factor(&v->dirty_nominal, v->win, v->nwin))
                      ? "own windows"
                  : !(co_dirty_rate0(&v->dirty_nominal) > 0) ? "own windows (no curve before)"
                                                             : "own bytes re-sent";
        } else if (n > 0 && !strcmp(v->status, "planned") && v->blocker[0] == '\0' &&
                   strcmp(v->dirty_factor_source, "calibration (this VM)")) {
            /* a VM the last drain saw keeps its own factor (calibration) */
            double r = co_dirty_rate0(&v->dirty_nominal);
            nf = co_evac_unseen_factor(c, wc, r);
            src = nf < c ? "write ceiling learnt" : "common factor learnt";
        } else {
            continue;
        }
        co_evac_apply_factor(v, nf, src);
        /* a VM seen runs as it was seen: the nominal curve's shape may be
         * wrong (the hot-cold guest here: a speed of 1.1-5.4 in different
         * drains, and its time-scaled curve said it never converges where
         * it converged in every run), so its own windows make its curve */
        if (has_own[i] && isfinite(v->seen_factor))
            v->dirty = own[i];
        double r_after = co_dirty_rate0(&v->dirty);
        changed += fabs(nf - old) > 0.05 * fmax(old, 1e-3) ||
                   fabs(r_after - r_before) > 0.05 * fmax(r_before, 1);
    }
    return changed;
}

void co_evac_note_rate(co_evac *e, int n, double bytes, double ms)
{
    if (n < 0 || !(ms > 0) || !(bytes >= 0))
        return;
    if (n == 0) { /* migrations started, none sending: libvirt's and QEMU's set-up */
        e->agg_ms[0] += ms;
        return;
    }
    if (n > CO_EVAC_MAX_K)
        n = CO_EVAC_MAX_K;
    e->agg_bytes[n] += bytes;
    e->agg_ms[n] += ms;
    if (e->agg_ms[n] >= 2000)
        e->src_cap_by_n[n] = e->agg_bytes[n] / (e->agg_ms[n] / 1e3);
    if (n == 1 && e->peak_bytes_per_s > e->src_cap_by_n[1])
        e->src_cap_by_n[1] = e->peak_bytes_per_s;
}

int co_evac_note_peak(co_evac *e, double bytes_per_s)
{
    if (!(bytes_per_s > 0) || !isfinite(bytes_per_s))
        return 0;
    /* the socket's buffer fills faster than the NIC at a stream's start */
    if (e->nic_bytes_per_s > 0 && bytes_per_s > e->nic_bytes_per_s)
        bytes_per_s = e->nic_bytes_per_s;
    if (bytes_per_s > e->peak_bytes_per_s)
        e->peak_bytes_per_s = bytes_per_s;
    double was = e->src_cap_by_n[1];
    if (e->peak_bytes_per_s > was)
        e->src_cap_by_n[1] = e->peak_bytes_per_s;
    return e->src_cap_by_n[1] > 1.05 * was;
}

/* This drain probed one above the calibration's cap, met no miss, and never
 * had that many in flight, or never ran at that k: it says nothing of that
 * level. In flight alone, a `stream` drain one at a time with five set-ups
 * ahead counted as the probe of 5 at once, and the cap rose to 6 for the
 * next drain, which put 4 of 6 over the budget (bench-evacuate,
 * 2026-12-06). */
static int probe_unreached(const co_evac *e)
{
    return !e->k_cap_noted && e->calib_cap > 0 && e->calib_hold == 0 &&
           e->k_cap == e->calib_cap + 1 &&
           (e->most_inflight < e->k_cap || e->most_k < e->k_cap);
}

void co_evac_cap_hold_next(const co_evac *e, int *hold, int *backoff)
{
    *hold = *backoff = 0;
    if (e->k_cap_noted && e->calib_cap > 0 && e->calib_hold == 0 && e->k_cap <= e->calib_cap) {
        /* the probe one above the last cap went over the budget again */
        int b = e->calib_backoff > 0 ? 2 * e->calib_backoff : 1;
        *hold = *backoff = b < CO_EVAC_CAP_HOLD_MAX ? b : CO_EVAC_CAP_HOLD_MAX;
    } else if (!e->k_cap_noted && e->calib_hold > 0) {
        *hold = e->calib_hold - 1;
        *backoff = e->calib_backoff;
    } else if (probe_unreached(e)) {
        /* the backoff stays (the cap stays too: co_evac_calib_json);
         * reached without a miss, it ends */
        *backoff = e->calib_backoff;
    }
}

int co_evac_setup_during(double start_ms, double first_send_ms, double end_ms, double from_ms,
                         double to_ms)
{
    /* the set-up runs from the start to the first byte sent, or to the end
     * of a migration that never sent, or on */
    double setup_end = first_send_ms > 0 ? first_send_ms : end_ms > 0 ? end_ms : INFINITY;
    return start_ms < to_ms && setup_end > from_ms;
}

int co_evac_in_flight_during(double start_ms, double end_ms, double from_ms, double to_ms)
{
    return co_evac_setup_during(start_ms, 0, end_ms, from_ms, to_ms);
}

static int by_start(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

void co_evac_time_split(const double (*iv)[2], int n, co_evac_split *out)
{
    *out = (co_evac_split){.first_byte_ms = NAN};
    double(*s)[2] = n > 0 ? malloc(sizeof *s * (size_t)n) : NULL;
    int m = 0;
    for (int i = 0; s && i < n; i++)
        if (isfinite(iv[i][0]) && isfinite(iv[i][1]) && iv[i][1] >= iv[i][0]) {
            s[m][0] = iv[i][0];
            s[m][1] = iv[i][1];
            m++;
        }
    if (m > 0) {
        qsort(s, (size_t)m, sizeof *s, by_start);
        out->first_byte_ms = s[0][0];
        double from = s[0][0], to = s[0][1];
        for (int i = 1; i <= m; i++) {
            if (i < m && s[i][0] <= to) {
                if (s[i][1] > to)
                    to = s[i][1];
                continue;
            }
            out->transfer_ms += to - from;
            if (i == m)
                break;
            double gap = s[i][0] - to;
            out->idle_ms += gap;
            out->idle_gaps++;
            if (gap > out->longest_idle_ms)
                out->longest_idle_ms = gap;
            from = s[i][0];
            to = s[i][1];
        }
    }
    free(s);
}

int co_evac_note_downtime(co_evac *e, const char *vm, int n, double downtime_ms)
{
    if (n < 2 || !isfinite(downtime_ms) || !(e->max_downtime_ms > 0) ||
        downtime_ms <= CO_EVAC_DOWN_SHARE * e->max_downtime_ms)
        return 0;
    int cap = n - 1 < CO_EVAC_MAX_K ? n - 1 : CO_EVAC_MAX_K;
    if (e->k_cap > 0 && e->k_cap <= cap)
        return 0;
    e->k_cap = cap;
    e->k_cap_noted = 1;
    snprintf(e->k_cap_why, sizeof e->k_cap_why,
             "%.60s: downtime %.0f ms with %d in flight (budget %.0f ms)", vm, downtime_ms, n,
             e->max_downtime_ms);
    return 1;
}

void co_evac_note_switchover(co_evac *e, int k, double downtime_ms)
{
    if (k < 1 || k > CO_EVAC_MAX_K || !isfinite(downtime_ms) || !(e->max_downtime_ms > 0))
        return;
    e->sw_n[k] += 1;
    if (downtime_ms > CO_EVAC_DOWN_SHARE * e->max_downtime_ms)
        e->sw_over[k] += 1;
}

int co_evac_note_early_miss(co_evac *e, const char *vm, double downtime_ms)
{
    if (!isfinite(downtime_ms) || !(e->max_downtime_ms > 0) ||
        downtime_ms <= CO_EVAC_DOWN_SHARE * e->max_downtime_ms || e->no_early_start)
        return 0;
    size_t l = strlen(e->early_missed);
    snprintf(e->early_missed + l, sizeof e->early_missed - l, "%s%.40s %.0f ms",
             l ? ", " : "", vm, downtime_ms);
    if (++e->early_misses < CO_EVAC_EARLY_MISSES)
        return 0;
    snprintf(e->early_stop_why, sizeof e->early_stop_why,
             "%d switchovers over the budget (%.0f ms) with a set-up beside them: %s",
             e->early_misses, e->max_downtime_ms, e->early_missed);
    e->no_early_start = 1;
    return 1;
}

double co_evac_tally_rate(const co_evac *e, int k)
{
    double below = 0;
    for (int j = 1; j <= k && j <= CO_EVAC_MAX_K; j++)
        below = (e->sw_over[j] + CO_EVAC_TALLY_PRIOR * below) /
                (e->sw_n[j] + CO_EVAC_TALLY_PRIOR);
    return below;
}

int co_evac_tally_cap(co_evac *e, int n_vms)
{
    e->tally_why[0] = '\0';
    if (n_vms < 1)
        n_vms = 1;
    for (int k = 2; k <= CO_EVAC_MAX_K; k++) {
        double r = co_evac_tally_rate(e, k);
        if (n_vms * r > CO_EVAC_MISS_EXPECT + 1e-9) {
            snprintf(e->tally_why, sizeof e->tally_why,
                     "%d at once: %.1f of %.1f switchovers over the budget lately, %.1f "
                     "expected in %d VMs",
                     k, e->sw_over[k], e->sw_n[k], n_vms * r, n_vms);
            return k - 1;
        }
    }
    return CO_EVAC_MAX_K;
}

int co_evac_note_stream(co_evac *e, double got, double fair)
{
    /* over the NIC is a timing artefact (a short migration's first byte
     * seen late): a stream carries at most the NIC */
    if (e->nic_bytes_per_s > 0 && got > e->nic_bytes_per_s)
        got = e->nic_bytes_per_s;
    if (!(got > 0) || !isfinite(got) || !(got > e->stream_cap_bytes_per_s))
        return 0;
    /* a ceiling below what a stream carried is wrong, whatever bound that
     * stream; only a given one (--stream-rate) needs a stream-bound
     * migration to be overruled (a learnt 31 MB/s, from streams sharing a
     * 400 Mbit/s link, had stood while one alone carried 41: make
     * bench-evacuate, docs/evacuate.md "The solo probe") */
    int given = !strcmp(e->stream_cap_source, "--stream-rate");
    if (given && !(got < 0.8 * fair))
        return 0;
    if (!given && !(e->stream_cap_bytes_per_s > 0) && !(got < 0.8 * fair))
        return 0; /* no ceiling yet: the model's channel cap stands */
    e->stream_cap_bytes_per_s = got;
    snprintf(e->stream_cap_source, sizeof e->stream_cap_source, "learnt");
    return 1;
}

/* One more time x (ms, >= 0, finite; else ignored) in a mean kept as a sum
 * and a count. */
static void add_to_mean(double *sum, int *n, double *mean, double x)
{
    if (!(x >= 0) || !isfinite(x))
        return;
    *sum += x;
    (*n)++;
    *mean = *sum / *n;
}

/* The calibration's set-up counts as one set-up more: a drain's first
 * set-up alone made the figure (bench-evacuate `hot`: 0.16 s where the
 * calibration said 1.6 and the next set-ups took 1.3 s, so no set-up was
 * started early enough to be hidden, 2026-12-05). */
void co_evac_note_setup(co_evac *e, double ms)
{
    if (e->setup_n == 0 && e->setup_ms > 0 && !(e->setup_prior_ms > 0))
        e->setup_prior_ms = e->setup_ms;
    add_to_mean(&e->setup_sum_ms, &e->setup_n, &e->setup_ms, ms);
    if (e->setup_prior_ms > 0 && e->setup_n > 0)
        e->setup_ms = (e->setup_sum_ms + e->setup_prior_ms) / (e->setup_n + 1);
}

void co_evac_note_hold(co_evac *e, double ms)
{
    add_to_mean(&e->hold_wait_sum_ms, &e->hold_wait_n, &e->hold_wait_ms, ms);
}

/* ---------------------------------------------------------- calibration */

#define CALIB_FORMAT "cutover-evacuate-calibration/1"

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *drain_json(const co_evac_drain *d)
{
    json_t *x = json_object(), *ord = json_array();
    for (int i = 0; i < d->nvms; i++)
        json_array_append_new(ord, json_string(d->vms[i]));
    json_object_set_new(x, "total_ms", json_real(d->total_ms));
    json_object_set_new(x, "k", json_integer(d->k));
    json_object_set_new(x, "auto", json_boolean(d->auto_k));
    json_object_set_new(x, "order", ord);
    return x;
}

/* One entry of "drains" into *d; 0, or -1 when it is malformed. */
static int drain_parse(json_t *x, co_evac_drain *d)
{
    json_t *tot = json_object_get(x, "total_ms"), *k = json_object_get(x, "k"),
           *ord = json_object_get(x, "order"), *au = json_object_get(x, "auto");
    if (!json_is_object(x) || !json_is_number(tot) || !(json_number_value(tot) > 0) ||
        !isfinite(json_number_value(tot)) || !json_is_integer(k) || json_integer_value(k) < 1 ||
        json_integer_value(k) > CO_EVAC_MAX_K || !json_is_array(ord) ||
        json_array_size(ord) < 1 || json_array_size(ord) > CO_EVAC_MAX_VMS ||
        (au && !json_is_boolean(au)))
        return -1;
    memset(d, 0, sizeof *d);
    d->total_ms = json_number_value(tot);
    d->k = (int)json_integer_value(k);
    d->auto_k = !au || json_is_true(au);
    size_t i;
    json_t *y;
    json_array_foreach(ord, i, y) {
        const char *nm = json_string_value(y);
        if (!nm || !*nm || strlen(nm) >= sizeof d->vms[0])
            return -1;
        for (int q = 0; q < d->nvms; q++)
            if (!strcmp(d->vms[q], nm))
                return -1; /* a VM started twice is no plan's order */
        snprintf(d->vms[d->nvms++], sizeof d->vms[0], "%s", nm);
    }
    return 0;
}

json_t *co_evac_calib_json(const co_evac *e)
{
    json_t *o = json_object();
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(o, "format", json_string(CALIB_FORMAT));
    json_object_set_new(o, "learned_at", json_string(when));
    json_object_set_new(o, "nic_bytes_per_s", num(e->nic_bytes_per_s));
    json_object_set_new(o, "stream_bytes_per_s",
                        e->stream_cap_bytes_per_s > 0 ? json_real(e->stream_cap_bytes_per_s)
                                                      : json_null());
    json_object_set_new(o, "stream_source", json_string(e->stream_cap_source));
    json_t *by = json_object();
    for (int n = 1; n <= CO_EVAC_MAX_K; n++)
        if (e->src_cap_by_n[n] > 0) {
            char k[8];
            snprintf(k, sizeof k, "%d", n);
            json_object_set_new(by, k, json_real(e->src_cap_by_n[n]));
        }
    json_object_set_new(o, "source_bytes_per_s_by_inflight", by);
    /* how the drain's time split by migrations sending at once (0: started,
     * none sending yet), for the record (docs/evacuate.md, the floor) */
    json_t *tbn = json_object();
    for (int n = 0; n <= CO_EVAC_MAX_K; n++)
        if (e->agg_ms[n] > 0) {
            char k[8];
            snprintf(k, sizeof k, "%d", n);
            json_object_set_new(tbn, k, json_real(e->agg_ms[n]));
        }
    json_object_set_new(o, "time_ms_by_inflight", tbn);
    json_object_set_new(o, "setup_ms", e->setup_ms > 0 ? json_real(e->setup_ms) : json_null());
    json_object_set_new(o, "hold_wait_ms",
                        e->hold_wait_ms > 0 ? json_real(e->hold_wait_ms) : json_null());
    /* a probe whose level no moment of the drain reached says nothing: the
     * last drain's cap stays (it had risen by one each drain that planned
     * fewer at once: bench-evacuate `stream`, 2 -> 6 in four drains at k 3) */
    int cap_out = probe_unreached(e) ? e->calib_cap : e->k_cap;
    json_object_set_new(o, "max_concurrency", cap_out > 0 ? json_integer(cap_out) : json_null());
    json_object_set_new(o, "max_concurrency_why", json_string(e->k_cap_why));
    json_t *tally = json_object();
    for (int k = 1; k <= CO_EVAC_MAX_K; k++)
        if (e->sw_n[k] > 0) {
            char key[8];
            snprintf(key, sizeof key, "%d", k);
            json_t *t = json_object();
            json_object_set_new(t, "n", json_real(e->sw_n[k]));
            json_object_set_new(t, "over", json_real(e->sw_over[k]));
            json_object_set_new(tally, key, t);
        }
    json_object_set_new(o, "switchovers_by_concurrency", tally);
    int hold, backoff;
    co_evac_cap_hold_next(e, &hold, &backoff);
    json_object_set_new(o, "max_concurrency_hold", json_integer(hold));
    json_object_set_new(o, "max_concurrency_backoff", json_integer(backoff));
    json_object_set_new(o, "common_factor",
                        e->learn_obs > 0 ? json_real(e->common_factor) : json_null());
    json_object_set_new(o, "write_ceiling_pages_per_s",
                        e->learn_obs > 0 && e->write_ceiling_pages_per_s > 0
                            ? json_real(e->write_ceiling_pages_per_s)
                            : json_null());
    json_t *vms = json_array();
    for (int i = 0; i < e->nvms; i++) {
        const co_evac_vm *v = &e->vms[i];
        int dirty_seen = v->nwin > 0 && isfinite(v->seen_factor);
        /* aborted too: its time until the policy gave up is what the next
         * drain spends on it if it aborts again (bench-evacuate `hot`: the
         * hot guest, aborted at QEMU's throttle ramp after 25 - 28 s in
         * every drain, was planned at the model's 7 - 10 s) */
        int aborted = !strcmp(v->status, "aborted");
        int sent = (!strcmp(v->status, "completed") || aborted) && v->send_ms > 0;
        if (!dirty_seen && !sent)
            continue;
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(v->name));
        /* how long it sent, and beside how many: what times it next time
         * when the model cannot (plan.c) */
        json_object_set_new(j, "send_ms", sent ? json_real(v->send_ms) : json_null());
        json_object_set_new(j, "send_inflight",
                            sent ? json_real(v->send_inflight >= 1 ? v->send_inflight : 1)
                                 : json_null());
        json_object_set_new(j, "send_outcome", !sent      ? json_null()
                                               : aborted ? json_string("aborted")
                                                         : json_string("completed"));
        /* how far QEMU's throttle went: where libvirt's fixed ramp starts
         * next time (engine/policy.h co_pol_ramp_start) */
        json_object_set_new(j, "throttle_pct", sent && v->throttle_max_pct > 0
                                                   ? json_real(v->throttle_max_pct)
                                                   : json_null());
        if (!dirty_seen) {
            json_array_append_new(vms, j);
            continue;
        }
        json_object_set_new(j, "nominal_pages_per_s",
                            num(co_dirty_rate0(v->nominal_saved ? &v->dirty_nominal : &v->dirty)));
        json_object_set_new(j, "factor", json_real(v->seen_factor));
        json_t *w = json_array();
        for (int k = 0; k < v->nwin; k++) {
            json_t *x = json_object();
            json_object_set_new(x, "dur_ms", json_real(v->win[k].dur_ms));
            json_object_set_new(x, "pages", json_real(v->win[k].pages));
            json_object_set_new(x, "syncs", json_integer(v->win[k].syncs));
            json_object_set_new(x, "bulk", json_boolean(v->win[k].bulk));
            json_array_append_new(w, x);
        }
        json_object_set_new(j, "windows", w);
        json_array_append_new(vms, j);
    }
    json_object_set_new(o, "vms", vms);
    /* this drain (if it ran) and the ones before it, newest first: their
     * measured times against the model's, timed again by the next plan */
    json_t *dr = json_array();
    co_evac_drain *cur = e->drain_total_ms > 0 && e->plan_k > 0 ? calloc(1, sizeof *cur) : NULL;
    if (cur) {
        int at[CO_EVAC_MAX_VMS]; /* VM index by the plan's start rank */
        for (int r = 0; r < CO_EVAC_MAX_VMS; r++)
            at[r] = -1;
        for (int i = 0; i < e->nvms; i++)
            if (e->vms[i].order >= 0 && e->vms[i].order < CO_EVAC_MAX_VMS)
                at[e->vms[i].order] = i;
        for (int r = 0; r < CO_EVAC_MAX_VMS; r++)
            if (at[r] >= 0)
                snprintf(cur->vms[cur->nvms++], sizeof cur->vms[0], "%s", e->vms[at[r]].name);
        cur->total_ms = e->drain_total_ms;
        cur->k = e->plan_k;
        cur->auto_k = e->concurrency <= 0;
        if (cur->nvms > 0)
            json_array_append_new(dr, drain_json(cur));
        free(cur);
    }
    for (int d = 0; d < e->ndrains && json_array_size(dr) < CO_EVAC_DRAINS_KEPT; d++)
        json_array_append_new(dr, drain_json(&e->drains[d]));
    json_object_set_new(o, "drains", dr);
    return o;
}

int co_evac_calib_save(const co_evac *e, const char *path, co_diag *d)
{
    json_t *o = co_evac_calib_json(e);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(o, tmp, JSON_INDENT(2)) == 0 && rename(tmp, path) == 0
                 ? CO_OK
                 : co_diag_set(d, CO_ECANTCREAT, "--save-calibration %s: cannot write", path);
    json_decref(o);
    return rc;
}

/* A positive number at key, or 0 when absent/null; -1 when malformed. */
static double pos_num(json_t *o, const char *key)
{
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x))
        return 0;
    if (!json_is_number(x) || !(json_number_value(x) >= 0) || !isfinite(json_number_value(x)))
        return -1;
    return json_number_value(x);
}

int co_evac_calib_apply(co_evac *e, const char *path, co_diag *d)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        FILE *f = fopen(path, "r");
        if (!f)
            return co_diag_set(d, CO_ENOINPUT, "--calibration %s: cannot read", path);
        fclose(f);
        return co_diag_set(d, CO_EDATA, "--calibration %s:%d: %s", path, je.line, je.text);
    }
    char what[320], src[320];
    snprintf(what, sizeof what, "--calibration %.250s", path);
    snprintf(src, sizeof src, "%.250s (learned from the last drain, %s)", path,
             json_string_value(json_object_get(o, "learned_at"))
                 ? json_string_value(json_object_get(o, "learned_at"))
                 : "date unknown");
    int rc = co_evac_calib_apply_json(e, o, what, src, d);
    json_decref(o);
    return rc;
}

#define CAP_HOLD_MAX_STR "8" /* CO_EVAC_CAP_HOLD_MAX, for the messages */
_Static_assert(CO_EVAC_CAP_HOLD_MAX == 8, "CAP_HOLD_MAX_STR says 8");

int co_evac_calib_apply_json(co_evac *e, json_t *o, const char *what, const char *source,
                             co_diag *d)
{
    int rc = CO_OK;
    const char *fmt = json_string_value(json_object_get(o, "format"));
    double hold_wait = pos_num(o, "hold_wait_ms");
    double stream = pos_num(o, "stream_bytes_per_s"), setup = pos_num(o, "setup_ms"),
           common = pos_num(o, "common_factor"), wceil = pos_num(o, "write_ceiling_pages_per_s");
    json_t *by = json_object_get(o, "source_bytes_per_s_by_inflight");
    json_t *vms = json_object_get(o, "vms");
    json_t *kc = json_object_get(o, "max_concurrency");
    json_t *khold = json_object_get(o, "max_concurrency_hold");
    json_t *kback = json_object_get(o, "max_concurrency_backoff");
    json_t *drains = json_object_get(o, "drains");
    json_t *tally = json_object_get(o, "switchovers_by_concurrency");
    const char *bad = !fmt || strcmp(fmt, CALIB_FORMAT) ? "format"
                      : stream < 0                     ? "stream_bytes_per_s"
                      : setup < 0                      ? "setup_ms"
                      : hold_wait < 0                  ? "hold_wait_ms"
                      : common < 0                     ? "common_factor"
                      : wceil < 0                      ? "write_ceiling_pages_per_s"
                      : by && !json_is_object(by)      ? "source_bytes_per_s_by_inflight"
                      : vms && !json_is_array(vms)     ? "vms"
                      : drains && !json_is_null(drains) && !json_is_array(drains) ? "drains"
                      : tally && !json_is_null(tally) && !json_is_object(tally)
                          ? "switchovers_by_concurrency"
                      : kc && !json_is_null(kc) &&
                              (!json_is_integer(kc) || json_integer_value(kc) < 1 ||
                               json_integer_value(kc) > CO_EVAC_MAX_K)
                          ? "max_concurrency"
                      : khold && !json_is_null(khold) &&
                              (!json_is_integer(khold) || json_integer_value(khold) < 0 ||
                               json_integer_value(khold) > CO_EVAC_CAP_HOLD_MAX)
                          ? "max_concurrency_hold (0.." CAP_HOLD_MAX_STR ")"
                      : kback && !json_is_null(kback) &&
                              (!json_is_integer(kback) || json_integer_value(kback) < 0 ||
                               json_integer_value(kback) > CO_EVAC_CAP_HOLD_MAX)
                          ? "max_concurrency_backoff (0.." CAP_HOLD_MAX_STR ")"
                          : NULL;
    double caps[CO_EVAC_MAX_K + 1] = {0};
    if (!bad && by) {
        const char *k;
        json_t *x;
        json_object_foreach(by, k, x) {
            int n = atoi(k);
            if (n < 1 || n > CO_EVAC_MAX_K || !json_is_number(x) || !(json_number_value(x) > 0)) {
                bad = "source_bytes_per_s_by_inflight";
                break;
            }
            caps[n] = json_number_value(x);
        }
    }
    double tn[CO_EVAC_MAX_K + 1] = {0}, tover[CO_EVAC_MAX_K + 1] = {0};
    if (!bad && json_is_object(tally)) {
        const char *k;
        json_t *t;
        json_object_foreach(tally, k, t) {
            int n = atoi(k);
            double cn = pos_num(t, "n"), co = pos_num(t, "over");
            if (n < 1 || n > CO_EVAC_MAX_K || !json_is_object(t) || cn < 0 || co < 0 ||
                co > cn) {
                bad = "switchovers_by_concurrency (\"1\"..\"8\": {n, over}, 0 <= over <= n)";
                break;
            }
            tn[n] = cn;
            tover[n] = co;
        }
    }
    size_t i;
    json_t *x;
    if (!bad && vms)
        json_array_foreach(vms, i, x) {
            if (!json_is_string(json_object_get(x, "name")) || pos_num(x, "factor") < 0) {
                bad = "vms[].name or vms[].factor";
                break;
            }
            if (pos_num(x, "send_ms") < 0 || pos_num(x, "send_inflight") < 0) {
                bad = "vms[].send_ms or vms[].send_inflight";
                break;
            }
            if (pos_num(x, "throttle_pct") < 0 || pos_num(x, "throttle_pct") > 100) {
                bad = "vms[].throttle_pct (0..100)";
                break;
            }
            json_t *so = json_object_get(x, "send_outcome");
            if (so && !json_is_null(so) &&
                (!json_is_string(so) || (strcmp(json_string_value(so), "completed") &&
                                         strcmp(json_string_value(so), "aborted")))) {
                bad = "vms[].send_outcome (completed or aborted)";
                break;
            }
        }
    co_evac_drain *dr = NULL;
    int ndr = 0;
    if (!bad && json_is_array(drains) && json_array_size(drains) > 0) {
        if (!(dr = calloc(CO_EVAC_DRAINS_KEPT, sizeof *dr)))
            return co_diag_set(d, CO_ENOMEM, "%s: out of memory", what);
        json_array_foreach(drains, i, x) {
            co_evac_drain tmp;
            if (drain_parse(x, &tmp) != 0) {
                bad = "drains[] (total_ms > 0, k 1..8, order: distinct VM names, auto)";
                break;
            }
            if (ndr < CO_EVAC_DRAINS_KEPT)
                dr[ndr++] = tmp;
        }
    }
    if (bad) {
        free(dr);
        return co_diag_set(d, CO_EDATA, "%s: field %s is missing or invalid%s", what, bad,
                           !strcmp(bad, "format") ? " (expected " CALIB_FORMAT ")" : "");
    }
    if (stream > 0 && !(e->stream_cap_bytes_per_s > 0)) {
        e->stream_cap_bytes_per_s = stream;
        snprintf(e->stream_cap_source, sizeof e->stream_cap_source, "calibration");
    }
    for (int n = 1; n <= CO_EVAC_MAX_K; n++) {
        e->src_cap_by_n[n] = caps[n];
        /* the drains before weigh less each drain (CO_EVAC_TALLY_DECAY) */
        e->sw_n[n] = tn[n] * CO_EVAC_TALLY_DECAY;
        e->sw_over[n] = tover[n] * CO_EVAC_TALLY_DECAY;
    }
    if (setup > 0)
        e->setup_ms = setup;
    if (hold_wait > 0)
        e->hold_wait_ms = hold_wait;
    /* one above the last drain's cap: it could not try higher itself;
     * unless that went over the budget again lately (the hold) */
    int cal = json_is_integer(kc) ? (int)json_integer_value(kc) : 0;
    int hold = json_is_integer(khold) ? (int)json_integer_value(khold) : 0;
    e->calib_cap = cal;
    e->calib_hold = cal > 0 ? hold : 0;
    e->calib_backoff = cal > 0 && json_is_integer(kback) ? (int)json_integer_value(kback) : 0;
    int kcal = cal > 0 ? cal + (e->calib_hold > 0 ? 0 : 1) : 0;
    if (kcal > CO_EVAC_MAX_K)
        kcal = 0;
    if (kcal > 0 && (e->k_cap == 0 || kcal < e->k_cap)) {
        e->k_cap = kcal;
        const char *why = json_string_value(json_object_get(o, "max_concurrency_why"));
        /* the switchover that set it, said once however many drains it
         * went through */
        while (why && !strncmp(why, "calibration: ", 13)) {
            why += 13;
            if (!strncmp(why, "the last drain's cap", 20) && strstr(why, "; "))
                why = strstr(why, "; ") + 2;
        }
        if (e->calib_hold > 0)
            snprintf(e->k_cap_why, sizeof e->k_cap_why,
                     "calibration: the last drain's cap %d, held %d more drain(s) (one above "
                     "it went over again); %.60s", cal, e->calib_hold, why ? why : "");
        else
            snprintf(e->k_cap_why, sizeof e->k_cap_why,
                     "calibration: the last drain's cap %d + 1; %.100s", cal, why ? why : "");
    }
    e->common_factor = common;
    e->write_ceiling_pages_per_s = wceil;
    e->ndrains = ndr;
    for (int q = 0; q < ndr; q++)
        e->drains[q] = dr[q];
    free(dr);
    for (int v = 0; v < e->nvms; v++) {
        co_evac_vm *vm = &e->vms[v];
        if (vm->blocker[0])
            continue;
        double own = NAN, sent_ms = 0, sent_m = 0, thr = 0;
        int sent_aborted = 0;
        json_t *mine = NULL;
        json_array_foreach(vms, i, x)
            if (!strcmp(json_string_value(json_object_get(x, "name")), vm->name)) {
                /* absent or null: this VM's dirty rate was not seen (0 is a
                 * factor: windows that counted no page) */
                own = json_is_number(json_object_get(x, "factor")) ? pos_num(x, "factor") : NAN;
                sent_ms = pos_num(x, "send_ms");
                sent_m = pos_num(x, "send_inflight");
                thr = pos_num(x, "throttle_pct");
                const char *so = json_string_value(json_object_get(x, "send_outcome"));
                sent_aborted = so && !strcmp(so, "aborted");
                mine = x;
            }
        vm->last_send_ms = sent_ms;
        vm->last_send_inflight = sent_m >= 1 ? sent_m : 1;
        vm->last_aborted = sent_ms > 0 && sent_aborted;
        vm->last_throttle_pct = thr;
        co_evac_window w[CO_EVAC_MAX_WIN];
        int nw = 0;
        size_t k;
        json_t *y;
        json_array_foreach(json_object_get(mine, "windows"), k, y) {
            if (nw >= CO_EVAC_MAX_WIN)
                break;
            w[nw++] = (co_evac_window){
                .dur_ms = json_number_value(json_object_get(y, "dur_ms")),
                .pages = json_number_value(json_object_get(y, "pages")),
                .syncs = (int)json_integer_value(json_object_get(y, "syncs")),
                .bulk = json_is_true(json_object_get(y, "bulk"))};
        }
        co_dirty seen;
        if (isfinite(own)) {
            co_evac_apply_factor(vm, own, "calibration (this VM)");
            /* as in co_evac_learn: its own windows make its curve */
            if (nw > 0 && co_evac_observed_curve(w, nw, vm->mem_bytes / 4096, &seen) == CO_OK)
                vm->dirty = seen;
        }
        else if (common > 0 || wceil > 0)
            co_evac_apply_factor(vm, co_evac_unseen_factor(common, wceil,
                                                           co_dirty_rate0(&vm->dirty)),
                                 "calibration (common)");
    }
    snprintf(e->calib_source, sizeof e->calib_source, "%s", source);
    return rc;
}

/* The most migrations in flight at once the calibration's drain spent time
 * with (its time_ms_by_inflight), 0 when unknown. */
static int calib_tried(json_t *o)
{
    int most = 0;
    const char *k;
    json_t *x;
    json_object_foreach(json_object_get(o, "time_ms_by_inflight"), k, x)
        if (atoi(k) > most && json_number_value(x) > 0)
            most = atoi(k);
    return most;
}

json_t *co_evac_calib_merge(json_t *older, json_t *newer)
{
    if (!newer)
        return older ? json_deep_copy(older) : NULL;
    json_t *m = json_deep_copy(newer);
    if (!older || !m)
        return m;
    static const char *const keep[] = {"stream_bytes_per_s", "setup_ms", "hold_wait_ms",
                                       "common_factor", "write_ceiling_pages_per_s"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *x = json_object_get(m, keep[i]);
        json_t *o = json_object_get(older, keep[i]);
        if ((!x || json_is_null(x)) && o && !json_is_null(o)) {
            json_object_set(m, keep[i], o);
            if (!strcmp(keep[i], "stream_bytes_per_s"))
                json_object_set(m, "stream_source", json_object_get(older, "stream_source"));
        }
    }
    /* a newer calibration planned with the older carries its tally */
    json_t *nt = json_object_get(m, "switchovers_by_concurrency");
    json_t *ot = json_object_get(older, "switchovers_by_concurrency");
    if ((!json_is_object(nt) || json_object_size(nt) == 0) && json_is_object(ot))
        json_object_set(m, "switchovers_by_concurrency", ot);
    json_t *by = json_object_get(m, "source_bytes_per_s_by_inflight");
    const char *k;
    json_t *x;
    if (json_is_object(by))
        json_object_foreach(json_object_get(older, "source_bytes_per_s_by_inflight"), k, x)
            if (!json_object_get(by, k))
                json_object_set(by, k, x);
    json_t *vms = json_object_get(m, "vms");
    size_t i, j;
    json_t *ov, *nv;
    if (json_is_array(vms))
        json_array_foreach(json_object_get(older, "vms"), i, ov) {
            const char *name = json_string_value(json_object_get(ov, "name"));
            int have = 0;
            json_array_foreach(vms, j, nv) {
                const char *nn = json_string_value(json_object_get(nv, "name"));
                if (!name || !nn || strcmp(name, nn))
                    continue;
                have = 1;
                /* seen too quickly for a dirty window this time: the
                 * older drain's windows still say how it dirties */
                static const char *const dirty[] = {"nominal_pages_per_s", "factor", "windows"};
                if (!json_object_get(nv, "windows") && json_object_get(ov, "windows"))
                    for (size_t q = 0; q < sizeof dirty / sizeof dirty[0]; q++)
                        if (json_object_get(ov, dirty[q]))
                            json_object_set(nv, dirty[q], json_object_get(ov, dirty[q]));
                /* and its sending time, if it did not complete now */
                json_t *ns = json_object_get(nv, "send_ms");
                if ((!ns || json_is_null(ns)) && json_is_number(json_object_get(ov, "send_ms"))) {
                    json_object_set(nv, "send_ms", json_object_get(ov, "send_ms"));
                    json_object_set(nv, "send_inflight", json_object_get(ov, "send_inflight"));
                    json_object_set(nv, "send_outcome", json_object_get(ov, "send_outcome"));
                }
            }
            if (!have)
                json_array_append(vms, ov);
        }
    /* drains: the newer's, then the older's it does not hold (a newer
     * planned with the older carries them already), newest first */
    json_t *nd = json_object_get(m, "drains");
    json_t *od = json_object_get(older, "drains");
    if (json_is_array(od)) {
        if (!json_is_array(nd)) {
            nd = json_array();
            json_object_set_new(m, "drains", nd);
        }
        json_array_foreach(od, i, ov) {
            int have = 0;
            json_array_foreach(nd, j, nv)
                have |= json_equal(ov, nv);
            if (!have && json_array_size(nd) < CO_EVAC_DRAINS_KEPT)
                json_array_append(nd, ov);
        }
    }
    json_t *oc = json_object_get(older, "max_concurrency"), *nc = json_object_get(m, "max_concurrency");
    if (json_is_integer(oc)) {
        json_int_t ocap = json_integer_value(oc);
        int lower = json_is_integer(nc) && json_integer_value(nc) < ocap + 1;
        if (!lower && calib_tried(m) <= ocap) {
            json_object_set(m, "max_concurrency", oc);
            json_object_set(m, "max_concurrency_why", json_object_get(older, "max_concurrency_why"));
            static const char *const hk[] = {"max_concurrency_hold", "max_concurrency_backoff"};
            for (int q = 0; q < 2; q++)
                if (json_object_get(older, hk[q]))
                    json_object_set(m, hk[q], json_object_get(older, hk[q]));
                else
                    json_object_del(m, hk[q]);
        }
    }
    return m;
}
