/* engine/recorder.c: dirty curves through calc-dirty-rate. */
#include "engine/recorder.h"

#include "drivers/drv_virt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"

static int mem_bytes_of(co_qmp *q, double *mem, co_diag *d)
{
    json_t *ret = NULL;
    int rc = co_qmp_call(q, "query-memory-size-summary", NULL, &ret, d);
    if (rc != CO_OK)
        return rc;
    json_t *b = json_object_get(ret, "base-memory");
    if (!json_is_integer(b)) {
        json_decref(ret);
        return co_diag_set(d, CO_EPROTO, "query-memory-size-summary: no base-memory in the reply");
    }
    *mem = (double)json_integer_value(b);
    json_t *p = json_object_get(ret, "plugged-memory");
    if (json_is_integer(p))
        *mem += (double)json_integer_value(p);
    json_decref(ret);
    return CO_OK;
}

static int vcpus_of(co_qmp *q, int *n, co_diag *d)
{
    json_t *ret = NULL;
    int rc = co_qmp_call(q, "query-cpus-fast", NULL, &ret, d);
    if (rc != CO_OK)
        return rc;
    *n = json_is_array(ret) ? (int)json_array_size(ret) : 0;
    json_decref(ret);
    return CO_OK;
}

static int measure_qmp(void *ctx, int secs, const char *mode, double *mib_per_s, co_diag *d)
{
    co_qmp *q = ctx;
    /* page-sampling hashes sample-pages per GiB (QEMU's default 512): on
     * small guests that is a few dozen pages and the estimate swings by
     * +-50% run to run; 4096 (QEMU's documented maximum) costs little */
    int sample = mode && strcmp(mode, "page-sampling") == 0 ? 4096 : -1;
    int rc = co_qmp_calc_dirty_rate(q, secs, mode, sample, d);
    if (rc != CO_OK)
        return rc;
    /* QEMU measures in its own thread; poll until it says measured */
    double t0_ms = co_clock_ms();
    for (;;) {
        usleep(200 * 1000);
        co_qmp_dirty_rate r;
        if ((rc = co_qmp_query_dirty_rate(q, &r, d)) != CO_OK)
            return rc;
        if (strcmp(r.status, "measured") == 0) {
            *mib_per_s = (double)r.dirty_rate_mib_per_s;
            return CO_OK;
        }
        if (co_clock_ms() - t0_ms > (secs + 10) * 1000.0)
            return co_diag_set(d, CO_ETIMEDOUT, "calc-dirty-rate: no result %d s after a %d s window",
                               secs + 10, secs);
    }
}

/* One window's measurement, whatever the VM is reached through. */
typedef int (*measure_fn)(void *ctx, int secs, const char *mode, double *mib_per_s, co_diag *d);

static int check_windows(const int *secs, int n, co_diag *d)
{
    if (n < 1 || n > CO_DIRTY_TABLE_MAX)
        return co_diag_set(d, CO_EUSAGE, "record: 1 to %d windows", CO_DIRTY_TABLE_MAX);
    for (int i = 0; i < n; i++)
        if (secs[i] < 1 || (i > 0 && secs[i] <= secs[i - 1]))
            return co_diag_set(d, CO_EUSAGE, "record: windows must be whole seconds, increasing");
    return CO_OK;
}

/* The windows, one after another, into t (whose mem_bytes, vcpus and
 * qemu_version the caller filled). */
static int record_windows(measure_fn measure, void *ctx, int kvm, const int *secs, int n,
                          const char *mode, co_dirty_trace *t, co_record_progress progress,
                          void *arg, co_diag *d)
{
    /* QEMU 7.2 under TCG dies on calc-dirty-rate in dirty-bitmap mode (seen
     * here: the process exits without a word), so never send it there. */
    if (mode == NULL)
        mode = kvm ? "dirty-bitmap" : "page-sampling";
    else if (!kvm && strcmp(mode, "page-sampling") != 0)
        return co_diag_set(d, CO_EUSAGE,
                           "--mode %s: this VM runs under TCG, where QEMU 7.2 crashes on "
                           "dirty-bitmap and has no dirty ring; use --mode page-sampling",
                           mode);
    snprintf(t->method, sizeof t->method, "calc-dirty-rate/%s", mode);
    t->page_size_bytes = 4096; /* x86 target page; QMP does not report it */
    time_t now = time(NULL);
    strftime(t->recorded_at, sizeof t->recorded_at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double max_pages = t->mem_bytes / t->page_size_bytes;
    for (int i = 0; i < n; i++) {
        if (progress)
            progress(i, n, secs[i], arg);
        double mib = 0;
        int rc = measure(ctx, secs[i], mode, &mib, d);
        if (rc != CO_OK)
            return rc;
        /* QEMU reports MiB/s over the window: distinct pages = rate x t / page */
        double pages = fmin(mib * 1048576.0 * secs[i] / t->page_size_bytes, max_pages);
        /* windows are measured one after another, so noise can make a longer
         * window count fewer pages; U is non-decreasing, keep the max */
        if (i > 0 && pages < t->dirty_pages[i - 1])
            pages = t->dirty_pages[i - 1];
        t->window_ms[i] = secs[i] * 1000.0;
        t->dirty_pages[i] = pages;
        t->n = i + 1;
    }
    return CO_OK;
}

int co_record_curve(co_qmp *q, const int *secs, int n, const char *mode, co_dirty_trace *t,
                    co_record_progress progress, void *arg, co_diag *d)
{
    int rc = check_windows(secs, n, d);
    if (rc != CO_OK)
        return rc;
    memset(t, 0, sizeof *t);
    co_qmp_ver v;
    int kvm = 0;
    rc = co_qmp_query_version(q, &v, d);
    if (rc == CO_OK)
        rc = mem_bytes_of(q, &t->mem_bytes, d);
    if (rc == CO_OK)
        rc = vcpus_of(q, &t->vcpus, d);
    if (rc == CO_OK)
        rc = co_qmp_query_kvm(q, &kvm, d);
    if (rc != CO_OK)
        return rc;
    snprintf(t->qemu_version, sizeof t->qemu_version, "%d.%d.%d", v.major, v.minor, v.micro);
    return record_windows(measure_qmp, q, kvm, secs, n, mode, t, progress, arg, d);
}

static int measure_virt(void *ctx, int secs, const char *mode, double *mib_per_s, co_diag *d)
{
    return co_virt_dirty_rate(ctx, secs, mode, mib_per_s, d);
}

int co_record_curve_virt(co_drv *drv, const int *secs, int n, const char *mode,
                         co_dirty_trace *t, co_record_progress progress, void *arg, co_diag *d)
{
    int rc = check_windows(secs, n, d);
    if (rc != CO_OK)
        return rc;
    memset(t, 0, sizeof *t);
    co_virt_info in;
    if ((rc = co_virt_get_info(drv, &in, d)) != CO_OK)
        return rc;
    if (!in.running)
        return co_diag_set(d, CO_EUSAGE, "record: the domain is not running");
    t->mem_bytes = in.mem_bytes;
    t->vcpus = in.vcpus;
    snprintf(t->qemu_version, sizeof t->qemu_version, "%s", in.qemu_version);
    return record_windows(measure_virt, drv, in.kvm, secs, n, mode, t, progress, arg, d);
}
