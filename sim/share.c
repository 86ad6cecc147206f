/* sim/share.c: max-min fair rates by progressive filling. The links sit in
 * an indexed binary heap ordered by fill level rem/cnt (the rate at which
 * they would fill if every unfrozen flow on them rose together); the lowest
 * fills first. Freezing a flow at level x takes x from its other links and
 * one flow from their count, which can only raise their level (x was the
 * lowest), so a link moves down the heap. Ties go to the lower link index,
 * so the order of operations depends only on the input. */
#include "sim/share.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"

#define SCAN_MAX 96 /* up to this many links, scan instead of a heap */

int co_share_init(co_share *s, int max_links, int max_flows)
{
    *s = (co_share){0};
    s->max_links = max_links > 0 ? max_links : 1;
    s->max_flows = max_flows > 0 ? max_flows : 1;
    size_t L = (size_t)s->max_links, F = (size_t)s->max_flows;
    s->cap = malloc(L * sizeof *s->cap);
    s->path = malloc(F * CO_SHARE_HOPS * sizeof *s->path);
    s->rate = malloc(F * sizeof *s->rate);
    s->bott = malloc(F * sizeof *s->bott);
    s->rem = malloc(L * sizeof *s->rem);
    s->lev = malloc(L * sizeof *s->lev);
    s->cnt = malloc(L * sizeof *s->cnt);
    s->first = malloc((L + 1) * sizeof *s->first);
    s->members = malloc(F * CO_SHARE_HOPS * sizeof *s->members);
    s->heap = malloc(L * sizeof *s->heap);
    s->hpos = malloc(L * sizeof *s->hpos);
    s->frozen = malloc(F);
    if (!s->cap || !s->path || !s->rate || !s->bott || !s->rem || !s->lev || !s->cnt || !s->first || !s->members ||
        !s->heap || !s->hpos || !s->frozen) {
        co_share_free(s);
        return CO_ENOMEM;
    }
    return CO_OK;
}

void co_share_free(co_share *s)
{
    free(s->cap);
    free(s->path);
    free(s->rate);
    free(s->bott);
    free(s->rem);
    free(s->lev);
    free(s->cnt);
    free(s->first);
    free(s->members);
    free(s->heap);
    free(s->hpos);
    free(s->frozen);
    *s = (co_share){0};
}

void co_share_reset(co_share *s)
{
    s->nlinks = s->nflows = 0;
}

int co_share_link(co_share *s, double cap_bytes_per_s)
{
    if (s->nlinks >= s->max_links)
        return -1;
    s->cap[s->nlinks] = cap_bytes_per_s > 0 ? cap_bytes_per_s : 0;
    return s->nlinks++;
}

int co_share_flow(co_share *s, const int *links, int n)
{
    if (s->nflows >= s->max_flows)
        return -1;
    int *p = &s->path[(size_t)s->nflows * CO_SHARE_HOPS];
    for (int i = 0; i < CO_SHARE_HOPS; i++)
        p[i] = i < n ? links[i] : -1;
    return s->nflows++;
}

/* a fills before b */
static int lower(const co_share *s, int a, int b)
{
    double la = s->lev[a], lb = s->lev[b];
    return la < lb || (la == lb && a < b);
}

static void put(co_share *s, int i, int l)
{
    s->heap[i] = l;
    s->hpos[l] = i;
}

static void sift_up(co_share *s, int i)
{
    int l = s->heap[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!lower(s, l, s->heap[p]))
            break;
        put(s, i, s->heap[p]);
        i = p;
    }
    put(s, i, l);
}

static void sift_down(co_share *s, int i)
{
    int l = s->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= s->hlen)
            break;
        if (c + 1 < s->hlen && lower(s, s->heap[c + 1], s->heap[c]))
            c++;
        if (!lower(s, s->heap[c], l))
            break;
        put(s, i, s->heap[c]);
        i = c;
    }
    put(s, i, l);
}

static void heap_remove(co_share *s, int l)
{
    int i = s->hpos[l];
    s->hpos[l] = -1;
    int last = s->heap[--s->hlen];
    if (i == s->hlen)
        return;
    put(s, i, last);
    sift_up(s, i);
    sift_down(s, s->hpos[last]);
}

/* Freeze the unfrozen flows of link l at level x; visit(o) is told about
 * every other link that lost a flow. */
