/* cli/cmd_model.c: `cutover model`, one migration predicted by model/. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_args.h"
#include "model/link.h"
#include "model/migration.h"
#include "util/units.h"

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *result_json(const co_model_args *a, const co_link_eval *ev, const co_mig_result *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "converged", json_boolean(r->converged));
    json_object_set_new(j, "mode", json_string(co_mig_mode_name(a->p.mode)));
    json_object_set_new(j, "passes", json_integer(r->passes));
    json_object_set_new(j, "dirty_sync_count", json_integer(r->dirty_sync_count));
    json_object_set_new(j, "total_time_ms", num_or_null(r->total_time_ms));
    json_object_set_new(j, "downtime_ms", num_or_null(r->downtime_ms));
    json_object_set_new(j, "transferred_bytes", json_real(r->transferred_bytes));
    json_object_set_new(j, "bandwidth_bps", json_real(r->bandwidth_bps));
    json_object_set_new(j, "downtime_floor_ms", num_or_null(r->downtime_floor_ms));
    json_object_set_new(j, "precopy_ms", json_real(r->precopy_ms));
    json_object_set_new(j, "postcopy_ms", json_real(r->postcopy_ms));
    json_object_set_new(j, "threshold_bytes", json_real(r->threshold_bytes));
    json_object_set_new(j, "final_pending_bytes", json_real(r->final_pending_bytes));
    json_object_set_new(j, "final_throttle_pct", json_real(r->final_throttle_pct));
    if (!r->converged) {
        json_t *nc = json_object();
        json_object_set_new(nc, "reason", json_string(co_noconv_name(r->noconv_reason)));
        json_object_set_new(nc, "settle_pending_bytes", json_real(r->settle_pending_bytes));
        json_object_set_new(nc, "min_downtime_limit_ms",
                            r->min_downtime_limit_ms > 0 ? json_real(r->min_downtime_limit_ms)
                                                         : json_null());
        json_object_set_new(nc, "min_throttle_pct",
                            r->min_throttle_pct >= 0 ? json_real(r->min_throttle_pct) : json_null());
        json_object_set_new(nc, "min_bandwidth_bps",
                            r->min_bandwidth_bytes_per_s > 0 ? json_real(r->min_bandwidth_bytes_per_s)
                                                             : json_null());
        json_object_set_new(j, "not_converged", nc);
    }
    json_t *link = json_object();
    json_object_set_new(link, "line_rate_bps", json_real(a->p.link.line_rate_bytes_per_s));
    json_object_set_new(link, "mtu", json_integer(a->p.link.mtu));
    json_object_set_new(link, "channels", json_integer(a->p.link.channels));
    json_object_set_new(link, "efficiency", json_real(ev->efficiency));
    json_object_set_new(link, "payload_bps", json_real(ev->payload_bytes_per_s));
    json_object_set_new(link, "stop_bps", json_real(ev->stop_bytes_per_s));
    json_object_set_new(link, "bound", json_string(co_link_bound_key(ev->bound)));
    json_object_set_new(j, "link", link);
    json_t *in = json_object();
    json_object_set_new(in, "mem_bytes", json_real(a->p.mem_bytes));
    json_object_set_new(in, "page_size_bytes", json_real(a->p.page_size_bytes));
    json_object_set_new(in, "dirty", json_string(a->dirty_spec));
    json_object_set_new(in, "downtime_limit_ms", json_real(a->p.downtime_limit_ms));
    json_object_set_new(in, "max_bandwidth_bps", json_real(a->p.link.max_bandwidth_bytes_per_s));
    json_object_set_new(in, "switchover_cost_ms", json_real(a->p.switchover_cost_ms));
    json_object_set_new(in, "auto_converge", json_boolean(a->p.auto_converge));
    json_object_set_new(j, "inputs", in);
    json_t *tl = json_array();
    for (int i = 0; i < r->timeline_len; i++) {
        const co_mig_pass *ps = &r->timeline[i];
        json_t *p = json_object();
        json_object_set_new(p, "pass", json_integer(ps->index));
        json_object_set_new(p, "start_ms", json_real(ps->start_ms));
        json_object_set_new(p, "end_ms", json_real(ps->end_ms));
        json_object_set_new(p, "sent_bytes", json_real(ps->sent_bytes));
        json_object_set_new(p, "pending_bytes", json_real(ps->pending_bytes));
        json_object_set_new(p, "throttle_pct", json_real(ps->throttle_pct));
        json_array_append_new(tl, p);
    }
    json_object_set_new(j, "timeline", tl);
    return j;
}

static void print_text(const co_model_args *a, const co_link_eval *ev, const co_mig_result *r)
{
    char b1[64], b2[64], b3[64];
    printf("VM        %s RAM, dirty %s\n", co_fmt_size(a->p.mem_bytes, b1, sizeof b1),
           a->dirty_spec);
    printf("link      %s line, MTU %d (%.1f%% payload), %d channel%s -> %s payload, "
           "bound by %s\n",
           co_fmt_rate(a->p.link.line_rate_bytes_per_s, b1, sizeof b1), a->p.link.mtu,
           100 * ev->efficiency, a->p.link.channels, a->p.link.channels == 1 ? "" : "s",
           co_fmt_rate(r->bandwidth_bps, b2, sizeof b2), co_link_bound_phrase(ev->bound));
    printf("QEMU      downtime-limit %s, mode %s%s\n",
           co_fmt_time(a->p.downtime_limit_ms, b1, sizeof b1), co_mig_mode_name(a->p.mode),
           a->p.auto_converge ? ", auto-converge" : "");
    printf("\n");
    if (r->converged && a->p.mode != CO_MODE_PRECOPY) {
        printf("switches to %s after %d pre-copy pass%s\n",
               a->p.mode == CO_MODE_PAUSE ? "pause-and-copy" : "post-copy", r->passes,
               r->passes == 1 ? "" : "es");
    } else if (r->converged) {
        printf("converges after %d pass%s (dirty-sync-count %d)\n", r->passes,
               r->passes == 1 ? "" : "es", r->dirty_sync_count);
    }
    if (r->converged) {
        printf("  total time      %s\n", co_fmt_time(r->total_time_ms, b1, sizeof b1));
        printf("  downtime        %s   (floor %s)\n", co_fmt_time(r->downtime_ms, b1, sizeof b1),
               co_fmt_time(r->downtime_floor_ms, b2, sizeof b2));
        if (r->postcopy_ms > 0)
            printf("  post-copy       %s with pages pulled from the source\n",
                   co_fmt_time(r->postcopy_ms, b1, sizeof b1));
        printf("  data sent       %s\n", co_fmt_size(r->transferred_bytes, b1, sizeof b1));
        if (r->final_throttle_pct > 0)
            printf("  throttle        %.0f%% at the end\n", r->final_throttle_pct);
    } else {
        printf("does NOT converge (%s) after %d passes, %s\n", co_noconv_name(r->noconv_reason),
               r->passes, co_fmt_time(r->total_time_ms, b1, sizeof b1));
        printf("  pending settles at %s, above the threshold %s (bandwidth x downtime-limit)\n",
               co_fmt_size(r->settle_pending_bytes, b1, sizeof b1),
               co_fmt_size(r->threshold_bytes, b2, sizeof b2));
        printf("  downtime floor  %s\n", co_fmt_time(r->downtime_floor_ms, b1, sizeof b1));
        printf("what would make it converge (each alone):\n");
        if (r->min_downtime_limit_ms > 0)
            printf("  --downtime-limit %s\n", co_fmt_time(r->min_downtime_limit_ms, b1, sizeof b1));
        if (r->min_throttle_pct >= 0)
            printf("  --throttle %.0f   (CPU throttle, or auto-converge reaching it)\n",
                   ceil(r->min_throttle_pct));
        if (r->min_bandwidth_bytes_per_s > 0)
            printf("  bandwidth %s%s\n", co_fmt_rate(r->min_bandwidth_bytes_per_s, b1, sizeof b1),
                   r->min_bandwidth_bytes_per_s > ev->payload_bytes_per_s
                       ? "   (more than this link carries)"
                       : "");
        printf("  or --mode postcopy / hybrid:1 (bounded downtime %s)\n",
               co_fmt_time(a->p.switchover_cost_ms, b3, sizeof b3));
    }
    printf("\n pass     start       end        sent     pending after sync\n");
    for (int i = 0; i < r->timeline_len; i++) {
        const co_mig_pass *ps = &r->timeline[i];
        /* the text view shows the first passes and the last; JSON has them all */
        if (i >= 10 && i < r->timeline_len - 2) {
            if (i == 10)
                printf("  ...\n");
            continue;
        }
        printf(" %4d %9s %9s %11s %11s\n", ps->index, co_fmt_time(ps->start_ms, b1, sizeof b1),
               co_fmt_time(ps->end_ms, b2, sizeof b2), co_fmt_size(ps->sent_bytes, b3, sizeof b3),
               co_fmt_size(ps->pending_bytes, (char[64]){0}, 64));
    }
}

int co_cmd_model(int argc, char **argv)
{
    co_model_args a;
    co_diag d;
    co_diag_init(&d);
    int rc = co_model_args_parse(argc, argv, 0, &a, &d);
    if (rc != CO_OK)
        return co_cli_fail("model", &d);
    if (a.help) {
        printf("usage: cutover model --mem SIZE [--dirty SPEC] [--link RATE] [--mtu N]\n"
               "                     [--channels N] [--downtime-limit TIME]\n"
               "                     [--max-bandwidth RATE] [options] [--json]\n\n"
               "Predict one live migration as QEMU 7.2 runs it: total time, downtime,\n"
               "data sent, passes, the downtime floor, and, when it does not converge,\n"
               "why and what would make it converge.\n\n%s",
               co_model_args_help());
        return 0;
    }
    co_link_eval ev;
    co_link_evaluate(&a.p.link, &ev);
    co_mig_result r;
    if (co_mig_advise(&a.p, &r) != CO_OK) {
        co_diag_set(&d, CO_EUSAGE, "inputs out of range");
        return co_cli_fail("model", &d);
    }
    if (a.json)
        return co_cli_emit_json(stdout, result_json(&a, &ev, &r));
    print_text(&a, &ev, &r);
    return 0;
}
