/* sim/load.c: the cluster-and-plan JSON reader (format: docs/simulate.md).
 *
 * Strict on purpose: unknown fields are errors (a typo in "max_retries"
 * would otherwise silently keep the default), every quantity carries its
 * unit, and every error names FILE:LINE: PATH. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "traces/profile.h"
#include "util/jsonpos.h"
#include "util/units.h"

#define MAX_FILE_BYTES (256u << 20)

struct ld {
    const char *text;
    size_t len;
    const char *name;
    co_diag *d;
    co_sim_cluster *c;
};

/* ------------------------------------------------------------ name table */

struct names {
    char **keys;
    int *vals;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int names_init(struct names *t, size_t n)
{
    t->cap = 16;
    while (t->cap < 2 * n + 16)
        t->cap *= 2;
    t->n = 0;
    t->keys = calloc(t->cap, sizeof(char *));
    t->vals = calloc(t->cap, sizeof(int));
    return t->keys && t->vals ? CO_OK : CO_ENOMEM;
}

static void names_free(struct names *t)
{
    free(t->keys);
    free(t->vals);
}

/* Index of key, or -1. Keys are borrowed (they live in the cluster). */
static int names_get(const struct names *t, const char *key)
{
    for (size_t i = hash_str(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->keys[i] == NULL)
            return -1;
        if (strcmp(t->keys[i], key) == 0)
            return t->vals[i];
    }
}

static int names_put(struct names *t, char *key, int val)
{
    if (2 * (t->n + 1) > t->cap) {
        struct names u;
        u.cap = t->cap * 2;
        u.n = 0;
        u.keys = calloc(u.cap, sizeof(char *));
        u.vals = calloc(u.cap, sizeof(int));
        if (!u.keys || !u.vals) {
            names_free(&u);
            return CO_ENOMEM;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i])
                names_put(&u, t->keys[i], t->vals[i]);
        names_free(t);
        *t = u;
    }
    size_t i = hash_str(key) & (t->cap - 1);
    while (t->keys[i] != NULL)
        i = (i + 1) & (t->cap - 1);
    t->keys[i] = key;
    t->vals[i] = val;
    t->n++;
    return CO_OK;
}

/* Find name in a string list (domains, racks, groups), adding it if new. */
static int intern(char ***list, int *n, struct names *t, const char *name)
{
    int k = names_get(t, name);
    if (k >= 0)
        return k;
    char **nl = realloc(*list, (size_t)(*n + 1) * sizeof(char *));
    if (nl == NULL)
        return CO_ENOMEM;
    *list = nl;
    if ((nl[*n] = strdup(name)) == NULL)
        return CO_ENOMEM;
    if (names_put(t, nl[*n], *n) != CO_OK)
        return CO_ENOMEM;
    return (*n)++;
}

/* --------------------------------------------------------------- errors */

static int fail(struct ld *L, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ld *L, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = L->text ? co_json_line_of(L->text, L->len, path) : 0;
    if (line > 0)
        return co_diag_set(L->d, CO_EDATA, "%s:%d: %s: %s", L->name, line, path, msg);
    return co_diag_set(L->d, CO_EDATA, "%s: %s: %s", L->name, path[0] ? path : "(top)", msg);
}

static int oom(struct ld *L)
{
    return co_diag_set(L->d, CO_ENOMEM, "%s: out of memory", L->name);
}

/* Refuse fields not in allowed (NULL-terminated). */
static int only(struct ld *L, json_t *o, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0)
                ok = 1;
        if (!ok) {
            char p[300];
            snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", k);
            return fail(L, p, "unknown field (see docs/simulate.md)");
        }
    }
    return CO_OK;
}

static void join(char *out, size_t cap, const char *path, const char *key)
{
    snprintf(out, cap, "%s%s%s", path, path[0] ? "." : "", key);
}

/* ------------------------------------------------------------ getters */

enum unit { U_PLAIN, U_TIME, U_SIZE, U_RATE };

static const char *unit_example(enum unit u)
{
    switch (u) {
    case U_TIME:
        return "a time like \"90s\" or \"5min\"";
    case U_SIZE:
        return "a size like \"8GiB\" or a byte count";
    case U_RATE:
        return "a rate like \"25Gbit\"";
    default:
        return "a number";
    }
}

/* A quantity in its unit: ms, bytes, bytes/s or plain, at path.key (key
 * NULL: at path). The path is joined only for a message: the loader reads
 * every VM's fields, and formatting their paths up front was a sixth of
 * the time it took to load a 20,000-VM file. */
static int quantity_at(struct ld *L, json_t *v, const char *path, const char *key, enum unit u,
                       double *out)
{
    char p[300];
#define QPATH() (key ? (join(p, sizeof p, path, key), p) : path)
    co_diag tmp;
    if (json_is_number(v) && (u == U_PLAIN || u == U_SIZE)) {
        *out = json_number_value(v);
        if (!isfinite(*out) || *out < 0)
            return fail(L, QPATH(), "must be a finite number >= 0");
        return CO_OK;
    }
    if (!json_is_string(v))
        return fail(L, QPATH(), "expected %s", unit_example(u));
    co_diag_init(&tmp);
    const char *s = json_string_value(v);
    int rc;
    switch (u) {
    case U_TIME:
        rc = co_parse_time(s, "", out, &tmp);
        break;
    case U_SIZE:
        rc = co_parse_size(s, "", out, &tmp);
        break;
    case U_RATE:
        rc = co_parse_rate(s, "", out, &tmp);
        break;
    default:
        rc = co_parse_number(s, "", out, &tmp);
    }
    if (rc != CO_OK)
        return fail(L, QPATH(), "'%s' is not %s", s, unit_example(u));
    if (*out < 0)
        return fail(L, QPATH(), "must be >= 0");
    return CO_OK;
#undef QPATH
}

static int quantity(struct ld *L, json_t *v, const char *path, enum unit u, double *out)
{
    return quantity_at(L, v, path, NULL, u, out);
}

static int get_q(struct ld *L, json_t *o, const char *path, const char *key, enum unit u,
                 int required, double lo, double hi, double *out)
{
    char p[300];
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (!required)
            return CO_OK;
        join(p, sizeof p, path, key);
        return fail(L, p[0] ? p : key, "missing (expected %s)", unit_example(u));
    }
    double x;
    int rc = quantity_at(L, v, path, key, u, &x);
    if (rc != CO_OK)
        return rc;
    if (x < lo || x > hi) {
        join(p, sizeof p, path, key);
        return fail(L, p, "%g is out of range [%g, %g]", x, lo, hi);
    }
    *out = x;
    return CO_OK;
}

static int get_int(struct ld *L, json_t *o, const char *path, const char *key, int required,
                   long lo, long hi, int *out)
{
    char p[300];
    json_t *v = json_object_get(o, key);
    if (v == NULL && !required)
        return CO_OK;
    json_int_t x = json_integer_value(v);
    if (v == NULL || !json_is_integer(v) || x < lo || x > hi) {
        join(p, sizeof p, path, key);
        if (v == NULL)
            return fail(L, p, "missing (expected an integer)");
        if (!json_is_integer(v))
            return fail(L, p, "expected an integer");
        return fail(L, p, "%lld is out of range [%ld, %ld]", (long long)x, lo, hi);
    }
    *out = (int)x;
    return CO_OK;
}

static int get_bool(struct ld *L, json_t *o, const char *path, const char *key, int *out)
{
    char p[300];
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return CO_OK;
    if (!json_is_boolean(v)) {
        join(p, sizeof p, path, key);
        return fail(L, p, "expected true or false");
    }
    *out = json_is_true(v);
    return CO_OK;
}

static int get_str(struct ld *L, json_t *o, const char *path, const char *key, int required,
                   const char **out)
{
    char p[300];
    json_t *v = json_object_get(o, key);
    if (v == NULL && !required)
        return CO_OK;
    if (v == NULL || !json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        join(p, sizeof p, path, key);
        return fail(L, p, v == NULL ? "missing (expected a string)" : "expected a non-empty string");
    }
    *out = json_string_value(v);
    return CO_OK;
}

/* One of a fixed set of words: *out = its index in names (NULL-terminated);
 * left alone when the key is absent. */
static int get_choice(struct ld *L, json_t *o, const char *path, const char *key,
                      const char *const *names, int *out)
{
    const char *s = NULL;
    int rc = get_str(L, o, path, key, 0, &s);
    if (rc != CO_OK || s == NULL)
        return rc;
    int n = 0;
    for (; names[n]; n++)
        if (strcmp(s, names[n]) == 0) {
            *out = n;
            return CO_OK;
        }
    char p[300], list[256];
    size_t k = 0;
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(list + k, k < sizeof list ? sizeof list - k : 0, "%s%s",
                              i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    join(p, sizeof p, path, key);
    return fail(L, p, "'%s' is not %s", s, list);
}

/* A distribution: "5min" (fixed) or {"dist": KIND, params...}. */
static int get_dist(struct ld *L, json_t *v, const char *p, enum unit u, co_sim_dist *out)
{
    memset(out, 0, sizeof *out);
    if (json_is_string(v) || json_is_number(v)) {
        out->kind = CO_DIST_FIXED;
        int rc = quantity(L, v, p, u, &out->a);
        if (rc == CO_OK && out->a > 1e15)
            return fail(L, p, "%g is out of range [0, 1e15]", out->a);
        return rc;
    }
    if (!json_is_object(v))
        return fail(L, p, "expected %s or a distribution {\"dist\": ...}", unit_example(u));
    const char *kind = NULL;
    int rc = get_str(L, v, p, "dist", 1, &kind);
    if (rc)
        return rc;
    static const char *const fx[] = {"dist", "value", NULL};
    static const char *const un[] = {"dist", "min", "max", NULL};
    static const char *const no[] = {"dist", "mean", "sd", NULL};
    static const char *const ln[] = {"dist", "median", "sigma", NULL};
    static const char *const wb[] = {"dist", "scale", "shape", NULL};
    static const char *const em[] = {"dist", "values", NULL};
    const double big = 1e15;
    if (strcmp(kind, "fixed") == 0) {
        out->kind = CO_DIST_FIXED;
        if ((rc = only(L, v, p, fx)) || (rc = get_q(L, v, p, "value", u, 1, 0, big, &out->a)))
            return rc;
    } else if (strcmp(kind, "uniform") == 0) {
        out->kind = CO_DIST_UNIFORM;
        if ((rc = only(L, v, p, un)) || (rc = get_q(L, v, p, "min", u, 1, 0, big, &out->a)) ||
            (rc = get_q(L, v, p, "max", u, 1, 0, big, &out->b)))
            return rc;
    } else if (strcmp(kind, "normal") == 0) {
        out->kind = CO_DIST_NORMAL;
        if ((rc = only(L, v, p, no)) || (rc = get_q(L, v, p, "mean", u, 1, 0, big, &out->a)) ||
            (rc = get_q(L, v, p, "sd", u, 1, 0, big, &out->b)))
            return rc;
    } else if (strcmp(kind, "lognormal") == 0) {
        out->kind = CO_DIST_LOGNORMAL;
        if ((rc = only(L, v, p, ln)) ||
            (rc = get_q(L, v, p, "median", u, 1, 0, big, &out->a)) ||
            (rc = get_q(L, v, p, "sigma", U_PLAIN, 1, 0, 10, &out->b)))
            return rc;
    } else if (strcmp(kind, "weibull") == 0) {
        out->kind = CO_DIST_WEIBULL;
        if ((rc = only(L, v, p, wb)) ||
            (rc = get_q(L, v, p, "scale", u, 1, 1e-9, big, &out->a)) ||
            (rc = get_q(L, v, p, "shape", U_PLAIN, 1, 0.05, 100, &out->b)))
            return rc;
    } else if (strcmp(kind, "empirical") == 0) {
        out->kind = CO_DIST_EMPIRICAL;
        if ((rc = only(L, v, p, em)))
            return rc;
        char q[300];
        join(q, sizeof q, p, "values");
        json_t *a = json_object_get(v, "values");
        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 1000000)
            return fail(L, q, "expected a non-empty array of values");
        size_t n = json_array_size(a);
        out->values = calloc(n, sizeof(double));
        if (out->values == NULL)
            return oom(L);
        out->n = (int)n;
        for (size_t i = 0; i < n; i++) {
            char e[340];
            snprintf(e, sizeof e, "%s[%zu]", q, i);
            if ((rc = quantity(L, json_array_get(a, i), e, u, &out->values[i])))
                return rc;
        }
    } else {
        char q[300];
        join(q, sizeof q, p, "dist");
        return fail(L, q, "unknown distribution '%s' (fixed, uniform, normal, lognormal, "
                          "weibull, empirical)", kind);
    }
    const char *why;
    if (co_sim_dist_check(out, &why) != CO_OK)
        return fail(L, p, "%s distribution %s", kind, why);
    return CO_OK;
}

