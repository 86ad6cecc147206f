/* sim/evq.c: binary heap ordered by (time, sequence). */
#include "sim/evq.h"

#include <stdlib.h>

#include "util/error.h"

void co_sim_evq_init(co_sim_evq *q)
{
    q->heap = NULL;
    q->len = q->cap = 0;
    q->next_seq = 0;
}

void co_sim_evq_clear(co_sim_evq *q)
{
    q->len = 0;
    q->next_seq = 0;
}

void co_sim_evq_free(co_sim_evq *q)
{
    free(q->heap);
    co_sim_evq_init(q);
}

static inline int before(const co_sim_event *a, const co_sim_event *b)
{
    return a->t_us < b->t_us || (a->t_us == b->t_us && a->seq < b->seq);
}

int co_sim_evq_push(co_sim_evq *q, int64_t t_us, uint32_t kind, uint32_t id, uint32_t ver)
{
    if (q->len == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 256;
        co_sim_event *h = realloc(q->heap, nc * sizeof *h);
        if (h == NULL)
            return CO_ENOMEM;
        q->heap = h;
        q->cap = nc;
    }
    co_sim_event e = {t_us, q->next_seq++, kind, id, ver};
    size_t i = q->len++;
    /* sift up: move parents down until e fits */
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &q->heap[p]))
            break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = e;
    return CO_OK;
}

int co_sim_evq_pop(co_sim_evq *q, co_sim_event *ev)
{
    if (q->len == 0)
        return 0;
    *ev = q->heap[0];
    co_sim_event last = q->heap[--q->len];
    size_t n = q->len, i = 0;
    /* sift down the last element from the root */
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!before(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n > 0)
        q->heap[i] = last;
    return 1;
}
