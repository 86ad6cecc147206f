/* drivers/drv_qmp.c: drivers/driver.h over QMP (drivers/qmp.h). See
 * drivers/drv_qmp.h for this driver's conventions. */
#include "drivers/drv_qmp.h"
#include "util/clock.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct drv_qmp {
    co_qmp *q;
    int timeout_ms;
    int64_t dr_prev_start_s;  /* start-time of the measurement before ours */
    char vm_id[PATH_MAX + 8];
} drv_qmp;

/* libvirt's "unlimited" migration bandwidth (QEMU_DOMAIN_MIG_BANDWIDTH_MAX:
 * INT64_MAX / 1 MiB, in MiB/s), in bytes/s: QEMU has no explicit
 * "unlimited" value for max-bandwidth. */
#define UNLIMITED_BYTES_PER_S ((INT64_MAX / (1024 * 1024)) * (1024 * 1024))

static const co_drv_ops qmp_ops;

static drv_qmp *impl(co_drv *drv)
{
    return (drv_qmp *)drv->impl;
}

co_qmp *co_drv_qmp_conn(co_drv *drv)
{
    if (drv == NULL || drv->ops != &qmp_ops)
        return NULL;
    return impl(drv)->q;
}

void co_drv_qmp_vm_id(const char *socket_path, char *buf, size_t len)
{
    /* the canonical socket path, so two spellings of one path (relative,
     * absolute, through a symlink) are one VM */
    const char *path = strncmp(socket_path, "unix:", 5) == 0 ? socket_path + 5 : socket_path;
    char real[PATH_MAX];
    if (strncmp(socket_path, "tcp:", 4) != 0 && realpath(path, real) != NULL)
        snprintf(buf, len, "qmp:%s", real);
    else
        snprintf(buf, len, "qmp:%s", socket_path);
}

int co_drv_qmp_open(const char *socket_path, int timeout_ms, co_drv **out, co_diag *d)
{
    *out = NULL;
    if (timeout_ms <= 0)
        timeout_ms = CO_QMP_DEFAULT_TIMEOUT_MS;
    co_drv *drv = calloc(1, sizeof *drv);
    drv_qmp *p = calloc(1, sizeof *p);
    if (drv == NULL || p == NULL) {
        free(drv);
        free(p);
        return co_diag_set(d, CO_ENOMEM, "QMP driver: out of memory");
    }
    int rc = co_qmp_connect(socket_path, timeout_ms, &p->q, d);
    if (rc != CO_OK) {
        free(drv);
        free(p);
        return rc;
    }
    p->timeout_ms = timeout_ms;
    co_drv_qmp_vm_id(socket_path, p->vm_id, sizeof p->vm_id);
    drv->ops = &qmp_ops;
    drv->impl = p;
    *out = drv;
    return CO_OK;
}

int co_drv_qmp_incoming_state(co_drv *drv, co_drv_qmp_incoming *in, co_diag *d)
{
    memset(in, 0, sizeof *in);
    co_qmp *q = co_drv_qmp_conn(drv);
    if (q == NULL)
        return co_diag_set(d, CO_EUSAGE, "not a QMP driver");
    co_qmp_status st;
    int rc = co_qmp_query_status(q, &st, d);
    if (rc != CO_OK)
        return rc;
    snprintf(in->status, sizeof in->status, "%s", st.status);
    json_t *r = NULL;
    if ((rc = co_qmp_call(q, "query-migrate", NULL, &r, d)) != CO_OK)
        return rc;
    json_t *list = json_object_get(r, "socket-address");
    size_t i;
    json_t *sa;
    json_array_foreach(list, i, sa) {
        if (in->n_listen >= CO_DRV_QMP_MAX_LISTEN)
            break;
        const char *type = json_string_value(json_object_get(sa, "type"));
        const char *host = json_string_value(json_object_get(sa, "host"));
        const char *path = json_string_value(json_object_get(sa, "path"));
        const char *port = json_string_value(json_object_get(sa, "port"));
        if (type == NULL)
            continue;
        int k = in->n_listen++;
        snprintf(in->listen[k].type, sizeof in->listen[k].type, "%s", type);
        snprintf(in->listen[k].host, sizeof in->listen[k].host, "%s",
                 host ? host : path ? path : "");
        /* QAPI InetSocketAddress carries the port as a string */
        in->listen[k].port = port ? atoi(port) : 0;
    }
    json_decref(r);
    return CO_OK;
}

static int num_field(json_t *obj, const char *key, double *out, co_diag *diag)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return co_diag_set(diag, CO_EPROTO, "query-migrate-parameters: no number '%s'", key);
    *out = json_number_value(v);
    return CO_OK;
}

