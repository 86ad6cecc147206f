/* bench/bench_pcapmeter.c: speed of the capture path (libpcap reader +
 * decoder + downtime meter, and + linkstat).
 *
 * Builds in memory a pcap of a 1 ms ping for 10 minutes (1.2 M packets,
 * one 100 ms outage a minute) and of a 2 GiB migration stream (about 1.5 M
 * 1448-byte segments and their ACKs), then times the analysis. Targets: a
 * 10-minute 1 ms ping capture analysed in under 2 s (>= 600 k packets/s),
 * linkstat at >= 1 M packets/s, both per second of CPU time (the build
 * machine is shared; wall time is printed too). Exits 1 when a target is
 * missed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meter/linkstat.h"
#include "meter/pcapio.h"
#include "meter/pcapmeter.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->cap + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void file_header(struct buf *b)
{
    uint32_t h[6] = {0xa1b23c4d /* ns */, 0x00040002, 0, 0, 128, 1 /* Ethernet */};
    put(b, h, sizeof h);
}

/* One Ethernet+IPv4 record; payload beyond the 128-byte snap is not stored. */
static void record(struct buf *b, uint64_t ts_ns, const uint8_t *ipv4, size_t hdr, size_t wire)
{
    uint8_t f[128] = {0};
    f[12] = 0x08;
    memcpy(f + 14, ipv4, hdr);
    size_t cap = 14 + hdr;
    uint32_t rh[4] = {(uint32_t)(ts_ns / 1000000000), (uint32_t)(ts_ns % 1000000000),
                      (uint32_t)cap, (uint32_t)(14 + wire)};
    put(b, rh, sizeof rh);
    put(b, f, cap);
}

static void ipv4(uint8_t *ip, uint8_t proto, uint32_t tot, int rev)
{
    memset(ip, 0, 60);
    ip[0] = 0x45;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[9] = proto;
    ip[12] = 10; ip[15] = rev ? 2 : 1;
    ip[16] = 10; ip[19] = rev ? 1 : 2;
}

static int sink_dtm(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    return co_dtm_feed(ctx, pk->ts_ns, pk->dlt, pk->data, pk->caplen, pk->wirelen, d);
}

static int sink_ls(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    return co_ls_feed(ctx, pk->ts_ns, pk->dlt, pk->data, pk->caplen, pk->wirelen, d);
}

int main(void)
{
    int fail = 0;
    struct buf b = {0};
    file_header(&b);
    uint64_t t0 = 1700000000ull * 1000000000ull;
    size_t npkt = 0;
    for (uint32_t s = 0; s < 600000; s++) {
        uint8_t ip[60];
        uint64_t t = t0 + (uint64_t)s * 1000000;
        for (int rep = 0; rep < 2; rep++) {
            if (rep && s % 60000 < 100)
                continue; /* 100 ms without replies each minute */
            ipv4(ip, 1, 84, rep);
            ip[20] = rep ? 0 : 8;
            ip[26] = (uint8_t)(s >> 8);
            ip[27] = (uint8_t)s;
            record(&b, t + (uint64_t)rep * 80000, ip, 28, 84);
            npkt++;
        }
    }
    co_dtm *m = co_dtm_new(NULL);
    co_diag d;
    co_diag_init(&d);
    double a = now_s(), ac = cpu_s();
    int rc = co_pcap_read_mem(b.p, b.n, NULL, sink_dtm, m, NULL, &d);
    co_dtm_result r;
    if (rc == CO_OK)
        rc = co_dtm_finish(m, &r, &d);
    double el = now_s() - a, cpu = cpu_s() - ac;
    if (rc != CO_OK) {
        fprintf(stderr, "bench_pcapmeter: %s\n", d.msg);
        return 1;
    }
    double pps = (double)npkt / cpu;
    printf("downtime: %zu packets (10 min 1 ms ping) in %.3f s CPU (%.3f s wall) = %.0f "
           "packets/s, %zu outages, longest %.1f ms (target >= 600000 packets/s)\n",
           npkt, cpu, el, pps, r.n_outages, r.longest_outage_ms);
    fail |= pps < 600000 || r.n_outages != 10;
    co_dtm_result_free(&r);
    co_dtm_free(m);

    b.n = 0;
    file_header(&b);
    npkt = 0;
    uint32_t seq = 1000;
    for (uint32_t i = 0; i < 1500000; i++) {
        uint8_t ip[60];
        uint64_t t = t0 + (uint64_t)i * 1000; /* 1448 B per us: ~1.4 GB/s */
        ipv4(ip, 6, 1500, 0);
        uint8_t *tcp = ip + 20;
        tcp[0] = 0xC3; tcp[1] = 0x50; /* sport 50000 */
        tcp[2] = 0x11; tcp[3] = 0x5C; /* dport 4444 */
        tcp[4] = (uint8_t)(seq >> 24);
        tcp[5] = (uint8_t)(seq >> 16);
        tcp[6] = (uint8_t)(seq >> 8);
        tcp[7] = (uint8_t)seq;
        tcp[12] = 0x50; tcp[13] = 0x10; /* 20-byte header, ACK */
        record(&b, t, ip, 40, 1500);
        seq += 1460;
        npkt++;
        if (i % 2 == 0) { /* delayed ACK every other segment */
            ipv4(ip, 6, 40, 1);
            uint8_t *ack = ip + 20;
            ack[0] = 0x11; ack[1] = 0x5C;
            ack[2] = 0xC3; ack[3] = 0x50;
            ack[12] = 0x50; ack[13] = 0x10;
            record(&b, t + 500, ip, 40, 40);
            npkt++;
        }
    }
    co_ls_opts lo = {4444, 100};
    co_ls *s = co_ls_new(&lo);
    a = now_s();
    ac = cpu_s();
    rc = co_pcap_read_mem(b.p, b.n, NULL, sink_ls, s, NULL, &d);
    co_ls_result lr;
    if (rc == CO_OK)
        rc = co_ls_finish(s, &lr, &d);
    el = now_s() - a;
    cpu = cpu_s() - ac;
    if (rc != CO_OK) {
        fprintf(stderr, "bench_pcapmeter: %s\n", d.msg);
        return 1;
    }
    pps = (double)npkt / cpu;
    printf("linkstat: %zu packets (%.2f GB stream) in %.3f s CPU (%.3f s wall) = %.0f "
           "packets/s (target >= 1000000 packets/s)\n",
           npkt, (double)lr.new_bytes / 1e9, cpu, el, pps);
    fail |= pps < 1000000 || lr.new_bytes != 1500000ull * 1460;
    co_ls_result_free(&lr);
    co_ls_free(s);
    free(b.p);
    return fail;
}
