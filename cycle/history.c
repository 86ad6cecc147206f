/* cycle/history.c: fitting the plan to past cycle journals (contract in
 * cycle/history.h; rules and formulas in docs/forecast.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "cycle/history.h"
#include "cycle/journal.h"
#include "util/error.h"

/* A migration started and not yet ended in the journal being read. */
struct open_mig {
    char vm[128];
    int from, to;              /* host index in the cluster, -1 unknown */
    double t_start;            /* wall ms */
    int overlapped;            /* another migration shared a host while it ran */
};

struct pending {
    struct open_mig *m;
    int n, cap;
};

static int push(co_history_samples *s, double v)
{
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 16;
        double *nv = realloc(s->v, (size_t)nc * sizeof *nv);
        if (nv == NULL)
            return CO_ENOMEM;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = v;
    return CO_OK;
}

static void rate_init(co_history_rate *r, const char *field)
{
    memset(r, 0, sizeof *r);
    r->p = r->lo = r->hi = NAN;
    snprintf(r->field, sizeof r->field, "%s", field);
}

void co_history_init(co_history *h)
{
    memset(h, 0, sizeof *h);
    rate_init(&h->patch_fail, "faults.patch_fail_prob");
    rate_init(&h->no_return, "faults.no_return_prob");
    rate_init(&h->validate_fail, "faults.validate_fail_prob");
    rate_init(&h->host_fail, "");
    h->eff_median = h->eff_q25 = h->eff_q75 = h->stream_median_bytes_per_s = NAN;
}

void co_history_free(co_history *h)
{
    if (h == NULL)
        return;
    for (int s = 0; s < CO_STEP_N; s++)
        free(h->step[s].ms.v);
    free(h->eff.v);
    free(h->stream.v);
    free(h->downtime_ms.v);
    struct pending *p = h->pending;
    if (p) {
        free(p->m);
        free(p);
    }
    h->pending = NULL;
}

static int step_index(const char *name)
{
    /* the cycle's per-host preflight is the simulator's health check */
    if (!strcmp(name, "preflight"))
        return CO_STEP_HEALTH;
    for (int s = 0; s < CO_STEP_N; s++)
        if (!strcmp(co_sim_step_name(s), name))
            return s;
    return -1;
}

static int host_index(const co_sim_cluster *c, const char *name)
{
    if (c == NULL || name == NULL)
        return -1;
    for (int i = 0; i < c->nhosts; i++)
        if (!strcmp(c->hosts[i].name, name))
            return i;
    return -1;
}

/* Field readers: absent is fine (readers ignore what they do not know and
 * tolerate what is missing), present with the wrong type is an error. */
static int get_num(json_t *o, const char *k, double *v, int *have)
{
    json_t *x = json_object_get(o, k);
    *have = 0;
    if (x == NULL || json_is_null(x))
        return CO_OK;
    if (!json_is_number(x))
        return CO_EDATA;
    *v = json_number_value(x);
    *have = 1;
    return CO_OK;
}

static int get_str(json_t *o, const char *k, const char **v)
{
    json_t *x = json_object_get(o, k);
    *v = NULL;
    if (x == NULL || json_is_null(x))
        return CO_OK;
    if (!json_is_string(x))
        return CO_EDATA;
    *v = json_string_value(x);
    return CO_OK;
}

static int get_bool(json_t *o, const char *k, int *v, int *have)
{
    json_t *x = json_object_get(o, k);
    *have = 0;
    if (x == NULL || json_is_null(x))
        return CO_OK;
    if (!json_is_boolean(x))
        return CO_EDATA;
    *v = json_is_true(x);
    *have = 1;
    return CO_OK;
}

