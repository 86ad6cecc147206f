/* drivers/drv_virt.c: the libvirt driver (see drivers/drv_virt.h). */
#include "drivers/drv_virt.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "util/clock.h"

#define VIRT_EV_CAP 64
/* libvirt's own cap for "unlimited" migration speed, in MiB/s
 * (QEMU_DOMAIN_MIG_BANDWIDTH_MAX in src/qemu/qemu_domain.h). */
#define VIRT_BANDWIDTH_MAX_MIBPS ((unsigned long)(INT64_MAX / (1024 * 1024)))
#define MIB 1048576.0
/* QEMU 7.2's defaults (migration/migration.c DEFAULT_MIGRATE_CPU_THROTTLE_*,
 * DEFAULT_MIGRATE_THROTTLE_TRIGGER_THRESHOLD, DEFAULT_MIGRATE_MAX_CPU_THROTTLE):
 * libvirt 9.0 can neither read nor (for the last two) set them. */
#define QEMU_THROTTLE_INITIAL_PCT 20.0
#define QEMU_THROTTLE_INCREMENT_PCT 10.0
#define QEMU_THROTTLE_TRIGGER_PCT 50.0
#define QEMU_MAX_CPU_THROTTLE_PCT 99.0

/* ---- process-wide libvirt set-up (the one exception to "no globals") ---- */

static pthread_once_t virt_once = PTHREAD_ONCE_INIT;
static int virt_once_rc = -1;

static void virt_silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err; /* errors are read with virGetLastError() and reported by us */
}

static void *virt_event_loop(void *arg)
{
    (void)arg;
    for (;;)
        if (virEventRunDefaultImpl() < 0) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL); /* do not spin if the loop reports errors */
        }
    return NULL;
}

static void virt_init_once(void)
{
    virSetErrorFunc(NULL, virt_silent_error);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
        return;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, virt_event_loop, NULL) == 0)
        virt_once_rc = 0;
    pthread_attr_destroy(&a);
}

int co_virt_init(void)
{
    pthread_once(&virt_once, virt_init_once);
    return virt_once_rc == 0 ? CO_OK : CO_EUNAVAIL;
}

/* ---- context ---- */

typedef struct virt_ctx {
    co_drv drv;
    char *conn_uri, *domain_name, *dest_uri, *migrate_uri, *listen_address, *tls_destination;
    int tls, persist_dest, copy_storage, timeout_ms;
    virConnectPtr conn;
    virDomainPtr dom;
    char uuid[VIR_UUID_STRING_BUFLEN];
    int cb_ids[4];
    int n_cb;

    co_drv_tunables tun;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu: */
    co_drv_event evs[VIRT_EV_CAP];
    int n_evs;
    int cb_live;               /* registered callbacks whose freecb has not run */
    int postcopy_seen;
    int cancel_requested;
    int paused_by_us;
    int have_final;            /* job-completed event stats captured */
    int migrated_away;         /* lifecycle: stopped, migrated (co_virt_watch_sample) */
    int watch_seen;            /* co_virt_watch_sample saw a migration job running */
    co_drv_stats final;
    co_drv_stats last;         /* last successful sample while running */
    int started, worker_done, worker_rc;
    int ever_started;          /* start() was called once: no more deferring */
    double deferred_downtime_ms; /* set before the first start, applied once the job
                                  * runs (NAN: none): a refused start changes nothing */
    int worker_err_code;       /* virErrorNumber */
    char worker_err[256];
    pthread_t worker;
    int worker_joined;
    int status_reported;       /* last status poll() reported (controller thread only) */
    virTypedParameterPtr mig_params; /* built by start(), read by the worker */
    int mig_nparams;
    unsigned long mig_flags;
    /* --allow qemu-monitor (co_virt_opts.qemu_monitor): what libvirt 9.0
     * cannot set goes through libvirt-qemu's monitor passthrough */
    int monitor;
    int mon_changed;           /* max-cpu-throttle / throttle-trigger-threshold changed:
                                * put back at close() if the guest stays here */
    double mon_orig_max_pct, mon_orig_trigger_pct; /* as QEMU had them (NAN: not read) */
} virt_ctx;

/* libvirt's error code -> ours. */
static int map_vir_error(int code)
{
    switch (code) {
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_INTERNAL_ERROR:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return CO_EUNAVAIL;
    case VIR_ERR_NO_DOMAIN:
        return CO_ENOINPUT;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return CO_EUSAGE;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_AUTH_UNAVAILABLE:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_OPERATION_DENIED:
        return CO_ENOPERM;
    case VIR_ERR_OPERATION_TIMEOUT:
        return CO_ETIMEDOUT;
    case VIR_ERR_OPERATION_ABORTED:
        return CO_ECANCELED;
    case VIR_ERR_OPERATION_INVALID:
        return CO_EBUSY;
    default:
        return CO_EFAILED;
    }
}

/* Copy libvirt's last error of this thread into one line, without the
 * trailing newline some messages carry. */
static int last_error(char *buf, size_t len)
{
    virErrorPtr e = virGetLastError();
    const char *m = (e && e->message) ? e->message : "unknown libvirt error";
    snprintf(buf, len, "%s", m);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    return e ? e->code : VIR_ERR_INTERNAL_ERROR;
}

/* Fill diag from libvirt's last error: "WHAT (where): libvirt message". */
static int virt_fail(co_diag *diag, const char *what, const char *where)
{
    char m[512];
    int code = map_vir_error(last_error(m, sizeof m));
    virResetLastError();
    return co_diag_set(diag, code, "%s (%s): %s", what, where, m);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* libvirt-qemu's virDomainQemuMonitorCommand, loaded on first use and only
 * with --allow qemu-monitor: the one way through libvirt 9.0 to set
 * max-cpu-throttle and throttle-trigger-threshold, or the throttle of a
 * running migration (libvirt fixes cpu-throttle-initial/increment at the
 * start). libvirt allows the call during a migration job (a query job;
 * checked on libvirtd 9.0) and marks the domain tainted (custom-monitor). */
typedef int (*mon_cmd_fn)(virDomainPtr, const char *, char **, unsigned int);
static pthread_once_t mon_once = PTHREAD_ONCE_INIT;
static mon_cmd_fn mon_cmd;
static char mon_err[256];

static void mon_load(void)
{
    void *h = dlopen("libvirt-qemu.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        snprintf(mon_err, sizeof mon_err, "libvirt-qemu.so.0 could not be loaded: %s",
                 e ? e : "unknown dlopen error");
        return;
    }
    void *f = dlsym(h, "virDomainQemuMonitorCommand");
    if (f == NULL)
        snprintf(mon_err, sizeof mon_err, "libvirt-qemu.so.0 has no virDomainQemuMonitorCommand");
    memcpy(&mon_cmd, &f, sizeof f);
}

/* One QMP command through the passthrough; *ret (when not NULL) gets QEMU's
 * "return" value (a new reference). An "error" answer is CO_EFAILED with
 * QEMU's description. */
static int mon_exec(virt_ctx *c, const char *execute, json_t *args, json_t **ret,
                    co_diag *diag)
{
    if (ret)
        *ret = NULL;
    pthread_once(&mon_once, mon_load);
    if (mon_cmd == NULL) {
        json_decref(args);
        return co_diag_set(diag, CO_EUNAVAIL, "libvirt: %s (--allow qemu-monitor)", mon_err);
    }
    json_t *cmd = args ? json_pack("{s:s, s:o}", "execute", execute, "arguments", args)
                       : json_pack("{s:s}", "execute", execute);
    char *text = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
    json_decref(cmd);
    if (text == NULL)
        return co_diag_set(diag, CO_ENOMEM, "out of memory");
    char *reply = NULL;
    int rc = mon_cmd(c->dom, text, &reply, 0);
    free(text);
    if (rc < 0)
        return virt_fail(diag, "the QEMU monitor passthrough failed", c->domain_name);
    json_t *r = reply ? json_loads(reply, 0, NULL) : NULL;
    free(reply);
    json_t *val = json_object_get(r, "return");
    if (val == NULL) {
        const char *why = json_string_value(json_object_get(json_object_get(r, "error"), "desc"));
        rc = co_diag_set(diag, CO_EFAILED, "QEMU refused %s (%s): %s", execute, c->domain_name,
                         why ? why : "no answer it understood");
        json_decref(r);
        return rc;
    }
    if (ret)
        *ret = json_incref(val);
    json_decref(r);
    return CO_OK;
}

