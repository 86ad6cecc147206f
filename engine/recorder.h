/* engine/recorder.h: measuring a running VM's dirty curve.
 *
 * Owns: turning QEMU's calc-dirty-rate (7.1+) into U(t) points, one window
 * after another, with the facts of QEMU 7.2: calc-time in whole seconds,
 * the result in whole MiB/s, and dirty-bitmap mode crashing a TCG guest
 * (so under TCG only page-sampling is used). Fills a dirty trace
 * (traces/dirty_trace.h) with the VM's memory, vCPUs and QEMU version.
 * The VM is reached through QMP or through libvirt (drivers/drv_virt.h,
 * virDomainStartDirtyRateCalc: the same QEMU command underneath). */
#ifndef CUTOVER_ENGINE_RECORDER_H
#define CUTOVER_ENGINE_RECORDER_H

#include "drivers/driver.h"
#include "drivers/qmp.h"
#include "traces/dirty_trace.h"

/* Progress callback: window i of n is being measured (may be NULL). */
typedef void (*co_record_progress)(int i, int n, int secs, void *arg);

/* Measure windows secs[0..n) (whole seconds, increasing) on q.
 * mode: "dirty-bitmap", "page-sampling", "dirty-ring" or NULL (dirty-bitmap
 * under KVM, page-sampling under TCG). A mode that would crash or fail on
 * this VM is CO_EUSAGE with the reason. On success *t holds the points
 * (non-decreasing: a longer window never counts fewer pages) and metadata;
 * t->command is left for the caller. */
int co_record_curve(co_qmp *q, const int *secs, int n, const char *mode, co_dirty_trace *t,
                    co_record_progress progress, void *arg, co_diag *d);

/* The same through libvirt: drv from co_virt_open (the domain must run);
 * the trace's metadata from virDomainGetInfo and virConnectGetVersion, TCG
 * told from the domain XML's type. Same modes, same refusals. */
int co_record_curve_virt(co_drv *drv, const int *secs, int n, const char *mode,
                         co_dirty_trace *t, co_record_progress progress, void *arg, co_diag *d);

#endif
