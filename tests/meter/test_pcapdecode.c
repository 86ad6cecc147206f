/* tests/meter/test_pcapdecode.c: header decoding for each link type, and
 * the meters' logic on hand-built packet sequences (edge cases real traffic
 * rarely produces on demand: seq jumps, wraps, open outages, malformed
 * headers). Real-traffic tests are test_pcapmeter.c and test_linkstat.c. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <string.h>

#include "meter/linkstat.h"
#include "meter/pcapdecode.h"
#include "meter/pcaplive.h"
#include "meter/pcapmeter.h"

/* IPv4 header (20 bytes) + ICMP echo (8) + 4 bytes payload. */
static size_t ipv4_echo(uint8_t *b, int reply, uint16_t id, uint16_t seq)
{
    memset(b, 0, 32);
    b[0] = 0x45;
    b[3] = 32;
    b[8] = 64;
    b[9] = 1;
    uint8_t a1[4] = {169, 254, 88, 1}, a2[4] = {169, 254, 88, 2};
    memcpy(b + 12, reply ? a2 : a1, 4);
    memcpy(b + 16, reply ? a1 : a2, 4);
    b[20] = reply ? 0 : 8;
    b[24] = (uint8_t)(id >> 8);
    b[25] = (uint8_t)id;
    b[26] = (uint8_t)(seq >> 8);
    b[27] = (uint8_t)seq;
    return 32;
}

/* Wrap an IPv4 packet in a link header; returns the frame length. */
static size_t wrap(int dlt, uint8_t *f, const uint8_t *ip, size_t n)
{
    size_t h = 0;
    memset(f, 0, 64);
    switch (dlt) {
    case DLT_EN10MB: h = 14; f[12] = 0x08; break;
    case DLT_LINUX_SLL: h = 16; f[14] = 0x08; break;
    case DLT_LINUX_SLL2: h = 20; f[0] = 0x08; break;
    case DLT_NULL: h = 4; f[0] = 2; break; /* little-endian AF_INET */
    case DLT_LOOP: h = 4; f[3] = 2; break;
    default: h = 0; break;
    }
    memcpy(f + h, ip, n);
    return h + n;
}

Test(pcapdecode, echo_over_every_link_type)
{
    int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV4};
    uint8_t ip[64], f[128];
    size_t n = ipv4_echo(ip, 0, 0x1234, 77);
    for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
        size_t fl = wrap(dlts[i], f, ip, n);
        co_pkt pk;
        co_diag d;
        co_diag_init(&d);
        cr_assert_eq(co_pkt_decode(dlts[i], f, fl, fl, &pk, &d), CO_OK, "dlt %d: %s", dlts[i],
                     d.msg);
        cr_assert_eq(pk.family, 4, "dlt %d", dlts[i]);
        cr_assert_eq(pk.kind, CO_PKT_ECHO_REQUEST, "dlt %d", dlts[i]);
        cr_assert_eq(pk.echo_id, 0x1234);
        cr_assert_eq(pk.echo_seq, 77);
        cr_assert_eq(pk.payload_bytes, 4);
        char a[64];
        cr_assert_str_eq(co_pkt_addr_str(4, pk.dst, a, sizeof a), "169.254.88.2");
    }
    /* DLT_NULL written on a big-endian host. */
    size_t fl = wrap(DLT_LOOP, f, ip, n);
    co_pkt pk;
    cr_assert_eq(co_pkt_decode(DLT_NULL, f, fl, fl, &pk, NULL), CO_OK);
    cr_assert_eq(pk.kind, CO_PKT_ECHO_REQUEST);
}