/* migrate-set-parameters through the passthrough; a field NAN is left out.
 * The first change of max-cpu-throttle or throttle-trigger-threshold reads
 * QEMU's values first, to put them back at close(). */
static int mon_set(virt_ctx *c, double initial, double increment, double trigger, double max,
                   co_diag *diag)
{
    if ((!isnan(trigger) || !isnan(max)) && !c->mon_changed) {
        json_t *cur = NULL;
        int rc = mon_exec(c, "query-migrate-parameters", NULL, &cur, diag);
        if (rc != CO_OK)
            return rc;
        json_t *m = json_object_get(cur, "max-cpu-throttle"),
               *t = json_object_get(cur, "throttle-trigger-threshold");
        c->mon_orig_max_pct = json_is_integer(m) ? (double)json_integer_value(m) : NAN;
        c->mon_orig_trigger_pct = json_is_integer(t) ? (double)json_integer_value(t) : NAN;
        json_decref(cur);
    }
    json_t *a = json_object();
    if (!isnan(initial))
        json_object_set_new(a, "cpu-throttle-initial", json_integer(llround(initial)));
    if (!isnan(increment))
        json_object_set_new(a, "cpu-throttle-increment", json_integer(llround(increment)));
    if (!isnan(trigger))
        json_object_set_new(a, "throttle-trigger-threshold", json_integer(llround(trigger)));
    if (!isnan(max))
        json_object_set_new(a, "max-cpu-throttle", json_integer(llround(max)));
    if (json_object_size(a) == 0) {
        json_decref(a);
        return CO_OK;
    }
    int rc = mon_exec(c, "migrate-set-parameters", a, NULL, diag);
    if (rc == CO_OK && (!isnan(trigger) || !isnan(max)))
        c->mon_changed = 1;
    return rc;
}

/* A URI libvirt can parse at all: SCHEME://..., scheme of letters, digits,
 * '+', '-', '.', starting with a letter; no spaces or control characters. */
static int uri_plausible(const char *u)
{
    if (u == NULL || !((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z')))
        return 0;
    const char *p = u;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return 0;
    for (p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* ---- events (called on libvirt's event-loop thread) ---- */

static void push_event(virt_ctx *c, int kind, int status, int64_t pass)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_evs == VIRT_EV_CAP) { /* keep the newest: drop the oldest */
        memmove(&c->evs[0], &c->evs[1], sizeof c->evs[0] * (VIRT_EV_CAP - 1));
        c->n_evs--;
    }
    c->evs[c->n_evs++] = (co_drv_event){.kind = kind, .status = status, .pass = pass,
                                        .at_ms = co_clock_ms()};
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_iteration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
    (void)conn;
    (void)dom;
    push_event(opaque, CO_DRV_EV_PASS, 0, iteration);
}

static void on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                         void *opaque)
{
    (void)conn;
    (void)dom;
    virt_ctx *c = opaque;
    switch (event) {
    case VIR_DOMAIN_EVENT_SUSPENDED:
        if (detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY) {
            pthread_mutex_lock(&c->mu);
            c->postcopy_seen = 1;
            pthread_mutex_unlock(&c->mu);
            push_event(c, CO_DRV_EV_STATUS, CO_DRV_MIG_POSTCOPY_ACTIVE, 0);
        }
        push_event(c, CO_DRV_EV_STOP, 0, 0);
        break;
    case VIR_DOMAIN_EVENT_RESUMED:
        push_event(c, CO_DRV_EV_RESUME, 0, 0);
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        if (detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED) {
            pthread_mutex_lock(&c->mu);
            c->migrated_away = 1;
            pthread_mutex_unlock(&c->mu);
        }
        push_event(c, CO_DRV_EV_SHUTDOWN, 0, 0);
        break;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
    case VIR_DOMAIN_EVENT_CRASHED:
        push_event(c, CO_DRV_EV_SHUTDOWN, 0, 0);
        break;
    default:
        break;
    }
}

/* Typed parameters of a job -> co_drv_stats (fields not present stay NAN/-1). */
static void stats_from_params(co_drv_stats *st, virTypedParameterPtr p, int n, int completed)
{
    unsigned long long u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &u) == 1)
        st->total_time_ms = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_SETUP_TIME, &u) == 1)
        st->setup_time_ms = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DOWNTIME, &u) == 1) {
        if (completed)
            st->downtime_ms = (double)u;
        else
            st->expected_downtime_ms = (double)u;
    }
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED, &u) == 1 ||
        virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &u) == 1)
        st->ram_transferred_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_REMAINING, &u) == 1 ||
        virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_REMAINING, &u) == 1)
        st->ram_remaining_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_TOTAL, &u) == 1 ||
        virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_TOTAL, &u) == 1)
        st->ram_total_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_CONSTANT, &u) == 1)
        st->ram_duplicate_pages = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_NORMAL, &u) == 1)
        st->ram_normal_pages = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_NORMAL_BYTES, &u) == 1)
        st->ram_normal_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, &u) == 1)
        st->ram_dirty_pages_rate = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_BPS, &u) == 1)
        st->ram_mbps = (double)u * 8.0 / 1e6; /* bytes/s -> Mbit/s, QEMU's unit */
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE, &u) == 1)
        st->ram_page_size_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_ITERATION, &u) == 1)
        st->ram_dirty_sync_count = (int64_t)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_MEMORY_POSTCOPY_REQS, &u) == 1)
        st->ram_postcopy_requests = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DISK_PROCESSED, &u) == 1)
        st->disk_transferred_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DISK_REMAINING, &u) == 1)
        st->disk_remaining_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DISK_TOTAL, &u) == 1)
        st->disk_total_bytes = (double)u;
    /* libvirt's compression_* job fields are QEMU's xbzrle-cache figures */
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_COMPRESSION_CACHE, &u) == 1)
        st->xbzrle_cache_size_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_COMPRESSION_BYTES, &u) == 1)
        st->xbzrle_bytes = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_COMPRESSION_PAGES, &u) == 1)
        st->xbzrle_pages = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_COMPRESSION_CACHE_MISSES, &u) == 1)
        st->xbzrle_cache_miss = (double)u;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_COMPRESSION_OVERFLOW, &u) == 1)
        st->xbzrle_overflow = (double)u;
    int i;
    if (virTypedParamsGetInt(p, n, VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE, &i) == 1)
        st->cpu_throttle_pct = i;
}

static void on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                             int nparams, void *opaque)
{
    (void)conn;
    (void)dom;
    virt_ctx *c = opaque;
    int op = VIR_DOMAIN_JOB_OPERATION_UNKNOWN;
    if (virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op) == 1 &&
        op != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT && op != VIR_DOMAIN_JOB_OPERATION_UNKNOWN)
        return; /* a save, dump, snapshot...: not a migration's end */
    co_drv_stats st;
    co_drv_stats_init(&st);
    stats_from_params(&st, params, nparams, 1);
    st.sampled_at_ms = co_clock_ms();
    pthread_mutex_lock(&c->mu);
    c->final = st;
    c->have_final = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Called by libvirt once a callback can no longer run: only then may close()
 * free the context the callback points to. */
static void on_cb_free(void *opaque)
{
    virt_ctx *c = opaque;
    pthread_mutex_lock(&c->mu);
    c->cb_live--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- opening ---- */

/* virConnectOpen can block for minutes on an unreachable TCP host, so it runs
 * in a thread; if it outlives the timeout, the thread owns the result and
 * closes it itself. */
typedef struct open_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *uri;
    virConnectPtr conn;
    int done, abandoned, err_code;
    char err[512];
} open_job;

static void open_job_free(open_job *j)
{
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->uri);
    free(j);
}

static void *open_thread(void *arg)
{
    open_job *j = arg;
    virConnectPtr conn = virConnectOpen(j->uri);
    int code = 0;
    char err[512] = "";
    if (conn == NULL)
        code = last_error(err, sizeof err);
    pthread_mutex_lock(&j->mu);
    j->conn = conn;
    j->err_code = code;
    snprintf(j->err, sizeof j->err, "%s", err);
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (abandoned) {
        if (conn)
            virConnectClose(conn);
        open_job_free(j);
    }
    return NULL;
}

