/* model/fit.h: fitting parametric dirty curves to measured points.
 *
 * Owns: nonlinear least squares (GSL multifit_nlinear, trust region) of the
 * uniform and hotcold forms of model/dirty.h to points (t_i, U_i), e.g. from
 * calc-dirty-rate windows, and the goodness of fit. Pure, no I/O. */
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

#endif
