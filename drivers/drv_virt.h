/* drivers/drv_virt.h: the libvirt implementation of drivers/driver.h.
 *
 * Owns: one connection to a libvirt daemon (the migration source), one
 * domain on it, and at most one outgoing migration of that domain at a time:
 * virDomainMigrateToURI3 (peer-to-peer, live) runs in a worker thread because
 * it blocks until the migration ends, while poll() samples
 * virDomainGetJobStats and hands over the events libvirt delivered
 * (migration-iteration, lifecycle, job-completed) on its event-loop thread.
 *
 * libvirt's client library needs one event loop per process for events and
 * keepalives: the first co_virt_open() registers libvirt's default
 * implementation and starts a detached thread that runs it for the life of
 * the process (the only process-wide state here), and silences libvirt's
 * default error printing to stderr (virSetErrorFunc): every failure instead
 * becomes one co_diag line naming the URI or domain.
 *
 * Mapping to co_drv_stats (VIR_DOMAIN_JOB_* typed parameters, libvirt 9.0):
 * time_elapsed -> total_time_ms, setup_time -> setup_time_ms, downtime ->
 * expected_downtime_ms while running and downtime_ms once completed,
 * memory_processed/remaining/total (falling back to data_*) ->
 * ram_transferred/remaining/total_bytes, memory_constant -> duplicate pages,
 * memory_normal(_bytes), memory_dirty_rate (pages/s), memory_bps -> ram_mbps,
 * memory_page_size, memory_iteration -> ram_dirty_sync_count,
 * memory_postcopy_requests, auto_converge_throttle -> cpu_throttle_pct,
 * disk_processed/remaining/total -> disk_*_bytes, compression_cache/bytes/
 * pages/cache_misses/overflow -> xbzrle_* (libvirt's names for QEMU's xbzrle
 * figures). Other co_drv_stats fields stay "not reported".
 * libvirt has no status string: status is derived (setup until the job has
 * stats, active, postcopy-active after the post-copy lifecycle event,
 * cancelling after cancel(), then completed/cancelled/failed from the
 * result of virDomainMigrateToURI3). poll() reports each change of that
 * status as a CO_DRV_EV_STATUS event too, as the QMP driver does.
 *
 * Time bounds: every libvirt call goes over a connection with keepalive
 * (interval max(1 s, timeout_ms/3), count 2), so a daemon that stops
 * answering closes the connection after about max(3 s, timeout_ms) and the
 * pending call fails with CO_EUNAVAIL (keepalive works in whole seconds);
 * opening the connection runs in a thread and is abandoned after timeout_ms. Error codes: connection failures CO_EUNAVAIL, no such
 * domain CO_ENOINPUT, bad URI or flag CO_EUSAGE, denied CO_ENOPERM, an
 * operation libvirt finds invalid in the domain's current state (another job,
 * post-copy not enabled, same host) CO_EBUSY, libvirt timeouts CO_ETIMEDOUT,
 * a migration that ran and failed CO_EFAILED. */
#ifndef CUTOVER_ENGINE_DRV_VIRT_H
#define CUTOVER_ENGINE_DRV_VIRT_H

#include <stddef.h>

#include "drivers/driver.h"