static int open_conn(virt_ctx *c, co_diag *diag)
{
    open_job *j = calloc(1, sizeof *j);
    if (j == NULL || (j->uri = strdup(c->conn_uri)) == NULL) {
        free(j);
        return co_diag_set(diag, CO_ENOMEM, "out of memory opening %s", c->conn_uri);
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t t;
    if (pthread_create(&t, NULL, open_thread, j) != 0) {
        open_job_free(j);
        return co_diag_set(diag, CO_EOS, "cannot start a thread to connect to %s", c->conn_uri);
    }
    pthread_detach(t);
    struct timespec dl;
    co_clock_deadline_ts(&dl, c->timeout_ms);
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT)
            break;
    if (!j->done) {
        j->abandoned = 1; /* the thread frees j when virConnectOpen returns */
        pthread_mutex_unlock(&j->mu);
        return co_diag_set(diag, CO_ETIMEDOUT, "libvirt at %s did not answer within %d ms",
                           c->conn_uri, c->timeout_ms);
    }
    pthread_mutex_unlock(&j->mu);
    int rc = CO_OK;
    if (j->conn == NULL) {
        int code = map_vir_error(j->err_code);
        if (code == CO_EFAILED || code == CO_EUSAGE)
            code = j->err_code == VIR_ERR_INVALID_ARG ? CO_EUSAGE : CO_EUNAVAIL;
        rc = co_diag_set(diag, code, "cannot connect to libvirt at %s: %s", c->conn_uri,
                         j->err);
    }
    c->conn = j->conn;
    open_job_free(j);
    return rc;
}

static virDomainPtr lookup_domain(virConnectPtr conn, const char *name)
{
    virDomainPtr d = virDomainLookupByName(conn, name);
    if (d == NULL && strlen(name) == VIR_UUID_STRING_BUFLEN - 1)
        d = virDomainLookupByUUIDString(conn, name);
    if (d == NULL) {
        char *end;
        long id = strtol(name, &end, 10);
        if (*name && *end == '\0' && id >= 0 && id <= INT32_MAX)
            d = virDomainLookupByID(conn, (int)id);
    }
    return d;
}

static void virt_close(co_drv *drv);

int co_virt_open(const co_virt_opts *o, co_drv **out, co_diag *diag)
{
    *out = NULL;
    if (o == NULL || o->conn_uri == NULL || o->conn_uri[0] == '\0')
        return co_diag_set(diag, CO_EUSAGE, "libvirt: no connection URI given (--connect)");
    if (o->domain == NULL || o->domain[0] == '\0')
        return co_diag_set(diag, CO_EUSAGE, "libvirt: no domain given (--domain)");
    if (!uri_plausible(o->conn_uri))
        return co_diag_set(diag, CO_EUSAGE,
                           "bad libvirt URI '%s' (--connect): expected DRIVER[+TRANSPORT]://"
                           "[HOST]/PATH",
                           o->conn_uri);
    if (o->dest_uri && !uri_plausible(o->dest_uri))
        return co_diag_set(diag, CO_EUSAGE,
                           "bad destination URI '%s' (--to): expected DRIVER[+TRANSPORT]://"
                           "HOST/PATH",
                           o->dest_uri);
    if (o->migrate_uri && !uri_plausible(o->migrate_uri))
        return co_diag_set(diag, CO_EUSAGE,
                           "bad migration URI '%s': expected tcp://HOST[:PORT]", o->migrate_uri);
    if (o->timeout_ms < 0)
        return co_diag_set(diag, CO_EUSAGE, "libvirt: negative timeout %d ms", o->timeout_ms);
    pthread_once(&virt_once, virt_init_once);
    if (virt_once_rc != 0)
        return co_diag_set(diag, CO_EUNAVAIL,
                           "libvirt: cannot initialise the client library's event loop");

    virt_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return co_diag_set(diag, CO_ENOMEM, "out of memory");
    c->drv.ops = o->qemu_monitor ? &co_virt_monitor_ops : &co_virt_ops;
    c->drv.impl = c;
    c->monitor = o->qemu_monitor != 0;
    c->mon_orig_max_pct = c->mon_orig_trigger_pct = NAN;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
    c->tls = o->tls;
    c->persist_dest = o->persist_dest;
    c->copy_storage = o->copy_storage;
    c->conn_uri = strdup(o->conn_uri);
    c->domain_name = strdup(o->domain);
    c->dest_uri = dup_or_null(o->dest_uri);
    c->migrate_uri = dup_or_null(o->migrate_uri);
    c->listen_address = dup_or_null(o->listen_address);
    c->tls_destination = dup_or_null(o->tls_destination);
    /* What libvirt cannot tell us is what this driver will ask for: no
     * multifd, auto-converge or post-copy unless set; QEMU 7.2's defaults
     * for the throttle parameters (libvirt 9.0 cannot read them). */
    c->deferred_downtime_ms = NAN;
    c->tun = (co_drv_tunables){.downtime_limit_ms = NAN,
                               .max_bandwidth_bytes_per_s = NAN,
                               .multifd_channels = 1,
                               .auto_converge = 0,
                               .postcopy_ram = 0,
                               .postcopy_preempt = -1, /* libvirt 9.0 has no flag for it */
                               .cpu_throttle_initial_pct = QEMU_THROTTLE_INITIAL_PCT,
                               .cpu_throttle_increment_pct = QEMU_THROTTLE_INCREMENT_PCT,
                               .throttle_trigger_pct = QEMU_THROTTLE_TRIGGER_PCT,
                               .max_cpu_throttle_pct = QEMU_MAX_CPU_THROTTLE_PCT,
                               .max_postcopy_bandwidth_bytes_per_s = NAN};
    co_drv_stats_init(&c->final);
    co_drv_stats_init(&c->last);
    co_drv *drv = &c->drv;
    if (c->conn_uri == NULL || c->domain_name == NULL) {
        virt_close(drv);
        return co_diag_set(diag, CO_ENOMEM, "out of memory");
    }
    int rc = open_conn(c, diag);
    if (rc != CO_OK) {
        virt_close(drv);
        return rc;
    }
    /* Keepalive bounds every later call: a silent daemon is dropped after
     * about interval * (count + 1) s = max(3 s, timeout). libvirt's unit is
     * whole seconds; count 2 tolerates one late answer on a loaded host. */
    int interval_s = c->timeout_ms / 3000;
    if (interval_s < 1)
        interval_s = 1;
    if (virConnectSetKeepAlive(c->conn, interval_s, 2) < 0)
        virResetLastError(); /* not fatal: e.g. a local test:/// driver */
    c->dom = lookup_domain(c->conn, c->domain_name);
    if (c->dom == NULL) {
        char m[512];
        int code = last_error(m, sizeof m);
        virResetLastError();
        if (code == VIR_ERR_NO_DOMAIN)
            rc = co_diag_set(diag, CO_ENOINPUT, "no domain '%s' at %s (--domain)",
                             c->domain_name, c->conn_uri);
        else
            rc = co_diag_set(diag, map_vir_error(code), "cannot look up domain '%s' at %s: %s",
                             c->domain_name, c->conn_uri, m);
        virt_close(drv);
        return rc;
    }
    if (virDomainGetUUIDString(c->dom, c->uuid) < 0)
        snprintf(c->uuid, sizeof c->uuid, "%s", c->domain_name);
    struct {
        int id;
        virConnectDomainEventGenericCallback cb;
    } regs[] = {
        {VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, VIR_DOMAIN_EVENT_CALLBACK(on_iteration)},
        {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle)},
        {VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, VIR_DOMAIN_EVENT_CALLBACK(on_job_completed)},
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        int id = virConnectDomainEventRegisterAny(c->conn, c->dom, regs[i].id, regs[i].cb, c,
                                                  on_cb_free);
        if (id < 0) {
            rc = virt_fail(diag, "cannot register for domain events", c->conn_uri);
            virt_close(drv);
            return rc;
        }
        pthread_mutex_lock(&c->mu);
        c->cb_ids[c->n_cb++] = id;
        c->cb_live++;
        pthread_mutex_unlock(&c->mu);
    }
    *out = drv;
    return CO_OK;
}

/* ---- the migration worker ---- */

/* Build the typed parameters and flags of virDomainMigrateToURI3 from the
 * options and tunables, in the caller's thread (so the worker reads nothing
 * the controller may change later). 0, or -1 when out of memory. */
