/* Duration fits (lognormal, Weibull by maximum likelihood) and binomial
 * intervals: known parameters recovered from seeded synthetic samples, the
 * Fisher standard errors against the spread of estimates over replicates. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

#include "model/fit.h"
#include "util/error.h"

#define N 2000

static gsl_rng *rng(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

Test(durfit, lognormal_recovers_parameters)
{
    gsl_rng *r = rng(7);
    static double x[N];
    for (int i = 0; i < N; i++)
        x[i] = 90000 * exp(gsl_ran_gaussian(r, 0.4)); /* median 90 s, sigma 0.4 */
    co_fit_dur f;
    cr_assert_eq(co_fit_lognormal(x, N, &f), CO_OK);
    /* within 3 standard errors; the SE itself is what theory says */
    cr_assert(fabs(f.p1 - 90000) < 3 * f.se_p1, "median %g se %g", f.p1, f.se_p1);
    cr_assert(fabs(f.p2 - 0.4) < 3 * f.se_p2, "sigma %g se %g", f.p2, f.se_p2);
    cr_assert_float_eq(f.se_p2, 0.4 / sqrt(2.0 * N), 0.001);
    co_fit_dur w;
    cr_assert_eq(co_fit_weibull(x, N, &w), CO_OK);
    cr_assert(f.loglik > w.loglik, "lognormal data: lognormal must fit better (%g vs %g)",
              f.loglik, w.loglik);
    gsl_rng_free(r);
}

Test(durfit, weibull_recovers_parameters)
{
    gsl_rng *r = rng(11);
    static double x[N];
    for (int i = 0; i < N; i++)
        x[i] = gsl_ran_weibull(r, 300000, 2.5); /* scale 300 s, shape 2.5 */
    co_fit_dur w;
    cr_assert_eq(co_fit_weibull(x, N, &w), CO_OK);
    cr_assert(fabs(w.p1 - 300000) < 3 * w.se_p1, "scale %g se %g", w.p1, w.se_p1);
    cr_assert(fabs(w.p2 - 2.5) < 3 * w.se_p2, "shape %g se %g", w.p2, w.se_p2);
    cr_assert_float_eq(w.mean, w.p1 * tgamma(1 + 1 / w.p2), 1e-6);
    co_fit_dur f;
    cr_assert_eq(co_fit_lognormal(x, N, &f), CO_OK);
    cr_assert(w.loglik > f.loglik, "Weibull data: Weibull must fit better (%g vs %g)", w.loglik,
              f.loglik);
    gsl_rng_free(r);
}

/* The Fisher standard errors describe the estimates' spread: 400 replicates
 * of n = 30, the sample SD of the estimates within 20 % of the mean SE. */
Test(durfit, standard_errors_match_replicates)
{
    gsl_rng *r = rng(3);
    enum { R = 400, n = 30 };
    double x[n], ks[R], ses = 0, mus[R], sem = 0;
    for (int j = 0; j < R; j++) {
        for (int i = 0; i < n; i++)
            x[i] = gsl_ran_weibull(r, 60000, 1.5);
        co_fit_dur w;
        cr_assert_eq(co_fit_weibull(x, n, &w), CO_OK);
        ks[j] = w.p2;
        ses += w.se_p2 / R;
        for (int i = 0; i < n; i++)
            x[i] = 60000 * exp(gsl_ran_gaussian(r, 0.5));
        co_fit_dur f;
        cr_assert_eq(co_fit_lognormal(x, n, &f), CO_OK);
        mus[j] = f.p1;
        sem += f.se_p1 / R;
    }
    double sdk = gsl_stats_sd(ks, 1, R), sdm = gsl_stats_sd(mus, 1, R);
    cr_assert(fabs(sdk / ses - 1) < 0.2, "shape: sd %g vs se %g", sdk, ses);
    cr_assert(fabs(sdm / sem - 1) < 0.2, "median: sd %g vs se %g", sdm, sem);
    gsl_rng_free(r);
}

Test(durfit, refuses_bad_samples)
{
    double bad[] = {1, -2, 3}, one[] = {5}, same[] = {4, 4, 4};
    co_fit_dur f;
    cr_assert_eq(co_fit_lognormal(bad, 3, &f), CO_ERANGE);
    cr_assert_eq(co_fit_weibull(bad, 3, &f), CO_ERANGE);
    cr_assert_eq(co_fit_lognormal(one, 1, &f), CO_ERANGE);
    cr_assert_eq(co_fit_weibull(same, 3, &f), CO_ERANGE);
    cr_assert_eq(co_fit_lognormal(same, 3, &f), CO_OK);
    cr_assert_float_eq(f.p1, 4, 1e-12);
    cr_assert_eq(f.p2, 0);
}

Test(durfit, binomial_interval)
{
    double p, lo, hi;
    /* 1 in 10, 95 %: Clopper-Pearson gives [0.00253, 0.44502] */
    cr_assert_eq(co_fit_binomial_ci(1, 10, 0.95, &p, &lo, &hi), CO_OK);
    cr_assert_float_eq(p, 0.1, 1e-12);
    cr_assert_float_eq(lo, 0.00253, 1e-5);
    cr_assert_float_eq(hi, 0.44502, 1e-5);
    cr_assert_eq(co_fit_binomial_ci(0, 20, 0.95, &p, &lo, &hi), CO_OK);
    cr_assert_eq(lo, 0);
    cr_assert_float_eq(hi, 0.16843, 1e-5); /* 1 - 0.025^(1/20) */
    cr_assert_eq(co_fit_binomial_ci(3, 2, 0.95, &p, &lo, &hi), CO_ERANGE);
}