static int get_dist_key(struct ld *L, json_t *o, const char *path, const char *key, enum unit u,
                        co_sim_dist *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return CO_OK;
    char p[300];
    join(p, sizeof p, path, key);
    if (out->kind == CO_DIST_EMPIRICAL)
        free(out->values);
    return get_dist(L, v, p, u, out);
}

/* ----------------------------------------------------------- execution */

/* What `cutover cycle` reads beyond the forecast: the top-level "hooks" and
 * plan "execution" (docs/simulate.md, "Execution: hooks and plan.execution").
 * The simulator never looks at them. */

static const char *const hook_keys[CO_HOOK_N] = {
    [CO_HOOK_BEFORE_CYCLE] = "before_cycle",
    [CO_HOOK_PREFLIGHT] = "preflight",
    [CO_HOOK_STAGE] = "stage",
    [CO_HOOK_ENTER_MAINTENANCE] = "enter_maintenance",
    [CO_HOOK_PATCH] = "patch",
    [CO_HOOK_REBOOT] = "reboot",
    [CO_HOOK_FIRMWARE] = "firmware",
    [CO_HOOK_VALIDATE] = "validate",
    [CO_HOOK_EXIT_MAINTENANCE] = "exit_maintenance",
    [CO_HOOK_AFTER_CYCLE] = "after_cycle",
    [CO_HOOK_MTU_PROBE] = "mtu_probe",
    [CO_HOOK_CLOCK_PROBE] = "clock_probe",
    [CO_HOOK_SCRATCH_PROBE] = "scratch_probe",
};

const char *co_sim_hook_name(int kind)
{
    return kind >= 0 && kind < CO_HOOK_N ? hook_keys[kind] : "?";
}

/* In the order of cycle/hook.c's values (co_sim_hook_placeholder's contract). */
static const char *const placeholders[] = {"{host}", "{uri}", "{migration_uri}", "{step}",
                                           "{journal_dir}"};
#define NPLACEHOLDERS ((int)(sizeof placeholders / sizeof placeholders[0]))

int co_sim_hook_placeholder(const char *s)
{
    for (int i = 0; s && i < NPLACEHOLDERS; i++)
        if (strcmp(s, placeholders[i]) == 0)
            return i;
    return -1;
}

/* In the order of cycle/preflight.c's values (co_sim_probe_placeholder). */
static const char *const probe_placeholders[] = {"{peer}", "{peer_addr}", "{mtu}", "{payload}"};
#define NPROBE ((int)(sizeof probe_placeholders / sizeof probe_placeholders[0]))

int co_sim_probe_placeholder(const char *s)
{
    for (int i = 0; s && i < NPROBE; i++)
        if (strcmp(s, probe_placeholders[i]) == 0)
            return i;
    return -1;
}

const char *co_sim_hook_embedded(const char *s)
{
    for (int i = 0; s && i < NPLACEHOLDERS; i++)
        if (strstr(s, placeholders[i]) != NULL && strcmp(s, placeholders[i]) != 0)
            return placeholders[i];
    for (int i = 0; s && i < NPROBE; i++)
        if (strstr(s, probe_placeholders[i]) != NULL && strcmp(s, probe_placeholders[i]) != 0)
            return probe_placeholders[i];
    return NULL;
}

void co_sim_exec_defaults(co_sim_exec *e)
{
    memset(e, 0, sizeof *e);
    for (int k = 0; k < CO_HOOK_N; k++)
        e->hook[k].timeout_ms = k == CO_HOOK_REBOOT || k == CO_HOOK_FIRMWARE ? 1800e3
                                : k >= CO_HOOK_MTU_PROBE                       ? 30e3
                                                                               : 600e3;
    e->return_timeout_ms = 600e3;
    e->return_backoff_ms = 1e3;
    e->clock_skew_max_ms = 300e3;
    e->scratch_min_bytes = 1073741824.0;
    e->fail_hosts_max = 0;
    e->fail_vms_over_budget_max = -1;
    e->unmovable = CO_UNMOV_SHUTDOWN;
    e->validate_vm = 0;
    e->mtu_check = 1;
}

/* One argv array: strings, the first the program; a placeholder only as a
 * whole element. */
static int load_argv(struct ld *L, json_t *a, const char *p, co_sim_hook *hk, int probe)
{
    if (!json_is_array(a))
        return fail(L, p, "expected an argv array of strings, e.g. [\"ssh\", \"{host}\", "
                          "\"apt-get\", \"-y\", \"upgrade\"]");
    size_t n = json_array_size(a);
    if (n == 0)
        return fail(L, p, "empty argv: give the program and its arguments, or leave the "
                          "hook out");
    if (n > 4096)
        return fail(L, p, "%zu arguments: at most 4096", n);
    hk->argv = calloc(n + 1, sizeof(char *)); /* NULL-terminated as it fills: freeable */
    if (hk->argv == NULL)
        return oom(L);
    for (size_t i = 0; i < n; i++) {
        char e[340];
        snprintf(e, sizeof e, "%s[%zu]", p, i);
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v))
            return fail(L, e, "expected a string (every argv element is one)");
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return fail(L, e, "holds a NUL character");
        const char *ph = co_sim_hook_embedded(s);
        if (ph != NULL)
            return fail(L, e,
                        "'%s' holds the placeholder %s inside a larger string: placeholders "
                        "must be whole elements (e.g. \"--host\", \"{host}\"), so a value is "
                        "always one argument and never re-parsed",
                        s, ph);
        if (i == 0 && s[0] == '\0')
            return fail(L, e, "the program (argv[0]) is empty");
        if (i == 0 && (co_sim_hook_placeholder(s) >= 0 || co_sim_probe_placeholder(s) >= 0))
            return fail(L, e, "the program (argv[0]) must be named, not a placeholder");
        if (!probe && co_sim_probe_placeholder(s) >= 0)
            return fail(L, e, "%s is a placeholder of hooks.mtu_probe only (a peer of the "
                              "MTU path check); this hook runs once per host",
                        s);
        if ((hk->argv[i] = strdup(s)) == NULL)
            return oom(L);
        hk->argc = (int)i + 1;
    }
    return CO_OK;
}

static int load_hooks(struct ld *L, json_t *o)
{
    co_sim_exec *x = &L->c->exec;
    if (o == NULL)
        return CO_OK;
    if (!json_is_object(o))
        return fail(L, "hooks", "expected an object of hooks (before_cycle, preflight, stage, "
                                "enter_maintenance, patch, reboot, firmware, validate, "
                                "exit_maintenance, after_cycle, mtu_probe, clock_probe, "
                                "scratch_probe)");
    static const char *const keys[] = {"before_cycle", "preflight", "stage",
                                       "enter_maintenance", "patch", "reboot", "firmware",
                                       "validate", "exit_maintenance", "after_cycle",
                                       "mtu_probe", "clock_probe", "scratch_probe", "comment",
                                       NULL};
    int rc;
    if ((rc = only(L, o, "hooks", keys)))
        return rc;
    for (int k = 0; k < CO_HOOK_N; k++) {
        json_t *v = json_object_get(o, hook_keys[k]);
        if (v == NULL)
            continue;
        char p[64];
        snprintf(p, sizeof p, "hooks.%s", hook_keys[k]);
        co_sim_hook *hk = &x->hook[k];
        if (json_is_array(v)) {
            if ((rc = load_argv(L, v, p, hk, k == CO_HOOK_MTU_PROBE)))
                return rc;
        } else if (json_is_object(v)) {
            static const char *const hk_keys[] = {"argv", "timeout", "comment", NULL};
            char ap[80];
            snprintf(ap, sizeof ap, "%s.argv", p);
            json_t *a = json_object_get(v, "argv");
            if ((rc = only(L, v, p, hk_keys)))
                return rc;
            if (a == NULL)
                return fail(L, p, "missing \"argv\" (the program and its arguments)");
            if ((rc = load_argv(L, a, ap, hk, k == CO_HOOK_MTU_PROBE)) ||
                (rc = get_q(L, v, p, "timeout", U_TIME, 0, 1, 1e9, &hk->timeout_ms)))
                return rc;
        } else {
            return fail(L, p, "expected an argv array of strings, or {\"argv\": [...], "
                              "\"timeout\": \"10min\"}");
        }
    }
    return CO_OK;
}

