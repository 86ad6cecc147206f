/* meter/pcapdecode.c: header decoding of captured frames (see pcapdecode.h). */
#include "meter/pcapdecode.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#if defined(CO_HAVE_PCAP) || __has_include(<pcap/dlt.h>)
#include <pcap/dlt.h>
#else
/* libpcap-dev absent: the link-type numbers <pcap/dlt.h> has on Linux. Only
 * meter/pcapio.c hands frames here, and it is a stub then. */
#define DLT_NULL 0
#define DLT_EN10MB 1
#define DLT_RAW 12
#define DLT_LOOP 108
#define DLT_LINUX_SLL 113
#define DLT_IPV4 228
#define DLT_IPV6 229
#define DLT_LINUX_SLL2 276
#endif

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int co_pkt_dlt_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_RAW:
    case DLT_IPV4: case DLT_IPV6: case DLT_NULL: case DLT_LOOP:
        return 1;
    default:
        return 0;
    }
}

/* A frame too short for a header: legitimate when the snap length cut it
 * (mark and stop), malformed when the whole frame was captured. */
static int short_frame(co_pkt *out, size_t caplen, size_t wirelen, const char *what,
                       size_t need, size_t have, co_diag *d)
{
    if (caplen < wirelen) {
        out->headers_cut = 1;
        return CO_OK;
    }
    return co_diag_set(d, CO_EDATA, "%s needs %zu bytes, frame has %zu", what, need, have);
}

/* Link layer: find the network header and its ethertype-style protocol.
 * Sets *ethertype to 0 for frames that are not IP. */
static int link_layer(int dlt, const uint8_t *p, size_t caplen, size_t wirelen, size_t *off,
                      unsigned *ethertype, co_pkt *out, co_diag *d)
{
    *off = 0;
    *ethertype = 0;
    switch (dlt) {
    case DLT_EN10MB: {
        size_t o = 12;
        if (caplen < 14)
            return short_frame(out, caplen, wirelen, "Ethernet header", 14, caplen, d);
        unsigned et = rd16(p + o);
        /* Up to two VLAN tags (802.1Q, 802.1ad QinQ, old 0x9100). */
        for (int tags = 0; tags < 2 && (et == 0x8100 || et == 0x88A8 || et == 0x9100); tags++) {
            o += 4;
            if (caplen < o + 2)
                return short_frame(out, caplen, wirelen, "VLAN tag", o + 2, caplen, d);
            et = rd16(p + o);
        }
        *off = o + 2;
        *ethertype = et;
        return CO_OK;
    }
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return short_frame(out, caplen, wirelen, "Linux cooked (SLL) header", 16, caplen, d);
        *off = 16;
        *ethertype = rd16(p + 14);
        return CO_OK;
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return short_frame(out, caplen, wirelen, "Linux cooked v2 (SLL2) header", 20, caplen,
                               d);
        *off = 20;
        *ethertype = rd16(p);
        return CO_OK;
    case DLT_NULL:
    case DLT_LOOP: {
        if (caplen < 4)
            return short_frame(out, caplen, wirelen, "loopback header", 4, caplen, d);
        /* DLT_NULL stores the address family in the capturing host's byte
         * order, which the file does not record: accept both. */
        uint32_t be = rd32(p), le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
                                    (uint32_t)p[1] << 8 | p[0];
        uint32_t af = dlt == DLT_LOOP ? be : (be < 256 ? be : le);
        *off = 4;
        if (af == 2)
            *ethertype = ETH_IPV4;
        else if (af == 24 || af == 28 || af == 30 || af == 10)
            *ethertype = ETH_IPV6;
        return CO_OK;
    }
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        if (caplen < 1)
            return short_frame(out, caplen, wirelen, "raw IP header", 1, caplen, d);
        if ((p[0] >> 4) == 4)
            *ethertype = ETH_IPV4;
        else if ((p[0] >> 4) == 6)
            *ethertype = ETH_IPV6;
        else
            return co_diag_set(d, CO_EDATA, "raw IP packet has IP version %u (field version)",
                               p[0] >> 4);
        return CO_OK;
    default:
        return co_diag_set(d, CO_EUSAGE, "link type %d is not supported", dlt);
    }
}

