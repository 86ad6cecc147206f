/* engine/estimate.c: online bandwidth and dirty-curve estimates. */
#include "engine/estimate.h"

#include <math.h>
#include <string.h>

#include "model/fit.h"
#include "util/error.h"

/* Bandwidth needs a span of 300 ms at least: QEMU 7.2 rate-limits in 100 ms
 * windows (BUFFER_DELAY, migration/migration.c), and a span of one or two
 * of them swings with each (3 windows: chosen). */
#define BW_MIN_SPAN_MS 300.0
/* The hotcold curve needs four points (a uniform fit two), and replaces the
 * uniform one only when its RMSE is under 0.8x the uniform's (chosen;
 * docs/policies.md, adaptive step 2: "when it fits clearly better"). */
#define HOTCOLD_MIN_POINTS 4
#define HOTCOLD_RMSE_RATIO 0.8
/* Guest pages when RAM is not known yet: no saturation in reach. */
#define UNKNOWN_RAM_PAGES 1e9
/* A curve point's window must exceed 10 ms (chosen: shorter ones are
 * within a poll's jitter; estimate.h says so). */
#define MIN_WINDOW_S 0.01
/* Page size when QEMU has not said (x86's TARGET_PAGE_SIZE), and the least
 * a reported page size may be (chosen: a sanity floor). */
#define DEFAULT_PAGE_BYTES 4096
#define MIN_PAGE_BYTES 512

void co_est_init(co_est *e)
{
    memset(e, 0, sizeof *e);
    e->sync_count = -1;
    e->start_ms = NAN;
    e->last_sync_ms = NAN;
    e->setup_ev_ms = NAN;
    e->prev_sample_ms = NAN;
    e->dirty_rate_pages_per_s = NAN;
    co_dirty_none(&e->curve);
}

double co_est_elapsed_ms(const co_est *e, double sampled_at_ms)
{
    return isfinite(e->start_ms) ? sampled_at_ms - e->start_ms : 0;
}

/* Bandwidth over the oldest ring sample still inside the window (or the
 * oldest we have), so one 100 ms burst or stall does not swing it. */
static void update_bandwidth(co_est *e, double t_ms, double x)
{
    int cap = CO_EST_RING;
    int idx = (e->ring_head + e->ring_n) % cap;
    if (e->ring_n == cap) {
        e->ring_head = (e->ring_head + 1) % cap;
        e->ring_n--;
        idx = (e->ring_head + e->ring_n) % cap;
    }
    e->ring_t_ms[idx] = t_ms;
    e->ring_x_bytes[idx] = x;
    e->ring_n++;
    /* drop samples older than the window, keeping one at or beyond it */
    while (e->ring_n > 2) {
        int next = (e->ring_head + 1) % cap;
        if (t_ms - e->ring_t_ms[next] >= CO_EST_BW_WINDOW_MS) {
            e->ring_head = next;
            e->ring_n--;
        } else {
            break;
        }
    }
    double t0 = e->ring_t_ms[e->ring_head], x0 = e->ring_x_bytes[e->ring_head];
    double dt = t_ms - t0;
    if (dt >= BW_MIN_SPAN_MS && x >= x0)
        e->bandwidth_bytes_per_s = (x - x0) / (dt / 1000.0);
}

static void refit(co_est *e)
{
    double max_pages = e->mem_bytes > 0 ? e->mem_bytes / e->page_size_bytes : UNKNOWN_RAM_PAGES;
    /* the sync points, plus the measured window while they are too few */
    double t[CO_EST_POINTS + 1], p[CO_EST_POINTS + 1];
    int n = e->n_points;
    memcpy(t, e->pt_t_s, (size_t)n * sizeof *t);
    memcpy(p, e->pt_pages, (size_t)n * sizeof *p);
    if (n < 2 && e->win_t_s > 0) {
        t[n] = e->win_t_s;
        p[n] = e->win_pages;
        n++;
    }
    if (n < 2)
        return;
    co_fit_result u, h;
    int ru = co_dirty_fit(CO_DIRTY_UNIFORM, t, p, n, max_pages, &u);
    int rh = n >= HOTCOLD_MIN_POINTS ? co_dirty_fit(CO_DIRTY_HOTCOLD, t, p, n, max_pages, &h) : CO_EFAILED;
    if (ru == CO_OK && (rh != CO_OK || !(h.rmse_pages < u.rmse_pages * HOTCOLD_RMSE_RATIO))) {
        e->curve = u.curve;
        e->fit_r2 = u.r2;
        e->have_curve = 1;
    } else if (rh == CO_OK) {
        e->curve = h.curve;
        e->fit_r2 = h.r2;
        e->have_curve = 1;
    }
}

/* A curve point worth fitting: a window of more than 10 ms, a count. */
static int point_ok(double t_s, double pages)
{
    return t_s > MIN_WINDOW_S && isfinite(t_s) && pages >= 0 && isfinite(pages);
}

