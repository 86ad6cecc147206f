/* meter/pcapio.h: libpcap input for the packet meters.
 *
 * Owns: opening a capture file (pcap or pcapng) or a live interface,
 * compiling and applying a BPF filter, reading packets with nanosecond
 * timestamps, optionally saving them to a file, and handing each packet to
 * a sink callback. All libpcap I/O lives here so that the meters
 * (meter/pcapmeter.h, meter/linkstat.h) stay pure and testable.
 * Errors name the file or interface and the packet number. */
#ifndef CUTOVER_ENGINE_PCAPIO_H
#define CUTOVER_ENGINE_PCAPIO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

/* One packet. ts_ns: capture time in ns since the Unix epoch. pktno counts
 * from 1 over the packets that passed the filter (as tcpdump numbers them
 * when it reads the file with the same filter). */
typedef struct co_pcap_pkt {
    int64_t ts_ns;
    int dlt;
    const uint8_t *data;
    size_t caplen, wirelen;
    uint64_t pktno;
} co_pcap_pkt;

/* The sink returns CO_OK to go on or a CO_E* code (with d filled) to stop. */
typedef int (*co_pcap_sink)(void *ctx, const co_pcap_pkt *pkt, co_diag *d);

typedef struct co_pcap_stats {
    uint64_t packets;       /* delivered to the sink */
    uint64_t kernel_drops;  /* live: dropped by the kernel (pcap_stats ps_drop) */
    int dlt;                /* link type of the capture */
    int64_t end_ns;         /* when the capture ended: the file's last packet
                               (filtered out or not), or the wall clock when a
                               live capture stopped; 0 if unknown */
} co_pcap_stats;

/* Read the file at path ("-" is not accepted), apply filter (NULL or "" for
 * none), feed every packet to sink. Returns CO_OK, CO_ENOINPUT (missing or
 * unreadable file), CO_EDATA (not a capture, truncated, unsupported link
 * type, packet N malformed), CO_EUSAGE (bad filter) or what the sink
 * returned. stats may be NULL. */
int co_pcap_read_file(const char *path, const char *filter, co_pcap_sink sink, void *ctx,
                      co_pcap_stats *stats, co_diag *d);

/* Same for an in-memory capture file (used by the fuzz target). */
int co_pcap_read_mem(const uint8_t *buf, size_t len, const char *filter, co_pcap_sink sink,
                     void *ctx, co_pcap_stats *stats, co_diag *d);

typedef struct co_pcap_live_opts {
    const char *iface;      /* required */
    const char *filter;     /* BPF, NULL or "" for none */
    double duration_ms;     /* > 0: capture this long, then return */
    int snaplen;            /* bytes kept per packet; 0 = 256 (headers) */
    const char *save_path;  /* also write the packets here (pcap), or NULL */
    volatile sig_atomic_t *stop; /* set to non-zero to end early (from a signal
                                    handler, or another thread with
                                    __atomic_store_n), or NULL */
    /* Called once the capture is active and filtered, so a caller can start
     * the traffic it wants measured; may be NULL. */
    void (*on_ready)(void *ctx);
    int dlt;                /* link type to ask for (e.g. DLT_LINUX_SLL2 on
                               "any"); 0 = the interface's default */
} co_pcap_live_opts;

/* Capture live for o->duration_ms (never longer, even with no traffic).
 * Returns CO_OK, CO_ENOINPUT (no such interface), CO_ENOPERM, CO_EUSAGE (bad
 * filter), CO_ECANTCREAT (save file), CO_EIO, or what the sink returned. */
int co_pcap_read_live(const co_pcap_live_opts *o, co_pcap_sink sink, void *ctx,
                      co_pcap_stats *stats, co_diag *d);

#endif
