/* util/clock.h: the one clock cutover measures time with.
 *
 * Owns: reading CLOCK_MONOTONIC (never stepped by NTP or the operator, so
 * the difference of two readings is elapsed time) in milliseconds, the
 * unit of every *_ms time in cutover, and the absolute timespec that
 * pthread_cond_timedwait needs for a condition variable whose clock was
 * set to CLOCK_MONOTONIC (pthread_condattr_setclock). Every module reads
 * time through these; the time bases of QMP samples, heartbeats, lab
 * serial lines and timelines are therefore one and comparable. */
#ifndef CUTOVER_UTIL_CLOCK_H
#define CUTOVER_UTIL_CLOCK_H

#include <pthread.h>
#include <time.h>

/* CLOCK_MONOTONIC now, ms (fraction to the ns). Thread-safe. */
double co_clock_ms(void);
/* *ts = CLOCK_MONOTONIC now + in_ms (in_ms < 0 counts as 0), normalised
 * (tv_nsec < 1e9): a deadline for pthread_cond_timedwait on a condition
 * variable with a CLOCK_MONOTONIC condattr. */
void co_clock_deadline_ts(struct timespec *ts, double in_ms);
/* Initialise *cv to wait on CLOCK_MONOTONIC (deadlines from
 * co_clock_deadline_ts). 0 or pthread's error number. */
int co_clock_cond_init(pthread_cond_t *cv);

#endif
