/* model/migration.c: QEMU 7.2 pre-copy, post-copy and pause prediction.
 * The loop below follows migration_iteration_run() and ram_save_pending()
 * of QEMU 7.2 at the granularity of one rate-limit window; see the header
 * and docs/model.md, section "Pre-copy as QEMU 7.2 runs it". */
#include "model/migration.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <string.h>

#include "util/error.h"

#define ZERO_PAGE_BYTES 9.0    /* header plus the fill byte */
#define WINDOW_LIMITED_S 0.1   /* BUFFER_DELAY: rate-limit window */
#define WINDOW_FREE_S 0.05     /* MAX_WAIT: longest ram_save_iterate() */
#define AC_PERIOD_MS 1000.0    /* auto-converge looks at most once a second */
#define STALL_PASSES 8         /* passes without a new pending minimum = stalled */
#define STALL_GAIN 0.005       /* a new minimum must improve by 0.5% to count */

void co_mig_defaults(co_mig_params *p)
{
    memset(p, 0, sizeof *p);
    p->page_size_bytes = 4096;
    p->zero_fraction = 0;
    co_dirty_none(&p->dirty);
    co_link_defaults(&p->link);
    p->downtime_limit_ms = 300;
    /* device state + destination resume; calibrated on QEMU 7.2 (docs/accuracy.md) */
    p->switchover_cost_ms = 10;
    p->mode = CO_MODE_PRECOPY;
    p->hybrid_passes = 1;
    p->auto_converge = 0;
    p->throttle_initial_pct = 20;
    p->throttle_increment_pct = 10;
    p->throttle_trigger_pct = 50;
    p->max_throttle_pct = 99;
    p->throttle_tailslow = 0;
    p->throttle_pct = 0;
    p->zero_scan_bytes_per_s = 4e9;
    p->deadline_ms = 24 * 3600e3;
    p->max_passes = 10000;
}

