/* sim/run.c: one discrete-event run of a rolling patch cycle.
 *
 * The clock only jumps to the next event; events are (time, sequence)
 * ordered (sim/evq.c). A host walks the steps of enum co_sim_step; while it
 * evacuates, a dispatcher starts live migrations within the per-host and
 * per-cluster limits. Each migration tracks the fraction of its transfer
 * done; when its bandwidth share changes the remaining fraction is re-timed
 * with a new co_mig_predict() at the new share (docs/simulate.md). Shares
 * are max-min fair (sim/share.c), recomputed once per event over the
 * migrations connected through shared links to those that started or ended.
 * After its exit a host takes back the VMs that started on it (plan
 * rebalance "return"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>

#include "sim/evq.h"
#include "place/place.h"
#include "sim/share.h"
#include "sim/sim.h"
#include "util/clock.h"
#include "util/error.h"

enum { EV_STEP = 1, EV_MIG, EV_SOAK };
enum { VM_IDLE = 0, VM_MIG, VM_PARKED };
enum { L_OUT = 0, L_IN, L_UOUT, L_UIN, L_N }; /* lists a migration belongs to */

/* prediction cache: 2^bits entries, bits from 10 (small clusters: the
 * pages a large cache's scattered hits touch would be resident memory for
 * nothing) up to 15, about four entries per VM */
#define CACHE_BITS_MIN 10
#define CACHE_BITS_MAX 15
#define T_MAX (INT64_MAX / 4)     /* the clock saturates here */
#define STEP_MAX (INT64_MAX / 1024) /* longest single step, about 285 years */
#define TRY_PER_HOST 8      /* VMs tried per host and dispatch before it counts as blocked */
#define PATCHED_PROBE 64    /* patched hosts tried first per placement */

struct hstate {
    double mem_used;          /* residents + incoming reservations */
    double vcpu_used;
    int step;                 /* current step, -1 = not started */
    int busy, done, in_maint, evacuating, patched, fw, failed_patch;
    int out_n, in_n;          /* active migrations leaving / entering */
    int out_head, in_head;    /* VM ids, lists through mig.next[L_OUT/L_IN] */
    int move_head, move_tail; /* residents that may still have to leave */
    int park_head;            /* VMs kept off on this host */
    int rebalancing;          /* taking its VMs back (rebalance "return") */
    int rb_cur, rb_n;         /* next of home_vms to bring back; returns in flight */
    int ev_seq, ev_act;       /* when it started evacuating; in r->evs */
    int ev_started;           /* evacuation migrations its current drain started */
    co_sim_time maint_start, step_start;
};

/* A live migration. They sit in a pool of slots handed out last-freed
 * first, so the few hundred in flight stay dense in cache however many VMs
 * the cluster has; lists of migrations hold slot numbers. */
struct mig {
    int v;                    /* the VM */
    int src, dst, su, du;     /* hosts and uplinks (-1 = uplink not used) */
    double share;             /* wire bytes/s it was timed at */
    double ub;                /* the smallest capacity on its path: no share exceeds it */
    int g[4], ng;             /* the links it crosses (see struct co_sim_run) */
    int floc;                 /* index among the flows of the current solve, -1 = none */
    double rate;              /* its max-min rate from the last solve it was in */
    double frac, abort_frac;  /* transfer done / where it will abort (1 = never) */
    double T_us, down_ms;     /* prediction at the current share */
    double tf, df;            /* its model-error factors on time and downtime (plan.mig_*_sigma) */
    int conv;
    int back;                 /* a rebalance return */
    co_sim_time last_us, start_us;
    int next[L_N], prev[L_N];
    int cls, cnext, cprev;    /* its share class on the dominant link (see share_note), -1 = none;
                                 the class's members are linked through cnext/cprev */
    int bott;                 /* its bottleneck in the last solve: a link, -2 its own bound,
                                 -1 not known (see still_fair) */
    int held;                 /* level mode: held below the dominant link's level by another
                                 link (its rate is m->rate), see lvl_shortcut */
    int bpos;                 /* place in the held migrations' heap, -1 = none */
    int need;                 /* level mode: queued for re-timing in this event */
    uint64_t lseq;            /* when it joined its links' lists (each list is in descending
                                 lseq order: they push at the head) */
};

struct link {
    /* what every solve reads, in the first half of its cache line */
    double ubsum;             /* sum of ub of the migrations on it */
    double cap;               /* capacity, bytes/s */
    int cnt;                  /* migrations on it */
    int loc;                  /* position in the breadth-first queue, -1 = none */
    int lidx;                 /* index in the solve, -1 = not a constraint */
    int ex;                   /* left out of this solve as slack (see gather) */
    int inc;                  /* kept in this solve: left out, it would be over capacity */
    /* split mode and the dominant link */
    double sum;               /* m->rate summed over the migrations on it */
    double pre;               /* sum when it joined this event's queue (before its ends) */
    int bcnt;                 /* migrations on it that cross the dominant link */
    int sat_pos;              /* place in the satellite heap, -1 = none */
    int sat_bad;              /* a satellite with migrations not crossing the dominant link */
    /* level mode (see lvl_shortcut) */
    double bsum;              /* rates of the held migrations on it, summed */
    int nb;                   /* held migrations on it */
    int bbn;                  /* held migrations whose bottleneck it is */
    int phi_pos;              /* place in the fill-level heap, -1 = none */
    int stamp;                /* == r->gen: queued in this pass of lvl_shortcut */
} __attribute__((aligned(64)));

struct cache_ent {
    int profile, mtu, channels, valid;
    double share, rate, T_ms, down_ms;
    int conv;
};

struct co_sim_run {
    const co_sim_cluster *c;
    gsl_rng *rng;
    co_sim_evq q;
    co_sim_time now;
    int check, record;
    struct hstate *h;
    int *up_out_n, *up_in_n, *up_out_head, *up_in_head;
    int *vm_host, *vm_dest, *vm_next, *vm_prev, *vm_retries, *nmig;
    unsigned char *vm_state;
    co_sim_time *off_since;
    double *rate, *stun_ms, *outage_ms;
    double run_tf;            /* this run's factor on migration times (plan.mig_run_sigma) */
    struct mig *m;            /* the pool of migration slots */
    int *slot;                /* per VM: its slot while it migrates, else -1 */
    int *free_slots, nfree, mcap; /* free slots (a stack), pool capacity */
    int active;               /* migrations in flight, cluster-wide */
    int *evac;                /* hosts evacuating, in the order they started */
    int nevac;
    int *evs, nevs, evseq;    /* those of them dispatch must visit, same order (see evac_wake) */
    int *patched_list, npatched, pcur, acur;
    int *ord, *phase_of, *phase_left, *phase_pos, nphase, next_ord, cur_phase, busy_hosts, soak_done,
        soak_pending, returning;
    int *home_start, *home_vms; /* VMs by the host they start on */
    int *rebal, nrebal;       /* hosts rebalancing, in the order they started */
    /* max-min sharing: links are NIC out 2h, NIC in 2h+1, uplink out
     * 2H+2u, uplink in 2H+2u+1; loc[] / floc[] map links / VMs to their
     * index in the current solve (-1 = none); lq is the breadth-first queue
     * of links (seeded by the flows that started or ended), fl the flows */
    co_share sh;
    struct link *lk;          /* per link, one cache line for what reshare reads */
    int *lq, *fl, nlq, nfl;
    /* this event's starts and ends, for the swap shortcut in reshare() */
    int ev_adds, ev_dels, ev_new;
    int ev_sig[4], ev_nsig;   /* constraining links of the one that ended, before it did */
    double ev_ub, ev_rate;
    /* the dominant link (see dominant_shortcut): every migration crossing
     * it has the rate dom_rate (their m->rate is stale while dom >= 0).
     * Satellites: the other links of those migrations, in a min-heap by
     * level cap/cnt; the migrations at its rate grouped by the share they
     * were timed at (share classes, see share_note). dom_bad counts
     * satellites that also carry migrations not crossing dom. */
    int dom, dom_bad;
    double dom_rate;
    struct sclass { double share; int head, n; } *cls;
    int *cord, ncord;         /* live classes, by share (lowest first) */
    int *cfree, ncfree, ncls; /* free class slots (a stack); slots used so far */
    int split;                /* leave slack links out of solves, and skip solves that would
                                 change nothing (co_sim_run_set_split) */
    int coalesce;             /* split mode: one re-sharing per microsecond (see same_us) */
    int *lglob;               /* per link of the solve: its global id, -2 a flow's own bound */
    int ev_bott;              /* bottleneck of the one that ended (swap shortcut) */
    int *exl, nexl;           /* the links left out of this solve */
    int *hp[5], hn[5];        /* 0: satellites by level, 3: held migrations by rate (highest
                                 first), 4: satellites by fill level (level mode); 1, 2 unused */
    int lvl;                  /* the dominant link is in level mode (split mode only) */
    int ev_held;              /* the first migration that ended was held (level mode) */
    int *lvq, gen;            /* level mode: links of the component being solved; pass stamp */
    int *lvown;               /* level mode: per flow of the solve, its own bound's link index */
    struct lvneed { int key, k; uint64_t lseq; } *lvn, *lvn2; /* level mode: to re-time (and
                                 lvn_sort's scratch), see lvl_shortcut */
    int nlvn;
    uint64_t lseq;            /* last mig.lseq given */
    int *evnew, nevnew;       /* VMs whose migration started in this event (see gather) */
    int *incl, nincl;         /* links with inc set */
    int slack_min;            /* links with fewer migrations are never slack (see slack) */
    struct cache_ent *cache;
    int cache_bits;           /* the cache has 2^cache_bits entries */
    long predictions, hits;
    int profile;
    co_sim_prof prof;
    double *chk_mem, *chk_cpu; /* check_invariants: memory and vCPUs per host */
    double *chk_sum, *chk_top; /* check_fair: rate summed and largest per link */
    co_sim_span *spans;
    size_t nspans, capspans;
    co_sim_run_result res;
    int oom;
};

uint64_t co_sim_run_seed(uint64_t seed, uint64_t index)
{
    /* SplitMix64 (Steele, Lea, Flood 2014) of seed and index: nearby
     * indices give unrelated streams. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

co_sim_run *co_sim_run_new(const co_sim_cluster *c)
{
    co_sim_run *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->c = c;
    int H = c->nhosts, V = c->nvms, U = c->nuplinks > 0 ? c->nuplinks : 1;
    int V1 = V > 0 ? V : 1, H1 = H > 0 ? H : 1;
    r->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (co_sim_evq_init(&r->q, (size_t)H + (size_t)V + 1) != CO_OK) {
        gsl_rng_free(r->rng);
        free(r);
        return NULL;
    }
    r->h = calloc(H1, sizeof *r->h);
    r->up_out_n = calloc(U, sizeof(int));
    r->up_in_n = calloc(U, sizeof(int));
    r->up_out_head = calloc(U, sizeof(int));
    r->up_in_head = calloc(U, sizeof(int));
    r->vm_host = calloc(V1, sizeof(int));
    r->vm_dest = calloc(V1, sizeof(int));
    r->vm_next = calloc(V1, sizeof(int));
    r->vm_prev = calloc(V1, sizeof(int));
    r->vm_retries = calloc(V1, sizeof(int));
    r->nmig = calloc(V1, sizeof(int));
    r->vm_state = calloc(V1, 1);
    r->off_since = calloc(V1, sizeof(co_sim_time));
    r->rate = calloc(V1, sizeof(double));
    r->stun_ms = calloc(V1, sizeof(double));
    r->outage_ms = calloc(V1, sizeof(double));
    r->mcap = V1 < 64 ? V1 : 64; /* grows by doubling while a run needs more */
    r->m = calloc((size_t)r->mcap, sizeof *r->m);
    r->free_slots = malloc((size_t)r->mcap * sizeof(int));
    r->slot = malloc((size_t)V1 * sizeof(int));
    r->evac = calloc(H1, sizeof(int));
    r->evs = calloc(H1, sizeof(int));
    r->patched_list = calloc(H1, sizeof(int));
    r->ord = calloc(H1, sizeof(int));
    r->phase_of = calloc(H1, sizeof(int));
    r->phase_left = calloc(H1 + 2, sizeof(int));
    r->phase_pos = calloc(H1 + 2, sizeof(int));
    r->cache_bits = CACHE_BITS_MIN;
    while (r->cache_bits < CACHE_BITS_MAX && (1u << r->cache_bits) < 4 * (unsigned)V1)
        r->cache_bits++;
    r->cache = calloc((size_t)1 << r->cache_bits, sizeof *r->cache);
    size_t G = 2 * (size_t)H1 + 2 * (size_t)U;
    r->home_start = calloc((size_t)H1 + 1, sizeof(int));
    r->home_vms = calloc(V1, sizeof(int));
    r->rebal = calloc(H1, sizeof(int));
    r->chk_mem = calloc(H1, sizeof(double));
    r->chk_cpu = calloc(H1, sizeof(double));
    r->chk_sum = calloc(2 * (size_t)H1 + 2 * (size_t)U, sizeof(double));
    r->chk_top = calloc(2 * (size_t)H1 + 2 * (size_t)U, sizeof(double));
    r->lk = aligned_alloc(64, G * sizeof *r->lk); /* sizeof is a multiple of 64 */
    r->lq = malloc(G * sizeof(int));
    r->fl = malloc((size_t)V1 * sizeof(int));
    r->hp[0] = malloc(G * sizeof(int));
    r->cls = malloc((size_t)V1 * sizeof *r->cls);
    r->cord = malloc((size_t)V1 * sizeof(int));
    r->cfree = malloc((size_t)V1 * sizeof(int));
    r->hp[3] = malloc((size_t)V1 * sizeof(int));
    r->hp[4] = malloc(G * sizeof(int));
    r->lvq = malloc(G * sizeof(int));
    r->lvown = malloc((size_t)V1 * sizeof(int));
    r->lvn = malloc((size_t)V1 * sizeof *r->lvn);
    r->lvn2 = malloc((size_t)V1 * sizeof *r->lvn2);
    r->dom = -1;
    r->split = 1;
    r->coalesce = 1;
    r->exl = malloc(G * sizeof(int));
    r->incl = malloc(G * sizeof(int));
    r->evnew = malloc((size_t)V1 * sizeof(int));
    r->lglob = malloc((G + (size_t)V1) * sizeof(int));
    int shrc = co_share_init(&r->sh, (int)G + V1, V1);
    if (shrc != CO_OK || !r->home_start || !r->home_vms || !r->rebal || !r->lk || !r->chk_mem || !r->chk_cpu || !r->chk_sum || !r->chk_top || !r->lq ||
        !r->fl || !r->hp[0] || !r->cls || !r->cord || !r->cfree || !r->hp[3] || !r->hp[4] ||
        !r->lvq || !r->lvown || !r->lvn || !r->lvn2 || !r->exl || !r->incl || !r->evnew || !r->lglob) {
        co_sim_run_free(r);
        return NULL;
    }
    for (size_t g = 0; g < G; g++)
        r->lk[g] = (struct link){.loc = -1, .lidx = -1, .sat_pos = -1, .phi_pos = -1};
    for (int h = 0; h < H; h++)
        r->lk[2 * h].cap = r->lk[2 * h + 1].cap = c->hosts[h].nic_bytes_per_s;
    for (int u = 0; u < c->nuplinks; u++)
        r->lk[2 * H + 2 * u].cap = r->lk[2 * H + 2 * u + 1].cap = c->uplinks[u].rate_bytes_per_s;
    /* home_vms: VMs grouped by starting host, in VM order (counting sort) */
    for (int v = 0; v < V; v++)
        r->home_start[c->vms[v].host + 1]++;
    for (int h = 0; h < H; h++)
        r->home_start[h + 1] += r->home_start[h];
    for (int v = 0; v < V; v++)
        r->home_vms[r->rebal[c->vms[v].host]++ + r->home_start[c->vms[v].host]] = v;
    if (!r->rng || !r->h || !r->up_out_n || !r->up_in_n || !r->up_out_head || !r->up_in_head ||
        !r->vm_host || !r->vm_dest || !r->vm_next || !r->vm_prev || !r->vm_retries ||
        !r->nmig || !r->vm_state || !r->off_since || !r->rate || !r->stun_ms ||
        !r->outage_ms || !r->m || !r->free_slots || !r->slot || !r->evac || !r->evs || !r->patched_list || !r->ord || !r->phase_of ||
        !r->phase_left || !r->phase_pos || !r->cache) {
        co_sim_run_free(r);
        return NULL;
    }
    return r;
}

