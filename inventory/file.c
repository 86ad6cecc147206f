/* inventory/file.c: which hosts to visit, from a cycle/cluster file or a
 * URI list, and what that file already gives (inventory/inventory.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/inventory.h"
#include "util/error.h"
#include "util/jsonpos.h"
#include "util/units.h"

void co_inv_init(co_inv *inv)
{
    memset(inv, 0, sizeof *inv);
}

void co_inv_free(co_inv *inv)
{
    if (inv == NULL)
        return;
    for (int i = 0; i < inv->nhosts; i++) {
        co_inv_host *h = &inv->hosts[i];
        json_decref(h->channels);
        json_decref(h->failure_domain);
        json_decref(h->rack);
        json_decref(h->uplink);
    }
    for (int i = 0; i < inv->nvms; i++) {
        json_decref(inv->vms[i].dirty_given);
        json_decref(inv->vms[i].extra);
    }
    free(inv->vms);
    json_decref(inv->file_vms);
    json_decref(inv->carry);
    json_decref(inv->leftovers);
    memset(inv, 0, sizeof *inv);
}

/* The copy of name that runs (not paused), -1 if none. */
static int running_copy(const co_inv *inv, const char *name)
{
    for (int i = 0; i < inv->nvms; i++)
        if (!inv->vms[i].paused && !strcmp(inv->vms[i].name, name))
            return i;
    return -1;
}

int co_inv_drop_leftovers(co_inv *inv, co_diag *d)
{
    /* paused copies whose twin runs elsewhere first: what is left twice
     * after that is a migration in flight (or two running copies) */
    for (int i = 0; i < inv->nvms; i++) {
        co_inv_vm *v = &inv->vms[i];
        int r = v->paused ? running_copy(inv, v->name) : -1;
        if (r < 0 || inv->vms[r].host == v->host)
            continue;
        if (!inv->leftovers && !(inv->leftovers = json_array()))
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        json_array_append_new(inv->leftovers,
                              json_sprintf("%s: a paused copy on %s while it runs on %s (a "
                                           "migration's leftover, left to libvirt; not counted)",
                                           v->name, inv->hosts[v->host].name,
                                           inv->hosts[inv->vms[r].host].name));
        json_decref(v->dirty_given);
        json_decref(v->extra);
        memmove(v, v + 1, sizeof *v * (size_t)(inv->nvms - i - 1));
        inv->nvms--;
        i--;
    }
    for (int i = 0; i < inv->nvms; i++)
        for (int k = i + 1; k < inv->nvms; k++)
            if (!strcmp(inv->vms[i].name, inv->vms[k].name))
                return co_diag_set(d, CO_EBUSY, "VM %s is on %s and %s (a migration in "
                                   "flight?); try again when it is done", inv->vms[i].name,
                                   inv->hosts[inv->vms[i].host].name,
                                   inv->hosts[inv->vms[k].host].name);
    return CO_OK;
}

static int add_host(co_inv *inv, const char *name, const char *uri, co_diag *d)
{
    if (inv->nhosts >= CO_INV_MAX_HOSTS)
        return co_diag_set(d, CO_EDATA, "more than %d hosts", CO_INV_MAX_HOSTS);
    for (int i = 0; i < inv->nhosts; i++) {
        if (!strcmp(inv->hosts[i].name, name))
            return co_diag_set(d, CO_EDATA, "host '%s' named twice", name);
        if (!strcmp(inv->hosts[i].uri, uri))
            return co_diag_set(d, CO_EDATA, "URI '%s' given for '%s' and '%s'", uri,
                               inv->hosts[i].name, name);
    }
    co_inv_host *h = &inv->hosts[inv->nhosts++];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->uri, sizeof h->uri, "%s", uri);
    return CO_OK;
}

int co_inv_from_uris(co_inv *inv, const char *list, co_diag *d)
{
    const char *p = list;
    int k = 0;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || n >= sizeof inv->hosts[0].uri)
            return co_diag_set(d, CO_EUSAGE, "--connect: item %d is %s", k + 1,
                               n ? "too long" : "empty (URI,URI,...)");
        char uri[256], name[16];
        memcpy(uri, p, n);
        uri[n] = '\0';
        snprintf(name, sizeof name, "h%d", ++k);
        int rc = add_host(inv, name, uri, d);
        if (rc != CO_OK) {
            co_diag_prefix(d, "--connect");
            return rc == CO_EDATA ? (d->code = CO_EUSAGE) : rc;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return CO_OK;
}

/* An error about text's value at path: "FILE:LINE: PATH: what". */
static int bad(const char *file, const char *text, size_t len, const char *path, co_diag *d,
               const char *what)
{
    int line = co_json_line_of(text, len, path);
    return co_diag_set(d, CO_EDATA, "%s:%d: %s: %s", file, line > 0 ? line : 1, path, what);
}

