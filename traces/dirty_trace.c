/* traces/dirty_trace.c: reader and writer of dirty-curve traces. */
#include "traces/dirty_trace.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonpos.h"

#define MAX_TRACE_BYTES (4 << 20)

static int field_err(co_diag *d, const char *name, const char *text, size_t len,
                     const char *path, const char *what)
{
    int line = co_json_line_of(text, len, path);
    if (line > 0)
        return co_diag_set(d, CO_EDATA, "%s:%d: %s: %s", name, line, path, what);
    return co_diag_set(d, CO_EDATA, "%s: %s: %s", name, path, what);
}

static void copy_str(char *dst, size_t cap, json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, cap, "%s", json_string_value(v));
}

static int get_num(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

int co_dirty_trace_parse(const char *text, size_t len, const char *name, co_dirty_trace *t,
                         co_diag *d)
{
    memset(t, 0, sizeof *t);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return co_diag_set(d, CO_EDATA, "%s:%d:%d: not valid JSON: %s", name, je.line,
                           je.column, je.text);
    int rc = CO_OK;
    char path[64];
    if (!json_is_object(root)) {
        rc = field_err(d, name, text, len, "", "expected a JSON object");
        goto out;
    }
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CO_DIRTY_TRACE_FORMAT) != 0) {
        rc = field_err(d, name, text, len, "format",
                       "must be \"" CO_DIRTY_TRACE_FORMAT "\" (not a cutover dirty trace)");
        goto out;
    }
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) < 1) {
        rc = field_err(d, name, text, len, "version", "must be a positive integer");
        goto out;
    }
    if (json_integer_value(ver) > CO_DIRTY_TRACE_VERSION) {
        rc = field_err(d, name, text, len, "version",
                       "is newer than this cutover reads (1); upgrade cutover");
        goto out;
    }
    copy_str(t->recorded_at, sizeof t->recorded_at, json_object_get(root, "recorded_at"));
    json_t *src = json_object_get(root, "source");
    if (json_is_object(src)) {
        copy_str(t->qemu_version, sizeof t->qemu_version, json_object_get(src, "qemu_version"));
        copy_str(t->method, sizeof t->method, json_object_get(src, "method"));
        copy_str(t->command, sizeof t->command, json_object_get(src, "command"));
    }
    json_t *vm = json_object_get(root, "vm");
    if (!json_is_object(vm)) {
        rc = field_err(d, name, text, len, "vm", "missing or not an object");
        goto out;
    }
    if (get_num(vm, "mem_bytes", &t->mem_bytes) < 0 || t->mem_bytes < 4096 ||
        t->mem_bytes > 64.0 * 1099511627776.0) {
        rc = field_err(d, name, text, len, "vm.mem_bytes",
                       "must be a number of bytes from 4096 to 64 TiB");
        goto out;
    }
    t->page_size_bytes = 4096;
    if (json_object_get(vm, "page_size_bytes") &&
        (get_num(vm, "page_size_bytes", &t->page_size_bytes) < 0 ||
         t->page_size_bytes < 512 || t->page_size_bytes > (1 << 30))) {
        rc = field_err(d, name, text, len, "vm.page_size_bytes",
                       "must be a page size in bytes (512 to 1 GiB)");
        goto out;
    }
    json_t *vc = json_object_get(vm, "vcpus");
    t->vcpus = json_is_integer(vc) ? (int)json_integer_value(vc) : 0;
    json_t *pts = json_object_get(root, "points");
    if (!json_is_array(pts) || json_array_size(pts) == 0) {
        rc = field_err(d, name, text, len, "points", "must be a non-empty array");
        goto out;
    }
    if (json_array_size(pts) > CO_DIRTY_TABLE_MAX) {
        rc = field_err(d, name, text, len, "points", "has more than 32 points");
        goto out;
    }
    size_t i;
    json_t *p;
    double max_pages = t->mem_bytes / t->page_size_bytes;
    json_array_foreach(pts, i, p) {
        double w, u;
        snprintf(path, sizeof path, "points[%zu]", i);
        if (!json_is_object(p)) {
            rc = field_err(d, name, text, len, path, "must be an object");
            goto out;
        }
        snprintf(path, sizeof path, "points[%zu].window_ms", i);
        if (get_num(p, "window_ms", &w) < 0 || !(w > 0)) {
            rc = field_err(d, name, text, len, path, "must be a number of ms > 0");
            goto out;
        }
        if (i > 0 && !(w > t->window_ms[i - 1])) {
            rc = field_err(d, name, text, len, path, "windows must be strictly increasing");
            goto out;
        }
        snprintf(path, sizeof path, "points[%zu].dirty_pages", i);
        if (get_num(p, "dirty_pages", &u) < 0 || u < 0) {
            rc = field_err(d, name, text, len, path, "must be a number of pages >= 0");
            goto out;
        }
        if (u > max_pages * 1.0001) {
            rc = field_err(d, name, text, len, path, "exceeds the VM's pages (vm.mem_bytes)");
            goto out;
        }
        if (i > 0 && u < t->dirty_pages[i - 1]) {
            rc = field_err(d, name, text, len, path,
                           "must not decrease as the window grows (distinct pages)");
            goto out;
        }
        t->window_ms[i] = w;
        t->dirty_pages[i] = fmin(u, max_pages);
    }
    t->n = (int)json_array_size(pts);