typedef struct co_virt_opts {
    const char *conn_uri;       /* source daemon, e.g. "qemu:///system" (required) */
    const char *domain;         /* name, UUID or numeric id (required) */
    const char *dest_uri;       /* destination daemon as the SOURCE daemon reaches it
                                 * (peer-to-peer), e.g. "qemu+tcp://HOST/system";
                                 * optional here, start() may pass it instead */
    const char *migrate_uri;    /* data channel (VIR_MIGRATE_PARAM_URI), e.g.
                                 * "tcp://10.0.0.2"; NULL: the destination's choice
                                 * (its hostname or qemu.conf migration_host) */
    const char *listen_address; /* VIR_MIGRATE_PARAM_LISTEN_ADDRESS on the destination */
    int tls;                    /* VIR_MIGRATE_TLS: QEMU's stream inside TLS */
    const char *tls_destination;/* VIR_MIGRATE_PARAM_TLS_DESTINATION (cert name) */
    int persist_dest;           /* VIR_MIGRATE_PERSIST_DEST (define on the destination) */
    int copy_storage;           /* VIR_MIGRATE_NON_SHARED_DISK: copy local disks along */
    int timeout_ms;             /* bound of each call; 0 means 5000 */
    int qemu_monitor;           /* --allow qemu-monitor: set what libvirt 9.0 cannot
                                 * (max-cpu-throttle, throttle-trigger-threshold, the
                                 * throttle of a running migration) with QEMU's
                                 * migrate-set-parameters through libvirt-qemu's
                                 * virDomainQemuMonitorCommand (loaded on first use);
                                 * libvirt marks the domain tainted (custom-monitor).
                                 * The driver's ops are then co_virt_monitor_ops. */
} co_virt_opts;

/* Connect to o->conn_uri, find o->domain, register for its events.
 * On success *out is a driver (ops = co_virt_ops) the caller frees with
 * (*out)->ops->close(*out). Strings in o are copied. The domain need not be
 * running to open, but start() needs it running. Fails with CO_EUSAGE (a
 * missing field or a malformed dest_uri), CO_EUNAVAIL (daemon not reachable),
 * CO_ETIMEDOUT, CO_ENOINPUT (no such domain), CO_ENOPERM. */
int co_virt_open(const co_virt_opts *o, co_drv **out, co_diag *diag);

/* The ops table, for drivers compared by identity ("libvirt"). Semantics as
 * in drivers/driver.h, with these libvirt specifics:
 *  - set_tunables (NAN / negative = leave as is, co_drv_tunables_init):
 *    all values are checked before any is applied. downtime_limit_ms is
 *    applied at once (virDomainMigrateSetMaxDowntime); bandwidth, channels
 *    (parallel connections), auto-converge with its initial/increment
 *    throttle, and post-copy are kept and passed to virDomainMigrateToURI3 by
 *    start(). While a migration runs, only downtime and bandwidth
 *    (virDomainMigrateSetMaxSpeed) may change; other changes give CO_EBUSY.
 *    throttle_trigger_pct and max_cpu_throttle_pct have no libvirt 9.0
 *    equivalent: only QEMU's defaults (50, 99) are accepted, else CO_EUSAGE
 *    (co_virt_monitor_ops below sets them).
 *  - get_tunables fills every field: downtime from libvirt
 *    (MigrateGetMaxDowntime); bandwidth as set, else from MigrateGetMaxSpeed
 *    (MiB/s resolution, libvirt's maximum reported as 0 = unlimited); the rest
 *    as set (defaults: 1 channel, no auto-converge, no post-copy, QEMU 7.2's
 *    throttle defaults 20/10/50/99 %).
 *  - start(uri): uri is the destination daemon's URI (NULL: o->dest_uri).
 *    Returns once the migration job is seen running, or fails with the
 *    worker's error if virDomainMigrateToURI3 fails first (a bad or
 *    unreachable destination fails here, with the guest untouched). After a
 *    failed or cancelled attempt start() may be called again; while one
 *    runs CO_EBUSY; after one completed CO_EUSAGE.
 *  - set_throttle: only before start() (libvirt cannot change auto-converge
 *    parameters of a running migration): CO_EUNAVAIL during one.
 *  - pause_guest/resume_guest: virDomainSuspend/Resume. close() resumes a
 *    guest that this driver paused if the migration did not complete.
 *  - cancel: virDomainAbortJob, then waits (up to timeout_ms) for the worker.
 *  - guest_running: a domain that migrated away (gone from the source) is
 *    reported as not running, without error.
 *  - vm_id: the domain's UUID string. */
