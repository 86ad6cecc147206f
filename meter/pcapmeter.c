/* meter/pcapmeter.c: the downtime meter (see pcapmeter.h). */
#include "meter/pcapmeter.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "meter/flowtab.h"

/* An echo flow: (requester a, responder b, id). Requests and replies of one
 * ping share it; echo records refer to it by index so sorting compares
 * integers, not 34-byte keys. */
struct flow {
    uint8_t a[16], b[16];
    uint16_t id;
};
/* The key is every field: a, b and id, without the tail padding. */
#define FLOW_KEY_BYTES (offsetof(struct flow, id) + sizeof(uint16_t))

/* One ICMP echo message. */
struct echo {
    int64_t ts_ns;
    uint32_t flow;
    uint16_t seq;
    uint8_t is_reply, answered;
};

struct co_dtm {
    co_dtm_opts opts;
    uint64_t packets, ip_packets, cut_packets;
    int64_t first_ns, last_ns;
    int64_t end_ns;       /* capture end if later than last_ns, else 0 */
    int64_t *ts;          /* every IP packet (gap mode) */
    size_t n_ts, cap_ts;
    struct echo *echo;    /* echo requests and replies (ping mode) */
    size_t n_echo, cap_echo;
    co_ftab flows;        /* distinct echo flows (struct flow, all key) */
    uint64_t requests, replies;
};

co_dtm *co_dtm_new(const co_dtm_opts *opts)
{
    co_dtm *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if (opts)
        m->opts = *opts;
    co_ftab_init(&m->flows, sizeof(struct flow), FLOW_KEY_BYTES, 0);
    return m;
}

void co_dtm_free(co_dtm *m)
{
    if (m == NULL)
        return;
    free(m->ts);
    free(m->echo);
    co_ftab_free(&m->flows);
    free(m);
}

/* Arrays of packets and echoes double from this many elements. */
#define FIRST_ELEMS 1024

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    return co_ftab_grow(arr, cap, n, elem, FIRST_ELEMS);
}

void co_dtm_set_end(co_dtm *m, int64_t end_ns)
{
    m->end_ns = end_ns;
}

/* Where an outage still running at the end of the capture ends. */
static int64_t capture_end(const co_dtm *m)
{
    return m->end_ns > m->last_ns ? m->end_ns : m->last_ns;
}

int co_dtm_feed_pkt(co_dtm *m, int64_t ts_ns, const co_pkt *pk, co_diag *d)
{
    if (m->packets == 0 || ts_ns < m->first_ns)
        m->first_ns = ts_ns;
    if (m->packets == 0 || ts_ns > m->last_ns)
        m->last_ns = ts_ns;
    m->packets++;
    if (pk->family == 0) {
        if (pk->headers_cut)
            m->cut_packets++;
        return CO_OK;
    }
    m->ip_packets++;
    if (grow((void **)&m->ts, &m->cap_ts, m->n_ts, sizeof *m->ts))
        return co_diag_set(d, CO_ENOMEM, "out of memory after %llu packets",
                           (unsigned long long)m->packets);
    m->ts[m->n_ts++] = ts_ns;
    if (pk->kind != CO_PKT_ECHO_REQUEST && pk->kind != CO_PKT_ECHO_REPLY) {
        if (pk->headers_cut)
            m->cut_packets++;
        return CO_OK;
    }
    if (grow((void **)&m->echo, &m->cap_echo, m->n_echo, sizeof *m->echo))
        return co_diag_set(d, CO_ENOMEM, "out of memory after %llu packets",
                           (unsigned long long)m->packets);
    int is_reply = pk->kind == CO_PKT_ECHO_REPLY;
    struct flow f;
    memset(&f, 0, sizeof f);
    memcpy(f.a, is_reply ? pk->dst : pk->src, 16);
    memcpy(f.b, is_reply ? pk->src : pk->dst, 16);
    f.id = pk->echo_id;
    long fi = co_ftab_get(&m->flows, &f, NULL);
    if (fi < 0)
        return co_diag_set(d, CO_ENOMEM, "out of memory after %llu packets",
                           (unsigned long long)m->packets);
    struct echo *e = &m->echo[m->n_echo++];
    memset(e, 0, sizeof *e);
    e->ts_ns = ts_ns;
    e->is_reply = (uint8_t)is_reply;
    e->flow = (uint32_t)fi;
    e->seq = pk->echo_seq;
    if (e->is_reply)
        m->replies++;
    else
        m->requests++;
    return CO_OK;
}

