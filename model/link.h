/* model/link.h: the migration link, from line rate to payload bandwidth.
 *
 * Owns: framing overhead (Ethernet preamble+SFD 8 B, header 14 B, FCS 4 B,
 * inter-frame gap 12 B; IPv4 20 B; TCP 20 B plus 12 B of timestamp option),
 * multifd channels (each capped by a per-channel payload rate, the CPU cost
 * of one migration thread), QEMU's max-bandwidth, and multifd compression
 * (ratio and CPU rate per channel). Pure arithmetic, no I/O.
 * Derivations: docs/model.md, section "Link". */
#ifndef CUTOVER_MODEL_LINK_H
#define CUTOVER_MODEL_LINK_H

#define CO_LINK_MTU_MIN 576
#define CO_LINK_MTU_MAX 65536

typedef struct co_link {
    double line_rate_bytes_per_s;     /* wire rate, e.g. 10 Gbit/s = 1.25e9 */
    int mtu;                          /* IP MTU in bytes, 576..65536 */
    int tcp_timestamps;               /* 1 (Linux default): 12 B TCP option per segment */
    int ethernet;                     /* 1: count Ethernet framing; 0: loopback */
    int channels;                     /* multifd channels; 1 = classic single stream */
    double channel_cap_bytes_per_s;   /* payload one channel can push (CPU bound) */
    double max_bandwidth_bytes_per_s; /* QEMU max-bandwidth; 0 = unlimited */
    double compress_ratio;            /* output/input bytes; 1 = no compression */
    double compress_cpu_bytes_per_s;  /* input bytes/s one channel compresses; 0 = n/a */
} co_link;

/* What limits the pre-copy rate. */
enum co_link_bound {
    CO_LINK_BOUND_LINE = 0,     /* the wire */
    CO_LINK_BOUND_CHANNELS,     /* channels x per-channel cap */
    CO_LINK_BOUND_MAX_BANDWIDTH,/* QEMU's max-bandwidth */
    CO_LINK_BOUND_COMPRESSION,  /* compression CPU */
};

typedef struct co_link_eval {
    double payload_per_frame_bytes;  /* MSS: MTU - IP - TCP headers */
    double wire_per_frame_bytes;     /* MTU + Ethernet framing (if ethernet) */
    double efficiency;               /* payload / wire */
    double payload_bytes_per_s;      /* min(line x efficiency, channels x cap) */
    double iter_bytes_per_s;         /* stream bytes/s during pre-copy (max-bandwidth applied) */
    double stop_bytes_per_s;         /* stream bytes/s during stop-and-copy (QEMU lifts
                                        max-bandwidth at completion) */
    double raw_iter_bytes_per_s;     /* guest-memory bytes/s in pre-copy (after compression) */
    double raw_stop_bytes_per_s;     /* guest-memory bytes/s in stop-and-copy */
    int bound;                       /* enum co_link_bound for the pre-copy rate */
} co_link_eval;

/* Short key of a bound ("line", "channels", "max-bandwidth", "compression")
 * for machine output, and its phrase ("the line rate", ...) for people. */
const char *co_link_bound_key(int bound);
const char *co_link_bound_phrase(int bound);

/* Defaults: 10 Gbit/s, MTU 1500, timestamps on, Ethernet, 1 channel,
 * calibrated per-channel cap (docs/accuracy.md), no max-bandwidth, no compression. */
void co_link_defaults(co_link *l);
/* Evaluate l. Returns CO_OK, or CO_ERANGE if a field is out of range
 * (mtu outside 576..65536, non-positive rate, channels outside 1..256,
 * compress_ratio outside (0,1]). out is untouched on error. */
int co_link_evaluate(const co_link *l, co_link_eval *out);

#endif