static void transport(const uint8_t *l4, size_t l4cap, uint32_t l4len, int icmp6, co_pkt *out,
                      int cut_ok, co_diag *d, int *rc)
{
    *rc = CO_OK;
    /* Bytes of this header we may read: what was captured, within the IP length. */
    size_t avail = l4cap < l4len ? l4cap : l4len;
    switch (out->proto) {
    case 6: {
        if (avail < 20) {
            if (l4len < 20)
                *rc = co_diag_set(d, CO_EDATA, "TCP header needs 20 bytes, IP payload has %u",
                                  (unsigned)l4len);
            else if (cut_ok)
                out->headers_cut = 1;
            else
                *rc = co_diag_set(d, CO_EDATA, "TCP header needs 20 bytes, frame has %zu",
                                  avail);
            out->kind = CO_PKT_IP_OTHER;
            return;
        }
        out->kind = CO_PKT_TCP;
        out->sport = rd16(l4);
        out->dport = rd16(l4 + 2);
        out->tcp_seq = rd32(l4 + 4);
        out->tcp_ack = rd32(l4 + 8);
        unsigned doff = (unsigned)(l4[12] >> 4) * 4;
        out->tcp_flags = l4[13];
        if (doff < 20 || doff > l4len) {
            *rc = co_diag_set(d, CO_EDATA,
                              "TCP data offset %u bytes outside 20..%u (field data offset)",
                              doff, (unsigned)l4len);
            return;
        }
        out->hdr_bytes += doff;
        out->payload_bytes = l4len - doff;
        if (out->tcp_flags & CO_TCP_SYN) {
            /* Walk the options for MSS (kind 2, length 4). */
            size_t o = 20, end = doff < avail ? doff : avail;
            while (o < end) {
                uint8_t kind = l4[o];
                if (kind == 0)
                    break;
                if (kind == 1) {
                    o++;
                    continue;
                }
                if (o + 1 >= end || l4[o + 1] < 2)
                    break;
                if (kind == 2 && l4[o + 1] == 4 && o + 4 <= end)
                    out->tcp_mss = rd16(l4 + o + 2);
                o += l4[o + 1];
            }
        }
        return;
    }
    case 17:
        if (avail < 8) {
            if (l4len < 8)
                *rc = co_diag_set(d, CO_EDATA, "UDP header needs 8 bytes, IP payload has %u",
                                  (unsigned)l4len);
            else if (cut_ok)
                out->headers_cut = 1;
            else
                *rc = co_diag_set(d, CO_EDATA, "UDP header needs 8 bytes, frame has %zu", avail);
            out->kind = CO_PKT_IP_OTHER;
            return;
        }
        out->kind = CO_PKT_UDP;
        out->sport = rd16(l4);
        out->dport = rd16(l4 + 2);
        out->hdr_bytes += 8;
        out->payload_bytes = l4len - 8;
        return;
    case 1:
    case 58: {
        if ((out->proto == 58) != icmp6) {
            out->kind = CO_PKT_IP_OTHER; /* ICMPv4 inside IPv6 or the reverse */
            return;
        }
        if (avail < 8) {
            if (l4len < 8)
                *rc = co_diag_set(d, CO_EDATA, "ICMP header needs 8 bytes, IP payload has %u",
                                  (unsigned)l4len);
            else if (cut_ok)
                out->headers_cut = 1;
            else
                *rc = co_diag_set(d, CO_EDATA, "ICMP header needs 8 bytes, frame has %zu",
                                  avail);
            out->kind = CO_PKT_ICMP_OTHER;
            return;
        }
        unsigned type = l4[0];
        unsigned req = icmp6 ? 128 : 8, rep = icmp6 ? 129 : 0;
        out->kind = type == req   ? CO_PKT_ECHO_REQUEST
                    : type == rep ? CO_PKT_ECHO_REPLY
                                  : CO_PKT_ICMP_OTHER;
        out->echo_id = rd16(l4 + 4);
        out->echo_seq = rd16(l4 + 6);
        out->hdr_bytes += 8;
        out->payload_bytes = l4len - 8;
        return;
    }
    default:
        out->kind = CO_PKT_IP_OTHER;
        return;
    }
}