static int build_params(virt_ctx *c)
{
    virTypedParameterPtr params = NULL;
    int n = 0, max = 0, bad = 0;
    unsigned long flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    if (c->migrate_uri)
        bad |= virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, c->migrate_uri);
    if (c->listen_address)
        bad |= virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_LISTEN_ADDRESS,
                                       c->listen_address);
    if (isfinite(c->tun.max_bandwidth_bytes_per_s))
        bad |= virTypedParamsAddULLong(
            &params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH,
            (unsigned long long)co_virt_speed_mibps(c->tun.max_bandwidth_bytes_per_s));
    if (c->tun.multifd_channels > 1) {
        flags |= VIR_MIGRATE_PARALLEL;
        bad |= virTypedParamsAddInt(&params, &n, &max, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                    c->tun.multifd_channels);
    }
    if (c->tun.auto_converge > 0) {
        flags |= VIR_MIGRATE_AUTO_CONVERGE;
        bad |= virTypedParamsAddInt(&params, &n, &max, VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL,
                                    (int)lround(c->tun.cpu_throttle_initial_pct));
        bad |= virTypedParamsAddInt(&params, &n, &max, VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT,
                                    (int)lround(c->tun.cpu_throttle_increment_pct));
    }
    if (c->tun.postcopy_ram > 0) {
        flags |= VIR_MIGRATE_POSTCOPY;
        /* VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY (libvirt 5.1), MiB/s */
        if (isfinite(c->tun.max_postcopy_bandwidth_bytes_per_s) &&
            c->tun.max_postcopy_bandwidth_bytes_per_s > 0)
            bad |= virTypedParamsAddULLong(
                &params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY,
                (unsigned long long)fmax(1, floor(c->tun.max_postcopy_bandwidth_bytes_per_s / MIB)));
    }
    if (c->tls) {
        flags |= VIR_MIGRATE_TLS;
        if (c->tls_destination)
            bad |= virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_TLS_DESTINATION,
                                           c->tls_destination);
    }
    if (c->persist_dest)
        flags |= VIR_MIGRATE_PERSIST_DEST;
    if (c->copy_storage)
        flags |= VIR_MIGRATE_NON_SHARED_DISK;
    if (bad) {
        virTypedParamsFree(params, n);
        return -1;
    }
    c->mig_params = params;
    c->mig_nparams = n;
    c->mig_flags = flags;
    return 0;
}

