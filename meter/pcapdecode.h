/* meter/pcapdecode.h: pure decoding of captured packets' headers.
 *
 * Owns: turning one captured frame (bytes + link type) into the few header
 * fields the downtime meter and linkstat need: addresses, IP protocol, ICMP
 * echo id/seq, TCP/UDP ports, TCP sequence numbers, flags, payload length and
 * the MSS option. No libpcap I/O here (meter/pcapio.h does that), no
 * allocation, so unit tests and the fuzz target feed it bytes directly.
 *
 * Link types (DLT_* values of <pcap/dlt.h>): Ethernet (with 802.1Q/802.1ad
 * tags), Linux cooked v1 (SLL) and v2 (SLL2), raw IP (DLT_RAW, DLT_IPV4,
 * DLT_IPV6), BSD loopback (DLT_NULL in either byte order, DLT_LOOP).
 * Network layers: IPv4 and IPv6 (without walking extension headers).
 *
 * Lengths come from the IP header, not from the captured length, so
 * captures taken with a small snap length (-s 128) still give payload sizes. */
#ifndef CUTOVER_ENGINE_PCAPDECODE_H
#define CUTOVER_ENGINE_PCAPDECODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

enum co_pkt_kind {
    CO_PKT_NOT_IP = 0,   /* ARP, LLDP, ... : skipped by every consumer */
    CO_PKT_IP_OTHER,     /* IP, but no transport header we decode */
    CO_PKT_TCP,
    CO_PKT_UDP,
    CO_PKT_ECHO_REQUEST, /* ICMP type 8 / ICMPv6 type 128 */
    CO_PKT_ECHO_REPLY,   /* ICMP type 0 / ICMPv6 type 129 */
    CO_PKT_ICMP_OTHER,
};

#define CO_TCP_FIN 0x01
#define CO_TCP_SYN 0x02
#define CO_TCP_RST 0x04
#define CO_TCP_ACK 0x10

typedef struct co_pkt {
    int kind;                 /* enum co_pkt_kind */
    int family;               /* 4 or 6; 0 when not IP */
    uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes, rest zero */
    uint8_t proto;            /* IP protocol / IPv6 next header */
    uint32_t ip_bytes;        /* IP packet length from its header */
    uint32_t hdr_bytes;       /* IP + transport header bytes */
    uint16_t sport, dport;    /* TCP/UDP */
    uint16_t echo_id, echo_seq;
    uint32_t tcp_seq, tcp_ack;
    uint8_t tcp_flags;
    uint16_t tcp_mss;         /* MSS option of a SYN, 0 if absent */
    uint32_t payload_bytes;   /* transport payload per the IP length */
    int headers_cut;          /* 1: snap length cut the headers; only the
                                 fields decoded before the cut are valid */
} co_pkt;

/* Decode one frame. dlt is the capture's link type, caplen the bytes at p,
 * wirelen the frame's length on the wire (>= caplen). Fills *out and returns
 * CO_OK, also for frames that are not IP (kind CO_PKT_NOT_IP) or whose
 * headers the snap length cut (headers_cut = 1, only when caplen < wirelen).
 * Returns CO_EDATA with a message naming the field (e.g. "IPv4 header length
 * 12 < 20 (field ihl)") when a header contradicts itself or the frame is
 * shorter than its own headers; CO_EUSAGE for an unsupported link type.
 * The caller prefixes the message with the file and packet number. */
int co_pkt_decode(int dlt, const uint8_t *p, size_t caplen, size_t wirelen, co_pkt *out,
                  co_diag *d);

/* 1 if the link type is one co_pkt_decode understands. */
int co_pkt_dlt_supported(int dlt);

/* Render an address of family 4 or 6 into buf (at least 46 bytes). */
const char *co_pkt_addr_str(int family, const uint8_t addr[16], char *buf, size_t len);

#endif
