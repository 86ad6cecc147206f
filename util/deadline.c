/* util/deadline.c: calls on threads with a time limit (see deadline.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/deadline.h"
#include "util/error.h"

/* The calls of one co_deadline_run_all, shared by the caller and the
 * threads; freed by whoever leaves last (refs). */
struct group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(void *);
    co_deadline_release release;
    int refs, ndone, abandoned;
};

struct call {
    struct group *g;
    void *arg;
    int done;                     /* under g->mu */
};

static void group_unref(struct group *g)
{
    /* caller holds g->mu */
    int last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (last) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
        free(g);
    }
}

static void *call_thread(void *p)
{
    struct call *c = p;
    struct group *g = c->g;
    g->fn(c->arg);
    pthread_mutex_lock(&g->mu);
    c->done = 1;
    g->ndone++;
    /* decided under the lock: the caller either saw done (the arg is its)
     * or had given up before (the arg is ours) */
    int mine = g->abandoned;
    pthread_cond_broadcast(&g->cv);
    void *arg = c->arg;
    co_deadline_release rel = g->release;
    if (mine)
        free(c);
    group_unref(g);
    if (mine && rel)
        rel(arg);
    return NULL;
}

int co_deadline_run_all(void (*fn)(void *arg), void *const *args, int n,
                        co_deadline_release release, double timeout_ms, int *done)
{
    for (int i = 0; i < n; i++)
        done[i] = -1;
    if (n <= 0)
        return 0;
    struct group *g = calloc(1, sizeof *g);
    struct call **cs = calloc((size_t)n, sizeof *cs);
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    if (!g || !cs || !ts || pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        free(cs);
        free(ts);
        return CO_ENOMEM;
    }
    if (co_clock_cond_init(&g->cv) != 0) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        free(cs);
        free(ts);
        return CO_ENOMEM;
    }
    g->fn = fn;
    g->release = release;
    g->refs = 1;
    struct timespec dl;
    co_clock_deadline_ts(&dl, timeout_ms);
    int started = 0;
    for (int i = 0; i < n; i++) {
        struct call *c = calloc(1, sizeof *c);
        if (!c)
            continue;
        c->g = g;
        c->arg = args[i];
        pthread_mutex_lock(&g->mu);
        g->refs++;
        pthread_mutex_unlock(&g->mu);
        if (pthread_create(&ts[i], NULL, call_thread, c) != 0) {
            pthread_mutex_lock(&g->mu);
            g->refs--;
            pthread_mutex_unlock(&g->mu);
            free(c);
            continue;
        }
        cs[i] = c;
        started++;
    }
    pthread_mutex_lock(&g->mu);
    while (g->ndone < started)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &dl) == ETIMEDOUT)
            break;
    g->abandoned = 1;
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (!cs[i])
            continue;
        done[i] = cs[i]->done;
        ok += done[i];
        if (done[i])
            free(cs[i]); /* the thread no longer touches it */
    }
    group_unref(g); /* unlocks */
    /* A call that returned is joined: its thread is on its way out, and
     * joining lets its thread-local state go (a library's per-thread
     * buffers, freed by their key destructors) before we return; else a
     * process that exits next could still hold them (LeakSanitizer saw
     * libcrypto's). An abandoned one is detached: it ends on its own. */
    for (int i = 0; i < n; i++) {
        if (!cs[i])
            continue;
        if (done[i])
            pthread_join(ts[i], NULL);
        else
            pthread_detach(ts[i]);
    }
    free(cs);
    free(ts);
    return ok;
}

int co_deadline_run(void (*fn)(void *arg), void *arg, co_deadline_release release,
                    double timeout_ms)
{
    int done;
    int rc = co_deadline_run_all(fn, &arg, 1, release, timeout_ms, &done);
    if (rc < 0)
        return rc;
    return done < 0 ? CO_EOS : done;
}
