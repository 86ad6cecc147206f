/* evacuate/report.c: the evacuation report as JSON and as text. */
#include <math.h>
#include <string.h>

#include "evacuate/evacuate.h"
#include "engine/policy.h"

/* A number, or null when not known (NAN / infinite). */
static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *co_evac_split_json(const co_evac_split *sp)
{
    if (!isfinite(sp->first_byte_ms))
        return json_null();
    return json_pack("{s:f, s:f, s:f, s:i, s:f}", "first_byte_ms", sp->first_byte_ms,
                     "transfer_ms", sp->transfer_ms, "idle_ms", sp->idle_ms, "idle_gaps",
                     sp->idle_gaps, "longest_idle_ms", sp->longest_idle_ms);
}

json_t *co_evac_result_json(const co_evac *e, const co_evac_result *r)
{
    json_t *o = json_object();
    json_t *vms = json_array(), *blk = json_array();
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
    json_object_set_new(o, "total_time_ms", num_or_null(r->total_time_ms));
    json_object_set_new(o, "predicted_total_time_ms", json_real(e->pred_total_ms));
    /* the model's own time, and the factor the past drains gave it */
    json_object_set_new(o, "predicted_model_time_ms", json_real(e->pred_model_ms));
    json_object_set_new(o, "time_factor", e->time_factor > 0 ? json_real(e->time_factor)
                                                             : json_null());
    json_object_set_new(o, "time_factor_drains", json_integer(e->time_factor_n));
    /* the k whose own drains gave it (null: the newest drains, any k) */
    json_object_set_new(o, "time_factor_k",
                        e->time_factor_k > 0 ? json_integer(e->time_factor_k) : json_null());
    json_object_set_new(o, "predicted_within_budget", json_boolean(e->pred_within_budget));
    json_object_set_new(o, "concurrency", json_integer(e->k));
    json_object_set_new(o, "order", json_string(e->order_name));
    json_object_set_new(o, "max_downtime_ms", json_real(e->max_downtime_ms));
    json_object_set_new(o, "nic_bytes_per_s", json_real(e->nic_bytes_per_s));
    json_object_set_new(o, "nic_source", json_string(e->nic_source));
    json_object_set_new(o, "stream_cap_bytes_per_s", e->stream_cap_bytes_per_s > 0
                                                         ? json_real(e->stream_cap_bytes_per_s)
                                                         : json_null());
    json_object_set_new(o, "stream_cap_source", json_string(e->stream_cap_source));
    json_object_set_new(o, "predicted_misses", json_integer(e->pred_misses));
    /* the pre-copy floor: no schedule beats it on this NIC (evacuate.h) */
    if (e->floor.vms > 0) {
        json_t *fl = json_object();
        json_object_set_new(fl, "time_ms", num_or_null(e->floor.time_ms));
        json_object_set_new(fl, "bytes", json_real(e->floor.bytes));
        json_object_set_new(fl, "ram_bytes", json_real(e->floor.ram_bytes));
        json_object_set_new(fl, "payload_bytes_per_s", json_real(e->floor.payload_bytes_per_s));
        json_object_set_new(fl, "switchover_ms", json_real(e->floor.switchover_ms));
        json_object_set_new(fl, "vms", json_integer(e->floor.vms));
        json_object_set_new(fl, "throttled", json_integer(e->floor.throttled));
        json_object_set_new(fl, "at_ram", json_integer(e->floor.at_ram));
        json_object_set_new(o, "floor", fl);
    } else {
        json_object_set_new(o, "floor", json_null());
    }
    /* where the plan's knowledge came from, and what this drain learnt */
    json_object_set_new(o, "calibration", e->calib_source[0] ? json_string(e->calib_source)
                                                             : json_null());
    json_object_set_new(o, "setup_ms", e->setup_ms > 0 ? json_real(e->setup_ms) : json_null());
    json_object_set_new(o, "max_concurrency", e->k_cap > 0 ? json_integer(e->k_cap) : json_null());
    json_object_set_new(o, "early_starts", json_integer(e->early_starts));
    json_object_set_new(o, "held_starts", json_integer(e->held_starts));
    /* why early starts stopped mid-drain (co_evac_note_early_miss), null if not */
    json_object_set_new(o, "early_starts_stopped_why",
                        e->early_stop_why[0] ? json_string(e->early_stop_why) : json_null());
    json_object_set_new(o, "probe_bytes_per_s",
                        e->probe_bytes_per_s > 0 ? json_real(e->probe_bytes_per_s) : json_null());
    json_object_set_new(o, "pulled_back", json_integer(e->pulled_back));
    if (e->k_cap > 0)
        json_object_set_new(o, "max_concurrency_why", json_string(e->k_cap_why));
    /* the tally's refusal (co_evac_tally_cap), null when it refused none */
    json_object_set_new(o, "concurrency_tally_why",
                        e->tally_why[0] ? json_string(e->tally_why) : json_null());
    /* where the time went (co_evac_time_split), null in a dry run or when
     * no migration sent */
    json_object_set_new(o, "time_split",
                        r->dry_run ? json_null() : co_evac_split_json(&e->split));
    if (!r->dry_run)
        json_object_set_new(o, "learned", co_evac_calib_json(e));
    for (int i = 0; i < e->nvms; i++) {
        const co_evac_vm *v = &e->vms[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(v->name));
        json_object_set_new(j, "status", json_string(v->status));
        json_object_set_new(j, "to", v->to[0] ? json_string(v->to) : json_null());
        json_object_set_new(j, "order", v->order >= 0 ? json_integer(v->order) : json_null());
        json_object_set_new(j, "batch", v->batch >= 0 ? json_integer(v->batch) : json_null());
        json_object_set_new(j, "downtime_ms", r->dry_run ? json_null() : num_or_null(v->downtime_ms));
        json_object_set_new(j, "time_ms", r->dry_run ? json_null() : num_or_null(v->time_ms));
        /* its last attempt's start and first byte, from the drain's start */
        json_object_set_new(j, "started_ms", r->dry_run ? json_null() : num_or_null(v->started_ms));
        /* its set-up (libvirt's and QEMU's) apart from the hold's wait
         * after it: the first byte is their end */
        json_object_set_new(j, "setup_ms", r->dry_run ? json_null()
                                           : num_or_null(v->setup_ms));
        json_object_set_new(j, "held_ms", r->dry_run ? json_null() : num_or_null(v->held_ms));
        json_object_set_new(j, "first_byte_ms", r->dry_run ? json_null()
                                                : num_or_null(v->first_byte_ms));
        json_object_set_new(j, "predicted_start_ms", num_or_null(v->pred_start_ms));
        json_object_set_new(j, "predicted_time_ms", num_or_null(v->pred_time_ms));
        json_object_set_new(j, "predicted_downtime_ms", num_or_null(v->pred_downtime_ms));
        /* the plan runs such VMs one at a time (evacuate/plan.c) */
        json_object_set_new(j, "needs_own_stream", json_boolean(v->solo));
        json_object_set_new(j, "mem_bytes", json_real(v->mem_bytes));
        json_object_set_new(j, "vcpus", json_integer(v->vcpus));
        json_object_set_new(j, "dirty_mib_per_s", json_real(v->dirty_mib_per_s));
        json_object_set_new(j, "dirty_measured", json_boolean(v->dirty_measured));
        json_object_set_new(j, "dirty_factor", json_real(v->nominal_saved ? v->dirty_factor : 1));
        json_object_set_new(j, "dirty_factor_source", json_string(v->nominal_saved &&
                                                                  v->dirty_factor_source[0]
                                                                  ? v->dirty_factor_source
                                                                  : "as given"));
        json_object_set_new(j, "dirty_seen_factor", v->nwin > 0 ? num_or_null(v->seen_factor)
                                                                : json_null());
        /* its sending time (first byte to end) now, and in its last drain
         * (the calibration: it times a VM the model under-times by more
         * than a set-up, and makes it need a stream of its own; plan.c) */
        json_object_set_new(j, "send_ms", r->dry_run || !(v->send_ms > 0)
                                              ? json_null() : json_real(v->send_ms));
        json_object_set_new(j, "last_send_ms", v->last_send_ms > 0 ? json_real(v->last_send_ms)
                                                                   : json_null());
        json_object_set_new(j, "last_aborted", json_boolean(v->last_aborted));
        json_object_set_new(j, "last_throttle_pct", v->last_throttle_pct > 0
                                                        ? json_real(v->last_throttle_pct)
                                                        : json_null());
        json_object_set_new(j, "dirty_source", json_string(v->dirty_traced ? "trace"
                                                           : v->dirty_measured ? "measured"
                                                                               : "assumed"));
        json_object_set_new(j, "reason", v->reason[0] ? json_string(v->reason)
                                         : v->blocker[0] ? json_string(v->blocker) : json_null());
        json_array_append_new(vms, j);
        if (v->blocker[0]) {
            json_t *b = json_object();
            json_object_set_new(b, "name", json_string(v->name));
            json_object_set_new(b, "reason", json_string(v->blocker));
            json_array_append_new(blk, b);
        }
    }
    json_object_set_new(o, "vms", vms);
    json_object_set_new(o, "blockers", blk);
    return o;
}

