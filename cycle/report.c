/* cycle/report.c: the cycle's report and timeline, both views of the
 * journal's records (cycle/cyc_int.h), under simulate's names where it has
 * them (docs/cycle.md, "Report"). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cycle/cyc_int.h"
#include "cycle/preflight.h"
#include "util/error.h"

static int is_ev(json_t *r, const char *ev)
{
    const char *e = json_string_value(json_object_get(r, "ev"));
    return e && !strcmp(e, ev);
}

static const char *sget(json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    return s ? s : "";
}

/* Build the report from records (y may be NULL: from a journal alone). */
static json_t *report_of(json_t *recs, const co_cyc *y)
{
    json_t *j = json_object(), *first = json_array_get(recs, 0);
    double t0 = json_number_value(json_object_get(first, "t_ms"));
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    const char *status = y ? y->status : "running";
    double window_ms = json_number_value(json_object_get(last, "t_ms")) - t0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
        if (is_ev(r, "cycle_end")) {
            status = sget(r, "status");
            window_ms = json_number_value(json_object_get(r, "window_ms"));
        }
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "window_s", json_real(window_ms / 1e3));
    /* hosts, in the cycle's order */
    json_t *hosts = json_array(), *byname = json_object();
    json_t *order = json_object_get(first, "hosts");
    json_t *hn;
    json_array_foreach(order, i, hn) {
        json_t *h = json_pack("{s:s, s:s, s:o, s:f, s:i}", "name", json_string_value(hn),
                              "state", "untouched", "steps_ms", json_object(), "stun_ms", 0.0,
                              "vms_moved", 0);
        if (y) {
            for (int k = 0; k < y->c->nhosts; k++)
                if (!strcmp(y->c->hosts[k].name, json_string_value(hn)))
                    json_object_set_new(h, "canary", json_boolean(y->phase[k] == 0));
        }
        json_object_set_new(h, "firmware", json_string("not reached"));
        json_array_append_new(hosts, h);
        json_object_set(byname, json_string_value(hn), h);
    }
    json_t *vms = json_object(), *outages = json_array(), *aborts = json_array();
    json_t *homes = json_object_get(first, "vms");
    const char *vn;
    json_t *hv;
    json_object_foreach(homes, vn, hv)
        json_object_set_new(vms, vn, json_pack("{s:s, s:O, s:f, s:i, s:O, s:f}", "name", vn,
                                               "host", hv, "stun_ms", 0.0, "migrations", 0,
                                               "now_on", hv, "bytes", 0.0));
    json_array_foreach(recs, i, r) {
        json_t *h = json_object_get(byname, sget(r, "host"));
        if (is_ev(r, "step_start") && h)
            json_object_set_new(h, "state", json_string(sget(r, "step")));
        if (is_ev(r, "step_end") && h) {
            const char *st = sget(r, "step");
            json_t *steps = json_object_get(h, "steps_ms");
            double prev = json_number_value(json_object_get(steps, st));
            json_object_set_new(steps, st, json_real(
                prev + json_number_value(json_object_get(r, "duration_ms"))));
            if (!strcmp(st, "firmware"))
                json_object_set_new(h, "firmware", json_string(
                    json_object_get(r, "skipped") ? "not configured"
                    : json_is_true(json_object_get(r, "ok")) ? "done" : "failed"));
            if (!json_is_true(json_object_get(r, "ok"))) {
                json_object_set_new(h, "state", json_sprintf("failed at %s", st));
                json_object_set(h, "error", json_object_get(r, "error"));
            } else if (!strcmp(st, "enter_maintenance"))
                json_object_set_new(h, "state", json_string("in maintenance"));
            if (!strcmp(st, "validate") && json_object_get(r, "version_check"))
                json_object_set(h, "version_check", json_object_get(r, "version_check"));
            if (!strcmp(st, "preflight") && json_object_get(r, "version"))
                json_object_set(h, "version", json_object_get(r, "version"));
            if (!strcmp(st, "preflight") && json_object_get(r, "mtu_path"))
                json_object_set(h, "mtu_path", json_object_get(r, "mtu_path"));
            if (!strcmp(st, "preflight") && json_object_get(r, "clock"))
                json_object_set(h, "clock", json_object_get(r, "clock"));
            if (!strcmp(st, "preflight") && json_object_get(r, "scratch"))
                json_object_set(h, "scratch", json_object_get(r, "scratch"));
        }
        if (is_ev(r, "host_end") && h) {
            int ok = json_is_true(json_object_get(r, "ok"));
            json_object_set_new(h, "state", json_string(ok ? "done" : "failed"));
            if (!ok)
                json_object_set(h, "error", json_object_get(r, "reason"));
            else /* a failure the resumed run got past is not the host's error */
                json_object_del(h, "error");
        }
        if (is_ev(r, "mig_end")) {
            json_t *v = json_object_get(vms, sget(r, "vm"));
            double dt = json_number_value(json_object_get(r, "downtime_ms"));
            int done = !strcmp(sget(r, "status"), "completed");
            /* the data sent, completed or not (null: unknown, reconciled) */
            if (v && json_is_number(json_object_get(r, "bytes")))
                json_object_set_new(v, "bytes", json_real(
                    json_number_value(json_object_get(v, "bytes")) +
                    json_number_value(json_object_get(r, "bytes"))));
            if (v && done) {
                json_object_set_new(v, "stun_ms", json_real(
                    json_number_value(json_object_get(v, "stun_ms")) + dt));
                json_object_set_new(v, "migrations", json_integer(
                    json_integer_value(json_object_get(v, "migrations")) + 1));
                json_object_set(v, "now_on", json_object_get(r, "to"));
            }
            json_t *src = json_object_get(byname, sget(r, "from"));
            if (src && done && !strcmp(sget(r, "purpose"), "evacuate")) {
                json_object_set_new(src, "stun_ms", json_real(
                    json_number_value(json_object_get(src, "stun_ms")) + dt));
                json_object_set_new(src, "vms_moved", json_integer(
                    json_integer_value(json_object_get(src, "vms_moved")) + 1));
            }
            if (!done)
                json_array_append_new(aborts, json_pack(
                    "{s:s, s:s, s:s, s:s, s:s, s:O*}", "vm", sget(r, "vm"), "from",
                    sget(r, "from"), "to", sget(r, "to"), "status", sget(r, "status"), "purpose",
                    sget(r, "purpose"), "error", json_object_get(r, "error")));
        }
        if (is_ev(r, "vm_outage")) {
            json_t *o = json_deep_copy(r);
            json_object_del(o, "ev");
            json_object_del(o, "seq");
            json_array_append_new(outages, o);
            json_t *v = json_object_get(vms, sget(r, "vm"));
            if (v && !strcmp(sget(r, "action"), "start"))
                json_object_set(v, "now_on", json_object_get(r, "host"));
        }
    }
    json_object_set_new(j, "hosts", hosts);
    json_t *va = json_array();
    json_object_foreach(vms, vn, hv)
        json_array_append(va, hv);
    json_decref(vms);
    json_object_set_new(j, "vms", va);
    json_object_set_new(j, "outages", outages);
    json_object_set_new(j, "aborts", aborts);
    json_decref(byname);
    return j;
}

