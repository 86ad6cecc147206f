/* tests/engine/test_policy_steps.c: single decisions of the policies on
 * hand-built observations, for rules the closed-loop series of
 * test_policy.c do not reach: Nova's switch to post-copy when a pass
 * shrinks the data by under 10%, and adaptive's wait for two syncs that
 * agree before it escalates (at once when the deadline is near). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "engine/policy.h"
#include "model/dirty.h"

#define MIB 1048576.0
#define GIB 1073741824.0

static co_pol_config cfg(int kind, double deadline_ms, unsigned allow)
{
    co_pol_config c = {.kind = kind, .max_downtime_ms = 300, .deadline_ms = deadline_ms,
                       .allow = allow, .postcopy_ready = 1, .pause_ready = 1, .mem_bytes = GIB};
    return c;
}

/* An active pre-copy right after sync number sync, pending bytes left. */
static co_pol_obs at_sync(double t_ms, int sync, double pending, double since_sync_ms)
{
    co_pol_obs o;
    memset(&o, 0, sizeof o);
    o.t_ms = t_ms;
    o.status = CO_DRV_MIG_ACTIVE;
    o.remaining_bytes = pending;
    o.mem_bytes = GIB;
    o.page_size_bytes = 4096;
    o.sync_count = sync;
    o.new_sync = 1;
    o.pending_at_sync_bytes = pending;
    o.since_sync_ms = since_sync_ms;
    o.bandwidth_bytes_per_s = 200 * MIB;
    o.dirty_rate_pages_per_s = NAN;
    return o;
}

Test(policy_steps, nova_postcopy_when_a_pass_shrinks_little)
{
    co_pol_config c = cfg(CO_POL_NOVA, 2000e3, CO_ALLOW_POSTCOPY);
    co_pol_state s;
    co_pol_action a[4];
    /* 100 MB after the bulk pass, then 95 MB: under 10% less */
    co_pol_init(&c, &s);
    co_pol_obs o = at_sync(1000, 2, 100e6, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 0);
    o = at_sync(2000, 3, 95e6, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 1);
    cr_assert_eq(a[0].kind, CO_ACT_POSTCOPY, "%s", a[0].reason);
    /* asked once only */
    o = at_sync(3000, 4, 94e6, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 0);
    /* 100 MB then 80 MB: 20% less, keep pre-copy */
    co_pol_init(&c, &s);
    o = at_sync(1000, 2, 100e6, 0);
    co_pol_decide(&c, &s, &o, a, 4);
    o = at_sync(2000, 3, 80e6, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 0);
    /* without post-copy allowed, never */
    c.allow = 0;
    co_pol_init(&c, &s);
    o = at_sync(1000, 2, 100e6, 0);
    co_pol_decide(&c, &s, &o, a, 4);
    o = at_sync(2000, 3, 99e6, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 0);
}

/* A guest that re-writes 512 MiB at 800 MB/s over a 200 MiB/s stream: no
 * switch fits 300 ms at any pass without a throttle. */
static co_pol_obs busy(double t_ms, int sync, double since_sync_ms)
{
    co_pol_obs o = at_sync(t_ms, sync, 400e6, since_sync_ms);
    o.have_curve = 1;
    co_dirty_uniform(&o.curve, 131072, 200000);
    return o;
}

Test(policy_steps, adaptive_escalates_after_two_syncs_agree)
{
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 60e3, CO_ALLOW_AUTOCONVERGE);
    co_pol_state s;
    co_pol_action a[4];
    co_pol_init(&c, &s);
    co_pol_obs o = busy(5000, 2, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 0, "one sync is not enough: %s",
                 a[0].reason);
    cr_assert_eq(s.pred_k, -1, "judged not converging");
    o = busy(7000, 3, 0);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 1);
    cr_assert_eq(a[0].kind, CO_ACT_THROTTLE, "%s", a[0].reason);
    cr_assert_geq(a[0].value, 20, "QEMU's first step at least");
    cr_assert(strstr(a[0].reason, "not converging") != NULL, "%s", a[0].reason);
}

Test(policy_steps, adaptive_escalates_at_once_near_the_deadline)
{
    /* 3 s left, a pass of 500 ms: less than 4 passes and 2 s */
    co_pol_config c = cfg(CO_POL_ADAPTIVE, 8000, CO_ALLOW_AUTOCONVERGE);
    co_pol_state s;
    co_pol_action a[4];
    co_pol_init(&c, &s);
    co_pol_obs o = busy(5000, 2, 500);
    cr_assert_eq(co_pol_decide(&c, &s, &o, a, 4), 1);
    cr_assert_eq(a[0].kind, CO_ACT_THROTTLE, "%s", a[0].reason);
}