static int mig_start(co_history *h, struct pending *p, const co_sim_cluster *c, json_t *r,
                     const char *name, int line, co_diag *d)
{
    const char *vm, *from, *to;
    double t = 0;
    int have;
    if (get_str(r, "vm", &vm) || get_str(r, "from", &from) || get_str(r, "to", &to) ||
        get_num(r, "t_ms", &t, &have))
        return co_diag_set(d, CO_EDATA, "%s:%d: mig_start: vm, from, to must be strings and "
                           "t_ms a number", name, line);
    if (vm == NULL)
        return co_diag_set(d, CO_EDATA, "%s:%d: mig_start: missing \"vm\"", name, line);
    if (p->n == p->cap) {
        int nc = p->cap ? 2 * p->cap : 8;
        struct open_mig *nm = realloc(p->m, (size_t)nc * sizeof *nm);
        if (nm == NULL)
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        p->m = nm;
        p->cap = nc;
    }
    struct open_mig *m = &p->m[p->n];
    memset(m, 0, sizeof *m);
    snprintf(m->vm, sizeof m->vm, "%s", vm);
    m->from = host_index(c, from);
    m->to = host_index(c, to);
    m->t_start = t;
    /* a host shared with a migration in flight: both are not solo */
    for (int i = 0; i < p->n; i++) {
        struct open_mig *o = &p->m[i];
        int share = (m->from >= 0 && (m->from == o->from || m->from == o->to)) ||
                    (m->to >= 0 && (m->to == o->from || m->to == o->to)) ||
                    m->from < 0 || m->to < 0 || o->from < 0 || o->to < 0;
        if (share)
            m->overlapped = o->overlapped = 1;
    }
    p->n++;
    (void)h;
    return CO_OK;
}

static int mig_end(co_history *h, struct pending *p, const co_sim_cluster *c, json_t *r,
                   const char *name, int line, co_diag *d)
{
    const char *vm, *status, *from, *to;
    double time_ms = 0, down_ms = 0, bytes = 0;
    int ht, hd, hb;
    if (get_str(r, "vm", &vm) || get_str(r, "status", &status) || get_str(r, "from", &from) ||
        get_str(r, "to", &to) || get_num(r, "time_ms", &time_ms, &ht) ||
        get_num(r, "downtime_ms", &down_ms, &hd) || get_num(r, "bytes", &bytes, &hb))
        return co_diag_set(d, CO_EDATA, "%s:%d: mig_end: vm, from, to, status must be strings, "
                           "time_ms, downtime_ms, bytes numbers", name, line);
    if (vm == NULL)
        return co_diag_set(d, CO_EDATA, "%s:%d: mig_end: missing \"vm\"", name, line);
    int overlapped = 1; /* no mig_start seen: cannot tell, not solo */
    for (int i = p->n - 1; i >= 0; i--)
        if (!strcmp(p->m[i].vm, vm)) {
            overlapped = p->m[i].overlapped;
            p->m[i] = p->m[--p->n];
            break;
        }
    if (status == NULL || strcmp(status, "completed") || !ht || !hb || !(time_ms > 0) ||
        !(bytes > 0))
        return CO_OK;
    h->migs++;
    if (hd && down_ms >= 0 && push(&h->downtime_ms, down_ms))
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int a = host_index(c, from), b = host_index(c, to);
    if (a < 0 || b < 0) {
        h->migs_unknown_host++;
        return CO_OK;
    }
    double line_rate = fmin(c->hosts[a].nic_bytes_per_s, c->hosts[b].nic_bytes_per_s);
    int ch = c->hosts[a].channels < c->hosts[b].channels ? c->hosts[a].channels
                                                         : c->hosts[b].channels;
    if (ch < 1)
        ch = 1;
    double rate = bytes / (time_ms / 1000.0);
    /* kept apart: solo ones first (stored with a flag in the sign, sorted later) */
    if (!overlapped)
        h->migs_solo++;
    if (push(&h->eff, overlapped ? -rate / line_rate : rate / line_rate) ||
        push(&h->stream, overlapped ? -rate / ch : rate / ch))
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    return CO_OK;
}