static json_t *forecast_json(const co_cyc *y)
{
    const co_sim_summary *s = &y->fc;
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "runs", s->runs, "window_p50_s",
                     s->window.p50 / 1e3, "window_p90_s", s->window.p90 / 1e3, "window_max_s",
                     s->window.max / 1e3, "stun_p50_ms", s->stun.p50, "stun_p99_ms", s->stun.p99,
                     "stun_max_ms", s->stun.max);
}

json_t *co_cyc_report_json(const co_cyc *y)
{
    json_t *j;
    if (y->plan)
        j = json_deep_copy(y->plan);
    else if (json_array_size(y->recs) > 0)
        j = report_of(y->recs, y);
    else
        j = json_pack("{s:s, s:n, s:[], s:[], s:[], s:[]}", "status", y->status, "window_s",
                      "hosts", "vms", "outages", "aborts");
    if (!j)
        return NULL;
    if (y->reason[0])
        json_object_set_new(j, "reason", json_string(y->reason));
    json_object_set_new(j, "file", json_string(y->o.file));
    if (y->o.journal_path)
        json_object_set_new(j, "journal", json_string(y->o.journal_path));
    json_object_set_new(j, "stun_budget_ms", json_real(y->budget_ms));
    json_object_set_new(j, "notes", json_copy(y->notes));
    if (co_pf_mtu_unchecked(y->c))
        json_array_append_new(json_object_get(j, "notes"),
                              json_sprintf("MTU path: %s", co_pf_mtu_unchecked(y->c)));
    if (y->have_fc)
        json_object_set_new(j, "forecast", forecast_json(y));
    return j;
}