static int q_get_tunables(co_drv *drv, co_drv_tunables *t, co_diag *diag)
{
    drv_qmp *p = impl(drv);
    co_drv_tunables_init(t);
    json_t *par = NULL;
    int rc = co_qmp_query_parameters(p->q, &par, diag);
    if (rc != CO_OK)
        return rc;
    double chans = 1;
    if ((rc = num_field(par, "downtime-limit", &t->downtime_limit_ms, diag)) != CO_OK ||
        (rc = num_field(par, "max-bandwidth", &t->max_bandwidth_bytes_per_s, diag)) != CO_OK ||
        (rc = num_field(par, "multifd-channels", &chans, diag)) != CO_OK ||
        (rc = num_field(par, "cpu-throttle-initial", &t->cpu_throttle_initial_pct, diag)) !=
            CO_OK ||
        (rc = num_field(par, "cpu-throttle-increment", &t->cpu_throttle_increment_pct, diag)) !=
            CO_OK ||
        (rc = num_field(par, "throttle-trigger-threshold", &t->throttle_trigger_pct, diag)) !=
            CO_OK ||
        (rc = num_field(par, "max-cpu-throttle", &t->max_cpu_throttle_pct, diag)) != CO_OK) {
        json_decref(par);
        return rc;
    }
    /* optional: QEMU 3.0 and later have it */
    json_t *pcb = json_object_get(par, "max-postcopy-bandwidth");
    if (json_is_number(pcb))
        t->max_postcopy_bandwidth_bytes_per_s = json_number_value(pcb);
    json_decref(par);
    if (t->max_bandwidth_bytes_per_s >= (double)UNLIMITED_BYTES_PER_S)
        t->max_bandwidth_bytes_per_s = 0;
    int multifd = 0;
    json_t *caps = NULL;
    if ((rc = co_qmp_query_capabilities(p->q, &caps, diag)) != CO_OK)
        return rc;
    if ((rc = co_qmp_capability_in(p->q, caps, "auto-converge", &t->auto_converge, diag)) !=
            CO_OK ||
        (rc = co_qmp_capability_in(p->q, caps, "postcopy-ram", &t->postcopy_ram, diag)) !=
            CO_OK ||
        (rc = co_qmp_capability_in(p->q, caps, "multifd", &multifd, diag)) != CO_OK) {
        json_decref(caps);
        return rc;
    }
    t->multifd_channels = multifd ? (int)chans : 1;
    /* optional: QEMU 7.1 and later */
    co_diag tmp;
    co_diag_init(&tmp);
    int pp = 0;
    if (co_qmp_capability_in(p->q, caps, "postcopy-preempt", &pp, &tmp) == CO_OK)
        t->postcopy_preempt = pp;
    json_decref(caps);
    return CO_OK;
}

static int add_cap(json_t *caps, const char *name, int state)
{
    return json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", name, "state",
                                                 state ? 1 : 0));
}

/* Add an integer parameter unless the value means "leave as is". */
static int add_param(json_t *par, const char *name, double v, co_diag *diag)
{
    if (isnan(v))
        return CO_OK;
    if (!isfinite(v) || v < 0 || v >= 9223372036854775808.0)
        return co_diag_set(diag, CO_ERANGE, "migration parameter %s: %g is out of range", name,
                           v);
    return json_object_set_new(par, name, json_integer((json_int_t)llround(v))) == 0
               ? CO_OK
               : co_diag_set(diag, CO_ENOMEM, "QMP driver: out of memory");
}

static double bandwidth_param(double bytes_per_s)
{
    if (isnan(bytes_per_s))
        return NAN;
    return bytes_per_s == 0 ? (double)UNLIMITED_BYTES_PER_S : bytes_per_s;
}

