/* model/dirty.c: dirty-page curves U(t) (docs/model.md, "Dirty curves"). */
#include "model/dirty.h"

#include <math.h>
#include <string.h>

#include "util/error.h"

static int bad(co_dirty *d)
{
    co_dirty_none(d);
    return CO_ERANGE;
}

static int ok_nonneg(double v)
{
    return isfinite(v) && v >= 0;
}

int co_dirty_none(co_dirty *d)
{
    memset(d, 0, sizeof *d);
    d->kind = CO_DIRTY_NONE;
    return CO_OK;
}

int co_dirty_uniform(co_dirty *d, double wss_pages, double rate)
{
    if (!ok_nonneg(wss_pages) || !ok_nonneg(rate))
        return bad(d);
    co_dirty_none(d);
    if (wss_pages == 0 || rate == 0)
        return CO_OK;
    d->kind = CO_DIRTY_UNIFORM;
    d->wss_pages = wss_pages;
    d->rate_pages_per_s = rate;
    return CO_OK;
}

int co_dirty_hotcold(co_dirty *d, double hot, double cold, double hot_frac, double rate)
{
    if (!ok_nonneg(hot) || !ok_nonneg(cold) || !ok_nonneg(rate) || !(hot_frac >= 0) ||
        !(hot_frac <= 1))
        return bad(d);
    if ((hot == 0 && hot_frac > 0) || (cold == 0 && hot_frac < 1))
        return bad(d);
    co_dirty_none(d);
    if (rate == 0)
        return CO_OK;
    d->kind = CO_DIRTY_HOTCOLD;
    d->hot_pages = hot;
    d->cold_pages = cold;
    d->hot_frac = hot_frac;
    d->rate_pages_per_s = rate;
    return CO_OK;
}

int co_dirty_seq(co_dirty *d, double wss_pages, double rate)
{
    if (!ok_nonneg(wss_pages) || !ok_nonneg(rate))
        return bad(d);
    co_dirty_none(d);
    if (wss_pages == 0 || rate == 0)
        return CO_OK;
    d->kind = CO_DIRTY_SEQ;
    d->wss_pages = wss_pages;
    d->rate_pages_per_s = rate;
    return CO_OK;
}

/* Fritsch-Carlson monotone slopes over the points with (0,0) prepended. */
int co_dirty_table(co_dirty *d, const double *t, const double *u, int n, double cap)
{
    if (n < 1 || n > CO_DIRTY_TABLE_MAX || !ok_nonneg(cap))
        return bad(d);
    for (int i = 0; i < n; i++) {
        if (!(t[i] > 0) || !isfinite(t[i]) || !ok_nonneg(u[i]))
            return bad(d);
        if (i > 0 && (!(t[i] > t[i - 1]) || u[i] < u[i - 1]))
            return bad(d);
    }
    co_dirty_none(d);
    d->kind = CO_DIRTY_TABLE;
    d->n = n;
    d->cap_pages = cap;
    memcpy(d->t_s, t, n * sizeof *t);
    memcpy(d->pages, u, n * sizeof *u);
    /* secant slopes; delta[i] is the slope of segment ending at point i */
    double delta[CO_DIRTY_TABLE_MAX];
    for (int i = 0; i < n; i++) {
        double t0 = i ? t[i - 1] : 0, u0 = i ? u[i - 1] : 0;
        delta[i] = (u[i] - u0) / (t[i] - t0);
    }
    for (int i = 0; i < n; i++) {
        double m;
        if (i == n - 1)
            m = delta[i];
        else if (delta[i] * delta[i + 1] <= 0)
            m = 0;
        else /* harmonic mean keeps the cubic monotone (Fritsch-Carlson) */
            m = 2.0 / (1.0 / delta[i] + 1.0 / delta[i + 1]);
        if (m > 3 * delta[i])
            m = 3 * delta[i];
        if (i + 1 < n && m > 3 * delta[i + 1])
            m = 3 * delta[i + 1];
        d->slope[i] = m;
    }
    return CO_OK;
}

