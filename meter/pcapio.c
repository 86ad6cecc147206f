/* meter/pcapio.c: libpcap file and live input (see pcapio.h). */
#include "meter/pcapio.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "meter/pcapdecode.h"
#include "util/clock.h"

static int64_t ts_to_ns(const struct timeval *tv, int nano)
{
    return (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * (nano ? 1 : 1000);
}

/* Compile filter for p; offline captures filter in user space (so packet
 * numbers stay file positions), live ones in the kernel. */
static int compile_filter(pcap_t *p, const char *filter, struct bpf_program *prog, co_diag *d)
{
    if (pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
        return co_diag_set(d, CO_EUSAGE, "--filter '%s': %s", filter, pcap_geterr(p));
    return CO_OK;
}

static int read_offline(pcap_t *p, const char *name, const char *filter, co_pcap_sink sink,
                        void *ctx, co_pcap_stats *stats, co_diag *d)
{
    int dlt = pcap_datalink(p);
    if (stats)
        stats->dlt = dlt;
    if (!co_pkt_dlt_supported(dlt))
        return co_diag_set(d, CO_EDATA,
                           "%s: link type %s (%d) is not supported (Ethernet, Linux cooked, "
                           "raw IP and BSD loopback are)",
                           name, pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt)
                                                                : "?",
                           dlt);
    int nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
    struct bpf_program prog;
    int have_prog = 0;
    if (filter && *filter) {
        int rc = compile_filter(p, filter, &prog, d);
        if (rc != CO_OK)
            return rc;
        have_prog = 1;
    }
    uint64_t pos = 0, delivered = 0;
    int rc = CO_OK;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(p, &h, &data);
        if (r == PCAP_ERROR_BREAK)
            break;
        pos++;
        if (r != 1) {
            rc = co_diag_set(d, CO_EDATA, "%s: packet %llu: %s", name, (unsigned long long)pos,
                             pcap_geterr(p));
            break;
        }
        int64_t ts = ts_to_ns(&h->ts, nano);
        if (stats && ts > stats->end_ns)
            stats->end_ns = ts;
        if (have_prog && !pcap_offline_filter(&prog, h, data))
            continue;
        co_pcap_pkt pk = {ts_to_ns(&h->ts, nano), dlt, data, h->caplen, h->len, pos};
        delivered++;
        rc = sink(ctx, &pk, d);
        if (rc != CO_OK) {
            co_diag_prefix(d, "%s: packet %llu", name, (unsigned long long)pos);
            break;
        }
    }
    if (have_prog)
        pcap_freecode(&prog);
    if (stats)
        stats->packets = delivered;
    return rc;
}

int co_pcap_read_file(const char *path, const char *filter, co_pcap_sink sink, void *ctx,
                      co_pcap_stats *stats, co_diag *d)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return co_diag_set(d, CO_ENOINPUT, "--pcap: cannot open '%s': %s", path,
                           strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return co_diag_set(d, CO_ENOINPUT, "--pcap: '%s' is a directory", path);
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        fclose(f);
        return co_diag_set(d, CO_EDATA, "%s: the file is empty, not a capture", path);
    }
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (p == NULL) {
        fclose(f); /* libpcap leaves the FILE open when it fails */
        return co_diag_set(d, CO_EDATA, "%s: not a readable capture: %s", path, errbuf);
    }
    int rc = read_offline(p, path, filter, sink, ctx, stats, d);
    pcap_close(p); /* also closes f */
    return rc;
}

int co_pcap_read_mem(const uint8_t *buf, size_t len, const char *filter, co_pcap_sink sink,
                     void *ctx, co_pcap_stats *stats, co_diag *d)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (len == 0)
        return co_diag_set(d, CO_EDATA, "capture is empty");
    FILE *f = fmemopen((void *)buf, len, "rb");
    if (f == NULL)
        return co_diag_set(d, CO_EOS, "fmemopen: %s", strerror(errno));
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (p == NULL) {
        fclose(f);
        return co_diag_set(d, CO_EDATA, "not a readable capture: %s", errbuf);
    }
    int rc = read_offline(p, "capture", filter, sink, ctx, stats, d);
    pcap_close(p);
    return rc;
}

/* State of one live capture, passed through pcap_dispatch's user pointer. */
struct live_ctx {
    co_pcap_sink sink;
    void *ctx;
    co_diag *d;
    pcap_t *p;
    pcap_dumper_t *dump;
    int dlt, nano, rc;
    uint64_t n;
};

static void live_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct live_ctx *lc = (struct live_ctx *)user;
    if (lc->rc != CO_OK)
        return;
    if (lc->dump)
        pcap_dump((u_char *)lc->dump, h, data);
    lc->n++;
    co_pcap_pkt pk = {ts_to_ns(&h->ts, lc->nano), lc->dlt, data, h->caplen, h->len, lc->n};
    lc->rc = lc->sink(lc->ctx, &pk, lc->d);
    if (lc->rc != CO_OK) {
        co_diag_prefix(lc->d, "packet %llu", (unsigned long long)lc->n);
        pcap_breakloop(lc->p);
    }
}