int co_dtm_feed(co_dtm *m, int64_t ts_ns, int dlt, const uint8_t *p, size_t caplen,
                size_t wirelen, co_diag *d)
{
    co_pkt pk;
    int rc = co_pkt_decode(dlt, p, caplen, wirelen, &pk, d);
    if (rc != CO_OK)
        return rc;
    return co_dtm_feed_pkt(m, ts_ns, &pk, d);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int cmp_flow(const struct echo *x, const struct echo *y)
{
    return (x->flow > y->flow) - (x->flow < y->flow);
}

/* Order for matching: same (flow, seq) together, by time, request first. */
static int cmp_match(const void *xp, const void *yp)
{
    const struct echo *x = xp, *y = yp;
    int c = cmp_flow(x, y);
    if (c == 0)
        c = (x->seq > y->seq) - (x->seq < y->seq);
    if (c == 0)
        c = (x->ts_ns > y->ts_ns) - (x->ts_ns < y->ts_ns);
    if (c == 0)
        c = (int)x->is_reply - (int)y->is_reply;
    return c;
}

/* Order for the walk: each flow's requests by time. */
static int cmp_walk(const void *xp, const void *yp)
{
    const struct echo *x = xp, *y = yp;
    int c = cmp_flow(x, y);
    if (c == 0)
        c = (x->ts_ns > y->ts_ns) - (x->ts_ns < y->ts_ns);
    if (c == 0)
        c = (x->seq > y->seq) - (x->seq < y->seq);
    return c;
}

static int cmp_outage(const void *xp, const void *yp)
{
    const co_outage *x = xp, *y = yp;
    return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

/* Median of n values (sorted in place). */
static double median_ns(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_i64);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

struct outlist {
    co_outage *v;
    size_t n, cap;
};

static int add_outage(struct outlist *o, int64_t s, int64_t e, uint64_t lost, int open)
{
    if (grow((void **)&o->v, &o->cap, o->n, sizeof *o->v))
        return -1;
    if (e < s)
        e = s;
    o->v[o->n++] = (co_outage){s, e, (double)(e - s) / 1e6, lost, open};
    return 0;
}

static int finish_ping(co_dtm *m, co_dtm_result *r, struct outlist *ol, co_diag *d)
{
    qsort(m->echo, m->n_echo, sizeof *m->echo, cmp_match);
    /* A reply answers the latest earlier request with the same key that is
     * still pending; seq reuse after a wrap starts a new pending request. */
    struct echo *pending = NULL;
    for (size_t i = 0; i < m->n_echo; i++) {
        struct echo *e = &m->echo[i];
        if (pending && (cmp_flow(pending, e) != 0 || pending->seq != e->seq))
            pending = NULL;
        if (!e->is_reply)
            pending = e;
        else if (pending) {
            pending->answered = 1;
            pending = NULL;
        }
    }
    /* Keep the requests only, in per-flow time order. */
    size_t nreq = 0;
    for (size_t i = 0; i < m->n_echo; i++)
        if (!m->echo[i].is_reply)
            m->echo[nreq++] = m->echo[i];
    qsort(m->echo, nreq, sizeof *m->echo, cmp_walk);
    int64_t *iv = malloc((nreq ? nreq : 1) * sizeof *iv);
    if (iv == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    size_t niv = 0;
    for (size_t i = 1; i < nreq; i++)
        if (cmp_flow(&m->echo[i - 1], &m->echo[i]) == 0)
            iv[niv++] = m->echo[i].ts_ns - m->echo[i - 1].ts_ns;
    double med = median_ns(iv, niv);
    free(iv);
    r->median_interval_ms = med / 1e6;
    r->threshold_ms = m->opts.gap_ms > 0 ? m->opts.gap_ms : 5 * med / 1e6;
    double min_ms = m->opts.gap_ms > 0 ? m->opts.gap_ms : 0;

    uint64_t lost = 0, lost_total = 0;
    int64_t run_start = 0;
    for (size_t i = 0; i < nreq; i++) {
        struct echo *e = &m->echo[i];
        int new_flow = i == 0 || cmp_flow(&m->echo[i - 1], e) != 0;
        if (new_flow && lost > 0) {
            /* The previous flow ended inside an unanswered run. */
            if ((double)(capture_end(m) - run_start) / 1e6 > r->threshold_ms &&
                add_outage(ol, run_start, capture_end(m), lost, 1))
                return co_diag_set(d, CO_ENOMEM, "out of memory");
            lost_total += lost;
            lost = 0;
        }
        if (!new_flow) {
            /* Requests the capture never saw (dropped before the tap, e.g.
             * while the link was down) show as a jump in seq. */
            struct echo *prev = &m->echo[i - 1];
            unsigned jump = (uint16_t)(e->seq - prev->seq);
            if (jump > 1 && jump < 32768) {
                if (lost == 0)
                    run_start = prev->ts_ns + (e->ts_ns - prev->ts_ns) / (int64_t)jump;
                lost += jump - 1;
            }
        }
        if (!e->answered) {
            if (lost == 0)
                run_start = e->ts_ns;
            lost++;
        } else if (lost > 0) {
            if ((double)(e->ts_ns - run_start) / 1e6 >= min_ms &&
                add_outage(ol, run_start, e->ts_ns, lost, 0))
                return co_diag_set(d, CO_ENOMEM, "out of memory");
            lost_total += lost;
            lost = 0;
        }
    }
    if (lost > 0) {
        if ((double)(capture_end(m) - run_start) / 1e6 > r->threshold_ms &&
            add_outage(ol, run_start, capture_end(m), lost, 1))
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        lost_total += lost;
    }
    r->lost_requests = lost_total;
    return CO_OK;
}

static int finish_gap(co_dtm *m, co_dtm_result *r, struct outlist *ol, co_diag *d)
{
    if (m->n_ts < 2)
        return co_diag_set(d, CO_EDATA,
                           "%zu IP packet(s) matched: need at least 2 to find gaps", m->n_ts);
    qsort(m->ts, m->n_ts, sizeof *m->ts, cmp_i64);
    int64_t *iv = malloc((m->n_ts - 1) * sizeof *iv);
    if (iv == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    for (size_t i = 1; i < m->n_ts; i++)
        iv[i - 1] = m->ts[i] - m->ts[i - 1];
    double med = median_ns(iv, m->n_ts - 1);
    free(iv);
    r->median_interval_ms = med / 1e6;
    r->threshold_ms = m->opts.gap_ms > 0 ? m->opts.gap_ms : 5 * med / 1e6;
    double thr_ns = r->threshold_ms * 1e6;
    for (size_t i = 1; i < m->n_ts; i++) {
        int64_t dt = m->ts[i] - m->ts[i - 1];
        if ((double)dt <= thr_ns || dt <= 0)
            continue;
        /* Start at the arrival the flow's rhythm promised (or at the
         * threshold, when --gap is set below the median interval). */
        double expect_ns = med < thr_ns ? med : thr_ns;
        int64_t start = m->ts[i - 1] + (int64_t)expect_ns;
        long long periods = med > 0 ? llround((double)dt / med) : 0;
        uint64_t lost = periods > 1 ? (uint64_t)(periods - 1) : 0;
        if (add_outage(ol, start, m->ts[i], lost, 0))
            return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    /* The flow stopped and the capture went on: an open outage. */
    int64_t last = m->ts[m->n_ts - 1], end = capture_end(m);
    if ((double)(end - last) > thr_ns) {
        double expect_ns = med < thr_ns ? med : thr_ns;
        uint64_t lost = med > 0 ? (uint64_t)((double)(end - last) / med) : 0;
        if (add_outage(ol, last + (int64_t)expect_ns, end, lost, 1))
            return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    return CO_OK;
}

int co_dtm_finish(co_dtm *m, co_dtm_result *r, co_diag *d)
{
    memset(r, 0, sizeof *r);
    r->packets = m->packets;
    r->ip_packets = m->ip_packets;
    r->cut_packets = m->cut_packets;
    r->echo_requests = m->requests;
    r->echo_replies = m->replies;
    r->first_ns = m->first_ns;
    r->last_ns = capture_end(m);
    r->capture_ms = (double)(r->last_ns - m->first_ns) / 1e6;
    if (m->packets == 0)
        return co_diag_set(d, CO_EDATA, "no packets matched the filter");
    r->mode = m->opts.mode != CO_DTM_AUTO ? m->opts.mode
              : m->requests > 0         ? CO_DTM_PING
                                        : CO_DTM_GAP;
    if (r->mode == CO_DTM_PING && m->requests == 0)
        return co_diag_set(d, CO_EDATA,
                           "ping mode: no ICMP echo requests among the %llu packets",
                           (unsigned long long)m->packets);
    struct outlist ol = {0};
    int rc = r->mode == CO_DTM_PING ? finish_ping(m, r, &ol, d) : finish_gap(m, r, &ol, d);
    if (rc != CO_OK) {
        free(ol.v);
        return rc;
    }
    if (ol.n > 1) /* qsort(NULL, 0) is undefined */
        qsort(ol.v, ol.n, sizeof *ol.v, cmp_outage);
    r->outages = ol.v;
    r->n_outages = ol.n;
    for (size_t i = 0; i < ol.n; i++)
        if (ol.v[i].duration_ms > r->longest_outage_ms) {
            r->longest_outage_ms = ol.v[i].duration_ms;
            r->longest_index = i;
        }
    return CO_OK;
}

void co_dtm_result_free(co_dtm_result *r)
{
    if (r == NULL)
        return;
    free(r->outages);
    r->outages = NULL;
    r->n_outages = 0;
}
