/* traces/profile.c: parser of `--dirty` specs. */
#include "traces/profile.h"

#include <stdio.h>
#include <string.h>

#include "traces/dirty_trace.h"
#include "util/units.h"

#define MAX_KEYS 8

struct kv {
    char key[32];
    char val[128];
};

/* Split "a=1,b=2" into pairs. */
static int split(const char *body, struct kv *kv, int *n, const char *what, const char *spec,
                 co_diag *d)
{
    *n = 0;
    const char *p = body;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p)
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': expected key=value, got '%.*s'", what,
                               spec, (int)len, p);
        if (*n >= MAX_KEYS)
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': too many keys", what, spec);
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        if (kl >= sizeof kv[0].key || vl >= sizeof kv[0].val || vl == 0)
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': bad key=value '%.*s'", what, spec,
                               (int)len, p);
        memcpy(kv[*n].key, p, kl);
        kv[*n].key[kl] = '\0';
        memcpy(kv[*n].val, eq + 1, vl);
        kv[*n].val[vl] = '\0';
        (*n)++;
        p += len;
        if (*p == ',')
            p++;
    }
    return CO_OK;
}

/* Look up the keys of a form; every key must be known and every required one present. */
static int take(const struct kv *kv, int n, const char *const *keys, const char **vals_out[],
                const char *what, const char *spec, const char *form, co_diag *d)
{
    for (int i = 0; i < n; i++) {
        int known = 0;
        for (int k = 0; keys[k]; k++)
            if (strcmp(kv[i].key, keys[k]) == 0) {
                known = 1;
                *vals_out[k] = kv[i].val;
            }
        if (!known) {
            char list[128] = "";
            for (int k = 0; keys[k]; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                         keys[k]);
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': unknown key '%s' for %s (expected %s)",
                               what, spec, kv[i].key, form, list);
        }
    }
    for (int k = 0; keys[k]; k++)
        if (*vals_out[k] == NULL)
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': %s needs %s=", what, spec, form, keys[k]);
    return CO_OK;
}

static int size_pages(const char *v, const char *key, double page, double mem, const char *what,
                      const char *spec, double *pages, co_diag *d)
{
    char w[96];
    snprintf(w, sizeof w, "%s %s", what, key);
    double bytes;
    int rc = co_parse_size(v, w, &bytes, d);
    if (rc != CO_OK)
        return rc;
    if (mem > 0 && bytes > mem)
        return co_diag_set(d, CO_EUSAGE, "%s: '%s': %s=%s is larger than the VM's memory", what,
                           spec, key, v);
    *pages = bytes / page;
    return CO_OK;
}

static int rate_val(const char *v, const char *what, const char *spec, double *rate, co_diag *d)
{
    char w[96];
    snprintf(w, sizeof w, "%s rate", what);
    int rc = co_parse_number(v, w, rate, d);
    if (rc == CO_OK && *rate > 1e10)
        return co_diag_set(d, CO_EUSAGE, "%s: '%s': rate=%s pages/s is absurd", what, spec, v);
    return rc;
}

