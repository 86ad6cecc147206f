/* sim/evq.h: the simulator's event queue.
 *
 * Owns: an indexed 4-ary min-heap of events ordered by (time, sequence
 * number). The sequence number is assigned whenever an event is scheduled
 * (or re-scheduled), so two events at the same time come out in the order
 * they were scheduled: ties never depend on the heap's layout, which keeps
 * runs identical everywhere. Each event has a caller-chosen key (a host, a
 * VM); a key has at most one pending event, and scheduling a key again moves
 * its event in place, so re-timed migrations leave no stale entries behind.
 *
 * Layout (why it is fast): a heap node is 16 bytes (time, 32-bit sequence,
 * key; the kind lives per key), and the array is placed so that the four
 * children of a node fill one 64-byte cache line. When the 32-bit sequence
 * would wrap, the pending events are renumbered in their current order
 * (sorting a heap by its order leaves a valid heap), so the order of events
 * never depends on the wrap. */
#ifndef CUTOVER_SIM_EVQ_H
#define CUTOVER_SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct co_sim_event {
    int64_t t_us;     /* when */
    uint64_t seq;     /* scheduling order among pending events, breaks ties */
    uint32_t kind;    /* caller's event type */
    uint32_t key;     /* caller's key, < nkeys */
} co_sim_event;

/* time in the high 64 bits, then sequence, then key: one unsigned
 * comparison orders (time, sequence); times are >= 0 */
typedef unsigned __int128 co_sim_evq_node;

typedef struct co_sim_evq {
    void *mem;              /* allocation behind heap (aligned) */
    co_sim_evq_node *heap;  /* heap[0] is the earliest */
    int32_t *pos;           /* per key: index in heap, -1 = nothing pending */
    uint32_t *kind;         /* per key: kind of its pending event */
    size_t len, cap, nkeys;
    uint64_t next_seq;      /* next sequence number; renumbered before 2^32 */
} co_sim_evq;

/* Queue for keys 0..nkeys-1. CO_OK or CO_ENOMEM. */
int co_sim_evq_init(co_sim_evq *q, size_t nkeys);
/* Forget every event and restart sequence numbers at 0 (keeps the memory). */
void co_sim_evq_clear(co_sim_evq *q);
void co_sim_evq_free(co_sim_evq *q);
/* Schedule key's event at t_us >= 0 (replacing any pending one, which then gets
 * a new sequence number as if cancelled and pushed). Never allocates. */
void co_sim_evq_schedule(co_sim_evq *q, int64_t t_us, uint32_t kind, uint32_t key);
/* Drop key's pending event, if any. */
void co_sim_evq_cancel(co_sim_evq *q, uint32_t key);
/* The time of the earliest event into *t_us without taking it; 0 if the
 * queue is empty, else 1. */
int co_sim_evq_peek_time(const co_sim_evq *q, int64_t *t_us);
/* Take the earliest event into *ev; 0 if the queue is empty, else 1. */
int co_sim_evq_pop(co_sim_evq *q, co_sim_event *ev);

#endif
