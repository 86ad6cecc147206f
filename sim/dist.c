/* sim/dist.c: step-duration and rate distributions, sampled with GSL. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "sim/sim.h"

double co_sim_dist_sample(const co_sim_dist *d, const gsl_rng *r)
{
    double v = 0;
    switch (d->kind) {
    case CO_DIST_FIXED:
        v = d->a;
        break;
    case CO_DIST_UNIFORM:
        v = gsl_ran_flat(r, d->a, d->b);
        break;
    case CO_DIST_NORMAL:
        /* truncated at 0: a duration cannot be negative; redraw a few times
         * (cheap when sd << mean), then clamp so a run never hangs */
        for (int i = 0; i < 16; i++) {
            v = d->a + gsl_ran_gaussian_ziggurat(r, d->b);
            if (v >= 0)
                break;
        }
        break;
    case CO_DIST_LOGNORMAL:
        v = d->a > 0 ? gsl_ran_lognormal(r, log(d->a), d->b) : 0;
        break;
    case CO_DIST_WEIBULL:
        v = gsl_ran_weibull(r, d->a, d->b);
        break;
    case CO_DIST_EMPIRICAL:
        v = d->n > 0 ? d->values[gsl_rng_uniform_int(r, (unsigned long)d->n)] : 0;
        break;
    }
    return v > 0 && isfinite(v) ? v : 0;
}

double co_sim_dist_mean(const co_sim_dist *d)
{
    switch (d->kind) {
    case CO_DIST_FIXED:
        return d->a;
    case CO_DIST_UNIFORM:
        return 0.5 * (d->a + d->b);
    case CO_DIST_NORMAL:
        return d->a; /* ignoring the truncation */
    case CO_DIST_LOGNORMAL:
        return d->a * exp(0.5 * d->b * d->b);
    case CO_DIST_WEIBULL:
        return d->a * tgamma(1.0 + 1.0 / d->b);
    case CO_DIST_EMPIRICAL: {
        double s = 0;
        for (int i = 0; i < d->n; i++)
            s += d->values[i];
        return d->n ? s / d->n : 0;
    }
    }
    return 0;
}

static int ok(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

int co_sim_dist_check(const co_sim_dist *d, const char **why)
{
    const char *w = NULL;
    const double big = 1e15;
    switch (d->kind) {
    case CO_DIST_FIXED:
        if (!ok(d->a, 0, big))
            w = "value must be >= 0";
        break;
    case CO_DIST_UNIFORM:
        if (!ok(d->a, 0, big) || !ok(d->b, d->a, big))
            w = "needs 0 <= min <= max";
        break;
    case CO_DIST_NORMAL:
        if (!ok(d->a, 0, big) || !ok(d->b, 0, big))
            w = "needs mean >= 0 and sd >= 0";
        break;
    case CO_DIST_LOGNORMAL:
        if (!ok(d->a, 0, big) || !ok(d->b, 0, 10))
            w = "needs median >= 0 and 0 <= sigma <= 10";
        break;
    case CO_DIST_WEIBULL:
        if (!ok(d->a, 1e-12, big) || !ok(d->b, 0.05, 100))
            w = "needs scale > 0 and 0.05 <= shape <= 100";
        break;
    case CO_DIST_EMPIRICAL:
        if (d->n < 1)
            w = "needs at least one value";
        for (int i = 0; !w && i < d->n; i++)
            if (!ok(d->values[i], 0, big))
                w = "values must be >= 0";
        break;
    default:
        w = "unknown kind";
    }
    if (why)
        *why = w;
    return w ? CO_ERANGE : CO_OK;
}

const char *co_sim_dist_name(int kind)
{
    static const char *n[] = {"fixed", "uniform", "normal", "lognormal", "weibull", "empirical"};
    return kind >= 0 && kind <= CO_DIST_EMPIRICAL ? n[kind] : "?";
}