#define FREEZE(s, l, x, visit)                                                 \
    for (int k_ = (s)->first[l]; k_ < (s)->first[(l) + 1]; k_++) {             \
        int f_ = (s)->members[k_];                                             \
        if ((s)->frozen[f_])                                                   \
            continue;                                                          \
        (s)->frozen[f_] = 1;                                                   \
        (s)->rate[f_] = (x);                                                   \
        (s)->bott[f_] = (l);                                                   \
        const int *p_ = &(s)->path[(size_t)f_ * CO_SHARE_HOPS];                \
        for (int i_ = 0; i_ < CO_SHARE_HOPS && p_[i_] >= 0; i_++) {            \
            int o = p_[i_];                                                    \
            if (o == (l) || (s)->cnt[o] == 0)                                  \
                continue;                                                      \
            (s)->rem[o] -= (x);                                                \
            if ((s)->rem[o] < 0)                                               \
                (s)->rem[o] = 0; /* rounding */                                \
            (s)->cnt[o]--;                                                     \
            if ((s)->cnt[o] > 0)                                               \
                (s)->lev[o] = (s)->rem[o] / (s)->cnt[o];                       \
            visit;                                                             \
        }                                                                      \
    }

/* Small problems (the usual case in a run: tens of links): the links that
 * still have unfrozen flows sit in a plain array scanned for the lowest
 * level, cheaper than keeping a heap in order. Same choice of link as the
 * heap (lowest level, then lowest index), so the same bits. */
static void fill_scan(co_share *s)
{
    int *act = s->heap, n = 0; /* the heap's arrays serve as the active list */
    for (int l = 0; l < s->nlinks; l++)
        if (s->cnt[l] > 0) {
            s->lev[l] = s->rem[l] / s->cnt[l];
            s->hpos[l] = n;
            act[n++] = l;
        }
    while (n > 0) {
        int bi = 0;
        for (int i = 1; i < n; i++)
            if (lower(s, act[i], act[bi]))
                bi = i;
        int l = act[bi];
        double x = s->lev[l];
        s->cnt[l] = 0;
        act[bi] = act[--n];
        s->hpos[act[bi]] = bi;
        FREEZE(s, l, x, if (s->cnt[o] == 0) {
            int j = s->hpos[o];
            act[j] = act[--n];
            s->hpos[act[j]] = j;
        })
    }
}

void co_share_solve(co_share *s)
{
    int L = s->nlinks, F = s->nflows;
    /* members of each link, in flow order (counting sort) */
    for (int l = 0; l <= L; l++)
        s->first[l] = 0;
    for (int f = 0; f < F; f++) {
        const int *p = &s->path[(size_t)f * CO_SHARE_HOPS];
        for (int i = 0; i < CO_SHARE_HOPS && p[i] >= 0; i++)
            s->first[p[i] + 1]++;
    }
    for (int l = 0; l < L; l++) {
        s->cnt[l] = s->first[l + 1];
        s->first[l + 1] += s->first[l];
        s->rem[l] = s->cap[l];
    }
    for (int f = 0; f < F; f++) {
        const int *p = &s->path[(size_t)f * CO_SHARE_HOPS];
        s->frozen[f] = 0;
        s->rate[f] = INFINITY;
        s->bott[f] = -1;
        for (int i = 0; i < CO_SHARE_HOPS && p[i] >= 0; i++)
            s->members[s->first[p[i]]++] = f;
    }
    for (int l = L; l > 0; l--) /* first[] was advanced to the ends: shift back */
        s->first[l] = s->first[l - 1];
    s->first[0] = 0;

    if (L <= SCAN_MAX) {
        fill_scan(s);
        return;
    }
    s->hlen = 0;
    for (int l = 0; l < L; l++) {
        s->hpos[l] = -1;
        if (s->cnt[l] > 0) {
            s->lev[l] = s->rem[l] / s->cnt[l];
            put(s, s->hlen++, l);
        }
    }
    for (int i = s->hlen / 2 - 1; i >= 0; i--)
        sift_down(s, i);

    while (s->hlen > 0) {
        int l = s->heap[0];
        double x = s->lev[l];
        heap_remove(s, l);
        s->cnt[l] = 0;
        FREEZE(s, l, x, if (s->cnt[o] == 0) heap_remove(s, o); else {
            /* its level rose (up to rounding) */
            sift_up(s, s->hpos[o]);
            sift_down(s, s->hpos[o]);
        })
    }
}