static void text_plan(const co_cyc *y, json_t *p, FILE *out)
{
    fprintf(out, "cycle plan for %s: %zu host(s), canaries first, then failure domain by "
            "failure domain; hosts in maintenance at once: %lld (this version runs them one "
            "after another)\n", y->o.file, json_array_size(json_object_get(p, "hosts")),
            json_integer_value(json_object_get(p, "max_hosts_in_maintenance")));
    size_t i, k;
    json_t *h, *v;
    json_array_foreach(json_object_get(p, "hosts"), i, h) {
        fprintf(out, "\n%zu. %s%s  %s  %s\n", i + 1, sget(h, "name"),
                json_is_true(json_object_get(h, "canary")) ? " (canary)" : "", sget(h, "uri"),
                json_is_true(json_object_get(h, "reachable")) ? sget(h, "version")
                                                              : "UNREACHABLE");
        if (json_object_get(h, "error"))
            fprintf(out, "   error: %s\n", sget(h, "error"));
        if (!json_is_true(json_object_get(h, "reachable")))
            continue;
        fprintf(out, "   evacuation: %zu VM(s), %lld at once, predicted %.1f s\n",
                json_array_size(json_object_get(h, "vms")),
                json_integer_value(json_object_get(h, "concurrency")),
                json_number_value(json_object_get(h, "predicted_evacuation_ms")) / 1e3);
        json_array_foreach(json_object_get(h, "vms"), k, v) {
            if (json_object_get(v, "blocker"))
                fprintf(out, "   %-16s BLOCKED: %s -> %s\n", sget(v, "name"), sget(v, "blocker"),
                        sget(v, "handling"));
            else
                fprintf(out, "   %-16s -> %-8s time %6.1f s  downtime %6.0f ms\n",
                        sget(v, "name"), sget(v, "to"),
                        json_number_value(json_object_get(v, "predicted_time_ms")) / 1e3,
                        json_number_value(json_object_get(v, "predicted_downtime_ms")));
        }
        co_pf_mtu_text(json_object_get(h, "mtu_path"), "   ", out);
        co_pf_probe_text("clock", json_object_get(h, "clock"), "   ", out);
        co_pf_probe_text("scratch", json_object_get(h, "scratch"), "   ", out);
    }
    fprintf(out, "\nhooks:");
    const char *key;
    json_object_foreach(json_object_get(p, "hooks"), key, v)
        fprintf(out, " %s=%s", key, json_is_null(v) ? "-" : "yes");
    fprintf(out, "\nfirmware: %s\n", sget(p, "firmware"));
}

void co_cyc_report_text(const co_cyc *y, FILE *out)
{
    json_t *j = co_cyc_report_json(y);
    if (!j)
        return;
    if (y->plan)
        text_plan(y, j, out);
    else {
        fprintf(out, "cycle %s: %s, window %.1f s\n", y->o.file, sget(j, "status"),
                json_number_value(json_object_get(j, "window_s")));
        if (y->reason[0])
            fprintf(out, "reason: %s\n", y->reason);
        size_t i;
        json_t *h, *v;
        fprintf(out, "\n%-6s %-24s %9s %9s %9s %9s %9s %6s %10s  %s\n", "host", "state", "evac s",
                "patch s", "reboot s", "valid s", "rebal s", "vms", "stun ms", "firmware");
        json_array_foreach(json_object_get(j, "hosts"), i, h) {
            json_t *st = json_object_get(h, "steps_ms");
#define STEP_S(n) (json_number_value(json_object_get(st, n)) / 1e3)
            fprintf(out, "%-6s %-24.24s %9.1f %9.1f %9.1f %9.1f %9.1f %6lld %10.0f  %s\n",
                    sget(h, "name"), sget(h, "state"), STEP_S("evacuate"), STEP_S("apply"),
                    STEP_S("reboot") + STEP_S("firmware_reboot"), STEP_S("validate"),
                    STEP_S("rebalance"), json_integer_value(json_object_get(h, "vms_moved")),
                    json_number_value(json_object_get(h, "stun_ms")), sget(h, "firmware"));
#undef STEP_S
        }
        fprintf(out, "\n%-16s %-6s %-6s %5s %10s %10s\n", "vm", "home", "now", "migr",
                "stun ms", "sent MiB");
        json_array_foreach(json_object_get(j, "vms"), i, v)
            fprintf(out, "%-16s %-6s %-6s %5lld %10.0f %10.1f\n", sget(v, "name"),
                    sget(v, "host"), sget(v, "now_on"),
                    json_integer_value(json_object_get(v, "migrations")),
                    json_number_value(json_object_get(v, "stun_ms")),
                    json_number_value(json_object_get(v, "bytes")) / 1048576.0);
        json_array_foreach(json_object_get(j, "outages"), i, v)
            fprintf(out, "outage: %s %s on %s (%s)\n", sget(v, "vm"), sget(v, "action"),
                    sget(v, "host"), sget(v, "reason"));
        json_array_foreach(json_object_get(j, "aborts"), i, v)
            fprintf(out, "abort: %s %s -> %s %s: %s\n", sget(v, "vm"), sget(v, "from"),
                    sget(v, "to"), sget(v, "status"), sget(v, "error"));
    }
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(j, "notes"), i, n)
        fprintf(out, "note: %s\n", json_string_value(n));
    if (y->have_fc) {
        json_t *w = json_object_get(j, "window_s");
        fprintf(out, "\nforecast (%d simulate runs) vs actual:\n", y->fc.runs);
        fprintf(out, "  window      p50 %8.1f s   p90 %8.1f s   actual %s%.1f s\n",
                y->fc.window.p50 / 1e3, y->fc.window.p90 / 1e3, json_is_number(w) ? "" : "-",
                json_number_value(w));
        double maxstun = 0;
        json_t *v;
        json_array_foreach(json_object_get(j, "vms"), i, v) {
            double s = json_number_value(json_object_get(v, "stun_ms"));
            maxstun = s > maxstun ? s : maxstun;
        }
        fprintf(out, "  stun/VM     p50 %8.0f ms  p99 %8.0f ms  actual max %.0f ms\n",
                y->fc.stun.p50, y->fc.stun.p99, maxstun);
    }
    json_decref(j);
}

