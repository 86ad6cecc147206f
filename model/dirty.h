/* model/dirty.h: dirty-page curves.
 *
 * Owns: U(t), the expected number of DISTINCT pages a guest dirties in a
 * window of t seconds. U(0) = 0, U grows with t and saturates at the writable
 * working set, which is why "rate x time" overestimates what later pre-copy
 * passes must send. Forms (docs/model.md, section "Dirty curves"):
 *   none      U = 0
 *   uniform   writes at rate r (pages/s) uniformly over W pages:
 *             U = W (1 - exp(-r t / W))
 *   hotcold   a fraction h of the writes hit H hot pages, the rest C cold ones:
 *             U = H (1 - exp(-h r t / H)) + C (1 - exp(-(1-h) r t / C))
 *   seq       a sequential sweep over W pages at r pages/s: U = min(r t, W)
 *   table     measured points (t_i, U_i) with monotone cubic (Fritsch-Carlson)
 *             interpolation, linear from (0,0) to the first point, and held at
 *             the last slope (capped by the cap field) beyond the last point.
 * A CPU throttle p (percent) slows the guest, so U_p(t) = U(t (1 - p/100)).
 * Pure math, no I/O, no allocation: a co_dirty is a plain value. */
#ifndef CUTOVER_MODEL_DIRTY_H
#define CUTOVER_MODEL_DIRTY_H

#define CO_DIRTY_TABLE_MAX 32

enum co_dirty_kind {
    CO_DIRTY_NONE = 0,
    CO_DIRTY_UNIFORM,
    CO_DIRTY_HOTCOLD,
    CO_DIRTY_SEQ,
    CO_DIRTY_TABLE,
};

typedef struct co_dirty {
    int kind;                 /* enum co_dirty_kind */
    double rate_pages_per_s;  /* uniform, hotcold, seq: page writes per second */
    double wss_pages;         /* uniform, seq: working set */
    double hot_pages;         /* hotcold */
    double cold_pages;        /* hotcold */
    double hot_frac;          /* hotcold: share of writes to the hot set, 0..1 */
    double cap_pages;         /* table: upper bound (guest pages); 0 = none */
    int n;                    /* table: number of points, 1..CO_DIRTY_TABLE_MAX */
    double t_s[CO_DIRTY_TABLE_MAX];     /* table: window lengths, strictly increasing, > 0 */
    double pages[CO_DIRTY_TABLE_MAX];   /* table: distinct pages, non-decreasing, >= 0 */
    double slope[CO_DIRTY_TABLE_MAX];   /* table: derived by co_dirty_table_init */
} co_dirty;

/* Constructors. Return CO_OK or CO_ERANGE (negative or non-finite values,
 * hot_frac outside [0,1], a table that is not increasing in t or decreasing
 * in pages, too many points). On error *d is set to CO_DIRTY_NONE. */
int co_dirty_none(co_dirty *d);
int co_dirty_uniform(co_dirty *d, double wss_pages, double rate_pages_per_s);
int co_dirty_hotcold(co_dirty *d, double hot_pages, double cold_pages, double hot_frac,
                     double rate_pages_per_s);
int co_dirty_seq(co_dirty *d, double wss_pages, double rate_pages_per_s);
int co_dirty_table(co_dirty *d, const double *t_s, const double *pages, int n,
                   double cap_pages);

/* U(t) in pages for a window of t_s seconds (t_s <= 0 gives 0). */
double co_dirty_pages(const co_dirty *d, double t_s);
/* dU/dt at t = 0+, pages/s: the rate of a fresh page being dirtied. */
double co_dirty_rate0(const co_dirty *d);
/* lim U(t) as t grows, pages (INFINITY for an uncapped table that still grows). */
double co_dirty_wss(const co_dirty *d);
/* Name of the kind: "none", "uniform", "hotcold", "seq", "table". */
const char *co_dirty_kind_name(int kind);

#endif
