/* tune grid, curve fitting and the switchover optimizer. */
#include <criterion/criterion.h>
#include <math.h>

#include "model/fit.h"
#include "model/switchover.h"
#include "model/tune.h"
#include "util/error.h"

#define GiB 1073741824.0

Test(fit, recovers_uniform_parameters)
{
    co_dirty truth;
    co_dirty_uniform(&truth, 50000, 20000);
    double t[] = {0.5, 1, 2, 4, 8}, u[5];
    for (int i = 0; i < 5; i++)
        u[i] = co_dirty_pages(&truth, t[i]);
    co_fit_result r;
    cr_assert_eq(co_dirty_fit(CO_DIRTY_UNIFORM, t, u, 5, 1e6, &r), CO_OK);
    cr_assert_float_eq(r.curve.wss_pages, 50000, 50);
    cr_assert_float_eq(r.curve.rate_pages_per_s, 20000, 20);
    cr_assert(r.r2 > 0.9999);
}

Test(fit, hotcold_fits_well)
{
    co_dirty truth;
    co_dirty_hotcold(&truth, 4000, 200000, 0.8, 50000);
    double t[] = {0.25, 0.5, 1, 2, 4, 8, 16}, u[7];
    for (int i = 0; i < 7; i++)
        u[i] = co_dirty_pages(&truth, t[i]);
    co_fit_result r;
    cr_assert_eq(co_dirty_fit(CO_DIRTY_HOTCOLD, t, u, 7, 1e6, &r), CO_OK);
    cr_assert(r.r2 > 0.999, "r2 %g", r.r2);
}

Test(fit, rejects_too_few_points)
{
    double t[] = {1}, u[] = {5};
    co_fit_result r;
    cr_assert_eq(co_dirty_fit(CO_DIRTY_UNIFORM, t, u, 1, 1e6, &r), CO_ERANGE);
    cr_assert_eq(co_dirty_fit(CO_DIRTY_TABLE, t, u, 1, 1e6, &r), CO_ERANGE);
}

Test(tune, grid_and_best)
{
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = 16 * GiB;
    co_dirty_uniform(&p.dirty, 4 * GiB / 4096, 100000);
    p.link.line_rate_bytes_per_s = 25e9 / 8;
    co_tune_grid g;
    co_tune_default_grid(&g, 500, 300);
    cr_assert_eq(g.n_limit, 5);
    co_tune_row rows[2 * 16 * 5];
    co_tune_result t;
    cr_assert_eq(co_tune_run(&p, &g, 500, 0, rows, &t), CO_OK);
    cr_assert_eq(t.n_rows, 160);
    cr_assert(t.best >= 0);
    for (int i = 0; i < t.n_rows; i++)
        if (rows[i].fits)
            cr_assert(rows[t.best].total_time_ms <= rows[i].total_time_ms * 1.02 + 1e-9);
    cr_assert(t.baseline >= 0);
}

Test(switchover, later_passes_shrink_then_settle)
{
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = 8 * GiB;
    co_dirty_uniform(&p.dirty, 1 * GiB / 4096, 50000);
    co_switch_state s = {.pending_bytes = 1 * GiB, .since_sync_ms = 0, .elapsed_ms = 10000,
                         .bandwidth_bytes_per_s = 1.1e9, .throttle_pct = 0};
    co_switch_plan plan;
    cr_assert_eq(co_switch_plan_make(&p, &s, 8, 300, 0, &plan), CO_OK);
    cr_assert_eq(plan.n, 9);
    cr_assert(plan.opt[1].downtime_ms < plan.opt[0].downtime_ms);
    cr_assert(plan.opt[2].downtime_ms < plan.opt[1].downtime_ms);
    cr_assert(plan.best >= 1);
    cr_assert(plan.opt[plan.best].downtime_ms <= 300);
    /* the downtime-limit it suggests covers what must be sent */
    const co_switch_option *o = &plan.opt[plan.best];
    cr_assert(o->downtime_limit_ms / 1000.0 * s.bandwidth_bytes_per_s >= o->pending_bytes);
}

/* A working set close to the guest's size (96 MiB written over and over in
 * 128 MiB): the fit must find it, not stop at the guest's size (it did
 * when its start sat on the cap, where the clamp has no slope). */
Test(fit, working_set_near_the_guest_size)
{
    co_dirty d;
    co_dirty_uniform(&d, 24576, 30000);
    double t[3] = {1.0, 2.59, 0.7}, u[3];
    for (int n = 2; n <= 3; n++) {
        for (int i = 0; i < n; i++)
            u[i] = co_dirty_pages(&d, t[i]);
        co_fit_result r;
        cr_assert_eq(co_dirty_fit(CO_DIRTY_UNIFORM, t, u, n, 32768, &r), 0);
        cr_assert_float_eq(r.curve.wss_pages, 24576, 24576 * 0.02, "%d points: W %.0f", n,
                           r.curve.wss_pages);
        cr_assert_float_eq(r.curve.rate_pages_per_s, 30000, 30000 * 0.03, "%d points: r %.0f", n,
                           r.curve.rate_pages_per_s);
    }
}