void co_sim_run_free(co_sim_run *r)
{
    if (r == NULL)
        return;
    if (r->rng)
        gsl_rng_free(r->rng);
    co_sim_evq_free(&r->q);
    free(r->h);
    free(r->up_out_n);
    free(r->up_in_n);
    free(r->up_out_head);
    free(r->up_in_head);
    free(r->vm_host);
    free(r->vm_dest);
    free(r->vm_next);
    free(r->vm_prev);
    free(r->vm_retries);
    free(r->nmig);
    free(r->vm_state);
    free(r->off_since);
    free(r->rate);
    free(r->stun_ms);
    free(r->outage_ms);
    free(r->m);
    free(r->free_slots);
    free(r->slot);
    free(r->evac);
    free(r->evs);
    free(r->patched_list);
    free(r->ord);
    free(r->phase_of);
    free(r->phase_left);
    free(r->phase_pos);
    free(r->cache);
    free(r->home_start);
    free(r->home_vms);
    free(r->rebal);
    free(r->chk_mem);
    free(r->chk_cpu);
    free(r->chk_sum);
    free(r->chk_top);
    free(r->lk);
    free(r->lq);
    free(r->fl);
    for (int i = 0; i < 5; i++)
        free(r->hp[i]);
    free(r->lvq);
    free(r->lvown);
    free(r->lvn);
    free(r->lvn2);
    free(r->cls);
    free(r->cord);
    free(r->cfree);
    free(r->exl);
    free(r->incl);
    free(r->evnew);
    free(r->lglob);
    co_share_free(&r->sh);
    free(r->spans);
    free(r);
}

void co_sim_run_set_check(co_sim_run *r, int on) { r->check = on; }
void co_sim_run_set_split(co_sim_run *r, int on) { r->split = on; }
void co_sim_run_set_coalesce(co_sim_run *r, int on) { r->coalesce = on; }
void co_sim_run_set_record(co_sim_run *r, int on) { r->record = on; }
const double *co_sim_run_stun_ms(const co_sim_run *r) { return r->stun_ms; }
const double *co_sim_run_outage_ms(const co_sim_run *r) { return r->outage_ms; }
const int *co_sim_run_vm_migrations(const co_sim_run *r) { return r->nmig; }
const int *co_sim_run_vm_host(const co_sim_run *r) { return r->vm_host; }

const co_sim_span *co_sim_run_spans(const co_sim_run *r, size_t *n)
{
    *n = r->nspans;
    return r->spans;
}

size_t co_sim_run_bytes(const co_sim_run *r)
{
    /* the solver's link arrays (cap, rem, lev; cnt, first, heap, hpos) */
    size_t share_link = 3 * sizeof(double) + 4 * sizeof(int);
    /* per VM: run arrays, its slot, home/flow indices, and as a flow in
     * the solver: path, members, rate, frozen, plus its own bound link */
    size_t per_vm = 6 * sizeof(int) + 1 + sizeof(co_sim_time) + 3 * sizeof(double) +
                    sizeof(int) + 2 * sizeof(int) + 2 * sizeof(int) /* share heaps */ +
                    2 * CO_SHARE_HOPS * sizeof(int) + sizeof(double) + 1 + share_link;
    /* per link (2 per host, 2 per uplink): its state and queue entry */
    size_t per_link = sizeof(struct link) + 2 * sizeof(int) /* queue, satellite heap */ + share_link;
    size_t per_host = sizeof(struct hstate) + 6 * sizeof(int) + 2 * per_link;
    return per_vm * r->c->nvms + per_host * r->c->nhosts + 2 * per_link * r->c->nuplinks +
           ((size_t)1 << r->cache_bits) * sizeof(struct cache_ent) + r->q.cap * sizeof(co_sim_evq_node) +
           r->q.cap * 2 * sizeof(int32_t) +
           (size_t)r->mcap * (sizeof(struct mig) + sizeof(int)); /* the pool as it grew */
}

void co_sim_run_cache_stats(const co_sim_run *r, long *predictions, long *hits)
{
    *predictions = r->predictions;
    *hits = r->hits;
}

void co_sim_run_set_profile(co_sim_run *r, int on)
{
    r->profile = on;
    memset(&r->prof, 0, sizeof r->prof);
}

void co_sim_run_profile(const co_sim_run *r, co_sim_prof *out) { *out = r->prof; }

/* ---------------------------------------------------------------- helpers */

/* Event keys: host h is h, VM v is nhosts + v, the soak timer comes last. */
static void sched(co_sim_run *r, co_sim_time t, uint32_t kind, uint32_t key)
{
    /* absurd inputs (a million-hour reboot on every host) saturate the
     * clock instead of overflowing it */
    co_sim_evq_schedule(&r->q, t < T_MAX ? t : T_MAX, kind, key);
}

static co_sim_time us_of_ms(double ms)
{
    double us = ceil(ms * CO_SIM_US_PER_MS);
    return us < (double)STEP_MAX ? (co_sim_time)us : STEP_MAX;
}

static void span(co_sim_run *r, int kind, int host, int other, int vm, co_sim_time a,
                 co_sim_time b, double stun_ms, int aborted)
{
    if (!r->record)
        return;
    if (r->nspans == r->capspans) {
        size_t nc = r->capspans ? 2 * r->capspans : 1024;
        co_sim_span *s = realloc(r->spans, nc * sizeof *s);
        if (s == NULL) {
            r->oom = 1;
            return;
        }
        r->spans = s;
        r->capspans = nc;
    }
    r->spans[r->nspans++] = (co_sim_span){kind, host, other, vm, a, b, stun_ms, aborted};
}

/* The evacuating hosts dispatch visits (evs, in evacuation order): an
 * evacuating host with no VM left to move and migrations still in flight
 * (in or out) is inert there (nothing to try, not done), so dispatch drops
 * it from evs, and it comes back when that can change: a VM joins its list
 * of residents, or one of its migrations ends. Same visits with effect, in
 * the same order, as a walk over every evacuating host: the run is the
 * same to the bit, and an event costs what it touches, not the number of
 * hosts evacuating. */
static void evac_wake(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    if (!hs->evacuating || hs->ev_act)
        return;
    int lo = 0, hi = r->nevs;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (r->h[r->evs[mid]].ev_seq < hs->ev_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&r->evs[lo + 1], &r->evs[lo], (size_t)(r->nevs - lo) * sizeof(int));
    r->evs[lo] = h;
    r->nevs++;
    hs->ev_act = 1;
}

/* The resident list of a host ("may still have to leave"): doubly linked
 * through vm_next/vm_prev; the parked list is singly linked through vm_next. */
static void move_push_back(co_sim_run *r, int h, int v)
{
    struct hstate *hs = &r->h[h];
    evac_wake(r, h);
    r->vm_next[v] = -1;
    r->vm_prev[v] = hs->move_tail;
    if (hs->move_tail >= 0)
        r->vm_next[hs->move_tail] = v;
    else
        hs->move_head = v;
    hs->move_tail = v;
}

static void move_push_front(co_sim_run *r, int h, int v)
{
    struct hstate *hs = &r->h[h];
    evac_wake(r, h);
    r->vm_prev[v] = -1;
    r->vm_next[v] = hs->move_head;
    if (hs->move_head >= 0)
        r->vm_prev[hs->move_head] = v;
    else
        hs->move_tail = v;
    hs->move_head = v;
}

static void move_remove(co_sim_run *r, int h, int v)
{
    struct hstate *hs = &r->h[h];
    int p = r->vm_prev[v], n = r->vm_next[v];
    if (p >= 0)
        r->vm_next[p] = n;
    else
        hs->move_head = n;
    if (n >= 0)
        r->vm_prev[n] = p;
    else
        hs->move_tail = p;
    r->vm_next[v] = r->vm_prev[v] = -1;
}

static int *list_head(co_sim_run *r, const struct mig *m, int l)
{
    switch (l) {
    case L_OUT:
        return &r->h[m->src].out_head;
    case L_IN:
        return &r->h[m->dst].in_head;
    case L_UOUT:
        return m->su >= 0 ? &r->up_out_head[m->su] : NULL;
    default:
        return m->du >= 0 ? &r->up_in_head[m->du] : NULL;
    }
}

static void mig_links(const co_sim_run *r, struct mig *m);

static struct mig *mig_of(const co_sim_run *r, int v)
{
    return &r->m[r->slot[v]];
}

/* Put slots from..to-1 on the free stack, the lowest on top (taken first). */
static void slots_free(co_sim_run *r, int from, int to)
{
    for (int i = to - 1; i >= from; i--) {
        r->m[i].floc = -1;
        r->m[i].cls = r->m[i].bpos = -1;
        r->m[i].held = r->m[i].need = 0;
        r->free_slots[r->nfree++] = i;
    }
}

/* A free slot for VM v, the pool doubled when full; -1 (and r->oom) when
 * memory runs out. */
static int slot_take(co_sim_run *r, int v)
{
    if (r->nfree == 0) {
        int nc = r->mcap * 2;
        struct mig *m = realloc(r->m, (size_t)nc * sizeof *m);
        if (m != NULL)
            r->m = m;
        int *f = m ? realloc(r->free_slots, (size_t)nc * sizeof *f) : NULL;
        if (f == NULL) {
            r->oom = 1;
            return -1;
        }
        r->free_slots = f;
        slots_free(r, r->mcap, nc);
        r->mcap = nc;
    }
    int k = r->free_slots[--r->nfree];
    r->slot[v] = k;
    r->m[k].v = v;
    return k;
}

static void slot_give(co_sim_run *r, int v)
{
    r->free_slots[r->nfree++] = r->slot[v];
    r->slot[v] = -1;
}

/* ------------------------------------------------- the dominant link */

/* Migration m's rate becomes x; each link's sum follows. */
static void set_rate(co_sim_run *r, struct mig *m, double x)
{
    for (int i = 0; i < m->ng; i++)
        r->lk[m->g[i]].sum += x - m->rate;
    m->rate = x;
}

/* Does migration m cross link g? */
static int crosses(const struct mig *m, int g)
{
    for (int i = 0; i < m->ng; i++)
        if (m->g[i] == g)
            return 1;
    return 0;
}

/* The rate in force of migration m (a dominant link keeps it for all its
 * migrations at once). */
static double rate_of(const co_sim_run *r, const struct mig *m)
{
    return r->dom >= 0 && !m->held && crosses(m, r->dom) ? r->dom_rate : m->rate;
}

/* The indexed heaps of the dominant link: 0 satellites by level cap/cnt
 * (lowest first), 3 held migrations by rate (highest first), 4 satellites
 * by fill level (lowest first). Items are link ids (0, 4) or slots (3). */
static int *hpos(co_sim_run *r, int w, int x)
{
    switch (w) {
    case 0:
        return &r->lk[x].sat_pos;
    case 3:
        return &r->m[x].bpos;
    default:
        return &r->lk[x].phi_pos;
    }
}

/* Level mode: the level at which satellite g would fill if its migrations
 * at the dominant link's level rose together (its held ones keep their
 * rates); INFINITY when it has none. */
static double phi(const co_sim_run *r, int g)
{
    const struct link *k = &r->lk[g];
    int na = k->bcnt - k->nb;
    return na > 0 ? (k->cap - k->bsum) / na : INFINITY;
}

static double level(const co_sim_run *r, int g)
{
    return r->lk[g].cap / r->lk[g].cnt; /* the solver's first level of g: rem/cnt, rem = cap */
}

static int hbefore(const co_sim_run *r, int w, int a, int b)
{
    switch (w) {
    case 0:
        return level(r, a) < level(r, b);
    case 3:
        return r->m[a].rate > r->m[b].rate;
    default:
        return phi(r, a) < phi(r, b);
    }
}

