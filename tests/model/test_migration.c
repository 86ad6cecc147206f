/* Pre-copy prediction: limits, monotonicity, the floor, modes. */
#include <criterion/criterion.h>
#include <math.h>

#include "model/migration.h"
#include "util/error.h"

#define GiB 1073741824.0

static co_mig_params base(double mem, double wss_pages, double rate)
{
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = mem;
    co_dirty_uniform(&p.dirty, wss_pages, rate);
    return p;
}

Test(migration, no_dirtying_sends_memory_once)
{
    co_mig_params p = base(4 * GiB, 0, 0);
    co_mig_result r;
    cr_assert_eq(co_mig_predict(&p, &r), CO_OK);
    cr_assert(r.converged);
    cr_assert_eq(r.passes, 1);
    /* every page once, with its 8-byte header */
    cr_assert_float_eq(r.transferred_bytes, 4 * GiB * (4104.0 / 4096.0), 1.0);
    co_link_eval e;
    co_link_evaluate(&p.link, &e);
    double raw = e.payload_bytes_per_s * 4096.0 / 4104.0;
    /* QEMU 7.2 stops the guest once pending < bandwidth x limit: the rest
     * (less than the threshold) goes in the stop-and-copy, at full speed */
    cr_assert(r.total_time_ms <= 4 * GiB / raw * 1000 + p.switchover_cost_ms + 1.0);
    cr_assert(r.downtime_ms > p.switchover_cost_ms);
    cr_assert(r.downtime_ms <= p.switchover_cost_ms + p.downtime_limit_ms * 1.01);
}

Test(migration, zero_pages_are_cheap)
{
    co_mig_params p = base(4 * GiB, 0, 0);
    co_mig_result a, b;
    co_mig_predict(&p, &a);
    p.zero_fraction = 0.9;
    co_mig_predict(&p, &b);
    cr_assert(b.transferred_bytes < 0.2 * a.transferred_bytes);
    cr_assert(b.total_time_ms < a.total_time_ms);
}

Test(migration, dirtying_faster_than_link_does_not_converge)
{
    /* 10 Gbit/s is about 287k pages/s; dirty 1M pages/s over 2 GiB */
    co_mig_params p = base(8 * GiB, 2 * GiB / 4096, 1e6);
    co_mig_result r;
    cr_assert_eq(co_mig_advise(&p, &r), CO_OK);
    cr_assert(!r.converged);
    cr_assert_eq(r.noconv_reason, CO_NOCONV_DIRTY_RATE);
    cr_assert(r.settle_pending_bytes > r.threshold_bytes);
    cr_assert(r.min_downtime_limit_ms > p.downtime_limit_ms);
    cr_assert(r.min_throttle_pct > 0 && r.min_throttle_pct < 99);
    cr_assert(r.downtime_floor_ms > p.switchover_cost_ms);
    /* the suggested throttle really converges */
    p.throttle_pct = ceil(r.min_throttle_pct);
    co_mig_result r2;
    co_mig_predict(&p, &r2);
    cr_assert(r2.converged);
}

Test(migration, auto_converge_rescues)
{
    co_mig_params p = base(8 * GiB, 2 * GiB / 4096, 1e6);
    p.auto_converge = 1;
    co_mig_result r;
    co_mig_predict(&p, &r);
    cr_assert(r.converged);
    cr_assert(r.final_throttle_pct >= 20);
}

Test(migration, monotone_in_rate_and_bandwidth)
{
    double prev_t = 0;
    for (double rate = 0; rate <= 200000; rate += 20000) {
        co_mig_params p = base(8 * GiB, 1 * GiB / 4096, rate);
        co_mig_result r;
        co_mig_predict(&p, &r);
        cr_assert(r.converged);
        cr_assert(r.total_time_ms >= prev_t - 1e-6, "rate %g", rate);
        prev_t = r.total_time_ms;
    }
    double prev = INFINITY;
    for (double gbit = 1; gbit <= 40; gbit *= 2) {
        co_mig_params p = base(8 * GiB, 1 * GiB / 4096, 20000);
        p.link.line_rate_bytes_per_s = gbit * 1e9 / 8;
        p.link.channels = 8;
        co_mig_result r;
        co_mig_predict(&p, &r);
        cr_assert(r.total_time_ms <= prev + 1e-6, "gbit %g", gbit);
        prev = r.total_time_ms;
    }
}

Test(migration, downtime_within_limit_when_converged)
{
    co_mig_params p = base(16 * GiB, 4 * GiB / 4096, 20000);
    co_mig_result r;
    co_mig_predict(&p, &r);
    cr_assert(r.converged);
    /* stop-and-copy sends < threshold = bandwidth x limit; headers add 0.2% */
    cr_assert(r.downtime_ms <= p.downtime_limit_ms * 1.01 + p.switchover_cost_ms);
}

Test(migration, floor_is_fixed_point)
{
    co_mig_params p = base(8 * GiB, 2 * GiB / 4096, 1e6);
    double f = co_mig_floor_ms(&p);
    co_link_eval e;
    co_link_evaluate(&p.link, &e);
    double raw = e.raw_iter_bytes_per_s * 4096.0 / 4104.0;
    double x = (f - p.switchover_cost_ms) / 1000.0 * e.raw_stop_bytes_per_s * 4096.0 / 4104.0;
    double u = co_dirty_pages(&p.dirty, x / raw) * 4096.0;
    cr_assert_float_eq(u, x, x * 1e-6);
    /* slow dirtying: floor is the fixed cost */
    co_mig_params q = base(8 * GiB, 2 * GiB / 4096, 1000);
    cr_assert_float_eq(co_mig_floor_ms(&q), q.switchover_cost_ms, 1e-9);
}

Test(migration, postcopy_bounds_downtime)
{
    co_mig_params p = base(8 * GiB, 2 * GiB / 4096, 1e6);
    p.mode = CO_MODE_POSTCOPY;
    co_mig_result r;
    co_mig_predict(&p, &r);
    cr_assert(r.converged);
    cr_assert(r.downtime_ms < 50);
    cr_assert(r.postcopy_ms > 1000);
    p.mode = CO_MODE_HYBRID;
    p.hybrid_passes = 2;
    co_mig_predict(&p, &r);
    cr_assert_eq(r.passes, 2);
}

Test(migration, pause_mode)
{
    co_mig_params p = base(8 * GiB, 2 * GiB / 4096, 1e6);
    p.mode = CO_MODE_PAUSE;
    p.hybrid_passes = 1;
    co_mig_result r;
    co_mig_predict(&p, &r);
    cr_assert(r.converged);
    cr_assert(r.downtime_ms > 300);
}

Test(migration, max_bandwidth_lengthens)
{
    co_mig_params p = base(1 * GiB, 0, 0);
    p.link.max_bandwidth_bytes_per_s = 128 * 1048576.0;
    co_mig_result r;
    co_mig_predict(&p, &r);
    /* 1 GiB at 128 MiB/s, less the last threshold's worth sent unthrottled */
    cr_assert(r.total_time_ms > 7600 && r.total_time_ms < 8100, "%g", r.total_time_ms);
    cr_assert(r.downtime_ms < 60, "%g", r.downtime_ms);
}

Test(migration, rejects_bad_params)
{
    co_mig_params p = base(0, 0, 0);
    co_mig_result r;
    cr_assert_eq(co_mig_predict(&p, &r), CO_ERANGE);
    p = base(GiB, 0, 0);
    p.downtime_limit_ms = -5;
    const char *f;
    cr_assert_eq(co_mig_check(&p, &f), CO_ERANGE);
    cr_assert_str_eq(f, "downtime_limit_ms");
}
