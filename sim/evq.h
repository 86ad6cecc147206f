/* sim/evq.h: the simulator's event queue.
 *
 * Owns: a binary min-heap of events ordered by (time, sequence number). The
 * sequence number is assigned at push, so two events at the same time come
 * out in the order they were scheduled: ties never depend on the heap's
 * layout, which keeps runs identical everywhere. Events are never removed
 * early; a caller invalidates one by bumping a version it keeps elsewhere
 * and skipping stale events when they come out (lazy deletion). */
#ifndef CUTOVER_SIM_EVQ_H
#define CUTOVER_SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct co_sim_event {
    int64_t t_us;     /* when */
    uint64_t seq;     /* push order, breaks ties */
    uint32_t kind;    /* caller's event type */
    uint32_t id;      /* caller's object (host, VM) */
    uint32_t ver;     /* caller's version of that object, for lazy deletion */
} co_sim_event;

typedef struct co_sim_evq {
    co_sim_event *heap;
    size_t len, cap;
    uint64_t next_seq;
} co_sim_evq;

/* Empty queue; no allocation until the first push. */
void co_sim_evq_init(co_sim_evq *q);
/* Forget every event and restart sequence numbers at 0 (keeps the memory). */
void co_sim_evq_clear(co_sim_evq *q);
void co_sim_evq_free(co_sim_evq *q);
/* Schedule; CO_OK or CO_ENOMEM. */
int co_sim_evq_push(co_sim_evq *q, int64_t t_us, uint32_t kind, uint32_t id, uint32_t ver);
/* Take the earliest event into *ev; 0 if the queue is empty, else 1. */
int co_sim_evq_pop(co_sim_evq *q, co_sim_event *ev);

#endif