static int load_exec(struct ld *L, json_t *o)
{
    co_sim_exec *x = &L->c->exec;
    const char *p = "plan.execution";
    if (o == NULL)
        return CO_OK;
    if (!json_is_object(o))
        return fail(L, p, "expected an object");
    static const char *const keys[] = {"return_timeout", "return_backoff", "clock_skew_max",
                                       "scratch_min", "failure_budget", "unmovable",
                                       "validate_vm", "mtu_check", "comment", NULL};
    /* words in the order of enum co_sim_unmovable */
    static const char *const unmov[] = {"shutdown", "after-return", "leave", NULL};
    int rc;
    if ((rc = only(L, o, p, keys)) ||
        (rc = get_q(L, o, p, "return_timeout", U_TIME, 0, 1, 1e9, &x->return_timeout_ms)) ||
        (rc = get_q(L, o, p, "return_backoff", U_TIME, 0, 1, 3600e3, &x->return_backoff_ms)) ||
        (rc = get_q(L, o, p, "clock_skew_max", U_TIME, 0, 1, 86400e3, &x->clock_skew_max_ms)) ||
        (rc = get_q(L, o, p, "scratch_min", U_SIZE, 0, 0, 1e18, &x->scratch_min_bytes)) ||
        (rc = get_choice(L, o, p, "unmovable", unmov, &x->unmovable)) ||
        (rc = get_bool(L, o, p, "validate_vm", &x->validate_vm)) ||
        (rc = get_bool(L, o, p, "mtu_check", &x->mtu_check)))
        return rc;
    json_t *fb = json_object_get(o, "failure_budget");
    if (fb != NULL) {
        const char *fp = "plan.execution.failure_budget";
        static const char *const fk[] = {"hosts", "vms_over_budget", "comment", NULL};
        if (!json_is_object(fb))
            return fail(L, fp, "expected an object {\"hosts\": N, \"vms_over_budget\": N}");
        if ((rc = only(L, fb, fp, fk)) ||
            (rc = get_int(L, fb, fp, "hosts", 0, 0, 1000000, &x->fail_hosts_max)))
            return rc;
        json_t *vb = json_object_get(fb, "vms_over_budget");
        if (json_is_string(vb) && strcmp(json_string_value(vb), "any") == 0)
            x->fail_vms_over_budget_max = -1;
        else if (vb != NULL && !json_is_integer(vb))
            return fail(L, "plan.execution.failure_budget.vms_over_budget",
                        "expected an integer >= 0 or \"any\"");
        else if ((rc = get_int(L, fb, fp, "vms_over_budget", 0, 0, 100000000,
                               &x->fail_vms_over_budget_max)))
            return rc;
    }
    return CO_OK;
}

/* ---------------------------------------------------------------- plan */

void co_sim_plan_defaults(co_sim_plan *p)
{
    memset(p, 0, sizeof *p);
    p->order = CO_ORDER_DOMAIN;
    p->max_in_maint = 1;
    co_sim_plan_preset(p, "nova");
    /* Nova's cpu_allocation_ratio default since 2023.1 (initial 4.0) */
    p->cpu_ratio = 4.0;
    co_mig_defaults(&p->mig);
    p->stun_budget_ms = 1000;
    p->share_tolerance = 0.02;
    p->rebalance = CO_REBAL_RETURN;
    static const double def_ms[CO_STEP_N] = {
        [CO_STEP_HEALTH] = 120e3,   [CO_STEP_ENTER] = 30e3,     [CO_STEP_REPO_SYNC] = 180e3,
        [CO_STEP_APPLY] = 300e3,    [CO_STEP_REBOOT] = 480e3,   [CO_STEP_FIRMWARE] = 900e3,
        [CO_STEP_FW_REBOOT] = 480e3, [CO_STEP_VALIDATE] = 180e3, [CO_STEP_EXIT] = 30e3,
        [CO_STEP_REBALANCE] = 120e3, [CO_STEP_ROLLBACK] = 300e3, [CO_STEP_REPAIR] = 4 * 3600e3,
    };
    for (int s = 0; s < CO_STEP_N; s++)
        p->step[s] = (co_sim_dist){.kind = CO_DIST_FIXED, .a = def_ms[s]};
    p->on_abort = CO_ABORT_RETRY;
    p->max_retries = 2;
    p->vm_restart = (co_sim_dist){.kind = CO_DIST_FIXED, .a = 90e3};
}

int co_sim_plan_preset(co_sim_plan *p, const char *name)
{
    /* Nova: max_concurrent_live_migrations = 1 per compute host; KubeVirt:
     * parallelOutboundMigrationsPerNode 2, parallelMigrationsPerCluster 5;
     * vSphere: 8 concurrent vMotions per host on 10 GbE (docs/simulate.md). */
    if (strcmp(name, "nova") == 0) {
        p->per_host = 1;
        p->per_cluster = 0;
        p->count_incoming = 0;
    } else if (strcmp(name, "kubevirt") == 0) {
        p->per_host = 2;
        p->per_cluster = 5;
        p->count_incoming = 0;
    } else if (strcmp(name, "vsphere") == 0) {
        /* vCenter charges a vMotion to both hosts */
        p->per_host = 8;
        p->per_cluster = 0;
        p->count_incoming = 1;
    } else {
        return CO_EDATA;
    }
    snprintf(p->preset, sizeof p->preset, "%s", name);
    return CO_OK;
}

static const char *const step_keys[CO_STEP_N] = {
    [CO_STEP_HEALTH] = "health_check",   [CO_STEP_ENTER] = "enter_maintenance",
    [CO_STEP_EVACUATE] = NULL,           [CO_STEP_REPO_SYNC] = "repo_sync",
    [CO_STEP_APPLY] = "apply",           [CO_STEP_REBOOT] = "reboot",
    [CO_STEP_FIRMWARE] = "firmware",     [CO_STEP_FW_REBOOT] = "firmware_reboot",
    [CO_STEP_VALIDATE] = "validate",     [CO_STEP_EXIT] = "exit_maintenance",
    [CO_STEP_REBALANCE] = "rebalance",   [CO_STEP_ROLLBACK] = NULL,
    [CO_STEP_REPAIR] = NULL,
};

const char *co_sim_step_name(int step)
{
    static const char *const n[CO_STEP_N] = {
        "health_check", "enter_maintenance", "evacuate", "repo_sync", "apply",
        "reboot", "firmware", "firmware_reboot", "validate", "exit_maintenance",
        "rebalance", "rollback", "repair"};
    return step >= 0 && step < CO_STEP_N ? n[step] : "?";
}

static int host_list(struct ld *L, json_t *a, const char *p, struct names *hn, int **out,
                     int *n)
{
    if (!json_is_array(a))
        return fail(L, p, "expected an array of host names");
    size_t k = json_array_size(a);
    int *ids = calloc(k ? k : 1, sizeof(int));
    if (ids == NULL)
        return oom(L);
    for (size_t i = 0; i < k; i++) {
        char e[340];
        snprintf(e, sizeof e, "%s[%zu]", p, i);
        json_t *s = json_array_get(a, i);
        int h = json_is_string(s) ? names_get(hn, json_string_value(s)) : -1;
        if (h < 0) {
            free(ids);
            return json_is_string(s) ? fail(L, e, "no host named '%s'", json_string_value(s))
                                     : fail(L, e, "expected a host name");
        }
        ids[i] = h;
    }
    *out = ids;
    *n = (int)k;
    return CO_OK;
}

