/* sim/share.h: max-min fair sharing of link capacity among flows.
 *
 * Owns: a reusable workspace that takes a set of links (capacity in
 * bytes/s) and flows (each crossing up to CO_SHARE_HOPS of those links) and
 * computes the max-min fair rate of every flow by progressive filling
 * (water-filling; Bertsekas & Gallager, "Data Networks", 2nd ed., 6.5.2):
 * all rates rise together; when a link fills, the flows crossing it are
 * frozen at that level and the link's leftover is shared by the others.
 * The result: no link above capacity, and every flow has a bottleneck, a
 * full link on which no other flow gets more.
 *
 * The simulator (sim/run.c) fills it with the migrations whose share may
 * have changed and re-times those whose rate moved. The order of links and
 * flows given fixes the order of floating-point operations, so the same
 * input gives the same bits. No allocation after co_share_init. */
#ifndef CUTOVER_SIM_SHARE_H
#define CUTOVER_SIM_SHARE_H

#define CO_SHARE_HOPS 5 /* links a flow may cross (a migration: 4, plus its own bound) */

typedef struct co_share {
    int nlinks, nflows;       /* current problem */
    int max_links, max_flows; /* workspace size */
    double *cap;              /* per link: capacity, bytes/s */
    int *path;                /* per flow: CO_SHARE_HOPS link indices, -1 = none */
    double *rate;             /* per flow: the result, bytes/s */
    int *bott;                /* per flow: the link that froze it (its bottleneck), -1 = none */
    /* workspace */
    double *rem;              /* per link: capacity not yet given to frozen flows */
    double *lev;              /* per link: rem / cnt, the level at which it fills */
    int *cnt;                 /* per link: flows not yet frozen */
    int *first, *members;     /* flows of link l: members[first[l] .. first[l+1]) */
    int *heap, *hpos;         /* links ordered by fill level rem/cnt */
    int hlen;
    unsigned char *frozen;
} co_share;

/* Workspace for up to max_links links and max_flows flows. CO_OK or
 * CO_ENOMEM (then co_share_free is still safe). */
int co_share_init(co_share *s, int max_links, int max_flows);
void co_share_free(co_share *s);
/* Start a new problem (keeps the memory). */
void co_share_reset(co_share *s);
/* Add a link of capacity cap_bytes_per_s >= 0; returns its index, or -1
 * when the workspace is full. */
int co_share_link(co_share *s, double cap_bytes_per_s);
/* Add a flow over links[0..n-1] (indices returned by co_share_link, n <=
 * CO_SHARE_HOPS, no link twice); returns its index or -1 when full. */
int co_share_flow(co_share *s, const int *links, int n);
/* Compute s->rate[f] for every flow: its max-min fair rate, bytes/s, and
 * s->bott[f], the link that filled at that level (full, and no flow on it
 * gets more). A flow that crosses no link gets INFINITY and -1.
 * O((L + F) log L). */
void co_share_solve(co_share *s);

#endif