Test(pcapdecode, vlan_ipv6_echo_reply)
{
    uint8_t f[128] = {0};
    f[12] = 0x81; /* 802.1Q tag, then IPv6 */
    f[16] = 0x86;
    f[17] = 0xDD;
    uint8_t *ip = f + 18;
    ip[0] = 0x60;
    ip[5] = 8 + 8; /* payload length */
    ip[6] = 58;
    ip[23] = 1;    /* src ::1 */
    ip[39] = 2;    /* dst ::2 */
    ip[40] = 129;  /* echo reply */
    ip[44] = 0xAB;
    ip[47] = 5;
    size_t fl = 18 + 40 + 16;
    co_pkt pk;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_pkt_decode(DLT_EN10MB, f, fl, fl, &pk, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(pk.family, 6);
    cr_assert_eq(pk.kind, CO_PKT_ECHO_REPLY);
    cr_assert_eq(pk.echo_id, 0xAB00);
    cr_assert_eq(pk.echo_seq, 5);
    char a[64];
    cr_assert_str_eq(co_pkt_addr_str(6, pk.src, a, sizeof a), "::1");
}

Test(pcapdecode, tcp_syn_mss_and_snaplen_cut)
{
    uint8_t ip[64] = {0};
    ip[0] = 0x45;
    ip[2] = 0x05; /* total length 1500: a full-size segment */
    ip[3] = 0xDC;
    ip[9] = 6;
    uint8_t *t = ip + 20;
    t[0] = 0x1F; t[1] = 0x90; /* sport 8080 */
    t[2] = 0x11; t[3] = 0x5C; /* dport 4444 */
    t[7] = 9;                 /* seq 9 */
    t[12] = 6 << 4;           /* 24-byte header */
    t[13] = CO_TCP_SYN;
    t[20] = 2; t[21] = 4; t[22] = 0x05; t[23] = 0xB4; /* MSS 1460 */
    co_pkt pk;
    co_diag d;
    co_diag_init(&d);
    /* Snap length 44 of a 1500-byte packet: headers complete, payload cut. */
    cr_assert_eq(co_pkt_decode(DLT_RAW, ip, 44, 1500, &pk, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(pk.kind, CO_PKT_TCP);
    cr_assert_eq(pk.sport, 8080);
    cr_assert_eq(pk.dport, 4444);
    cr_assert_eq(pk.tcp_seq, 9);
    cr_assert_eq(pk.tcp_mss, 1460);
    cr_assert_eq(pk.payload_bytes, 1500 - 44);
    cr_assert_eq(pk.ip_bytes, 1500);
    cr_assert_eq(pk.headers_cut, 0);
    /* Snap length 30: TCP header cut, flagged but not an error. */
    cr_assert_eq(co_pkt_decode(DLT_RAW, ip, 30, 1500, &pk, &d), CO_OK);
    cr_assert_eq(pk.headers_cut, 1);
    /* The same 30 bytes as the whole frame: the IP length lies. */
    cr_assert_eq(co_pkt_decode(DLT_RAW, ip, 30, 30, &pk, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "total length"), "%s", d.msg);
}

Test(pcapdecode, malformed_headers_name_the_field)
{
    uint8_t ip[64], f[128];
    size_t n = ipv4_echo(ip, 0, 1, 1);
    struct {
        int off;
        uint8_t val;
        const char *field;
    } cases[] = {
        {0, 0x43, "ihl"},          /* header length 12 */
        {0, 0x55, "version"},      /* version 5 */
        {3, 10, "total length"},   /* shorter than the header */
        {3, 200, "total length"},  /* longer than the frame */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bad[64];
        memcpy(bad, ip, n);
        bad[cases[i].off] = cases[i].val;
        size_t fl = wrap(DLT_EN10MB, f, bad, n);
        co_pkt pk;
        co_diag d;
        co_diag_init(&d);
        cr_assert_eq(co_pkt_decode(DLT_EN10MB, f, fl, fl, &pk, &d), CO_EDATA, "case %zu", i);
        cr_assert(strstr(d.msg, cases[i].field), "case %zu: %s", i, d.msg);
    }
    co_diag d;
    co_diag_init(&d);
    co_pkt pk;
    cr_assert_eq(co_pkt_decode(DLT_EN10MB, f, 10, 10, &pk, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "Ethernet"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_pkt_decode(105, f, 40, 40, &pk, &d), CO_EUSAGE);
    /* Not IP (ARP) is fine and skipped. */
    memset(f, 0, 64);
    f[12] = 0x08;
    f[13] = 0x06;
    cr_assert_eq(co_pkt_decode(DLT_EN10MB, f, 60, 60, &pk, NULL), CO_OK);
    cr_assert_eq(pk.kind, CO_PKT_NOT_IP);
}

/* --- the meter's logic on built sequences ------------------------------ */

static void feed_echo(co_dtm *m, double t_ms, int reply, uint16_t seq)
{
    uint8_t ip[64];
    size_t n = ipv4_echo(ip, reply, 7, seq);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dtm_feed(m, (int64_t)(t_ms * 1e6) + 1700000000000000000LL, DLT_RAW, ip, n, n,
                             &d),
                 CO_OK, "%s", d.msg);
}

Test(pcapmeter_logic, lost_run_seq_jump_and_open_tail)
{
    co_dtm *m = co_dtm_new(NULL);
    /* seq 0..99 every 1 ms; 20..29 get no reply; 50..59 never captured
     * (seq jump); 95..99 unanswered at the end (capture ends 0.4 ms later:
     * too short to call an outage). Replies arrive 0.1 ms after. */
    for (int s = 0; s < 100; s++) {
        if (s >= 50 && s < 60)
            continue;
        feed_echo(m, s, 0, (uint16_t)s);
        if (!(s >= 20 && s < 30) && s < 95)
            feed_echo(m, s + 0.1, 1, (uint16_t)s);
    }
    co_dtm_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dtm_finish(m, &r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(r.mode, CO_DTM_PING);
    cr_assert_eq(r.n_outages, 2);
    cr_assert_float_eq(r.outages[0].duration_ms, 10.0, 1e-6);
    cr_assert_eq(r.outages[0].lost_packets, 10);
    /* Interpolated start of seq 50 between 49 and 60: 49 + 11/11 = 50. */
    cr_assert_float_eq(r.outages[1].duration_ms, 10.0, 1e-6);
    cr_assert_eq(r.outages[1].lost_packets, 10);
    cr_assert_float_eq(r.longest_outage_ms, 10.0, 1e-6);
    cr_assert_eq(r.lost_requests, 25);
    co_dtm_result_free(&r);
    co_dtm_free(m);
}

Test(pcapmeter_logic, open_outage_at_the_end_and_seq_wrap)
{
    co_dtm *m = co_dtm_new(NULL);
    /* seq wraps 65530 -> 9; from 65535+... everything after t=40 is lost. */
    for (int i = 0; i < 80; i++) {
        uint16_t s = (uint16_t)(65530 + i);
        feed_echo(m, i, 0, s);
        if (i < 40)
            feed_echo(m, i + 0.2, 1, s);
    }
    co_dtm_result r;
    cr_assert_eq(co_dtm_finish(m, &r, NULL), CO_OK);
    cr_assert_eq(r.n_outages, 1);
    cr_assert_eq(r.outages[0].open, 1);
    cr_assert_float_eq(r.outages[0].duration_ms, 39.0, 1e-6);
    cr_assert_eq(r.outages[0].lost_packets, 40);
    co_dtm_result_free(&r);
    co_dtm_free(m);
}

Test(pcapmeter_logic, gap_threshold_default_and_flag)
{
    /* A heartbeat every 1 ms with silences of 3 ms and 20 ms. */
    for (int pass = 0; pass < 2; pass++) {
        co_dtm_opts o = {CO_DTM_GAP, pass ? 2.5 : 0};
        co_dtm *m = co_dtm_new(&o);
        double t = 0;
        for (int i = 0; i < 200; i++) {
            uint8_t ip[64];
            size_t n = ipv4_echo(ip, 1, 1, (uint16_t)i);
            t += i == 50 ? 3 : i == 120 ? 20 : 1;
            cr_assert_eq(co_dtm_feed(m, (int64_t)(t * 1e6), DLT_RAW, ip, n, n, NULL), CO_OK);
        }
        co_dtm_result r;
        cr_assert_eq(co_dtm_finish(m, &r, NULL), CO_OK);
        cr_assert_float_eq(r.median_interval_ms, 1.0, 1e-9);
        /* Default threshold 5 ms sees only the 20 ms silence; --gap 2.5ms both. */
        cr_assert_eq(r.n_outages, pass ? 2 : 1);
        cr_assert_float_eq(r.longest_outage_ms, 19.0, 1e-6);
        cr_assert_eq(r.outages[r.longest_index].lost_packets, 19);
        co_dtm_result_free(&r);
        co_dtm_free(m);
    }
}

Test(pcapmeter_logic, nothing_to_measure)
{
    co_dtm *m = co_dtm_new(NULL);
    co_dtm_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dtm_finish(m, &r, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "no packets"), "%s", d.msg);
    co_dtm_free(m);
    co_dtm_opts o = {CO_DTM_PING, 0};
    m = co_dtm_new(&o);
    uint8_t ip[64];
    size_t n = ipv4_echo(ip, 1, 1, 1);
    co_dtm_feed(m, 0, DLT_RAW, ip, n, n, NULL);
    co_diag_init(&d);
    cr_assert_eq(co_dtm_finish(m, &r, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "no ICMP echo requests"), "%s", d.msg);
    co_dtm_free(m);
}

/* --- linkstat's sequence accounting ------------------------------------ */

static void feed_tcp(co_ls *s, double t_ms, int fwd, uint32_t seq, uint32_t len, uint8_t flags,
                     uint16_t mss)
{
    co_pkt pk = {0};
    pk.kind = CO_PKT_TCP;
    pk.family = 4;
    pk.src[0] = fwd ? 10 : 11;
    pk.dst[0] = fwd ? 11 : 10;
    pk.sport = fwd ? 50000 : 4444;
    pk.dport = fwd ? 4444 : 50000;
    pk.tcp_seq = seq;
    pk.tcp_flags = flags;
    pk.tcp_mss = mss;
    pk.payload_bytes = len;
    pk.ip_bytes = len + 52;
    cr_assert_eq(co_ls_feed_pkt(s, (int64_t)(t_ms * 1e6), &pk, NULL), CO_OK);
}

Test(linkstat_logic, retransmissions_wrap_and_bins)
{
    co_ls_opts o = {4444, 10};
    co_ls *s = co_ls_new(&o);
    uint32_t isn = 0xFFFFF000u; /* sequence space wraps inside the stream */
    feed_tcp(s, 0, 1, isn, 0, CO_TCP_SYN, 1460);
    feed_tcp(s, 0.1, 0, 777, 0, CO_TCP_SYN | CO_TCP_ACK, 1400);
    uint32_t next = isn + 1;
    for (int i = 0; i < 10; i++) { /* 10 x 1448 bytes, 1 ms apart */
        feed_tcp(s, 1 + i, 1, next, 1448, CO_TCP_ACK, 0);
        next += 1448;
    }
    feed_tcp(s, 12, 1, next - 1448, 1448, CO_TCP_ACK, 0);       /* full retransmit */
    feed_tcp(s, 13, 1, next - 100, 600, CO_TCP_ACK, 0);         /* 100 old + 500 new */
    feed_tcp(s, 25, 0, 778, 10, CO_TCP_ACK, 0);                 /* reply data */
    co_ls_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_ls_finish(s, &r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(r.new_bytes, 10 * 1448 + 500);
    cr_assert_eq(r.retrans_bytes, 1448 + 100);
    cr_assert_eq(r.retrans_segments, 2);
    cr_assert_eq(r.payload_bytes, 11 * 1448 + 600);
    cr_assert_eq(r.reverse_payload_bytes, 10);
    cr_assert_eq(r.syn_mss_bytes, 1400); /* the smaller of both SYNs */
    cr_assert_eq(r.mtu_estimate_bytes, 1440);
    cr_assert_eq(r.offload_suspected, 1);
    cr_assert_eq(r.max_segment_bytes, 1448);
    cr_assert_eq(r.connections, 1);
    cr_assert_str_eq(r.src, "10.0.0.0");
    cr_assert_eq(r.n_bins, 3);
    cr_assert_eq(r.bins[0].new_bytes, 9 * 1448);
    cr_assert_float_eq(r.bins[0].bytes_per_s, 9 * 1448 / 0.010, 1e-6);
    co_ls_result_free(&r);
    co_ls_free(s);
}

Test(pcaplive, parse_measure_spec)
{
    char i[16], f[64];
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dtm_parse_measure("pcap:eth0,icmp or (udp and port 5,6)", i, sizeof i, f,
                                      sizeof f, &d),
                 CO_OK);
    cr_assert_str_eq(i, "eth0");
    cr_assert_str_eq(f, "icmp or (udp and port 5,6)");
    const char *bad[] = {"eth0,icmp", "pcap:eth0", "pcap:,icmp", "pcap:eth0,",
                         "pcap:averyveryverylonginterfacename,icmp"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        co_diag_init(&d);
        cr_assert_eq(co_dtm_parse_measure(bad[k], i, sizeof i, f, sizeof f, &d), CO_EUSAGE,
                     "%s", bad[k]);
        cr_assert(strstr(d.msg, "--measure"), "%s", d.msg);
    }
}

Test(pcapmeter_logic, gap_below_the_median)
{
    /* --gap 0.5ms on a 1 ms flow with one 3 ms silence: every interval is
     * above the threshold; outages start at previous + 0.5 ms, never end
     * before they start, and lost counts stay sane. */
    co_dtm_opts o = {CO_DTM_GAP, 0.5};
    co_dtm *m = co_dtm_new(&o);
    uint8_t ip[64];
    size_t n = ipv4_echo(ip, 1, 1, 1);
    double t = 0;
    for (int i = 0; i < 20; i++) {
        t += i == 10 ? 3 : 1;
        co_dtm_feed(m, (int64_t)(t * 1e6), DLT_RAW, ip, n, n, NULL);
    }
    co_dtm_result r;
    cr_assert_eq(co_dtm_finish(m, &r, NULL), CO_OK);
    cr_assert_eq(r.n_outages, 19);
    for (size_t i = 0; i < r.n_outages; i++) {
        cr_assert_geq(r.outages[i].end_ns, r.outages[i].start_ns);
        cr_assert_leq(r.outages[i].lost_packets, 2);
    }
    cr_assert_float_eq(r.longest_outage_ms, 2.5, 1e-6);
    cr_assert_eq(r.outages[r.longest_index].lost_packets, 2);
    co_dtm_result_free(&r);
    co_dtm_free(m);
}

Test(linkstat_logic, reordered_capture_and_holes)
{
    co_ls_opts o = {4444, 100};
    co_ls *s = co_ls_new(&o);
    /* Segments 0..9 of 1000 bytes; the capture has 3 before 2 (same time
     * order as seen), misses 6 entirely, and 8 arrives twice. */
    uint32_t base = 5000;
    int order[] = {0, 1, 3, 2, 4, 5, 7, 8, 8, 9};
    for (int i = 0; i < 10; i++)
        feed_tcp(s, i, 1, base + 1000u * (uint32_t)order[i], 1000, CO_TCP_ACK, 0);
    co_ls_result r;
    cr_assert_eq(co_ls_finish(s, &r, NULL), CO_OK);
    cr_assert_eq(r.new_bytes, 9000);
    cr_assert_eq(r.retrans_bytes, 1000);
    cr_assert_eq(r.retrans_segments, 1);
    cr_assert_eq(r.uncaptured_bytes, 1000);
    co_ls_result_free(&r);
    co_ls_free(s);
    /* A segment filling the middle of a hole splits it. */
    s = co_ls_new(&o);
    feed_tcp(s, 0, 1, 0, 100, CO_TCP_ACK, 0);
    feed_tcp(s, 1, 1, 1000, 100, CO_TCP_ACK, 0); /* hole 100..1000 */
    feed_tcp(s, 2, 1, 400, 100, CO_TCP_ACK, 0);  /* fills 400..500 */
    feed_tcp(s, 3, 1, 350, 200, CO_TCP_ACK, 0);  /* 350..400, 500..550 new; 400..500 again */
    cr_assert_eq(co_ls_finish(s, &r, NULL), CO_OK);
    cr_assert_eq(r.new_bytes, 100 + 100 + 100 + 100);
    cr_assert_eq(r.retrans_bytes, 100);
    cr_assert_eq(r.uncaptured_bytes, 900 - 200);
    co_ls_result_free(&r);
    co_ls_free(s);
}

Test(pcapmeter_logic, flow_that_never_comes_back)
{
    /* A 1 ms flow that stops at 50 ms in a capture that ends at 300 ms. */
    for (int mode = CO_DTM_PING; mode <= CO_DTM_GAP; mode++) {
        co_dtm_opts o = {mode, 0};
        co_dtm *m = co_dtm_new(&o);
        for (int i = 0; i < 50; i++) {
            feed_echo(m, i, 0, (uint16_t)i);
            if (mode == CO_DTM_PING && i < 40) /* gap mode: one way only */
                feed_echo(m, i + 0.1, 1, (uint16_t)i);
        }
        co_dtm_set_end(m, 1700000000000000000LL + 300 * 1000000LL);
        co_dtm_result r;
        cr_assert_eq(co_dtm_finish(m, &r, NULL), CO_OK);
        cr_assert_eq(r.n_outages, 1, "mode %d", mode);
        cr_assert_eq(r.outages[0].open, 1);
        cr_assert_float_eq(r.capture_ms, 300.0, 1e-6);
        /* ping: from request 40 to the end; gap: from 49 + the median. */
        cr_assert_float_eq(r.longest_outage_ms, mode == CO_DTM_PING ? 260.0 : 300 - 49 - 1.0,
                           1e-3, "mode %d: %.6f", mode, r.longest_outage_ms);
        co_dtm_result_free(&r);
        co_dtm_free(m);
    }
}
