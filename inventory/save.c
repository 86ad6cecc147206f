/* inventory/save.c: from what was found to the cluster file: the origin of
 * every figure (co_inv_settle), the JSON with its "source" account, and the
 * files (inventory/inventory.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory/inventory.h"
#include "util/error.h"

#define DEFAULT_NIC_BYTES_PER_S 125e6 /* 1 Gbit/s, as evacuate assumes */
#define DEFAULT_MTU 1500              /* the simulator's default */

static json_t *file_vm(const co_inv *inv, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(inv->file_vms, i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && !strcmp(n, name))
            return v;
    }
    return NULL;
}

static void fmt_rate(char *buf, size_t len, double bytes_per_s)
{
    double bit = bytes_per_s * 8;
    if (bit >= 1e9)
        snprintf(buf, len, "%g Gbit/s", bit / 1e9);
    else
        snprintf(buf, len, "%g Mbit/s", bit / 1e6);
}

void co_inv_settle(co_inv *inv, const co_inv_opts *o)
{
    for (int i = 0; i < inv->nhosts; i++) {
        co_inv_host *h = &inv->hosts[i];
        char m[64] = "", r[32];
        /* given beats measured: the interface's speed does not see shaping
         * or a slower hop, the operator's figure may; the measured one is
         * kept in the phrase when they differ */
        double given = o->nic_bytes_per_s > 0 ? o->nic_bytes_per_s : h->nic_given_bytes_per_s;
        const char *by = o->nic_bytes_per_s > 0 ? "--nic" : h->nic_given_by;
        if (given > 0) {
            if (h->nic_bytes_per_s > 0 && h->nic_bytes_per_s != given) {
                fmt_rate(r, sizeof r, h->nic_bytes_per_s);
                snprintf(m, sizeof m, "; the interface says %s", r);
            }
            h->nic_bytes_per_s = given;
            snprintf(h->nic_how, sizeof h->nic_how, "given: %s%s", by, m);
        } else if (!(h->nic_bytes_per_s > 0)) {
            char why[CO_INV_HOW + 1];
            snprintf(why, sizeof why, "%s", h->nic_how);
            h->nic_bytes_per_s = DEFAULT_NIC_BYTES_PER_S;
            snprintf(h->nic_how, sizeof h->nic_how, "defaulted: 1 Gbit/s (%.300s)",
                     why[0] ? why : "not given, not measured");
        }
        int mg = o->mtu > 0 ? o->mtu : h->mtu_given;
        const char *mby = o->mtu > 0 ? "--mtu" : h->mtu_given_by;
        m[0] = '\0';
        if (mg > 0) {
            if (h->mtu > 0 && h->mtu != mg)
                snprintf(m, sizeof m, "; the interface says %d", h->mtu);
            h->mtu = mg;
            snprintf(h->mtu_how, sizeof h->mtu_how, "given: %s%s", mby, m);
        } else if (h->mtu <= 0) {
            char why[CO_INV_HOW + 1];
            snprintf(why, sizeof why, "%s", h->mtu_how);
            h->mtu = DEFAULT_MTU;
            snprintf(h->mtu_how, sizeof h->mtu_how, "defaulted: 1500 (%.300s)",
                     why[0] ? why : "not given, not measured");
        }
    }
    for (int i = 0; i < inv->nvms; i++) {
        co_inv_vm *v = &inv->vms[i];
        json_t *fv = file_vm(inv, v->name);
        if (fv) {
            json_t *x = json_object();
            static const char *const keep[] = {"pinned", "anti_affinity", NULL};
            for (int k = 0; keep[k]; k++)
                if (json_object_get(fv, keep[k]))
                    json_object_set(x, keep[k], json_object_get(fv, keep[k]));
            if (json_is_true(json_object_get(fv, "passthrough")))
                v->passthrough = 1;
            v->extra = x;
        }
        if (v->dirty_measured)
            continue;
        char why[CO_INV_HOW + 1];
        snprintf(why, sizeof why, "%s", v->dirty_how);
        json_t *dg = fv ? json_object_get(fv, "dirty") : NULL;
        if (dg) {
            v->dirty_given = json_incref(dg);
            snprintf(v->dirty_how, sizeof v->dirty_how, "given: FILE's curve (%.300s)", why);
        } else if (o->dirty_mib_per_s > 0) {
            v->dirty_assumed_mib_per_s = o->dirty_mib_per_s;
            snprintf(v->dirty_how, sizeof v->dirty_how,
                     "defaulted: --dirty-rate %g MiB/s uniform over mem (%.300s)",
                     o->dirty_mib_per_s, why);
        } else {
            snprintf(v->dirty_how, sizeof v->dirty_how,
                     "defaulted: none, no page dirtied (%.300s; --dirty-rate sets one)", why);
        }
    }
}

