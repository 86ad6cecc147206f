/* engine/timeline.c: JSONL timeline records. See engine/timeline.h. */
#include "engine/timeline.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Set key to x unless x is NAN (not reported). */
static void put_num(json_t *o, const char *key, double x)
{
    if (isnan(x) || isinf(x))
        return;
    /* Integral values print as integers: byte and page counts stay exact. */
    if (x == floor(x) && fabs(x) < 9.0e15)
        json_object_set_new(o, key, json_integer((json_int_t)x));
    else
        json_object_set_new(o, key, json_real(x));
}

json_t *co_timeline_sample(const co_drv_stats *st, double t_ms)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "type", json_string("sample"));
    json_object_set_new(o, "t_ms", json_real(round(t_ms * 1000) / 1000));
    json_object_set_new(o, "status", json_string(co_drv_status_name(st->status)));
    put_num(o, "total_time_ms", st->total_time_ms);
    put_num(o, "setup_time_ms", st->setup_time_ms);
    put_num(o, "downtime_ms", st->downtime_ms);
    put_num(o, "expected_downtime_ms", st->expected_downtime_ms);
    put_num(o, "ram_transferred_bytes", st->ram_transferred_bytes);
    put_num(o, "ram_remaining_bytes", st->ram_remaining_bytes);
    put_num(o, "ram_total_bytes", st->ram_total_bytes);
    put_num(o, "ram_duplicate_pages", st->ram_duplicate_pages);
    put_num(o, "ram_skipped_pages", st->ram_skipped_pages);
    put_num(o, "ram_normal_pages", st->ram_normal_pages);
    put_num(o, "ram_normal_bytes", st->ram_normal_bytes);
    put_num(o, "ram_dirty_pages_rate", st->ram_dirty_pages_rate);
    put_num(o, "ram_mbps", st->ram_mbps);
    put_num(o, "ram_page_size_bytes", st->ram_page_size_bytes);
    put_num(o, "ram_multifd_bytes", st->ram_multifd_bytes);
    put_num(o, "ram_pages_per_second", st->ram_pages_per_second);
    put_num(o, "ram_precopy_bytes", st->ram_precopy_bytes);
    put_num(o, "ram_downtime_bytes", st->ram_downtime_bytes);
    put_num(o, "ram_postcopy_bytes", st->ram_postcopy_bytes);
    put_num(o, "ram_postcopy_requests", st->ram_postcopy_requests);
    put_num(o, "ram_dirty_sync_missed_zero_copy", st->ram_dirty_sync_missed_zero_copy);
    if (st->ram_dirty_sync_count >= 0)
        json_object_set_new(o, "ram_dirty_sync_count",
                            json_integer((json_int_t)st->ram_dirty_sync_count));
    put_num(o, "disk_transferred_bytes", st->disk_transferred_bytes);
    put_num(o, "disk_remaining_bytes", st->disk_remaining_bytes);
    put_num(o, "disk_total_bytes", st->disk_total_bytes);
    put_num(o, "vfio_transferred_bytes", st->vfio_transferred_bytes);
    put_num(o, "xbzrle_cache_size_bytes", st->xbzrle_cache_size_bytes);
    put_num(o, "xbzrle_bytes", st->xbzrle_bytes);
    put_num(o, "xbzrle_pages", st->xbzrle_pages);
    put_num(o, "xbzrle_cache_miss", st->xbzrle_cache_miss);
    put_num(o, "xbzrle_cache_miss_rate", st->xbzrle_cache_miss_rate);
    put_num(o, "xbzrle_encoding_rate", st->xbzrle_encoding_rate);
    put_num(o, "xbzrle_overflow", st->xbzrle_overflow);
    put_num(o, "compression_pages", st->compression_pages);
    put_num(o, "compression_busy", st->compression_busy);
    put_num(o, "compression_busy_rate", st->compression_busy_rate);
    put_num(o, "compression_compressed_size_bytes", st->compression_compressed_size_bytes);
    put_num(o, "compression_rate", st->compression_rate);
    put_num(o, "postcopy_blocktime_ms", st->postcopy_blocktime_ms);
    put_num(o, "postcopy_vcpu_blocktime_max_ms", st->postcopy_vcpu_blocktime_max_ms);
    put_num(o, "cpu_throttle_pct", st->cpu_throttle_pct);
    if (st->error_desc[0])
        json_object_set_new(o, "error_desc", json_string(st->error_desc));
    if (st->blocked_reasons[0])
        json_object_set_new(o, "blocked_reasons", json_string(st->blocked_reasons));
    if (st->socket_address[0])
        json_object_set_new(o, "socket_address", json_string(st->socket_address));
    return o;
}

json_t *co_timeline_event(const co_qmp_event *ev, double t_ms)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "type", json_string("event"));
    json_object_set_new(o, "t_ms", json_real(round(t_ms * 1000) / 1000));
    json_object_set_new(o, "event", json_string(ev->name));
    if (ev->data)
        json_object_set(o, "data", ev->data);
    put_num(o, "qemu_timestamp_s", ev->timestamp_s);
    return o;
}

json_t *co_timeline_drv_event(const co_drv_event *ev, double t_ms)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    const char *name = "unknown";
    json_t *data = NULL;
    switch (ev->kind) {
    case CO_DRV_EV_PASS:
        name = "migration-iteration";
        data = json_pack("{s:I}", "iteration", (json_int_t)ev->pass);
        break;
    case CO_DRV_EV_STATUS:
        name = "status";
        data = json_pack("{s:s}", "status", co_drv_status_name(ev->status));
        break;
    case CO_DRV_EV_STOP: name = "suspended"; break;
    case CO_DRV_EV_RESUME: name = "resumed"; break;
    case CO_DRV_EV_SHUTDOWN: name = "stopped"; break;
    default: break;
    }
    json_object_set_new(o, "type", json_string("event"));
    json_object_set_new(o, "t_ms", json_real(round(t_ms * 1000) / 1000));
    json_object_set_new(o, "event", json_string(name));
    if (data)
        json_object_set_new(o, "data", data);
    return o;
}

int co_timeline_write(FILE *out, json_t *j, const char *what, co_diag *d)
{
    if (j == NULL)
        return co_diag_set(d, CO_ENOMEM, "%s: out of memory building a timeline record", what);
    int rc = json_dumpf(j, out, JSON_COMPACT | JSON_REAL_PRECISION(16));
    json_decref(j);
    if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0)
        return co_diag_set(d, CO_EIO, "%s: write failed: %s", what, strerror(errno));
    return CO_OK;
}
