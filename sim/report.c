/* sim/report.c: JSON and text views of a summary, timeline CSV. */
#include "sim/report.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static json_t *quant(const co_sim_quant *q, const char *unit)
{
    char k[5][32];
    snprintf(k[0], sizeof k[0], "p50_%s", unit);
    snprintf(k[1], sizeof k[1], "p90_%s", unit);
    snprintf(k[2], sizeof k[2], "p99_%s", unit);
    snprintf(k[3], sizeof k[3], "max_%s", unit);
    snprintf(k[4], sizeof k[4], "mean_%s", unit);
    json_t *o = json_object();
    json_object_set_new(o, k[0], json_real(q->p50));
    json_object_set_new(o, k[1], json_real(q->p90));
    json_object_set_new(o, k[2], json_real(q->p99));
    json_object_set_new(o, k[3], json_real(q->max));
    if (q->mean > 0)
        json_object_set_new(o, k[4], json_real(q->mean));
    json_object_set_new(o, "samples", json_integer(q->n));
    return o;
}

struct over {
    int vm, runs;
};

static int cmp_over(const void *a, const void *b)
{
    const struct over *x = a, *y = b;
    if (x->runs != y->runs)
        return y->runs - x->runs;
    return x->vm - y->vm;
}

json_t *co_sim_summary_json(const co_sim_cluster *c, const co_sim_summary *s)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "cluster", json_string(c->source ? c->source : "(built in code)"));
    json_object_set_new(j, "hosts", json_integer(c->nhosts));
    json_object_set_new(j, "hosts_patched", json_integer(c->plan.nhosts));
    json_object_set_new(j, "vms", json_integer(c->nvms));
    json_object_set_new(j, "runs", json_integer(s->runs));
    json_object_set_new(j, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(j, "concurrency",
                        json_pack("{s:s, s:i, s:b, s:i, s:i}", "preset", c->plan.preset,
                                  "per_host", c->plan.per_host, "count_incoming",
                                  c->plan.count_incoming, "per_cluster", c->plan.per_cluster,
                                  "hosts_in_maintenance", c->plan.max_in_maint));

    json_t *w = quant(&s->window, "s");
    /* the figures are kept in ms; the window reads better in seconds */
    json_object_set_new(w, "p50_s", json_real(s->window.p50 / 1e3));
    json_object_set_new(w, "p90_s", json_real(s->window.p90 / 1e3));
    json_object_set_new(w, "p99_s", json_real(s->window.p99 / 1e3));
    json_object_set_new(w, "max_s", json_real(s->window.max / 1e3));
    json_object_set_new(w, "mean_s", json_real(s->window.mean / 1e3));
    json_object_set_new(w, "min_s", json_real(s->window_min_ms / 1e3));
    json_t *h = json_array();
    for (int b = 0; b < s->hist_bins; b++)
        json_array_append_new(h, json_pack("{s:f, s:f, s:I}", "from_s",
                                           (s->hist_lo_ms + b * s->hist_width_ms) / 1e3, "to_s",
                                           (s->hist_lo_ms + (b + 1) * s->hist_width_ms) / 1e3,
                                           "runs", (json_int_t)s->hist[b]));
    json_object_set_new(w, "histogram", h);
    json_object_set_new(j, "window", w);

    json_t *st = quant(&s->stun, "ms");
    json_object_set_new(st, "budget_ms", json_real(s->stun_budget_ms));
    json_object_set_new(st, "vms_over_budget_mean", json_real(s->over_budget_mean));
    struct over *ov = calloc((size_t)c->nvms + 1, sizeof *ov);
    int nov = 0;
    for (int v = 0; ov && v < c->nvms; v++)
        if (s->over_budget_runs[v] > 0)
            ov[nov++] = (struct over){v, s->over_budget_runs[v]};
    if (ov)
        qsort(ov, (size_t)nov, sizeof *ov, cmp_over);
    json_t *top = json_array();
    for (int i = 0; i < nov && i < 10; i++)
        json_array_append_new(top, json_pack("{s:s, s:f}", "vm", c->vms[ov[i].vm].name,
                                             "share_of_runs", (double)ov[i].runs / s->runs));
    free(ov);
    json_object_set_new(st, "vms_over_budget", json_integer(nov));
    json_object_set_new(st, "worst", top);
    json_object_set_new(j, "stun_per_vm", st);

    json_t *ou = quant(&s->outage, "ms");
    json_object_set_new(ou, "vms_per_run_mean", json_real(s->outage_vms_mean));
    json_object_set_new(j, "outage_per_vm", ou);

    json_t *m = json_object();
    json_object_set_new(m, "failed_hosts", json_integer(s->mttr_n));
    if (s->mttr_n > 0) {
        json_object_set_new(m, "mean_s", json_real(s->mttr_mean_ms / 1e3));
        json_object_set_new(m, "ci95_lo_s", json_real(s->mttr_ci_lo_ms / 1e3));
        json_object_set_new(m, "ci95_hi_s", json_real(s->mttr_ci_hi_ms / 1e3));
    }
    json_object_set_new(j, "mttr", m);

    json_t *per = json_object();
    json_object_set_new(per, "host_hours_in_maintenance", json_real(s->host_hours_mean));
    json_object_set_new(per, "live_migrations", json_real(s->migrations_mean));
    json_object_set_new(per, "migration_aborts", json_real(s->aborts_mean));
    json_object_set_new(per, "cold_migrations", json_real(s->cold_mean));
    json_object_set_new(per, "vms_kept_off", json_real(s->parked_mean));
    json_object_set_new(per, "patch_failures", json_real(s->patch_failures_mean));
    json_object_set_new(per, "hosts_not_returning", json_real(s->hosts_failed_mean));
    json_object_set_new(j, "per_run_mean", per);
    json_object_set_new(j, "events", json_integer(s->events));
    return j;
}

