/* util/deadline.h: a blocking call run on a worker thread and waited for
 * with a time limit.
 *
 * Owns: the handover of each call's argument between the caller and the
 * thread that runs it. Some calls may never return in time (virConnectOpen
 * to an unreachable TCP host blocks for minutes; a libvirt call waits on a
 * QEMU monitor that hung), yet a command must end within a bound. The
 * caller waits up to timeout_ms; a call that has not returned by then is
 * abandoned: its thread keeps running and owns the argument from then on,
 * and calls release(arg) once the call returns (close what the call
 * opened, free arg). A call that returned in time leaves its argument to
 * the caller, who reads the results from it and frees it. fn never runs
 * after the caller's wait ended without it having started.
 *
 * Time: CLOCK_MONOTONIC (util/clock.h), ms. Thread-safe; no globals. */
#ifndef CUTOVER_UTIL_DEADLINE_H
#define CUTOVER_UTIL_DEADLINE_H

/* What the thread calls with arg once an abandoned call returns; NULL =
 * nothing (arg must then outlive the call by other means). */
typedef void (*co_deadline_release)(void *arg);

/* fn(args[i]) for i in 0..n-1, each on its own thread, all under one
 * deadline of timeout_ms (< 0 counts as 0) from now; waits until every
 * call returned or the deadline passed (the threads of calls that returned
 * are joined before it returns; abandoned ones are detached). done[i] (n entries): 1 when call i
 * returned in time (args[i] is the caller's), 0 when it was abandoned
 * (its thread calls release(args[i]) when it returns), -1 when its thread
 * could not start (fn did not run; args[i] is the caller's). Returns the
 * number of calls that returned in time, or CO_ENOMEM (nothing ran; done[]
 * all -1). */
int co_deadline_run_all(void (*fn)(void *arg), void *const *args, int n,
                        co_deadline_release release, double timeout_ms, int *done);

/* One call: 1 when fn(arg) returned within timeout_ms (arg is the
 * caller's), 0 when it did not (the thread owns arg and calls release(arg)
 * when fn returns), or a negative CO_E* when no thread could start
 * (CO_EOS, CO_ENOMEM; fn did not run, arg is the caller's). */
int co_deadline_run(void (*fn)(void *arg), void *arg, co_deadline_release release,
                    double timeout_ms);

#endif