static int record(co_history *h, struct pending *p, const co_sim_cluster *c, json_t *r,
                  const char *name, int line, co_diag *d)
{
    const char *ev;
    if (!json_is_object(r))
        return co_diag_set(d, CO_EDATA, "%s:%d: expected a JSON object", name, line);
    if (get_str(r, "ev", &ev) || ev == NULL)
        return co_diag_set(d, CO_EDATA, "%s:%d: missing or non-string \"ev\"", name, line);
    h->records++;
    if (!strcmp(ev, "cycle_start")) {
        h->cycles++;
        return CO_OK;
    }
    if (!strcmp(ev, "mig_start"))
        return mig_start(h, p, c, r, name, line, d);
    if (!strcmp(ev, "mig_end"))
        return mig_end(h, p, c, r, name, line, d);
    if (!strcmp(ev, "step_end")) {
        const char *step;
        double ms = 0;
        int ok = 0, hok, hms;
        if (get_str(r, "step", &step) || get_bool(r, "ok", &ok, &hok) ||
            get_num(r, "duration_ms", &ms, &hms))
            return co_diag_set(d, CO_EDATA, "%s:%d: step_end: step must be a string, ok a "
                               "boolean, duration_ms a number", name, line);
        if (step == NULL || !hok)
            return co_diag_set(d, CO_EDATA, "%s:%d: step_end: missing \"%s\"", name, line,
                               step == NULL ? "step" : "ok");
        int s = step_index(step);
        if (s < 0)
            return CO_OK; /* before_cycle, after_cycle, canary_soak: not simulator steps */
        co_history_step *st = &h->step[s];
        st->trials++;
        if (!ok)
            st->failures++;
        else if (hms && ms > 0 && push(&st->ms, ms))
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        return CO_OK;
    }
    if (!strcmp(ev, "host_end")) {
        int ok = 0, hok;
        if (get_bool(r, "ok", &ok, &hok) || !hok)
            return co_diag_set(d, CO_EDATA, "%s:%d: host_end: \"ok\" must be a boolean", name,
                               line);
        h->host_fail.trials++;
        h->host_fail.events += !ok;
        return CO_OK;
    }
    return CO_OK; /* resume, step_start, vm_outage, cycle_end, kinds to come */
}

/* The records of one journal, in order: record i is on line i + 1
 * (co_jrn_read refuses blank lines). */
static int add_records(co_history *h, json_t *arr, int torn, const char *name,
                       const co_sim_cluster *c, co_diag *d)
{
    struct pending *p = h->pending;
    if (p == NULL) {
        if ((p = calloc(1, sizeof *p)) == NULL)
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        h->pending = p;
    }
    p->n = 0; /* migrations do not span journals */
    int rc = CO_OK;
    for (size_t i = 0; i < json_array_size(arr) && rc == CO_OK; i++)
        rc = record(h, p, c, json_array_get(arr, i), name, (int)i + 1, d);
    if (rc == CO_OK) {
        h->journals++;
        h->torn += torn;
    }
    return rc;
}

int co_history_read_buffer(co_history *h, const char *text, size_t len, const char *name,
                           const co_sim_cluster *c, co_diag *d)
{
    json_t *arr = NULL;
    int torn = 0;
    int rc = co_jrn_read_buffer(text, len, name, &arr, &torn, d);
    if (rc == CO_OK)
        rc = add_records(h, arr, torn, name, c, d);
    json_decref(arr);
    return rc;
}

int co_history_read(co_history *h, const char *path, const co_sim_cluster *c, co_diag *d)
{
    json_t *arr = NULL;
    int torn = 0;
    int rc = co_jrn_read(path, &arr, &torn, d);
    if (rc == CO_OK)
        rc = add_records(h, arr, torn, path, c, d);
    json_decref(arr);
    return rc;
}

static void fit_rate(co_history_rate *r, double *plan_field)
{
    if (r->trials < 1)
        return;
    co_fit_binomial_ci(r->events, r->trials, 0.95, &r->p, &r->lo, &r->hi);
    if (plan_field) {
        r->guess = *plan_field;
        if (r->trials >= CO_HISTORY_MIN_SAMPLES) {
            *plan_field = r->p;
            r->applied = 1;
        }
    }
}

