/* sim/evq.c: indexed 4-ary heap ordered by (time, sequence). A 4-ary heap
 * halves the depth of a binary one and keeps a node's children in one
 * cache line, which is where a pending-event set spends its time. */
#include "sim/evq.h"

#include <stdlib.h>

#include "util/error.h"

#define D 4

int co_sim_evq_init(co_sim_evq *q, size_t nkeys)
{
    q->len = 0;
    q->next_seq = 0;
    q->nkeys = nkeys;
    q->cap = nkeys ? nkeys : 1;
    q->heap = malloc(q->cap * sizeof *q->heap);
    q->pos = malloc(q->cap * sizeof *q->pos);
    if (q->heap == NULL || q->pos == NULL) {
        co_sim_evq_free(q);
        return CO_ENOMEM;
    }
    for (size_t k = 0; k < nkeys; k++)
        q->pos[k] = -1;
    return CO_OK;
}

void co_sim_evq_clear(co_sim_evq *q)
{
    for (size_t i = 0; i < q->len; i++)
        q->pos[q->heap[i].key] = -1;
    q->len = 0;
    q->next_seq = 0;
}

void co_sim_evq_free(co_sim_evq *q)
{
    free(q->heap);
    free(q->pos);
    q->heap = NULL;
    q->pos = NULL;
    q->len = q->cap = q->nkeys = 0;
}

static inline int before(const co_sim_event *a, const co_sim_event *b)
{
    return a->t_us < b->t_us || (a->t_us == b->t_us && a->seq < b->seq);
}

static void up(co_sim_evq *q, size_t i, co_sim_event e)
{
    while (i > 0) {
        size_t p = (i - 1) / D;
        if (!before(&e, &q->heap[p]))
            break;
        q->heap[i] = q->heap[p];
        q->pos[q->heap[i].key] = (int32_t)i;
        i = p;
    }
    q->heap[i] = e;
    q->pos[e.key] = (int32_t)i;
}

static void down(co_sim_evq *q, size_t i, co_sim_event e)
{
    size_t n = q->len;
    for (;;) {
        size_t c = D * i + 1;
        if (c >= n)
            break;
        size_t best = c, end = c + D < n ? c + D : n;
        for (size_t k = c + 1; k < end; k++)
            if (before(&q->heap[k], &q->heap[best]))
                best = k;
        if (!before(&q->heap[best], &e))
            break;
        q->heap[i] = q->heap[best];
        q->pos[q->heap[i].key] = (int32_t)i;
        i = best;
    }
    q->heap[i] = e;
    q->pos[e.key] = (int32_t)i;
}

void co_sim_evq_schedule(co_sim_evq *q, int64_t t_us, uint32_t kind, uint32_t key)
{
    co_sim_event e = {t_us, q->next_seq++, kind, key};
    int32_t p = q->pos[key];
    if (p < 0) {
        q->len++;
        up(q, q->len - 1, e);
        return;
    }
    /* a new sequence number is larger than any pending one, so the event
     * can only move down when its time grows or stays */
    if (before(&e, &q->heap[p]))
        up(q, (size_t)p, e);
    else
        down(q, (size_t)p, e);
}

void co_sim_evq_cancel(co_sim_evq *q, uint32_t key)
{
    int32_t p = q->pos[key];
    if (p < 0)
        return;
    q->pos[key] = -1;
    co_sim_event last = q->heap[--q->len];
    if ((size_t)p == q->len)
        return;
    if (p > 0 && before(&last, &q->heap[(p - 1) / D]))
        up(q, (size_t)p, last);
    else
        down(q, (size_t)p, last);
}

int co_sim_evq_pop(co_sim_evq *q, co_sim_event *ev)
{
    if (q->len == 0)
        return 0;
    *ev = q->heap[0];
    q->pos[ev->key] = -1;
    co_sim_event last = q->heap[--q->len];
    if (q->len > 0)
        down(q, 0, last);
    return 1;
}
