/* fuzz/fuzz_pcap.c: libFuzzer target for the capture reader and meters.
 *
 * Each input is used twice: as a whole capture file (libpcap's reader via
 * meter/pcapio.h, every packet into the downtime meter and linkstat, then
 * both finish), and as one raw frame for co_pkt_decode under a link type
 * chosen by the first byte. Any crash, leak or sanitizer report is a bug;
 * error returns are expected. Build and run: `make fuzz-pcap-run` (fuzz/fuzz.mk). */
#include <stddef.h>
#include <stdint.h>

#include <pcap/dlt.h>

#include "meter/linkstat.h"
#include "meter/pcapdecode.h"
#include "meter/pcapio.h"
#include "meter/pcapmeter.h"

struct both {
    co_dtm *m;
    co_ls *ls;
};

static int sink(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    struct both *b = ctx;
    co_pkt p;
    int rc = co_pkt_decode(pk->dlt, pk->data, pk->caplen, pk->wirelen, &p, d);
    if (rc != CO_OK)
        return rc;
    if ((rc = co_dtm_feed_pkt(b->m, pk->ts_ns, &p, d)) != CO_OK)
        return rc;
    /* Follow the port of the first TCP packet, as a user would. */
    if (b->ls == NULL && p.kind == CO_PKT_TCP && p.dport != 0) {
        co_ls_opts lo = {p.dport, 1 + pk->ts_ns % 100};
        if ((b->ls = co_ls_new(&lo)) == NULL)
            return CO_ENOMEM;
    }
    return b->ls ? co_ls_feed_pkt(b->ls, pk->ts_ns, &p, d) : CO_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    co_dtm_opts mo = {CO_DTM_AUTO, 0};
    struct both b = {co_dtm_new(&mo), NULL};
    co_diag d;
    co_diag_init(&d);
    if (co_pcap_read_mem(data, size, NULL, sink, &b, NULL, &d) == CO_OK) {
        co_dtm_result r;
        if (co_dtm_finish(b.m, &r, &d) == CO_OK)
            co_dtm_result_free(&r);
        co_ls_result lr;
        if (b.ls && co_ls_finish(b.ls, &lr, &d) == CO_OK)
            co_ls_result_free(&lr);
    }
    co_dtm_free(b.m);
    co_ls_free(b.ls);

    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
                               DLT_LOOP,   DLT_RAW,       DLT_IPV4,       DLT_IPV6};
    if (size >= 2) {
        co_pkt p;
        int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
        /* Second byte: extra wire length beyond the captured bytes (snaplen cut). */
        co_pkt_decode(dlt, data + 2, size - 2, size - 2 + data[1], &p, &d);
    }
    return 0;
}