/* The worker: blocks in virDomainMigrateToURI3 until the migration ends. */
static void *migrate_thread(void *arg)
{
    virt_ctx *c = arg;
    int code = 0;
    char err[256] = "";
    int rc = virDomainMigrateToURI3(c->dom, c->dest_uri, c->mig_params,
                                    (unsigned)c->mig_nparams, c->mig_flags);
    if (rc < 0)
        code = last_error(err, sizeof err);
    pthread_mutex_lock(&c->mu);
    c->worker_rc = rc;
    c->worker_err_code = code;
    snprintf(c->worker_err, sizeof c->worker_err, "%s", err);
    c->worker_done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Join a finished worker and free what start() built for it. */
static void reap_worker(virt_ctx *c)
{
    if (c->started && !c->worker_joined) {
        pthread_join(c->worker, NULL);
        c->worker_joined = 1;
    }
    virTypedParamsFree(c->mig_params, c->mig_nparams);
    c->mig_params = NULL;
    c->mig_nparams = 0;
}

/* Status of a finished worker (caller holds mu). */
static int finished_status(const virt_ctx *c)
{
    if (c->worker_rc == 0)
        return CO_DRV_MIG_COMPLETED;
    if (c->worker_err_code == VIR_ERR_OPERATION_ABORTED)
        return CO_DRV_MIG_CANCELLED;
    return CO_DRV_MIG_FAILED;
}

/* ---- ops ---- */

static virt_ctx *ctx_of(co_drv *d)
{
    return d->impl;
}

static int virt_get_tunables(co_drv *d, co_drv_tunables *out, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    *out = c->tun;
    unsigned long long dt_ms;
    if (virDomainMigrateGetMaxDowntime(c->dom, &dt_ms, 0) < 0)
        return virt_fail(diag, "cannot read the downtime limit", c->domain_name);
    out->downtime_limit_ms = isfinite(c->deferred_downtime_ms) ? c->deferred_downtime_ms
                                                               : (double)dt_ms;
    if (isfinite(c->tun.max_bandwidth_bytes_per_s))
        return CO_OK; /* the value start() will pass or has passed */
    unsigned long mibps;
    if (virDomainMigrateGetMaxSpeed(c->dom, &mibps, 0) < 0)
        return virt_fail(diag, "cannot read the migration speed", c->domain_name);
    out->max_bandwidth_bytes_per_s = mibps >= VIRT_BANDWIDTH_MAX_MIBPS ? 0 : (double)mibps * MIB;
    return CO_OK;
}

static int virt_set_downtime_limit(co_drv *d, double ms, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    if (!isfinite(ms) || ms < 1 || ms > 2000000.0)
        return co_diag_set(diag, CO_ERANGE, "downtime limit %g ms out of range (1 ms..2000 s)", ms);
    if (virDomainMigrateSetMaxDowntime(c->dom, (unsigned long long)llround(ms), 0) < 0)
        return virt_fail(diag, "cannot set the downtime limit", c->domain_name);
    c->tun.downtime_limit_ms = (double)llround(ms);
    return CO_OK;
}

static int virt_set_max_bandwidth(co_drv *d, double bytes_per_s, co_diag *diag);

static int virt_set_tunables(co_drv *d, const co_drv_tunables *t, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    pthread_mutex_lock(&c->mu);
    int running = c->started && !c->worker_done;
    pthread_mutex_unlock(&c->mu);
    /* validate everything before changing anything */
    double bw = t->max_bandwidth_bytes_per_s;
    if (!isnan(bw) && !(bw >= 0 && isfinite(bw)))
        return co_diag_set(diag, CO_ERANGE, "bandwidth %g bytes/s out of range", bw);
    if (t->multifd_channels >= 0 && (t->multifd_channels < 1 || t->multifd_channels > 255))
        return co_diag_set(diag, CO_ERANGE, "parallel connections %d out of range (1..255)",
                           t->multifd_channels);
    /* changed from what QEMU has (NAN: leave as is) */
    double trig = !isnan(t->throttle_trigger_pct) && t->throttle_trigger_pct != c->tun.throttle_trigger_pct
                      ? t->throttle_trigger_pct : NAN;
    double maxt = !isnan(t->max_cpu_throttle_pct) && t->max_cpu_throttle_pct != c->tun.max_cpu_throttle_pct
                      ? t->max_cpu_throttle_pct : NAN;
    if (!c->monitor && (!isnan(trig) || !isnan(maxt)))
        return co_diag_set(diag, CO_EUSAGE,
                           "libvirt 9.0 cannot set throttle-trigger-threshold or "
                           "max-cpu-throttle (only QEMU's defaults %g%% and %g%%; use the QMP "
                           "driver, or --allow qemu-monitor)",
                           QEMU_THROTTLE_TRIGGER_PCT, QEMU_MAX_CPU_THROTTLE_PCT);
    if (!isnan(trig) && !(trig >= 1 && trig <= 100))
        return co_diag_set(diag, CO_ERANGE, "throttle-trigger-threshold %g%% out of range (1..100)",
                           trig);
    if (!isnan(maxt) && !(maxt >= 1 && maxt <= 99))
        return co_diag_set(diag, CO_ERANGE, "max-cpu-throttle %g%% out of range (1..99)", maxt);
    const double pcts[] = {t->cpu_throttle_initial_pct, t->cpu_throttle_increment_pct};
    for (int i = 0; i < 2; i++)
        if (!isnan(pcts[i]) && !(pcts[i] >= 1 && pcts[i] <= 100))
            return co_diag_set(diag, CO_ERANGE, "throttle %g%% out of range (1..100)", pcts[i]);
    /* the throttle of a running migration: through the monitor only */
    int live_pcts = running && c->monitor &&
                    ((!isnan(pcts[0]) && pcts[0] != c->tun.cpu_throttle_initial_pct) ||
                     (!isnan(pcts[1]) && pcts[1] != c->tun.cpu_throttle_increment_pct));
    if (!isnan(t->downtime_limit_ms) &&
        !(t->downtime_limit_ms >= 1 && t->downtime_limit_ms <= 2000000.0))
        return co_diag_set(diag, CO_ERANGE, "downtime limit %g ms out of range (1 ms..2000 s)",
                           t->downtime_limit_ms);
    if (running) {
        /* capabilities and start parameters are fixed once libvirt started */
        int fixed = (t->multifd_channels >= 0 && t->multifd_channels != c->tun.multifd_channels) ||
                    (t->auto_converge >= 0 && !t->auto_converge != !c->tun.auto_converge) ||
                    (t->postcopy_ram >= 0 && !t->postcopy_ram != !c->tun.postcopy_ram) ||
                    (!live_pcts && !isnan(pcts[0]) && pcts[0] != c->tun.cpu_throttle_initial_pct) ||
                    (!live_pcts && !isnan(pcts[1]) && pcts[1] != c->tun.cpu_throttle_increment_pct);
        if (fixed)
            return co_diag_set(diag, CO_EBUSY,
                               "libvirt: parallel connections, auto-converge, post-copy and "
                               "throttling of %s are fixed while its migration runs",
                               c->domain_name);
        if (!isnan(bw)) {
            int rc = virt_set_max_bandwidth(d, bw, diag);
            if (rc != CO_OK)
                return rc;
        }
    }
    if (!isnan(t->downtime_limit_ms) && !running && !c->ever_started) {
        /* libvirt takes the limit only as a call of its own; before the
         * first start keep it, so that a start libvirt refuses (an
         * unreachable destination) leaves the domain as it was */
        c->deferred_downtime_ms = (double)llround(t->downtime_limit_ms);
    } else if (!isnan(t->downtime_limit_ms)) {
        int rc = virt_set_downtime_limit(d, t->downtime_limit_ms, diag);
        if (rc != CO_OK)
            return rc;
        c->deferred_downtime_ms = NAN; /* superseded */
    }
    /* through the monitor: at once, whether the job runs or not (libvirt
     * sets neither parameter at the start, so it keeps them) */
    if (!isnan(trig) || !isnan(maxt) || live_pcts) {
        int rc = mon_set(c, live_pcts ? pcts[0] : NAN, live_pcts ? pcts[1] : NAN, trig, maxt, diag);
        if (rc != CO_OK)
            return rc;
        if (!isnan(trig))
            c->tun.throttle_trigger_pct = trig;
        if (!isnan(maxt))
            c->tun.max_cpu_throttle_pct = maxt;
    }
    if (!running && !isnan(bw))
        c->tun.max_bandwidth_bytes_per_s = bw;
    if (t->multifd_channels >= 0)
        c->tun.multifd_channels = t->multifd_channels;
    if (t->auto_converge >= 0)
        c->tun.auto_converge = t->auto_converge != 0;
    if (t->postcopy_ram >= 0)
        c->tun.postcopy_ram = t->postcopy_ram != 0;
    if (!running && !isnan(t->max_postcopy_bandwidth_bytes_per_s))
        c->tun.max_postcopy_bandwidth_bytes_per_s = t->max_postcopy_bandwidth_bytes_per_s;
    if (!isnan(pcts[0]))
        c->tun.cpu_throttle_initial_pct = pcts[0];
    if (!isnan(pcts[1]))
        c->tun.cpu_throttle_increment_pct = pcts[1];
    return CO_OK;
}

/* The downtime limit kept back before the first start, now that the job
 * runs (QEMU has had the domain's old one for the first few ms of the bulk
 * pass). A failure is reported; the migration goes on. */
static int apply_deferred(virt_ctx *c, co_diag *diag)
{
    if (!isfinite(c->deferred_downtime_ms))
        return CO_OK;
    double ms = c->deferred_downtime_ms;
    c->deferred_downtime_ms = NAN;
    if (virDomainMigrateSetMaxDowntime(c->dom, (unsigned long long)ms, 0) < 0) {
        virt_fail(diag, "cannot set the downtime limit", c->domain_name);
        fprintf(stderr, "cutover: libvirt: %s (the migration goes on)\n", diag->msg);
        co_diag_init(diag);
        return CO_OK;
    }
    c->tun.downtime_limit_ms = ms;
    return CO_OK;
}

static int virt_start(co_drv *d, const char *uri, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    if (uri != NULL) {
        if (!uri_plausible(uri))
            return co_diag_set(diag, CO_EUSAGE,
                               "bad destination URI '%s' (--to): expected "
                               "DRIVER[+TRANSPORT]://HOST/PATH",
                               uri);
        char *u = strdup(uri);
        if (u == NULL)
            return co_diag_set(diag, CO_ENOMEM, "out of memory");
        free(c->dest_uri);
        c->dest_uri = u;
    }
    if (c->dest_uri == NULL)
        return co_diag_set(diag, CO_EUSAGE, "libvirt: no destination URI given (--to)");
    pthread_mutex_lock(&c->mu);
    int busy = c->started && !c->worker_done;
    int completed = c->started && c->worker_done && c->worker_rc == 0;
    pthread_mutex_unlock(&c->mu);
    if (busy)
        return co_diag_set(diag, CO_EBUSY, "a migration of %s is already running",
                           c->domain_name);
    if (completed)
        return co_diag_set(diag, CO_EUSAGE, "%s was already migrated to %s", c->domain_name,
                           c->dest_uri);
    if (c->started) { /* a failed or cancelled attempt: start afresh */
        reap_worker(c);
        pthread_mutex_lock(&c->mu);
        c->started = c->worker_done = c->worker_rc = c->worker_err_code = 0;
        c->worker_joined = c->have_final = c->cancel_requested = c->postcopy_seen = 0;
        c->status_reported = CO_DRV_MIG_NONE;
        c->worker_err[0] = '\0';
        co_drv_stats_init(&c->final);
        co_drv_stats_init(&c->last);
        pthread_mutex_unlock(&c->mu);
    }
    int state = 0, reason = 0;
    if (virDomainGetState(c->dom, &state, &reason, 0) < 0)
        return virt_fail(diag, "cannot read the domain state", c->domain_name);
    if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED)
        return co_diag_set(diag, CO_EUSAGE, "domain '%s' at %s is not running", c->domain_name,
                           c->conn_uri);
    if (build_params(c) < 0)
        return co_diag_set(diag, CO_ENOMEM, "out of memory building migration parameters");
    c->ever_started = 1;
    pthread_mutex_lock(&c->mu);
    c->started = 1;
    c->worker_done = 0;
    pthread_mutex_unlock(&c->mu);
    if (pthread_create(&c->worker, NULL, migrate_thread, c) != 0) {
        pthread_mutex_lock(&c->mu);
        c->started = 0;
        pthread_mutex_unlock(&c->mu);
        reap_worker(c);
        return co_diag_set(diag, CO_EOS, "cannot start the migration thread");
    }
    /* Wait until the job runs or the worker fails: a bad or unreachable
     * destination is then reported here, before anything happened. */
    double t_end = co_clock_ms() + c->timeout_ms;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int done = c->worker_done;
        pthread_mutex_unlock(&c->mu);
        if (done)
            break;
        virDomainJobInfo ji;
        if (virDomainGetJobInfo(c->dom, &ji) == 0 && ji.type != VIR_DOMAIN_JOB_NONE &&
            ji.memTotal > 0)
            return apply_deferred(c, diag);
        virResetLastError();
        if (co_clock_ms() >= t_end)
            return apply_deferred(c, diag); /* still starting; poll() will tell */
        struct timespec dl;
        co_clock_deadline_ts(&dl, 20);
        pthread_mutex_lock(&c->mu);
        if (!c->worker_done)
            pthread_cond_timedwait(&c->cv, &c->mu, &dl);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_lock(&c->mu);
    int rc = CO_OK;
    if (c->worker_rc < 0) {
        int code = map_vir_error(c->worker_err_code);
        if (code == CO_EFAILED && c->worker_err_code == VIR_ERR_OPERATION_FAILED)
            code = CO_EFAILED;
        rc = co_diag_set(diag, code, "migration of %s to %s failed to start: %s",
                         c->domain_name, c->dest_uri, c->worker_err);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Wait up to ms for the worker to finish; 1 if it did. */
static int wait_worker(virt_ctx *c, int ms)
{
    struct timespec dl;
    co_clock_deadline_ts(&dl, ms);
    pthread_mutex_lock(&c->mu);
    while (!c->worker_done)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    int done = c->worker_done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

/* The final sample of a finished migration: the job-completed event's
 * statistics (source-side, with the real downtime) when completed, else the
 * last sample taken while it ran, plus the result. */
static void fill_done(virt_ctx *c, co_drv_stats *st)
{
    pthread_mutex_lock(&c->mu);
    int status = finished_status(c);
    if (status == CO_DRV_MIG_COMPLETED && !c->have_final) {
        /* the job-completed event may trail the RPC reply slightly */
        struct timespec dl;
        co_clock_deadline_ts(&dl, 500);
        while (!c->have_final)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
                break;
    }
    *st = c->have_final ? c->final : c->last;
    st->status = status;
    st->sampled_at_ms = co_clock_ms();
    if (status != CO_DRV_MIG_COMPLETED)
        snprintf(st->error_desc, sizeof st->error_desc, "%s", c->worker_err);
    pthread_mutex_unlock(&c->mu);
}

/* libvirt has no MIGRATION status event: report a change of the derived
 * status as one, like the QMP driver's, when there is room in evs. The
 * post-copy switch already came as an event from the lifecycle callback. */
static void note_status(virt_ctx *c, int status, co_drv_event *evs, int max, int *n_ev)
{
    if (status == c->status_reported)
        return;
    int from_event = status == CO_DRV_MIG_POSTCOPY_ACTIVE;
    c->status_reported = status;
    if (from_event || evs == NULL || *n_ev >= max)
        return;
    evs[*n_ev] = (co_drv_event){.kind = CO_DRV_EV_STATUS, .status = status, .at_ms = co_clock_ms()};
    (*n_ev)++;
}

/* Wait up to timeout_ms for an event (or the end of our own migration),
 * then move up to max queued events to evs (count in *n_ev); the rest stay
 * queued. */
static void take_events(virt_ctx *c, int timeout_ms, co_drv_event *evs, int max, int *n_ev)
{
    *n_ev = 0;
    struct timespec dl;
    co_clock_deadline_ts(&dl, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&c->mu);
    while (c->n_evs == 0 && !(c->started && c->worker_done) && timeout_ms > 0)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    int n = c->n_evs < max ? c->n_evs : max;
    if (n > 0 && evs) {
        memcpy(evs, c->evs, sizeof evs[0] * (size_t)n);
        memmove(&c->evs[0], &c->evs[n], sizeof c->evs[0] * (size_t)(c->n_evs - n));
        c->n_evs -= n;
        *n_ev = n;
    }
    pthread_mutex_unlock(&c->mu);
}

static int virt_poll_sample(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev,
                            co_drv_stats *st, co_diag *diag);

static int virt_poll(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev,
                     co_drv_stats *st, co_diag *diag)
{
    int rc = virt_poll_sample(d, timeout_ms, evs, max, n_ev, st, diag);
    if (rc == CO_OK)
        note_status(ctx_of(d), st->status, evs, max, n_ev);
    return rc;
}

static int virt_poll_sample(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev,
                            co_drv_stats *st, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    take_events(c, timeout_ms, evs, max, n_ev);
    pthread_mutex_lock(&c->mu);
    int done = c->started && c->worker_done;
    pthread_mutex_unlock(&c->mu);

    if (done) {
        fill_done(c, st);
        return CO_OK;
    }

    co_drv_stats s;
    co_drv_stats_init(&s);
    s.sampled_at_ms = co_clock_ms();
    if (!c->started) {
        s.status = CO_DRV_MIG_NONE;
        *st = s;
        return CO_OK;
    }
    int type = 0, np = 0;
    virTypedParameterPtr p = NULL;
    if (virDomainGetJobStats(c->dom, &type, &p, &np, 0) < 0) {
        char m[512];
        int code = last_error(m, sizeof m);
        virResetLastError();
        /* The domain stops ("not running") and then leaves the source as
         * the migration ends: that is the end being reported, not a failure
         * of poll. */
        int ending = code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID;
        if (wait_worker(c, ending ? c->timeout_ms : 0)) {
            fill_done(c, st);
            return CO_OK;
        }
        return co_diag_set(diag, map_vir_error(code), "cannot read job statistics of %s: %s",
                           c->domain_name, m);
    }
    /* the figures are libvirtd's at its reply, which may come a second
     * after the call while it starts the migration: stamp them then, or the
     * first bandwidth window is a second too long */
    s.sampled_at_ms = co_clock_ms();
    stats_from_params(&s, p, np, 0);
    virTypedParamsFree(p, np);
    pthread_mutex_lock(&c->mu);
    if (c->cancel_requested)
        s.status = CO_DRV_MIG_CANCELLING;
    else if (c->postcopy_seen)
        s.status = CO_DRV_MIG_POSTCOPY_ACTIVE;
    else if (type == VIR_DOMAIN_JOB_NONE || !(s.ram_total_bytes > 0))
        s.status = CO_DRV_MIG_SETUP;
    else
        s.status = CO_DRV_MIG_ACTIVE;
    c->last = s;
    pthread_mutex_unlock(&c->mu);
    *st = s;
    return CO_OK;
}

unsigned long co_virt_speed_mibps(double bytes_per_s)
{
    return bytes_per_s > 0 ? (unsigned long)ceil(bytes_per_s / MIB) : VIRT_BANDWIDTH_MAX_MIBPS;
}

static int virt_set_max_bandwidth(co_drv *d, double bytes_per_s, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    if (!(bytes_per_s >= 0) || !isfinite(bytes_per_s))
        return co_diag_set(diag, CO_ERANGE, "bandwidth %g bytes/s out of range", bytes_per_s);
    unsigned long mibps = co_virt_speed_mibps(bytes_per_s);
    pthread_mutex_lock(&c->mu);
    int running = c->started && !c->worker_done;
    pthread_mutex_unlock(&c->mu);
    if (virDomainMigrateSetMaxSpeed(c->dom, mibps, 0) < 0)
        return virt_fail(diag, "cannot set the migration speed", c->domain_name);
    /* before the start libvirt keeps it for the migration, and the start
     * then passes none of its own: a start's VIR_MIGRATE_PARAM_BANDWIDTH
     * overrules a speed set while libvirt still sets the migration up
     * (measured with virsh on the cluster lab: a speed raised 0.15 s after
     * the start stayed at the start's 1 MiB/s; set before instead, raised
     * 0.02 s after, the migration ran at full rate) */
    c->tun.max_bandwidth_bytes_per_s = running ? bytes_per_s : NAN;
    return CO_OK;
}

static int virt_set_throttle(co_drv *d, double initial_pct, double increment_pct,
                             co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    pthread_mutex_lock(&c->mu);
    int running = c->started && !c->worker_done;
    pthread_mutex_unlock(&c->mu);
    if (running && !c->monitor)
        return co_diag_set(diag, CO_EUNAVAIL,
                           "libvirt cannot change auto-converge throttling of a running "
                           "migration (%s); set it before start, or --allow qemu-monitor",
                           c->domain_name);
    if (!(initial_pct >= 1 && initial_pct <= 100) || !(increment_pct >= 1 && increment_pct <= 100))
        return co_diag_set(diag, CO_ERANGE, "throttle %g%%/%g%% out of range (1..100)",
                           initial_pct, increment_pct);
    if (running) {
        /* auto-converge was on from the start or not at all: libvirt
         * fixes the capability; the ramp's steps move with the monitor */
        if (!c->tun.auto_converge)
            return co_diag_set(diag, CO_EBUSY,
                               "libvirt: auto-converge of %s is fixed off while its migration "
                               "runs", c->domain_name);
        int rc = mon_set(c, initial_pct, increment_pct, NAN, NAN, diag);
        if (rc != CO_OK)
            return rc;
    }
    c->tun.cpu_throttle_initial_pct = initial_pct;
    c->tun.cpu_throttle_increment_pct = increment_pct;
    c->tun.auto_converge = 1;
    return CO_OK;
}

static int virt_start_postcopy(co_drv *d, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    if (virDomainMigrateStartPostCopy(c->dom, 0) < 0)
        return virt_fail(diag, "cannot switch to post-copy", c->domain_name);
    return CO_OK;
}

static int virt_pause_guest(co_drv *d, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    if (virDomainSuspend(c->dom) < 0)
        return virt_fail(diag, "cannot pause the guest", c->domain_name);
    pthread_mutex_lock(&c->mu);
    c->paused_by_us = 1;
    pthread_mutex_unlock(&c->mu);
    return CO_OK;
}

static int virt_resume_guest(co_drv *d, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    if (virDomainResume(c->dom) < 0)
        return virt_fail(diag, "cannot resume the guest", c->domain_name);
    pthread_mutex_lock(&c->mu);
    c->paused_by_us = 0;
    pthread_mutex_unlock(&c->mu);
    return CO_OK;
}

static int virt_cancel(co_drv *d, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    pthread_mutex_lock(&c->mu);
    int started = c->started;
    c->cancel_requested = started;
    pthread_mutex_unlock(&c->mu);
    if (!started)
        return CO_OK;
    double t_end = co_clock_ms() + c->timeout_ms;
    /* The job may still be in its begin phase (contacting the destination),
     * where there is nothing to abort yet: retry until the worker ends. */
    while (!wait_worker(c, 0)) {
        if (virDomainAbortJob(c->dom) == 0) {
            if (wait_worker(c, (int)fmax(0, t_end - co_clock_ms())))
                break;
        } else {
            virResetLastError();
        }
        if (co_clock_ms() >= t_end)
            return co_diag_set(diag, CO_ETIMEDOUT,
                               "migration of %s did not stop within %d ms of the abort",
                               c->domain_name, c->timeout_ms);
        wait_worker(c, 50);
    }
    return CO_OK;
}

static int virt_guest_running(co_drv *d, int *running, co_diag *diag)
{
    virt_ctx *c = ctx_of(d);
    int state = 0, reason = 0;
    *running = 0;
    if (virDomainGetState(c->dom, &state, &reason, 0) < 0) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            return CO_OK; /* migrated away (transient domain) */
        }
        return virt_fail(diag, "cannot read the domain state", c->domain_name);
    }
    *running = state == VIR_DOMAIN_RUNNING;
    return CO_OK;
}

static const char *virt_vm_id(co_drv *d)
{
    return ctx_of(d)->uuid;
}

static void virt_close(co_drv *drv)
{
    if (drv == NULL)
        return;
    virt_ctx *c = ctx_of(drv);
    pthread_mutex_lock(&c->mu);
    int started = c->started;
    pthread_mutex_unlock(&c->mu);
    if (started) {
        if (!wait_worker(c, 0)) {
            co_diag ignore;
            co_diag_init(&ignore);
            virt_cancel(drv, &ignore);
        }
    }
    /* The worker ends once the RPC returns; keepalive bounds that. */
    reap_worker(c);
    pthread_mutex_lock(&c->mu);
    int resume = c->paused_by_us && !(started && c->worker_rc == 0);
    pthread_mutex_unlock(&c->mu);
    if (resume && c->dom && virDomainResume(c->dom) < 0)
        virResetLastError(); /* never leave a guest paused by us */
    /* a guest that stays here gets back QEMU's throttle cap and trigger
     * (libvirt resets only the parameters it set itself) */
    if (c->mon_changed && c->dom && !(started && c->worker_rc == 0)) {
        co_diag ignore;
        co_diag_init(&ignore);
        if (mon_set(c, NAN, NAN,
                    isnan(c->mon_orig_trigger_pct) ? QEMU_THROTTLE_TRIGGER_PCT : c->mon_orig_trigger_pct,
                    isnan(c->mon_orig_max_pct) ? QEMU_MAX_CPU_THROTTLE_PCT : c->mon_orig_max_pct,
                    &ignore) != CO_OK)
            fprintf(stderr, "cutover: libvirt: %s: could not put back QEMU's throttle cap: %s\n",
                    c->domain_name, ignore.msg);
    }
    for (int i = 0; i < c->n_cb; i++)
        if (virConnectDomainEventDeregisterAny(c->conn, c->cb_ids[i]) < 0)
            virResetLastError();
    /* Callbacks point at c: free it only once libvirt released them all. */
    struct timespec dl;
    co_clock_deadline_ts(&dl, 2000);
    pthread_mutex_lock(&c->mu);
    while (c->cb_live > 0)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    int leak = c->cb_live > 0;
    pthread_mutex_unlock(&c->mu);
    if (c->dom)
        virDomainFree(c->dom);
    if (c->conn)
        virConnectClose(c->conn);
    if (leak)
        return; /* a callback may still run: a small leak beats a use after free */
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->conn_uri);
    free(c->domain_name);
    free(c->dest_uri);
    free(c->migrate_uri);
    free(c->listen_address);
    free(c->tls_destination);
    free(c);
}

