/* meter/pcapio_none.c: meter/pcapio.h in a build without libpcap
 * (libpcap-dev absent, or `make WITHOUT=libpcap`). The Makefile compiles
 * this file instead of meter/pcapio.c. Every reader fails with CO_EUNAVAIL
 * (exit 69) and says how to get the real one; the pure meters
 * (pcapdecode, pcapmeter, linkstat) still build. */
#include "meter/pcapio.h"

#define CO_NO_PCAP "built without libpcap (install libpcap-dev and rebuild)"

int co_pcap_read_file(const char *path, const char *filter, co_pcap_sink sink, void *ctx,
                      co_pcap_stats *stats, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "capture '%s': " CO_NO_PCAP, path ? path : "?");
}

int co_pcap_read_mem(const uint8_t *buf, size_t len, const char *filter, co_pcap_sink sink,
                     void *ctx, co_pcap_stats *stats, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "capture in memory: " CO_NO_PCAP);
}

int co_pcap_read_live(const co_pcap_live_opts *o, co_pcap_sink sink, void *ctx,
                      co_pcap_stats *stats, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "interface '%s': " CO_NO_PCAP,
                       o && o->iface ? o->iface : "?");
}
