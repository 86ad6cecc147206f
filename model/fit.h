/* model/fit.h: fitting models to measurements.
 *
 * Owns: nonlinear least squares (GSL multifit_nlinear, trust region) of the
 * uniform and hotcold forms of model/dirty.h to points (t_i, U_i), e.g. from
 * calc-dirty-rate windows, and the goodness of fit (model/fit.c); maximum
 * likelihood fits of step durations (lognormal, Weibull) with standard
 * errors from the Fisher information, and exact binomial confidence
 * intervals of failure rates (model/durfit.c; formulas and citations in
 * docs/forecast.md). Pure, no I/O, no allocation. */
#ifndef CUTOVER_MODEL_FIT_H
#define CUTOVER_MODEL_FIT_H

#include "model/dirty.h"

typedef struct co_fit_result {
    co_dirty curve;      /* the fitted curve */
    double rmse_pages;   /* root-mean-square residual */
    double r2;           /* coefficient of determination (1 = perfect) */
    int iterations;
} co_fit_result;

/* Fit kind (CO_DIRTY_UNIFORM, CO_DIRTY_HOTCOLD or CO_DIRTY_SEQ) to n points.
 * uniform needs n >= 2, hotcold n >= 4. max_pages bounds any working set
 * (guest pages). Returns CO_OK, CO_ERANGE (bad points or too few), or
 * CO_EFAILED when the solver does not converge. */
int co_dirty_fit(int kind, const double *t_s, const double *pages, int n, double max_pages,
                 co_fit_result *out);

/* A two-parameter duration fit by maximum likelihood. Units are those of
 * the samples (ms for step durations). */
typedef struct co_fit_dur {
    int n;               /* samples used */
    double loglik;       /* log-likelihood at the estimate */
    double aic;          /* 2 x 2 - 2 loglik */
    /* lognormal: p1 = median = exp(mu), p2 = sigma (of the log);
     * Weibull:   p1 = scale lambda,       p2 = shape k */
    double p1, p2;
    double se_p1, se_p2; /* standard errors from the expected Fisher information
                            (delta method for the median) */
    double mean;         /* the fitted distribution's mean */
} co_fit_dur;

/* Lognormal MLE of x[0..n): mu = mean(ln x), sigma^2 = mean((ln x - mu)^2);
 * se(mu) = sigma/sqrt(n), se(sigma) = sigma/sqrt(2n), se(median) =
 * median x se(mu). Needs n >= 2 and every x > 0: else CO_ERANGE. sigma may
 * be 0 (all samples equal). */
int co_fit_lognormal(const double *x, int n, co_fit_dur *out);

/* Weibull MLE of x[0..n): the shape k solves
 *   sum x^k ln x / sum x^k - 1/k - mean(ln x) = 0
 * (monotone in k; bracketed and solved with GSL's Brent root finder),
 * lambda = (mean x^k)^(1/k). se(k) = k sqrt(6/(n pi^2)), se(lambda) =
 * lambda/k sqrt((1 + 6(1-gamma)^2/pi^2)/n). Needs n >= 2, every x > 0 and
 * not all equal: else CO_ERANGE; CO_EFAILED if the root is not found. */
int co_fit_weibull(const double *x, int n, co_fit_dur *out);

/* Clopper-Pearson exact interval of a binomial proportion: k events in n
 * trials, confidence level conf (e.g. 0.95). *p = k/n. n >= 1, 0 <= k <= n,
 * else CO_ERANGE. */
int co_fit_binomial_ci(int k, int n, double conf, double *p, double *lo, double *hi);

#endif
