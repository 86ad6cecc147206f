/* model/fit.c: nonlinear least squares of dirty curves (GSL multifit_nlinear). */
#include "model/fit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <string.h>

#include "util/error.h"

struct fit_data {
    int kind;
    int n;
    const double *t, *u;
    double max_pages;
};

static double logistic(double x) { return 1.0 / (1.0 + exp(-x)); }
static double logit(double p) { return log(p / (1.0 - p)); }

/* Rates are fitted in log space so they stay positive; page sets as a
 * logistic share of max_pages, so they stay below the guest's size with a
 * slope everywhere (a clamp at max_pages has none: a fit that stepped onto
 * it stayed there, and a guest writing 96 MiB over and over in 128 MiB was
 * fitted as spreading over all 128 MiB, which predicts passes that shrink);
 * hotcold's hot share goes through a logistic too. */
static void unpack(const struct fit_data *fd, const gsl_vector *x, co_dirty *c)
{
    double M = fd->max_pages;
    if (fd->kind == CO_DIRTY_HOTCOLD) {
        double h = M * logistic(gsl_vector_get(x, 0)), cd = M * logistic(gsl_vector_get(x, 1));
        double f = logistic(gsl_vector_get(x, 2));
        double r = exp(gsl_vector_get(x, 3));
        co_dirty_hotcold(c, h, cd, f, r);
    } else if (fd->kind == CO_DIRTY_SEQ) {
        co_dirty_seq(c, M * logistic(gsl_vector_get(x, 0)), exp(gsl_vector_get(x, 1)));
    } else {
        co_dirty_uniform(c, M * logistic(gsl_vector_get(x, 0)), exp(gsl_vector_get(x, 1)));
    }
}

/* x for a page set of p pages (kept inside (0, max_pages)) */
static double set_x(double p, double max_pages)
{
    double q = p / max_pages;
    return logit(fmin(fmax(q, 1e-9), 1 - 1e-6));
}

static int resid(const gsl_vector *x, void *arg, gsl_vector *f)
{
    const struct fit_data *fd = arg;
    co_dirty c;
    unpack(fd, x, &c);
    for (int i = 0; i < fd->n; i++)
        gsl_vector_set(f, i, co_dirty_pages(&c, fd->t[i]) - fd->u[i]);
    return GSL_SUCCESS;
}

int co_dirty_fit(int kind, const double *t, const double *u, int n, double max_pages,
                 co_fit_result *out)
{
    int np = kind == CO_DIRTY_HOTCOLD ? 4 : 2;
    if ((kind != CO_DIRTY_UNIFORM && kind != CO_DIRTY_HOTCOLD && kind != CO_DIRTY_SEQ) ||
        n < np || n > 4096 || !(max_pages > 0))
        return CO_ERANGE;
    double umax = 0;
    for (int i = 0; i < n; i++) {
        if (!(t[i] > 0) || !(u[i] >= 0) || !isfinite(t[i]) || !isfinite(u[i]))
            return CO_ERANGE;
        umax = fmax(umax, u[i]);
    }
    if (umax <= 0) {
        memset(out, 0, sizeof *out);
        co_dirty_none(&out->curve);
        out->r2 = 1;
        return CO_OK;
    }
    struct fit_data fd = {kind, n, t, u, max_pages};
    /* start: working set a bit above the largest count (between it and the
     * guest's size), rate from the first point */
    double room = umax < max_pages ? (umax + max_pages) / 2 : max_pages;
    double r0 = u[0] / t[0];
    double x0[4];
    if (kind == CO_DIRTY_HOTCOLD) {
        x0[0] = set_x(fmax(umax * 0.3, 1), max_pages);
        x0[1] = set_x(fmax(fmin(umax * 3, room), 2), max_pages);
        x0[2] = 1.5;
        x0[3] = log(fmax(r0, 1e-3));
    } else {
        x0[0] = set_x(fmax(fmin(umax * 1.5, room), 1), max_pages);
        x0[1] = log(fmax(r0, 1e-3));
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_multifit_nlinear_fdf fdf = {.f = resid, .df = NULL, .fvv = NULL, .n = (size_t)n,
                                    .p = (size_t)np, .params = &fd};
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, (size_t)n, (size_t)np);
    int rc = CO_EFAILED;
    if (w != NULL) {
        gsl_vector_view xv = gsl_vector_view_array(x0, (size_t)np);
        gsl_multifit_nlinear_init(&xv.vector, &fdf, w);
        int info = 0;
        int st = gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 1e-10, NULL, NULL, &info, w);
        if (st == GSL_SUCCESS || st == GSL_EMAXITER) {
            memset(out, 0, sizeof *out);
            unpack(&fd, w->x, &out->curve);
            double ss = 0, mean = 0, tot = 0;
            for (int i = 0; i < n; i++)
                mean += u[i] / n;
            for (int i = 0; i < n; i++) {
                double e = co_dirty_pages(&out->curve, t[i]) - u[i];
                ss += e * e;
                tot += (u[i] - mean) * (u[i] - mean);
            }
            out->rmse_pages = sqrt(ss / n);
            out->r2 = tot > 0 ? 1 - ss / tot : 1;
            out->iterations = (int)gsl_multifit_nlinear_niter(w);
            rc = CO_OK;
        }
        gsl_multifit_nlinear_free(w);
    }
    gsl_set_error_handler(old);
    return rc;
}
