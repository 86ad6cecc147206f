/* drivers/driver.h: the migration driver interface (one controller, two drivers).
 *
 * Owns: the operations the controller (engine/controller.h) needs from a
 * hypervisor connection, in QEMU's vocabulary (qapi/migration.json), and the
 * migration statistics record both drivers fill. Two implementations:
 *   drivers/drv_qmp.c   QEMU's QMP socket, through drivers/qmp.h
 *   drivers/drv_virt.c  libvirt (virDomainMigrateToURI3, virDomainGetJobStats, ...)
 * Every call takes the driver's own context explicitly, returns CO_OK or a
 * negative CO_E* code and fills the co_diag with what went wrong. No call
 * blocks longer than the timeout the driver was opened with (default 5 s).
 * Units: ms, bytes, bytes/s, pages, percent. */
#ifndef CUTOVER_ENGINE_DRIVER_H
#define CUTOVER_ENGINE_DRIVER_H

#include <stdint.h>

#include "util/diag.h"

/* MigrationStatus of qapi/migration.json (QEMU 7.2). */
enum co_drv_status {
    CO_DRV_MIG_NONE = 0,
    CO_DRV_MIG_SETUP,
    CO_DRV_MIG_CANCELLING,
    CO_DRV_MIG_CANCELLED,
    CO_DRV_MIG_ACTIVE,
    CO_DRV_MIG_POSTCOPY_ACTIVE,
    CO_DRV_MIG_POSTCOPY_PAUSED,
    CO_DRV_MIG_POSTCOPY_RECOVER,
    CO_DRV_MIG_COMPLETED,
    CO_DRV_MIG_FAILED,
    CO_DRV_MIG_COLO,
    CO_DRV_MIG_PRE_SWITCHOVER,
    CO_DRV_MIG_DEVICE,
    CO_DRV_MIG_WAIT_UNPLUG,
};
/* "active", "postcopy-active", ...; unknown names map to CO_DRV_MIG_NONE. */
const char *co_drv_status_name(int status);
int co_drv_status_parse(const char *name);

/* One sample of query-migrate (or virDomainGetJobStats). Fields the source
 * did not report are NAN (doubles) or -1 (integers); co_drv_stats_init()
 * sets that state. Every member of QEMU 7.2's MigrationInfo has a field
 * here (ram.*, disk.* partly, vfio, xbzrle-cache, compression, times,
 * blocked-reasons, socket-address); postcopy-vcpu-blocktime is summarised
 * as its maximum. */
typedef struct co_drv_stats {
    int status;                      /* enum co_drv_status */
    double sampled_at_ms;            /* CLOCK_MONOTONIC time of the sample */
    double total_time_ms;            /* since the migration started */
    double setup_time_ms;
    double downtime_ms;              /* final, when completed */
    double expected_downtime_ms;
    double ram_transferred_bytes;
    double ram_remaining_bytes;
    double ram_total_bytes;
    double ram_duplicate_pages;      /* zero pages */
    double ram_normal_pages;
    double ram_normal_bytes;
    double ram_dirty_pages_rate;     /* pages/s, updated once a second by QEMU */
    double ram_mbps;                 /* QEMU's last 100 ms window, Mbit/s */
    double ram_page_size_bytes;
    double ram_multifd_bytes;
    double ram_pages_per_second;
    double ram_precopy_bytes;
    double ram_downtime_bytes;
    double ram_postcopy_bytes;
    double ram_postcopy_requests;
    int64_t ram_dirty_sync_count;
    double ram_skipped_pages;
    double ram_dirty_sync_missed_zero_copy;
    double disk_transferred_bytes;   /* block migration (deprecated in QEMU) */
    double disk_remaining_bytes;
    double disk_total_bytes;
    double vfio_transferred_bytes;
    double xbzrle_cache_size_bytes;
    double xbzrle_bytes;
    double xbzrle_pages;
    double xbzrle_cache_miss;
    double xbzrle_cache_miss_rate;
    double xbzrle_encoding_rate;
    double xbzrle_overflow;
    double compression_pages;
    double compression_busy;
    double compression_busy_rate;
    double compression_compressed_size_bytes;
    double compression_rate;
    double postcopy_blocktime_ms;
    double postcopy_vcpu_blocktime_max_ms;
    double cpu_throttle_pct;
    char error_desc[256];            /* when failed */
    char blocked_reasons[256];       /* "; "-joined, "" if none */
    char socket_address[128];        /* first listed, "tcp:HOST:PORT" or "unix:PATH" */
} co_drv_stats;

/* Set every field of st to "not reported" (NAN, -1, "") and status to
 * CO_DRV_MIG_NONE. */
void co_drv_stats_init(co_drv_stats *st);

/* Migration parameters and capabilities the controller may change.
 * For set_tunables, a NAN double or a negative int means "leave as is"
 * (co_drv_tunables_init sets that state); get_tunables fills every field. */