int co_history_apply(co_history *h, co_sim_cluster *c, co_diag *d)
{
    co_sim_plan *pl = &c->plan;
    for (int s = 0; s < CO_STEP_N; s++) {
        co_history_step *st = &h->step[s];
        st->guess_mean_ms = co_sim_dist_mean(&pl->step[s]);
        if (st->ms.n == 0)
            continue;
        st->have_lognormal = co_fit_lognormal(st->ms.v, st->ms.n, &st->lognormal) == CO_OK;
        st->have_weibull = co_fit_weibull(st->ms.v, st->ms.n, &st->weibull) == CO_OK;
        if (s == CO_STEP_EVACUATE ||
            (s == CO_STEP_REBALANCE && pl->rebalance != CO_REBAL_DURATION)) {
            snprintf(st->note, sizeof st->note, "reported only: the simulator times %s from "
                     "its migrations", co_sim_step_name(s));
            continue;
        }
        if (st->ms.n < CO_HISTORY_MIN_SAMPLES) {
            snprintf(st->note, sizeof st->note, "plan's guess kept: %d sample%s, %d needed",
                     st->ms.n, st->ms.n == 1 ? "" : "s", CO_HISTORY_MIN_SAMPLES);
            continue;
        }
        co_sim_dist nd = {0};
        int wb = st->have_weibull && (!st->have_lognormal ||
                                      st->weibull.loglik > st->lognormal.loglik);
        if (wb) {
            nd.kind = CO_DIST_WEIBULL;
            nd.a = st->weibull.p1;
            nd.b = st->weibull.p2;
        } else if (st->have_lognormal) {
            nd.kind = CO_DIST_LOGNORMAL;
            nd.a = st->lognormal.p1;
            nd.b = st->lognormal.p2;
        } else {
            snprintf(st->note, sizeof st->note, "plan's guess kept: no fit");
            continue;
        }
        const char *why;
        if (co_sim_dist_check(&nd, &why) != CO_OK) {
            snprintf(st->note, sizeof st->note, "plan's guess kept: fit out of range (%s)", why);
            continue;
        }
        snprintf(st->family, sizeof st->family, "%s", wb ? "weibull" : "lognormal");
        free(pl->step[s].values);
        pl->step[s] = nd;
        st->applied = 1;
    }
    h->patch_fail.trials = h->step[CO_STEP_APPLY].trials;
    h->patch_fail.events = h->step[CO_STEP_APPLY].failures;
    fit_rate(&h->patch_fail, &pl->p_patch_fail);
    /* a host that did not come back is a reboot that failed */
    h->no_return.trials = h->step[CO_STEP_REBOOT].trials;
    h->no_return.events = h->step[CO_STEP_REBOOT].failures;
    fit_rate(&h->no_return, &pl->p_no_return);
    h->validate_fail.trials = h->step[CO_STEP_VALIDATE].trials;
    h->validate_fail.events = h->step[CO_STEP_VALIDATE].failures;
    /* a host that fails validation stays in maintenance and the cycle goes
     * on (within the failure budget): the simulator's validate fault */
    fit_rate(&h->validate_fail, &pl->p_validate_fail);
    fit_rate(&h->host_fail, NULL);

    /* migrations: the solo ones (positive), else all */
    int n = h->eff.n, k = 0;
    double *e = h->eff.v, *r = h->stream.v;
    for (int i = 0; i < n; i++)
        if (e[i] > 0) {
            e[k] = e[i];
            r[k++] = r[i];
        }
    if (k == 0 && n > 0) {
        h->eff_from_all = 1;
        for (int i = 0; i < n; i++) {
            e[i] = fabs(e[i]);
            r[i] = fabs(r[i]);
        }
        k = n;
    }
    h->eff.n = h->stream.n = k;
    h->stream_guess_bytes_per_s = pl->mig.link.channel_cap_bytes_per_s;
    if (k > 0) {
        gsl_sort(e, 1, (size_t)k);
        gsl_sort(r, 1, (size_t)k);
        h->eff_median = gsl_stats_median_from_sorted_data(e, 1, (size_t)k);
        h->eff_q25 = gsl_stats_quantile_from_sorted_data(e, 1, (size_t)k, 0.25);
        h->eff_q75 = gsl_stats_quantile_from_sorted_data(e, 1, (size_t)k, 0.75);
        h->stream_median_bytes_per_s = gsl_stats_median_from_sorted_data(r, 1, (size_t)k);
        if (k >= CO_HISTORY_MIN_SAMPLES && h->stream_median_bytes_per_s >= 1e3) {
            pl->mig.link.channel_cap_bytes_per_s = h->stream_median_bytes_per_s;
            h->stream_applied = 1;
        }
    }
    (void)d;
    return CO_OK;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *fit_json(const co_fit_dur *f, int weibull)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "dist",
                     weibull ? "weibull" : "lognormal", weibull ? "scale_ms" : "median_ms",
                     num_or_null(f->p1), weibull ? "scale_se_ms" : "median_se_ms",
                     num_or_null(f->se_p1), weibull ? "shape" : "sigma", num_or_null(f->p2),
                     weibull ? "shape_se" : "sigma_se", num_or_null(f->se_p2), "mean_ms",
                     num_or_null(f->mean), "loglik", num_or_null(f->loglik), "aic",
                     num_or_null(f->aic));
}

