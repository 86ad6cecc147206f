/* Dirty curves: closed forms, saturation, monotone tables. */
#include <criterion/criterion.h>
#include <math.h>

#include "model/dirty.h"
#include "util/error.h"

Test(dirty, uniform_closed_form)
{
    co_dirty d;
    cr_assert_eq(co_dirty_uniform(&d, 1000, 100), CO_OK);
    cr_assert_float_eq(co_dirty_pages(&d, 0), 0, 1e-12);
    /* W (1 - e^{-r t / W}) at t = 10 s: 1000 (1 - e^{-1}) */
    cr_assert_float_eq(co_dirty_pages(&d, 10), 1000 * (1 - exp(-1)), 1e-9);
    cr_assert_float_eq(co_dirty_rate0(&d), 100, 1e-12);
    cr_assert(co_dirty_pages(&d, 1e6) <= 1000.0);
    cr_assert_float_eq(co_dirty_pages(&d, 1e6), 1000.0, 1e-6);
}

Test(dirty, grows_slower_than_rate_times_time)
{
    co_dirty d;
    co_dirty_uniform(&d, 1e6, 1e5);
    for (double t = 0.1; t < 100; t *= 2)
        cr_assert(co_dirty_pages(&d, t) < 1e5 * t);
}

Test(dirty, hotcold_sums_two_sets)
{
    co_dirty d;
    cr_assert_eq(co_dirty_hotcold(&d, 100, 10000, 0.9, 1000), CO_OK);
    double t = 1.0;
    double want = 100 * (1 - exp(-900.0 / 100)) + 10000 * (1 - exp(-100.0 / 10000));
    cr_assert_float_eq(co_dirty_pages(&d, t), want, 1e-9);
    cr_assert_float_eq(co_dirty_wss(&d), 10100, 1e-9);
}

Test(dirty, seq_is_linear_then_flat)
{
    co_dirty d;
    co_dirty_seq(&d, 500, 100);
    cr_assert_float_eq(co_dirty_pages(&d, 2), 200, 1e-12);
    cr_assert_float_eq(co_dirty_pages(&d, 20), 500, 1e-12);
}

Test(dirty, table_passes_through_points_and_is_monotone)
{
    double t[] = {1, 2, 4, 8};
    double u[] = {1000, 1800, 2600, 2900};
    co_dirty d;
    cr_assert_eq(co_dirty_table(&d, t, u, 4, 3000), CO_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(co_dirty_pages(&d, t[i]), u[i], 1e-9);
    double prev = 0;
    for (double x = 0.01; x < 20; x += 0.01) {
        double v = co_dirty_pages(&d, x);
        cr_assert(v >= prev - 1e-9, "not monotone at %g", x);
        prev = v;
    }
    cr_assert(co_dirty_pages(&d, 100) <= 3000);
}

Test(dirty, table_rejects_bad_points)
{
    co_dirty d;
    double t[] = {1, 1}, u[] = {1, 2};
    cr_assert_eq(co_dirty_table(&d, t, u, 2, 0), CO_ERANGE);
    double t2[] = {1, 2}, u2[] = {5, 2};
    cr_assert_eq(co_dirty_table(&d, t2, u2, 2, 0), CO_ERANGE);
    cr_assert_eq(d.kind, CO_DIRTY_NONE);
}

Test(dirty, none_and_negative)
{
    co_dirty d;
    co_dirty_none(&d);
    cr_assert_eq(co_dirty_pages(&d, 5), 0);
    cr_assert_eq(co_dirty_uniform(&d, -1, 5), CO_ERANGE);
    cr_assert_eq(co_dirty_hotcold(&d, 1, 1, 1.5, 5), CO_ERANGE);
}