static int q_set_tunables(co_drv *drv, const co_drv_tunables *t, co_diag *diag)
{
    drv_qmp *p = impl(drv);
    json_t *args = json_pack("{s:[]}", "capabilities");
    json_t *caps = json_object_get(args, "capabilities");
    if (args == NULL)
        return co_diag_set(diag, CO_ENOMEM, "QMP driver: out of memory");
    add_cap(caps, "events", 1);
    if (t->auto_converge >= 0)
        add_cap(caps, "auto-converge", t->auto_converge);
    if (t->postcopy_ram >= 0)
        add_cap(caps, "postcopy-ram", t->postcopy_ram);
    if (t->postcopy_preempt >= 0)
        add_cap(caps, "postcopy-preempt", t->postcopy_preempt);
    if (t->multifd_channels > 0)
        add_cap(caps, "multifd", t->multifd_channels > 1);
    int rc = co_qmp_call(p->q, "migrate-set-capabilities", args, NULL, diag);
    if (rc != CO_OK)
        return rc;

    json_t *par = json_object();
    if (par == NULL)
        return co_diag_set(diag, CO_ENOMEM, "QMP driver: out of memory");
    if ((rc = add_param(par, "downtime-limit", t->downtime_limit_ms, diag)) != CO_OK ||
        (rc = add_param(par, "max-bandwidth", bandwidth_param(t->max_bandwidth_bytes_per_s),
                        diag)) != CO_OK ||
        (rc = add_param(par, "multifd-channels",
                        t->multifd_channels > 1 ? (double)t->multifd_channels : NAN, diag)) !=
            CO_OK ||
        (rc = add_param(par, "cpu-throttle-initial", t->cpu_throttle_initial_pct, diag)) !=
            CO_OK ||
        (rc = add_param(par, "cpu-throttle-increment", t->cpu_throttle_increment_pct, diag)) !=
            CO_OK ||
        (rc = add_param(par, "throttle-trigger-threshold", t->throttle_trigger_pct, diag)) !=
            CO_OK ||
        (rc = add_param(par, "max-postcopy-bandwidth", t->max_postcopy_bandwidth_bytes_per_s,
                        diag)) != CO_OK ||
        (rc = add_param(par, "max-cpu-throttle", t->max_cpu_throttle_pct, diag)) != CO_OK) {
        json_decref(par);
        return rc;
    }
    if (json_object_size(par) == 0) {
        json_decref(par);
        return CO_OK;
    }
    return co_qmp_set_parameters(p->q, par, diag);
}

int co_drv_qmp_check_uri(const char *uri, co_diag *d)
{
    if (uri == NULL || *uri == '\0')
        return co_diag_set(d, CO_EUSAGE, "migration URI is empty");
    if (strncmp(uri, "tcp:", 4) == 0) {
        const char *hp = uri + 4, *colon = strrchr(hp, ':');
        if (colon == NULL || colon == hp)
            return co_diag_set(d, CO_EUSAGE, "migration URI '%s': want tcp:HOST:PORT", uri);
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
            return co_diag_set(d, CO_EUSAGE, "migration URI '%s': port '%s' is not 1..65535",
                               uri, colon + 1);
        return CO_OK;
    }
    if (strncmp(uri, "unix:", 5) == 0) {
        if (uri[5] == '\0')
            return co_diag_set(d, CO_EUSAGE, "migration URI '%s': want unix:PATH", uri);
        return CO_OK;
    }
    /* QEMU 7.2's other transports: exec:, fd:, rdma:HOST:PORT, file: is 8.2+. */
    if (strncmp(uri, "exec:", 5) == 0 || strncmp(uri, "fd:", 3) == 0 ||
        strncmp(uri, "rdma:", 5) == 0)
        return CO_OK;
    return co_diag_set(d, CO_EUSAGE,
                       "migration URI '%s': unknown transport (want tcp:HOST:PORT, unix:PATH, "
                       "exec:CMD, fd:NAME or rdma:HOST:PORT)",
                       uri);
}

static int q_start(co_drv *drv, const char *uri, co_diag *diag)
{
    int rc = co_drv_qmp_check_uri(uri, diag);
    if (rc != CO_OK)
        return rc;
    return co_qmp_migrate(impl(drv)->q, uri, diag);
}

/* Map a QMP event to a driver event; 0 if the controller does not care. */
static int map_event(const co_qmp_event *ev, co_drv_event *out)
{
    memset(out, 0, sizeof *out);
    out->at_ms = ev->received_ms;
    out->pass = -1;
    out->status = CO_DRV_MIG_NONE;
    if (strcmp(ev->name, "MIGRATION") == 0) {
        out->kind = CO_DRV_EV_STATUS;
        out->status = co_drv_status_parse(json_string_value(json_object_get(ev->data, "status")));
    } else if (strcmp(ev->name, "MIGRATION_PASS") == 0) {
        json_t *pass = json_object_get(ev->data, "pass");
        out->kind = CO_DRV_EV_PASS;
        out->pass = json_is_integer(pass) ? (int64_t)json_integer_value(pass) : -1;
    } else if (strcmp(ev->name, "STOP") == 0) {
        out->kind = CO_DRV_EV_STOP;
    } else if (strcmp(ev->name, "RESUME") == 0) {
        out->kind = CO_DRV_EV_RESUME;
    } else if (strcmp(ev->name, "SHUTDOWN") == 0) {
        out->kind = CO_DRV_EV_SHUTDOWN;
    } else {
        return 0;
    }
    return 1;
}