int co_pkt_decode(int dlt, const uint8_t *p, size_t caplen, size_t wirelen, co_pkt *out,
                  co_diag *d)
{
    memset(out, 0, sizeof *out);
    if (wirelen < caplen)
        wirelen = caplen; /* a writer that left len < caplen: trust the bytes */
    size_t off;
    unsigned et;
    int rc = link_layer(dlt, p, caplen, wirelen, &off, &et, out, d);
    if (rc != CO_OK || out->headers_cut)
        return rc;
    if (et != ETH_IPV4 && et != ETH_IPV6)
        return CO_OK;
    const uint8_t *ip = p + off;
    size_t ipcap = caplen - off, ipwire = wirelen - off;
    int cut_ok = caplen < wirelen;
    size_t l4off;
    uint32_t l4len;
    if (et == ETH_IPV4) {
        if (ipcap < 20)
            return short_frame(out, caplen, wirelen, "IPv4 header", 20, ipcap, d);
        if ((ip[0] >> 4) != 4)
            return co_diag_set(d, CO_EDATA, "IPv4 packet has version %u (field version)",
                               ip[0] >> 4);
        unsigned ihl = (unsigned)(ip[0] & 15) * 4;
        if (ihl < 20)
            return co_diag_set(d, CO_EDATA, "IPv4 header length %u < 20 (field ihl)", ihl);
        uint32_t tot = rd16(ip + 2);
        /* TSO/GSO frames captured before segmentation may carry 0 here. */
        if (tot == 0)
            tot = (uint32_t)(ipwire > 65535 ? 65535 : ipwire);
        if (tot < ihl)
            return co_diag_set(d, CO_EDATA,
                               "IPv4 total length %u < header length %u (field total length)",
                               tot, ihl);
        if (tot > ipwire)
            return co_diag_set(d, CO_EDATA,
                               "IPv4 total length %u exceeds the %zu bytes of the frame "
                               "(field total length)",
                               tot, ipwire);
        out->family = 4;
        out->proto = ip[9];
        memcpy(out->src, ip + 12, 4);
        memcpy(out->dst, ip + 16, 4);
        out->ip_bytes = tot;
        out->hdr_bytes = ihl;
        out->kind = CO_PKT_IP_OTHER;
        if ((rd16(ip + 6) & 0x1FFF) != 0)
            return CO_OK; /* a later fragment: no transport header */
        if (ipcap < ihl)
            return short_frame(out, caplen, wirelen, "IPv4 options", ihl, ipcap, d);
        l4off = ihl;
        l4len = tot - ihl;
    } else {
        if (ipcap < 40)
            return short_frame(out, caplen, wirelen, "IPv6 header", 40, ipcap, d);
        if ((ip[0] >> 4) != 6)
            return co_diag_set(d, CO_EDATA, "IPv6 packet has version %u (field version)",
                               ip[0] >> 4);
        uint32_t plen = rd16(ip + 4);
        if (plen == 0) /* jumbogram or GSO: take the frame's length */
            plen = (uint32_t)(ipwire - 40);
        if (plen + 40 > ipwire)
            return co_diag_set(d, CO_EDATA,
                               "IPv6 payload length %u exceeds the %zu bytes of the frame "
                               "(field payload length)",
                               plen, ipwire - 40);
        out->family = 6;
        out->proto = ip[6];
        memcpy(out->src, ip + 8, 16);
        memcpy(out->dst, ip + 24, 16);
        out->ip_bytes = plen + 40;
        out->hdr_bytes = 40;
        out->kind = CO_PKT_IP_OTHER;
        l4off = 40;
        l4len = plen;
    }
    transport(ip + l4off, ipcap - l4off, l4len, out->family == 6, out, cut_ok, d, &rc);
    return rc;
}

const char *co_pkt_addr_str(int family, const uint8_t addr[16], char *buf, size_t len)
{
    if (inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}
