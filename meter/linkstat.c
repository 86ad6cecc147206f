/* meter/linkstat.c: TCP stream statistics (see linkstat.h). */
#include "meter/linkstat.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "meter/flowtab.h"

/* More connections than this on one port is not a migration; the rest
 * are counted in no connection (their packets are skipped). */
#define MAX_CONNS 65536

/* A connection's key (its first CONN_KEY_BYTES bytes, no padding inside),
 * then its counts. */
struct conn {
    uint8_t cli[16], srv[16]; /* srv: the side that owns the port */
    uint16_t cli_port;
    uint8_t family;           /* 4 or 6 */
    uint64_t payload[2];      /* by direction: 0 client->server, 1 back */
};
#define CONN_KEY_BYTES (offsetof(struct conn, family) + sizeof(uint8_t))

struct seg {
    int64_t ts_ns;
    uint64_t idx; /* capture order, to keep the sort stable */
    uint32_t conn;
    uint32_t seq;
    uint32_t len;
    uint32_t ip_bytes;
    uint16_t mss;
    uint8_t dir, flags;
};

struct co_ls {
    co_ls_opts opts;
    co_ftab conns;   /* struct conn, keyed by (cli, srv, cli_port, family) */
    size_t last_hit; /* the connection of the previous packet */
    struct seg *segs;
    size_t n_segs, cap_segs;
    uint64_t cut_packets, skipped_conns;
};

co_ls *co_ls_new(const co_ls_opts *opts)
{
    if (opts == NULL || opts->port == 0)
        return NULL;
    co_ls *s = calloc(1, sizeof *s);
    if (s) {
        s->opts = *opts;
        if (s->opts.interval_ms <= 0)
            s->opts.interval_ms = 100;
        co_ftab_init(&s->conns, sizeof(struct conn), CONN_KEY_BYTES, MAX_CONNS);
    }
    return s;
}

void co_ls_free(co_ls *s)
{
    if (s == NULL)
        return;
    co_ftab_free(&s->conns);
    free(s->segs);
    free(s);
}

/* The segment array doubles from this many elements. */
#define FIRST_SEGS 256

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    return co_ftab_grow(arr, cap, n, elem, FIRST_SEGS);
}

int co_ls_feed_pkt(co_ls *s, int64_t ts_ns, const co_pkt *pk, co_diag *d)
{
    if (pk->kind != CO_PKT_TCP) {
        if (pk->headers_cut && pk->family)
            s->cut_packets++;
        return CO_OK;
    }
    uint16_t port = s->opts.port;
    if (pk->dport != port && pk->sport != port)
        return CO_OK;
    int dir = pk->dport == port ? 0 : 1;
    const uint8_t *cli = dir == 0 ? pk->src : pk->dst, *srv = dir == 0 ? pk->dst : pk->src;
    uint16_t cport = dir == 0 ? pk->sport : pk->dport;
    struct conn key;
    memset(&key, 0, sizeof key);
    memcpy(key.cli, cli, 16);
    memcpy(key.srv, srv, 16);
    key.cli_port = cport;
    key.family = (uint8_t)pk->family;
    size_t ci;
    /* most packets belong to the connection of the one before */
    if (s->last_hit < s->conns.n &&
        memcmp(co_ftab_item(&s->conns, s->last_hit), &key, CONN_KEY_BYTES) == 0) {
        ci = s->last_hit;
    } else {
        long i = co_ftab_get(&s->conns, &key, NULL);
        if (i == CO_EBUSY) {
            s->skipped_conns++;
            return CO_OK;
        }
        if (i < 0)
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        ci = (size_t)i;
    }
    s->last_hit = ci;
    ((struct conn *)co_ftab_item(&s->conns, ci))->payload[dir] += pk->payload_bytes;
    if (grow((void **)&s->segs, &s->cap_segs, s->n_segs, sizeof *s->segs))
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    s->segs[s->n_segs] = (struct seg){ts_ns,          s->n_segs,        (uint32_t)ci,
                                      pk->tcp_seq,    pk->payload_bytes, pk->ip_bytes,
                                      pk->tcp_mss,    (uint8_t)dir,      pk->tcp_flags};
    s->n_segs++;
    return CO_OK;
}

int co_ls_feed(co_ls *s, int64_t ts_ns, int dlt, const uint8_t *p, size_t caplen,
               size_t wirelen, co_diag *d)
{
    co_pkt pk;
    int rc = co_pkt_decode(dlt, p, caplen, wirelen, &pk, d);
    if (rc != CO_OK)
        return rc;
    return co_ls_feed_pkt(s, ts_ns, &pk, d);
}