out:
    json_decref(root);
    return rc;
}

int co_dirty_trace_load(const char *path, co_dirty_trace *t, co_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return co_diag_set(d, CO_ENOINPUT, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(MAX_TRACE_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return co_diag_set(d, CO_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MAX_TRACE_BYTES + 1, f);
    int err = ferror(f);
    fclose(f);
    int rc;
    if (err)
        rc = co_diag_set(d, CO_EIO, "%s: read error", path);
    else if (n > MAX_TRACE_BYTES)
        rc = co_diag_set(d, CO_EDATA, "%s: larger than 4 MiB, not a dirty trace", path);
    else
        rc = co_dirty_trace_parse(buf, n, path, t, d);
    free(buf);
    return rc;
}

int co_dirty_trace_save(const char *path, const co_dirty_trace *t, co_diag *d)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(CO_DIRTY_TRACE_FORMAT));
    json_object_set_new(root, "version", json_integer(CO_DIRTY_TRACE_VERSION));
    json_object_set_new(root, "recorded_at", json_string(t->recorded_at));
    json_t *src = json_object();
    json_object_set_new(src, "qemu_version", json_string(t->qemu_version));
    json_object_set_new(src, "method", json_string(t->method));
    json_object_set_new(src, "command", json_string(t->command));
    json_object_set_new(root, "source", src);
    json_t *vm = json_object();
    json_object_set_new(vm, "mem_bytes", json_integer((json_int_t)t->mem_bytes));
    json_object_set_new(vm, "page_size_bytes", json_integer((json_int_t)t->page_size_bytes));
    json_object_set_new(vm, "vcpus", json_integer(t->vcpus));
    json_object_set_new(root, "vm", vm);
    json_t *pts = json_array();
    for (int i = 0; i < t->n; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "window_ms", json_real(t->window_ms[i]));
        json_object_set_new(p, "dirty_pages", json_real(t->dirty_pages[i]));
        json_array_append_new(pts, p);
    }
    json_object_set_new(root, "points", pts);
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL) {
        json_decref(root);
        return co_diag_set(d, CO_ECANTCREAT, "%s: cannot create: %s", path, strerror(errno));
    }
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    fputc('\n', f);
    json_decref(root);
    if (f != stdout) {
        if (fclose(f) != 0)
            rc = -1;
    } else if (fflush(f) != 0) {
        rc = -1;
    }
    return rc == 0 ? CO_OK : co_diag_set(d, CO_EIO, "%s: write error", path);
}

int co_dirty_trace_curve(const co_dirty_trace *t, co_dirty *out)
{
    double ts[CO_DIRTY_TABLE_MAX];
    for (int i = 0; i < t->n; i++)
        ts[i] = t->window_ms[i] / 1000.0;
    return co_dirty_table(out, ts, t->dirty_pages, t->n, t->mem_bytes / t->page_size_bytes);
}