static void say(json_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(json_t *a, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(a, json_string(buf));
}

/* The first word of a "how" phrase decides the list it goes to. */
static json_t *list_of(const char *how, json_t *meas, json_t *given, json_t *def)
{
    if (!strncmp(how, "measured", 8))
        return meas;
    if (!strncmp(how, "given", 5))
        return given;
    return def;
}

static const char *after_colon(const char *how)
{
    const char *c = strchr(how, ':');
    return c ? c + 2 : how;
}

json_t *co_inv_json(const co_inv *inv)
{
    json_t *j = json_object(), *src = json_object(), *meas = json_array(), *given = json_array(),
           *def = json_array(), *hs = json_array(), *vs = json_array();
    if (!j || !src || !meas || !given || !def || !hs || !vs) {
        json_decref(j);
        json_decref(src);
        json_decref(meas);
        json_decref(given);
        json_decref(def);
        json_decref(hs);
        json_decref(vs);
        return NULL;
    }
    json_object_set_new(src, "tool", json_string("cutover inventory"));
    json_object_set_new(src, "taken_at", json_string(inv->taken_at));
    json_object_set_new(src, "command", json_string(inv->command));
    json_object_set_new(src, "file", inv->file[0] ? json_string(inv->file) : json_null());
    say(meas, "hosts: cores and memory (virNodeGetInfo), hypervisor version "
              "(virConnectGetVersion)");
    say(meas, "VMs: the running and paused domains of each host, vcpus and mem "
              "(virDomainGetInfo), blockers from the domain XML (co_evac_inventory)");
    for (int i = 0; i < inv->nhosts; i++) {
        const co_inv_host *h = &inv->hosts[i];
        char r[32];
        fmt_rate(r, sizeof r, h->nic_bytes_per_s);
        say(list_of(h->nic_how, meas, given, def), "%s nic_rate %s: %s", h->name, r,
            after_colon(h->nic_how));
        say(list_of(h->mtu_how, meas, given, def), "%s mtu %d: %s", h->name, h->mtu,
            after_colon(h->mtu_how));
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(h->name));
        json_object_set_new(o, "cores", json_integer(h->cores));
        json_object_set_new(o, "mem", json_integer((json_int_t)h->mem_bytes));
        json_object_set_new(o, "nic_rate", json_sprintf("%.0fbit", h->nic_bytes_per_s * 8));
        json_object_set_new(o, "mtu", json_integer(h->mtu));
        if (h->channels)
            json_object_set(o, "channels", h->channels);
        if (h->failure_domain)
            json_object_set(o, "failure_domain", h->failure_domain);
        if (h->rack)
            json_object_set(o, "rack", h->rack);
        if (h->uplink)
            json_object_set(o, "uplink", h->uplink);
        json_object_set_new(o, "uri", json_string(h->uri));
        if (h->migration_uri[0])
            json_object_set_new(o, "migration_uri", json_string(h->migration_uri));
        json_array_append_new(hs, o);
    }
    for (int i = 0; i < inv->nvms; i++) {
        const co_inv_vm *v = &inv->vms[i];
        say(list_of(v->mem_used_how, meas, given, def), "%s mem_used: %s", v->name,
            after_colon(v->mem_used_how));
        say(list_of(v->dirty_how, meas, given, def), "%s dirty: %s", v->name,
            after_colon(v->dirty_how));
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(v->name));
        json_object_set_new(o, "host", json_string(inv->hosts[v->host].name));
        json_object_set_new(o, "vcpus", json_integer(v->vcpus));
        json_object_set_new(o, "mem", json_integer((json_int_t)v->mem_bytes));
        if (v->mem_used_bytes > 0)
            json_object_set_new(o, "mem_used", json_integer((json_int_t)v->mem_used_bytes));
        if (v->dirty_measured)
            json_object_set_new(o, "dirty", json_sprintf("trace:%s", v->trace_rel));
        else if (v->dirty_given)
            json_object_set(o, "dirty", v->dirty_given);
        else if (v->dirty_assumed_mib_per_s > 0)
            json_object_set_new(o, "dirty",
                                json_pack("{s:s, s:I, s:f}", "kind", "uniform", "wss",
                                          (json_int_t)v->mem_bytes, "rate_pages_per_s",
                                          v->dirty_assumed_mib_per_s * 256.0));
        else
            json_object_set_new(o, "dirty", json_pack("{s:s}", "kind", "none"));
        if (v->passthrough)
            json_object_set_new(o, "passthrough", json_true());
        if (v->extra)
            json_object_update(o, v->extra);
        if (v->blocker[0])
            json_object_set_new(o, "comment", json_sprintf("evacuate would not move it: %s",
                                                           v->blocker));
        json_array_append_new(vs, o);
    }
    /* VMs FILE names that run nowhere: said, not written */
    json_t *gone = json_array();
    size_t k;
    json_t *fv;
    json_array_foreach(inv->file_vms, k, fv)
    {
        const char *n = json_string_value(json_object_get(fv, "name"));
        int found = 0;
        for (int i = 0; n && i < inv->nvms && !found; i++)
            found = !strcmp(inv->vms[i].name, n);
        if (n && !found)
            json_array_append_new(gone, json_string(n));
    }
    json_object_set_new(src, "measured", meas);
    json_object_set_new(src, "given", given);
    json_object_set_new(src, "defaulted", def);
    json_object_set_new(src, "in_file_not_running", gone);
    json_object_set_new(src, "leftovers", inv->leftovers ? json_copy(inv->leftovers)
                                                         : json_array());
    json_object_set_new(j, "source", src);
    json_t *up = json_object_get(inv->carry, "uplinks");
    if (up)
        json_object_set(j, "uplinks", up);
    json_object_set_new(j, "hosts", hs);
    json_object_set_new(j, "vms", vs);
    json_t *plan = json_object_get(inv->carry, "plan");
    json_object_set_new(j, "plan", plan ? json_incref(plan) : json_object());
    json_t *hooks = json_object_get(inv->carry, "hooks");
    if (hooks)
        json_object_set(j, "hooks", hooks);
    return j;
}

