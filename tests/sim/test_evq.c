/* tests/sim/test_evq.c: the event queue orders by time, then scheduling
 * order; re-scheduling and cancelling keys keep that order. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "sim/evq.h"

Test(evq, ties_break_by_scheduling_order)
{
    co_sim_evq q;
    cr_assert_eq(co_sim_evq_init(&q, 8), 0);
    co_sim_evq_schedule(&q, 5, 1, 0);
    co_sim_evq_schedule(&q, 3, 1, 1);
    co_sim_evq_schedule(&q, 5, 1, 2);
    co_sim_evq_schedule(&q, 5, 1, 3);
    co_sim_evq_schedule(&q, 3, 1, 4);
    co_sim_evq_schedule(&q, 5, 1, 0); /* re-scheduled: now after 2 and 3 */
    uint32_t want[] = {1, 4, 2, 3, 0};
    co_sim_event e;
    for (int i = 0; i < 5; i++) {
        cr_assert(co_sim_evq_pop(&q, &e));
        cr_assert_eq(e.key, want[i], "pop %d gave %u", i, e.key);
    }
    cr_assert_eq(co_sim_evq_pop(&q, &e), 0);
    co_sim_evq_free(&q);
}

/* Against a reference: a flat array scanned for the minimum. */
Test(evq, random_schedule_cancel_matches_reference)
{
    enum { K = 500 };
    co_sim_evq q;
    cr_assert_eq(co_sim_evq_init(&q, K), 0);
    int64_t t[K];
    uint64_t seq[K], next = 0;
    int live[K] = {0};
    srand(11);
    int64_t now = 0;
    for (int step = 0; step < 200000; step++) {
        int op = rand() % 4;
        uint32_t k = (uint32_t)(rand() % K);
        if (op < 2) {
            int64_t when = now + rand() % 100;
            co_sim_evq_schedule(&q, when, 0, k);
            t[k] = when;
            seq[k] = next++;
            live[k] = 1;
        } else if (op == 2) {
            co_sim_evq_cancel(&q, k);
            live[k] = 0;
        } else {
            int best = -1;
            for (int i = 0; i < K; i++)
                if (live[i] && (best < 0 || t[i] < t[best] || (t[i] == t[best] && seq[i] < seq[best])))
                    best = i;
            co_sim_event e;
            int got = co_sim_evq_pop(&q, &e);
            cr_assert_eq(got, best >= 0, "step %d", step);
            if (best >= 0) {
                cr_assert_eq(e.key, (uint32_t)best, "step %d: got %u want %d", step, e.key, best);
                cr_assert_eq(e.t_us, t[best]);
                live[best] = 0;
                now = e.t_us;
            }
        }
    }
    co_sim_evq_clear(&q);
    co_sim_event e;
    cr_assert_eq(co_sim_evq_pop(&q, &e), 0);
    co_sim_evq_free(&q);
}

/* The 32-bit sequence runs out: the pending events are renumbered in their
 * order, so ties still come out in scheduling order across the wrap. */
Test(evq, sequence_wrap_keeps_order)
{
    enum { K = 64 };
    co_sim_evq q;
    cr_assert_eq(co_sim_evq_init(&q, K), 0);
    q.next_seq = 0xFFFFFFF0u - 40; /* a long run's worth of schedules */
    /* keys scheduled in this order at two times, straddling the wrap */
    for (uint32_t k = 0; k < K; k++)
        co_sim_evq_schedule(&q, k % 2 ? 20 : 10, k % 3, k);
    cr_assert_lt(q.next_seq, 0xFFFFFFF0u - 40, "renumbered");
    for (int t = 10; t <= 20; t += 10)
        for (uint32_t k = t == 10 ? 0 : 1; k < K; k += 2) {
            co_sim_event e;
            cr_assert(co_sim_evq_pop(&q, &e));
            cr_assert_eq(e.key, k, "got %u want %u", e.key, k);
            cr_assert_eq(e.t_us, t);
            cr_assert_eq(e.kind, k % 3);
        }
    co_sim_event e;
    cr_assert_eq(co_sim_evq_pop(&q, &e), 0);
    co_sim_evq_free(&q);
}