static int finite_in(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

int co_mig_check(const co_mig_params *p, const char **field)
{
    const char *f = NULL;
    co_link_eval ev;
    if (!finite_in(p->mem_bytes, 1, 64.0 * 1099511627776.0))
        f = "mem_bytes";
    else if (!finite_in(p->page_size_bytes, 512, 1 << 30))
        f = "page_size_bytes";
    else if (p->mem_bytes < p->page_size_bytes)
        f = "mem_bytes";
    else if (!finite_in(p->zero_fraction, 0, 1))
        f = "zero_fraction";
    else if (!finite_in(p->downtime_limit_ms, 0.001, 3600e3))
        f = "downtime_limit_ms";
    else if (!finite_in(p->switchover_cost_ms, 0, 3600e3))
        f = "switchover_cost_ms";
    else if (p->mode < CO_MODE_PRECOPY || p->mode > CO_MODE_PAUSE)
        f = "mode";
    else if (p->hybrid_passes < 0 || p->hybrid_passes > 100000)
        f = "hybrid_passes";
    else if (!finite_in(p->throttle_initial_pct, 1, 99))
        f = "throttle_initial_pct";
    else if (!finite_in(p->throttle_increment_pct, 1, 99))
        f = "throttle_increment_pct";
    else if (!finite_in(p->throttle_trigger_pct, 1, 100))
        f = "throttle_trigger_pct";
    else if (!finite_in(p->max_throttle_pct, 1, 99))
        f = "max_throttle_pct";
    else if (!finite_in(p->throttle_pct, 0, 99))
        f = "throttle_pct";
    else if (!finite_in(p->zero_scan_bytes_per_s, 1, 1e15))
        f = "zero_scan_bytes_per_s";
    else if (!finite_in(p->deadline_ms, 1, 1e12))
        f = "deadline_ms";
    else if (p->max_passes < 1)
        f = "max_passes";
    else if (co_link_evaluate(&p->link, &ev) != CO_OK)
        f = "link";
    if (field)
        *field = f;
    return f ? CO_ERANGE : CO_OK;
}

/* Rates of one migration, in guest-memory ("raw") bytes and stream bytes. */
struct rates {
    double stream_iter;  /* stream bytes/s in pre-copy (QEMU's measured bandwidth) */
    double raw_iter;     /* guest bytes/s in pre-copy */
    double raw_stop;     /* guest bytes/s in stop-and-copy / post-copy */
    double stream_per_raw; /* stream bytes per guest byte of a non-zero page */
    double window_s;     /* time between pending checks */
    double chunk_raw;    /* guest bytes sent between two pending checks */
};

static void get_rates(const co_mig_params *p, const co_link_eval *ev, struct rates *r)
{
    double hdr = (p->page_size_bytes + CO_MIG_PAGE_HEADER_BYTES) / p->page_size_bytes;
    r->stream_per_raw = hdr * p->link.compress_ratio;
    r->raw_iter = ev->raw_iter_bytes_per_s / hdr;
    r->raw_stop = ev->raw_stop_bytes_per_s / hdr;
    r->stream_iter = r->raw_iter * r->stream_per_raw;
    int limited = p->link.max_bandwidth_bytes_per_s > 0 &&
                  p->link.max_bandwidth_bytes_per_s < ev->payload_bytes_per_s;
    r->window_s = limited ? WINDOW_LIMITED_S : WINDOW_FREE_S;
    r->chunk_raw = r->raw_iter * r->window_s;
}

/* Distinct dirty bytes in a window of dt_s seconds at a throttle. */
static double dirty_bytes(const co_mig_params *p, double dt_s, double throttle_pct)
{
    double pages = co_dirty_pages(&p->dirty, dt_s * (1.0 - throttle_pct / 100.0));
    double max_pages = p->mem_bytes / p->page_size_bytes;
    if (pages > max_pages)
        pages = max_pages;
    return pages * p->page_size_bytes;
}

static void keep_pass(co_mig_result *out, const co_mig_pass *ps)
{
    int slot = ps->index < CO_MIG_TIMELINE_MAX ? ps->index : CO_MIG_TIMELINE_MAX - 1;
    out->timeline[slot] = *ps;
    out->timeline[slot].index = ps->index;
    if (slot + 1 > out->timeline_len)
        out->timeline_len = slot + 1;
}

int co_mig_predict(const co_mig_params *p, co_mig_result *out)
{
    if (co_mig_check(p, NULL) != CO_OK)
        return CO_ERANGE;
    co_link_eval ev;
    co_link_evaluate(&p->link, &ev);
    struct rates r;
    get_rates(p, &ev, &r);

    memset(out, 0, sizeof *out);
    const double M = p->mem_bytes;
    const double thr = r.stream_iter * p->downtime_limit_ms / 1000.0;
    out->threshold_bytes = thr;
    out->bandwidth_bps = r.stream_iter;

    double t_ms = 0, last_sync_ms = 0;
    double R = M;                 /* dirty bytes not yet sent */
    double zero_left = M * p->zero_fraction;
    double throttle = p->throttle_pct;
    int ac_active = throttle > 0, ac_high = 0;
    double ac_period_start = 0, ac_dirty = 0, ac_xfer = 0;
    double transferred = 0;
    double min_R = INFINITY;
    int stall = 0, syncs = 1;
    int switch_after = (p->mode == CO_MODE_PRECOPY) ? -1
                       : (p->mode == CO_MODE_POSTCOPY) ? 0 : p->hybrid_passes;

    int k;
    for (k = 0;; k++) {
        if (k == switch_after)
            break;
        co_mig_pass ps = {.index = k, .start_ms = t_ms, .throttle_pct = throttle};
        /* Send chunks until pending < thr (checked before each chunk); the
         * bulk pass always sends at least one. */
        double need = R - thr;
        double nchunks = need < 0 ? (k == 0 ? 1 : 0) : floor(need / r.chunk_raw) + 1;
        double sent = fmin(R, nchunks * r.chunk_raw);
        double dt_s, stream;
        if (zero_left > 0) {
            /* bulk pass: zero pages are scanned, not sent */
            double zshare = zero_left / R;
            double zs = sent * zshare, nz = sent - zs;
            dt_s = nz / r.raw_iter + zs / p->zero_scan_bytes_per_s;
            stream = nz * r.stream_per_raw + zs / p->page_size_bytes * ZERO_PAGE_BYTES;
            zero_left -= zs;
        } else {
            dt_s = sent >= R ? sent / r.raw_iter : nchunks * r.window_s;
            stream = sent * r.stream_per_raw;
        }
        R -= sent;
        t_ms += dt_s * 1000.0;
        transferred += stream;
        ps.sent_bytes = stream;

        /* bitmap sync: pages dirtied since the last sync join the unsent ones */
        double fresh = dirty_bytes(p, (t_ms - last_sync_ms) / 1000.0, throttle);
        R = R + fresh * (1.0 - R / M);
        last_sync_ms = t_ms;
        syncs++;

        if (p->auto_converge) {
            ac_dirty += fresh;
            ac_xfer += stream;
            if (t_ms > ac_period_start + AC_PERIOD_MS) {
                if (ac_dirty > ac_xfer * p->throttle_trigger_pct / 100.0 && ++ac_high >= 2) {
                    ac_high = 0;
                    if (!ac_active) {
                        throttle = fmax(throttle, p->throttle_initial_pct);
                        ac_active = 1;
                    } else {
                        double inc = p->throttle_increment_pct;
                        if (p->throttle_tailslow && ac_dirty > 0) {
                            double now = 100 - throttle;
                            double ideal = now * (ac_xfer * p->throttle_trigger_pct / 100.0) / ac_dirty;
                            inc = fmin(now - ideal, inc);
                        }
                        throttle = fmin(throttle + inc, p->max_throttle_pct);
                    }
                    stall = 0;
                    min_R = INFINITY;
                }
                ac_period_start = t_ms;
                ac_dirty = ac_xfer = 0;
            }
        }
        ps.end_ms = t_ms;
        ps.pending_bytes = R;
        ps.threshold_bytes = thr;
        keep_pass(out, &ps);

        if (R < thr && switch_after < 0)
            break; /* completion */
        if (R < min_R * (1 - STALL_GAIN)) {
            min_R = R;
            stall = 0;
        } else if (++stall >= STALL_PASSES &&
                   (!p->auto_converge || throttle >= p->max_throttle_pct)) {
            out->noconv_reason = CO_NOCONV_DIRTY_RATE;
            break;
        }
        if (t_ms >= p->deadline_ms) {
            out->noconv_reason = CO_NOCONV_DEADLINE;
            break;
        }
        if (k + 1 >= p->max_passes) {
            out->noconv_reason = CO_NOCONV_MAX_PASSES;
            break;
        }
    }
    out->passes = k + (k == switch_after ? 0 : 1);
    out->dirty_sync_count = syncs + 1; /* + the sync inside completion */
    out->final_throttle_pct = throttle;
    out->precopy_ms = t_ms;
    out->final_pending_bytes = R;

    if (out->noconv_reason != CO_NOCONV_NONE) {
        out->converged = 0;
        out->settle_pending_bytes = min_R < INFINITY ? fmin(min_R, R) : R;
        out->total_time_ms = t_ms;
        out->downtime_ms = NAN;
        out->transferred_bytes = transferred;
        return CO_OK;
    }
    out->converged = 1;
    double rest_stream = (R - zero_left) * r.stream_per_raw +
                         zero_left / p->page_size_bytes * ZERO_PAGE_BYTES;
    double rest_s = (R - zero_left) / r.raw_stop + zero_left / p->zero_scan_bytes_per_s;
    switch (switch_after < 0 ? CO_MODE_PRECOPY : p->mode) {
    case CO_MODE_PRECOPY:
        out->downtime_ms = rest_s * 1000.0 + p->switchover_cost_ms;
        out->total_time_ms = t_ms + out->downtime_ms;
        break;
    case CO_MODE_POSTCOPY:
    case CO_MODE_HYBRID:
        /* stop, send device state and the discard bitmap, run on the
         * destination; the rest is pushed (and faulted) in the background */
        out->downtime_ms = p->switchover_cost_ms +
                           (M / p->page_size_bytes / 8.0) / r.raw_stop * 1000.0;
        out->postcopy_ms = rest_s * 1000.0;
        out->total_time_ms = t_ms + out->downtime_ms + out->postcopy_ms;
        break;
    case CO_MODE_PAUSE: {
        /* guest paused: no new dirtying; pre-copy drains to the threshold at
         * the rate-limited speed, then the stop-and-copy sends the rest */
        double drain = fmax(0, R - thr);
        double tail = R - drain;
        out->downtime_ms = (drain / r.raw_iter + tail / r.raw_stop) * 1000.0 +
                           p->switchover_cost_ms;
        out->total_time_ms = t_ms + out->downtime_ms;
        break;
    }
    }
    out->transferred_bytes = transferred + rest_stream;
    return CO_OK;
}

struct floor_ctx {
    const co_mig_params *p;
    double raw_iter;
};

static double floor_g(double x, void *arg)
{
    const struct floor_ctx *c = arg;
    return dirty_bytes(c->p, x / c->raw_iter, c->p->throttle_pct) - x;
}

double co_mig_floor_ms(const co_mig_params *p)
{
    if (co_mig_check(p, NULL) != CO_OK)
        return NAN;
    co_link_eval ev;
    co_link_evaluate(&p->link, &ev);
    struct rates r;
    get_rates(p, &ev, &r);
    struct floor_ctx c = {p, r.raw_iter};
    const double M = p->mem_bytes;
    double xstar = 0;
    /* Pre-copy starts at M and each pass maps x to U(x/bw): it settles at the
     * largest root of g below M. Scan down a geometric grid to bracket it. */
    if (floor_g(M, &c) >= 0) {
        xstar = M;
    } else {
        double hi = M, lo = M;
        int found = 0;
        while (lo > p->page_size_bytes) {
            lo = hi / 1.5;
            if (floor_g(lo, &c) > 0) {
                found = 1;
                break;
            }
            hi = lo;
        }
        if (found) {
            gsl_function F = {floor_g, &c};
            gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
            gsl_error_handler_t *old = gsl_set_error_handler_off();
            if (s != NULL && gsl_root_fsolver_set(s, &F, lo, hi) == GSL_SUCCESS) {
                for (int i = 0; i < 100; i++) {
                    gsl_root_fsolver_iterate(s);
                    double a = gsl_root_fsolver_x_lower(s), b = gsl_root_fsolver_x_upper(s);
                    if (gsl_root_test_interval(a, b, 1.0, 1e-9) == GSL_SUCCESS)
                        break;
                }
                xstar = gsl_root_fsolver_root(s);
            } else {
                xstar = hi;
            }
            gsl_set_error_handler(old);
            if (s)
                gsl_root_fsolver_free(s);
        }
    }
    return xstar / r.raw_stop * 1000.0 + p->switchover_cost_ms;
}

static int converges(const co_mig_params *p)
{
    co_mig_result r;
    return co_mig_predict(p, &r) == CO_OK && r.converged;
}

/* Smallest v in [lo, hi] with ok(v), assuming ok is monotone; -1 if ok(hi) fails. */
static double bisect(co_mig_params *q, double *field, double lo, double hi, double rel)
{
    *field = hi;
    if (!converges(q))
        return -1;
    for (int i = 0; i < 60 && hi - lo > rel * hi; i++) {
        double mid = 0.5 * (lo + hi);
        *field = mid;
        if (converges(q))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

int co_mig_advise(const co_mig_params *p, co_mig_result *out)
{
    int rc = co_mig_predict(p, out);
    if (rc != CO_OK)
        return rc;
    /* the floor at the throttle the run ends with (auto-converge raises it) */
    co_mig_params q = *p;
    q.throttle_pct = fmax(p->throttle_pct, out->final_throttle_pct);
    out->downtime_floor_ms = co_mig_floor_ms(&q);
    if (out->converged)
        return CO_OK;
    q = *p;
    q.mode = CO_MODE_PRECOPY;
    /* downtime-limit: up to one that covers all of RAM */
    co_link_eval ev;
    co_link_evaluate(&p->link, &ev);
    struct rates r;
    get_rates(p, &ev, &r);
    double dl_hi = fmin(3600e3, 1.05 * p->mem_bytes / r.stream_iter * 1000.0 + 1.0);
    out->min_downtime_limit_ms = bisect(&q, &q.downtime_limit_ms, p->downtime_limit_ms, dl_hi, 1e-3);
    q = *p;
    q.mode = CO_MODE_PRECOPY;
    q.auto_converge = 0;
    out->min_throttle_pct = bisect(&q, &q.throttle_pct, p->throttle_pct, 99.0, 1e-3);
    q = *p;
    q.mode = CO_MODE_PRECOPY;
    /* bandwidth: give the link headroom and cap it with max-bandwidth */
    q.link.line_rate_bytes_per_s = 1e13;
    q.link.channel_cap_bytes_per_s = 1e13;
    q.link.max_bandwidth_bytes_per_s = 1e12;
    if (converges(&q)) {
        double b = bisect(&q, &q.link.max_bandwidth_bytes_per_s, r.stream_iter, 1e12, 1e-3);
        out->min_bandwidth_bytes_per_s = b;
    } else {
        out->min_bandwidth_bytes_per_s = -1;
    }
    return CO_OK;
}

const char *co_mig_mode_name(int mode)
{
    static const char *n[] = {"precopy", "postcopy", "hybrid", "pause"};
    return mode >= 0 && mode <= CO_MODE_PAUSE ? n[mode] : "unknown";
}

const char *co_noconv_name(int reason)
{
    static const char *n[] = {"none", "dirty-rate", "deadline", "max-passes"};
    return reason >= 0 && reason <= CO_NOCONV_MAX_PASSES ? n[reason] : "unknown";
}