#define VIRT_OPS_BODY                                                            \
    .get_tunables = virt_get_tunables, .set_tunables = virt_set_tunables,       \
    .start = virt_start, .poll = virt_poll,                                      \
    .set_downtime_limit = virt_set_downtime_limit,                               \
    .set_max_bandwidth = virt_set_max_bandwidth, .set_throttle = virt_set_throttle, \
    .start_postcopy = virt_start_postcopy, .pause_guest = virt_pause_guest,     \
    .resume_guest = virt_resume_guest, .cancel = virt_cancel,                   \
    .guest_running = virt_guest_running, .vm_id = virt_vm_id, .close = virt_close

/* the same driver with the monitor passthrough: a name of its own, so the
 * controller knows the throttle can move during the migration */
const co_drv_ops co_virt_monitor_ops = {.name = "libvirt-monitor", VIRT_OPS_BODY};

const co_drv_ops co_virt_ops = {
    .name = "libvirt",
    .get_tunables = virt_get_tunables,
    .set_tunables = virt_set_tunables,
    .start = virt_start,
    .poll = virt_poll,
    .set_downtime_limit = virt_set_downtime_limit,
    .set_max_bandwidth = virt_set_max_bandwidth,
    .set_throttle = virt_set_throttle,
    .start_postcopy = virt_start_postcopy,
    .pause_guest = virt_pause_guest,
    .resume_guest = virt_resume_guest,
    .cancel = virt_cancel,
    .guest_running = virt_guest_running,
    .vm_id = virt_vm_id,
    .close = virt_close,
};

