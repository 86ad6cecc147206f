/* meter/heartbeat.h: the guest's own view of downtime.
 *
 * Owns: a UDP listener for the test guest's heartbeat (a datagram about
 * every millisecond on its serial port, `-serial udp:HOST:PORT` on both the
 * source and the destination QEMU) on a thread of its own, and the longest
 * gap between two heartbeats while armed: the downtime the guest saw.
 * Timestamps are co_clock_ms() (util/clock.h) at receipt. */
#ifndef CUTOVER_ENGINE_CONTROLLER_HB_H
#define CUTOVER_ENGINE_CONTROLLER_HB_H

#include "util/clock.h" /* heartbeat times are co_clock_ms() readings */
#include "util/diag.h"

typedef struct co_hb co_hb;

/* Bind UDP port (0.0.0.0:port; port 0 picks one, see co_hb_port) and start
 * the receiver thread. *out is freed with co_hb_stop. */
int co_hb_start(int port, co_hb **out, co_diag *d);
int co_hb_port(const co_hb *h);
/* Start measuring gaps from now (earlier gaps are forgotten). */
void co_hb_arm(co_hb *h);
/* Longest gap since co_hb_arm, ms (0 if none), the time it ended
 * (CLOCK_MONOTONIC ms) and the heartbeats seen since armed. */
double co_hb_max_gap_ms(co_hb *h, double *ended_at_ms, long *count);
/* Time of the last heartbeat, CLOCK_MONOTONIC ms, or 0 if none yet. */
double co_hb_last_ms(co_hb *h);
/* Stop the thread, close the socket, free h (NULL is fine). */
void co_hb_stop(co_hb *h);

#endif