static void hput(co_sim_run *r, int w, int i, int x)
{
    r->hp[w][i] = x;
    *hpos(r, w, x) = i;
}

static void hsift(co_sim_run *r, int w, int i)
{
    int *a = r->hp[w], n = r->hn[w], x = a[i];
    while (i > 0 && hbefore(r, w, x, a[(i - 1) / 2])) {
        hput(r, w, i, a[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hbefore(r, w, a[c + 1], a[c]))
            c++;
        if (!hbefore(r, w, a[c], x))
            break;
        hput(r, w, i, a[c]);
        i = c;
    }
    hput(r, w, i, x);
}

/* Insert x, or move it after its key changed. */
static void hset(co_sim_run *r, int w, int x)
{
    int *p = hpos(r, w, x);
    if (*p < 0)
        hput(r, w, r->hn[w]++, x);
    hsift(r, w, *p);
}

static void hdel(co_sim_run *r, int w, int x)
{
    int *p = hpos(r, w, x), i = *p;
    if (i < 0)
        return;
    *p = -1;
    int last = r->hp[w][--r->hn[w]];
    if (i < r->hn[w]) {
        hput(r, w, i, last);
        hsift(r, w, i);
    }
}

/* Link g (not the dominant one) changed its counts: keep it in the
 * satellite heap while dominant migrations cross it, and count it as bad
 * while it also carries others. */
static void sat_refresh(co_sim_run *r, int g)
{
    struct link *k = &r->lk[g];
    int bad = 0;
    if (k->bcnt > 0) {
        hset(r, 0, g);
        bad = k->cnt != k->bcnt;
    } else {
        hdel(r, 0, g);
    }
    r->dom_bad += bad - k->sat_bad;
    k->sat_bad = bad;
}

/* Share classes. The migrations at the dominant link's rate are grouped by
 * the share they were timed at: every re-timing of an event gives them the
 * same share (the link's level), so there are few distinct values, kept in
 * cord by share. The lowest and the highest decide keeps_share for all
 * (see dominant_shortcut), and those that fail it are whole classes found
 * from both ends (lvl_scan_shares): O(1) per migration, no heap. */

/* Position in cord of the first class whose share is >= s. */
static int cls_lower(const co_sim_run *r, double s)
{
    int lo = 0, hi = r->ncord;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (r->cls[r->cord[mid]].share < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Migration k leaves its class, if any (an empty class is dropped). */
static void cls_del(co_sim_run *r, int k)
{
    struct mig *m = &r->m[k];
    int c = m->cls;
    if (c < 0)
        return;
    struct sclass *x = &r->cls[c];
    if (m->cprev >= 0)
        r->m[m->cprev].cnext = m->cnext;
    else
        x->head = m->cnext;
    if (m->cnext >= 0)
        r->m[m->cnext].cprev = m->cprev;
    m->cls = -1;
    if (--x->n == 0) {
        int i = cls_lower(r, x->share);
        memmove(&r->cord[i], &r->cord[i + 1], (size_t)(r->ncord - i - 1) * sizeof(int));
        r->ncord--;
        r->cfree[r->ncfree++] = c;
    }
}

/* Migration k joins the class of its timed-at share. */
static void cls_put(co_sim_run *r, int k)
{
    struct mig *m = &r->m[k];
    if (m->cls >= 0 && r->cls[m->cls].share == m->share)
        return;
    cls_del(r, k);
    int i = cls_lower(r, m->share), c;
    if (i < r->ncord && r->cls[r->cord[i]].share == m->share) {
        c = r->cord[i];
    } else {
        c = r->ncfree > 0 ? r->cfree[--r->ncfree] : r->ncls++;
        r->cls[c] = (struct sclass){m->share, -1, 0};
        memmove(&r->cord[i + 1], &r->cord[i], (size_t)(r->ncord - i) * sizeof(int));
        r->cord[i] = c;
        r->ncord++;
    }
    struct sclass *x = &r->cls[c];
    m->cls = c;
    m->cprev = -1;
    m->cnext = x->head;
    if (x->head >= 0)
        r->m[x->head].cprev = k;
    x->head = k;
    x->n++;
}

/* A timed migration on the dominant link: its share in the share classes. */
static void share_note(co_sim_run *r, int k)
{
    if (r->dom >= 0 && r->m[k].T_us > 0 && !r->m[k].held && crosses(&r->m[k], r->dom))
        cls_put(r, k);
}

static int link_first(const co_sim_run *r, int g, int *l);

/* Forget the dominant link: its migrations get their rate back in m->rate,
 * the heaps and satellite counts are cleared. */
static void dom_drop(co_sim_run *r)
{
    if (r->dom < 0)
        return;
    int l, k = link_first(r, r->dom, &l);
    for (; k >= 0; k = r->m[k].next[l]) {
        struct mig *m = &r->m[k];
        if (!m->held)
            set_rate(r, m, r->dom_rate);
        m->held = 0;
        m->bpos = -1;
    }
    for (int i = 0; i < r->hn[0]; i++) {
        struct link *x = &r->lk[r->hp[0][i]];
        x->bcnt = x->sat_bad = 0;
        x->sat_pos = -1;
        x->bsum = 0;
        x->nb = x->bbn = 0;
        x->phi_pos = -1;
    }
    struct link *d = &r->lk[r->dom];
    d->bsum = 0;
    d->nb = d->bbn = 0;
    d->phi_pos = -1;
    for (int i = 0; i < r->ncord; i++)
        for (int j = r->cls[r->cord[i]].head; j >= 0; j = r->m[j].cnext)
            r->m[j].cls = -1;
    r->ncord = r->ncfree = r->ncls = 0;
    for (int w = 0; w < 5; w++)
        r->hn[w] = 0;
    r->dom = -1;
    r->dom_bad = 0;
    r->lvl = 0;
}

/* Level mode: satellite g's place in the fill-level heap follows its
 * counts and held sum. */
static void phi_refresh(co_sim_run *r, int g)
{
    if (g == r->dom)
        return;
    if (r->lk[g].bcnt - r->lk[g].nb > 0)
        hset(r, 4, g);
    else
        hdel(r, 4, g);
}

/* Level mode: migration k (on the dominant link) is held at rate x by
 * link bott (-2: its own bound) below the link's level. */
static void lvl_hold(co_sim_run *r, int k, double x, int bott)
{
    struct mig *m = &r->m[k];
    set_rate(r, m, x);
    m->held = 1;
    m->bott = bott;
    for (int i = 0; i < m->ng; i++) {
        r->lk[m->g[i]].bsum += x;
        r->lk[m->g[i]].nb++;
        phi_refresh(r, m->g[i]); /* at once: a heap is re-sifted after each key change */
    }
    if (bott >= 0)
        r->lk[bott].bbn++;
    hset(r, 3, k);
    cls_del(r, k);
}

/* Undo lvl_hold (the migration leaves, or is solved again). */
static void lvl_unhold(co_sim_run *r, int k)
{
    struct mig *m = &r->m[k];
    for (int i = 0; i < m->ng; i++) {
        struct link *x = &r->lk[m->g[i]];
        /* back to exactly 0 when none is left, so rounding cannot pile up */
        x->bsum = --x->nb > 0 ? x->bsum - m->rate : 0;
        phi_refresh(r, m->g[i]);
    }
    if (m->bott >= 0)
        r->lk[m->bott].bbn--;
    hdel(r, 3, k);
    m->held = 0;
}

/* Migration m joins (+1) or leaves (-1) its links: satellite counts and
 * share heaps follow (called after the links' counts changed). */
static void dom_account(co_sim_run *r, int k, int sign)
{
    struct mig *m = &r->m[k];
    int b = crosses(m, r->dom);
    if (b && sign < 0 && m->held)
        lvl_unhold(r, k);
    for (int i = 0; i < m->ng; i++) {
        int g = m->g[i];
        if (g == r->dom)
            continue;
        r->lk[g].bcnt += b ? sign : 0;
        if (r->lk[g].bcnt > 0 || r->lk[g].sat_pos >= 0)
            sat_refresh(r, g);
        if (r->lvl)
            phi_refresh(r, g);
    }
    if (b && sign < 0) {
        cls_del(r, k);
        if (r->lk[r->dom].cnt == 0)
            dom_drop(r);
    }
}

/* Keep each link's count and bound sum (see reshare) as v joins (+1) or
 * leaves (-1) it. */
static void link_account(co_sim_run *r, int v, int sign)
{
    struct mig *m = mig_of(r, v);
    if (sign > 0)
        mig_links(r, m);
    const int *g = m->g, n = m->ng;
    if (sign > 0) {
        m->ub = r->lk[g[0]].cap;
        for (int i = 1; i < n; i++)
            if (r->lk[g[i]].cap < m->ub)
                m->ub = r->lk[g[i]].cap;
    }
    for (int i = 0; i < n; i++) {
        struct link *k = &r->lk[g[i]];
        k->cnt += sign;
        /* back to exactly 0 when empty, so rounding cannot pile up */
        k->ubsum = k->cnt ? k->ubsum + sign * m->ub : 0;
        k->sum = k->cnt ? k->sum + sign * m->rate : 0; /* a new one's rate is 0 */
    }
    if (r->dom >= 0)
        dom_account(r, r->slot[v], sign);
}

static void mlist_add(co_sim_run *r, int v)
{
    link_account(r, v, +1);
    int k = r->slot[v];
    struct mig *m = &r->m[k];
    m->lseq = ++r->lseq;
    for (int l = 0; l < L_N; l++) {
        int *head = list_head(r, m, l);
        m->next[l] = m->prev[l] = -1;
        if (head == NULL)
            continue;
        m->next[l] = *head;
        if (*head >= 0)
            r->m[*head].prev[l] = k;
        *head = k;
    }
    r->h[m->src].out_n++;
    r->h[m->dst].in_n++;
    if (m->su >= 0)
        r->up_out_n[m->su]++;
    if (m->du >= 0)
        r->up_in_n[m->du]++;
}

static void mlist_remove(co_sim_run *r, int v)
{
    link_account(r, v, -1);
    struct mig *m = mig_of(r, v);
    for (int l = 0; l < L_N; l++) {
        int *head = list_head(r, m, l);
        if (head == NULL)
            continue;
        if (m->prev[l] >= 0)
            r->m[m->prev[l]].next[l] = m->next[l];
        else
            *head = m->next[l];
        if (m->next[l] >= 0)
            r->m[m->next[l]].prev[l] = m->prev[l];
    }
    r->h[m->src].out_n--;
    r->h[m->dst].in_n--;
    if (m->su >= 0)
        r->up_out_n[m->su]--;
    if (m->du >= 0)
        r->up_in_n[m->du]--;
    evac_wake(r, m->src);
    evac_wake(r, m->dst);
}

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* co_mig_predict for VM v's profile at a share; cached because many VMs
 * share a profile and shares take few distinct values. Pure, so the cache
 * cannot change results. */
static void predict(co_sim_run *r, int v, const struct mig *m, double share, double *T_ms,
                    double *down_ms, int *conv)
{
    const co_sim_cluster *c = r->c;
    const co_sim_vm *vm = &c->vms[v];
    const co_sim_profile *pf = &c->profiles[vm->profile];
    int mtu = c->hosts[m->src].mtu < c->hosts[m->dst].mtu ? c->hosts[m->src].mtu
                                                           : c->hosts[m->dst].mtu;
    int ch = c->hosts[m->src].channels < c->hosts[m->dst].channels ? c->hosts[m->src].channels
                                                                   : c->hosts[m->dst].channels;
    double rate = pf->rate_sampled ? r->rate[v] : pf->dirty.rate_pages_per_s;
    uint64_t k = bits(share) * 0x9E3779B97F4A7C15ull ^ bits(rate) * 0xC2B2AE3D27D4EB4Full ^
                 ((uint64_t)vm->profile << 20) ^ ((uint64_t)mtu << 4) ^ (uint64_t)ch;
    k ^= k >> 29;
    struct cache_ent *e = &r->cache[(k * 0xBF58476D1CE4E5B9ull) >> (64 - r->cache_bits)];
    r->predictions++;
    if (e->valid && e->profile == vm->profile && e->mtu == mtu && e->channels == ch &&
        e->share == share && e->rate == rate) {
        r->hits++;
        *T_ms = e->T_ms;
        *down_ms = e->down_ms;
        *conv = e->conv;
        return;
    }
    co_mig_params p = c->plan.mig;
    p.mem_bytes = pf->mem_bytes;
    p.zero_fraction = pf->zero_fraction;
    p.dirty = pf->dirty;
    p.dirty.rate_pages_per_s = rate;
    p.link.line_rate_bytes_per_s = share;
    p.link.mtu = mtu;
    p.link.channels = ch;
    co_mig_result res;
    double t0 = r->profile ? co_clock_ms() * 1e6 : 0;
    int prc = co_mig_predict(&p, &res);
    r->prof.model_calls++;
    if (r->profile)
        r->prof.model_ns += co_clock_ms() * 1e6 - t0;
    if (prc != CO_OK) {
        /* the loader checked the policy; a share this odd gives up after
         * the deadline, as QEMU would be cancelled */
        res.converged = 0;
        res.total_time_ms = p.deadline_ms;
        res.downtime_ms = 0;
    }
    *T_ms = res.total_time_ms > 0.001 ? res.total_time_ms : 0.001;
    *conv = res.converged;
    *down_ms = res.converged ? res.downtime_ms : 0;
    *e = (struct cache_ent){vm->profile, mtu, ch, 1, share, rate, *T_ms, *down_ms, *conv};
}

/* Within the tolerance a migration keeps the share it was timed at (0, the
 * exact mode, re-times on any change). For a fixed s this holds on an
 * interval of timed-at shares (for tolerances up to 0.25; see
 * dominant_shortcut), so testing the lowest and the highest share tests
 * them all. */
static int keeps_share(const co_sim_run *r, const struct mig *m, double s)
{
    return m->T_us > 0 && fabs(s - m->share) <= r->c->plan.share_tolerance * m->share;
}

/* keeps_share for a timed migration whose timed-at share is `share`. */
static int keeps_val(const co_sim_run *r, double share, double s)
{
    return fabs(s - share) <= r->c->plan.share_tolerance * share;
}

/* Give migration m the share s (bytes/s): if it moved beyond the tolerance
 * (or it was never timed), the done fraction is kept and the rest re-timed
 * with a prediction at s. */
static void retime(co_sim_run *r, struct mig *m, double s)
{
    int v = m->v;
    if (keeps_share(r, m, s))
        return;
    if (m->T_us > 0)
        m->frac += (double)(r->now - m->last_us) / m->T_us;
    m->last_us = r->now;
    m->share = s;
    double T_ms;
    r->prof.retimes++;
    predict(r, v, m, s, &T_ms, &m->down_ms, &m->conv);
    T_ms *= m->tf; /* the forecast's model error, 1 unless drawn */
    m->down_ms *= m->df;
    m->T_us = T_ms * CO_SIM_US_PER_MS;
    double left = m->abort_frac - m->frac;
    if (left < 0)
        left = 0;
    double dt = ceil(left * m->T_us);
    sched(r, r->now + (dt < (double)STEP_MAX ? (co_sim_time)dt : STEP_MAX), EV_MIG,
          (uint32_t)(r->c->nhosts + v));
    share_note(r, (int)(m - r->m));
}

/* ------------------------------------------------------ max-min sharing */

/* Fill in the links migration m crosses (global ids, see struct co_sim_run). */
static void mig_links(const co_sim_run *r, struct mig *m)
{
    int H = r->c->nhosts, n = 0;
    m->g[n++] = 2 * m->src;
    m->g[n++] = 2 * m->dst + 1;
    if (m->su >= 0)
        m->g[n++] = 2 * H + 2 * m->su;
    if (m->du >= 0)
        m->g[n++] = 2 * H + 2 * m->du + 1;
    m->ng = n;
}

/* Slot of the first migration on link g, and the list its next pointers
 * follow. */
static int link_first(const co_sim_run *r, int g, int *l)
{
    int H = r->c->nhosts;
    if (g < 2 * H) {
        *l = g % 2 ? L_IN : L_OUT;
        return g % 2 ? r->h[g / 2].in_head : r->h[g / 2].out_head;
    }
    int u = (g - 2 * H) / 2;
    *l = g % 2 ? L_UIN : L_UOUT;
    return g % 2 ? r->up_in_head[u] : r->up_out_head[u];
}

/* A link whose set of migrations changed in this event. */
static void seed(co_sim_run *r, int g)
{
    if (r->lk[g].loc < 0) {
        r->lk[g].pre = r->lk[g].sum;
        r->lk[g].loc = r->nlq;
        r->lq[r->nlq++] = g;
    }
}

static void seed_mig(co_sim_run *r, const struct mig *m)
{
    for (int i = 0; i < m->ng; i++)
        seed(r, m->g[i]);
}

/* Does link g constrain anyone? Every migration's rate is at most its ub
 * (the smallest capacity on its path), so a link whose migrations' ub sum
 * to no more than its capacity can never be over it: its constraint is
 * implied by the others and leaving it out changes no rate. Such a link
 * neither enters a solve nor connects the migrations crossing it. It
 * depends only on the set of migrations on the link. */
static int constrains(const co_sim_run *r, int g)
{
    return r->lk[g].ubsum > r->lk[g].cap;
}

/* The constraining links of m, in path order; returns how many. */
static int signature(const co_sim_run *r, const struct mig *m, int *sig)
{
    int n = 0;
    for (int i = 0; i < m->ng; i++)
        if (constrains(r, m->g[i]))
            sig[n++] = m->g[i];
    return n;
}

/* Migration v is about to leave its links (called before they forget it). */
static void note_end(co_sim_run *r, int v)
{
    const struct mig *m = mig_of(r, v);
    if (r->ev_dels++ == 0) {
        r->ev_nsig = signature(r, m, r->ev_sig);
        r->ev_ub = m->ub;
        r->ev_rate = rate_of(r, m);
        r->ev_bott = m->bott;
        r->ev_held = m->held;
    }
    seed_mig(r, m);
}

/* Migration v has joined its links. */
static void note_start(co_sim_run *r, int v)
{
    const struct mig *m = mig_of(r, v);
    r->ev_adds++;
    r->ev_new = v;
    seed_mig(r, m);
    r->evnew[r->nevnew++] = v;
}

/* The shortcut: the event ended one migration and started one whose
 * constraining links (after) are those of the one that ended (before),
 * with the same ub. Every other link it touched constrains nobody before
 * or after, so the problem is the same one with a migration swapped for an
 * equivalent one: every rate stays, and the new one gets the old one's.
 * (A dispatcher refilling an evacuating host's slot does this.) */
static int swap_shortcut(co_sim_run *r)
{
    if (r->ev_adds != 1 || r->ev_dels != 1 || r->ev_held)
        return 0;
    struct mig *m = mig_of(r, r->ev_new);
    int sig[4], n = signature(r, m, sig);
    if (m->ub != r->ev_ub || n != r->ev_nsig || memcmp(sig, r->ev_sig, (size_t)n * sizeof(int)))
        return 0;
    for (int i = 0; i < r->nlq; i++)
        r->lk[r->lq[i]].loc = -1;
    r->nlq = 0;
    r->prof.swaps++;
    set_rate(r, m, r->ev_rate);
    m->bott = r->ev_bott; /* same constraining links: the same bottleneck */
    retime(r, m, m->rate);
    return 1;
}

/* Links at the dominant link's level must not fill before it with another
 * result: a satellite at exactly its level is harmless only when it carries
 * all of its migrations (same cap, same count: the solver freezes the same
 * migrations at the same quotient whichever it picks first). Walks the
 * heap's entries at that level from the top. */
static int ties_ok(const co_sim_run *r, int i, double lv)
{
    if (i >= r->hn[0])
        return 1;
    int g = r->hp[0][i];
    if (level(r, g) > lv)
        return 1;
    if (r->lk[g].cnt != r->lk[r->dom].cnt)
        return 0;
    return ties_ok(r, 2 * i + 1, lv) && ties_ok(r, 2 * i + 2, lv);
}

/* The dominant-link fast path. A link D is dominant when every migration
 * crossing it has the same max-min rate, cap(D)/cnt(D): progressive filling
 * filled D first and froze them all at that quotient (a backbone that every
 * migration of an evacuation crosses). After an event that started and
 * ended migrations, the solver would give the same answer
 * again, D's new quotient for all of them, when:
 *  - every link whose set changed is D, one of its satellites (the other
 *    links of its migrations) or empty, and no satellite carries a
 *    migration that does not cross D: the connected problem is exactly D's
 *    migrations;
 *  - D still constrains, and every satellite's level cap/cnt is above D's
 *    (or equal with D's count, see ties_ok); a migration's own bound (its
 *    smallest capacity) is at least the level of that link, so it is
 *    above too: D fills first, at rem/cnt = cap/cnt, and freezes everyone.
 * Then the only re-timings the solver's pass would make are those of the
 * migrations whose share moved beyond the tolerance: if the lowest and the
 * highest timed-at share on D keep theirs, all do, and only the new
 * migrations (never timed) are timed, in the solver pass's order; otherwise the full path runs, so the
 * re-timings come in the same order and the results stay bit-identical.
 * Cost: O(log n) per link whose set changed, instead of the whole link. */
static int dominant_shortcut(co_sim_run *r)
{
    int D = r->dom;
    if (D < 0 || r->dom_bad > 0 || r->lk[D].cnt == 0 || !constrains(r, D) ||
        r->c->plan.share_tolerance > 0.25)
        return 0;
    for (int i = 0; i < r->nlq; i++) {
        const struct link *k = &r->lk[r->lq[i]];
        if (r->lq[i] != D && k->cnt > 0 && k->bcnt != k->cnt)
            return 0; /* a migration not crossing D: another problem joins */
    }
    double lv = level(r, D);
    if (!ties_ok(r, 0, lv))
        return 0;
    int all = r->ncord > 0 && (!keeps_val(r, r->cls[r->cord[0]].share, lv) ||
                               !keeps_val(r, r->cls[r->cord[r->ncord - 1]].share, lv));
    int d = 0;
    while (d < r->nlq && r->lq[d] != D)
        d++;
    if (all && d == r->nlq)
        return 0; /* D's count did not move, so its level did not: not expected */
    r->dom_rate = lv;
    r->prof.dominant++;
    if (all) {
        /* shares moved beyond the tolerance: the solver's pass would walk
         * the changed links' lists in seeding order up to D, whose list
         * holds everyone (the problem is D's migrations), and re-time them
         * in that order; so do we, without the solve */
        int nfl = 0;
        for (int i = 0; i <= d; i++) {
            int l, k = link_first(r, r->lq[i], &l);
            for (; k >= 0; k = r->m[k].next[l])
                if (r->m[k].floc < 0) {
                    r->m[k].floc = nfl;
                    r->fl[nfl++] = k;
                }
        }
        for (int i = 0; i < r->nlq; i++)
            r->lk[r->lq[i]].loc = -1;
        r->nlq = 0;
        for (int i = 0; i < nfl; i++) {
            struct mig *m = &r->m[r->fl[i]];
            m->floc = -1;
            retime(r, m, lv);
        }
        return 1;
    }
    /* time the new migrations in the order the full path's breadth-first
     * walk meets them: the changed links' lists first, in the order the
     * links were seeded (every new migration is on its own links, which
     * are seeds; the migrations met before it keep their shares) */
    int left = r->ev_adds;
    for (int i = 0; i < r->nlq && left > 0; i++) {
        int l, k = link_first(r, r->lq[i], &l);
        for (; k >= 0 && left > 0; k = r->m[k].next[l])
            if (r->m[k].T_us == 0) {
                left--;
                r->m[k].bott = D;
                retime(r, &r->m[k], lv);
            }
    }
    for (int i = 0; i < r->nlq; i++)
        r->lk[r->lq[i]].loc = -1;
    r->nlq = 0;
    return 1;
}

/* After a solve that included link D (so every migration on it): can it
 * have frozen any of them? Then it filled: its rates sum to its capacity
 * up to rounding. Saves dom_find and lvl_find a walk of a long list for a
 * link with room left. */
static int near_full(const co_sim_run *r, int D)
{
    return r->lk[D].sum >= r->lk[D].cap * (1 - 1e-6);
}

/* After a solve: is one of its links dominant now (see dominant_shortcut)?
 * Only links with many migrations are worth it. Called before the solve's
 * queue is cleared, after the rates are in m->rate. */
#define DOM_MIN 256
static void dom_find(co_sim_run *r)
{
    for (int i = 0; i < r->nlq && r->dom < 0; i++) {
        int D = r->lq[i], l;
        if (r->lk[D].cnt < DOM_MIN || r->lk[D].lidx < 0 || !near_full(r, D))
            continue;
        double lv = level(r, D);
        int k = link_first(r, D, &l), ok = 1;
        for (; k >= 0 && ok; k = r->m[k].next[l])
            ok = r->m[k].rate == lv;
        if (!ok)
            continue;
        r->dom = D;
        r->dom_rate = lv;
        for (k = link_first(r, D, &l); k >= 0; k = r->m[k].next[l]) {
            const struct mig *m = &r->m[k];
            for (int j = 0; j < m->ng; j++)
                if (m->g[j] != D)
                    r->lk[m->g[j]].bcnt++;
        }
        for (k = link_first(r, D, &l); k >= 0; k = r->m[k].next[l]) {
            const struct mig *m = &r->m[k];
            for (int j = 0; j < m->ng; j++)
                if (m->g[j] != D && r->lk[m->g[j]].sat_pos < 0)
                    sat_refresh(r, m->g[j]);
            share_note(r, k);
        }
    }
}

/* ------------------------------------------------------- level mode */

/* The dominant link in level mode (split mode only; sim/run.c's answer to
 * the backbone that is full while only some of its migrations are held by
 * it). Progressive filling on a link D whose satellites carry only D's
 * migrations: below D's level every satellite fills as if D were not there,
 * and at D's level D fills and freezes everyone left. So the migrations on
 * D split into those held below by a satellite (or their own bound), with
 * their own rates (m->held, m->rate), and those at D's level
 *     lambda = (cap(D) - sum of held rates) / (count - held count),
 * one number (dom_rate) as for the dominant link. The held ones are the
 * max-min solution of the satellites alone with every migration capped at
 * lambda. After an event the allocation is still max-min fair when
 *  - no satellite would fill below lambda: its fill level
 *    phi = (cap - held sum) / (migrations at the level) is >= lambda for
 *    every satellite (a min-heap), which also covers the migrations' own
 *    bounds (the smallest capacity on a path is a satellite's);
 *  - no held migration is above lambda (a max-heap);
 *  - every held migration still has its bottleneck: its satellite is
 *    unchanged, or solved again.
 * The satellites that break one of these (and the changed ones that are
 * some held migration's bottleneck) are solved again with everything
 * connected to them through constraining satellites (D and satellites
 * carrying all of D's migrations with at least its capacity are left out:
 * their constraint is D's), each migration capped at lambda; held sums
 * change, so lambda does, and the checks run again until none breaks
 * (LVL_PASSES at most, else the full solve). The cost of an event is the
 * components solved, not the link. The rates are the max-min rates up to
 * rounding (held sums are kept as running sums): the tolerance of the
 * split mode (tests/sim/test_digest.c). */
#define LVL_EPS 1e-12
#define LVL_PASSES 64

/* A satellite whose constraint D's implies: it carries all of D's
 * migrations (and only those) with at least D's capacity. */
static int twin(const co_sim_run *r, int h)
{
    return r->lk[h].bcnt == r->lk[r->dom].cnt && r->lk[h].cap >= r->lk[r->dom].cap;
}

static void lvl_push(co_sim_run *r, int g, int *nq)
{
    if (g != r->dom && r->lk[g].stamp != r->gen && !twin(r, g)) {
        r->lk[g].stamp = r->gen;
        r->lvq[(*nq)++] = g;
    }
}

/* Queue what breaks the checks at level lv, walking heap w from node i
 * (only the nodes that break it, and their children). */
static void lvl_scan(co_sim_run *r, int w, int i, double lv, int *nq)
{
    if (i >= r->hn[w])
        return;
    int x = r->hp[w][i];
    if (w == 4) {
        if (!(phi(r, x) < lv * (1 - LVL_EPS)))
            return;
        lvl_push(r, x, nq);
    } else {
        const struct mig *m = &r->m[x];
        if (!(m->rate > lv * (1 + LVL_EPS)))
            return;
        for (int j = 0; j < m->ng; j++)
            lvl_push(r, m->g[j], nq);
    }
    lvl_scan(r, w, 2 * i + 1, lv, nq);
    lvl_scan(r, w, 2 * i + 2, lv, nq);
}

/* Migration k is to be offered its new rate at the end of the event. */
static void lvl_need(co_sim_run *r, int k)
{
    if (!r->m[k].need) {
        r->m[k].need = 1;
        r->lvn[r->nlvn++].k = k;
    }
}

/* Those at the level whose timed-at share left the tolerance around lv:
 * the share classes that fail the test, which holds on an interval of
 * shares, so they are found from both ends of cord. */
static void lvl_scan_shares(co_sim_run *r, double lv)
{
    int i = 0, j = r->ncord - 1;
    for (; i <= j && !keeps_val(r, r->cls[r->cord[i]].share, lv); i++)
        for (int k = r->cls[r->cord[i]].head; k >= 0; k = r->m[k].cnext)
            lvl_need(r, k);
    for (; j >= i && !keeps_val(r, r->cls[r->cord[j]].share, lv); j--)
        for (int k = r->cls[r->cord[j]].head; k >= 0; k = r->m[k].cnext)
            lvl_need(r, k);
}

static int lvn_before(const struct lvneed *x, const struct lvneed *y)
{
    return x->key < y->key || (x->key == y->key && x->lseq > y->lseq); /* list order: newest first */
}

/* Sort lvn by (key, then lseq descending): a total order (a migration is
 * there once, lseq is unique), so any correct sort gives the same result.
 * Few entries: insertion sort; else an LSD radix sort, 8 bits a pass, on
 * (key << B) | (last lseq - lseq), where B bits hold any lseq. */
static void lvn_sort(co_sim_run *r)
{
    struct lvneed *a = r->lvn, *b = r->lvn2;
    int n = r->nlvn;
    if (n < 64) {
        for (int i = 1; i < n; i++) {
            struct lvneed x = a[i];
            int j = i;
            for (; j > 0 && lvn_before(&x, &a[j - 1]); j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    uint64_t top = r->lseq;
    int kmax = 0;
    for (int i = 0; i < n; i++)
        kmax = a[i].key > kmax ? a[i].key : kmax;
    int B = 64 - __builtin_clzll(top | 1), bits = B + 64 - __builtin_clzll((uint64_t)kmax | 1);
    for (int i = 0; i < n; i++) /* the sort key replaces lseq (read no more) */
        a[i].lseq = (uint64_t)a[i].key << B | (top - a[i].lseq);
    for (int sh = 0; sh < bits; sh += 8) {
        int cnt[257] = {0};
        for (int i = 0; i < n; i++)
            cnt[((a[i].lseq >> sh) & 255) + 1]++;
        for (int d = 0; d < 256; d++)
            cnt[d + 1] += cnt[d];
        for (int i = 0; i < n; i++)
            b[cnt[(a[i].lseq >> sh) & 255]++] = a[i];
        struct lvneed *t = a;
        a = b;
        b = t;
    }
    r->lvn = a;
    r->lvn2 = b;
}

/* Solve the migrations of the queued satellites, and those connected to
 * them through constraining satellites, with each capped at lv. Nobody is
 * re-timed here (see lvl_shortcut); held ones whose rate moved beyond the
 * tolerance are queued (lvl_need). */
static void lvl_solve(co_sim_run *r, int nq, double lv)
{
    int D = r->dom;
    r->nfl = 0;
    for (int i = 0; i < nq; i++) {
        int g = r->lvq[i], l, k = link_first(r, g, &l);
        for (; k >= 0; k = r->m[k].next[l]) {
            struct mig *m = &r->m[k];
            if (m->floc >= 0)
                continue;
            m->floc = r->nfl;
            r->fl[r->nfl++] = k;
            for (int j = 0; j < m->ng; j++)
                if (constrains(r, m->g[j]))
                    lvl_push(r, m->g[j], &nq);
        }
    }
    co_share_reset(&r->sh);
    for (int i = 0; i < nq; i++) {
        int x = co_share_link(&r->sh, r->lk[r->lvq[i]].cap);
        r->lk[r->lvq[i]].lidx = x;
        r->lglob[x] = r->lvq[i];
    }
    for (int i = 0; i < r->nfl; i++) {
        const struct mig *m = &r->m[r->fl[i]];
        int g[CO_SHARE_HOPS], n = 0;
        for (int j = 0; j < m->ng; j++)
            if (m->g[j] != D && r->lk[m->g[j]].lidx >= 0)
                g[n++] = r->lk[m->g[j]].lidx;
        g[n] = co_share_link(&r->sh, fmin(lv, m->ub));
        r->lglob[g[n]] = -2;
        r->lvown[i] = g[n++];
        co_share_flow(&r->sh, g, n);
    }
    co_share_solve(&r->sh);
    r->prof.level_solves++;
    r->prof.level_flows += r->nfl;
    for (int i = 0; i < r->nfl; i++) {
        int k = r->fl[i], b = r->sh.bott[i];
        struct mig *m = &r->m[k];
        if (m->held)
            lvl_unhold(r, k);
        if (m->ub >= lv && (b == r->lvown[i] || r->sh.rate[i] >= lv * (1 - LVL_EPS))) {
            /* at the level (a satellite that fills at the level too, a
             * tie, holds nobody below it) */
            m->bott = D;
            share_note(r, k);
        } else {
            lvl_hold(r, k, r->sh.rate[i], b == r->lvown[i] ? -2 : r->lglob[b]);
            if (!keeps_share(r, m, m->rate))
                lvl_need(r, k);
        }
        m->floc = -1;
    }
    for (int i = 0; i < nq; i++)
        r->lk[r->lvq[i]].lidx = -1;
    r->nfl = 0;
}

static int lvl_abandon(co_sim_run *r)
{
    for (int i = 0; i < r->nlvn; i++)
        r->m[r->lvn[i].k].need = 0;
    r->nlvn = 0;
    return 0;
}

/* The event's re-sharing in level mode; 0 when it does not apply (then
 * the full solve runs and leaves level mode). */
static int lvl_shortcut(co_sim_run *r)
{
    int D = r->dom;
    if (!r->lvl || D < 0 || r->dom_bad > 0 || r->lk[D].cnt == 0 || !constrains(r, D) ||
        r->c->plan.share_tolerance > 0.25)
        return 0;
    for (int i = 0; i < r->nlq; i++) {
        const struct link *k = &r->lk[r->lq[i]];
        if (r->lq[i] != D && k->cnt > 0 && k->bcnt != k->cnt)
            return 0; /* a migration not crossing D: another problem joins */
    }
    int nq = 0;
    double lv = 0;
    r->gen++;
    r->nlvn = 0;
    /* changed satellites that hold migrations: those may rise */
    for (int i = 0; i < r->nlq; i++)
        if (r->lq[i] != D && r->lk[r->lq[i]].bbn > 0)
            lvl_push(r, r->lq[i], &nq);
    for (int pass = 0;; pass++) {
        const struct link *d = &r->lk[D];
        int na = d->cnt - d->nb;
        if (na <= 0 && pass < LVL_PASSES && fabs(d->bsum - d->cap) <= d->cap * 1e-9 && r->hn[3] > 0) {
            /* everyone held, and D exactly full (satellites that fill at
             * D's level, a tie): max-min fair as it is, nobody at a level
             * above the held ones */
            lv = r->m[r->hp[3][0]].rate;
            if (nq > 0) {
                lvl_solve(r, nq, lv);
                nq = 0;
                r->gen++;
                continue;
            }
            break;
        }
        if (na <= 0 || pass >= LVL_PASSES)
            return lvl_abandon(r); /* D is not full (or no fixed point soon): the full solve */
        lv = (d->cap - (d->bsum > 0 ? d->bsum : 0)) / na;
        if (!(lv > 0))
            return lvl_abandon(r);
        lvl_scan(r, 4, 0, lv, &nq);
        lvl_scan(r, 3, 0, lv, &nq);
        if (nq == 0)
            break;
        lvl_solve(r, nq, lv);
        nq = 0;
        r->gen++;
    }
    r->dom_rate = lv;
    r->prof.level++;
    /* Re-timing. The full solve offers every migration its new rate in
     * the order of its breadth-first walk (the changed links' lists in
     * seeding order up to D, whose list holds everyone), and retime()
     * re-times those whose share moved beyond the tolerance; migrations
     * ending in the same microsecond come out in that order. The same
     * re-timings in the same order, without the walk: those that need one
     * are the held ones queued by the solves, those at the level whose
     * timed-at share left the tolerance (share heaps) and the new ones
     * (never timed, on the changed satellites); each is sorted by the
     * first changed link it is on (lq position; D's if none before) and
     * then by its place in that link's list (newest first: lseq). Cost:
     * O(k log k) for k re-timings. */
    lvl_scan_shares(r, lv);
    int d = 0;
    while (d < r->nlq && r->lq[d] != D)
        d++;
    /* the new ones (never timed: started in this event) on the lists of
     * lq[0..d) (D's list holds no new one that these miss); found from the
     * event's starts rather than by walking those lists, which may be long */
    for (int i = 0; i < r->nevnew; i++) {
        int k = r->slot[r->evnew[i]];
        if (k < 0 || r->m[k].T_us != 0)
            continue;
        for (int j = 0; j < r->m[k].ng; j++) {
            int loc = r->lk[r->m[k].g[j]].loc;
            if (loc >= 0 && loc < d) {
                lvl_need(r, k);
                break;
            }
        }
    }
    for (int i = 0; i < r->nlvn; i++) {
        struct lvneed *n = &r->lvn[i];
        const struct mig *m = &r->m[n->k];
        n->key = d;
        for (int j = 0; j < m->ng; j++) {
            int loc = r->lk[m->g[j]].loc;
            if (loc >= 0 && loc < n->key)
                n->key = loc;
        }
        n->lseq = m->lseq;
    }
    lvn_sort(r);
    for (int i = 0; i < r->nlvn; i++) {
        struct mig *m = &r->m[r->lvn[i].k];
        m->need = 0;
        if (m->held) {
            retime(r, m, m->rate);
        } else {
            m->bott = D;
            retime(r, m, lv);
        }
    }
    r->prof.level_walks += r->nlvn;
    r->nlvn = 0;
    for (int i = 0; i < r->nlq; i++)
        r->lk[r->lq[i]].loc = -1;
    r->nlq = 0;
    return 1;
}

/* After a solve in split mode: level mode on a link with many migrations
 * of which some are frozen at its level (see lvl_shortcut). Called where
 * dom_find is. */
static void lvl_find(co_sim_run *r)
{
    for (int i = 0; i < r->nlq && r->dom < 0; i++) {
        int D = r->lq[i], l, na = 0;
        if (r->lk[D].cnt < DOM_MIN || r->lk[D].lidx < 0 || !near_full(r, D))
            continue;
        double lv = 0;
        int k = link_first(r, D, &l);
        for (; k >= 0; k = r->m[k].next[l])
            if (r->m[k].bott == D) {
                na++;
                lv = r->m[k].rate;
            }
        if (na == 0)
            continue;
        r->dom = D;
        r->lvl = 1;
        r->dom_rate = lv;
        for (k = link_first(r, D, &l); k >= 0; k = r->m[k].next[l]) {
            const struct mig *m = &r->m[k];
            for (int j = 0; j < m->ng; j++)
                if (m->g[j] != D)
                    r->lk[m->g[j]].bcnt++;
        }
        for (k = link_first(r, D, &l); k >= 0; k = r->m[k].next[l])
            if (r->m[k].bott != D)
                lvl_hold(r, k, r->m[k].rate, r->m[k].bott);
        for (k = link_first(r, D, &l); k >= 0; k = r->m[k].next[l]) {
            const struct mig *m = &r->m[k];
            for (int j = 0; j < m->ng; j++)
                if (m->g[j] != D) {
                    if (r->lk[m->g[j]].sat_pos < 0)
                        sat_refresh(r, m->g[j]);
                    phi_refresh(r, m->g[j]);
                }
            share_note(r, k);
        }
    }
}

/* A link that can be left out of a solve: it constrains in the ub sense
 * (so the solver of issue 6 would walk every migration on it), but the
 * rates in force, before and after this event's ends, leave it below
 * capacity (a migration started in this event counts as 0 there, and
 * gather takes it in all the same). Left out, the migrations it coupled split
 * into independent problems: the solve covers what is connected to the
 * change through full links only. If the solve keeps it below capacity
 * (solve_keeps_slack), its constraint was inactive and the max-min rates
 * are those of the whole problem (max-min fair rates are unique); if not,
 * the solve is redone with it kept. With share_tolerance 0 (every last-bit
 * change re-times) only links with SLACK_MIN migrations or more are left
 * out, as before this round: smaller problems round differently, and each
 * such difference would be a re-timing. */
#define SLACK_MIN 256
#define SLACK_TRIES 8 /* solves with more links kept, before keeping them all */
#define SLACK_MARGIN 1e-6
static int slack(co_sim_run *r, int g)
{
    const struct link *k = &r->lk[g];
    /* below capacity before this event's ends too: then it was no one's
     * bottleneck, and the problems it coupled that did not change keep
     * their rates */
    double s = k->loc >= 0 && k->pre > k->sum ? k->pre : k->sum;
    return k->cnt >= r->slack_min && !k->inc && s <= k->cap * (1 - SLACK_MARGIN);
}

/* Does link g tie problems together in this solve? */
static inline int couples(co_sim_run *r, int g, int split)
{
    if (!constrains(r, g))
        return 0;
    if (!split || r->lk[g].cnt < r->slack_min || r->lk[g].ex)
        return !r->lk[g].ex;
    if (slack(r, g)) {
        r->lk[g].ex = 1;
        r->exl[r->nexl++] = g;
        return 0;
    }
    return 1;
}

/* The migrations connected to the seeds lq[0..nseed) through coupling
 * links, breadth first in list order (which depends only on the run), into
 * fl; the coupling links they cross join lq. */
static void gather(co_sim_run *r, int nseed, int split)
{
    r->nfl = 0;
    for (int i = 0, n = 0;; i++) {
        if (i == r->nlq) {
            /* a migration started in this event has no rate yet (0 in the
             * link sums), so the links it crosses may all look slack: it
             * is solved all the same, with what its links connect */
            while (n < r->nevnew && (r->slot[r->evnew[n]] < 0 || r->m[r->slot[r->evnew[n]]].floc >= 0))
                n++;
            if (n == r->nevnew)
                break;
            int k = r->slot[r->evnew[n]];
            struct mig *m = &r->m[k];
            m->floc = r->nfl;
            r->fl[r->nfl++] = k;
            for (int j = 0; j < m->ng; j++)
                if (couples(r, m->g[j], split))
                    seed(r, m->g[j]);
            i--;
            continue;
        }
        int g = r->lq[i], l, k = link_first(r, g, &l);
        if (i < nseed) { /* a changed link: walked, unless left out as slack */
            if (split && constrains(r, g) && !couples(r, g, split))
                continue;
        } else if (!couples(r, g, split)) {
            continue;
        }
        for (; k >= 0; k = r->m[k].next[l]) {
            struct mig *m = &r->m[k];
            if (m->floc >= 0)
                continue;
            m->floc = r->nfl;
            r->fl[r->nfl++] = k;
            for (int j = 0; j < m->ng; j++)
                if (couples(r, m->g[j], split))
                    seed(r, m->g[j]);
        }
    }
}

/* Undo gather (back to the seeds, nothing left out). */
static void ungather(co_sim_run *r, int nseed)
{
    for (int i = 0; i < r->nfl; i++)
        r->m[r->fl[i]].floc = -1;
    r->nfl = 0;
    for (int i = nseed; i < r->nlq; i++)
        r->lk[r->lq[i]].loc = -1;
    r->nlq = nseed;
    for (int i = 0; i < r->nexl; i++)
        r->lk[r->exl[i]].ex = 0;
    r->nexl = 0;
}

/* Fill the solver with the coupling links of lq and the flows of fl, and
 * solve; returns the number of links. */
static int build_and_solve(co_sim_run *r)
{
    co_share_reset(&r->sh);
    int nlinks = 0;
    for (int i = 0; i < r->nlq; i++)
        if (constrains(r, r->lq[i]) && !r->lk[r->lq[i]].ex) {
            r->lk[r->lq[i]].lidx = co_share_link(&r->sh, r->lk[r->lq[i]].cap);
            r->lglob[r->lk[r->lq[i]].lidx] = r->lq[i];
            nlinks++;
        }
    for (int i = 0; i < r->nfl; i++) {
        const struct mig *m = &r->m[r->fl[i]];
        int g[CO_SHARE_HOPS], k = 0, bounded = 0;
        for (int j = 0; j < m->ng; j++)
            if (r->lk[m->g[j]].lidx >= 0) {
                bounded |= r->lk[m->g[j]].cap <= m->ub;
                g[k++] = r->lk[m->g[j]].lidx;
            }
        if (!bounded) {
            g[k] = co_share_link(&r->sh, m->ub);
            r->lglob[g[k++]] = -2;
        }
        co_share_flow(&r->sh, g, k);
    }
    co_share_solve(&r->sh);
    return nlinks;
}

/* After a solve without the links left out: do they stay below capacity
 * with the new rates? (Their sums change by the solved migrations'
 * deltas.) */
static int solve_keeps_slack(co_sim_run *r)
{
    int ok = 1;
    double *delta = r->chk_sum; /* scratch, one per link */
    for (int i = 0; i < r->nexl; i++)
        delta[r->exl[i]] = 0;
    for (int i = 0; i < r->nfl; i++) {
        const struct mig *m = &r->m[r->fl[i]];
        for (int j = 0; j < m->ng; j++)
            if (r->lk[m->g[j]].ex)
                delta[m->g[j]] += r->sh.rate[i] - m->rate;
    }
    for (int i = 0; i < r->nexl; i++) {
        struct link *k = &r->lk[r->exl[i]];
        if (k->sum + delta[r->exl[i]] > k->cap * (1 - 1e-9)) {
            ok = 0;
            k->inc = 1; /* kept in the next try */
            r->incl[r->nincl++] = r->exl[i];
        }
    }
    return ok;
}

/* Migration k lost the bottleneck of its last solve (that link lost a
 * migration): has it another one, a link of its path this event did not
 * change that is full and on which nobody gets more? Then it becomes its
 * bottleneck. Links with many migrations are not walked (answer no). */
#define OTHER_MAX 64
static int other_bottleneck(co_sim_run *r, int k)
{
    struct mig *m = &r->m[k];
    for (int i = 0; i < m->ng; i++) {
        int g = m->g[i], l;
        const struct link *L = &r->lk[g];
        if (L->loc >= 0 || L->cnt > OTHER_MAX || L->sum < L->cap * (1 - 1e-9))
            continue;
        int j = link_first(r, g, &l);
        for (; j >= 0 && r->m[j].rate <= m->rate; j = r->m[j].next[l])
            ;
        if (j < 0) {
            m->bott = g;
            return 1;
        }
    }
    return 0;
}

/* An event that only ended migrations, after which the rates in force are
 * still max-min fair: no link is over capacity (ends only lower the sums),
 * and every migration still has a bottleneck: the link that froze it in
 * its last solve, if no migration left that link (a link that lost one is
 * no longer full). Only migrations on links that were full before the
 * event can have had their bottleneck there, so only those lists are
 * walked. The max-min rates being unique, a solve would give these rates
 * (up to rounding in the last bit): it is skipped and nothing is re-timed.
 * Part of the split mode (co_sim_run_set_split). */
static int still_fair(co_sim_run *r)
{
    if (!r->split || r->ev_adds > 0 || r->dom >= 0)
        return 0;
    for (int i = 0; i < r->nlq; i++) {
        const struct link *L = &r->lk[r->lq[i]];
        if (L->pre < L->cap * (1 - 1e-9))
            continue; /* was not full: nobody's bottleneck */
        int l, k = link_first(r, r->lq[i], &l);
        for (; k >= 0; k = r->m[k].next[l]) {
            int b = r->m[k].bott;
            if ((b == -1 || (b >= 0 && r->lk[b].loc >= 0)) && !other_bottleneck(r, k))
                return 0;
        }
    }
    for (int i = 0; i < r->nlq; i++)
        r->lk[r->lq[i]].loc = -1;
    r->nlq = 0;
    r->prof.still_fair++;
    return 1;
}

/* Called once at the end of every event that started or ended migrations.
 * Max-min rates can change only for the migrations connected to the links
 * whose set changed (the seeds) through constraining links; the rest form
 * independent problems whose input did not change, so their rates stay
 * exactly as they are. Those connected are gathered breadth first (in list
 * order, which depends only on the run), solved together, and each whose
 * rate moved is re-timed. A migration whose smallest-capacity link is not
 * a constraint gets that bound as a link of its own in the solve. */
static void reshare_event(co_sim_run *r)
{
    int skip = r->nlq == 0 || swap_shortcut(r) ||
               (r->lvl ? lvl_shortcut(r) : dominant_shortcut(r)) || still_fair(r);
    r->ev_adds = r->ev_dels = 0;
    if (skip)
        return;
    double t0 = r->profile ? co_clock_ms() * 1e6 : 0;
    int nseed = r->nlq;
    int split = r->split && r->dom < 0;
    gather(r, nseed, split);
    int nlinks = build_and_solve(r), tries = 0;
    r->nincl = 0;
    while (split && r->nexl > 0 && !solve_keeps_slack(r)) {
        /* links left out would be over capacity: solve again with them
         * (and what they connect), or, after a few tries, with every
         * constraining link as issue 6 did */
        for (int i = 0; i < r->nlq; i++)
            r->lk[r->lq[i]].lidx = -1;
        ungather(r, nseed);
        if (++tries > SLACK_TRIES)
            split = 0;
        gather(r, nseed, split);
        nlinks = build_and_solve(r);
        r->prof.split_redo++;
    }
    for (int i = 0; i < r->nincl; i++)
        r->lk[r->incl[i]].inc = 0;
    r->prof.split_out += r->nexl;
    if (r->dom >= 0) {
        /* solving any of the dominant link's migrations: they get their
         * rates from the solve, so it is no longer kept for them */
        int hit = r->lk[r->dom].loc >= 0;
        for (int i = 0; i < r->nfl && !hit; i++)
            hit = crosses(&r->m[r->fl[i]], r->dom);
        if (hit)
            dom_drop(r);
    }
    r->prof.reshares++;
    r->prof.reshare_flows += r->nfl;
    r->prof.reshare_links += nlinks;
    if (r->profile)
        r->prof.reshare_ns += co_clock_ms() * 1e6 - t0;
    for (int i = 0; i < r->nfl; i++) {
        struct mig *m = &r->m[r->fl[i]];
        m->floc = -1;
        set_rate(r, m, r->sh.rate[i]);
        m->bott = r->sh.bott[i] >= 0 ? r->lglob[r->sh.bott[i]] : -1;
        retime(r, m, r->sh.rate[i]);
    }
    if (r->dom < 0 && r->nfl >= DOM_MIN) {
        if (r->split && r->c->plan.share_tolerance > 0)
            lvl_find(r); /* exact shares (tolerance 0) re-time on every ulp: full solves */
        else
            dom_find(r);
    }
    for (int i = 0; i < r->nlq; i++)
        r->lk[r->lq[i]].loc = r->lk[r->lq[i]].lidx = -1;
    r->nlq = 0;
    for (int i = 0; i < r->nexl; i++)
        r->lk[r->exl[i]].ex = 0;
    r->nexl = 0;
}

static void reshare(co_sim_run *r)
{
    reshare_event(r);
    r->nevnew = 0;
}

/* ------------------------------------------------------------- placement */

/* The rules themselves are place/place.h's (shared with evacuate); here
 * the simulator's bookkeeping is shown to them. */
static co_place_host place_view(const co_sim_run *r, int h)
{
    const struct hstate *hs = &r->h[h];
    co_place_host ph = {.mem_bytes = r->c->hosts[h].mem_bytes, .cores = r->c->hosts[h].cores,
                        .mem_used_bytes = hs->mem_used, .vcpus_used = hs->vcpu_used,
                        .closed = hs->in_maint};
    return ph;
}

/* Memory, vCPUs (counting VMs on their way in) and anti-affinity. */
static int room(const co_sim_run *r, int v, int h)
{
    const co_sim_cluster *c = r->c;
    co_place_host ph = place_view(r, h);
    if (!co_place_capacity_ok(&ph, c->vms[v].mem_bytes, c->vms[v].vcpus, c->plan.cpu_ratio))
        return 0;
    int g = c->vms[v].group;
    if (g < 0)
        return 1;
    return co_place_affinity_ok(c->group_vms + c->group_start[g],
                                c->group_start[g + 1] - c->group_start[g], v, r->vm_host,
                                r->vm_dest, h);
}

/* live: a live migration, which takes a slot at the target when the plan
 * counts incoming migrations (a cold move takes none). */
static int fits(const co_sim_run *r, int v, int h, int live)
{
    const co_sim_cluster *c = r->c;
    const struct hstate *hs = &r->h[h];
    if (h == r->vm_host[v])
        return 0;
    if (live && c->plan.count_incoming && c->plan.per_host &&
        hs->in_n + hs->out_n >= c->plan.per_host)
        return 0; /* the target's slots are full too */
    co_place_host ph = place_view(r, h);
    int g = c->vms[v].group;
    int n = g < 0 ? 0 : c->group_start[g + 1] - c->group_start[g];
    return co_place_fits(&ph, h, c->vms[v].mem_bytes, c->vms[v].vcpus, c->plan.cpu_ratio, 1,
                         g < 0 ? NULL : c->group_vms + c->group_start[g], n, v, r->vm_host,
                         r->vm_dest);
}

/* Next fit with a rotating cursor, patched hosts first so a VM moves once
 * when it can; the cursor moves past each pick to spread incoming load. */
static int place(co_sim_run *r, int v, int live)
{
    /* a bounded look at patched hosts: once they fill up, a full scan of
     * them per VM would make placement O(hosts) */
    int probe = r->npatched < PATCHED_PROBE ? r->npatched : PATCHED_PROBE;
    for (int i = 0; i < probe; i++) {
        int k = (r->pcur + i) % r->npatched;
        int h = r->patched_list[k];
        if (fits(r, v, h, live)) {
            r->pcur = (k + 1) % r->npatched;
            return h;
        }
    }
    int H = r->c->nhosts;
    for (int i = 0; i < H; i++) {
        int h = (r->acur + i) % H;
        if (fits(r, v, h, live)) {
            r->acur = (h + 1) % H;
            return h;
        }
    }
    return -1;
}

static void reserve(co_sim_run *r, int h, int v, double sign)
{
    r->h[h].mem_used += sign * r->c->vms[v].mem_bytes;
    r->h[h].vcpu_used += sign * r->c->vms[v].vcpus;
}

/* -------------------------------------------------------------- VM moves */

static void park(co_sim_run *r, int h, int v)
{
    r->vm_state[v] = VM_PARKED;
    r->off_since[v] = r->now;
    r->vm_next[v] = r->h[h].park_head;
    r->h[h].park_head = v;
    r->res.parked++;
}

/* Shut down on its host and boot on h2 (passthrough, or a migration that
 * failed for good): the outage is the restart time. */
static void cold_move(co_sim_run *r, int v, int h2)
{
    int h = r->vm_host[v];
    reserve(r, h, v, -1);
    reserve(r, h2, v, +1);
    r->vm_host[v] = h2;
    double out_ms = co_sim_dist_sample(&r->c->plan.vm_restart, r->rng);
    r->outage_ms[v] += out_ms;
    span(r, 2, h2, h, v, r->now, r->now + us_of_ms(out_ms), 0, 0);
    r->res.cold++;
    move_push_back(r, h2, v);
}

static void start_migration(co_sim_run *r, int v, int dst, int back)
{
    const co_sim_cluster *c = r->c;
    if (slot_take(r, v) < 0)
        return; /* out of memory: the run stops at this event */
    struct mig *m = mig_of(r, v);
    int src = r->vm_host[v];
    m->src = src;
    m->dst = dst;
    int su = c->hosts[src].uplink, du = c->hosts[dst].uplink;
    /* traffic inside one uplink's hosts does not cross it */
    m->su = (su >= 0 && su != du) ? su : -1;
    m->du = (du >= 0 && su != du) ? du : -1;
    m->frac = 0;
    m->T_us = 0;
    m->share = 0;
    m->rate = 0; /* until the end of the event: link sums count it as 0 */
    m->bott = -1;
    m->start_us = m->last_us = r->now;
    m->abort_frac = 1.0;
    m->back = back;
    if (c->plan.p_mig_abort > 0 && gsl_rng_uniform(r->rng) < c->plan.p_mig_abort)
        m->abort_frac = gsl_rng_uniform(r->rng);
    /* drawn only when asked, so the runs of a plan without them keep their
     * random streams (tests/sim/test_digest.c) */
    m->tf = r->run_tf;
    m->df = 1;
    if (c->plan.mig_time_sigma > 0)
        m->tf *= exp(gsl_ran_gaussian_ziggurat(r->rng, c->plan.mig_time_sigma));
    if (c->plan.mig_down_sigma > 0)
        m->df = exp(gsl_ran_gaussian_ziggurat(r->rng, c->plan.mig_down_sigma));
    /* a calibration's stun factors: the VM's own, and its class's (no
     * random number: the streams stay as they were) */
    if (c->vms[v].down_factor > 0)
        m->df *= c->vms[v].down_factor;
    if (c->vms[v].time_factor > 0)
        m->tf *= c->vms[v].time_factor;
    /* a drain's later migrations: their set-ups overlapped the one before */
    if (!back && r->h[src].evacuating && r->h[src].ev_started++ > 0 &&
        c->plan.mig_evac_follow_factor > 0)
        m->tf *= c->plan.mig_evac_follow_factor;
    double cf = c->plan.mig_down_class[src == c->vms[v].host && c->plan.per_host != 1];
    if (cf > 0)
        m->df *= cf;
    r->vm_state[v] = VM_MIG;
    r->vm_dest[v] = dst;
    reserve(r, dst, v, +1);
    mlist_add(r, v);
    r->active++;
    r->prof.starts++;
    note_start(r, v); /* timed by reshare() at the end of the event */
}

/* --------------------------------------------------------- host schedule */

static void begin_step(co_sim_run *r, int h, int step);
static void dispatch(co_sim_run *r);

static void evac_remove(co_sim_run *r, int h)
{
    for (int i = 0; i < r->nevac; i++)
        if (r->evac[i] == h) {
            memmove(&r->evac[i], &r->evac[i + 1], (size_t)(r->nevac - i - 1) * sizeof(int));
            r->nevac--;
            return;
        }
}

static void evac_check_done(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    /* done when nothing is left, nothing is leaving, and nothing is still
     * arriving from before the host entered maintenance */
    if (hs->evacuating && hs->move_head < 0 && hs->out_n == 0 && hs->in_n == 0) {
        hs->evacuating = 0;
        evac_remove(r, h);
        if (hs->ev_act) {
            hs->ev_act = 0;
            for (int i = 0; i < r->nevs; i++)
                if (r->evs[i] == h) {
                    memmove(&r->evs[i], &r->evs[i + 1], (size_t)(r->nevs - i - 1) * sizeof(int));
                    r->nevs--;
                    break;
                }
        }
        span(r, 0, h, CO_STEP_EVACUATE, -1, hs->step_start, r->now, 0, 0);
        r->returning++; /* it will exit maintenance and take VMs again */
        begin_step(r, h, CO_STEP_REPO_SYNC);
    }
}

static void host_done(co_sim_run *r, int h);

static void rebal_check_done(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    if (!hs->rebalancing || hs->rb_cur < r->home_start[h + 1] || hs->rb_n > 0)
        return;
    hs->rebalancing = 0;
    for (int i = 0; i < r->nrebal; i++)
        if (r->rebal[i] == h) {
            memmove(&r->rebal[i], &r->rebal[i + 1], (size_t)(r->nrebal - i - 1) * sizeof(int));
            r->nrebal--;
            break;
        }
    span(r, 0, h, CO_STEP_REBALANCE, -1, hs->step_start, r->now, 0, 0);
    host_done(r, h);
}

/* Rebalance "return": each rebalancing host, oldest first, takes back the
 * VMs that started on it, in VM order. A VM running elsewhere (not
 * migrating, not parked, on a host out of maintenance, neither pinned nor
 * passthrough) that fits (memory, vCPUs, anti-affinity) migrates back; one
 * that does not fit stays where it is. When a limit is full (slots of
 * either end, the cluster's), the host waits for the next dispatch.
 * Evacuations are dispatched first: they hold up the cycle, returns do not
 * as much. */
static void dispatch_returns(co_sim_run *r)
{
    const co_sim_plan *p = &r->c->plan;
    for (int i = 0; i < r->nrebal; i++) {
        int h = r->rebal[i];
        struct hstate *hs = &r->h[h];
        int end = r->home_start[h + 1];
        while (hs->rb_cur < end) {
            int v = r->home_vms[hs->rb_cur];
            const co_sim_vm *vm = &r->c->vms[v];
            int src = r->vm_host[v];
            if (src == h || r->vm_state[v] != VM_IDLE || vm->pinned || vm->passthrough ||
                r->h[src].in_maint || !room(r, v, h)) {
                hs->rb_cur++; /* home already, or it stays where it is */
                continue;
            }
            const struct hstate *ss = &r->h[src];
            if ((p->per_cluster && r->active >= p->per_cluster) ||
                (p->per_host &&
                 (ss->out_n + (p->count_incoming ? ss->in_n : 0) >= p->per_host ||
                  (p->count_incoming && hs->in_n + hs->out_n >= p->per_host))) ||
                (p->returns_at_once && hs->rb_n >= p->returns_at_once))
                break; /* wait for a slot */
            hs->rb_cur++;
            hs->rb_n++;
            move_remove(r, src, v);
            start_migration(r, v, h, 1);
        }
    }
    for (int i = r->nrebal - 1; i >= 0; i--) /* the list shrinks behind i only */
        rebal_check_done(r, r->rebal[i]);
}

/* Start what the limits allow on each evacuating host, oldest first. */
static void dispatch(co_sim_run *r)
{
    const co_sim_plan *p = &r->c->plan;
    int progress = 1;
    while (progress) {
        progress = 0;
        /* evs compacted as it is walked: i reads, j writes (nothing joins
         * it meanwhile: the targets of these moves are out of maintenance) */
        int i = 0, j = 0;
        for (; i < r->nevs; i++) {
            int h = r->evs[i];
            struct hstate *hs = &r->h[h];
            int tried = 0;
            int v = hs->move_head;
            while (v >= 0 && tried < TRY_PER_HOST) {
                int nv = r->vm_next[v];
                const co_sim_vm *vm = &r->c->vms[v];
                if (vm->pinned) {
                    move_remove(r, h, v);
                    park(r, h, v);
                } else if (vm->passthrough || r->vm_retries[v] > p->max_retries) {
                    int d = place(r, v, 0);
                    if (d >= 0) {
                        move_remove(r, h, v);
                        cold_move(r, v, d);
                    } else {
                        tried++;
                    }
                } else {
                    if ((p->per_host && hs->out_n + (p->count_incoming ? hs->in_n : 0) >= p->per_host) ||
                        (p->per_cluster && r->active >= p->per_cluster))
                        break;
                    int d = place(r, v, 1);
                    if (d >= 0) {
                        move_remove(r, h, v);
                        start_migration(r, v, d, 0);
                    } else {
                        tried++;
                    }
                }
                v = nv;
            }
            hs->ev_act = 0; /* out of evs while evac_check_done looks */
            evac_check_done(r, h);
            if (!hs->evacuating) { /* done: it left the list, rescan */
                progress = 1;
                i++;
                break;
            }
            if (hs->move_head >= 0 || (hs->out_n == 0 && hs->in_n == 0)) {
                hs->ev_act = 1;
                r->evs[j++] = h;
            }
        }
        memmove(&r->evs[j], &r->evs[i], (size_t)(r->nevs - i) * sizeof(int));
        r->nevs = j + (r->nevs - i);
    }
    dispatch_returns(r);
    /* Nothing moves and no host will come back to take VMs: the rest can
     * never be placed, so they stay off on their host (counted as outage)
     * rather than the cycle stalling forever. */
    if (r->active == 0 && r->returning == 0 && r->nevac > 0) {
        while (r->nevac > 0) {
            int h = r->evac[0];
            while (r->h[h].move_head >= 0) {
                int v = r->h[h].move_head;
                move_remove(r, h, v);
                park(r, h, v);
            }
            evac_check_done(r, h);
        }
    }
}

static void try_start_hosts(co_sim_run *r);

static void host_done(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    hs->busy = 0;
    hs->done = 1;
    hs->step = -1;
    r->busy_hosts--;
    r->res.window_ms = (double)r->now / CO_SIM_US_PER_MS;
    int ph = r->phase_of[h];
    if (--r->phase_left[ph] == 0 && ph == 0 && !r->soak_done) {
        r->soak_pending = 1;
        sched(r, r->now + r->c->plan.canary_soak_us, EV_SOAK,
              (uint32_t)(r->c->nhosts + r->c->nvms));
    }
    try_start_hosts(r);
}

static void host_exit(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    const co_sim_cluster *c = r->c;
    hs->in_maint = 0;
    r->returning--;
    r->res.host_hours += (double)(r->now - hs->maint_start) / (3600.0 * CO_SIM_US_PER_S);
    if (!hs->failed_patch) {
        hs->patched = 1;
        r->patched_list[r->npatched++] = h;
    }
    /* VMs kept off here boot again */
    while (hs->park_head >= 0) {
        int v = hs->park_head;
        hs->park_head = r->vm_next[v];
        double boot_ms = co_sim_dist_sample(&c->plan.vm_restart, r->rng);
        co_sim_time end = r->now + us_of_ms(boot_ms);
        r->outage_ms[v] += (double)(end - r->off_since[v]) / CO_SIM_US_PER_MS;
        span(r, 2, h, h, v, r->off_since[v], end, 0, 0);
        r->vm_state[v] = VM_IDLE;
        move_push_back(r, h, v);
    }
}

static void begin_step(co_sim_run *r, int h, int step)
{
    struct hstate *hs = &r->h[h];
    const co_sim_plan *p = &r->c->plan;
    hs->step = step;
    hs->step_start = r->now;
    if (step == CO_STEP_ENTER) {
        hs->in_maint = 1;
        hs->maint_start = r->now;
    }
    if (step == CO_STEP_EVACUATE) {
        hs->evacuating = 1;
        hs->ev_started = 0;
        r->evac[r->nevac++] = h;
        hs->ev_seq = r->evseq++;
        evac_wake(r, h);
        dispatch(r);
        return;
    }
    if (step == CO_STEP_REBALANCE && p->rebalance != CO_REBAL_DURATION) {
        hs->rebalancing = 1;
        hs->rb_cur = r->home_start[h];
        hs->rb_n = 0;
        r->rebal[r->nrebal++] = h;
        dispatch(r); /* ends the step at once when nothing comes back */
        return;
    }
    double ms = co_sim_dist_sample(&p->step[step], r->rng);
    if (step == CO_STEP_REPAIR) {
        r->res.repair_ms_sum += ms;
        r->res.repair_ms_sumsq += ms * ms;
    }
    sched(r, r->now + us_of_ms(ms), EV_STEP, (uint32_t)h);
}

static void end_step(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    const co_sim_plan *p = &r->c->plan;
    int s = hs->step;
    span(r, 0, h, s, -1, hs->step_start, r->now, 0, 0);
    switch (s) {
    case CO_STEP_HEALTH:
        begin_step(r, h, CO_STEP_ENTER);
        break;
    case CO_STEP_ENTER:
        begin_step(r, h, CO_STEP_EVACUATE);
        break;
    case CO_STEP_REPO_SYNC:
        begin_step(r, h, CO_STEP_APPLY);
        break;
    case CO_STEP_APPLY:
        if (p->p_patch_fail > 0 && gsl_rng_uniform(r->rng) < p->p_patch_fail) {
            hs->failed_patch = 1;
            r->res.patch_failures++;
            begin_step(r, h, CO_STEP_ROLLBACK);
        } else {
            begin_step(r, h, CO_STEP_REBOOT);
        }
        break;
    case CO_STEP_ROLLBACK:
        begin_step(r, h, CO_STEP_REBOOT);
        break;
    case CO_STEP_REBOOT:
        if (p->p_no_return > 0 && gsl_rng_uniform(r->rng) < p->p_no_return) {
            r->res.hosts_failed++;
            begin_step(r, h, CO_STEP_REPAIR);
            break;
        }
        /* fall through */
    case CO_STEP_REPAIR:
        begin_step(r, h, hs->fw && !hs->failed_patch ? CO_STEP_FIRMWARE : CO_STEP_VALIDATE);
        break;
    case CO_STEP_FIRMWARE:
        begin_step(r, h, CO_STEP_FW_REBOOT);
        break;
    case CO_STEP_FW_REBOOT:
        begin_step(r, h, CO_STEP_VALIDATE);
        break;
    case CO_STEP_VALIDATE:
        if (p->p_validate_fail > 0 && gsl_rng_uniform(r->rng) < p->p_validate_fail) {
            /* it stays in maintenance: no exit, nothing comes back to it */
            r->returning--;
            host_done(r, h);
            dispatch(r); /* evacuations waiting for it place elsewhere or park */
            break;
        }
        begin_step(r, h, CO_STEP_EXIT);
        break;
    case CO_STEP_EXIT:
        host_exit(r, h);
        begin_step(r, h, CO_STEP_REBALANCE);
        if (p->rebalance == CO_REBAL_DURATION)
            dispatch(r); /* capacity came back */
        break;
    case CO_STEP_REBALANCE:
        host_done(r, h);
        break;
    }
}

static void start_host(co_sim_run *r, int h)
{
    struct hstate *hs = &r->h[h];
    hs->busy = 1;
    r->busy_hosts++;
    hs->fw = r->c->plan.firmware_fraction > 0 &&
             gsl_rng_uniform(r->rng) < r->c->plan.firmware_fraction;
    begin_step(r, h, CO_STEP_HEALTH);
}

/* Start hosts in order while the maintenance limit allows; a phase (the
 * canaries, then one failure domain at a time) starts when the previous one
 * is done, and the first after the canaries also waits for the soak. */
static void try_start_hosts(co_sim_run *r)
{
    const co_sim_plan *p = &r->c->plan;
    while (r->next_ord < p->nhosts && r->busy_hosts < p->max_in_maint) {
        int h = r->ord[r->next_ord];
        int ph = r->phase_of[h];
        if (ph != r->cur_phase) {
            if (r->phase_left[r->cur_phase] > 0)
                return;
            if (r->cur_phase == 0 && !r->soak_done)
                return;
            r->cur_phase = ph;
        }
        r->next_ord++;
        start_host(r, h);
    }
}

static void on_mig(co_sim_run *r, int v)
{
    const co_sim_cluster *c = r->c;
    struct mig *m = mig_of(r, v);
    m->frac += (double)(r->now - m->last_us) / m->T_us;
    m->last_us = r->now;
    int src = m->src, dst = m->dst;
    int aborted = m->abort_frac < 1.0 || !m->conv;
    note_end(r, v); /* the others on its links get its bandwidth */
    mlist_remove(r, v);
    r->active--;
    r->vm_dest[v] = -1;
    r->vm_state[v] = VM_IDLE;
    if (aborted) {
        reserve(r, dst, v, -1);
        r->res.aborts++;
        move_push_front(r, src, v); /* retried, or cold-moved by dispatch */
        if (!m->back) { /* a failed return just stays */
            r->vm_retries[v]++;
            if (c->plan.on_abort == CO_ABORT_COLD)
                r->vm_retries[v] = c->plan.max_retries + 1;
        }
        span(r, 1, src, dst, v, m->start_us, r->now, 0, 1);
    } else {
        reserve(r, src, v, -1);
        r->vm_host[v] = dst;
        r->stun_ms[v] += m->down_ms;
        r->nmig[v]++;
        r->vm_retries[v] = 0;
        r->res.migrations++;
        move_push_back(r, dst, v);
        span(r, 1, src, dst, v, m->start_us, r->now, m->down_ms, 0);
    }
    if (m->back)
        r->h[dst].rb_n--;
    slot_give(r, v); /* m is not used below */
    evac_check_done(r, src);
    evac_check_done(r, dst); /* an arrival on a host now evacuating joins its list */
    dispatch(r);
}

/* -------------------------------------------------------------- checking */

static int being_patched(const struct hstate *hs)
{
    return hs->in_maint && hs->step != CO_STEP_HEALTH && hs->step != CO_STEP_ENTER &&
           hs->step != CO_STEP_EVACUATE && hs->step != CO_STEP_REBALANCE;
}

/* The rates in force are max-min fair (whatever shortcuts reshare() took):
 * no link over capacity, and every migration has a bottleneck, a full link
 * on which nobody gets more. Relative tolerance for rounding. */
static void check_fair(co_sim_run *r)
{
    const co_sim_cluster *c = r->c;
    size_t G = 2 * (size_t)c->nhosts + 2 * (size_t)c->nuplinks;
    double *sum = r->chk_sum, *top = r->chk_top;
    memset(sum, 0, G * sizeof(double));
    memset(top, 0, G * sizeof(double));
    for (int v = 0; v < c->nvms; v++) {
        if (r->vm_state[v] != VM_MIG)
            continue;
        const struct mig *m = mig_of(r, v);
        for (int i = 0; i < m->ng; i++) {
            sum[m->g[i]] += rate_of(r, m);
            top[m->g[i]] = fmax(top[m->g[i]], rate_of(r, m));
        }
    }
    for (size_t g = 0; g < G; g++)
        if (sum[g] > r->lk[g].cap * (1 + 1e-9))
            r->res.violations++; /* a link over capacity */
    for (int v = 0; v < c->nvms; v++) {
        if (r->vm_state[v] != VM_MIG)
            continue;
        const struct mig *m = mig_of(r, v);
        int ok = 0;
        for (int i = 0; i < m->ng; i++)
            ok |= sum[m->g[i]] >= r->lk[m->g[i]].cap * (1 - 1e-9) &&
                  rate_of(r, m) >= top[m->g[i]] * (1 - 1e-9);
        if (!ok)
            r->res.violations++; /* not max-min fair: it could get more */
    }
}

static void check_invariants(co_sim_run *r)
{
    const co_sim_cluster *c = r->c;
    int H = c->nhosts;
    double *mem = r->chk_mem, *cpu = r->chk_cpu; /* allocated once, with the run */
    memset(mem, 0, (size_t)H * sizeof(double));
    memset(cpu, 0, (size_t)H * sizeof(double));
    for (int v = 0; v < c->nvms; v++) {
        int h = r->vm_host[v];
        if (h < 0 || h >= H) {
            r->res.violations++; /* a VM must be on exactly one host */
            continue;
        }
        mem[h] += c->vms[v].mem_bytes;
        cpu[h] += c->vms[v].vcpus;
        /* a running VM (or one on its way) must never sit on a host that is
         * being patched: from the end of its evacuation to its exit */
        if (r->vm_state[v] != VM_PARKED &&
            (being_patched(&r->h[h]) || (r->vm_dest[v] >= 0 && being_patched(&r->h[r->vm_dest[v]]))))
            r->res.violations++;
        if (r->vm_dest[v] >= 0) {
            mem[r->vm_dest[v]] += c->vms[v].mem_bytes; /* held on both ends */
            cpu[r->vm_dest[v]] += c->vms[v].vcpus;
        }
        int g = c->vms[v].group;
        if (g >= 0)
            for (int i = c->group_start[g]; i < c->group_start[g + 1]; i++) {
                int u = c->group_vms[i];
                if (u != v && r->vm_host[u] == h)
                    r->res.violations++;
            }
    }
    for (int h = 0; h < H; h++) {
        if (fabs(mem[h] - r->h[h].mem_used) > 1 || fabs(cpu[h] - r->h[h].vcpu_used) > 1e-6)
            r->res.violations++; /* bookkeeping drifted */
        if (mem[h] > c->hosts[h].mem_bytes + 1 ||
            cpu[h] > c->hosts[h].cores * c->plan.cpu_ratio + 1e-6)
            r->res.violations++; /* capacity exceeded (the loader refuses a start over it) */
    }
    check_fair(r);
}

/* ------------------------------------------------------------------- run */

/* Is the next event in this same microsecond? Then (split mode) the
 * re-sharing waits for the last event of the microsecond: the starts and
 * ends of a microsecond are re-shared together, once. Nothing between
 * them reads a rate or a timing (dispatch and placement look at hosts'
 * memory, vCPUs and counts of migrations only; a migration started in the
 * microsecond has no end event until it is timed), and no time passes, so
 * no transfer progresses at the intermediate rates: they had no effect but
 * on which migrations were re-timed on the way (the share tolerance keeps
 * a share timed at an intermediate level) and on the order of end events
 * that fall in one microsecond. The split mode's stated tolerance covers
 * that (docs/simulate.md, "Fleet scale"); with split off every event is
 * re-shared as before (the digests of tests/sim/test_digest.c). On the
 * issue's 10,000-host fleet, 5,000 hosts start 20 migrations each at t = 0:
 * one solve instead of 5,000 re-shares and 3.7 M re-timings; its 100,000
 * identical migrations then end in one microsecond: one still-fair check
 * instead of 177 solves of 25,000 (docs/simulate.md, "One re-sharing per
 * microsecond"). */
static int same_us(const co_sim_run *r)
{
    int64_t t;
    return co_sim_evq_peek_time(&r->q, &t) && t == r->now;
}

int co_sim_run_once(co_sim_run *r, uint64_t seed, uint64_t index, co_sim_run_result *out)
{
    const co_sim_cluster *c = r->c;
    const co_sim_plan *p = &c->plan;
    int H = c->nhosts, V = c->nvms;
    dom_drop(r); /* a run stopped short (out of memory) may leave one */
    r->slack_min = p->share_tolerance > 0 ? 1 : SLACK_MIN;
    gsl_rng_set(r->rng, (unsigned long)co_sim_run_seed(seed, index));
    co_sim_evq_clear(&r->q);
    memset(&r->res, 0, sizeof r->res);
    r->now = 0;
    r->oom = 0;
    r->nspans = 0;
    r->active = r->nevac = r->npatched = r->pcur = r->acur = r->nrebal = 0;
    r->nevs = r->evseq = r->nevnew = 0;
    r->next_ord = r->cur_phase = r->busy_hosts = r->soak_pending = r->returning = 0;
    memset(r->h, 0, (size_t)H * sizeof *r->h);
    for (int h = 0; h < H; h++) {
        struct hstate *hs = &r->h[h];
        hs->step = -1;
        hs->out_head = hs->in_head = hs->move_head = hs->move_tail = hs->park_head = -1;
    }
    for (int u = 0; u < c->nuplinks; u++) {
        r->up_out_n[u] = r->up_in_n[u] = 0;
        r->up_out_head[u] = r->up_in_head[u] = -1;
    }
    r->nfree = 0;
    slots_free(r, 0, r->mcap);
    for (int v = 0; v < V; v++) {
        const co_sim_vm *vm = &c->vms[v];
        r->slot[v] = -1;
        r->vm_host[v] = vm->host;
        r->vm_dest[v] = -1;
        r->vm_retries[v] = 0;
        r->nmig[v] = 0;
        r->vm_state[v] = VM_IDLE;
        r->stun_ms[v] = r->outage_ms[v] = 0;
        reserve(r, vm->host, v, +1);
        move_push_back(r, vm->host, v);
        const co_sim_profile *pf = &c->profiles[vm->profile];
        r->rate[v] = pf->rate_sampled ? co_sim_dist_sample(&pf->rate, r->rng)
                                      : pf->dirty.rate_pages_per_s;
    }
    r->run_tf = c->plan.mig_run_sigma > 0
                    ? exp(gsl_ran_gaussian_ziggurat(r->rng, c->plan.mig_run_sigma)) : 1;
    /* order: canaries (phase 0), then phases by failure domain (in the
     * order domains first appear among the plan's hosts) or one phase */
    int *rank = calloc(c->ndomains ? c->ndomains : 1, sizeof(int));
    if (rank == NULL)
        return CO_ENOMEM;
    for (int d = 0; d < c->ndomains; d++)
        rank[d] = -1;
    int nr = 0, any_canary = 0;
    for (int i = 0; i < p->nhosts; i++) {
        int h = p->hosts[i];
        if (p->canary[h]) {
            r->phase_of[h] = 0;
            any_canary = 1;
        } else if (p->order == CO_ORDER_DOMAIN) {
            if (rank[c->hosts[h].domain] < 0)
                rank[c->hosts[h].domain] = nr++;
            r->phase_of[h] = 1 + rank[c->hosts[h].domain];
        } else {
            r->phase_of[h] = 1;
        }
    }
    free(rank);
    /* hosts by phase, then by position in the plan (a stable counting sort;
     * phases are 0..H) */
    r->nphase = 0;
    memset(r->phase_left, 0, (size_t)(H + 2) * sizeof(int));
    for (int i = 0; i < p->nhosts; i++)
        r->phase_left[r->phase_of[p->hosts[i]]]++;
    r->phase_pos[0] = 0;
    for (int ph = 0; ph <= H; ph++)
        r->phase_pos[ph + 1] = r->phase_pos[ph] + r->phase_left[ph];
    for (int i = 0; i < p->nhosts; i++)
        r->ord[r->phase_pos[r->phase_of[p->hosts[i]]]++] = p->hosts[i];
    r->soak_done = !any_canary || p->canary_soak_us == 0;
    if (any_canary && p->nhosts > 0)
        r->cur_phase = 0;
    else if (p->nhosts > 0)
        r->cur_phase = r->phase_of[r->ord[0]];

    try_start_hosts(r);
    reshare(r);

    co_sim_event ev;
    while (!r->oom && co_sim_evq_pop(&r->q, &ev)) {
        double t0 = r->profile ? co_clock_ms() * 1e6 : 0;
        switch (ev.kind) {
        case EV_STEP:
            r->now = ev.t_us;
            end_step(r, (int)ev.key);
            break;
        case EV_MIG:
            r->now = ev.t_us;
            on_mig(r, (int)ev.key - H);
            break;
        case EV_SOAK:
            r->now = ev.t_us;
            r->soak_done = 1;
            r->soak_pending = 0;
            try_start_hosts(r);
            break;
        }
        /* split mode: one re-sharing for all the events of a microsecond
         * (see same_us) */
        int later = !(r->split && r->coalesce && same_us(r));
        if (later)
            reshare(r);
        r->res.events++;
        r->prof.events[ev.kind - 1]++;
        if (r->profile)
            r->prof.ns[ev.kind - 1] += co_clock_ms() * 1e6 - t0;
        if (r->check && later)
            check_invariants(r);
    }
    if (r->oom)
        return CO_ENOMEM;
    /* hosts that could not start (e.g. max_in_maint reached forever) cannot
     * exist: every started host finishes, and each finish starts more */
    *out = r->res;
    return CO_OK;
}