/* ---- beyond the driver interface: watching, VM facts, dirty rate ---- */

/* d comes from co_virt_open (either ops table) */
static int is_virt(const co_drv *d)
{
    return d && (d->ops == &co_virt_ops || d->ops == &co_virt_monitor_ops);
}

static virt_ctx *virt_of(co_drv *d, const char *what, co_diag *diag)
{
    if (!is_virt(d)) {
        co_diag_set(diag, CO_EUSAGE, "%s: not a libvirt driver", what);
        return NULL;
    }
    return ctx_of(d);
}

int co_virt_lock_key(co_drv *d, char *buf, size_t len)
{
    virt_ctx *c = is_virt(d) ? ctx_of(d) : NULL;
    if (c == NULL || len == 0)
        return CO_EUSAGE;
    int n = snprintf(buf, len, "libvirt:%s#%s", c->conn_uri, c->uuid);
    return n > 0 && (size_t)n < len ? CO_OK : CO_ERANGE;
}

int co_virt_wait_events(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev)
{
    *n_ev = 0;
    if (!is_virt(d))
        return CO_EUSAGE;
    take_events(ctx_of(d), timeout_ms, evs, max, n_ev);
    return CO_OK;
}

/* A derived status change of a watched job becomes a queued event, as
 * poll() reports its own. */
static void watch_status(virt_ctx *c, co_drv_stats *st)
{
    if (st->status != c->status_reported && st->status != CO_DRV_MIG_POSTCOPY_ACTIVE)
        push_event(c, CO_DRV_EV_STATUS, st->status, 0);
    c->status_reported = st->status;
}

/* The end of a watched job: completed (the job-completed event, or the
 * domain left the source or is shut off as migrated), else cancelled or
 * failed from the completed-job statistics libvirt keeps. */
