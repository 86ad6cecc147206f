/* tests/sim/test_evq.c: the event queue orders by time, then push order. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "sim/evq.h"

Test(evq, ties_break_by_push_order)
{
    co_sim_evq q;
    co_sim_evq_init(&q);
    co_sim_evq_push(&q, 5, 1, 10, 0);
    co_sim_evq_push(&q, 3, 1, 20, 0);
    co_sim_evq_push(&q, 5, 1, 11, 0);
    co_sim_evq_push(&q, 5, 1, 12, 0);
    co_sim_evq_push(&q, 3, 1, 21, 0);
    uint32_t want[] = {20, 21, 10, 11, 12};
    co_sim_event e;
    for (int i = 0; i < 5; i++) {
        cr_assert(co_sim_evq_pop(&q, &e));
        cr_assert_eq(e.id, want[i], "pop %d gave %u", i, e.id);
    }
    cr_assert_eq(co_sim_evq_pop(&q, &e), 0);
    co_sim_evq_free(&q);
}

Test(evq, random_matches_sorted_order)
{
    co_sim_evq q;
    co_sim_evq_init(&q);
    srand(7);
    int64_t last_t = -1;
    uint64_t last_seq = 0;
    for (int i = 0; i < 20000; i++)
        cr_assert_eq(co_sim_evq_push(&q, rand() % 1000, 0, (uint32_t)i, 0), 0);
    co_sim_event e;
    int n = 0;
    while (co_sim_evq_pop(&q, &e)) {
        cr_assert(e.t_us > last_t || (e.t_us == last_t && e.seq > last_seq),
                  "out of order at %d", n);
        last_t = e.t_us;
        last_seq = e.seq;
        n++;
        if (n % 3 == 0 && n < 15000) /* interleave pushes in the future */
            co_sim_evq_push(&q, e.t_us + rand() % 50, 0, 0, 0);
    }
    cr_assert_gt(n, 20000);
    co_sim_evq_free(&q);
}
