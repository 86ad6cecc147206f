/* model/link.c: payload bandwidth of a migration link (docs/model.md, "Link"). */
#include "model/link.h"

#include <math.h>

#include "util/error.h"

/* Ethernet per-frame overhead on the wire: preamble+SFD 8, MAC header 14,
 * FCS 4, inter-frame gap 12 (IEEE 802.3). */
#define ETH_OVERHEAD 38.0
#define IPV4_HEADER 20.0
#define TCP_HEADER 20.0
#define TCP_TIMESTAMPS 12.0 /* 10 B option padded to 12 */

const char *co_link_bound_key(int bound)
{
    static const char *k[] = {"line", "channels", "max-bandwidth", "compression"};
    return bound >= 0 && bound <= CO_LINK_BOUND_COMPRESSION ? k[bound] : "unknown";
}

const char *co_link_bound_phrase(int bound)
{
    static const char *p[] = {"the line rate", "the per-channel CPU cap", "max-bandwidth",
                              "compression CPU"};
    return bound >= 0 && bound <= CO_LINK_BOUND_COMPRESSION ? p[bound] : "unknown";
}

void co_link_defaults(co_link *l)
{
    l->line_rate_bytes_per_s = 10e9 / 8;
    l->mtu = 1500;
    l->tcp_timestamps = 1;
    l->ethernet = 1;
    l->channels = 1;
    /* One migration thread's payload rate; calibrated on real QEMU 7.2
     * migrations over loopback (docs/accuracy.md). */
    l->channel_cap_bytes_per_s = 2.2e9;
    l->max_bandwidth_bytes_per_s = 0;
    l->compress_ratio = 1.0;
    l->compress_cpu_bytes_per_s = 0;
}

int co_link_evaluate(const co_link *l, co_link_eval *out)
{
    if (!(l->line_rate_bytes_per_s > 0) || !isfinite(l->line_rate_bytes_per_s))
        return CO_ERANGE;
    if (l->mtu < CO_LINK_MTU_MIN || l->mtu > CO_LINK_MTU_MAX)
        return CO_ERANGE;
    if (l->channels < 1 || l->channels > 256)
        return CO_ERANGE;
    if (!(l->channel_cap_bytes_per_s > 0))
        return CO_ERANGE;
    if (l->max_bandwidth_bytes_per_s < 0 || !isfinite(l->max_bandwidth_bytes_per_s))
        return CO_ERANGE;
    if (!(l->compress_ratio > 0) || l->compress_ratio > 1.0)
        return CO_ERANGE;
    if (l->compress_cpu_bytes_per_s < 0)
        return CO_ERANGE;

    co_link_eval e;
    e.payload_per_frame_bytes =
        l->mtu - IPV4_HEADER - TCP_HEADER - (l->tcp_timestamps ? TCP_TIMESTAMPS : 0);
    e.wire_per_frame_bytes = l->mtu + (l->ethernet ? ETH_OVERHEAD : 0);
    e.efficiency = e.payload_per_frame_bytes / e.wire_per_frame_bytes;

    double line = l->line_rate_bytes_per_s * e.efficiency;
    double chan = l->channels * l->channel_cap_bytes_per_s;
    e.payload_bytes_per_s = fmin(line, chan);
    e.bound = line <= chan ? CO_LINK_BOUND_LINE : CO_LINK_BOUND_CHANNELS;

    e.iter_bytes_per_s = e.payload_bytes_per_s;
    if (l->max_bandwidth_bytes_per_s > 0 && l->max_bandwidth_bytes_per_s < e.iter_bytes_per_s) {
        e.iter_bytes_per_s = l->max_bandwidth_bytes_per_s;
        e.bound = CO_LINK_BOUND_MAX_BANDWIDTH;
    }
    e.stop_bytes_per_s = e.payload_bytes_per_s;

    /* Compression: the stream carries ratio x raw bytes, and each channel
     * compresses at most compress_cpu raw bytes/s. */
    e.raw_iter_bytes_per_s = e.iter_bytes_per_s / l->compress_ratio;
    e.raw_stop_bytes_per_s = e.stop_bytes_per_s / l->compress_ratio;
    if (l->compress_ratio < 1.0 && l->compress_cpu_bytes_per_s > 0) {
        double cpu = l->channels * l->compress_cpu_bytes_per_s;
        if (cpu < e.raw_iter_bytes_per_s) {
            e.raw_iter_bytes_per_s = cpu;
            e.bound = CO_LINK_BOUND_COMPRESSION;
        }
        if (cpu < e.raw_stop_bytes_per_s)
            e.raw_stop_bytes_per_s = cpu;
    }
    *out = e;
    return CO_OK;
}