static int watch_end(virt_ctx *c, co_drv_stats *st, co_diag *diag)
{
    int state = -1, reason = 0, gone = 0;
    if (virDomainGetState(c->dom, &state, &reason, 0) < 0) {
        char m[512];
        int code = last_error(m, sizeof m);
        virResetLastError();
        if (code != VIR_ERR_NO_DOMAIN)
            return co_diag_set(diag, map_vir_error(code), "cannot read the state of %s: %s",
                               c->domain_name, m);
        gone = 1;
    }
    pthread_mutex_lock(&c->mu);
    int migrated = gone || c->migrated_away ||
                   (state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_MIGRATED);
    if (migrated && !c->have_final) {
        /* the job-completed event may trail the end of the job slightly */
        struct timespec dl;
        co_clock_deadline_ts(&dl, 500);
        while (!c->have_final)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
                break;
    }
    if (c->have_final || migrated) {
        *st = c->have_final ? c->final : c->last;
        st->status = CO_DRV_MIG_COMPLETED;
        st->sampled_at_ms = co_clock_ms();
        pthread_mutex_unlock(&c->mu);
        return CO_OK;
    }
    *st = c->last;
    pthread_mutex_unlock(&c->mu);
    /* still here and running: the job failed or was cancelled */
    st->status = CO_DRV_MIG_FAILED;
    st->sampled_at_ms = co_clock_ms();
    int type = 0, np = 0;
    virTypedParameterPtr p = NULL;
    if (virDomainGetJobStats(c->dom, &type, &p, &np, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
        const char *msg = NULL;
        if (type == VIR_DOMAIN_JOB_CANCELLED)
            st->status = CO_DRV_MIG_CANCELLED;
        if (virTypedParamsGetString(p, np, VIR_DOMAIN_JOB_ERRMSG, &msg) == 1 && msg)
            snprintf(st->error_desc, sizeof st->error_desc, "%s", msg);
        virTypedParamsFree(p, np);
    } else {
        virResetLastError();
    }
    return CO_OK;
}

int co_virt_watch_sample(co_drv *d, co_drv_stats *st, co_diag *diag)
{
    virt_ctx *c = virt_of(d, "watch", diag);
    if (c == NULL)
        return CO_EUSAGE;
    if (c->started)
        return co_diag_set(diag, CO_EUSAGE, "watch: this driver runs its own migration of %s",
                           c->domain_name);
    co_drv_stats s;
    co_drv_stats_init(&s);
    s.sampled_at_ms = co_clock_ms();
    pthread_mutex_lock(&c->mu);
    int ended = c->have_final || c->migrated_away;
    int postcopy = c->postcopy_seen;
    pthread_mutex_unlock(&c->mu);
    int rc = CO_OK;
    if (!ended) {
        int type = 0, np = 0;
        virTypedParameterPtr p = NULL;
        if (virDomainGetJobStats(c->dom, &type, &p, &np, 0) == 0) {
            s.sampled_at_ms = co_clock_ms(); /* at the reply, as in poll */
            int op = VIR_DOMAIN_JOB_OPERATION_UNKNOWN;
            (void)virTypedParamsGetInt(p, np, VIR_DOMAIN_JOB_OPERATION, &op);
            int migrating = type != VIR_DOMAIN_JOB_NONE &&
                            (op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT ||
                             op == VIR_DOMAIN_JOB_OPERATION_UNKNOWN);
            if (migrating)
                stats_from_params(&s, p, np, 0);
            virTypedParamsFree(p, np);
            if (migrating) {
                s.status = postcopy ? CO_DRV_MIG_POSTCOPY_ACTIVE
                           : s.ram_total_bytes > 0 ? CO_DRV_MIG_ACTIVE : CO_DRV_MIG_SETUP;
                pthread_mutex_lock(&c->mu);
                c->watch_seen = 1;
                c->last = s;
                pthread_mutex_unlock(&c->mu);
                *st = s;
                watch_status(c, st);
                return CO_OK;
            }
            ended = c->watch_seen;
        } else {
            char m[512];
            int code = last_error(m, sizeof m);
            virResetLastError();
            /* a domain that stops or leaves: the end of a migration we saw,
             * else (not running) nothing to watch yet */
            if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_OPERATION_INVALID)
                return co_diag_set(diag, map_vir_error(code),
                                   "cannot read job statistics of %s: %s", c->domain_name, m);
            if (code == VIR_ERR_NO_DOMAIN && !c->watch_seen)
                return co_diag_set(diag, CO_ENOINPUT, "domain '%s' is gone from %s",
                                   c->domain_name, c->conn_uri);
            ended = c->watch_seen;
        }
    }
    if (ended)
        rc = watch_end(c, &s, diag);
    else
        s.status = CO_DRV_MIG_NONE;
    if (rc == CO_OK) {
        *st = s;
        watch_status(c, st);
    }
    return rc;
}

int co_virt_get_info(co_drv *d, co_virt_info *out, co_diag *diag)
{
    virt_ctx *c = virt_of(d, "libvirt info", diag);
    if (c == NULL)
        return CO_EUSAGE;
    memset(out, 0, sizeof *out);
    virDomainInfo info;
    if (virDomainGetInfo(c->dom, &info) < 0)
        return virt_fail(diag, "cannot read the domain's memory and vCPUs", c->domain_name);
    out->mem_bytes = (double)info.memory * 1024.0; /* KiB */
    out->vcpus = info.nrVirtCpu;
    out->running = info.state == VIR_DOMAIN_RUNNING;
    unsigned long ver = 0;
    if (virConnectGetVersion(c->conn, &ver) < 0)
        return virt_fail(diag, "cannot read the hypervisor version", c->conn_uri);
    snprintf(out->qemu_version, sizeof out->qemu_version, "%lu.%lu.%lu", ver / 1000000,
             ver / 1000 % 1000, ver % 1000);
    char *xml = virDomainGetXMLDesc(c->dom, 0);
    if (xml == NULL)
        return virt_fail(diag, "cannot read the domain XML", c->domain_name);
    /* <domain type='kvm'>: hardware acceleration; 'qemu' is TCG */
    const char *t = strstr(xml, "<domain");
    t = t ? strstr(t, "type=") : NULL;
    out->kvm = t && strncmp(t + 6, "kvm", 3) == 0;
    free(xml);
    return CO_OK;
}

/* One dirty-rate record of the domain: calc_status, start time, result. */
static int dirty_stats(virt_ctx *c, int *status, long long *start_s, long long *mib_per_s,
                       co_diag *diag)
{
    virDomainPtr doms[] = {c->dom, NULL};
    virDomainStatsRecordPtr *recs = NULL;
    int n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &recs, 0);
    if (n < 0)
        return virt_fail(diag, "cannot read the dirty rate", c->domain_name);
    int rc = CO_OK;
    *status = -1;
    if (n < 1 ||
        virTypedParamsGetInt(recs[0]->params, recs[0]->nparams, "dirtyrate.calc_status",
                             status) != 1)
        rc = co_diag_set(diag, CO_EPROTO, "libvirt reports no dirtyrate.calc_status for %s",
                         c->domain_name);
    else {
        *start_s = -1;
        *mib_per_s = -1;
        virTypedParamsGetLLong(recs[0]->params, recs[0]->nparams, "dirtyrate.calc_start_time",
                               start_s);
        virTypedParamsGetLLong(recs[0]->params, recs[0]->nparams,
                               "dirtyrate.megabytes_per_second", mib_per_s);
    }
    virDomainStatsRecordListFree(recs);
    return rc;
}

int co_virt_dirty_rate(co_drv *d, int secs, const char *mode, double *mib_per_s,
                       co_diag *diag)
{
    virt_ctx *c = virt_of(d, "dirty rate", diag);
    if (c == NULL)
        return CO_EUSAGE;
    unsigned flags;
    if (mode == NULL || strcmp(mode, "page-sampling") == 0)
        flags = VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING;
    else if (strcmp(mode, "dirty-bitmap") == 0)
        flags = VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP;
    else if (strcmp(mode, "dirty-ring") == 0)
        flags = VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING;
    else
        return co_diag_set(diag, CO_EUSAGE, "--mode '%s': expected dirty-bitmap, page-sampling "
                                            "or dirty-ring", mode);
    if (secs < 1 || secs > 3600)
        return co_diag_set(diag, CO_ERANGE, "dirty-rate window %d s out of range (1..3600)",
                           secs);
    int status;
    long long start0 = -1, start, mib;
    if (dirty_stats(c, &status, &start0, &mib, diag) != CO_OK)
        return diag->code;
    if (status == VIR_DOMAIN_DIRTYRATE_MEASURING)
        return co_diag_set(diag, CO_EBUSY, "a dirty-rate measurement of %s is already running",
                           c->domain_name);
    if (virDomainStartDirtyRateCalc(c->dom, secs, flags) < 0)
        return virt_fail(diag, "cannot start the dirty-rate measurement", c->domain_name);
    /* QEMU measures in its own thread; the status turns "measured" with a
     * new start time when the window is over */
    double t_end = co_clock_ms() + (secs + 10) * 1000.0;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (dirty_stats(c, &status, &start, &mib, diag) != CO_OK)
            return diag->code;
        if (status == VIR_DOMAIN_DIRTYRATE_MEASURED && start != start0 && mib >= 0) {
            *mib_per_s = (double)mib;
            return CO_OK;
        }
        if (co_clock_ms() > t_end)
            return co_diag_set(diag, CO_ETIMEDOUT,
                               "dirty rate of %s: no result %d s after a %d s window",
                               c->domain_name, 10, secs);
    }
}