static void ms_text(FILE *out, double ms)
{
    if (!isfinite(ms))
        fprintf(out, "%10s", "-");
    else if (ms >= 10e3)
        fprintf(out, "%9.1fs", ms / 1e3);
    else
        fprintf(out, "%8.0fms", ms);
}

void co_evac_result_text(const co_evac *e, const co_evac_result *r, FILE *out)
{
    fprintf(out, "evacuation %s: %d VM(s), %d at once, order %s; NIC %.0f Mbit/s (%s); "
                 "budget %.0f ms\n",
            r->status, e->nvms, e->k, e->order_name, e->nic_bytes_per_s * 8 / 1e6, e->nic_source,
            e->max_downtime_ms);
    if (e->stream_cap_bytes_per_s > 0)
        fprintf(out, "one stream carries at most %.0f Mbit/s (%s)\n",
                e->stream_cap_bytes_per_s * 8 / 1e6,
                e->stream_cap_source[0] ? e->stream_cap_source : "given");
    fprintf(out, "predicted total %.1f s%s", e->pred_total_ms / 1e3,
            e->pred_within_budget ? "" : " (some VM predicted over the budget)");
    if (!r->dry_run && isfinite(r->total_time_ms))
        fprintf(out, ", measured %.1f s", r->total_time_ms / 1e3);
    if (!r->dry_run && isfinite(r->total_time_ms) && isfinite(e->split.first_byte_ms))
        fprintf(out, "\n  where it went: %.1f s to the first byte (the first set-up), %.1f s with "
                "a migration in transfer, %.1f s with none (%d gap(s), longest %.1f s)",
                e->split.first_byte_ms / 1e3, e->split.transfer_ms / 1e3, e->split.idle_ms / 1e3,
                e->split.idle_gaps, e->split.longest_idle_ms / 1e3);
    if (e->time_factor > 0) {
        char at_k[32] = ""; /* the chosen k's own drains gave it */
        if (e->time_factor_k > 0)
            snprintf(at_k, sizeof at_k, " at %d at once", e->time_factor_k);
        fprintf(out, "\n  the model's %.1f s x %.2f: what the last %d drain(s) of these VMs%s took "
                     "over the model's time for their schedules (calibration)",
                e->pred_model_ms / 1e3, e->time_factor, e->time_factor_n, at_k);
    }
    if (e->floor.vms > 0 && isfinite(e->floor.time_ms) && e->floor.ram_bytes > 0) {
        fprintf(out, "\n  pre-copy floor %.1f s: %.0f MB (%.2f x the RAM) at the NIC's %.0f "
                     "Mbit/s of payload, each VM alone, set-ups not counted",
                e->floor.time_ms / 1e3, e->floor.bytes / 1e6,
                e->floor.bytes / e->floor.ram_bytes, e->floor.payload_bytes_per_s * 8 / 1e6);
        if (e->floor.throttled || e->floor.at_ram)
            fprintf(out, " (%d counted throttled, %d at their RAM)", e->floor.throttled,
                    e->floor.at_ram);
    }
    /* setup: its start to QEMU's first byte; held: the hold's wait after
     * it (the JSON's setup_ms, held_ms) */
    fprintf(out, "\n%-20s %-11s %5s %5s %10s %10s %10s %10s %10s %10s  %s\n", "vm", "status",
            "order", "batch", "pred-time", "pred-down", "time", "downtime", "setup", "held",
            "to / reason");
    for (int i = 0; i < e->nvms; i++) {
        const co_evac_vm *v = &e->vms[i];
        fprintf(out, "%-20.20s %-11s ", v->name, v->status);
        if (v->order >= 0)
            fprintf(out, "%5d %5d ", v->order + 1, v->batch);
        else
            fprintf(out, "%5s %5s ", "-", "-");
        ms_text(out, v->pred_time_ms);
        fputc(' ', out);
        ms_text(out, v->pred_downtime_ms);
        fputc(' ', out);
        ms_text(out, r->dry_run ? NAN : v->time_ms);
        fputc(' ', out);
        ms_text(out, r->dry_run ? NAN : v->downtime_ms);
        fputc(' ', out);
        ms_text(out, r->dry_run ? NAN : v->setup_ms);
        fputc(' ', out);
        ms_text(out, r->dry_run || !(v->held_ms > 0) ? NAN : v->held_ms);
        fprintf(out, "  %s%s%s\n", v->to, v->to[0] && (v->reason[0] || v->blocker[0]) ? ": " : "",
                v->reason[0] ? v->reason : v->blocker);
    }
    if (e->calib_source[0])
        fprintf(out, "calibration: %s\n", e->calib_source);
    if (e->calib_source[0] || e->learn_obs)
        for (int i = 0; i < e->nvms; i++) {
            const co_evac_vm *v = &e->vms[i];
            if (v->nominal_saved && v->dirty_factor_source[0])
                fprintf(out, "  %s dirties at %.2f x its curve (%s)\n", v->name, v->dirty_factor,
                        v->dirty_factor_source);
            if (v->last_send_ms > 0)
                fprintf(out, "  %s sent for %.1f s in its last drain%s (calibration)\n", v->name,
                        v->last_send_ms / 1e3,
                        v->last_aborted ? ", then the policy aborted it (not converging within "
                                          "the budget: see --allow)"
                                        : "");
            if (co_pol_ramp_start(v->last_throttle_pct) > 0)
                fprintf(out, "  %s: QEMU's throttle reached %.0f%% in its last drain; libvirt's "
                             "ramp starts near there (calibration)\n",
                        v->name, v->last_throttle_pct);
        }
    if (e->k_cap > 0)
        fprintf(out, "at most %d at once (%s)\n", e->k_cap, e->k_cap_why);
    if (e->tally_why[0])
        fprintf(out, "not %s (the switchover tally)\n", e->tally_why);
    if (e->setup_ms > 0)
        fprintf(out, "libvirt's part of each migration: %.1f s (%s)%s\n", e->setup_ms / 1e3,
                e->setup_n ? "measured" : "calibration",
                e->concurrency > 0 || e->no_early_start
                    ? "" : "; the next VM starts it while one ends its transfer");
    if (!r->dry_run && e->pulled_back)
        fprintf(out, "pulled back: %d migration(s) cancelled to let the others converge, each "
                "gone again\n", e->pulled_back);
    int nmove = 0;
    for (int i = 0; i < e->nvms; i++)
        nmove += e->vms[i].dest >= 0;
    if (r->dry_run && co_evac_probes(e, nmove))
        fprintf(out, "solo probe: the first VM goes alone (what one stream carries is not "
                "known yet), then %d at once\n", e->k);
    if (!r->dry_run && e->probe_bytes_per_s > 0)
        fprintf(out, "solo probe: the first VM went alone; its stream carried %.0f Mbit/s\n",
                e->probe_bytes_per_s * 8 / 1e6);
    if (!r->dry_run && e->early_starts)
        fprintf(out, "early starts: %d VM(s) started their set-up while others ended\n",
                e->early_starts);
    if (!r->dry_run && e->early_stop_why[0])
        fprintf(out, "early starts stopped: %s\n", e->early_stop_why);
    if (!r->dry_run && e->held_starts)
        fprintf(out, "held: %d VM(s) waited at 1 MiB/s for the transfers before them to end "
                "(one transfer at a time)\n", e->held_starts);
    int nb = 0;
    for (int i = 0; i < e->nvms; i++)
        nb += e->vms[i].blocker[0] != '\0';
    if (nb) {
        fprintf(out, "blockers:\n");
        for (int i = 0; i < e->nvms; i++)
            if (e->vms[i].blocker[0])
                fprintf(out, "  %s: %s\n", e->vms[i].name, e->vms[i].blocker);
    }
    int measured = 0, traced = 0;
    for (int i = 0; i < e->nvms; i++) {
        measured += e->vms[i].dirty_measured;
        traced += e->vms[i].dirty_traced;
    }
    if (traced)
        fprintf(out, "note: dirty curves of %d VM(s) from recorded traces\n", traced);
    if (measured + traced < e->nvms)
        fprintf(out, "note: dirty rate assumed %.0f MiB/s for %d VM(s) not measured\n",
                e->default_dirty_mib_per_s, e->nvms - measured - traced);
}