static int load_plan(struct ld *L, json_t *o, struct names *hn)
{
    co_sim_cluster *c = L->c;
    co_sim_plan *p = &c->plan;
    int rc;
    static const char *const keys[] = {
        "hosts", "order", "canary", "canary_soak", "max_hosts_in_maintenance", "concurrency",
        "cpu_allocation_ratio", "policy", "stun_budget", "steps", "firmware_fraction",
        "faults", "share_tolerance", "rebalance", "execution", "comment", NULL};
    if (o != NULL && !json_is_object(o))
        return fail(L, "plan", "expected an object");
    p->canary = calloc((size_t)c->nhosts, sizeof(int));
    if (p->canary == NULL)
        return oom(L);
    json_t *a = o ? json_object_get(o, "hosts") : NULL;
    if (a) {
        int *ids, n;
        if ((rc = host_list(L, a, "plan.hosts", hn, &ids, &n)))
            return rc;
        p->hosts = ids;
        p->nhosts = n;
        char *seen = calloc((size_t)c->nhosts, 1);
        if (seen == NULL)
            return oom(L);
        for (int i = 0; i < n; i++) {
            if (seen[ids[i]]) {
                free(seen);
                char e[64];
                snprintf(e, sizeof e, "plan.hosts[%d]", i);
                return fail(L, e, "host '%s' is listed twice", c->hosts[ids[i]].name);
            }
            seen[ids[i]] = 1;
        }
        free(seen);
    } else {
        p->hosts = calloc((size_t)c->nhosts, sizeof(int));
        if (p->hosts == NULL)
            return oom(L);
        for (int h = 0; h < c->nhosts; h++)
            p->hosts[h] = h;
        p->nhosts = c->nhosts;
    }
    if (o == NULL)
        return CO_OK;
    if ((rc = only(L, o, "plan", keys)))
        return rc;
    /* word lists in the order of enum co_sim_order, co_sim_rebalance */
    static const char *const orders[] = {"failure_domain", "list", NULL};
    static const char *const rebal[] = {"return", "duration", "balance", NULL};
    if ((rc = get_choice(L, o, "plan", "order", orders, &p->order)) ||
        (rc = get_choice(L, o, "plan", "rebalance", rebal, &p->rebalance)))
        return rc;
    if ((a = json_object_get(o, "canary"))) {
        int *ids, n;
        if ((rc = host_list(L, a, "plan.canary", hn, &ids, &n)))
            return rc;
        for (int i = 0; i < n; i++)
            p->canary[ids[i]] = 1;
        free(ids);
    }
    double soak_ms = 0;
    if ((rc = get_q(L, o, "plan", "canary_soak", U_TIME, 0, 0, 1e10, &soak_ms)))
        return rc;
    p->canary_soak_us = (co_sim_time)llround(soak_ms * CO_SIM_US_PER_MS);
    if ((rc = get_int(L, o, "plan", "max_hosts_in_maintenance", 0, 1, 1000000, &p->max_in_maint)))
        return rc;
    json_t *cc = json_object_get(o, "concurrency");
    if (json_is_string(cc)) {
        if (co_sim_plan_preset(p, json_string_value(cc)) != CO_OK)
            return fail(L, "plan.concurrency", "unknown preset '%s' (nova, kubevirt, vsphere)",
                        json_string_value(cc));
    } else if (json_is_object(cc)) {
        static const char *const ck[] = {"per_host", "per_cluster", "count_incoming", NULL};
        p->per_host = p->per_cluster = p->count_incoming = 0;
        if ((rc = only(L, cc, "plan.concurrency", ck)) ||
            (rc = get_int(L, cc, "plan.concurrency", "per_host", 0, 0, 1000000, &p->per_host)) ||
            (rc = get_int(L, cc, "plan.concurrency", "per_cluster", 0, 0, 100000000,
                          &p->per_cluster)) ||
            (rc = get_bool(L, cc, "plan.concurrency", "count_incoming", &p->count_incoming)))
            return rc;
        snprintf(p->preset, sizeof p->preset, "custom");
    } else if (cc != NULL) {
        return fail(L, "plan.concurrency", "expected a preset name or {\"per_host\", \"per_cluster\"}");
    }
    if ((rc = get_q(L, o, "plan", "cpu_allocation_ratio", U_PLAIN, 0, 0.01, 1000, &p->cpu_ratio)) ||
        (rc = get_q(L, o, "plan", "stun_budget", U_TIME, 0, 0, 1e9, &p->stun_budget_ms)) ||
        (rc = get_q(L, o, "plan", "firmware_fraction", U_PLAIN, 0, 0, 1, &p->firmware_fraction)) ||
        (rc = get_q(L, o, "plan", "share_tolerance", U_PLAIN, 0, 0, 0.5, &p->share_tolerance)))
        return rc;

    json_t *pol = json_object_get(o, "policy");
    if (pol) {
        static const char *const pk[] = {"mode", "downtime_limit", "auto_converge",
                                         "max_bandwidth", "hybrid_passes", "channel_cap",
                                         "deadline", "switchover_cost", NULL};
        if (!json_is_object(pol))
            return fail(L, "plan.policy", "expected an object");
        if ((rc = only(L, pol, "plan.policy", pk)))
            return rc;
        /* QEMU-side modes in the order of the model's enum */
        static const char *const modes[] = {"precopy", "postcopy", "hybrid", "pause", NULL};
        if ((rc = get_choice(L, pol, "plan.policy", "mode", modes, &p->mig.mode)))
            return rc;
        if ((rc = get_q(L, pol, "plan.policy", "downtime_limit", U_TIME, 0, 0.001, 3600e3,
                        &p->mig.downtime_limit_ms)) ||
            (rc = get_bool(L, pol, "plan.policy", "auto_converge", &p->mig.auto_converge)) ||
            (rc = get_q(L, pol, "plan.policy", "max_bandwidth", U_RATE, 0, 0, 1e14,
                        &p->mig.link.max_bandwidth_bytes_per_s)) ||
            (rc = get_int(L, pol, "plan.policy", "hybrid_passes", 0, 0, 100000,
                          &p->mig.hybrid_passes)) ||
            (rc = get_q(L, pol, "plan.policy", "channel_cap", U_RATE, 0, 1e3, 1e14,
                        &p->mig.link.channel_cap_bytes_per_s)) ||
            (rc = get_q(L, pol, "plan.policy", "deadline", U_TIME, 0, 1, 1e12, &p->mig.deadline_ms)) ||
            (rc = get_q(L, pol, "plan.policy", "switchover_cost", U_TIME, 0, 0, 3600e3,
                        &p->mig.switchover_cost_ms)))
            return rc;
    }
    json_t *st = json_object_get(o, "steps");
    if (st) {
        static const char *const sk[] = {"health_check", "enter_maintenance", "repo_sync",
                                         "apply", "reboot", "firmware", "firmware_reboot",
                                         "validate", "exit_maintenance", "rebalance", NULL};
        if (!json_is_object(st))
            return fail(L, "plan.steps", "expected an object of step durations");
        if ((rc = only(L, st, "plan.steps", sk)))
            return rc;
        for (int i = 0; i < CO_STEP_N; i++)
            if (step_keys[i] && (rc = get_dist_key(L, st, "plan.steps", step_keys[i], U_TIME,
                                                   &p->step[i])))
                return rc;
    }
    json_t *f = json_object_get(o, "faults");
    if (f) {
        static const char *const fk[] = {"patch_fail_prob", "rollback", "no_return_prob",
                                         "repair", "migration_abort_prob", "on_abort",
                                         "max_retries", "vm_restart", "validate_fail_prob",
                                         NULL};
        const char *fp = "plan.faults";
        if (!json_is_object(f))
            return fail(L, fp, "expected an object");
        if ((rc = only(L, f, fp, fk)) ||
            (rc = get_q(L, f, fp, "patch_fail_prob", U_PLAIN, 0, 0, 1, &p->p_patch_fail)) ||
            (rc = get_q(L, f, fp, "no_return_prob", U_PLAIN, 0, 0, 1, &p->p_no_return)) ||
            (rc = get_q(L, f, fp, "validate_fail_prob", U_PLAIN, 0, 0, 1,
                        &p->p_validate_fail)) ||
            (rc = get_q(L, f, fp, "migration_abort_prob", U_PLAIN, 0, 0, 1, &p->p_mig_abort)) ||
            (rc = get_int(L, f, fp, "max_retries", 0, 0, 100, &p->max_retries)) ||
            (rc = get_dist_key(L, f, fp, "rollback", U_TIME, &p->step[CO_STEP_ROLLBACK])) ||
            (rc = get_dist_key(L, f, fp, "repair", U_TIME, &p->step[CO_STEP_REPAIR])) ||
            (rc = get_dist_key(L, f, fp, "vm_restart", U_TIME, &p->vm_restart)))
            return rc;
        static const char *const aborts[] = {"retry", "cold", NULL}; /* enum co_sim_on_abort */
        if ((rc = get_choice(L, f, fp, "on_abort", aborts, &p->on_abort)))
            return rc;
    }
    if ((rc = load_exec(L, json_object_get(o, "execution"))))
        return rc;
    const char *field = NULL;
    co_mig_params t = p->mig;
    t.mem_bytes = 1 << 30;
    if (co_mig_check(&t, &field) != CO_OK)
        return fail(L, "plan.policy", "migration policy out of range (%s)", field);
    return CO_OK;
}

/* ------------------------------------------------------------ VM dirty */

/* A `--dirty` spec string (traces/profile.h), e.g. "uniform:wss=1GiB,rate=5000"
 * or "trace:FILE" with FILE relative to the cluster file's directory. */
static int dirty_spec(struct ld *L, const char *spec, const char *p, co_sim_profile *pf)
{
    char buf[4096];
    if (strncmp(spec, "trace:", 6) == 0 && spec[6] != '/' && strchr(L->name, '/') != NULL) {
        int dir = (int)(strrchr(L->name, '/') - L->name);
        if (snprintf(buf, sizeof buf, "trace:%.*s/%s", dir, L->name, spec + 6) >= (int)sizeof buf)
            return fail(L, p, "trace path too long");
        spec = buf;
    }
    co_diag td;
    co_diag_init(&td);
    int rc = co_profile_parse(spec, pf->mem_bytes, 4096, p, &pf->dirty, &td);
    if (rc == CO_OK)
        return CO_OK;
    const char *m = td.msg;
    size_t pl = strlen(p);
    if (strncmp(m, p, pl) == 0 && strncmp(m + pl, ": ", 2) == 0)
        m += pl + 2; /* the parser named the field too */
    fail(L, p, "%s", m);
    if (rc == CO_ENOINPUT)
        L->d->code = CO_ENOINPUT; /* the trace it names is missing: 66, not 65 */
    return L->d->code;
}

static int load_dirty(struct ld *L, json_t *o, const char *p, co_sim_profile *pf)
{
    int rc;
    const double page = 4096.0;
    co_dirty_none(&pf->dirty);
    if (o == NULL)
        return CO_OK;
    if (json_is_string(o))
        return dirty_spec(L, json_string_value(o), p, pf);
    if (!json_is_object(o))
        return fail(L, p, "expected a --dirty spec string or an object {\"kind\": ...}");
    static const char *const keys[] = {"kind", "wss", "rate_pages_per_s", "hot", "cold",
                                       "hot_frac", "points", "cap", "comment", NULL};
    if ((rc = only(L, o, p, keys)))
        return rc;
    const char *kind = NULL;
    if ((rc = get_str(L, o, p, "kind", 1, &kind)))
        return rc;
    double wss = 0, hot = 0, cold = 0, hf = 0, cap = 0, rate = 0;
    char rp[300];
    join(rp, sizeof rp, p, "rate_pages_per_s");
    json_t *rv = json_object_get(o, "rate_pages_per_s");
    if (rv && json_is_object(rv)) {
        if ((rc = get_dist(L, rv, rp, U_PLAIN, &pf->rate)))
            return rc;
        pf->rate_sampled = 1;
        rate = co_sim_dist_mean(&pf->rate);
    } else if (rv) {
        if ((rc = quantity(L, rv, rp, U_PLAIN, &rate)))
            return rc;
    }
    if ((rc = get_q(L, o, p, "wss", U_SIZE, 0, 0, 1e15, &wss)) ||
        (rc = get_q(L, o, p, "hot", U_SIZE, 0, 0, 1e15, &hot)) ||
        (rc = get_q(L, o, p, "cold", U_SIZE, 0, 0, 1e15, &cold)) ||
        (rc = get_q(L, o, p, "hot_frac", U_PLAIN, 0, 0, 1, &hf)) ||
        (rc = get_q(L, o, p, "cap", U_SIZE, 0, 0, 1e15, &cap)))
        return rc;
    int need_rate = 1;
    if (strcmp(kind, "none") == 0) {
        need_rate = 0;
        rc = co_dirty_none(&pf->dirty);
    } else if (strcmp(kind, "uniform") == 0 || strcmp(kind, "seq") == 0) {
        if (wss < page)
            return fail(L, p, "%s needs \"wss\" of at least one page", kind);
        rc = kind[0] == 'u' ? co_dirty_uniform(&pf->dirty, wss / page, rate)
                            : co_dirty_seq(&pf->dirty, wss / page, rate);
    } else if (strcmp(kind, "hotcold") == 0) {
        if (hot + cold < page)
            return fail(L, p, "hotcold needs \"hot\" and \"cold\" sizes");
        rc = co_dirty_hotcold(&pf->dirty, hot / page, cold / page, hf, rate);
    } else if (strcmp(kind, "table") == 0) {
        need_rate = 0;
        if (pf->rate_sampled)
            return fail(L, rp, "a table curve takes no rate");
        char pp[300];
        join(pp, sizeof pp, p, "points");
        json_t *pts = json_object_get(o, "points");
        if (!json_is_array(pts) || json_array_size(pts) < 1 ||
            json_array_size(pts) > CO_DIRTY_TABLE_MAX)
            return fail(L, pp, "expected 1..%d points [t_s, pages]", CO_DIRTY_TABLE_MAX);
        double ts[CO_DIRTY_TABLE_MAX], pg[CO_DIRTY_TABLE_MAX];
        int n = (int)json_array_size(pts);
        for (int i = 0; i < n; i++) {
            json_t *pt = json_array_get(pts, (size_t)i);
            char e[340];
            snprintf(e, sizeof e, "%s[%d]", pp, i);
            if (!json_is_array(pt) || json_array_size(pt) != 2 ||
                !json_is_number(json_array_get(pt, 0)) || !json_is_number(json_array_get(pt, 1)))
                return fail(L, e, "expected [t_s, pages]");
            ts[i] = json_number_value(json_array_get(pt, 0));
            pg[i] = json_number_value(json_array_get(pt, 1));
        }
        rc = co_dirty_table(&pf->dirty, ts, pg, n, cap / page);
        if (rc != CO_OK)
            return fail(L, pp, "points must have t_s > 0 increasing and pages >= 0 non-decreasing");
    } else {
        char kp[300];
        join(kp, sizeof kp, p, "kind");
        return fail(L, kp, "unknown dirty kind '%s' (none, uniform, hotcold, seq, table)", kind);
    }
    if (need_rate && rv == NULL)
        return fail(L, rp, "missing (pages per second, a number or a distribution)");
    if (rc != CO_OK)
        return fail(L, p, "dirty curve out of range");
    return CO_OK;
}