static int read_text(const char *path, char **out, size_t *len, co_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return co_diag_set(d, errno == ENOENT || errno == EACCES ? CO_ENOINPUT : CO_EIO,
                           "%s: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
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
        if (k == 0)
            break;
        n += k;
    }
    int err = ferror(f);
    fclose(f);
    if (buf == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory reading %s", path);
    if (err) {
        free(buf);
        return co_diag_set(d, CO_EIO, "%s: read error", path);
    }
    *out = buf;
    *len = n;
    return CO_OK;
}

int co_inv_from_file(co_inv *inv, const char *path, co_diag *d)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_text(path, &text, &len, d);
    if (rc != CO_OK)
        return rc;
    rc = co_inv_from_text(inv, text, len, path, d);
    free(text);
    return rc;
}

int co_inv_from_text(co_inv *inv, const char *text, size_t len, const char *path, co_diag *d)
{
    int rc = CO_OK;
    snprintf(inv->file, sizeof inv->file, "%s", path);
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    char p[96], why[160];
    if (root == NULL) {
        rc = co_diag_set(d, CO_EDATA, "%s:%d: %s", path, je.line, je.text);
        goto out;
    }
    json_t *hs = json_object_get(root, "hosts");
    if (!json_is_object(root) || !json_is_array(hs) || json_array_size(hs) == 0) {
        rc = bad(path, text, len, json_is_object(root) ? "hosts" : "", d,
                 "expected a non-empty \"hosts\" array (each with \"name\" and \"uri\")");
        goto out;
    }
    size_t i;
    json_t *h;
    json_array_foreach(hs, i, h)
    {
        snprintf(p, sizeof p, "hosts[%zu]", i);
        const char *name = json_string_value(json_object_get(h, "name"));
        const char *uri = json_string_value(json_object_get(h, "uri"));
        if (!json_is_object(h) || name == NULL || !*name) {
            rc = bad(path, text, len, p, d, "expected an object with a \"name\" string");
            goto out;
        }
        if (uri == NULL || !*uri || strlen(uri) >= sizeof inv->hosts[0].uri) {
            snprintf(p, sizeof p, "hosts[%zu]%s", i, json_object_get(h, "uri") ? ".uri" : "");
            rc = bad(path, text, len, p, d,
                     "needs \"uri\", the host's libvirt URI (e.g. qemu+tcp://HOST/system)");
            goto out;
        }
        if ((rc = add_host(inv, name, uri, d)) != CO_OK) {
            co_diag_prefix(d, "%s:%d: %s", path, co_json_line_of(text, len, p), p);
            goto out;
        }
        co_inv_host *ih = &inv->hosts[inv->nhosts - 1];
        json_t *mu = json_object_get(h, "migration_uri");
        if (mu && (!json_is_string(mu) || json_string_length(mu) >= sizeof ih->migration_uri)) {
            snprintf(p, sizeof p, "hosts[%zu].migration_uri", i);
            rc = bad(path, text, len, p, d, "expected a string (e.g. tcp://10.0.0.2)");
            goto out;
        }
        if (mu)
            snprintf(ih->migration_uri, sizeof ih->migration_uri, "%s", json_string_value(mu));
        json_t *nr = json_object_get(h, "nic_rate");
        if (nr) {
            snprintf(p, sizeof p, "hosts[%zu].nic_rate", i);
            co_diag pd;
            co_diag_init(&pd);
            double v = json_is_number(nr) ? json_number_value(nr) : 0;
            if (json_is_string(nr) &&
                co_parse_rate(json_string_value(nr), "nic_rate", &v, &pd) != CO_OK) {
                rc = bad(path, text, len, p, d, pd.msg);
                goto out;
            }
            if (!(v > 0)) {
                rc = bad(path, text, len, p, d, "expected a rate such as \"25Gbit\"");
                goto out;
            }
            ih->nic_given_bytes_per_s = v;
            snprintf(ih->nic_given_by, sizeof ih->nic_given_by, "FILE:%d",
                     co_json_line_of(text, len, p));
        }
        json_t *mt = json_object_get(h, "mtu");
        if (mt) {
            snprintf(p, sizeof p, "hosts[%zu].mtu", i);
            json_int_t v = json_integer_value(mt);
            if (!json_is_integer(mt) || v < 576 || v > 65536) {
                snprintf(why, sizeof why, "expected an integer in 576..65536");
                rc = bad(path, text, len, p, d, why);
                goto out;
            }
            ih->mtu_given = (int)v;
            snprintf(ih->mtu_given_by, sizeof ih->mtu_given_by, "FILE:%d",
                     co_json_line_of(text, len, p));
        }
        ih->channels = json_incref(json_object_get(h, "channels"));
        ih->failure_domain = json_incref(json_object_get(h, "failure_domain"));
        ih->rack = json_incref(json_object_get(h, "rack"));
        ih->uplink = json_incref(json_object_get(h, "uplink"));
    }
    json_t *vms = json_object_get(root, "vms");
    if (vms && !json_is_array(vms)) {
        rc = bad(path, text, len, "vms", d, "expected an array");
        goto out;
    }
    inv->file_vms = json_incref(vms);
    inv->carry = json_object();
    static const char *const carried[] = {"plan", "uplinks", "hooks", NULL};
    for (int k = 0; carried[k]; k++) {
        json_t *v = json_object_get(root, carried[k]);
        if (v)
            json_object_set(inv->carry, carried[k], v);
    }
out:
    json_decref(root);
    return rc;
}
