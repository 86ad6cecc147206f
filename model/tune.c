/* model/tune.c: grid sweep and recommendation for `cutover tune`. */
#include "model/tune.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

void co_tune_default_grid(co_tune_grid *g, double max_downtime_ms, double own_limit_ms)
{
    memset(g, 0, sizeof *g);
    g->n_mtu = 2;
    g->mtu[0] = 1500;
    g->mtu[1] = 9000;
    g->n_channels = 16;
    for (int i = 0; i < 16; i++)
        g->channels[i] = i + 1;
    static const double limits[] = {50, 100, 200, 300, 500, 1000};
    int have_own = 0;
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        if (max_downtime_ms > 0 && limits[i] > max_downtime_ms)
            continue;
        g->downtime_limit_ms[g->n_limit++] = limits[i];
        if (limits[i] == own_limit_ms)
            have_own = 1;
    }
    if (!have_own && g->n_limit < CO_TUNE_MAX_AXIS) {
        /* keep the input's own limit, in order */
        int i = g->n_limit;
        while (i > 0 && g->downtime_limit_ms[i - 1] > own_limit_ms) {
            g->downtime_limit_ms[i] = g->downtime_limit_ms[i - 1];
            i--;
        }
        g->downtime_limit_ms[i] = own_limit_ms;
        g->n_limit++;
    }
}

static int better(const co_tune_row *a, const co_tune_row *b)
{
    /* a better than b? time first (2% tolerance), then downtime, channels, MTU */
    if (a->total_time_ms < b->total_time_ms * 0.98)
        return 1;
    if (b->total_time_ms < a->total_time_ms * 0.98)
        return 0;
    if (fabs(a->downtime_ms - b->downtime_ms) > 0.02 * fmax(a->downtime_ms, b->downtime_ms))
        return a->downtime_ms < b->downtime_ms;
    if (a->channels != b->channels)
        return a->channels < b->channels;
    return a->mtu < b->mtu;
}

int co_tune_run(const co_mig_params *base, const co_tune_grid *g, double max_downtime_ms,
                double deadline_ms, co_tune_row *rows, co_tune_result *out)
{
    if (co_mig_check(base, NULL) != CO_OK)
        return CO_ERANGE;
    memset(out, 0, sizeof *out);
    out->best = -1;
    out->baseline = -1;
    int n = 0;
    for (int m = 0; m < g->n_mtu; m++)
        for (int c = 0; c < g->n_channels; c++)
            for (int l = 0; l < g->n_limit; l++) {
                co_mig_params p = *base;
                p.link.mtu = g->mtu[m];
                p.link.channels = g->channels[c];
                p.downtime_limit_ms = g->downtime_limit_ms[l];
                co_tune_row *row = &rows[n];
                memset(row, 0, sizeof *row);
                row->mtu = p.link.mtu;
                row->channels = p.link.channels;
                row->downtime_limit_ms = p.downtime_limit_ms;
                co_mig_result r;
                if (co_mig_predict(&p, &r) != CO_OK)
                    return CO_ERANGE;
                co_link_eval ev;
                co_link_evaluate(&p.link, &ev);
                row->converged = r.converged;
                row->total_time_ms = r.total_time_ms;
                row->downtime_ms = r.converged ? r.downtime_ms : NAN;
                row->transferred_bytes = r.transferred_bytes;
                row->bandwidth_bps = r.bandwidth_bps;
                row->bound = ev.bound;
                row->fits = r.converged &&
                            (max_downtime_ms <= 0 || r.downtime_ms <= max_downtime_ms) &&
                            (deadline_ms <= 0 || r.total_time_ms <= deadline_ms);
                if (row->mtu == base->link.mtu && row->channels == base->link.channels &&
                    row->downtime_limit_ms == base->downtime_limit_ms)
                    out->baseline = n;
                if (row->fits && (out->best < 0 || better(row, &rows[out->best])))
                    out->best = n;
                n++;
            }
    out->n_rows = n;
    if (out->best < 0) {
        snprintf(out->why, sizeof out->why,
                 "No setting in the grid converges within the downtime budget and deadline: "
                 "reduce the dirty rate (throttle/auto-converge), raise the budget, or use "
                 "post-copy.");
        return CO_OK;
    }
    const co_tune_row *b = &rows[out->best];
    int len = snprintf(out->why, sizeof out->why,
                       "MTU %d, %d channel%s, downtime-limit %.0f ms is the fastest setting "
                       "within the budget; its bandwidth is bound by %s",
                       b->mtu, b->channels, b->channels == 1 ? "" : "s", b->downtime_limit_ms,
                       co_link_bound_phrase(b->bound));
    if (b->bound == CO_LINK_BOUND_LINE && b->channels > 1)
        len += snprintf(out->why + len, sizeof out->why - len,
                        ", so more channels would not help");
    if (out->baseline >= 0 && out->baseline != out->best) {
        const co_tune_row *o = &rows[out->baseline];
        if (o->converged)
            snprintf(out->why + len, sizeof out->why - len,
                     ". Against the input's setting (MTU %d, %d channel%s, %.0f ms): "
                     "%.0f%% of its time, %.0f%% of its downtime.",
                     o->mtu, o->channels, o->channels == 1 ? "" : "s", o->downtime_limit_ms,
                     100 * b->total_time_ms / o->total_time_ms,
                     100 * b->downtime_ms / o->downtime_ms);
        else
            snprintf(out->why + len, sizeof out->why - len,
                     ". The input's own setting (MTU %d, %d channel%s, %.0f ms) does not "
                     "converge.",
                     o->mtu, o->channels, o->channels == 1 ? "" : "s", o->downtime_limit_ms);
    } else {
        snprintf(out->why + len, sizeof out->why - len, ".");
    }
    return CO_OK;
}
