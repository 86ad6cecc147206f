/* drivers/driver.c: helpers shared by every migration driver (status names,
 * statistics initialisation). */
#include "drivers/driver.h"

#include <math.h>
#include <string.h>

/* Indexed by enum co_drv_status; names as in QEMU 7.2's MigrationStatus. */
static const char *const status_names[] = {
    [CO_DRV_MIG_NONE] = "none",
    [CO_DRV_MIG_SETUP] = "setup",
    [CO_DRV_MIG_CANCELLING] = "cancelling",
    [CO_DRV_MIG_CANCELLED] = "cancelled",
    [CO_DRV_MIG_ACTIVE] = "active",
    [CO_DRV_MIG_POSTCOPY_ACTIVE] = "postcopy-active",
    [CO_DRV_MIG_POSTCOPY_PAUSED] = "postcopy-paused",
    [CO_DRV_MIG_POSTCOPY_RECOVER] = "postcopy-recover",
    [CO_DRV_MIG_COMPLETED] = "completed",
    [CO_DRV_MIG_FAILED] = "failed",
    [CO_DRV_MIG_COLO] = "colo",
    [CO_DRV_MIG_PRE_SWITCHOVER] = "pre-switchover",
    [CO_DRV_MIG_DEVICE] = "device",
    [CO_DRV_MIG_WAIT_UNPLUG] = "wait-unplug",
};
#define NSTATUS (int)(sizeof status_names / sizeof status_names[0])

const char *co_drv_status_name(int status)
{
    if (status < 0 || status >= NSTATUS || status_names[status] == NULL)
        return "none";
    return status_names[status];
}

int co_drv_status_parse(const char *name)
{
    if (name == NULL)
        return CO_DRV_MIG_NONE;
    for (int i = 0; i < NSTATUS; i++)
        if (status_names[i] && strcmp(name, status_names[i]) == 0)
            return i;
    return CO_DRV_MIG_NONE;
}

void co_drv_stats_init(co_drv_stats *st)
{
    memset(st, 0, sizeof *st);
    st->status = CO_DRV_MIG_NONE;
    st->sampled_at_ms = NAN;
    st->total_time_ms = st->setup_time_ms = st->downtime_ms = st->expected_downtime_ms = NAN;
    st->ram_transferred_bytes = st->ram_remaining_bytes = st->ram_total_bytes = NAN;
    st->ram_duplicate_pages = st->ram_normal_pages = st->ram_normal_bytes = NAN;
    st->ram_dirty_pages_rate = st->ram_mbps = st->ram_page_size_bytes = NAN;
    st->ram_multifd_bytes = st->ram_pages_per_second = st->ram_precopy_bytes = NAN;
    st->ram_downtime_bytes = st->ram_postcopy_bytes = st->ram_postcopy_requests = NAN;
    st->ram_dirty_sync_count = -1;
    st->ram_skipped_pages = st->ram_dirty_sync_missed_zero_copy = NAN;
    st->disk_transferred_bytes = st->disk_remaining_bytes = st->disk_total_bytes = NAN;
    st->vfio_transferred_bytes = NAN;
    st->xbzrle_cache_size_bytes = st->xbzrle_bytes = st->xbzrle_pages = NAN;
    st->xbzrle_cache_miss = st->xbzrle_cache_miss_rate = st->xbzrle_encoding_rate = NAN;
    st->xbzrle_overflow = NAN;
    st->compression_pages = st->compression_busy = st->compression_busy_rate = NAN;
    st->compression_compressed_size_bytes = st->compression_rate = NAN;
    st->postcopy_blocktime_ms = st->postcopy_vcpu_blocktime_max_ms = NAN;
    st->cpu_throttle_pct = NAN;
}

void co_drv_tunables_init(co_drv_tunables *t)
{
    t->downtime_limit_ms = NAN;
    t->max_bandwidth_bytes_per_s = NAN;
    t->multifd_channels = -1;
    t->auto_converge = -1;
    t->postcopy_ram = -1;
    t->postcopy_preempt = -1;
    t->cpu_throttle_initial_pct = NAN;
    t->cpu_throttle_increment_pct = NAN;
    t->throttle_trigger_pct = NAN;
    t->max_cpu_throttle_pct = NAN;
    t->max_postcopy_bandwidth_bytes_per_s = NAN;
}