int co_profile_parse(const char *spec, double mem, double page, const char *what, co_dirty *out,
                     co_diag *d)
{
    co_dirty_none(out);
    if (spec == NULL || *spec == '\0')
        return co_diag_set(d, CO_EUSAGE, "%s: empty profile", what);
    if (strcmp(spec, "none") == 0)
        return CO_OK;
    const char *colon = strchr(spec, ':');
    if (colon == NULL)
        return co_diag_set(d, CO_EUSAGE,
                           "%s: '%s': expected FORM:ARGS with FORM one of none, uniform, "
                           "hotcold, seq, table, trace",
                           what, spec);
    size_t fl = (size_t)(colon - spec);
    const char *body = colon + 1;
    if (fl == 5 && strncmp(spec, "trace", 5) == 0) {
        co_dirty_trace t;
        int rc = co_dirty_trace_load(body, &t, d);
        if (rc != CO_OK)
            return rc;
        return co_dirty_trace_curve(&t, out) == CO_OK
                   ? CO_OK
                   : co_diag_set(d, CO_EDATA, "%s: trace %s gives no usable curve", what, body);
    }
    struct kv kv[MAX_KEYS];
    int n, rc;
    if ((rc = split(body, kv, &n, what, spec, d)) != CO_OK)
        return rc;
    if (fl == 7 && strncmp(spec, "uniform", 7) == 0) {
        static const char *const keys[] = {"wss", "rate", NULL};
        const char *wss = NULL, *rate = NULL;
        const char **vals[] = {&wss, &rate};
        double w, r;
        if ((rc = take(kv, n, keys, vals, what, spec, "uniform", d)) != CO_OK ||
            (rc = size_pages(wss, "wss", page, mem, what, spec, &w, d)) != CO_OK ||
            (rc = rate_val(rate, what, spec, &r, d)) != CO_OK)
            return rc;
        return co_dirty_uniform(out, w, r) == CO_OK
                   ? CO_OK
                   : co_diag_set(d, CO_EUSAGE, "%s: '%s': out of range", what, spec);
    }
    if (fl == 3 && strncmp(spec, "seq", 3) == 0) {
        static const char *const keys[] = {"wss", "rate", NULL};
        const char *wss = NULL, *rate = NULL;
        const char **vals[] = {&wss, &rate};
        double w, r;
        if ((rc = take(kv, n, keys, vals, what, spec, "seq", d)) != CO_OK ||
            (rc = size_pages(wss, "wss", page, mem, what, spec, &w, d)) != CO_OK ||
            (rc = rate_val(rate, what, spec, &r, d)) != CO_OK)
            return rc;
        return co_dirty_seq(out, w, r) == CO_OK
                   ? CO_OK
                   : co_diag_set(d, CO_EUSAGE, "%s: '%s': out of range", what, spec);
    }
    if (fl == 7 && strncmp(spec, "hotcold", 7) == 0) {
        static const char *const keys[] = {"hot", "cold", "hotfrac", "rate", NULL};
        const char *hot = NULL, *cold = NULL, *hf = NULL, *rate = NULL;
        const char **vals[] = {&hot, &cold, &hf, &rate};
        double h, c, f, r;
        char w[96];
        snprintf(w, sizeof w, "%s hotfrac", what);
        if ((rc = take(kv, n, keys, vals, what, spec, "hotcold", d)) != CO_OK ||
            (rc = size_pages(hot, "hot", page, mem, what, spec, &h, d)) != CO_OK ||
            (rc = size_pages(cold, "cold", page, mem, what, spec, &c, d)) != CO_OK ||
            (rc = co_parse_number(hf, w, &f, d)) != CO_OK ||
            (rc = rate_val(rate, what, spec, &r, d)) != CO_OK)
            return rc;
        if (f > 1)
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': hotfrac=%s must be within 0..1", what,
                               spec, hf);
        if (mem > 0 && (h + c) * page > mem * 1.000001)
            return co_diag_set(d, CO_EUSAGE, "%s: '%s': hot+cold exceed the VM's memory", what,
                               spec);
        return co_dirty_hotcold(out, h, c, f, r) == CO_OK
                   ? CO_OK
                   : co_diag_set(d, CO_EUSAGE, "%s: '%s': hot and cold must be > 0", what, spec);
    }
    if (fl == 5 && strncmp(spec, "table", 5) == 0) {
        double ts[CO_DIRTY_TABLE_MAX], us[CO_DIRTY_TABLE_MAX];
        for (int i = 0; i < n; i++) {
            char w[96];
            snprintf(w, sizeof w, "%s table window", what);
            double ms;
            if ((rc = co_parse_time(kv[i].key, w, &ms, d)) != CO_OK)
                return rc;
            snprintf(w, sizeof w, "%s table pages", what);
            if ((rc = co_parse_number(kv[i].val, w, &us[i], d)) != CO_OK)
                return rc;
            ts[i] = ms / 1000.0;
        }
        if (n == 0 || co_dirty_table(out, ts, us, n, mem / page) != CO_OK)
            return co_diag_set(d, CO_EUSAGE,
                               "%s: '%s': table needs windows increasing and pages "
                               "non-decreasing",
                               what, spec);
        return CO_OK;
    }
    return co_diag_set(d, CO_EUSAGE,
                       "%s: '%s': unknown form '%.*s' (expected none, uniform, hotcold, seq, "
                       "table, trace)",
                       what, spec, (int)fl, spec);
}