static double table_eval(const co_dirty *d, double t)
{
    int n = d->n;
    double v;
    if (t <= d->t_s[0]) {
        v = d->pages[0] * (t / d->t_s[0]);
    } else if (t >= d->t_s[n - 1]) {
        /* beyond the data: keep growing at the last secant slope */
        double t0 = n > 1 ? d->t_s[n - 2] : 0, u0 = n > 1 ? d->pages[n - 2] : 0;
        double s = (d->pages[n - 1] - u0) / (d->t_s[n - 1] - t0);
        v = d->pages[n - 1] + s * (t - d->t_s[n - 1]);
    } else {
        int lo = 0, hi = n - 1; /* t_s[lo] < t < t_s[hi] */
        while (hi - lo > 1) {
            int mid = (lo + hi) >> 1;
            if (d->t_s[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        double h = d->t_s[hi] - d->t_s[lo];
        double x = (t - d->t_s[lo]) / h;
        double x2 = x * x, x3 = x2 * x;
        v = (2 * x3 - 3 * x2 + 1) * d->pages[lo] + (x3 - 2 * x2 + x) * h * d->slope[lo] +
            (-2 * x3 + 3 * x2) * d->pages[hi] + (x3 - x2) * h * d->slope[hi];
    }
    if (d->cap_pages > 0 && v > d->cap_pages)
        v = d->cap_pages;
    return v;
}

double co_dirty_pages(const co_dirty *d, double t)
{
    if (!(t > 0))
        return 0;
    switch (d->kind) {
    case CO_DIRTY_UNIFORM:
        return d->wss_pages * -expm1(-d->rate_pages_per_s * t / d->wss_pages);
    case CO_DIRTY_HOTCOLD: {
        double h = d->hot_frac, r = d->rate_pages_per_s, v = 0;
        if (d->hot_pages > 0)
            v += d->hot_pages * -expm1(-h * r * t / d->hot_pages);
        if (d->cold_pages > 0)
            v += d->cold_pages * -expm1(-(1 - h) * r * t / d->cold_pages);
        return v;
    }
    case CO_DIRTY_SEQ: {
        double v = d->rate_pages_per_s * t;
        return v < d->wss_pages ? v : d->wss_pages;
    }
    case CO_DIRTY_TABLE:
        return table_eval(d, t);
    default:
        return 0;
    }
}

double co_dirty_rate0(const co_dirty *d)
{
    switch (d->kind) {
    case CO_DIRTY_UNIFORM:
    case CO_DIRTY_HOTCOLD:
    case CO_DIRTY_SEQ:
        return d->rate_pages_per_s;
    case CO_DIRTY_TABLE:
        return d->pages[0] / d->t_s[0];
    default:
        return 0;
    }
}

double co_dirty_wss(const co_dirty *d)
{
    switch (d->kind) {
    case CO_DIRTY_UNIFORM:
    case CO_DIRTY_SEQ:
        return d->wss_pages;
    case CO_DIRTY_HOTCOLD:
        return d->hot_pages + d->cold_pages;
    case CO_DIRTY_TABLE: {
        int n = d->n;
        double t0 = n > 1 ? d->t_s[n - 2] : 0, u0 = n > 1 ? d->pages[n - 2] : 0;
        double s = (d->pages[n - 1] - u0) / (d->t_s[n - 1] - t0);
        if (s <= 0)
            return d->pages[n - 1];
        return d->cap_pages > 0 ? d->cap_pages : INFINITY;
    }
    default:
        return 0;
    }
}

const char *co_dirty_kind_name(int kind)
{
    static const char *names[] = {"none", "uniform", "hotcold", "seq", "table"};
    return kind >= 0 && kind <= CO_DIRTY_TABLE ? names[kind] : "unknown";
}
