/* sim/evq.c: indexed 4-ary heap ordered by (time, sequence). A 4-ary heap
 * halves the depth of a binary one; with 16-byte nodes placed three slots
 * into a 64-byte aligned block, node i's children 4i+1..4i+4 sit in slots
 * 4i+4..4i+7, one cache line, which is where a pending-event set spends its
 * time. */
#include "sim/evq.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define D 4
#define SHIFT 3          /* slots before heap[0], so children share a line */
#define SEQ_LIMIT 0xFFFFFFF0u

static inline co_sim_evq_node node(int64_t t_us, uint32_t seq, uint32_t key)
{
    return (co_sim_evq_node)(uint64_t)t_us << 64 | (co_sim_evq_node)seq << 32 | key;
}
static inline uint32_t node_key(co_sim_evq_node e) { return (uint32_t)e; }
static inline uint32_t node_seq(co_sim_evq_node e) { return (uint32_t)(e >> 32); }
static inline int64_t node_t(co_sim_evq_node e) { return (int64_t)(uint64_t)(e >> 64); }

int co_sim_evq_init(co_sim_evq *q, size_t nkeys)
{
    memset(q, 0, sizeof *q);
    q->nkeys = nkeys;
    q->cap = nkeys ? nkeys : 1;
    size_t bytes = (q->cap + SHIFT + D) * sizeof(co_sim_evq_node);
    bytes = (bytes + 63) / 64 * 64;
    q->mem = aligned_alloc(64, bytes);
    q->pos = malloc(q->cap * sizeof *q->pos);
    q->kind = malloc(q->cap * sizeof *q->kind);
    if (q->mem == NULL || q->pos == NULL || q->kind == NULL) {
        co_sim_evq_free(q);
        return CO_ENOMEM;
    }
    q->heap = (co_sim_evq_node *)q->mem + SHIFT;
    for (size_t k = 0; k < nkeys; k++)
        q->pos[k] = -1;
    return CO_OK;
}

void co_sim_evq_clear(co_sim_evq *q)
{
    for (size_t i = 0; i < q->len; i++)
        q->pos[node_key(q->heap[i])] = -1;
    q->len = 0;
    q->next_seq = 0;
}

void co_sim_evq_free(co_sim_evq *q)
{
    free(q->mem);
    free(q->pos);
    free(q->kind);
    memset(q, 0, sizeof *q);
}

static void up(co_sim_evq *q, size_t i, co_sim_evq_node e)
{
    co_sim_evq_node *h = q->heap;
    while (i > 0) {
        size_t p = (i - 1) / D;
        if (!(e < h[p]))
            break;
        h[i] = h[p];
        q->pos[node_key(h[i])] = (int32_t)i;
        i = p;
    }
    h[i] = e;
    q->pos[node_key(e)] = (int32_t)i;
}

static void down(co_sim_evq *q, size_t i, co_sim_evq_node e)
{
    co_sim_evq_node *h = q->heap;
    size_t n = q->len;
    for (;;) {
        size_t c = D * i + 1;
        if (c >= n)
            break;
        size_t best = c;
        co_sim_evq_node b = h[c];
        if (c + D <= n) { /* a full line of children: no bound checks */
            size_t c1 = h[c + 1] < h[c] ? c + 1 : c, c2 = h[c + 3] < h[c + 2] ? c + 3 : c + 2;
            best = h[c2] < h[c1] ? c2 : c1;
            b = h[best];
        } else {
            for (size_t k = c + 1; k < n; k++)
                if (h[k] < b)
                    b = h[best = k];
        }
        if (!(b < e))
            break;
        h[i] = b;
        q->pos[node_key(b)] = (int32_t)i;
        i = best;
    }
    h[i] = e;
    q->pos[node_key(e)] = (int32_t)i;
}

static int cmp_node(const void *a, const void *b)
{
    co_sim_evq_node x = *(const co_sim_evq_node *)a, y = *(const co_sim_evq_node *)b;
    return x < y ? -1 : y < x ? 1 : 0;
}

/* The 32-bit sequence is about to run out: number the pending events
 * 0..len-1 in their (time, sequence) order. A sorted array is a heap. */
static void renumber(co_sim_evq *q)
{
    qsort(q->heap, q->len, sizeof *q->heap, cmp_node);
    for (size_t i = 0; i < q->len; i++) {
        q->heap[i] = node(node_t(q->heap[i]), (uint32_t)i, node_key(q->heap[i]));
        q->pos[node_key(q->heap[i])] = (int32_t)i;
    }
    q->next_seq = q->len;
}

void co_sim_evq_schedule(co_sim_evq *q, int64_t t_us, uint32_t kind, uint32_t key)
{
    if (q->next_seq >= SEQ_LIMIT)
        renumber(q);
    co_sim_evq_node e = node(t_us, (uint32_t)q->next_seq++, key);
    q->kind[key] = kind;
    int32_t p = q->pos[key];
    if (p < 0) {
        q->len++;
        up(q, q->len - 1, e);
        return;
    }
    /* a new sequence number is larger than any pending one, so the event
     * can only move down when its time grows or stays */
    if (e < q->heap[p])
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
    co_sim_evq_node last = q->heap[--q->len];
    if ((size_t)p == q->len)
        return;
    if (p > 0 && last < q->heap[(p - 1) / D])
        up(q, (size_t)p, last);
    else
        down(q, (size_t)p, last);
}

int co_sim_evq_peek_time(const co_sim_evq *q, int64_t *t_us)
{
    if (q->len == 0)
        return 0;
    *t_us = node_t(q->heap[0]);
    return 1;
}

int co_sim_evq_pop(co_sim_evq *q, co_sim_event *ev)
{
    if (q->len == 0)
        return 0;
    co_sim_evq_node top = q->heap[0];
    uint32_t key = node_key(top);
    *ev = (co_sim_event){node_t(top), node_seq(top), q->kind[key], key};
    q->pos[key] = -1;
    co_sim_evq_node last = q->heap[--q->len];
    if (q->len > 0)
        down(q, 0, last);
    return 1;
}