static int q_poll(co_drv *drv, int timeout_ms, co_drv_event *evs, int max, int *n_ev,
                  co_drv_stats *st, co_diag *diag)
{
    drv_qmp *p = impl(drv);
    *n_ev = 0;
    double deadline = co_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    if (evs == NULL || max <= 0) {
        int rc = co_qmp_pump(p->q, timeout_ms, diag);
        if (rc != CO_OK)
            return rc;
    } else {
        while (*n_ev < max) {
            /* Wait only until the first event the controller cares about. */
            int wait = 0;
            if (*n_ev == 0) {
                double r = deadline - co_clock_ms();
                wait = r > 0 ? (int)ceil(r) : 0;
            }
            co_qmp_event ev;
            int rc = co_qmp_wait_event(p->q, wait, &ev, diag);
            if (rc < 0)
                return rc;
            if (rc == 0)
                break;
            if (map_event(&ev, &evs[*n_ev]))
                (*n_ev)++;
            co_qmp_event_clear(&ev);
        }
    }
    return co_qmp_query_migrate(p->q, st, diag);
}

static int q_set_downtime_limit(co_drv *drv, double ms, co_diag *diag)
{
    if (!isfinite(ms) || ms < 0)
        return co_diag_set(diag, CO_ERANGE, "downtime-limit %g ms is not a finite value >= 0",
                           ms);
    return co_qmp_set_parameter_int(impl(drv)->q, "downtime-limit", llround(ms), diag);
}

static int q_set_max_bandwidth(co_drv *drv, double bytes_per_s, co_diag *diag)
{
    if (!isfinite(bytes_per_s) || bytes_per_s < 0)
        return co_diag_set(diag, CO_ERANGE,
                           "max-bandwidth %g bytes/s is not a finite value >= 0", bytes_per_s);
    return co_qmp_set_parameter_int(impl(drv)->q, "max-bandwidth",
                                    (int64_t)llround(bandwidth_param(bytes_per_s)), diag);
}

static int q_set_throttle(co_drv *drv, double initial_pct, double increment_pct,
                          co_diag *diag)
{
    json_t *par = json_object();
    if (par == NULL)
        return co_diag_set(diag, CO_ENOMEM, "QMP driver: out of memory");
    int rc;
    if ((rc = add_param(par, "cpu-throttle-initial", initial_pct, diag)) != CO_OK ||
        (rc = add_param(par, "cpu-throttle-increment", increment_pct, diag)) != CO_OK) {
        json_decref(par);
        return rc;
    }
    return co_qmp_set_parameters(impl(drv)->q, par, diag);
}

static int q_set_dirty_limit(co_drv *drv, double mib_per_s, int *vcpus, co_diag *diag)
{
    co_qmp *q = impl(drv)->q;
    if (vcpus)
        *vcpus = 0;
    if (!(mib_per_s > 0))
        return co_qmp_call(q, "cancel-vcpu-dirty-limit", NULL, NULL, diag);
    if (!isfinite(mib_per_s))
        return co_diag_set(diag, CO_ERANGE, "dirty limit %g MiB/s is not finite", mib_per_s);
    /* QEMU takes whole MB/s, at least 1 */
    json_t *args = json_pack("{s:I}", "dirty-rate", (json_int_t)fmax(1, llround(mib_per_s)));
    if (args == NULL)
        return co_diag_set(diag, CO_ENOMEM, "QMP driver: out of memory");
    int rc = co_qmp_call(q, "set-vcpu-dirty-limit", args, NULL, diag);
    if (rc != CO_OK) {
        /* QEMU 7.2: "dirty page limit feature requires KVM with accelerator
         * property 'dirty-ring-size' set" */
        if (strstr(diag->msg, "dirty-ring") != NULL || strstr(diag->msg, "not supported") != NULL)
            diag->code = rc = CO_ECONFIG;
        return rc;
    }
    json_t *ret = NULL;
    if (vcpus && co_qmp_call(q, "query-vcpu-dirty-limit", NULL, &ret, diag) == CO_OK) {
        *vcpus = json_is_array(ret) ? (int)json_array_size(ret) : 0;
        json_decref(ret);
    }
    return CO_OK;
}

