/* traces/dirty_trace.h: the dirty-curve trace format, version 1.
 *
 * Owns: reading and writing the JSON files `cutover record` produces and
 * `cutover model --dirty trace:FILE` consumes (docs/traces.md):
 *   { "format": "cutover-dirty-trace", "version": 1,
 *     "recorded_at": "2026-11-22T03:00:00Z",
 *     "source": { "qemu_version": "7.2.22", "method": "calc-dirty-rate/dirty-bitmap",
 *                 "command": "cutover record ..." },
 *     "vm": { "mem_bytes": 268435456, "page_size_bytes": 4096, "vcpus": 1 },
 *     "points": [ { "window_ms": 1000, "dirty_pages": 12345 }, ... ] }
 * points: window lengths strictly increasing and > 0, dirty_pages
 * non-decreasing, at most CO_DIRTY_TABLE_MAX. Unknown keys are ignored
 * (forward compatibility); a newer major version is refused.
 * Errors name the file, the line and the field. */
#ifndef CUTOVER_TRACES_DIRTY_TRACE_H
#define CUTOVER_TRACES_DIRTY_TRACE_H

#include <stddef.h>

#include "model/dirty.h"
#include "util/diag.h"

#define CO_DIRTY_TRACE_FORMAT "cutover-dirty-trace"
#define CO_DIRTY_TRACE_VERSION 1

typedef struct co_dirty_trace {
    char recorded_at[40];
    char qemu_version[40];
    char method[64];
    char command[512];
    double mem_bytes;
    double page_size_bytes;
    int vcpus;
    int n;
    double window_ms[CO_DIRTY_TABLE_MAX];
    double dirty_pages[CO_DIRTY_TABLE_MAX];
} co_dirty_trace;

/* Read path into *t. CO_OK, CO_ENOINPUT (cannot open), CO_EDATA (syntax or
 * a bad field; d says file:line: field: what). */
int co_dirty_trace_load(const char *path, co_dirty_trace *t, co_diag *d);
/* Parse an in-memory text (name is used in messages). */
int co_dirty_trace_parse(const char *text, size_t len, const char *name, co_dirty_trace *t,
                         co_diag *d);
/* Write t to path ("-" = stdout). CO_OK or CO_ECANTCREAT/CO_EIO. */
int co_dirty_trace_save(const char *path, const co_dirty_trace *t, co_diag *d);
/* The model curve of a trace: a table curve capped at the VM's pages. */
int co_dirty_trace_curve(const co_dirty_trace *t, co_dirty *out);

#endif