static int cmp_seg(const void *xp, const void *yp)
{
    const struct seg *x = xp, *y = yp;
    int c = (x->ts_ns > y->ts_ns) - (x->ts_ns < y->ts_ns);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Per connection, data direction: how far its sequence space has got, in
 * 64-bit positions unwrapped from the 32-bit sequence numbers, and the
 * holes below the top that the capture has not seen filled yet (segments
 * captured out of order, or lost before the capture point). A segment is
 * new where it extends the top or fills a hole, retransmitted elsewhere. */
#define MAX_HOLES 32
struct hole {
    uint64_t s, e;
};
struct track {
    int data_dir;
    int started;
    uint64_t next;   /* one past the highest position seen */
    uint32_t next32; /* the same as a sequence number */
    struct hole holes[MAX_HOLES];
    int nholes;
};

static void track_start(struct track *t, uint32_t seq)
{
    t->started = 1;
    t->next = 1ull << 40; /* room below for positions before the first */
    t->next32 = seq;
    t->nholes = 0;
}

/* Account one data segment; returns the new bytes, the rest is retransmitted. */
static uint64_t track_segment(struct track *t, uint32_t seq, uint32_t len)
{
    if (!t->started)
        track_start(t, seq);
    uint64_t s = t->next + (uint64_t)(int64_t)(int32_t)(seq - t->next32);
    uint64_t e = s + len, top = t->next, fresh = 0;
    if (e > top) {
        uint64_t from = s > top ? s : top;
        fresh += e - from;
        if (s > top) { /* skipped space: a hole, oldest forgotten when full */
            if (t->nholes == MAX_HOLES) {
                memmove(t->holes, t->holes + 1, (MAX_HOLES - 1) * sizeof *t->holes);
                t->nholes--;
            }
            t->holes[t->nholes++] = (struct hole){top, s};
        }
        t->next = e;
        t->next32 = seq + len;
    }
    uint64_t be = e < top ? e : top; /* the part below the old top */
    for (int i = 0; i < t->nholes && s < be; i++) {
        struct hole *h = &t->holes[i];
        uint64_t os = s > h->s ? s : h->s, oe = be < h->e ? be : h->e;
        if (oe <= os)
            continue;
        fresh += oe - os;
        if (os == h->s && oe == h->e) { /* filled */
            memmove(h, h + 1, (size_t)(t->nholes - i - 1) * sizeof *h);
            t->nholes--;
            i--;
        } else if (os == h->s) {
            h->s = oe;
        } else if (oe == h->e) {
            h->e = os;
        } else if (t->nholes < MAX_HOLES) { /* split */
            memmove(h + 2, h + 1, (size_t)(t->nholes - i - 1) * sizeof *h);
            h[1] = (struct hole){oe, h->e};
            h->e = os;
            t->nholes++;
            i++;
        } else {
            h->e = os; /* no room: forget the upper part */
        }
    }
    return fresh;
}

int co_ls_finish(co_ls *s, co_ls_result *r, co_diag *d)
{
    memset(r, 0, sizeof *r);
    r->port = s->opts.port;
    r->interval_ms = s->opts.interval_ms;
    r->cut_packets = s->cut_packets;
    r->packets = s->n_segs;
    if (s->n_segs == 0)
        return co_diag_set(d, CO_EDATA, "no TCP packets to or from port %u", s->opts.port);
    qsort(s->segs, s->n_segs, sizeof *s->segs, cmp_seg);
    struct track *tr = calloc(s->conns.n, sizeof *tr);
    if (tr == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int first_data_conn = -1;
    for (size_t i = 0; i < s->conns.n; i++) {
        struct conn *c = co_ftab_item(&s->conns, i);
        tr[i].data_dir = c->payload[1] > c->payload[0];
        if (c->payload[tr[i].data_dir] > 0) {
            r->connections++;
            if (first_data_conn < 0)
                first_data_conn = (int)i;
        }
        r->reverse_payload_bytes += c->payload[!tr[i].data_dir];
    }
    if (first_data_conn < 0) {
        free(tr);
        return co_diag_set(d, CO_EDATA,
                           "%zu TCP packets on port %u but none carries data", s->n_segs,
                           s->opts.port);
    }
    struct conn *fc = co_ftab_item(&s->conns, (size_t)first_data_conn);
    r->family = fc->family;
    const uint8_t *from = tr[first_data_conn].data_dir == 0 ? fc->cli : fc->srv;
    const uint8_t *to = tr[first_data_conn].data_dir == 0 ? fc->srv : fc->cli;
    co_pkt_addr_str(fc->family, from, r->src, sizeof r->src);
    co_pkt_addr_str(fc->family, to, r->dst, sizeof r->dst);

    r->first_ns = s->segs[0].ts_ns;
    r->last_ns = s->segs[s->n_segs - 1].ts_ns;
    r->duration_ms = (double)(r->last_ns - r->first_ns) / 1e6;
    double iv_ns = s->opts.interval_ms * 1e6;
    double nb = (double)(r->last_ns - r->first_ns) / iv_ns + 1;
    if (nb > 1e6) { /* 40 MB of bins; beyond that ask for a wider interval */
        free(tr);
        return co_diag_set(d, CO_EUSAGE,
                           "--interval %.3gms over %.0f ms of capture gives more than 1 "
                           "million intervals",
                           s->opts.interval_ms, r->duration_ms);
    }
    r->n_bins = (size_t)nb;
    r->bins = calloc(r->n_bins, sizeof *r->bins);
    if (r->bins == NULL) {
        free(tr);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    for (size_t b = 0; b < r->n_bins; b++)
        r->bins[b].start_ms = (double)b * s->opts.interval_ms;

    uint32_t mss = 0;
    for (size_t i = 0; i < s->n_segs; i++) {
        struct seg *g = &s->segs[i];
        struct track *t = &tr[g->conn];
        if ((g->flags & CO_TCP_SYN) && g->mss && (mss == 0 || g->mss < mss))
            mss = g->mss; /* the path MSS is the smaller of both SYNs' */
        if (g->dir != t->data_dir)
            continue;
        if (g->flags & CO_TCP_SYN)
            track_start(t, g->seq + 1);
        if (g->len == 0)
            continue;
        size_t b = (size_t)((double)(g->ts_ns - r->first_ns) / iv_ns);
        if (b >= r->n_bins)
            b = r->n_bins - 1;
        co_ls_bin *bin = &r->bins[b];
        uint64_t fresh = track_segment(t, g->seq, g->len);
        uint64_t again = g->len - fresh;
        r->data_segments++;
        r->payload_bytes += g->len;
        r->new_bytes += fresh;
        r->retrans_bytes += again;
        if (again)
            r->retrans_segments++;
        bin->segments++;
        bin->new_bytes += fresh;
        bin->retrans_bytes += again;
        if (r->min_segment_bytes == 0 || g->len < r->min_segment_bytes)
            r->min_segment_bytes = g->len;
        if (g->len > r->max_segment_bytes) {
            r->max_segment_bytes = g->len;
            r->full_size_segments = 0;
        }
        if (g->len == r->max_segment_bytes)
            r->full_size_segments++;
        if (g->ip_bytes > r->max_ip_packet_bytes)
            r->max_ip_packet_bytes = g->ip_bytes;
    }
    for (size_t i = 0; i < s->conns.n; i++)
        for (int h = 0; h < tr[i].nholes; h++)
            r->uncaptured_bytes += tr[i].holes[h].e - tr[i].holes[h].s;
    free(tr);
    r->syn_mss_bytes = mss;
    r->mean_segment_bytes = r->data_segments ? (double)r->payload_bytes / r->data_segments : 0;
    if (mss) {
        r->mtu_estimate_bytes = mss + (r->family == 6 ? 60 : 40);
        r->offload_suspected = r->max_segment_bytes > mss;
    } else {
        r->mtu_estimate_bytes = r->max_ip_packet_bytes;
    }
    r->mean_bytes_per_s = r->duration_ms > 0 ? (double)r->new_bytes / (r->duration_ms / 1e3) : 0;
    for (size_t b = 0; b < r->n_bins; b++) {
        r->bins[b].bytes_per_s = (double)r->bins[b].new_bytes / (s->opts.interval_ms / 1e3);
        if (r->bins[b].bytes_per_s > r->peak_bytes_per_s)
            r->peak_bytes_per_s = r->bins[b].bytes_per_s;
    }
    return CO_OK;
}

void co_ls_result_free(co_ls_result *r)
{
    if (r == NULL)
        return;
    free(r->bins);
    r->bins = NULL;
    r->n_bins = 0;
}