int co_pcap_read_live(const co_pcap_live_opts *o, co_pcap_sink sink, void *ctx,
                      co_pcap_stats *stats, co_diag *d)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(o->iface, errbuf);
    if (p == NULL)
        return co_diag_set(d, CO_EUNAVAIL, "--iface %s: %s", o->iface, errbuf);
    /* Headers are all the meters need; a small snap length also keeps many
     * packets in the kernel ring (fixed-size slots) while we are not running. */
    pcap_set_snaplen(p, o->snaplen > 0 ? o->snaplen : 256);
    pcap_set_promisc(p, 0);
    pcap_set_timeout(p, 10);
    pcap_set_immediate_mode(p, 1); /* timestamps matter, batching does not */
    pcap_set_buffer_size(p, 32 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); /* best effort */
    int r = pcap_activate(p);
    if (r < 0) {
        int code = r == PCAP_ERROR_NO_SUCH_DEVICE  ? CO_ENOINPUT
                   : r == PCAP_ERROR_PERM_DENIED ? CO_ENOPERM
                                                 : CO_EUNAVAIL;
        co_diag_set(d, code, "--iface %s: %s%s", o->iface,
                    r == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface" : pcap_geterr(p),
                    r == PCAP_ERROR_PERM_DENIED ? " (capturing needs CAP_NET_RAW)" : "");
        pcap_close(p);
        return code;
    }
    if (o->dlt && pcap_set_datalink(p, o->dlt) != 0) {
        co_diag_set(d, CO_EUNAVAIL, "--iface %s: link type %d: %s", o->iface, o->dlt,
                    pcap_geterr(p));
        pcap_close(p);
        return CO_EUNAVAIL;
    }
    struct live_ctx lc = {sink, ctx, d, p, NULL, pcap_datalink(p),
                          pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO, CO_OK, 0};
    if (stats)
        stats->dlt = lc.dlt;
    int rc = CO_OK;
    struct bpf_program prog;
    int have_prog = 0;
    if (!co_pkt_dlt_supported(lc.dlt)) {
        rc = co_diag_set(d, CO_EUNAVAIL, "--iface %s: link type %d is not supported", o->iface,
                         lc.dlt);
        goto out;
    }
    if (o->filter && *o->filter) {
        if ((rc = compile_filter(p, o->filter, &prog, d)) != CO_OK)
            goto out;
        have_prog = 1;
        if (pcap_setfilter(p, &prog) != 0) {
            rc = co_diag_set(d, CO_EUSAGE, "--filter '%s': %s", o->filter, pcap_geterr(p));
            goto out;
        }
    }
    if (o->save_path) {
        lc.dump = pcap_dump_open(p, o->save_path);
        if (lc.dump == NULL) {
            rc = co_diag_set(d, CO_ECANTCREAT, "--write: %s", pcap_geterr(p));
            goto out;
        }
    }
    if (pcap_setnonblock(p, 1, errbuf) != 0) {
        rc = co_diag_set(d, CO_EIO, "--iface %s: %s", o->iface, errbuf);
        goto out;
    }
    int fd = pcap_get_selectable_fd(p);
    if (o->on_ready)
        o->on_ready(ctx);
    double end = co_clock_ms() + o->duration_ms;
    for (;;) {
        double left = end - co_clock_ms();
        /* Atomic load: the flag may be set by a signal handler or another thread. */
        if (left <= 0 || (o->stop && __atomic_load_n(o->stop, __ATOMIC_ACQUIRE)))
            break;
        struct pollfd pfd = {fd, POLLIN, 0};
        /* Short polls keep the deadline and the stop flag responsive. */
        int wait = left > 50 ? 50 : (int)left + 1;
        if (fd >= 0 && poll(&pfd, 1, wait) < 0 && errno != EINTR) {
            rc = co_diag_set(d, CO_EIO, "--iface %s: poll: %s", o->iface, strerror(errno));
            break;
        }
        int n = pcap_dispatch(p, -1, live_cb, (u_char *)&lc);
        if (lc.rc != CO_OK) {
            rc = lc.rc;
            break;
        }
        if (n == PCAP_ERROR) {
            rc = co_diag_set(d, CO_EIO, "--iface %s: %s", o->iface, pcap_geterr(p));
            break;
        }
    }
    /* Drain what the kernel already holds (a loaded machine may leave the
     * reader behind by many ring blocks) so the last packets count; bounded
     * so that a flood cannot keep us here. */
    double drain_end = co_clock_ms() + 2000;
    while (rc == CO_OK && co_clock_ms() < drain_end) {
        int n = pcap_dispatch(p, -1, live_cb, (u_char *)&lc);
        rc = lc.rc;
        if (n <= 0)
            break;
    }
    struct pcap_stat ps;
    if (stats && pcap_stats(p, &ps) == 0)
        stats->kernel_drops = ps.ps_drop;
    if (stats) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        stats->end_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    }
out:
    if (stats)
        stats->packets = lc.n;
    if (lc.dump) {
        if (pcap_dump_flush(lc.dump) != 0 && rc == CO_OK)
            rc = co_diag_set(d, CO_EIO, "--write %s: flush failed", o->save_path);
        pcap_dump_close(lc.dump);
    }
    if (have_prog)
        pcap_freecode(&prog);
    pcap_close(p);
    return rc;
}
