/* engine/timeline.h: the JSONL migration timeline (one JSON object a line).
 *
 * Owns: the record format `cutover watch -o` and `cutover migrate --log`
 * write, built as jansson objects (the caller writes them with
 * co_timeline_write). Version 1; described in docs/timeline.md. Records:
 *   {"type":"header","version":1,"source":"qmp"|"libvirt","target":ADDR,
 *    "qemu_version":"7.2.22","interval_ms":100,"wall_time_s":...}
 *   {"type":"sample","t_ms":...,"status":"active",<co_drv_stats fields>}
 *   {"type":"event","t_ms":...,"event":"MIGRATION_PASS","data":{...},
 *    "qemu_timestamp_s":...}
 *   {"type":"event","t_ms":...,"event":"migration-iteration","data":{...}}
 *     (libvirt: driver events, see co_timeline_drv_event)
 *   {"type":"end","t_ms":...,"status":"completed","samples":N[,"error":...]}
 * t_ms counts from the start of the recording (CLOCK_MONOTONIC). Fields a
 * sample did not report (NAN / -1 in co_drv_stats) are omitted, never null.
 * Key names carry units (total_time_ms, ram_transferred_bytes,
 * ram_dirty_pages_rate is pages/s, ram_mbps is QEMU's Mbit/s). */
#ifndef CUTOVER_ENGINE_TIMELINE_H
#define CUTOVER_ENGINE_TIMELINE_H

#include <jansson.h>
#include <stdio.h>

#include "drivers/driver.h"
#include "drivers/qmp.h"

#define CO_TIMELINE_VERSION 1

/* A sample record: st at t_ms. Returns a new object (NULL: out of memory). */
json_t *co_timeline_sample(const co_drv_stats *st, double t_ms);
/* An event record from a QMP event. */
json_t *co_timeline_event(const co_qmp_event *ev, double t_ms);
/* An event record from a driver event (libvirt has no QMP events): event
 * "migration-iteration" (data {"iteration":N}), "status" (data
 * {"status":NAME}, the status the driver derived), "suspended", "resumed" or
 * "stopped". */
json_t *co_timeline_drv_event(const co_drv_event *ev, double t_ms);
/* Write j (stolen) as one compact line and flush (16 significant digits:
 * microseconds of a Unix timestamp survive), so `tail -f` follows.
 * Returns CO_OK, CO_ENOMEM (j NULL) or CO_EIO (d names `what`). */
int co_timeline_write(FILE *out, json_t *j, const char *what, co_diag *d);

#endif
