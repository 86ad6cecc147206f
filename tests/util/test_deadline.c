/* util/deadline: calls that return in time leave their argument to the
 * caller; calls that do not are abandoned and release their argument
 * themselves once they return; one deadline covers a batch. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/deadline.h"
#include "util/error.h"

/* Released calls post here; a test waits for them before it ends, so no
 * thread outlives it. */
static sem_t released;

struct arg {
    int sleep_ms;                 /* how long the "call" blocks */
    int ran;                      /* set by the call */
};

static void call(void *p)
{
    struct arg *a = p;
    usleep((useconds_t)a->sleep_ms * 1000);
    a->ran = 1;
}

static void release(void *p)
{
    struct arg *a = p;
    cr_expect_eq(a->ran, 1, "released before the call returned");
    free(a);
    sem_post(&released);
}

static struct arg *mk(int sleep_ms)
{
    struct arg *a = calloc(1, sizeof *a);
    cr_assert_not_null(a);
    a->sleep_ms = sleep_ms;
    return a;
}

/* Wait (at most 5 s) for n releases. */
static void await_released(int n)
{
    for (int i = 0; i < n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        cr_assert_eq(sem_timedwait(&released, &ts), 0, "release %d of %d never came", i + 1, n);
    }
}

static void init(void)
{
    sem_init(&released, 0, 0);
}

Test(deadline, in_time_the_arg_stays_the_callers, .init = init)
{
    struct arg *a = mk(0);
    double t0 = co_clock_ms();
    cr_assert_eq(co_deadline_run(call, a, release, 5000), 1);
    cr_expect(co_clock_ms() - t0 < 2000, "waited for the deadline, not the call");
    cr_expect_eq(a->ran, 1);
    free(a); /* ours: release was not called */
    usleep(50 * 1000);
    cr_expect_eq(sem_trywait(&released), -1, "release called for a call that returned in time");
}

Test(deadline, late_call_is_abandoned_and_releases_itself, .init = init)
{
    struct arg *a = mk(400);
    double t0 = co_clock_ms();
    cr_assert_eq(co_deadline_run(call, a, release, 50), 0);
    double waited = co_clock_ms() - t0;
    cr_expect(waited >= 45 && waited < 350, "waited %.0f ms for a 50 ms deadline", waited);
    /* a is the thread's now: it frees it once the call returns */
    await_released(1);
}

Test(deadline, one_deadline_for_a_batch, .init = init)
{
    struct arg *as[4] = {mk(0), mk(10), mk(600), mk(0)};
    int done[4];
    double t0 = co_clock_ms();
    int ok = co_deadline_run_all(call, (void *const *)as, 4, release, 200, done);
    double waited = co_clock_ms() - t0;
    cr_expect_eq(ok, 3);
    cr_expect_eq(done[0], 1);
    cr_expect_eq(done[1], 1);
    cr_expect_eq(done[2], 0);
    cr_expect_eq(done[3], 1);
    cr_expect(waited >= 190 && waited < 550, "waited %.0f ms for a 200 ms deadline", waited);
    for (int i = 0; i < 4; i++)
        if (done[i] == 1) {
            cr_expect_eq(as[i]->ran, 1);
            free(as[i]);
        }
    await_released(1);
}

Test(deadline, batch_ends_when_all_returned, .init = init)
{
    struct arg *as[3] = {mk(20), mk(30), mk(10)};
    int done[3];
    double t0 = co_clock_ms();
    cr_expect_eq(co_deadline_run_all(call, (void *const *)as, 3, release, 10000, done), 3);
    cr_expect(co_clock_ms() - t0 < 3000, "waited for the deadline although all returned");
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(done[i], 1);
        free(as[i]);
    }
}

Test(deadline, empty_batch_and_null_release, .init = init)
{
    int done[1] = {7};
    cr_expect_eq(co_deadline_run_all(call, NULL, 0, release, 100, done), 0);
    /* without release the argument must outlive the call: static here */
    static struct arg st = {.sleep_ms = 200};
    cr_expect_eq(co_deadline_run(call, &st, NULL, 10), 0);
    usleep(400 * 1000);
    cr_expect_eq(st.ran, 1);
}
