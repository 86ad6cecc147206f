/* meter/heartbeat.h: the guest's own view of downtime.
 *
 * Owns: a UDP listener for the test guest's heartbeat (a datagram about
 * every millisecond on its serial port, `-serial udp:HOST:PORT` on both the
 * source and the destination QEMU) on a thread of its own, and the longest
 * gap between two heartbeats while armed: the downtime the guest saw.
 * Timestamps are co_clock_ms() (util/clock.h) at receipt. Anyone who can reach
 * a UDP port can send to it, so the listener binds only the address asked
 * (loopback unless told) and counts only datagrams from the expected
 * senders (address, and port when known); the rest are counted as ignored,
 * never as heartbeats. IPv4 only. */
#ifndef CUTOVER_ENGINE_CONTROLLER_HB_H
#define CUTOVER_ENGINE_CONTROLLER_HB_H

#include <netinet/in.h>

#include "util/clock.h" /* heartbeat times are co_clock_ms() readings */
#include "util/diag.h"

typedef struct co_hb co_hb;

#define CO_HB_MAX_FROM 4

/* Where to listen and whom to hear. */
typedef struct co_hb_opts {
    struct in_addr bind;              /* address to bind (network order) */
    int port;                         /* 0 picks one (co_hb_port) */
    int n_from;                       /* expected senders (at least 1) */
    struct {
        struct in_addr addr;          /* sender's address */
        int port;                     /* sender's port; 0 = any */
    } from[CO_HB_MAX_FROM];
} co_hb_opts;

/* Parse `--heartbeat udp:[ADDR:]PORT[,from=ADDR[:PORT]]...` (IPv4). Without
 * ADDR, 127.0.0.1; without from=, the sender must be 127.0.0.1 (any port),
 * and on a non-loopback ADDR from= is required (the QEMU hosts of the
 * source and the destination: their serial ports send the heartbeats).
 * CO_OK or CO_EUSAGE naming the flag and what is wrong. */
int co_hb_parse(const char *spec, co_hb_opts *o, co_diag *d);
/* Bind o->bind:o->port and start the receiver thread. *out is freed with
 * co_hb_stop. CO_EBUSY if the port is taken. */
int co_hb_start_opts(const co_hb_opts *o, co_hb **out, co_diag *d);
/* co_hb_start_opts on 127.0.0.1:port hearing 127.0.0.1 only. */
int co_hb_start(int port, co_hb **out, co_diag *d);
int co_hb_port(const co_hb *h);
/* Start measuring gaps from now (earlier gaps are forgotten). */
void co_hb_arm(co_hb *h);
/* Longest gap since co_hb_arm, ms (0 if none), the time it ended
 * (CLOCK_MONOTONIC ms) and the heartbeats seen since armed. */
double co_hb_max_gap_ms(co_hb *h, double *ended_at_ms, long *count);
/* Datagrams from unexpected senders since co_hb_arm (not heartbeats). */
long co_hb_ignored(co_hb *h);
/* Time of the last heartbeat, CLOCK_MONOTONIC ms, or 0 if none yet. */
double co_hb_last_ms(co_hb *h);
/* Stop the thread, close the socket, free h (NULL is fine). */
void co_hb_stop(co_hb *h);

#endif