/* A VM name as a file name: [A-Za-z0-9._-] kept, the rest '_', no leading dot. */
static void safe_name(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || (c == '.' && i > 0);
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

/* Write through a temporary file in the same directory and rename it in
 * place: a file (or a symlink) already at path is replaced, never written
 * through. */
static int write_json_file(const char *path, json_t *j, co_diag *d)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
        return co_diag_set(d, CO_ECANTCREAT, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return co_diag_set(d, CO_ECANTCREAT, "%s: cannot create: %s", path, strerror(errno));
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "w");
    int rc = f ? json_dumpf(j, f, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) : -1;
    if (f && fputc('\n', f) == EOF)
        rc = -1;
    if (f ? fclose(f) != 0 : close(fd) != 0)
        rc = -1;
    if (rc != 0) {
        unlink(tmp);
        return co_diag_set(d, CO_EIO, "%s: write error", path);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return co_diag_set(d, CO_ECANTCREAT, "%s: cannot create: %s", path, strerror(e));
    }
    return CO_OK;
}

int co_inv_save(co_inv *inv, const char *out_path, co_diag *d)
{
    char dir[4096], stem[512];
    const char *slash = strrchr(out_path, '/');
    const char *base = slash ? slash + 1 : out_path;
    if (!*base)
        return co_diag_set(d, CO_ECANTCREAT, "-o %s: names a directory, not a file", out_path);
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out_path) : 1,
             slash ? out_path : ".");
    if (slash == out_path)
        snprintf(dir, sizeof dir, "/");
    size_t bl = strlen(base);
    if (bl > 5 && !strcmp(base + bl - 5, ".json"))
        bl -= 5;
    snprintf(stem, sizeof stem, "%.*s", (int)(bl < 400 ? bl : 400), base);
    stem[400] = '\0';
    int any = 0;
    for (int i = 0; i < inv->nvms; i++)
        any |= inv->vms[i].dirty_measured;
    if (any) {
        char tdir[4600];
        snprintf(tdir, sizeof tdir, "%.4095s/%.400s.traces", dir, stem);
        struct stat st;
        if (mkdir(tdir, 0755) != 0 && errno != EEXIST)
            return co_diag_set(d, CO_ECANTCREAT, "%s: cannot create: %s", tdir, strerror(errno));
        if (lstat(tdir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
            return co_diag_set(d, CO_ECANTCREAT, "%s: not a directory of ours", tdir);
        for (int i = 0; i < inv->nvms; i++) {
            co_inv_vm *v = &inv->vms[i];
            if (!v->dirty_measured)
                continue;
            char nm[140], path[4800], tmp[4900];
            _Static_assert(sizeof v->trace_rel >= 420 + 140, "trace_rel holds stem.traces/name.json");
            safe_name(v->name, nm, sizeof nm);
            snprintf(v->trace_rel, sizeof v->trace_rel, "%.400s.traces/%.139s.json", stem, nm);
            snprintf(path, sizeof path, "%s/%s", dir, v->trace_rel);
            snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
            int fd = mkstemp(tmp);
            if (fd < 0)
                return co_diag_set(d, CO_ECANTCREAT, "%s: cannot create: %s", path,
                                   strerror(errno));
            close(fd);
            int rc = co_dirty_trace_save(tmp, &v->trace, d);
            if (rc == CO_OK && rename(tmp, path) != 0)
                rc = co_diag_set(d, CO_ECANTCREAT, "%s: cannot create: %s", path,
                                 strerror(errno));
            if (rc != CO_OK) {
                unlink(tmp);
                return rc;
            }
            chmod(path, 0644);
        }
    }
    json_t *j = co_inv_json(inv);
    if (j == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int rc = write_json_file(out_path, j, d);
    json_decref(j);
    return rc;
}