static json_t *rate_json(const co_history_rate *r)
{
    json_t *o = json_pack("{s:i, s:i, s:o, s:o, s:o, s:b}", "trials", r->trials, "events",
                          r->events, "p", num_or_null(r->p), "ci95_lo", num_or_null(r->lo),
                          "ci95_hi", num_or_null(r->hi), "from_history", r->applied);
    if (o && r->field[0]) {
        json_object_set_new(o, "replaces", json_string(r->field));
        json_object_set_new(o, "plan_guess", num_or_null(r->guess));
        if (!r->applied)
            json_object_set_new(o, "note",
                                json_sprintf("plan's guess kept: %d trial%s, %d needed",
                                             r->trials, r->trials == 1 ? "" : "s",
                                             CO_HISTORY_MIN_SAMPLES));
    }
    return o;
}

json_t *co_history_json(const co_history *h)
{
    json_t *j = json_pack("{s:i, s:i, s:i, s:i}", "journals", h->journals, "cycles", h->cycles,
                          "records", h->records, "torn_lines", h->torn);
    json_t *steps = json_object();
    if (j == NULL || steps == NULL) {
        json_decref(j);
        json_decref(steps);
        return NULL;
    }
    json_object_set_new(j, "steps", steps);
    for (int s = 0; s < CO_STEP_N; s++) {
        const co_history_step *st = &h->step[s];
        if (st->trials == 0)
            continue;
        json_t *o = json_pack("{s:i, s:i, s:i, s:b, s:o}", "samples", st->ms.n, "runs",
                              st->trials, "failures", st->failures, "from_history",
                              st->applied, "plan_guess_mean_ms",
                              num_or_null(st->guess_mean_ms));
        if (o == NULL)
            continue;
        if (st->applied)
            json_object_set_new(o, "chosen", json_string(st->family));
        if (st->note[0])
            json_object_set_new(o, "note", json_string(st->note));
        json_t *fits = json_array();
        if (st->have_lognormal)
            json_array_append_new(fits, fit_json(&st->lognormal, 0));
        if (st->have_weibull)
            json_array_append_new(fits, fit_json(&st->weibull, 1));
        json_object_set_new(o, "fits", fits);
        json_object_set_new(steps, co_sim_step_name(s), o);
    }
    json_t *m = json_pack("{s:i, s:i, s:i, s:i, s:b, s:o, s:o, s:o, s:o, s:b, s:o}", "completed",
                          h->migs, "solo", h->migs_solo, "unknown_host", h->migs_unknown_host,
                          "used", h->eff.n, "used_all_overlapping", h->eff_from_all,
                          "efficiency_median", num_or_null(h->eff_median), "efficiency_q25",
                          num_or_null(h->eff_q25), "efficiency_q75", num_or_null(h->eff_q75),
                          "stream_bytes_per_s_median", num_or_null(h->stream_median_bytes_per_s),
                          "from_history", h->stream_applied, "plan_guess_channel_cap_bytes_per_s",
                          num_or_null(h->stream_guess_bytes_per_s));
    if (m) {
        json_object_set_new(m, "replaces", json_string("plan.policy.channel_cap"));
        if (!h->stream_applied)
            json_object_set_new(m, "note",
                                json_sprintf("plan's guess kept: %d migration%s used, %d needed",
                                             h->eff.n, h->eff.n == 1 ? "" : "s",
                                             CO_HISTORY_MIN_SAMPLES));
        json_object_set_new(j, "migrations", m);
    }
    json_t *f = json_object();
    if (f) {
        json_object_set_new(f, "patch", rate_json(&h->patch_fail));
        json_object_set_new(f, "no_return", rate_json(&h->no_return));
        json_object_set_new(f, "validate", rate_json(&h->validate_fail));
        json_object_set_new(f, "host", rate_json(&h->host_fail));
        json_object_set_new(j, "failures", f);
    }
    return j;
}