/* ---- the timeline ---- */

int co_cyc_journal_timeline(const char *journal_path, FILE *csv, co_diag *d)
{
    json_t *recs = NULL;
    int torn = 0;
    int rc = co_jrn_read(journal_path, &recs, &torn, d);
    if (rc != CO_OK)
        return rc;
    json_t *first = json_array_get(recs, 0);
    if (!is_ev(first, "cycle_start")) {
        json_decref(recs);
        return co_diag_set(d, CO_EDATA, "%s: no cycle_start record: not a cycle journal",
                           journal_path);
    }
    double t0 = json_number_value(json_object_get(first, "t_ms"));
    fprintf(csv, "kind,host,what,vm,start_s,end_s,stun_ms\n");
    size_t i, k;
    json_t *r, *s;
    json_array_foreach(recs, i, r) {
        double t = json_number_value(json_object_get(r, "t_ms"));
        if (is_ev(r, "step_end") && json_object_get(r, "host") &&
            !json_is_null(json_object_get(r, "host"))) {
            double dur = json_number_value(json_object_get(r, "duration_ms"));
            fprintf(csv, "step,%s,%s,,%.6f,%.6f,0.000\n", sget(r, "host"), sget(r, "step"),
                    (t - dur - t0) / 1e3, (t - t0) / 1e3);
        } else if (is_ev(r, "mig_end")) {
            /* its start: the last mig_start of the VM before it */
            double ts = t;
            for (k = 0; k < i; k++) {
                s = json_array_get(recs, k);
                if (is_ev(s, "mig_start") && !strcmp(sget(s, "vm"), sget(r, "vm")))
                    ts = json_number_value(json_object_get(s, "t_ms"));
            }
            int done = !strcmp(sget(r, "status"), "completed");
            fprintf(csv, "migration,%s,%s,%s,%.6f,%.6f,%.3f\n", sget(r, "from"),
                    done ? sget(r, "to") : "aborted", sget(r, "vm"), (ts - t0) / 1e3,
                    (t - t0) / 1e3, done ? json_number_value(json_object_get(r, "downtime_ms"))
                                         : 0.0);
        } else if (is_ev(r, "vm_outage") && !strcmp(sget(r, "action"), "start")) {
            double ts = t;
            for (k = 0; k < i; k++) {
                s = json_array_get(recs, k);
                if (is_ev(s, "vm_outage") && !strcmp(sget(s, "vm"), sget(r, "vm")) &&
                    !strcmp(sget(s, "action"), "shutdown"))
                    ts = json_number_value(json_object_get(s, "t_ms"));
            }
            fprintf(csv, "outage,%s,off,%s,%.6f,%.6f,0.000\n", sget(r, "host"), sget(r, "vm"),
                    (ts - t0) / 1e3, (t - t0) / 1e3);
        }
    }
    json_decref(recs);
    return fflush(csv) == 0 && !ferror(csv) ? CO_OK
                                            : co_diag_set(d, CO_EIO, "writing the timeline");
}
