/* util/clock.c: the monotonic clock (see clock.h). */
#include "util/clock.h"

#define NS_PER_MS 1000000L
#define NS_PER_S 1000000000L

double co_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void co_clock_deadline_ts(struct timespec *ts, double in_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (!(in_ms > 0))
        return;
    long long ms = (long long)in_ms;
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * NS_PER_MS + (long)((in_ms - (double)ms) * 1e6);
    while (ts->tv_nsec >= NS_PER_S) {
        ts->tv_sec++;
        ts->tv_nsec -= NS_PER_S;
    }
}

int co_clock_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}
