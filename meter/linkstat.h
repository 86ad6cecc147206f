/* meter/linkstat.h: statistics of a migration TCP stream from a capture.
 *
 * Owns: following every TCP connection to or from one port (QEMU's
 * migration port; multifd opens several connections to it) and measuring,
 * in the direction that carries the data: throughput per interval, total
 * payload, new vs. retransmitted bytes (sequence ranges seen again),
 * segment sizes (the largest payload is the path MSS as the capture saw it,
 * the largest IP packet the MTU), the MSS the SYN announced, and duration.
 * Pure: fed decoded packets or raw frames; no I/O (meter/pcapio.h reads).
 * Sizes in bytes, times in ms, rates in bytes/s. */
#ifndef CUTOVER_ENGINE_LINKSTAT_H
#define CUTOVER_ENGINE_LINKSTAT_H

#include <stddef.h>
#include <stdint.h>

#include "meter/pcapdecode.h"
#include "util/diag.h"

typedef struct co_ls_opts {
    uint16_t port;      /* required, 1..65535 */
    double interval_ms; /* throughput bin width; 0 = 100 ms */
} co_ls_opts;

typedef struct co_ls_bin {
    double start_ms;       /* offset from the stream's first packet */
    uint64_t new_bytes;    /* sequence space first seen in this bin */
    uint64_t retrans_bytes;
    uint64_t segments;     /* data segments (payload > 0) */
    double bytes_per_s;    /* new_bytes / interval */
} co_ls_bin;

typedef struct co_ls_result {
    uint16_t port;
    int family;                 /* 4 or 6 */
    char src[48], dst[48];      /* data sender and receiver (first connection) */
    unsigned connections;       /* TCP connections on the port that carried data */
    int64_t first_ns, last_ns;  /* first/last packet of the stream, both directions */
    double duration_ms;
    double interval_ms;
    uint64_t packets;           /* TCP packets on the port, both directions */
    uint64_t data_segments;     /* data direction, payload > 0 */
    uint64_t payload_bytes;     /* all payload captured, retransmissions included */
    uint64_t new_bytes;         /* distinct sequence space: what the peer got */
    uint64_t retrans_segments, retrans_bytes;
    uint64_t uncaptured_bytes;  /* sequence space never seen (capture drops, or
                                   a loss before the capture point not repaired
                                   within the capture); segments captured out
                                   of order are not retransmissions */
    uint64_t reverse_payload_bytes; /* data the receiver sent back */
    uint32_t min_segment_bytes, max_segment_bytes; /* payload of data segments */
    double mean_segment_bytes;
    uint64_t full_size_segments; /* segments with the maximal payload */
    uint32_t max_ip_packet_bytes;
    uint32_t syn_mss_bytes;      /* MSS option of the sender's SYN, 0 if unseen */
    uint32_t mtu_estimate_bytes; /* SYN MSS + 40 (v4) / 60 (v6), else largest packet */
    int offload_suspected;       /* segments larger than the MSS allows (GSO/TSO/GRO) */
    double mean_bytes_per_s;     /* new_bytes / duration */
    double peak_bytes_per_s;     /* best bin */
    uint64_t cut_packets;        /* headers cut by the snap length (skipped) */
    co_ls_bin *bins;             /* owned by the result */
    size_t n_bins;
} co_ls_result;

typedef struct co_ls co_ls;

/* New accumulator; NULL on allocation failure or port 0. */
co_ls *co_ls_new(const co_ls_opts *opts);
void co_ls_free(co_ls *s);

/* Feed one frame / one decoded packet. Packets not TCP on the port are
 * ignored. Returns CO_OK, CO_EDATA (malformed header, d names the field) or
 * CO_ENOMEM. */
int co_ls_feed(co_ls *s, int64_t ts_ns, int dlt, const uint8_t *p, size_t caplen,
               size_t wirelen, co_diag *d);
int co_ls_feed_pkt(co_ls *s, int64_t ts_ns, const co_pkt *pk, co_diag *d);

/* Compute the result (call once). CO_EDATA when no data segment on the
 * port was seen. Free the result with co_ls_result_free. */
int co_ls_finish(co_ls *s, co_ls_result *r, co_diag *d);
void co_ls_result_free(co_ls_result *r);

#endif