static void add_point(co_est *e, double t_s, double pages)
{
    if (!point_ok(t_s, pages))
        return;
    if (e->n_points == CO_EST_POINTS) {
        /* keep the bulk-pass point (longest window) and the newest */
        memmove(&e->pt_t_s[1], &e->pt_t_s[2], (CO_EST_POINTS - 2) * sizeof(double));
        memmove(&e->pt_pages[1], &e->pt_pages[2], (CO_EST_POINTS - 2) * sizeof(double));
        e->n_points--;
    }
    e->pt_t_s[e->n_points] = t_s;
    e->pt_pages[e->n_points] = pages;
    e->n_points++;
    refit(e);
}

void co_est_add_window(co_est *e, double window_s, double pages)
{
    if (!(e->page_size_bytes > 0))
        e->page_size_bytes = DEFAULT_PAGE_BYTES;
    if (!point_ok(window_s, pages))
        return;
    e->win_t_s = window_s;
    e->win_pages = pages;
    refit(e);
}

void co_est_feed(co_est *e, const co_drv_stats *st, double sync_event_ms)
{
    double t = st->sampled_at_ms;
    if (!isfinite(t))
        return;
    if (!isfinite(e->start_ms))
        e->start_ms = t;
    e->samples++;
    e->new_sync = 0;
    if (isfinite(st->ram_page_size_bytes) && st->ram_page_size_bytes >= MIN_PAGE_BYTES)
        e->page_size_bytes = st->ram_page_size_bytes;
    if (!(e->page_size_bytes > 0))
        e->page_size_bytes = DEFAULT_PAGE_BYTES;
    if (isfinite(st->ram_total_bytes) && st->ram_total_bytes > 0)
        e->mem_bytes = st->ram_total_bytes;
    if (isfinite(st->cpu_throttle_pct))
        e->throttle_pct = st->cpu_throttle_pct;
    else if (st->status == CO_DRV_MIG_ACTIVE)
        e->throttle_pct = 0;
    if (isfinite(st->ram_dirty_pages_rate))
        e->dirty_rate_pages_per_s = st->ram_dirty_pages_rate;

    int active = st->status == CO_DRV_MIG_ACTIVE;
    /* the setup sync's event may come with a sample that still says setup */
    if (e->sync_count < 0 && isfinite(sync_event_ms) && sync_event_ms <= t)
        e->setup_ev_ms = sync_event_ms;
    double prev_remaining = e->remaining_bytes, prev_t = e->prev_sample_ms;
    if (active && isfinite(st->ram_transferred_bytes)) {
        update_bandwidth(e, t, st->ram_transferred_bytes);
        e->transferred_bytes = st->ram_transferred_bytes;
    }
    if (isfinite(st->ram_remaining_bytes))
        e->remaining_bytes = st->ram_remaining_bytes;

    if (active && st->ram_dirty_sync_count >= 0 && st->ram_dirty_sync_count > e->sync_count) {
        int first = e->sync_count < 0;
        int have_ev = isfinite(sync_event_ms) && sync_event_ms <= t &&
                      (!isfinite(prev_t) || sync_event_ms >= prev_t);
        double sync_ms = have_ev ? sync_event_ms : isfinite(prev_t) ? (prev_t + t) / 2 : t;
        double guest_bw = e->bandwidth_bytes_per_s; /* page headers are ~0.2%: ignore */
        double sent_since = guest_bw * (t - sync_ms) / 1000.0;
        double pending = e->remaining_bytes + sent_since;
        /* what was left unsent before the sync is in pending too, but it is
         * not newly dirtied: take it out of the curve point */
        double leftover = isfinite(prev_t) ? prev_remaining - guest_bw * (sync_ms - prev_t) / 1000.0
                                           : 0;
        if (leftover < 0)
            leftover = 0;
        /* count 1 is QEMU's setup sync; windows start at the previous sync */
        if (!first && isfinite(e->last_sync_ms) && st->ram_dirty_sync_count - e->sync_count == 1) {
            double win_s = (sync_ms - e->last_sync_ms) / 1000.0 * (1.0 - e->throttle_pct / 100.0);
            add_point(e, win_s, fmax(pending - leftover, 0) / e->page_size_bytes);
        }
        e->pending_at_sync_bytes = pending;
        /* The bulk pass starts at QEMU's setup sync. Its event says when
         * (with this sample or an earlier one still in setup); without it the
         * first sample is the best guess. Through libvirt the
         * first active sample may come a second into the bulk pass (libvirtd
         * answers the job query late while it starts the migration): taking
         * that as the start makes the bulk window too short, the dirty rate
         * too high and the fitted floor false (docs/policies.md, "The bulk
         * pass's start"). */
        if (first && st->ram_dirty_sync_count <= 1)
            e->last_sync_ms = isfinite(e->setup_ev_ms) ? e->setup_ev_ms : e->start_ms;
        else
            e->last_sync_ms = sync_ms;
        e->sync_count = st->ram_dirty_sync_count;
        e->new_sync = !first;
    }
    e->prev_sample_ms = t;
}