static double num(json_t *o, const char *path)
{
    /* path "a.b": two levels at most here */
    char k[64];
    const char *dot = strchr(path, '.');
    if (dot) {
        snprintf(k, sizeof k, "%.*s", (int)(dot - path), path);
        o = json_object_get(o, k);
        path = dot + 1;
    }
    return json_number_value(json_object_get(o, path));
}

int co_sim_summary_text(FILE *f, json_t *j)
{
    fprintf(f, "cluster %s: %d hosts (%d patched), %d VMs; %d runs, seed %lld\n",
            json_string_value(json_object_get(j, "cluster")),
            (int)num(j, "hosts"), (int)num(j, "hosts_patched"), (int)num(j, "vms"),
            (int)num(j, "runs"), (long long)num(j, "seed"));
    json_t *cc = json_object_get(j, "concurrency");
    fprintf(f, "concurrency %s: %d per host, %d per cluster (0 = no limit), %d hosts in maintenance\n",
            json_string_value(json_object_get(cc, "preset")), (int)num(cc, "per_host"),
            (int)num(cc, "per_cluster"), (int)num(cc, "hosts_in_maintenance"));
    fprintf(f, "window          p50 %.2f h   p90 %.2f h   p99 %.2f h   (min %.2f h, max %.2f h)\n",
            num(j, "window.p50_s") / 3600, num(j, "window.p90_s") / 3600,
            num(j, "window.p99_s") / 3600, num(j, "window.min_s") / 3600,
            num(j, "window.max_s") / 3600);
    json_t *h = json_object_get(json_object_get(j, "window"), "histogram");
    long hmax = 1;
    size_t i;
    json_t *b;
    json_array_foreach(h, i, b) if ((long)num(b, "runs") > hmax) hmax = (long)num(b, "runs");
    json_array_foreach(h, i, b)
    {
        long n = (long)num(b, "runs");
        if (n == 0 && json_array_size(h) > 1 && num(j, "window.max_s") == num(j, "window.min_s"))
            continue;
        int bar = (int)(40.0 * n / hmax);
        fprintf(f, "  %7.2f h %6ld |%.*s\n", num(b, "from_s") / 3600, n, bar,
                "########################################");
    }
    fprintf(f, "stun per VM     p50 %.1f ms  p99 %.1f ms  max %.1f ms  over %.0f ms budget: %.1f VMs/run (%d VMs ever)\n",
            num(j, "stun_per_vm.p50_ms"), num(j, "stun_per_vm.p99_ms"),
            num(j, "stun_per_vm.max_ms"), num(j, "stun_per_vm.budget_ms"),
            num(j, "stun_per_vm.vms_over_budget_mean"), (int)num(j, "stun_per_vm.vms_over_budget"));
    fprintf(f, "outage per VM   %.1f VMs/run shut down; p50 %.0f s  p99 %.0f s  max %.0f s\n",
            num(j, "outage_per_vm.vms_per_run_mean"), num(j, "outage_per_vm.p50_ms") / 1e3,
            num(j, "outage_per_vm.p99_ms") / 1e3, num(j, "outage_per_vm.max_ms") / 1e3);
    if (num(j, "mttr.failed_hosts") > 0)
        fprintf(f, "MTTR            %.2f h (95%% CI %.2f .. %.2f h) over %d failed hosts\n",
                num(j, "mttr.mean_s") / 3600, num(j, "mttr.ci95_lo_s") / 3600,
                num(j, "mttr.ci95_hi_s") / 3600, (int)num(j, "mttr.failed_hosts"));
    else
        fprintf(f, "MTTR            no host failed to come back\n");
    fprintf(f, "per run (mean)  %.1f host-hours in maintenance, %.1f live migrations, %.2f aborts, "
               "%.2f cold, %.2f kept off, %.2f patch failures\n",
            num(j, "per_run_mean.host_hours_in_maintenance"), num(j, "per_run_mean.live_migrations"),
            num(j, "per_run_mean.migration_aborts"), num(j, "per_run_mean.cold_migrations"),
            num(j, "per_run_mean.vms_kept_off"), num(j, "per_run_mean.patch_failures"));
    return fflush(f) == 0 && !ferror(f) ? CO_OK : CO_EIO;
}

int co_sim_timeline_csv(FILE *f, const co_sim_cluster *c, const co_sim_span *sp, size_t n)
{
    fprintf(f, "kind,host,what,vm,start_s,end_s,stun_ms\n");
    for (size_t i = 0; i < n; i++) {
        const co_sim_span *s = &sp[i];
        const char *kind = s->kind == 0 ? "step" : s->kind == 1 ? "migration" : "outage";
        const char *what = s->kind == 0 ? co_sim_step_name(s->other)
                           : s->kind == 1 ? (s->aborted ? "aborted" : c->hosts[s->other].name)
                                          : "off";
        fprintf(f, "%s,%s,%s,%s,%.6f,%.6f,%.3f\n", kind, c->hosts[s->host].name, what,
                s->vm >= 0 ? c->vms[s->vm].name : "", s->start_us / 1e6, s->end_us / 1e6,
                s->stun_ms);
    }
    return fflush(f) == 0 && !ferror(f) ? CO_OK : CO_EIO;
}
