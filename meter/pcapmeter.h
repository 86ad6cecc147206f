/* meter/pcapmeter.h: outages in a packet flow, from capture timestamps.
 *
 * Owns: the downtime meter. It is fed decoded-or-raw packets with their
 * capture times and finds the outages two ways (docs/downtime.md):
 *   ping  ICMP(v6) echo: requests are matched to replies by addresses, id
 *         and seq. A run of requests without a reply (captured, or missing
 *         from the capture as a jump in seq) is one outage, from the send
 *         time of the first lost request to the send time of the first
 *         answered one after it: lost requests x interval.
 *   gap   any other flow (e.g. a UDP heartbeat every 1 ms): a silence longer
 *         than the threshold (--gap, default 5 x the median inter-arrival)
 *         is an outage from the expected next arrival (previous packet +
 *         median interval, or + threshold if that is smaller) to the packet
 *         that ended the silence.
 * Mode auto picks ping when the capture holds echo requests, else gap.
 * Pure: no I/O; the caller (meter/pcapio.h, tests, fuzz) feeds bytes. */
#ifndef CUTOVER_ENGINE_PCAPMETER_H
#define CUTOVER_ENGINE_PCAPMETER_H

#include <stddef.h>
#include <stdint.h>

#include "meter/pcapdecode.h"
#include "util/diag.h"

enum co_dtm_mode { CO_DTM_AUTO = 0, CO_DTM_PING, CO_DTM_GAP };

typedef struct co_dtm_opts {
    int mode;          /* enum co_dtm_mode */
    double gap_ms;     /* > 0: silence threshold; 0: 5 x median inter-arrival.
                          In ping mode it is the minimum outage reported and
                          the threshold for an unanswered run at the end. */
} co_dtm_opts;

typedef struct co_outage {
    int64_t start_ns, end_ns; /* capture clock, ns since the Unix epoch */
    double duration_ms;
    uint64_t lost_packets;    /* ping: lost requests; gap: estimated missing */
    int open;                 /* 1: the capture ended inside the outage; it
                                 ends at the capture's end */
} co_outage;

typedef struct co_dtm_result {
    int mode;                  /* CO_DTM_PING or CO_DTM_GAP */
    uint64_t packets;          /* packets fed */
    uint64_t ip_packets;       /* of which IPv4/IPv6 */
    uint64_t cut_packets;      /* headers cut by the snap length (skipped) */
    uint64_t echo_requests, echo_replies, lost_requests;
    int64_t first_ns, last_ns; /* first packet fed; capture end (the last
                                  packet, or co_dtm_set_end's time if later) */
    double capture_ms;         /* last - first */
    double median_interval_ms; /* requests (ping) or packets (gap) */
    double threshold_ms;       /* the silence threshold used */
    co_outage *outages;        /* sorted by start; owned by the result */
    size_t n_outages;
    double longest_outage_ms;  /* 0 when none */
    size_t longest_index;      /* index into outages, valid if n_outages */
} co_dtm_result;

typedef struct co_dtm co_dtm;

/* New meter; NULL on allocation failure. opts may be NULL (defaults). */
co_dtm *co_dtm_new(const co_dtm_opts *opts);
void co_dtm_free(co_dtm *m);

/* Feed one captured frame (link type dlt). Returns CO_OK, CO_EDATA with d
 * naming the malformed field, or CO_ENOMEM. Packets may arrive out of time
 * order (multi-queue captures); finish sorts them. */
int co_dtm_feed(co_dtm *m, int64_t ts_ns, int dlt, const uint8_t *p, size_t caplen,
                size_t wirelen, co_diag *d);
/* Feed an already decoded packet. */
int co_dtm_feed_pkt(co_dtm *m, int64_t ts_ns, const co_pkt *pk, co_diag *d);

/* Tell the meter when the capture ended (co_pcap_stats.end_ns), if later
 * than the last packet fed: a flow that stops and never comes back is then
 * an open outage up to that time (gap mode: silence longer than the
 * threshold; ping mode: the unanswered run at the end). */
void co_dtm_set_end(co_dtm *m, int64_t end_ns);

/* Analyse what was fed and fill *r (zeroed first; free with
 * co_dtm_result_free). Call once: it reorders the stored packets. Returns
 * CO_OK, CO_EDATA when there were no packets (or, in ping mode, no echo
 * requests) to measure, or CO_ENOMEM. */
int co_dtm_finish(co_dtm *m, co_dtm_result *r, co_diag *d);
void co_dtm_result_free(co_dtm_result *r);

#endif