typedef struct co_drv_tunables {
    double downtime_limit_ms;        /* downtime-limit */
    double max_bandwidth_bytes_per_s;/* max-bandwidth; 0 = unlimited */
    int multifd_channels;            /* 1 = multifd off */
    int auto_converge;               /* capability */
    int postcopy_ram;                /* capability */
    int postcopy_preempt;            /* capability (QEMU 7.1+): faulted pages on a channel
                                        of their own; -1 = absent or leave */
    double cpu_throttle_initial_pct;
    double cpu_throttle_increment_pct;
    double throttle_trigger_pct;
    double max_cpu_throttle_pct;
    /* max-postcopy-bandwidth: the background pages' rate once in
     * post-copy; 0 = unlimited (QEMU's default); NAN = not known or leave */
    double max_postcopy_bandwidth_bytes_per_s;
} co_drv_tunables;

/* Every field "leave as is": NAN doubles, -1 ints. */
void co_drv_tunables_init(co_drv_tunables *t);

/* An event seen between two polls. */
enum co_drv_event_kind {
    CO_DRV_EV_STATUS = 1,   /* MIGRATION: status changed to ev.status */
    CO_DRV_EV_PASS,         /* MIGRATION_PASS / migration-iteration: pass ev.pass */
    CO_DRV_EV_STOP,         /* guest stopped */
    CO_DRV_EV_RESUME,       /* guest resumed */
    CO_DRV_EV_SHUTDOWN,     /* guest or QEMU going away */
};
typedef struct co_drv_event {
    int kind;
    int status;
    int64_t pass;
    double at_ms;           /* CLOCK_MONOTONIC when received */
} co_drv_event;

typedef struct co_drv co_drv; /* opaque; allocated by the driver's open() */

typedef struct co_drv_ops {
    const char *name; /* "qmp" or "libvirt" */
    /* Read the current tunables (to restore them later). */
    int (*get_tunables)(co_drv *d, co_drv_tunables *out, co_diag *diag);
    /* Apply all tunables before start (capabilities can only change then). */
    int (*set_tunables)(co_drv *d, const co_drv_tunables *t, co_diag *diag);
    /* Start the migration to uri (QMP "tcp:HOST:PORT"; libvirt: dest URI). */
    int (*start)(co_drv *d, const char *uri, co_diag *diag);
    /* Wait up to timeout_ms for events, store up to max of them in evs
     * (count in *n_ev), then sample statistics into *st. */
    int (*poll)(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev,
                co_drv_stats *st, co_diag *diag);
    /* Live changes during the migration. */
    int (*set_downtime_limit)(co_drv *d, double ms, co_diag *diag);
    int (*set_max_bandwidth)(co_drv *d, double bytes_per_s, co_diag *diag);
    int (*set_throttle)(co_drv *d, double initial_pct, double increment_pct,
                        co_diag *diag);
    int (*start_postcopy)(co_drv *d, co_diag *diag);
    int (*pause_guest)(co_drv *d, co_diag *diag);
    int (*resume_guest)(co_drv *d, co_diag *diag);
    /* Cancel; returns once the status is cancelled/failed/completed or the
     * timeout passed. */
    int (*cancel)(co_drv *d, co_diag *diag);
    /* 1 if the guest is running (on this side), 0 if not. */
    int (*guest_running)(co_drv *d, int *running, co_diag *diag);
    /* Per-vCPU dirty-page rate limit (QEMU 7.1+ set-vcpu-dirty-limit; needs
     * KVM with a dirty ring). mib_per_s > 0 limits every vCPU to it and
     * stores how many vCPUs are limited in *vcpus (may be NULL); <= 0
     * cancels the limit. CO_ECONFIG when the VM cannot (TCG, no dirty
     * ring). NULL when the driver has no such call (libvirt 9.0). */
    int (*set_dirty_limit)(co_drv *d, double mib_per_s, int *vcpus, co_diag *diag);
    /* QEMU's dirty-rate measurement (calc-dirty-rate, QEMU 5.2+) in
     * page-sampling mode, the one that runs beside a migration: hash
     * sample_pages_per_gib pages per GiB (QMP only; libvirt picks) now and
     * secs seconds later. CO_EBUSY when a measurement is already running
     * (QEMU 7.2 marks it running from its thread, so a request right after
     * another may still be taken). NULL when the driver has none. */
    int (*dirty_rate_start)(co_drv *d, int secs, int sample_pages_per_gib, co_diag *diag);
    /* The measurement started by dirty_rate_start: *measured = 1 and
     * *mib_per_s (MiB of distinct pages changed per second of the window)
     * once it is over, else *measured = 0. */
    int (*dirty_rate_read)(co_drv *d, int *measured, double *mib_per_s, co_diag *diag);
    /* A stable identity of the VM for locking (socket path, domain UUID). */
    const char *(*vm_id)(co_drv *d);
    void (*close)(co_drv *d);
} co_drv_ops;

/* A driver handle: ops plus its private context. */
struct co_drv {
    const co_drv_ops *ops;
    void *impl;
};

#endif