extern const co_drv_ops co_virt_ops;
/* The same with co_virt_opts.qemu_monitor (name "libvirt-monitor"):
 *  - set_tunables also takes throttle_trigger_pct (1..100) and
 *    max_cpu_throttle_pct (1..99), at once, before or during the migration,
 *    and during one cpu_throttle_initial/increment_pct (auto-converge on);
 *  - set_throttle works during the migration (auto-converge on);
 *  - close() puts back QEMU's max-cpu-throttle and throttle-trigger-threshold
 *    (as read before the first change) when the guest stays on the source.
 * A monitor call that fails is CO_EUNAVAIL (libvirt-qemu.so.0 missing, the
 * daemon) or CO_EFAILED (QEMU refused, with its reason). */
extern const co_drv_ops co_virt_monitor_ops;

/* ---- beyond drivers/driver.h (d must come from co_virt_open, else CO_EUSAGE) ---- */

/* The process-wide set-up co_virt_open does on its first call (libvirt's
 * default event loop on a detached thread, errors silenced), for callers
 * that open plain connections of their own (evacuate/virt.c): keepalive
 * (virConnectSetKeepAlive) only works once it ran, so call it before
 * virConnectOpen. CO_OK, or CO_EUNAVAIL when the loop cannot start. */
int co_virt_init(void);

/* A migration speed in libvirt's unit (MiB/s, virDomainMigrateSetMaxSpeed
 * and VIR_MIGRATE_PARAM_BANDWIDTH) from bytes/s >= 0: rounded up, so a
 * small limit is not 0; 0 (unlimited) is libvirt's own maximum. */
unsigned long co_virt_speed_mibps(double bytes_per_s);

/* The key `cutover migrate` locks a libvirt domain under (engine/lock.h):
 * "libvirt:CONN_URI#UUID" into buf. CO_OK, CO_ERANGE if len is too small. */
int co_virt_lock_key(co_drv *d, char *buf, size_t len);

/* Watching a migration someone else started (virsh, a management layer):
 * the driver itself starts nothing. co_virt_wait_events waits up to
 * timeout_ms for events (as poll) and moves up to max to evs.
 * co_virt_watch_sample reads the domain's job once (virDomainGetJobStats):
 * status none while no outgoing migration job runs; setup/active/
 * postcopy-active while one does; once a job it saw ends: completed (the
 * job-completed event, whose statistics it returns, or the domain left the
 * source / is shut off as migrated), else cancelled or failed with libvirt's
 * error message (completed-job statistics, VIR_DOMAIN_JOB_ERRMSG). Each
 * change of that status is queued as a CO_DRV_EV_STATUS event. Errors:
 * CO_ENOINPUT if the domain vanished before a migration was seen, libvirt's
 * (mapped) otherwise. Not for a driver whose start() ran (CO_EUSAGE). */
int co_virt_wait_events(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev);
int co_virt_watch_sample(co_drv *d, co_drv_stats *st, co_diag *diag);

/* Facts of the domain for a dirty trace (virDomainGetInfo,
 * virConnectGetVersion, the domain XML's type). */
typedef struct co_virt_info {
    double mem_bytes;       /* current memory */
    int vcpus;
    int kvm;                /* 1: <domain type='kvm'>; 0: TCG ('qemu') */
    int running;
    char qemu_version[32];  /* "7.2.0" */
} co_virt_info;
int co_virt_get_info(co_drv *d, co_virt_info *out, co_diag *diag);

/* One dirty-rate measurement over secs whole seconds (libvirt 8.1+:
 * virDomainStartDirtyRateCalc with mode "page-sampling" (NULL), "dirty-bitmap"
 * or "dirty-ring", then virDomainListGetStats(VIR_DOMAIN_STATS_DIRTYRATE)
 * every 200 ms until dirtyrate.calc_status is measured with a new
 * dirtyrate.calc_start_time). *mib_per_s is QEMU's whole MiB/s over the
 * window. CO_EBUSY if a measurement already runs, CO_ETIMEDOUT 10 s after
 * the window without a result, CO_EUSAGE for a bad mode. */
int co_virt_dirty_rate(co_drv *d, int secs, const char *mode, double *mib_per_s,
                       co_diag *diag);

#endif