static int q_dirty_rate_start(co_drv *drv, int secs, int sample_pages_per_gib, co_diag *diag)
{
    drv_qmp *x = impl(drv);
    co_qmp_dirty_rate r;
    int rc = co_qmp_query_dirty_rate(x->q, &r, diag);
    if (rc != CO_OK)
        return rc;
    if (strcmp(r.status, "measuring") == 0)
        return co_diag_set(diag, CO_EBUSY, "a dirty-rate measurement is already running");
    int64_t prev = strcmp(r.status, "measured") == 0 ? r.start_time_s : -1;
    /* QEMU 7.2 takes 128..4096 sample pages per GiB */
    int sp = sample_pages_per_gib < 128 ? 128 : sample_pages_per_gib > 4096 ? 4096
                                                                           : sample_pages_per_gib;
    rc = co_qmp_calc_dirty_rate(x->q, secs, "page-sampling", sp, diag);
    /* its thread may not say "measuring" yet, but QEMU knows */
    if (rc != CO_OK && strstr(diag->msg, "already being measured") != NULL)
        diag->code = rc = CO_EBUSY;
    if (rc == CO_OK)
        x->dr_prev_start_s = prev;
    return rc;
}

static int q_dirty_rate_read(co_drv *drv, int *measured, double *mib_per_s, co_diag *diag)
{
    drv_qmp *x = impl(drv);
    co_qmp_dirty_rate r;
    *measured = 0;
    int rc = co_qmp_query_dirty_rate(x->q, &r, diag);
    if (rc != CO_OK)
        return rc;
    /* start-time is in whole seconds: a new one, or the first result at all */
    if (strcmp(r.status, "measured") == 0 && r.dirty_rate_mib_per_s >= 0 &&
        (x->dr_prev_start_s < 0 || r.start_time_s != x->dr_prev_start_s)) {
        *measured = 1;
        *mib_per_s = (double)r.dirty_rate_mib_per_s;
    }
    return CO_OK;
}

static int q_start_postcopy(co_drv *drv, co_diag *diag)
{
    return co_qmp_start_postcopy(impl(drv)->q, diag);
}

static int q_pause_guest(co_drv *drv, co_diag *diag)
{
    return co_qmp_stop(impl(drv)->q, diag);
}

static int q_resume_guest(co_drv *drv, co_diag *diag)
{
    return co_qmp_cont(impl(drv)->q, diag);
}

static int q_cancel(co_drv *drv, co_diag *diag)
{
    drv_qmp *p = impl(drv);
    int rc = co_qmp_migrate_cancel(p->q, diag);
    if (rc != CO_OK)
        return rc;
    double deadline = co_clock_ms() + p->timeout_ms;
    co_drv_stats st;
    for (;;) {
        rc = co_qmp_query_migrate(p->q, &st, diag);
        if (rc != CO_OK)
            return rc;
        if (st.status == CO_DRV_MIG_CANCELLED || st.status == CO_DRV_MIG_FAILED ||
            st.status == CO_DRV_MIG_COMPLETED || st.status == CO_DRV_MIG_NONE)
            return CO_OK;
        if (co_clock_ms() >= deadline)
            return co_diag_set(diag, CO_ETIMEDOUT,
                               "migration still '%s' %d ms after migrate_cancel",
                               co_drv_status_name(st.status), p->timeout_ms);
        /* Between samples, keep reading the socket so events stay queued in
         * order rather than piling up in the kernel buffer. */
        rc = co_qmp_pump(p->q, 50, diag);
        if (rc != CO_OK)
            return rc;
    }
}

static int q_guest_running(co_drv *drv, int *running, co_diag *diag)
{
    co_qmp_status s;
    int rc = co_qmp_query_status(impl(drv)->q, &s, diag);
    if (rc == CO_OK)
        *running = s.running;
    return rc;
}

static const char *q_vm_id(co_drv *drv)
{
    return impl(drv)->vm_id;
}

static void q_close(co_drv *drv)
{
    if (drv == NULL)
        return;
    drv_qmp *p = impl(drv);
    if (p) {
        co_qmp_close(p->q);
        free(p);
    }
    free(drv);
}

static const co_drv_ops qmp_ops = {
    .name = "qmp",
    .get_tunables = q_get_tunables,
    .set_tunables = q_set_tunables,
    .start = q_start,
    .poll = q_poll,
    .set_downtime_limit = q_set_downtime_limit,
    .set_max_bandwidth = q_set_max_bandwidth,
    .set_throttle = q_set_throttle,
    .set_dirty_limit = q_set_dirty_limit,
    .dirty_rate_start = q_dirty_rate_start,
    .dirty_rate_read = q_dirty_rate_read,
    .start_postcopy = q_start_postcopy,
    .pause_guest = q_pause_guest,
    .resume_guest = q_resume_guest,
    .cancel = q_cancel,
    .guest_running = q_guest_running,
    .vm_id = q_vm_id,
    .close = q_close,
};