/* -------------------------------------------------------------- cluster */

static int find_key(const char *t, size_t n, const char *qkey, size_t *a0, size_t *a1);
static int split_array(const char *t, size_t a0, size_t a1, size_t **off, size_t **len,
                       size_t *count);

/* The line of each element of the top-level "hosts" array, from one scan of
 * the text: co_json_line_of per host scans the whole file each time, which
 * made loading quadratic in hosts (23 s for a 1,000-host fleet). NULL when
 * the scanner does not follow the text (then co_json_line_of per host, as
 * before); also when brackets nest deeper than co_json_line_of follows (it
 * gives up past depth 200 and answers 0). */
static int *host_lines(const struct ld *L, size_t nhosts)
{
    size_t a0, a1, *off = NULL, *len = NULL, n = 0;
    if (L->text == NULL || find_key(L->text, L->len, "\"hosts\"", &a0, &a1) != 0 ||
        split_array(L->text, a0, a1, &off, &len, &n) != 0)
        return NULL;
    int *line = n == nhosts ? malloc((n + 1) * sizeof *line) : NULL;
    int ln = 1, depth = 0, deep = 0;
    size_t k = 0;
    for (size_t i = 0; line && k < n && i < a1; i++) {
        char ch = L->text[i];
        if (i == off[k])
            line[k++] = ln;
        if (ch == '\n')
            ln++;
        else if (ch == '"') { /* strings: skip, counting raw newlines */
            for (i++; i < a1 && L->text[i] != '"'; i++)
                if (L->text[i] == '\\')
                    i++;
                else if (L->text[i] == '\n')
                    ln++;
        } else if (ch == '{' || ch == '[') {
            if (++depth > 150)
                deep = 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    if (line && (k != n || deep)) {
        free(line);
        line = NULL;
    }
    free(off);
    free(len);
    return line;
}

static int load_hosts(struct ld *L, json_t *root, struct names *hn, struct names *un)
{
    co_sim_cluster *c = L->c;
    json_t *a = json_object_get(root, "hosts");
    if (!json_is_array(a) || json_array_size(a) == 0)
        return fail(L, "hosts", "expected a non-empty array of hosts");
    if (json_array_size(a) > 10000000)
        return fail(L, "hosts", "too many hosts");
    c->hosts = calloc(json_array_size(a), sizeof *c->hosts);
    if (c->hosts == NULL || names_init(hn, json_array_size(a)) != CO_OK)
        return oom(L);
    struct names dn, rn;
    if (names_init(&dn, 16) != CO_OK || names_init(&rn, 16) != CO_OK) {
        names_free(&dn);
        return oom(L);
    }
    static const char *const keys[] = {"name", "cores", "mem", "nic_rate", "mtu", "channels",
                                       "failure_domain", "rack", "uplink", "uri", "migration_uri",
                                       "comment", NULL};
    int rc = CO_OK;
    int *lines = host_lines(L, json_array_size(a));
    for (size_t i = 0; i < json_array_size(a) && rc == CO_OK; i++) {
        json_t *o = json_array_get(a, i);
        char p[64];
        snprintf(p, sizeof p, "hosts[%zu]", i);
        if (!json_is_object(o)) {
            rc = fail(L, p, "expected an object");
            break;
        }
        co_sim_host *h = &c->hosts[c->nhosts];
        h->mtu = 1500;
        h->channels = 1;
        h->line = lines ? lines[i] : L->text ? co_json_line_of(L->text, L->len, p) : 0;
        const char *name = NULL, *dom = "default", *rack = "default", *up = NULL, *uri = NULL,
                   *muri = NULL;
        if ((rc = only(L, o, p, keys)) || (rc = get_str(L, o, p, "name", 1, &name)) ||
            (rc = get_int(L, o, p, "cores", 1, 1, 1000000, &h->cores)) ||
            (rc = get_q(L, o, p, "mem", U_SIZE, 1, 1 << 20, 1e15, &h->mem_bytes)) ||
            (rc = get_q(L, o, p, "nic_rate", U_RATE, 1, 1e5, 1e13, &h->nic_bytes_per_s)) ||
            (rc = get_int(L, o, p, "mtu", 0, CO_LINK_MTU_MIN, CO_LINK_MTU_MAX, &h->mtu)) ||
            (rc = get_int(L, o, p, "channels", 0, 1, 256, &h->channels)) ||
            (rc = get_str(L, o, p, "failure_domain", 0, &dom)) ||
            (rc = get_str(L, o, p, "rack", 0, &rack)) || (rc = get_str(L, o, p, "uplink", 0, &up)) ||
            (rc = get_str(L, o, p, "uri", 0, &uri)) ||
            (rc = get_str(L, o, p, "migration_uri", 0, &muri)))
            break;
        if (names_get(hn, name) >= 0) {
            char e[80];
            snprintf(e, sizeof e, "%s.name", p);
            rc = fail(L, e, "duplicate host name '%s'", name);
            break;
        }
        if ((h->name = strdup(name)) == NULL || names_put(hn, h->name, c->nhosts) != CO_OK) {
            rc = oom(L);
            break;
        }
        c->nhosts++;
        if ((uri && (h->uri = strdup(uri)) == NULL) ||
            (muri && (h->migration_uri = strdup(muri)) == NULL)) {
            rc = oom(L);
            break;
        }
        h->domain = intern(&c->domains, &c->ndomains, &dn, dom);
        h->rack = intern(&c->racks, &c->nracks, &rn, rack);
        if (h->domain < 0 || h->rack < 0) {
            rc = oom(L);
            break;
        }
        h->uplink = -1;
        if (up) {
            h->uplink = names_get(un, up);
            if (h->uplink < 0) {
                char e[80];
                snprintf(e, sizeof e, "%s.uplink", p);
                rc = fail(L, e, "no uplink named '%s' in \"uplinks\"", up);
            }
        }
    }
    free(lines);
    names_free(&dn);
    names_free(&rn);
    return rc;
}

static int load_uplinks(struct ld *L, json_t *root, struct names *un)
{
    co_sim_cluster *c = L->c;
    json_t *a = json_object_get(root, "uplinks");
    if (names_init(un, a ? json_array_size(a) : 0) != CO_OK)
        return oom(L);
    if (a == NULL)
        return CO_OK;
    if (!json_is_array(a))
        return fail(L, "uplinks", "expected an array");
    c->uplinks = calloc(json_array_size(a) + 1, sizeof *c->uplinks);
    if (c->uplinks == NULL)
        return oom(L);
    static const char *const keys[] = {"name", "rate", "comment", NULL};
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        char p[64];
        snprintf(p, sizeof p, "uplinks[%zu]", i);
        if (!json_is_object(o))
            return fail(L, p, "expected an object");
        const char *name = NULL;
        co_sim_uplink *u = &c->uplinks[c->nuplinks];
        int rc;
        if ((rc = only(L, o, p, keys)) || (rc = get_str(L, o, p, "name", 1, &name)) ||
            (rc = get_q(L, o, p, "rate", U_RATE, 1, 1e5, 1e14, &u->rate_bytes_per_s)))
            return rc;
        if (names_get(un, name) >= 0) {
            char e[80];
            snprintf(e, sizeof e, "%s.name", p);
            return fail(L, e, "duplicate uplink name '%s'", name);
        }
        if ((u->name = strdup(name)) == NULL || names_put(un, u->name, c->nuplinks) != CO_OK)
            return oom(L);
        c->nuplinks++;
    }
    return CO_OK;
}

/* ------------------------------------------- the VM array, one at a time */

/* A fleet's file is mostly its "vms" array, and jansson's tree of it takes
 * about 13 bytes per byte of text (26 MB for 20,000 VMs). So the loader
 * finds the array with a small scanner, parses the rest of the file with
 * the array emptied ("[]"), and parses the VMs one by one (fast_vm, else
 * jansson). Any doubt (the scanner does not
 * understand the text) and the whole file goes to jansson as before, which
 * also reports syntax errors with their line and column. */
static size_t ws(const char *t, size_t i, size_t n)
{
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* End (one past) of the JSON value starting at t[i], or 0 when it is not
 * one the scanner can skip. */
static size_t skip_value(const char *t, size_t i, size_t n)
{
    if (i >= n)
        return 0;
    if (t[i] == '"') {
        for (i++; i < n; i++)
            if (t[i] == '\\')
                i++;
            else if (t[i] == '"')
                return i + 1;
        return 0;
    }
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            char ch = t[i];
            if (ch == '"') {
                size_t e = skip_value(t, i, n);
                if (e == 0)
                    return 0;
                i = e - 1;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return 0;
    }
    size_t j = i;
    while (j < n && (isalnum((unsigned char)t[j]) || t[j] == '-' || t[j] == '+' || t[j] == '.'))
        j++;
    return j > i ? j : 0;
}

/* The top-level array under qkey (quoted, as written: "\"vms\""): [*a0, *a1)
 * spans its text from '[' to ']'. 0 when found, -1 otherwise (absent, or
 * text the scanner does not follow). */
static int find_key(const char *t, size_t n, const char *qkey, size_t *a0, size_t *a1)
{
    size_t ql = strlen(qkey);
    size_t i = ws(t, 0, n);
    if (i >= n || t[i] != '{')
        return -1;
    i = ws(t, i + 1, n);
    while (i < n && t[i] == '"') {
        size_t k = skip_value(t, i, n);
        if (k == 0)
            return -1;
        int is_key = k - i == ql && memcmp(t + i, qkey, ql) == 0;
        i = ws(t, k, n);
        if (i >= n || t[i] != ':')
            return -1;
        i = ws(t, i + 1, n);
        size_t e = skip_value(t, i, n);
        if (e == 0)
            return -1;
        if (is_key && t[i] == '[') {
            *a0 = i;
            *a1 = e;
            return 0;
        }
        i = ws(t, e, n);
        if (i < n && t[i] == ',')
            i = ws(t, i + 1, n);
    }
    return -1;
}

/* The elements of the array spanning [a0, a1): offsets and lengths, or -1. */
static int split_array(const char *t, size_t a0, size_t a1, size_t **off, size_t **len,
                       size_t *count)
{
    size_t cap = 1024, n = 0;
    *off = malloc(cap * sizeof **off);
    *len = malloc(cap * sizeof **len);
    size_t i = ws(t, a0 + 1, a1);
    while (*off && *len && i < a1 - 1) {
        size_t e = skip_value(t, i, a1 - 1);
        if (e == 0)
            break;
        if (n == cap) {
            cap *= 2;
            size_t *o2 = realloc(*off, cap * sizeof **off), *l2 = o2 ? realloc(*len, cap * sizeof **len) : NULL;
            if (o2)
                *off = o2;
            if (!l2)
                break;
            *len = l2;
        }
        (*off)[n] = i;
        (*len)[n] = e - i;
        n++;
        i = ws(t, e, a1);
        if (i < a1 - 1 && t[i] != ',')
            break;
        if (i < a1 - 1)
            i = ws(t, i + 1, a1);
    }
    if (!*off || !*len || i != a1 - 1) {
        free(*off);
        free(*len);
        *off = *len = NULL;
        return -1;
    }
    *count = n;
    return 0;
}


/* ------------------------------------- one VM without jansson (fast path) */

/* jansson costs about 41,000 instructions per VM object (its lexer, an
 * object's hash table, the getters): 40 % of a 1,000-host process. Most
 * VMs are short objects of known keys with plain strings and numbers, so
 * they are read here directly. Anything this reader is not sure of (an
 * escape, a byte outside printable ASCII, an unknown or repeated key, a
 * null, a nested value other than {"kind": "none"}, a value out of range,
 * a malformed number) gives up (FAST_NO) and the VM goes through jansson
 * as before, which accepts or names the error exactly as it always did.
 * Values: a number is read as jansson reads it (strtoll for an integer
 * token, then the cast json_number_value makes; strtod otherwise), a
 * quantity string by the same co_parse_* call quantity_at makes. */
#define FAST_NO 1

struct fvm {
    const char *name, *host, *grp, *spec; /* spans into the text */
    size_t name_n, host_n, grp_n, spec_n;
    int vcpus, passthrough, pinned;
    double mem, used;
    unsigned seen; /* bit per key */
};

/* A string without escapes at t[*i] ('"'): its content [*s, *s + *n). */
static int fast_str(const char *t, size_t *i, size_t e, const char **s, size_t *n)
{
    size_t j = *i + 1;
    while (j < e && t[j] != '"') {
        unsigned char ch = (unsigned char)t[j];
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            return FAST_NO;
        j++;
    }
    if (j >= e)
        return FAST_NO;
    *s = t + *i + 1;
    *n = j - *i - 1;
    *i = j + 1;
    return 0;
}

/* A JSON number >= 0 at t[*i] as jansson reads it; *is_int: no fraction or
 * exponent (jansson's integer). */
static int fast_num(const char *t, size_t *i, size_t e, double *out, int *is_int)
{
    size_t j = *i, d0;
    char buf[64];
    if (j < e && t[j] == '0') {
        j++;
    } else {
        for (d0 = j; j < e && t[j] >= '0' && t[j] <= '9'; j++)
            ;
        if (j == d0)
            return FAST_NO;
    }
    *is_int = 1;
    if (j < e && t[j] == '.') {
        *is_int = 0;
        for (d0 = ++j; j < e && t[j] >= '0' && t[j] <= '9'; j++)
            ;
        if (j == d0)
            return FAST_NO;
    }
    if (j < e && (t[j] == 'e' || t[j] == 'E')) {
        *is_int = 0;
        j++;
        if (j < e && (t[j] == '+' || t[j] == '-'))
            j++;
        for (d0 = j; j < e && t[j] >= '0' && t[j] <= '9'; j++)
            ;
        if (j == d0)
            return FAST_NO;
    }
    if (j - *i >= sizeof buf || (*is_int && j - *i > 18)) /* jansson: too big integer */
        return FAST_NO;
    memcpy(buf, t + *i, j - *i);
    buf[j - *i] = '\0';
    if (*is_int) {
        *out = (double)strtoll(buf, NULL, 10);
    } else {
        errno = 0;
        *out = strtod(buf, NULL);
        if (!isfinite(*out)) /* jansson: real number overflow */
            return FAST_NO;
    }
    *i = j;
    return 0;
}

/* The last size string read and its value: a fleet repeats a few sizes, and
 * co_parse_size is pure (about 900 instructions a call). */
struct fsize {
    size_t n;
    char s[64];
    double v;
};

/* A size (get_q with U_SIZE) in [lo, hi]: a number or a size string. */
static int fast_size(const char *t, size_t *i, size_t e, double lo, double hi,
                     struct fsize *last, double *out)
{
    int is_int;
    if (t[*i] == '"') {
        const char *s;
        size_t n;
        co_diag tmp;
        if (fast_str(t, i, e, &s, &n) || n >= sizeof last->s)
            return FAST_NO;
        if (n == 0 || n != last->n || memcmp(s, last->s, n) != 0) {
            memcpy(last->s, s, n);
            last->s[n] = '\0';
            last->n = 0; /* valid once parsed */
            co_diag_init(&tmp);
            if (co_parse_size(last->s, "", &last->v, &tmp) != CO_OK)
                return FAST_NO;
            last->n = n;
        }
        *out = last->v;
    } else if (fast_num(t, i, e, out, &is_int)) {
        return FAST_NO;
    }
    return isfinite(*out) && *out >= 0 && *out >= lo && *out <= hi ? 0 : FAST_NO;
}

static int fast_lit(const char *t, size_t *i, size_t e, int *out)
{
    if (e - *i >= 4 && memcmp(t + *i, "true", 4) == 0) {
        *out = 1;
        *i += 4;
    } else if (e - *i >= 5 && memcmp(t + *i, "false", 5) == 0) {
        *out = 0;
        *i += 5;
    } else {
        return FAST_NO;
    }
    return 0;
}

enum { FK_NAME, FK_HOST, FK_VCPUS, FK_MEM, FK_USED, FK_DIRTY, FK_PASS, FK_PIN, FK_ANTI,
       FK_COMMENT, FK_N };
static const char *const fast_keys[FK_N] = {"name", "host", "vcpus", "mem", "mem_used", "dirty",
                                            "passthrough", "pinned", "anti_affinity", "comment"};

/* The VM object spanning [b, e) (from split_array), or FAST_NO. */
static int fast_vm(const char *t, size_t b, size_t e, struct fsize *sz, struct fvm *f)
{
    memset(f, 0, sizeof *f);
    f->used = -1;
    size_t i = ws(t, b + 1, e);
    if (t[b] != '{' || e - b < 2 || t[e - 1] != '}')
        return FAST_NO;
    if (i == e - 1)
        return FAST_NO; /* {}: jansson names what is missing */
    for (;;) {
        const char *k, *s;
        size_t kn, n;
        int key = -1, is_int;
        double x;
        if (i >= e || t[i] != '"' || fast_str(t, &i, e, &k, &kn))
            return FAST_NO;
        for (int j = 0; j < FK_N; j++)
            if (strlen(fast_keys[j]) == kn && memcmp(fast_keys[j], k, kn) == 0)
                key = j;
        if (key < 0 || (f->seen & (1u << key)))
            return FAST_NO;
        f->seen |= 1u << key;
        i = ws(t, i, e);
        if (i >= e || t[i] != ':')
            return FAST_NO;
        i = ws(t, i + 1, e);
        if (i >= e)
            return FAST_NO;
        switch (key) {
        case FK_NAME:
        case FK_HOST:
        case FK_ANTI:
        case FK_COMMENT:
            if (t[i] != '"' || fast_str(t, &i, e, &s, &n) || n == 0)
                return FAST_NO;
            if (key == FK_NAME)
                f->name = s, f->name_n = n;
            else if (key == FK_HOST)
                f->host = s, f->host_n = n;
            else if (key == FK_ANTI)
                f->grp = s, f->grp_n = n;
            break;
        case FK_VCPUS:
            if (fast_num(t, &i, e, &x, &is_int) || !is_int || x < 1 || x > 100000)
                return FAST_NO;
            f->vcpus = (int)x;
            break;
        case FK_MEM:
            if (fast_size(t, &i, e, 1 << 20, 1e14, &sz[0], &f->mem))
                return FAST_NO;
            break;
        case FK_USED:
            if (fast_size(t, &i, e, 0, 1e14, &sz[1], &f->used))
                return FAST_NO;
            break;
        case FK_PASS:
        case FK_PIN:
            if (fast_lit(t, &i, e, key == FK_PASS ? &f->passthrough : &f->pinned))
                return FAST_NO;
            break;
        case FK_DIRTY:
            if (t[i] == '"') { /* a --dirty spec: dirty_spec reads it */
                if (fast_str(t, &i, e, &f->spec, &f->spec_n))
                    return FAST_NO;
            } else { /* only {"kind": "none"} */
                size_t j = ws(t, i + 1, e);
                if (t[i] != '{' || e - j < 14 || memcmp(t + j, "\"kind\"", 6) != 0)
                    return FAST_NO;
                j = ws(t, j + 6, e);
                if (j >= e || t[j] != ':')
                    return FAST_NO;
                j = ws(t, j + 1, e);
                if (e - j < 6 || memcmp(t + j, "\"none\"", 6) != 0)
                    return FAST_NO;
                j = ws(t, j + 6, e);
                if (j >= e || t[j] != '}')
                    return FAST_NO;
                i = j + 1;
            }
            break;
        }
        i = ws(t, i, e);
        if (i < e && t[i] == ',') {
            i = ws(t, i + 1, e);
            continue;
        }
        if (i == e - 1) /* the closing '}' */
            break;
        return FAST_NO;
    }
    unsigned need = 1u << FK_NAME | 1u << FK_HOST | 1u << FK_VCPUS | 1u << FK_MEM;
    if ((f->seen & need) != need || f->name_n >= 256 || f->host_n >= 256 || f->grp_n >= 256 ||
        f->spec_n >= 4096)
        return FAST_NO;
    return 0;
}

/* VMs with the same memory, zero fraction, dirty curve and rate share one
 * profile: 900 B less per VM, and the run's prediction cache (keyed by
 * profile) serves them all. The model is pure, so sharing changes no
 * result. An open-addressing table of profile indices by a hash of those
 * fields. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t profile_hash(const co_sim_profile *pf)
{
    const co_dirty *d = &pf->dirty;
    uint64_t h = 0xcbf29ce484222325ull;
    double f[] = {pf->mem_bytes, pf->zero_fraction, d->rate_pages_per_s, d->wss_pages,
                  d->hot_pages, d->cold_pages, d->hot_frac, d->cap_pages, pf->rate.a, pf->rate.b};
    int k[] = {d->kind, d->n, pf->rate_sampled, pf->rate.kind, pf->rate.n};
    h = mix(h, f, sizeof f);
    h = mix(h, k, sizeof k);
    int n = d->n > 0 && d->n <= CO_DIRTY_TABLE_MAX ? d->n : 0;
    h = mix(h, d->t_s, (size_t)n * sizeof(double));
    h = mix(h, d->pages, (size_t)n * sizeof(double));
    if (pf->rate.kind == CO_DIST_EMPIRICAL && pf->rate.values)
        h = mix(h, pf->rate.values, (size_t)pf->rate.n * sizeof(double));
    return h;
}

static int same_double(const double *a, const double *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int profile_same(const co_sim_profile *a, const co_sim_profile *b)
{
    const co_dirty *x = &a->dirty, *y = &b->dirty;
    if (a->mem_bytes != b->mem_bytes || a->zero_fraction != b->zero_fraction ||
        x->kind != y->kind || x->rate_pages_per_s != y->rate_pages_per_s ||
        x->wss_pages != y->wss_pages || x->hot_pages != y->hot_pages ||
        x->cold_pages != y->cold_pages || x->hot_frac != y->hot_frac ||
        x->cap_pages != y->cap_pages || x->n != y->n ||
        a->rate_sampled != b->rate_sampled || a->rate.kind != b->rate.kind ||
        a->rate.a != b->rate.a || a->rate.b != b->rate.b || a->rate.n != b->rate.n)
        return 0;
    int n = x->n > 0 && x->n <= CO_DIRTY_TABLE_MAX ? x->n : 0;
    if (!same_double(x->t_s, y->t_s, n) || !same_double(x->pages, y->pages, n) ||
        !same_double(x->slope, y->slope, n))
        return 0;
    if (a->rate.kind == CO_DIST_EMPIRICAL)
        return (a->rate.values == NULL) == (b->rate.values == NULL) &&
               (a->rate.values == NULL || same_double(a->rate.values, b->rate.values, a->rate.n));
    return 1;
}

/* What load_vms carries from one VM to the next. */
struct vmctx {
    struct names *hn, vn, gn; /* hosts, VM names, anti-affinity groups */
    int *tab;                 /* profile indices by profile_hash, -1 = empty */
    size_t tn;
    struct fsize sz[2];       /* fast_vm's last mem and mem_used strings */
};

/* The checks and bookkeeping after a VM's fields are read, whichever way
 * they were (jansson's tree or fast_vm): the same checks in the same order,
 * so the same first error. The dirty curve is dj (a JSON value, NULL =
 * none) or, when dj is NULL, the spec string (NULL = none). */
static int vm_finish(struct ld *L, struct vmctx *x, size_t i, co_sim_vm *v, const char *name,
                     const char *host, const char *grp, double used, json_t *dj, const char *spec)
{
    co_sim_cluster *c = L->c;
    co_sim_profile *pf = &c->profiles[c->nprofiles];
    char e[80];
    int rc;
    if (names_get(&x->vn, name) >= 0) {
        snprintf(e, sizeof e, "vms[%zu].name", i);
        return fail(L, e, "duplicate VM name '%s'", name);
    }
    if ((v->host = names_get(x->hn, host)) < 0) {
        snprintf(e, sizeof e, "vms[%zu].host", i);
        return fail(L, e, "no host named '%s'", host);
    }
    if (used > v->mem_bytes) {
        snprintf(e, sizeof e, "vms[%zu].mem_used", i);
        return fail(L, e, "is larger than mem");
    }
    if ((v->name = strdup(name)) == NULL || names_put(&x->vn, v->name, c->nvms) != CO_OK)
        return oom(L);
    c->nvms++;
    if (grp && (v->group = intern(&c->groups, &c->ngroups, &x->gn, grp)) < 0)
        return oom(L);
    pf->mem_bytes = v->mem_bytes;
    pf->zero_fraction = used >= 0 ? 1.0 - used / v->mem_bytes : 0;
    v->profile = c->nprofiles++; /* counted first: freed even if the curve fails */
    if (dj || spec) {
        snprintf(e, sizeof e, "vms[%zu].dirty", i);
        if (dj)
            rc = load_dirty(L, dj, e, pf);
        else if ((rc = co_dirty_none(&pf->dirty)) == CO_OK)
            rc = dirty_spec(L, spec, e, pf);
        if (rc)
            return rc;
    } else {
        co_dirty_none(&pf->dirty);
    }
    size_t slot = profile_hash(pf) & (x->tn - 1);
    while (x->tab[slot] >= 0 && !profile_same(&c->profiles[x->tab[slot]], pf))
        slot = (slot + 1) & (x->tn - 1);
    if (x->tab[slot] < 0) {
        x->tab[slot] = v->profile;
    } else { /* the same as an earlier VM's: share it */
        if (pf->rate.kind == CO_DIST_EMPIRICAL)
            free(pf->rate.values);
        memset(pf, 0, sizeof *pf);
        c->nprofiles--;
        v->profile = x->tab[slot];
    }
    return CO_OK;
}

/* A VM fast_vm read whole: its strings copied out (NUL-terminated). */
static int vm_fast(struct ld *L, struct vmctx *x, size_t i, const struct fvm *f)
{
    co_sim_cluster *c = L->c;
    co_sim_vm *v = &c->vms[c->nvms];
    char name[256], host[256], grp[256], *spec = NULL;
    memcpy(name, f->name, f->name_n);
    name[f->name_n] = '\0';
    memcpy(host, f->host, f->host_n);
    host[f->host_n] = '\0';
    if (f->grp) {
        memcpy(grp, f->grp, f->grp_n);
        grp[f->grp_n] = '\0';
    }
    if (f->spec && (spec = strndup(f->spec, f->spec_n)) == NULL)
        return oom(L);
    v->group = -1;
    v->vcpus = f->vcpus;
    v->mem_bytes = f->mem;
    v->passthrough = f->passthrough;
    v->pinned = f->pinned;
    int rc = vm_finish(L, x, i, v, name, host, f->grp ? grp : NULL, f->used, NULL, spec);
    free(spec);
    return rc;
}

/* The VMs: from the tree (vm_off == NULL), or parsed one at a time from
 * the text spans vm_off/vm_len (see find_key): by fast_vm, else jansson. */
static int load_vms(struct ld *L, json_t *root, struct names *hn, const size_t *vm_off,
                    const size_t *vm_len, size_t vm_n)
{
    co_sim_cluster *c = L->c;
    json_t *a = json_object_get(root, "vms");
    if (a == NULL)
        return CO_OK;
    if (!json_is_array(a))
        return fail(L, "vms", "expected an array of VMs");
    size_t n = vm_off ? vm_n : json_array_size(a);
    c->vms = calloc(n + 1, sizeof *c->vms);
    c->profiles = calloc(n + 1, sizeof *c->profiles);
    struct vmctx x = {.hn = hn};
    if (!c->vms || !c->profiles)
        return oom(L);
    if (names_init(&x.vn, n) != CO_OK || names_init(&x.gn, 16) != CO_OK) {
        names_free(&x.vn);
        return oom(L);
    }
    static const char *const keys[] = {"name", "host", "vcpus", "mem", "mem_used", "dirty",
                                       "passthrough", "pinned", "anti_affinity", "comment",
                                       NULL};
    x.tn = 16;
    while (x.tn < 2 * n)
        x.tn *= 2;
    x.tab = malloc(x.tn * sizeof *x.tab);
    if (x.tab == NULL) {
        names_free(&x.vn);
        names_free(&x.gn);
        return oom(L);
    }
    for (size_t i = 0; i < x.tn; i++)
        x.tab[i] = -1;
    int rc = CO_OK;
    json_t *own = NULL; /* the VM parsed from its span, when streaming */
    for (size_t i = 0; i < n && rc == CO_OK; i++) {
        json_decref(own);
        own = NULL;
        json_t *o;
        if (vm_off) {
            struct fvm f;
            if (fast_vm(L->text, vm_off[i], vm_off[i] + vm_len[i], x.sz, &f) == 0) {
                rc = vm_fast(L, &x, i, &f);
                continue;
            }
            json_error_t je;
            o = own = json_loadb(L->text + vm_off[i], vm_len[i], JSON_REJECT_DUPLICATES, &je);
            if (o == NULL) { /* jansson on the whole text says where */
                json_error_t jw;
                json_t *all = json_loadb(L->text, L->len, JSON_REJECT_DUPLICATES, &jw);
                json_decref(all);
                if (all == NULL)
                    rc = co_diag_set(L->d, CO_EDATA, "%s:%d:%d: JSON syntax: %s", L->name,
                                     jw.line, jw.column, jw.text);
                else
                    rc = co_diag_set(L->d, CO_EDATA, "%s: vms[%zu]: JSON syntax: %s", L->name,
                                     i, je.text);
                break;
            }
        } else {
            o = json_array_get(a, i);
        }
        char p[64];
        snprintf(p, sizeof p, "vms[%zu]", i);
        if (!json_is_object(o)) {
            rc = fail(L, p, "expected an object");
            break;
        }
        co_sim_vm *v = &c->vms[c->nvms];
        const char *name = NULL, *host = NULL, *grp = NULL;
        double used = -1;
        v->group = -1;
        if ((rc = only(L, o, p, keys)) || (rc = get_str(L, o, p, "name", 1, &name)) ||
            (rc = get_str(L, o, p, "host", 1, &host)) ||
            (rc = get_int(L, o, p, "vcpus", 1, 1, 100000, &v->vcpus)) ||
            (rc = get_q(L, o, p, "mem", U_SIZE, 1, 1 << 20, 1e14, &v->mem_bytes)) ||
            (rc = get_q(L, o, p, "mem_used", U_SIZE, 0, 0, 1e14, &used)) ||
            (rc = get_bool(L, o, p, "passthrough", &v->passthrough)) ||
            (rc = get_bool(L, o, p, "pinned", &v->pinned)) ||
            (rc = get_str(L, o, p, "anti_affinity", 0, &grp)))
            break;
        json_t *dj = json_object_get(o, "dirty");
        rc = vm_finish(L, &x, i, v, name, host, grp, used, dj, NULL);
    }
    json_decref(own);
    free(x.tab);
    names_free(&x.vn);
    names_free(&x.gn);
    return rc;
}

void co_sim_cluster_free(co_sim_cluster *c)
{
    if (c == NULL)
        return;
    free(c->source);
    for (int i = 0; i < c->nhosts; i++) {
        free(c->hosts[i].name);
        free(c->hosts[i].uri);
        free(c->hosts[i].migration_uri);
    }
    free(c->hosts);
    for (int i = 0; i < c->nvms; i++)
        free(c->vms[i].name);
    free(c->vms);
    for (int i = 0; i < c->nuplinks; i++)
        free(c->uplinks[i].name);
    free(c->uplinks);
    for (int i = 0; i < c->nprofiles; i++)
        if (c->profiles[i].rate.kind == CO_DIST_EMPIRICAL)
            free(c->profiles[i].rate.values);
    free(c->profiles);
    for (int i = 0; i < c->ndomains; i++)
        free(c->domains[i]);
    free(c->domains);
    for (int i = 0; i < c->nracks; i++)
        free(c->racks[i]);
    free(c->racks);
    for (int i = 0; i < c->ngroups; i++)
        free(c->groups[i]);
    free(c->groups);
    free(c->group_start);
    free(c->group_vms);
    free(c->plan.hosts);
    free(c->plan.canary);
    for (int s = 0; s < CO_STEP_N; s++)
        if (c->plan.step[s].kind == CO_DIST_EMPIRICAL)
            free(c->plan.step[s].values);
    if (c->plan.vm_restart.kind == CO_DIST_EMPIRICAL)
        free(c->plan.vm_restart.values);
    for (int k = 0; k < CO_HOOK_N; k++) {
        for (char **a = c->exec.hook[k].argv; a && *a; a++)
            free(*a);
        free(c->exec.hook[k].argv);
    }
    free(c);
}

/* Group index, start placement within capacity and anti-affinity. Fills
 * path with the offending field ("vms[12].host") on failure. */
static int finish(co_sim_cluster *c, char *path, size_t plen, char *msg, size_t mlen)
{
    free(c->group_start);
    free(c->group_vms);
    c->group_start = calloc((size_t)c->ngroups + 1, sizeof(int));
    c->group_vms = calloc((size_t)c->nvms + 1, sizeof(int));
    double *mem = calloc((size_t)c->nhosts + 1, sizeof(double));
    double *cpu = calloc((size_t)c->nhosts + 1, sizeof(double));
    int *fill = calloc((size_t)c->ngroups + 1, sizeof(int));
    int rc = CO_OK;
    if (!c->group_start || !c->group_vms || !mem || !cpu || !fill) {
        snprintf(path, plen, "(cluster)");
        snprintf(msg, mlen, "out of memory");
        rc = CO_ENOMEM;
        goto out;
    }
    for (int v = 0; v < c->nvms && rc == CO_OK; v++) {
        const co_sim_vm *vm = &c->vms[v];
        if (vm->host < 0 || vm->host >= c->nhosts || vm->profile < 0 ||
            vm->profile >= c->nprofiles || vm->group >= c->ngroups) {
            snprintf(path, plen, "vms[%d]", v);
            snprintf(msg, mlen, "index out of range");
            rc = CO_EDATA;
            break;
        }
        if (vm->group >= 0)
            c->group_start[vm->group + 1]++;
        mem[vm->host] += vm->mem_bytes;
        cpu[vm->host] += vm->vcpus;
        const co_sim_host *h = &c->hosts[vm->host];
        if (mem[vm->host] > h->mem_bytes) {
            snprintf(path, plen, "vms[%d].host", v);
            snprintf(msg, mlen, "host '%s' is over its memory with this VM (%.0f > %.0f bytes)",
                     h->name, mem[vm->host], h->mem_bytes);
            rc = CO_EDATA;
        } else if (cpu[vm->host] > h->cores * c->plan.cpu_ratio + 1e-9) {
            snprintf(path, plen, "vms[%d].host", v);
            snprintf(msg, mlen,
                     "host '%s' is over its vCPUs with this VM (%.0f > %d cores x "
                     "cpu_allocation_ratio %g)",
                     h->name, cpu[vm->host], h->cores, c->plan.cpu_ratio);
            rc = CO_EDATA;
        }
    }
    if (rc != CO_OK)
        goto out;
    for (int g = 0; g < c->ngroups; g++)
        c->group_start[g + 1] += c->group_start[g];
    for (int v = 0; v < c->nvms; v++) {
        int g = c->vms[v].group;
        if (g < 0)
            continue;
        for (int i = c->group_start[g]; i < c->group_start[g] + fill[g]; i++) {
            int u = c->group_vms[i];
            if (c->vms[u].host == c->vms[v].host) {
                snprintf(path, plen, "vms[%d].anti_affinity", v);
                snprintf(msg, mlen, "group '%s' already has VM '%s' on host '%s'",
                         c->groups[g], c->vms[u].name, c->hosts[c->vms[v].host].name);
                rc = CO_EDATA;
                goto out;
            }
        }
        c->group_vms[c->group_start[g] + fill[g]++] = v;
    }
    for (int i = 0; i < c->plan.nhosts; i++)
        if (c->plan.hosts[i] < 0 || c->plan.hosts[i] >= c->nhosts) {
            snprintf(path, plen, "plan.hosts[%d]", i);
            snprintf(msg, mlen, "index out of range");
            rc = CO_EDATA;
            goto out;
        }
out:
    free(mem);
    free(cpu);
    free(fill);
    return rc;
}

int co_sim_cluster_finish(co_sim_cluster *c, co_diag *d)
{
    char path[128], msg[400];
    int rc = finish(c, path, sizeof path, msg, sizeof msg);
    if (rc != CO_OK)
        return co_diag_set(d, rc, "%s: %s", path, msg);
    return CO_OK;
}

int co_sim_load_buffer(const char *text, size_t len, const char *name, co_sim_cluster **out,
                       co_diag *d)
{
    *out = NULL;
    struct ld L = {text, len, name, d, NULL};
    json_error_t je;
    json_t *root = NULL;
    size_t a0, a1, *vm_off = NULL, *vm_len = NULL, vm_n = 0;
    char *rest = NULL;
    if (find_key(text, len, "\"vms\"", &a0, &a1) == 0 &&
        split_array(text, a0, a1, &vm_off, &vm_len, &vm_n) == 0 &&
        (rest = malloc(len)) != NULL) {
        /* the file with the VM array emptied ("[]"): jansson's lines in it
         * are never shown (a syntax error is reported from the whole text
         * below, messages name lines from the text by path), and jansson
         * lexing a blanked array cost it time per byte */
        memcpy(rest, text, a0 + 1);
        memcpy(rest + a0 + 1, text + a1 - 1, len - (a1 - 1));
        root = json_loadb(rest, len - (a1 - a0 - 2), JSON_REJECT_DUPLICATES, &je);
        free(rest);
    }
    if (root == NULL) {
        free(vm_off);
        free(vm_len);
        vm_off = vm_len = NULL;
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    }
    if (root == NULL)
        return co_diag_set(d, CO_EDATA, "%s:%d:%d: JSON syntax: %s", name, je.line, je.column,
                           je.text);
    co_sim_cluster *c = calloc(1, sizeof *c);
    if (c == NULL) {
        json_decref(root);
        free(vm_off);
        free(vm_len);
        return oom(&L);
    }
    L.c = c;
    co_sim_plan_defaults(&c->plan);
    co_sim_exec_defaults(&c->exec);
    struct names hn = {0}, un = {0};
    int rc;
    static const char *const keys[] = {"hosts", "uplinks", "vms", "plan", "hooks", "source",
                                       "comment", NULL};
    if (!json_is_object(root))
        rc = fail(&L, "", "expected a JSON object with \"hosts\", \"vms\" and \"plan\"");
    else if ((rc = only(&L, root, "", keys)) == CO_OK && (rc = load_uplinks(&L, root, &un)) == CO_OK &&
             (rc = load_hosts(&L, root, &hn, &un)) == CO_OK &&
             (rc = load_plan(&L, json_object_get(root, "plan"), &hn)) == CO_OK &&
             (rc = load_hooks(&L, json_object_get(root, "hooks"))) == CO_OK &&
             (rc = load_vms(&L, root, &hn, vm_off, vm_len, vm_n)) == CO_OK) {
        char path[128], msg[400];
        if ((rc = finish(c, path, sizeof path, msg, sizeof msg)) != CO_OK)
            rc = fail(&L, path, "%s", msg);
    }
    names_free(&hn);
    names_free(&un);
    json_decref(root);
    free(vm_off);
    free(vm_len);
    if (rc == CO_OK && (c->source = strdup(name)) == NULL)
        rc = oom(&L);
    if (rc != CO_OK) {
        co_sim_cluster_free(c);
        return rc;
    }
    *out = c;
    return CO_OK;
}

int co_sim_load_file(const char *path, co_sim_cluster **out, co_diag *d)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return co_diag_set(d, errno == ENOENT || errno == EACCES ? CO_ENOINPUT : CO_EIO,
                           "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = CO_OK;
    while (buf != NULL) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                rc = co_diag_set(d, CO_EDATA, "%s: larger than %u MiB", path, MAX_FILE_BYTES >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) {
            if (ferror(f))
                rc = co_diag_set(d, CO_EIO, "reading '%s': %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (buf == NULL)
        return co_diag_set(d, CO_ENOMEM, "%s: out of memory", path);
    if (rc == CO_OK)
        rc = co_sim_load_buffer(buf, n, path, out, d);
    free(buf);
    return rc;
}
