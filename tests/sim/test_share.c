/* tests/sim/test_share.c: max-min fair sharing, textbook cases and the two
 * properties that define it (no link over capacity; every flow has a full
 * link on which nobody gets more). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/share.h"

static co_share S;

static void setup(void) { cr_assert_eq(co_share_init(&S, 256, 256), 0); }
static void teardown(void) { co_share_free(&S); }

TestSuite(share, .init = setup, .fini = teardown);

static int flow(int a, int b, int c)
{
    int l[3] = {a, b, c};
    int n = c >= 0 ? 3 : b >= 0 ? 2 : 1;
    return co_share_flow(&S, l, n);
}

Test(share, one_bottleneck_equal_split)
{
    int a = co_share_link(&S, 9);
    for (int i = 0; i < 3; i++)
        flow(a, -1, -1);
    co_share_solve(&S);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(S.rate[i], 3.0);
}

Test(share, flow_limited_elsewhere_leaves_the_rest_to_the_others)
{
    /* A (12) carries f0, f1, f2; f0 also crosses B (2): f0 gets 2 and the
     * two others split the 10 left on A (equal shares would give them 4) */
    int A = co_share_link(&S, 12), B = co_share_link(&S, 2);
    flow(A, B, -1);
    flow(A, -1, -1);
    flow(A, -1, -1);
    co_share_solve(&S);
    cr_assert_eq(S.rate[0], 2.0);
    cr_assert_eq(S.rate[1], 5.0);
    cr_assert_eq(S.rate[2], 5.0);
}

Test(share, two_levels)
{
    /* L1 (1): f0 f1 f2; L2 (1): f0 f3 -> f0..f2 = 1/3, f3 = 2/3 */
    int L1 = co_share_link(&S, 1), L2 = co_share_link(&S, 1);
    flow(L1, L2, -1);
    flow(L1, -1, -1);
    flow(L1, -1, -1);
    flow(L2, -1, -1);
    co_share_solve(&S);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(S.rate[i], 1.0 / 3, 1e-15);
    cr_assert_float_eq(S.rate[3], 2.0 / 3, 1e-15);
}

Test(share, equal_demand_through_a_shared_uplink)
{
    /* four migrations, each from its own 25-unit NIC, all through a
     * 40-unit uplink: 10 each; the NICs are not full */
    int up = co_share_link(&S, 40);
    for (int i = 0; i < 4; i++) {
        int nic = co_share_link(&S, 25), dst = co_share_link(&S, 25);
        flow(nic, up, dst);
    }
    co_share_solve(&S);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(S.rate[i], 10.0);
}

Test(share, no_link_means_unbounded_and_empty_link_is_fine)
{
    co_share_link(&S, 5); /* nobody uses it */
    co_share_flow(&S, NULL, 0);
    co_share_solve(&S);
    cr_assert(isinf(S.rate[0]));
}

Test(share, workspace_limits)
{
    co_share t;
    cr_assert_eq(co_share_init(&t, 1, 1), 0);
    cr_assert_eq(co_share_link(&t, 1), 0);
    cr_assert_eq(co_share_link(&t, 1), -1);
    int l = 0;
    cr_assert_eq(co_share_flow(&t, &l, 1), 0);
    cr_assert_eq(co_share_flow(&t, &l, 1), -1);
    co_share_free(&t);
}

/* Random instances: conservation and a bottleneck for every flow; the same
 * input solved twice gives the same bits. */
Test(share, random_instances_are_max_min_fair)
{
    uint64_t x = 12345;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    for (int iter = 0; iter < 400; iter++) {
        co_share_reset(&S);
        /* small problems are solved by a scan, large ones (> 96 links)
         * with a heap: both are covered */
        int L = iter % 4 == 3 ? 97 + (int)(RND() % 150) : 2 + (int)(RND() % 30);
        int F = 1 + (int)(RND() % 250);
        for (int l = 0; l < L; l++)
            co_share_link(&S, 1 + (double)(RND() % 1000));
        for (int f = 0; f < F; f++) {
            int p[4], n = 1 + (int)(RND() % 4);
            if (n > L)
                n = L;
            for (int i = 0; i < n; i++) {
                int l;
                int again;
                do {
                    l = (int)(RND() % (uint64_t)L);
                    again = 0;
                    for (int k = 0; k < i; k++)
                        again |= p[k] == l;
                } while (again);
                p[i] = l;
            }
            co_share_flow(&S, p, n);
        }
        co_share_solve(&S);
        double use[256] = {0}, top[256] = {0};
        for (int f = 0; f < F; f++) {
            cr_assert(S.rate[f] > 0 && isfinite(S.rate[f]));
            for (int i = 0; i < 4 && S.path[f * CO_SHARE_HOPS + i] >= 0; i++) {
                int l = S.path[f * CO_SHARE_HOPS + i];
                use[l] += S.rate[f];
                top[l] = fmax(top[l], S.rate[f]);
            }
        }
        for (int l = 0; l < L; l++)
            cr_assert_leq(use[l], S.cap[l] * (1 + 1e-9), "link %d over capacity", l);
        for (int f = 0; f < F; f++) {
            int ok = 0;
            for (int i = 0; i < 4 && S.path[f * CO_SHARE_HOPS + i] >= 0; i++) {
                int l = S.path[f * CO_SHARE_HOPS + i];
                if (use[l] >= S.cap[l] * (1 - 1e-9) && S.rate[f] >= top[l] * (1 - 1e-9))
                    ok = 1;
            }
            cr_assert(ok, "iter %d: flow %d has no bottleneck", iter, f);
        }
        double keep[256];
        memcpy(keep, S.rate, (size_t)F * sizeof(double));
        co_share_solve(&S);
        cr_assert_eq(memcmp(keep, S.rate, (size_t)F * sizeof(double)), 0);
    }
}