static double jnum(const json_t *o, const char *k)
{
    json_t *x = json_object_get(o, k);
    return json_is_number(x) ? json_number_value(x) : NAN;
}

static int jint(const json_t *o, const char *k)
{
    return (int)json_integer_value(json_object_get(o, k));
}

int co_history_text(FILE *out, const json_t *j)
{
    fprintf(out, "history: %d journal%s, %d cycle%s, %d records%s\n", jint(j, "journals"),
            jint(j, "journals") == 1 ? "" : "s", jint(j, "cycles"),
            jint(j, "cycles") == 1 ? "" : "s", jint(j, "records"),
            jint(j, "torn_lines") ? " (a torn last line dropped)" : "");
    const char *name;
    json_t *o;
    json_object_foreach(json_object_get(j, "steps"), name, o)
    {
        int fromh = json_is_true(json_object_get(o, "from_history"));
        fprintf(out, "  step %-17s %3d samples (%d runs, %d failed): ", name, jint(o, "samples"),
                jint(o, "runs"), jint(o, "failures"));
        const char *chosen = json_string_value(json_object_get(o, "chosen"));
        size_t i;
        json_t *fit;
        int shown = 0;
        json_array_foreach(json_object_get(o, "fits"), i, fit)
        {
            const char *dist = json_string_value(json_object_get(fit, "dist"));
            int wb = !strcmp(dist, "weibull");
            if (chosen ? strcmp(chosen, dist) : shown)
                continue;
            fprintf(out, "%s %s %.1f s +- %.1f, %s %.3f +- %.3f (loglik %.1f)", dist,
                    wb ? "scale" : "median", jnum(fit, wb ? "scale_ms" : "median_ms") / 1e3,
                    jnum(fit, wb ? "scale_se_ms" : "median_se_ms") / 1e3, wb ? "shape" : "sigma",
                    jnum(fit, wb ? "shape" : "sigma"), jnum(fit, wb ? "shape_se" : "sigma_se"),
                    jnum(fit, "loglik"));
            shown = 1;
        }
        if (fromh)
            fprintf(out, "; from history (plan's guess: mean %.1f s)\n",
                    jnum(o, "plan_guess_mean_ms") / 1e3);
        else
            fprintf(out, "%s%s\n", shown ? "; " : "",
                    json_string_value(json_object_get(o, "note")) ?: "");
    }
    json_t *m = json_object_get(j, "migrations");
    if (m) {
        fprintf(out, "  migrations: %d completed (%d solo%s), efficiency median %.3f "
                     "(quartiles %.3f - %.3f) of the line rate, %.1f Mbit/s per stream",
                jint(m, "completed"), jint(m, "solo"),
                json_is_true(json_object_get(m, "used_all_overlapping"))
                    ? "; none solo, all used"
                    : "",
                jnum(m, "efficiency_median"), jnum(m, "efficiency_q25"),
                jnum(m, "efficiency_q75"), jnum(m, "stream_bytes_per_s_median") * 8 / 1e6);
        if (json_is_true(json_object_get(m, "from_history")))
            fprintf(out, "; from history: plan.policy.channel_cap\n");
        else
            fprintf(out, "; %s\n", json_string_value(json_object_get(m, "note")) ?: "");
    }
    json_t *f = json_object_get(j, "failures");
    json_object_foreach(f, name, o)
    {
        if (jint(o, "trials") == 0)
            continue;
        fprintf(out, "  failures %-9s %d of %d, p %.3f (95%% CI %.3f - %.3f)", name,
                jint(o, "events"), jint(o, "trials"), jnum(o, "p"), jnum(o, "ci95_lo"),
                jnum(o, "ci95_hi"));
        const char *rep = json_string_value(json_object_get(o, "replaces"));
        if (json_is_true(json_object_get(o, "from_history")))
            fprintf(out, "; from history: plan.%s (guess %.3f)\n", rep, jnum(o, "plan_guess"));
        else if (rep)
            fprintf(out, "; %s\n", json_string_value(json_object_get(o, "note")) ?: "");
        else
            fprintf(out, "; reported only\n");
    }
    return ferror(out) ? CO_EIO : CO_OK;
}
