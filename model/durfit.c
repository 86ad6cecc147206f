/* model/durfit.c: maximum-likelihood fits of step durations and binomial
 * confidence intervals (contracts in model/fit.h; formulas and sources in
 * docs/forecast.md). */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <string.h>

#include "model/fit.h"
#include "util/error.h"

#define EULER_GAMMA 0.57721566490153286061

static int check_samples(const double *x, int n)
{
    if (x == NULL || n < 2)
        return CO_ERANGE;
    for (int i = 0; i < n; i++)
        if (!(x[i] > 0) || !isfinite(x[i]))
            return CO_ERANGE;
    return CO_OK;
}

int co_fit_lognormal(const double *x, int n, co_fit_dur *out)
{
    if (check_samples(x, n) != CO_OK)
        return CO_ERANGE;
    double s = 0, slog = 0;
    for (int i = 0; i < n; i++)
        slog += log(x[i]);
    double mu = slog / n;
    for (int i = 0; i < n; i++)
        s += (log(x[i]) - mu) * (log(x[i]) - mu);
    double sigma = sqrt(s / n); /* the MLE divides by n, not n - 1 */
    memset(out, 0, sizeof *out);
    out->n = n;
    out->p1 = exp(mu);
    out->p2 = sigma;
    out->se_p1 = out->p1 * sigma / sqrt((double)n);
    out->se_p2 = sigma / sqrt(2.0 * n);
    out->mean = exp(mu + sigma * sigma / 2);
    /* loglik = -sum ln x - n ln sigma - n/2 ln(2 pi) - n/2 at the MLE; at
     * sigma = 0 the density is degenerate: +inf, which any comparison
     * treats as "lognormal" (a fixed value is what the samples say) */
    out->loglik = sigma > 0 ? -slog - n * log(sigma) - 0.5 * n * log(2 * M_PI) - 0.5 * n
                            : INFINITY;
    out->aic = 4 - 2 * out->loglik;
    return CO_OK;
}

struct wb {
    const double *x;
    int n;
    double mlog; /* mean ln x */
    double xmax;
};

/* The profile score of the shape: g(k) = sum x^k ln x / sum x^k - 1/k -
 * mean ln x, increasing in k. Powers are taken of x/xmax so that large
 * durations (ms) and large k do not overflow; the ratio is unchanged. */
static double wb_score(double k, void *arg)
{
    const struct wb *w = arg;
    double a = 0, b = 0;
    for (int i = 0; i < w->n; i++) {
        double p = pow(w->x[i] / w->xmax, k);
        a += p * log(w->x[i]);
        b += p;
    }
    return a / b - 1.0 / k - w->mlog;
}

int co_fit_weibull(const double *x, int n, co_fit_dur *out)
{
    if (check_samples(x, n) != CO_OK)
        return CO_ERANGE;
    struct wb w = {x, n, 0, x[0]};
    int same = 1;
    for (int i = 0; i < n; i++) {
        w.mlog += log(x[i]);
        if (x[i] > w.xmax)
            w.xmax = x[i];
        if (x[i] != x[0])
            same = 0;
    }
    if (same)
        return CO_ERANGE; /* the shape goes to infinity */
    w.mlog /= n;
    /* bracket: g -> -inf as k -> 0, g -> ln xmax - mean ln x > 0 as k -> inf */
    double lo = 0.01, hi = 1.0;
    while (wb_score(lo, &w) > 0 && lo > 1e-6)
        lo /= 10;
    while (wb_score(hi, &w) < 0 && hi < 1e4)
        hi *= 2;
    if (wb_score(lo, &w) > 0 || wb_score(hi, &w) < 0)
        return CO_EFAILED;
    gsl_function f = {wb_score, &w};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (s == NULL)
        return CO_EFAILED;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_root_fsolver_set(s, &f, lo, hi);
    int status = GSL_CONTINUE;
    double k = 1;
    for (int it = 0; it < 200 && status == GSL_CONTINUE; it++) {
        if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS)
            break;
        k = gsl_root_fsolver_root(s);
        status = gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s),
                                        0, 1e-10);
    }
    gsl_root_fsolver_free(s);
    gsl_set_error_handler(old);
    if (status != GSL_SUCCESS)
        return CO_EFAILED;
    double sk = 0;
    for (int i = 0; i < n; i++)
        sk += pow(x[i] / w.xmax, k);
    double lambda = w.xmax * pow(sk / n, 1.0 / k);
    double ll = n * log(k) - n * k * log(lambda) + (k - 1) * w.mlog * n;
    for (int i = 0; i < n; i++)
        ll -= pow(x[i] / lambda, k);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->p1 = lambda;
    out->p2 = k;
    /* inverse of n times the per-sample Fisher information
     *   I = [[k^2/l^2, -(1-g)/l], [-(1-g)/l, ((1-g)^2 + pi^2/6)/k^2]],
     * whose determinant is pi^2/(6 l^2) */
    double g1 = 1 - EULER_GAMMA;
    out->se_p2 = k * sqrt(6.0 / (n * M_PI * M_PI));
    out->se_p1 = lambda / k * sqrt((1 + 6 * g1 * g1 / (M_PI * M_PI)) / n);
    out->mean = lambda * tgamma(1 + 1 / k);
    out->loglik = ll;
    out->aic = 4 - 2 * ll;
    return CO_OK;
}

int co_fit_binomial_ci(int k, int n, double conf, double *p, double *lo, double *hi)
{
    if (n < 1 || k < 0 || k > n || !(conf > 0 && conf < 1))
        return CO_ERANGE;
    double a = 1 - conf;
    *p = (double)k / n;
    /* Clopper and Pearson (1934): the beta quantiles of the exact interval */
    *lo = k == 0 ? 0 : gsl_cdf_beta_Pinv(a / 2, k, n - k + 1);
    *hi = k == n ? 1 : gsl_cdf_beta_Pinv(1 - a / 2, k + 1, n - k);
    return CO_OK;
}
