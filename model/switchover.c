/* model/switchover.c: cost of switching now or after k more passes. */
#include "model/switchover.h"

#include <math.h>
#include <string.h>

#include "util/error.h"

int co_switch_plan_make(const co_mig_params *p, const co_switch_state *s, int k_max,
                        double max_downtime_ms, double budget_ms, co_switch_plan *out)
{
    if (co_mig_check(p, NULL) != CO_OK || !(s->bandwidth_bytes_per_s > 0) ||
        !(s->pending_bytes >= 0) || k_max < 0)
        return CO_ERANGE;
    if (k_max > CO_SWITCH_MAX_K)
        k_max = CO_SWITCH_MAX_K;
    memset(out, 0, sizeof *out);
    double hdr = (p->page_size_bytes + CO_MIG_PAGE_HEADER_BYTES) / p->page_size_bytes;
    double bw = s->bandwidth_bytes_per_s / hdr; /* guest bytes/s */
    double stop_bw = (s->stop_bandwidth_bytes_per_s > 0 ? s->stop_bandwidth_bytes_per_s
                                                        : s->bandwidth_bytes_per_s) / hdr;
    double keep = 1.0 - s->throttle_pct / 100.0;
    double M = p->mem_bytes;
    /* Switching now: QEMU must sync first, adding what was dirtied since the
     * last sync. Each further pass sends everything pending (the engine
     * holds the threshold low meanwhile), then syncs. */
    double pending = s->pending_bytes;
    double since_s = s->since_sync_ms / 1000.0;
    double wait_ms = 0;
    out->best = -1;
    for (int k = 0; k <= k_max; k++) {
        double fresh = co_dirty_pages(&p->dirty, since_s * keep) * p->page_size_bytes;
        if (fresh > M)
            fresh = M;
        double at_switch = pending + fresh * (1.0 - pending / M);
        co_switch_option *o = &out->opt[k];
        o->k = k;
        o->wait_ms = wait_ms;
        o->pending_bytes = at_switch;
        o->downtime_ms = at_switch / stop_bw * 1000.0 + p->switchover_cost_ms;
        /* QEMU switches when pending < bandwidth x limit: aim just above */
        o->downtime_limit_ms = at_switch * hdr / s->bandwidth_bytes_per_s * 1000.0 * 1.02 + 1.0;
        out->n = k + 1;
        if (o->downtime_ms <= max_downtime_ms && (budget_ms <= 0 || wait_ms <= budget_ms)) {
            if (out->best < 0 ||
                o->downtime_ms < out->opt[out->best].downtime_ms * 0.95)
                out->best = k;
        }
        /* next pass: send at_switch, during which new pages get dirty */
        double pass_s = at_switch / bw;
        wait_ms += pass_s * 1000.0;
        pending = 0;
        since_s = pass_s;
    }
    co_mig_params q = *p;
    q.throttle_pct = s->throttle_pct;
    out->floor_ms = co_mig_floor_ms(&q);
    return CO_OK;
}
