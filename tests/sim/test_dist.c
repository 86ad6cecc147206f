/* tests/sim/test_dist.c: distributions sample what they promise. */
#include <criterion/criterion.h>
#include <math.h>

#include "sim/sim.h"

static double mean_of(co_sim_dist *d, int n)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 42);
    double s = 0;
    for (int i = 0; i < n; i++) {
        double v = co_sim_dist_sample(d, r);
        cr_assert(v >= 0 && isfinite(v));
        s += v;
    }
    gsl_rng_free(r);
    return s / n;
}

Test(dist, means)
{
    double vals[] = {1, 2, 3, 10};
    co_sim_dist ds[] = {
        {CO_DIST_FIXED, 5, 0, 0, NULL},     {CO_DIST_UNIFORM, 2, 4, 0, NULL},
        {CO_DIST_NORMAL, 100, 10, 0, NULL}, {CO_DIST_LOGNORMAL, 60, 0.3, 0, NULL},
        {CO_DIST_WEIBULL, 4, 1.5, 0, NULL}, {CO_DIST_EMPIRICAL, 0, 0, 4, vals},
    };
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        cr_assert_eq(co_sim_dist_check(&ds[i], NULL), 0);
        double m = mean_of(&ds[i], 200000), want = co_sim_dist_mean(&ds[i]);
        cr_assert(fabs(m - want) < 0.01 * want, "%s: mean %g, want %g",
                  co_sim_dist_name(ds[i].kind), m, want);
    }
}

Test(dist, truncated_normal_never_negative)
{
    co_sim_dist d = {CO_DIST_NORMAL, 1, 100, 0, NULL};
    mean_of(&d, 10000); /* asserts v >= 0 inside */
}

Test(dist, bad_parameters)
{
    const char *why;
    co_sim_dist u = {CO_DIST_UNIFORM, 5, 1, 0, NULL};
    cr_assert_neq(co_sim_dist_check(&u, &why), 0);
    co_sim_dist w = {CO_DIST_WEIBULL, 1, 0, 0, NULL};
    cr_assert_neq(co_sim_dist_check(&w, &why), 0);
    co_sim_dist e = {CO_DIST_EMPIRICAL, 0, 0, 0, NULL};
    cr_assert_neq(co_sim_dist_check(&e, &why), 0);
}
