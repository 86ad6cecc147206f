/* evacuate/virt.c: the libvirt side of an evacuation (see evacuate.h):
 * inventory, blockers, dirty rates, and the run. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evacuate/evacuate.h"
#include "util/deadline.h"
#include "util/error.h"

int co_evac_check_log_dir(const char *dir, co_diag *d)
{
    struct stat st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return co_diag_set(d, CO_ECANTCREAT, "--log '%s': cannot create the directory: %s", dir,
                           strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return co_diag_set(d, CO_ECANTCREAT, "--log '%s': not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return co_diag_set(d, CO_ECANTCREAT, "--log '%s': cannot write there: %s", dir,
                           strerror(errno));
    return CO_OK;
}

#ifndef CO_HAVE_LIBVIRT

int co_evac_inventory(co_evac *e, const co_evac_opts *o, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "evacuate: cutover was built without libvirt");
}

int co_evac_run(co_evac *e, const co_evac_opts *o, co_evac_result *r, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "evacuate: cutover was built without libvirt");
}

int co_evac_connect(const char *uri, int timeout_ms, struct _virConnect **out, co_diag *d)
{
    *out = NULL;
    return co_diag_set(d, CO_EUNAVAIL, "cutover was built without libvirt");
}

#else

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "drivers/drv_virt.h"
#include "engine/controller.h"
#include "engine/lock.h"
#include "engine/timeline.h"
#include "util/clock.h"

static const char *vir_msg(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->message ? e->message : "unknown libvirt error";
}

/* ---- connections with a time bound: virConnectOpen blocks for minutes on
 * an unreachable TCP host, so it runs under util/deadline.h; a connection
 * that arrives after we stopped waiting is closed by its thread. ---- */

struct open_job {
    char uri[256];
    virConnectPtr conn;
    int keepalive_s;
    char err[256];
};

static void open_call(void *arg)
{
    struct open_job *j = arg;
    j->conn = virConnectOpen(j->uri);
    if (!j->conn)
        snprintf(j->err, sizeof j->err, "%s", vir_msg());
    /* keepalive, as the driver's: a daemon that stops answering closes the
     * connection after about 3 x interval and the pending call fails */
    else if (virConnectSetKeepAlive(j->conn, j->keepalive_s, 2) < 0)
        virResetLastError();
}

static void open_release(void *arg)
{
    struct open_job *j = arg;
    if (j->conn)
        virConnectClose(j->conn);
    free(j);
}

static int open_conn(const char *uri, int timeout_ms, virConnectPtr *out, co_diag *d)
{
    *out = NULL;
    if (co_virt_init() != CO_OK) /* the event loop keepalive needs */
        return co_diag_set(d, CO_EUNAVAIL, "libvirt: cannot start the client's event loop");
    struct open_job *j = calloc(1, sizeof *j);
    if (!j)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    snprintf(j->uri, sizeof j->uri, "%s", uri);
    j->keepalive_s = timeout_ms / 3000 > 1 ? timeout_ms / 3000 : 1;
    int ok = co_deadline_run(open_call, j, open_release, timeout_ms);
    if (ok < 0) {
        free(j);
        return co_diag_set(d, CO_EOS, "cannot start a thread to connect to %s", uri);
    }
    if (ok == 0) /* the thread owns j now */
        return co_diag_set(d, CO_EUNAVAIL, "libvirt at %s did not answer within %d ms", uri,
                           timeout_ms);
    int rc = CO_OK;
    if (!j->conn)
        rc = co_diag_set(d, CO_EUNAVAIL, "cannot connect to libvirt at %s: %s", uri, j->err);
    *out = j->conn;
    free(j);
    return rc;
}

int co_evac_connect(const char *uri, int timeout_ms, struct _virConnect **out, co_diag *d)
{
    return open_conn(uri, timeout_ms > 0 ? timeout_ms : 5000, out, d);
}

/* ---- the domain XML: a careful look for a few elements. The XML comes
 * from libvirt (well-formed, attributes quoted with '), so element and
 * attribute searches within one <disk>...</disk> are reliable enough for
 * these yes/no questions. ---- */

/* The value of attribute name in the start tag at tag (up to its '>'). */
static int attr(const char *tag, const char *name, char *out, size_t len)
{
    const char *end = strchr(tag, '>');
    size_t nl = strlen(name);
    for (const char *p = tag; p && p < end; p++) {
        p = strstr(p, name);
        if (!p || p >= end)
            break;
        if ((p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') && p[nl] == '=' &&
            (p[nl + 1] == '\'' || p[nl + 1] == '"')) {
            char q = p[nl + 1];
            const char *v = p + nl + 2, *ve = strchr(v, q);
            if (!ve)
                return 0;
            snprintf(out, len, "%.*s", (int)(ve - v), v);
            return 1;
        }
    }
    return 0;
}

/* Blockers from the domain XML. */
static void scan_xml(co_evac_vm *v, const char *xml)
{
    const char *dev = strstr(xml, "<devices>");
    if (!dev)
        dev = xml;
    v->has_hostdev = strstr(dev, "<hostdev") != NULL;
    for (const char *p = strstr(dev, "<disk "); p; p = strstr(p + 1, "<disk ")) {
        const char *end = strstr(p, "</disk>");
        if (!end)
            break;
        char device[32] = "disk", type[32] = "";
        attr(p, "device", device, sizeof device);
        attr(p, "type", type, sizeof type);
        const char *src = strstr(p, "<source");
        int has_src = src && src < end;
        if (!strcmp(device, "cdrom") || !strcmp(device, "floppy")) {
            v->has_cdrom_media |= has_src;
        } else if (has_src && (!strcmp(type, "file") || !strcmp(type, "block") ||
                               !strcmp(type, "volume"))) {
            const char *sh = strstr(p, "<shareable");
            if (!(sh && sh < end))
                v->has_local_disk = 1;
        }
    }
}

/* The <cpu> element of the domain XML, or NULL (caller frees). */
static char *cpu_xml(const char *xml)
{
    const char *p = strstr(xml, "<cpu");
    if (!p || (p[4] != ' ' && p[4] != '>' && p[4] != '/'))
        return NULL;
    const char *gt = strchr(p, '>');
    if (!gt)
        return NULL;
    const char *end = gt[-1] == '/' ? gt + 1 : strstr(p, "</cpu>");
    if (!end)
        return NULL;
    if (end != gt + 1)
        end += 6;
    return strndup(p, (size_t)(end - p));
}

static int cmp_vm_name(const void *a, const void *b)
{
    return strcmp(((const co_evac_vm *)a)->name, ((const co_evac_vm *)b)->name);
}

/* One VM's dirty-rate measurement, in its own thread. A daemon or QEMU
 * that does not answer (seen: a domain that had just migrated in, under
 * TCG) must not hold the evacuation: the caller stops waiting after a
 * bound (util/deadline.h) and the thread then frees the job. */
struct dirty_job {
    char uri[256], name[128];
    int timeout_ms;
    int rc;
    double mib;
    char err[256];
};

static void dirty_call(void *arg)
{
    struct dirty_job *j = arg;
    co_diag d;
    co_diag_init(&d);
    co_drv *drv = NULL;
    co_virt_opts vo = {.conn_uri = j->uri, .domain = j->name, .timeout_ms = j->timeout_ms};
    double mib = 0;
    int rc = co_virt_open(&vo, &drv, &d);
    if (rc == CO_OK)
        rc = co_virt_dirty_rate(drv, 1, NULL, &mib, &d);
    if (drv)
        drv->ops->close(drv);
    j->rc = rc;
    j->mib = mib;
    snprintf(j->err, sizeof j->err, "%.250s", d.msg);
}

static void set_dirty(co_evac_vm *v)
{
    double pages = v->mem_bytes / 4096.0;
    double rate = v->dirty_mib_per_s * 256.0; /* 4 KiB pages per MiB */
    if (rate > 0 && pages >= 1)
        co_dirty_uniform(&v->dirty, pages, rate);
    else
        co_dirty_none(&v->dirty);
}

int co_evac_inventory(co_evac *e, const co_evac_opts *o, co_diag *d)
{
    int tmo = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    virConnectPtr src = NULL, dc[CO_EVAC_MAX_DEST] = {0};
    virDomainPtr *doms = NULL;
    int nd = 0, rc = CO_OK;
    for (int i = 0; i < e->ndests; i++)
        if (!strcmp(e->dests[i].uri, o->src_uri))
            return co_diag_set(d, CO_EUSAGE, "--to %s is the source itself", e->dests[i].uri);
    if ((rc = open_conn(o->src_uri, tmo, &src, d)) != CO_OK) {
        co_diag_prefix(d, "--connect");
        return rc;
    }
    e->nresidents = 0;
    for (int i = 0; i < e->ndests; i++) {
        co_evac_dest *ds = &e->dests[i];
        if ((rc = open_conn(ds->uri, tmo, &dc[i], d)) != CO_OK) {
            co_diag_prefix(d, "--to");
            goto out;
        }
        virNodeInfo ni;
        unsigned long long freemem = virNodeGetFreeMemory(dc[i]);
        if (virNodeGetInfo(dc[i], &ni) < 0 || freemem == 0) {
            rc = co_diag_set(d, CO_EUNAVAIL, "--to %s: node info: %s", ds->uri, vir_msg());
            goto out;
        }
        ds->cap.mem_bytes = (double)freemem;
        ds->cap.cores = ni.cpus;
        ds->cap.mem_used_bytes = 0; /* free memory already counts the residents' */
        ds->cap.vcpus_used = 0;
        virDomainPtr *rd = NULL;
        int nr = virConnectListAllDomains(dc[i], &rd, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        for (int k = 0; k < nr; k++) {
            virDomainInfo di;
            if (virDomainGetInfo(rd[k], &di) == 0)
                ds->cap.vcpus_used += di.nrVirtCpu;
            /* residents: anti-affinity counts them (--groups may name them) */
            const char *rn = virDomainGetName(rd[k]);
            if (rn && e->nresidents < CO_EVAC_MAX_VMS) {
                co_evac_resident *res = &e->residents[e->nresidents++];
                snprintf(res->name, sizeof res->name, "%s", rn);
                res->dest = i;
            }
            virDomainFree(rd[k]);
        }
        free(rd);
    }
    nd = virConnectListAllDomains(src, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (nd < 0) {
        rc = co_diag_set(d, CO_EUNAVAIL, "--connect %s: listing domains: %s", o->src_uri,
                         vir_msg());
        goto out;
    }
    if (nd > CO_EVAC_MAX_VMS) {
        rc = co_diag_set(d, CO_EUSAGE, "--connect %s: %d domains, at most %d supported",
                         o->src_uri, nd, CO_EVAC_MAX_VMS);
        goto out;
    }
    e->nvms = 0;
    for (int i = 0; i < nd; i++) {
        co_evac_vm *v = &e->vms[e->nvms];
        memset(v, 0, sizeof *v);
        v->group = -1;
        v->dest = -1;
        v->time_ms = v->downtime_ms = v->sent_bytes = NAN;
        v->started_ms = v->first_byte_ms = v->setup_ms = NAN;
        const char *name = virDomainGetName(doms[i]);
        virDomainInfo di;
        if (!name || virDomainGetInfo(doms[i], &di) < 0)
            continue; /* it went away meanwhile */
        snprintf(v->name, sizeof v->name, "%s", name);
        v->mem_bytes = di.memory * 1024.0;
        v->vcpus = di.nrVirtCpu;
        v->running = di.state == VIR_DOMAIN_RUNNING;
        virDomainJobInfo ji;
        if (virDomainGetJobInfo(doms[i], &ji) == 0 && ji.type != VIR_DOMAIN_JOB_NONE)
            v->busy_job = 1;
        char *xml = virDomainGetXMLDesc(doms[i], 0);
        char *cpu = NULL, dtype[16] = "";
        if (xml) {
            scan_xml(v, xml);
            cpu = cpu_xml(xml);
            const char *dm = strstr(xml, "<domain");
            if (dm)
                attr(dm, "type", dtype, sizeof dtype);
            v->kvm = !strcmp(dtype, "kvm");
            v->tcg = !strcmp(dtype, "qemu");
        }
        for (int h = 0; h < e->ndests; h++) {
            v->cpu_ok[h] = 1;
            if (!cpu)
                continue;
            int c = virConnectCompareHypervisorCPU(dc[h], NULL, NULL, dtype[0] ? dtype : NULL,
                                                   NULL, cpu, 0);
            /* an error (e.g. host-passthrough, no CPU model under TCG) means
             * libvirt cannot compare: not counted against the host */
            if (c == VIR_CPU_COMPARE_INCOMPATIBLE)
                v->cpu_ok[h] = 0;
        }
        free(cpu);
        free(xml);
        if (v->has_hostdev)
            snprintf(v->blocker, sizeof v->blocker, "host device passthrough (<hostdev>)");
        else if (v->has_cdrom_media && !(o->allow & CO_EVAC_ALLOW_EJECT))
            snprintf(v->blocker, sizeof v->blocker,
                     "CD-ROM or floppy with media the destination may not see (--allow eject)");
        else if (v->has_local_disk && !(o->allow & CO_EVAC_ALLOW_COPY_STORAGE))
            snprintf(v->blocker, sizeof v->blocker,
                     "local disk not on shared storage (--allow copy-storage)");
        else if (!v->running)
            snprintf(v->blocker, sizeof v->blocker, "not running (paused or in another state)");
        else if (v->busy_job)
            snprintf(v->blocker, sizeof v->blocker, "busy in another job");
        snprintf(v->status, sizeof v->status, "%s", v->blocker[0] ? "blocked" : "planned");
        e->nvms++;
    }
    qsort(e->vms, e->nvms, sizeof e->vms[0], cmp_vm_name);
    for (int i = 0; i < e->nvms; i++)
        e->vms[i].given_order = i;
    /* dirty rates: all movable VMs at once, 1 s each, 10 s at most */
    struct dirty_job *jobs[CO_EVAC_MAX_VMS];
    int jvm[CO_EVAC_MAX_VMS], nj = 0;
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        v->dirty_mib_per_s = e->default_dirty_mib_per_s;
        if (!o->measure_dirty || v->blocker[0])
            continue;
        if (!v->kvm && o->measure_dirty < 2) {
            /* seen here: QEMU 7.2 under TCG stopped running a guest that had
             * migrated in, its monitor hung in calc-dirty-rate (page
             * sampling), holding libvirt's domain lock */
            snprintf(v->reason, sizeof v->reason, "dirty rate not measured: TCG guest "
                     "(--measure-dirty forces it)");
            continue;
        }
        struct dirty_job *j = calloc(1, sizeof *j);
        if (!j)
            continue;
        j->timeout_ms = tmo;
        snprintf(j->uri, sizeof j->uri, "%s", o->src_uri);
        snprintf(j->name, sizeof j->name, "%s", v->name);
        jobs[nj] = j;
        jvm[nj++] = i;
    }
    int jdone[CO_EVAC_MAX_VMS];
    if (co_deadline_run_all(dirty_call, (void *const *)jobs, nj, free, 10000, jdone) < 0)
        for (int k = 0; k < nj; k++)
            jdone[k] = -1;
    for (int k = 0; k < nj; k++) {
        struct dirty_job *j = jobs[k];
        co_evac_vm *v = &e->vms[jvm[k]];
        if (jdone[k] == 0) { /* its thread frees it */
            snprintf(v->reason, sizeof v->reason, "dirty rate not measured: no answer in 10 s");
            continue;
        }
        if (jdone[k] < 0)
            snprintf(v->reason, sizeof v->reason, "dirty rate not measured: no thread");
        else if (j->rc == CO_OK) {
            v->dirty_mib_per_s = j->mib;
            v->dirty_measured = 1;
        } else {
            snprintf(v->reason, sizeof v->reason, "dirty rate not measured: %s", j->err);
        }
        free(j);
    }
    for (int i = 0; i < e->nvms; i++)
        set_dirty(&e->vms[i]);
out:
    for (int i = 0; i < nd; i++)
        virDomainFree(doms[i]);
    free(doms);
    for (int i = 0; i < e->ndests; i++)
        if (dc[i])
            virConnectClose(dc[i]);
    virConnectClose(src);
    return rc;
}

/* ---- the run ----
 *
 * Time limits. Each worker's libvirt connection has keepalive (the driver
 * sets it), so a daemon that stops answering altogether (SIGSTOP, a dead
 * host) closes it and the pending call fails. A daemon that answers
 * keepalives but never finishes a call (seen: a call waiting on a QEMU
 * monitor that hung, ~10 min) is caught here: the worker's driver is
 * wrapped so the run loop sees which call it is in and since when, and the
 * migration's progress (bytes, status). Past o->call_timeout_ms in one call,
 * or without progress for that long, the run loop asks the worker to cancel
 * (its stop flag) and aborts the job over a fresh connection; a worker still
 * stuck 2 x timeout_ms later is abandoned (detached, it owns its struct and
 * frees it if the call ever returns), its VM reported failed with where it
 * runs, and resumed on the source if it was left paused there and runs
 * nowhere else. Everything the worker reads is copied into its struct and it
 * writes only there, so an abandoned one never touches e, o or this stack. */

struct hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    _Atomic int link_flows; /* migrations sending on the source NIC (learn_tick) */
    int ends;               /* transfers ended so far (hold_end): releases held ones */
};

static void hub_unref(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    int last = --h->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (last) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
    }
}

struct worker {
    struct hub *hub;
    int vm;
    pthread_t t;
    /* under hub->mu */
    int running, finished, abandoned;
    const char *busy_what;        /* the driver call in progress (static string) */
    double busy_since_ms, progress_ms;
    double last_bytes;
    int last_status;
    double kicked_ms;             /* the watchdog asked it to stop (0 = not) */
    /* QEMU's dirty-pages-rate windows (evacuate.h, co_evac_window) */
    double win_t0, win_rate;
    int64_t win_sync0;
    co_evac_window win[CO_EVAC_MAX_WIN];
    int nwin, nwin_seen;          /* nwin_seen: how many the run loop has learnt from */
    double tick_bytes;            /* bytes at the run loop's last rate sample, -1 none */
    double end_ms;                /* when the worker finished */
    double first_send_ms;         /* the first sample with bytes sent (0 = none yet) */
    double setup_end_ms;          /* ... counting the hold's trickle: its set-up's end */
    double throttle_max_pct;      /* the most QEMU's CPU throttle reached */
    int moved_tick;               /* learn_tick: its bytes moved in this tick */
    double shared_ms;             /* the last tick its bytes moved beside another's, 0 = never */
    double throttle_start_pct;    /* where libvirt's ramp starts (its last drain's) */
    double first_send_bytes;      /* ... and its bytes (the solo probe's rate) */
    double closing_since_ms;      /* when closing() first said it ends soon (0 = not yet) */
    int setup_noted;              /* its set-up went into e->setup_ms */
    int pull;                     /* the run loop cancelled it for the others (pull-back) */
    /* what its transfer gains: the send rate (smoothed over the samples),
     * what is left and the dirty rate, for the early start (closing_ms) */
    double rate_bps, rate_t_ms, rate_bytes, remaining_bytes, dirty_bps;
    double peak_bps;              /* the most QEMU's ram.mbps showed in pre-copy, bytes/s */
    double last_mbps_bps;         /* ... and its last, bytes/s */
    /* one transfer at a time (co_evac_run at k = 1, "The hold"): a VM
     * started while others are in flight sends at CO_EVAC_HOLD_BYTES_PER_S
     * until hub->ends reaches hold_ends; its controller sees it in its
     * set-up meanwhile */
    int hold_ends;                /* 0: never held */
    int held;                     /* the hold's bandwidth is set, not yet released */
    int releasing;                /* the run loop is releasing it (release_holds) */
    double stopped_ms;            /* its guest stopped for the switchover (0 = not yet) */
    int end_counted;              /* its transfer's end is in hub->ends */
    double want_bw;               /* what the controller asked (NAN: libvirt's default) */
    double orig_bw;               /* the domain's speed before the hold (NAN: unknown) */
    int hold_applied;             /* the hold's speed was set on the domain */
    double held_from_ms, held_ms; /* when the hold began; how long it lasted */
    double released_ms;           /* when release_holds lifted it (0 = not) */
    double turn_ms;               /* when the transfers before it had ended (0 = not yet) */
    int reissued;                 /* the release asked again (release_check) */
    int64_t sync_count;           /* QEMU's dirty-sync-count last seen, and when it */
    double sync_seen_ms;          /* changed (the pages dirtied since: closing()) */
    _Atomic long long link_avail; /* bytes/s the others leave its stop-and-copy (learn_tick) */
    char kick_why[200];
    /* the run loop's */
    int peers;                    /* most migrations in flight during it */
    int k_start;                  /* the drain's concurrency at its start (the tally) */
    double send_tick_ms, send_m_ms; /* its sending time over the run loop's ticks, and
                                       that time x how many sent at once */
    double t0;
    volatile sig_atomic_t stop, stop_signo;
    /* inputs (copies) */
    char name[128], src_uri[256], dest_uri[256], mig_uri[256];
    int copy_storage, eject, tmo;
    unsigned allow;
    double max_downtime_ms, deadline_ms, nic_bytes_per_s;
    int mtu;
    int policy;                   /* co_evac_opts.policy: adaptive, or a baseline's (bench) */
    double policy_mem_bytes;      /* the VM's memory, at least opts.policy_min_mem_bytes */
    char log_path[700];           /* its controller timeline (opts.log_dir), "" = none */
    /* outputs */
    char status[16], reason[512];
    double time_ms, downtime_ms, sent_bytes;
    co_ctl_result res;
    /* the driver seen by the controller: each op marks busy_what around the inner one */
    co_drv wrap;
    co_drv_ops wops;
    co_drv *inner;
};

static void busy(struct worker *w, const char *what)
{
    pthread_mutex_lock(&w->hub->mu);
    w->busy_what = what;
    w->busy_since_ms = co_clock_ms();
    pthread_mutex_unlock(&w->hub->mu);
}

#define WORKER(d) ((struct worker *)(d)->impl)
#define WRAP(call, what)                                                                     \
    do {                                                                                     \
        busy(w, what);                                                                       \
        int rc_ = (call);                                                                    \
        busy(w, NULL);                                                                       \
        return rc_;                                                                          \
    } while (0)

static int w_get_tunables(co_drv *d, co_drv_tunables *t, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->get_tunables(w->inner, t, g), "reading the migration parameters");
}
static int w_set_tunables(co_drv *d, const co_drv_tunables *t, co_diag *g)
{
    struct worker *w = WORKER(d);
    co_drv_tunables tt = *t;
    /* libvirt 9.0 cannot set max-cpu-throttle (drivers/drv_virt.h) and
     * refuses the whole set; the adaptive policy asks for its cap there
     * with --allow auto-converge. Leave QEMU's: the policy itself never
     * asks for a throttle beyond its cap. */
    if (!strcmp(w->inner->ops->name, "libvirt"))
        tt.max_cpu_throttle_pct = NAN;
    pthread_mutex_lock(&w->hub->mu);
    int hold = w->hold_ends > 0 && w->hub->ends < w->hold_ends && !w->held_from_ms;
    int held = w->held;
    pthread_mutex_unlock(&w->hub->mu);
    if (hold || held) {
        /* the speed it asks for waits for the release */
        if (!isnan(tt.max_bandwidth_bytes_per_s))
            w->want_bw = tt.max_bandwidth_bytes_per_s;
        tt.max_bandwidth_bytes_per_s = NAN;
    }
    busy(w, "setting the migration parameters");
    int rc = w->inner->ops->set_tunables(w->inner, &tt, g);
    busy(w, NULL);
    if (!hold || rc != CO_OK)
        return rc;
    /* before the start only, as a speed of the domain's, not the start's
     * own (drivers/drv_virt.c: that one overrules a release made while
     * libvirt sets the migration up); what it was goes back if the guest
     * stays. At 1 MiB/s the bulk pass syncs no bitmap, so QEMU neither
     * switches nor throttles meanwhile. A hold that cannot be set is no
     * hold: the VM migrates at once. */
    co_drv_tunables cur;
    co_diag dd;
    co_diag_init(&dd);
    busy(w, "holding the migration's speed (virDomainMigrateSetMaxSpeed)");
    w->orig_bw = w->inner->ops->get_tunables(w->inner, &cur, &dd) == CO_OK
                     ? cur.max_bandwidth_bytes_per_s : NAN;
    int hrc = w->inner->ops->set_max_bandwidth(w->inner, CO_EVAC_HOLD_BYTES_PER_S, &dd);
    busy(w, NULL);
    if (hrc == CO_OK) {
        pthread_mutex_lock(&w->hub->mu);
        w->held = 1;
        w->hold_applied = 1;
        w->held_from_ms = co_clock_ms();
        pthread_mutex_unlock(&w->hub->mu);
    }
    return rc;
}

/* Its transfer is over (QEMU's job ended, or the worker did): counted
 * once, under h->mu; a held VM waits for the ends of those before it. */
static void count_end(struct worker *w)
{
    if (w->end_counted)
        return;
    w->end_counted = 1;
    w->hub->ends++;
    pthread_cond_broadcast(&w->hub->cv);
}

/* Release the held migrations whose turn came (or that waited too long):
 * the bandwidth each one's controller asked for, libvirt's default if none.
 * From the run loop, woken by count_end: the worker's own thread sits in
 * virDomainGetJobStats, which libvirtd answered 1 - 2 s late while it set
 * the migration up (bench-evacuate `stream`: a release at the worker's
 * next poll came 0.6 - 0.8 s after the end before it). Called and
 * returning with h->mu held; released around the libvirt calls, each
 * worker marked `releasing` meanwhile so that it keeps its driver open. */
static void release_holds(co_evac *e, struct hub *h, struct worker **ws, int nw)
{
    struct worker *go[2 * CO_EVAC_MAX_VMS];
    int ngo = 0;
    double now = co_clock_ms();
    for (int i = 0; i < nw && ngo < 2 * CO_EVAC_MAX_VMS; i++) {
        struct worker *w = ws[i];
        if (w && w->held && !(w->turn_ms > 0) && h->ends >= w->hold_ends)
            w->turn_ms = now;
        if (w && w->running && !w->finished && w->held && !w->releasing &&
            (h->ends >= w->hold_ends || now - w->held_from_ms > CO_EVAC_HOLD_MAX_MS)) {
            w->releasing = 1;
            go[ngo++] = w;
        }
    }
    if (ngo == 0)
        return;
    pthread_mutex_unlock(&h->mu);
    int ok[2 * CO_EVAC_MAX_VMS];
    for (int i = 0; i < ngo; i++) {
        co_diag d;
        co_diag_init(&d);
        struct worker *w = go[i];
        ok[i] = w->inner->ops->set_max_bandwidth(w->inner, isfinite(w->want_bw) ? w->want_bw : 0,
                                                 &d) == CO_OK;
    }
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < ngo; i++) {
        struct worker *w = go[i];
        w->releasing = 0;
        if (ok[i]) { /* else tried again at the next tick */
            w->held = 0;
            w->released_ms = co_clock_ms();
            w->held_ms = w->released_ms - w->held_from_ms;
            /* its wait past its turn or its set-up's end as the planner
             * times it, whichever came later (plan.c, hold_wait_ms) */
            if (w->turn_ms > 0)
                co_evac_note_hold(e, fmax(0, w->released_ms -
                                                 fmax(w->turn_ms, w->t0 + e->setup_ms)));
        }
    }
    pthread_cond_broadcast(&h->cv);
}
/* A released migration still at the held rate CO_EVAC_RELEASE_CHECK_MS
 * later (QEMU's ram.mbps) is released once more, from its own thread. */
static void release_check(struct worker *w)
{
    pthread_mutex_lock(&w->hub->mu);
    int again = w->released_ms > 0 && !w->reissued && !w->finished &&
                co_clock_ms() - w->released_ms > CO_EVAC_RELEASE_CHECK_MS &&
                w->last_status == CO_DRV_MIG_ACTIVE && w->last_mbps_bps > 0 &&
                w->last_mbps_bps < 4 * CO_EVAC_HOLD_BYTES_PER_S;
    if (again)
        w->reissued = 1;
    pthread_mutex_unlock(&w->hub->mu);
    if (!again)
        return;
    co_diag d;
    co_diag_init(&d);
    busy(w, "releasing the hold again (virDomainMigrateSetMaxSpeed)");
    w->inner->ops->set_max_bandwidth(w->inner, isfinite(w->want_bw) ? w->want_bw : 0, &d);
    busy(w, NULL);
}

static int w_start(co_drv *d, const char *uri, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->start(w->inner, uri, g), "starting the migration");
}
static int w_poll(co_drv *d, int tmo, co_drv_event *ev, int max, int *n, co_drv_stats *st,
                  co_diag *g)
{
    struct worker *w = WORKER(d);
    release_check(w);
    busy(w, "reading the job statistics (virDomainGetJobStats)");
    int rc = w->inner->ops->poll(w->inner, tmo, ev, max, n, st, g);
    pthread_mutex_lock(&w->hub->mu);
    w->busy_what = NULL;
    if (rc == CO_OK && (st->status == CO_DRV_MIG_COMPLETED || st->status == CO_DRV_MIG_FAILED ||
                        st->status == CO_DRV_MIG_CANCELLED))
        count_end(w);
    if (rc == CO_OK && !(w->setup_end_ms > 0) && st->ram_transferred_bytes > 0)
        w->setup_end_ms = co_clock_ms();
    if (rc == CO_OK && w->held && st->status == CO_DRV_MIG_ACTIVE) {
        /* held: for its controller (and the run loop) still in its set-up;
         * its trickle is no transfer to judge */
        co_drv_stats m;
        co_drv_stats_init(&m);
        m.status = CO_DRV_MIG_SETUP;
        m.sampled_at_ms = st->sampled_at_ms;
        m.total_time_ms = st->total_time_ms;
        m.ram_transferred_bytes = 0;
        *st = m;
    }
    /* a change of QEMU's dirty-pages-rate closes a window: the rate is
     * the pages newly dirtied since its last update over that time */
    if (rc == CO_OK &&
        (st->status == CO_DRV_MIG_ACTIVE || st->status == CO_DRV_MIG_PRE_SWITCHOVER) &&
        isfinite(st->ram_dirty_pages_rate)) {
        double now = co_clock_ms();
        if (!(w->win_t0 > 0)) {
            w->win_t0 = now;
            w->win_rate = st->ram_dirty_pages_rate;
            w->win_sync0 = st->ram_dirty_sync_count;
        } else if (st->ram_dirty_pages_rate != w->win_rate) {
            if (w->nwin < CO_EVAC_MAX_WIN) {
                int first = w->nwin == 0;
                int64_t m = st->ram_dirty_sync_count - w->win_sync0;
                w->win[w->nwin] = (co_evac_window){
                    .dur_ms = now - w->win_t0,
                    .pages = st->ram_dirty_pages_rate * (now - w->win_t0) / 1e3,
                    .syncs = m >= 1 && m < 1000000 ? (int)m : 1,
                    .bulk = first};
                w->nwin++;
            }
            w->win_t0 = now;
            w->win_rate = st->ram_dirty_pages_rate;
            w->win_sync0 = st->ram_dirty_sync_count;
        }
    }
    if (rc == CO_OK && !(w->first_send_ms > 0) && st->ram_transferred_bytes > 0) {
        w->first_send_ms = co_clock_ms();
        w->first_send_bytes = st->ram_transferred_bytes;
    }
    if (rc == CO_OK && st->ram_transferred_bytes > 0) {
        double now = co_clock_ms();
        if (w->rate_t_ms > 0 && now - w->rate_t_ms >= 200 &&
            st->ram_transferred_bytes >= w->rate_bytes) {
            double r = (st->ram_transferred_bytes - w->rate_bytes) / ((now - w->rate_t_ms) / 1e3);
            w->rate_bps = w->rate_bps > 0 ? 0.5 * w->rate_bps + 0.5 * r : r;
        }
        if (!(w->rate_t_ms > 0) || now - w->rate_t_ms >= 200) {
            w->rate_t_ms = now;
            w->rate_bytes = st->ram_transferred_bytes;
        }
        w->remaining_bytes = st->ram_remaining_bytes;
        /* QEMU's own window (co_evac_note_peak): a transfer shorter than
         * the run loop's tick shows its rate only there */
        if (st->status == CO_DRV_MIG_ACTIVE && isfinite(st->ram_mbps)) {
            w->last_mbps_bps = st->ram_mbps * 1e6 / 8;
            if (w->last_mbps_bps > w->peak_bps)
                w->peak_bps = w->last_mbps_bps;
        }
        if (st->ram_dirty_sync_count != w->sync_count) {
            w->sync_count = st->ram_dirty_sync_count;
            w->sync_seen_ms = now;
        }
        double pg = st->ram_page_size_bytes > 0 ? st->ram_page_size_bytes : 4096;
        w->dirty_bps = isfinite(st->ram_dirty_pages_rate) ? st->ram_dirty_pages_rate * pg : 0;
    }
    if (rc == CO_OK && isfinite(st->cpu_throttle_pct) && st->cpu_throttle_pct > w->throttle_max_pct)
        w->throttle_max_pct = st->cpu_throttle_pct;
    if (rc == CO_OK && (st->ram_transferred_bytes != w->last_bytes ||
                        st->status != w->last_status)) {
        w->last_bytes = st->ram_transferred_bytes;
        w->last_status = st->status;
        w->progress_ms = co_clock_ms();
    }
    /* the guest stopped for the switchover with next to nothing left to
     * send: the next VM's transfer may begin (the hold), its own switch
     * comes a transfer later; with more left it would share the NIC with
     * this stop-and-copy, so that one waits for the end */
    double rate = fmax(w->rate_bps, w->peak_bps);
    for (int i = 0; rc == CO_OK && n && i < *n; i++) {
        if (ev[i].kind != CO_DRV_EV_STOP)
            continue;
        if (!(w->stopped_ms > 0))
            w->stopped_ms = co_clock_ms();
        if (w->remaining_bytes >= 0 && rate > 0 &&
            w->remaining_bytes / rate * 1e3 <= CO_EVAC_RELEASE_AT_STOP_MS)
            count_end(w);
    }
    pthread_mutex_unlock(&w->hub->mu);
    return rc;
}
static int w_set_downtime_limit(co_drv *d, double ms, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->set_downtime_limit(w->inner, ms, g),
         "setting the downtime limit (virDomainMigrateSetMaxDowntime)");
}
static int w_set_max_bandwidth(co_drv *d, double b, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->set_max_bandwidth(w->inner, b, g), "setting the bandwidth");
}
static int w_set_throttle(co_drv *d, double a, double b, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->set_throttle(w->inner, a, b, g), "setting the CPU throttle");
}
static int w_start_postcopy(co_drv *d, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->start_postcopy(w->inner, g), "switching to post-copy");
}
static int w_pause_guest(co_drv *d, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->pause_guest(w->inner, g), "pausing the guest");
}
static int w_resume_guest(co_drv *d, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->resume_guest(w->inner, g), "resuming the guest");
}
static int w_cancel(co_drv *d, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->cancel(w->inner, g), "cancelling the migration (virDomainAbortJob)");
}
static int w_guest_running(co_drv *d, int *r, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->guest_running(w->inner, r, g), "reading the domain state");
}
static int w_set_dirty_limit(co_drv *d, double m, int *v, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->set_dirty_limit(w->inner, m, v, g), "setting a dirty limit");
}
static int w_dirty_rate_start(co_drv *d, int s, int p, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->dirty_rate_start(w->inner, s, p, g), "starting a dirty-rate calculation");
}
static int w_dirty_rate_read(co_drv *d, int *m, double *r, co_diag *g)
{
    struct worker *w = WORKER(d);
    WRAP(w->inner->ops->dirty_rate_read(w->inner, m, r, g), "reading the dirty rate");
}
static const char *w_vm_id(co_drv *d)
{
    return WORKER(d)->inner->ops->vm_id(WORKER(d)->inner);
}
static void w_close(co_drv *d)
{
    (void)d; /* the worker closes the inner driver itself, under the watchdog */
}

static void wrap_driver(struct worker *w, co_drv *inner)
{
    const co_drv_ops *o = inner->ops;
    w->inner = inner;
    w->wops = (co_drv_ops){
        .name = o->name, .get_tunables = w_get_tunables, .set_tunables = w_set_tunables,
        .start = w_start, .poll = w_poll, .set_downtime_limit = w_set_downtime_limit,
        .set_max_bandwidth = w_set_max_bandwidth, .set_throttle = w_set_throttle,
        .start_postcopy = w_start_postcopy, .pause_guest = w_pause_guest,
        .resume_guest = w_resume_guest, .cancel = w_cancel, .guest_running = w_guest_running,
        .set_dirty_limit = o->set_dirty_limit ? w_set_dirty_limit : NULL,
        .dirty_rate_start = o->dirty_rate_start ? w_dirty_rate_start : NULL,
        .dirty_rate_read = o->dirty_rate_read ? w_dirty_rate_read : NULL,
        .vm_id = w_vm_id, .close = w_close};
    w->wrap = (co_drv){.ops = &w->wops, .impl = w};
}

/* Eject CD-ROM/floppy media (--allow eject): the disk's XML without its
 * <source> applied live. CO_OK or CO_EUNAVAIL. */
static int eject_media(const char *src_uri, const char *name, int tmo, co_diag *d)
{
    virConnectPtr c;
    int rc = open_conn(src_uri, tmo, &c, d);
    if (rc != CO_OK)
        return rc;
    virDomainPtr dom = virDomainLookupByName(c, name);
    char *xml = dom ? virDomainGetXMLDesc(dom, 0) : NULL;
    for (const char *p = xml ? strstr(xml, "<disk ") : NULL; p && rc == CO_OK;
         p = strstr(p + 1, "<disk ")) {
        const char *end = strstr(p, "</disk>");
        char device[32] = "";
        attr(p, "device", device, sizeof device);
        const char *s = strstr(p, "<source");
        if (!end || (strcmp(device, "cdrom") && strcmp(device, "floppy")) || !s || s > end)
            continue;
        const char *se = strstr(s, "/>");
        const char *sc = strstr(s, "</source>");
        const char *gt = strchr(s, '>');
        if (gt && gt[-1] != '/' && sc)
            se = sc + 9 - 2; /* a <source> with children ends at </source> */
        if (!se)
            continue;
        char *disk = NULL;
        if (asprintf(&disk, "%.*s%.*s</disk>", (int)(s - p), p, (int)(end - (se + 2)), se + 2) <
            0)
            break;
        if (virDomainUpdateDeviceFlags(dom, disk, VIR_DOMAIN_AFFECT_LIVE) < 0)
            rc = co_diag_set(d, CO_EUNAVAIL, "%s: ejecting media: %s", name, vir_msg());
        free(disk);
    }
    free(xml);
    if (dom)
        virDomainFree(dom);
    virConnectClose(c);
    return rc;
}

/* A held VM: the domain, where it runs now, gets back the speed it had
 * before the hold, for its next migration. Where it runs: the hold's speed
 * went along with the guest to the destination in 1 of 6 held migrations
 * on the cluster lab (libvirt's), and stayed on the source's domain when the
 * release came while libvirt was still ending a cancelled job
 * (evacuate/held_transfers_one_at_a_time). Once the migration call has
 * returned (the driver closed), over a fresh connection, bounded like the
 * others; an inactive definition left on the source is not touched. */
static void put_speed_back(struct worker *w, const char *uri)
{
    virConnectPtr c = NULL;
    co_diag d;
    co_diag_init(&d);
    if (open_conn(uri, w->tmo, &c, &d) != CO_OK)
        return;
    virDomainPtr dom = virDomainLookupByName(c, w->name);
    if (dom && virDomainIsActive(dom) == 1) {
        unsigned long mibps = co_virt_speed_mibps(isfinite(w->orig_bw) ? w->orig_bw : 0);
        if (virDomainMigrateSetMaxSpeed(dom, mibps, 0) < 0)
            virResetLastError();
    } else {
        virResetLastError(); /* not there, or not running there */
    }
    if (dom)
        virDomainFree(dom);
    virConnectClose(c);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    co_diag d;
    co_diag_init(&d);
    co_drv *drv = NULL;
    co_lock lock = {.fd = -1};
    co_virt_opts vo = {.conn_uri = w->src_uri, .domain = w->name, .dest_uri = w->dest_uri,
                       .migrate_uri = w->mig_uri[0] ? w->mig_uri : NULL,
                       .copy_storage = w->copy_storage, .timeout_ms = w->tmo,
                       .qemu_monitor = (w->allow & CO_EVAC_ALLOW_QEMU_MONITOR) != 0};
    char key[1200];
    busy(w, "connecting to the source (virConnectOpen)");
    int rc = co_virt_open(&vo, &drv, &d);
    busy(w, NULL);
    if (rc == CO_OK && co_virt_lock_key(drv, key, sizeof key) == CO_OK)
        rc = co_lock_take(&lock, key, &d);
    if (rc == CO_OK && w->eject) {
        busy(w, "ejecting media (virDomainUpdateDeviceFlags)");
        rc = eject_media(w->src_uri, w->name, w->tmo, &d);
        busy(w, NULL);
    }
    if (rc == CO_OK) {
        co_ctl_config cfg = {
            .pol = {.kind = w->policy, .max_downtime_ms = w->max_downtime_ms,
                    .deadline_ms = w->deadline_ms, .allow = w->allow & 0xffu,
                    .postcopy_ready = 1, .mem_bytes = w->policy_mem_bytes,
                    .link_known = w->nic_bytes_per_s > 0,
                    .link_rate_bytes_per_s = w->nic_bytes_per_s, .link_mtu = w->mtu,
                    .throttle_start_pct = w->throttle_start_pct},
            .uri = w->dest_uri,
            .poll_ms = 100,
            .stop_flag = &w->stop,
            .stop_signo = &w->stop_signo,
            .link_flows = &w->hub->link_flows,
            .link_avail_bytes_per_s = &w->link_avail,
        };
        /* a timeline that cannot be opened costs the timeline, not the
         * migration (the directory was checked before the start) */
        FILE *log = w->log_path[0] ? fopen(w->log_path, "a") : NULL;
        cfg.log = log;
        wrap_driver(w, drv);
        rc = co_ctl_run(&w->wrap, &cfg, &w->res, &d);
        if (log)
            fclose(log);
        snprintf(w->status, sizeof w->status, "%s", w->res.status);
        w->downtime_ms = w->res.downtime_ms;
        w->time_ms = w->res.total_time_ms;
        w->sent_bytes = w->res.transferred_bytes;
    } else {
        snprintf(w->status, sizeof w->status, "failed");
        w->res.status[0] = '\0';
    }
    if (rc != CO_OK)
        snprintf(w->reason, sizeof w->reason, "%.500s", d.msg);
    else
        w->reason[0] = '\0';
    if (drv) {
        pthread_mutex_lock(&w->hub->mu);
        while (w->releasing) /* the run loop is in its driver (release_holds) */
            pthread_cond_wait(&w->hub->cv, &w->hub->mu);
        if (w->held) { /* over while held (failed, cancelled): none to release now */
            w->held = 0;
            w->held_ms = co_clock_ms() - w->held_from_ms;
        }
        pthread_mutex_unlock(&w->hub->mu);
        busy(w, "closing the connection (the migration call has not returned)");
        drv->ops->close(drv);
        busy(w, NULL);
    }
    if (w->hold_applied) {
        busy(w, "putting the migration speed back (virDomainMigrateSetMaxSpeed)");
        put_speed_back(w, strcmp(w->status, "completed") ? w->src_uri : w->dest_uri);
        busy(w, NULL);
    }
    co_lock_release(&lock);
    struct hub *h = w->hub;
    pthread_mutex_lock(&h->mu);
    w->end_ms = co_clock_ms();
    w->finished = 1;
    count_end(w);
    int ab = w->abandoned;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (ab) {
        free(w);
        hub_unref(h);
    }
    return NULL;
}

/* What the watchdog does for a stuck worker, over fresh connections:
 * abort the job on the source, then look where the VM runs; resume it on
 * the source if it was left paused there and runs on no destination. */
struct rescue {
    char src[256], dst[256], name[128];
    int tmo, abort_only;
    char where[260];
};

static const char *state_word(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    default: return "in another state";
    }
}

/* The domain's state at uri: a VIR_DOMAIN_* state, -1 not there (or not
 * active), -2 the daemon did not answer. */
static int state_at(const char *uri, const char *name, int tmo, int abort_job)
{
    co_diag d;
    co_diag_init(&d);
    virConnectPtr c;
    if (open_conn(uri, tmo, &c, &d) != CO_OK)
        return -2;
    virDomainPtr dom = virDomainLookupByName(c, name);
    int st = -1, reason;
    if (dom) {
        if (abort_job && virDomainAbortJob(dom) < 0)
            virResetLastError(); /* no job any more: fine */
        if (virDomainGetState(dom, &st, &reason, 0) < 0)
            st = -2;
        else if (st == VIR_DOMAIN_SHUTOFF)
            st = -1;
    }
    virResetLastError();
    if (dom)
        virDomainFree(dom);
    virConnectClose(c);
    return st;
}

static void rescue_fn(void *p)
{
    struct rescue *r = p;
    int s = state_at(r->src, r->name, r->tmo, 1);
    if (r->abort_only)
        return;
    if (s == VIR_DOMAIN_PAUSED)
        usleep(1000 * 1000); /* the aborted job may be resuming it */
    s = state_at(r->src, r->name, r->tmo, 0);
    int t = state_at(r->dst, r->name, r->tmo, 0);
    int resumed = 0;
    if (s == VIR_DOMAIN_PAUSED && t != VIR_DOMAIN_RUNNING && t != -2) {
        virConnectPtr c;
        co_diag d;
        co_diag_init(&d);
        if (open_conn(r->src, r->tmo, &c, &d) == CO_OK) {
            virDomainPtr dom = virDomainLookupByName(c, r->name);
            if (dom && virDomainResume(dom) == 0)
                resumed = 1, s = VIR_DOMAIN_RUNNING;
            virResetLastError();
            if (dom)
                virDomainFree(dom);
            virConnectClose(c);
        }
    }
    /* paused on the source, running on the destination: QEMU finished but
     * libvirt's last phase (Finish on the destination, Confirm on the
     * source) never ended; the source stays paused (resuming it could run
     * the guest twice) and the destination's guest may be wedged (seen:
     * QEMU 7.2 blocked in its serial chardev, docs/evacuate.md "Faults") */
    int unfinished = s == VIR_DOMAIN_PAUSED && t == VIR_DOMAIN_RUNNING;
    snprintf(r->where, sizeof r->where, "on the source: %s%s; on the destination: %s%s",
             s == -2 ? "no answer" : s == -1 ? "not there" : state_word(s),
             resumed ? " (resumed)" : "",
             t == -2 ? "no answer" : t == -1 ? "not there" : state_word(t),
             unfinished ? " (libvirt never finished the migration: the source stays paused; "
                          "check the guest on the destination)" : "");
}

/* 1 if the daemon at uri accepts a connection within tmo ms. */
static int answers(const char *uri, int tmo)
{
    co_diag d;
    co_diag_init(&d);
    virConnectPtr c;
    if (open_conn(uri, tmo, &c, &d) != CO_OK)
        return 0;
    virConnectClose(c);
    return 1;
}

/* Another open destination for VM v after its own failed (place rules,
 * most memory left). -1 if none. */
static int replace_vm(co_evac *e, int vi)
{
    co_evac_vm *v = &e->vms[vi];
    int vm_host[CO_EVAC_PLACE_SLOTS], vm_dest[CO_EVAC_PLACE_SLOTS];
    co_evac_positions(e, vi, vm_host, vm_dest);
    const int *members = NULL;
    int nm = 0;
    if (v->group >= 0) {
        members = e->groups.vm + e->groups.start[v->group];
        nm = e->groups.start[v->group + 1] - e->groups.start[v->group];
    }
    co_place_reserve(&e->dests[v->dest].cap, v->mem_bytes, v->vcpus, -1);
    int best = -1;
    double best_free = -INFINITY;
    for (int h = 0; h < e->ndests; h++) {
        co_place_host *ph = &e->dests[h].cap;
        if (e->dests[h].down || h == v->dest ||
            !co_place_fits(ph, h, v->mem_bytes, v->vcpus, e->cpu_ratio, v->cpu_ok[h], members,
                           nm, vi, vm_host, vm_dest))
            continue;
        if (ph->mem_bytes - ph->mem_used_bytes > best_free) {
            best_free = ph->mem_bytes - ph->mem_used_bytes;
            best = h;
        }
    }
    if (best < 0) {
        co_place_reserve(&e->dests[v->dest].cap, v->mem_bytes, v->vcpus, 1);
        return -1;
    }
    v->dest = best;
    co_place_reserve(&e->dests[best].cap, v->mem_bytes, v->vcpus, 1);
    memcpy(v->to, e->dests[best].uri, sizeof v->to);
    return best;
}

static void progress_lines(const co_evac *e, struct worker **ws, int nw, int *shown)
{
    double t = co_clock_ms();
    if (*shown)
        fprintf(stderr, "\033[%dA", *shown);
    int n = 0;
    for (int i = 0; i < nw; i++)
        if (ws[i] && ws[i]->running && !ws[i]->finished) {
            const co_evac_vm *v = &e->vms[ws[i]->vm];
            fprintf(stderr, "\r\033[K%-20.20s -> %-36.36s %6.1f s (predicted %.1f s)\n", v->name,
                    v->to, (t - ws[i]->t0) / 1e3, v->pred_time_ms / 1e3);
            n++;
        }
    for (int i = n; i < *shown; i++)
        fprintf(stderr, "\r\033[K\n");
    if (*shown > n)
        fprintf(stderr, "\033[%dA", *shown - n);
    *shown = n;
}

/* --unmovable shutdown: graceful shutdown, then destroy after 30 s. */
static void shut_down(const co_evac_opts *o, co_evac_vm *v, int tmo)
{
    co_diag d;
    co_diag_init(&d);
    virConnectPtr c;
    if (open_conn(o->src_uri, tmo, &c, &d) != CO_OK) {
        snprintf(v->reason, sizeof v->reason, "not shut down: %.400s", d.msg);
        return;
    }
    virDomainPtr dom = virDomainLookupByName(c, v->name);
    if (dom && virDomainShutdown(dom) == 0) {
        for (int i = 0; i < 300 && virDomainIsActive(dom) == 1; i++)
            usleep(100000);
    }
    if (dom && virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
        snprintf(v->reason, sizeof v->reason, "not shut down: %s", vir_msg());
    } else if (dom) {
        snprintf(v->status, sizeof v->status, "shut-down");
        char why[sizeof v->blocker];
        memcpy(why, v->blocker, sizeof why);
        snprintf(v->reason, sizeof v->reason, "%s; shut down (--unmovable shutdown)", why);
    }
    if (dom)
        virDomainFree(dom);
    virConnectClose(c);
}

/* The run loop's own timeline (opts.log_dir: DIR/evacuate.jsonl): each
 * start with what let it start, each end, each change of k, so a drain's
 * concurrency can be read afterwards. j is taken. */
static void runlog(FILE *f, double t0, const char *ev, json_t *j)
{
    if (!f || !j) {
        json_decref(j);
        return;
    }
    json_object_set_new(j, "t_ms", json_real(co_clock_ms() - t0));
    json_object_set_new(j, "event", json_string(ev));
    co_diag d; /* a failed write costs the log line, not the drain */
    co_diag_init(&d);
    co_timeline_write(f, j, "evacuate.jsonl", &d);
}

/* The run log's "wait": why the next VM in the queue does not start now
 * (k: the ones in flight not judged about to end, named, marked "(set-up)"
 * still in theirs, "(held)" by the hold, "(own stream)" started needing a
 * stream of its own, "(not believed)" judged about to end too long ago:
 * closing, setup_closing; alone: one in flight needs the link to itself;
 * switchover: a guest is stopped; for the queue's head, when no VM in the
 * queue may go: "queue: needs its own stream" beside one that has it,
 * "queue: goes alone", "queue: held back" (co_evac_held), admission: it
 * would push one in flight over the budget), written when the reason
 * changes. A drain whose
 * set-ups ahead stopped, each next VM waiting for the last to end, showed
 * nothing of why (bench-evacuate, 16 of 68 one-at-a-time drains). */
static void log_wait(FILE *rl, double t0, char *last, size_t size, const char *why, int inflight,
                     int closing, int in_setup, double setup_ms, json_t *ahead)
{
    if (!strcmp(last, why)) {
        json_decref(ahead);
        return;
    }
    snprintf(last, size, "%s", why);
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:f}", "why", why, "in_flight", inflight,
                          "closing", closing, "in_setup", in_setup, "setup_ms", setup_ms);
    if (j && ahead)
        json_object_set_new(j, "ahead_ms", ahead);
    else
        json_decref(ahead);
    runlog(rl, t0, "wait", j);
}

/* A worker for VM vi, with copies of all it reads. */
static struct worker *new_worker(co_evac *e, const co_evac_opts *o, int vi, struct hub *h,
                                 int tmo)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    co_evac_vm *v = &e->vms[vi];
    const co_evac_dest *ds = &e->dests[v->dest];
    w->hub = h;
    w->vm = vi;
    w->t0 = w->progress_ms = co_clock_ms();
    w->last_bytes = -1;
    w->last_status = -1;
    w->tick_bytes = -1;
    snprintf(w->name, sizeof w->name, "%s", v->name);
    snprintf(w->src_uri, sizeof w->src_uri, "%s", o->src_uri);
    snprintf(w->dest_uri, sizeof w->dest_uri, "%s", ds->uri);
    snprintf(w->mig_uri, sizeof w->mig_uri, "%s", ds->migration_uri);
    w->copy_storage = v->has_local_disk && (o->allow & CO_EVAC_ALLOW_COPY_STORAGE);
    w->eject = v->has_cdrom_media && (o->allow & CO_EVAC_ALLOW_EJECT);
    w->tmo = tmo;
    w->allow = o->allow;
    w->max_downtime_ms = e->max_downtime_ms;
    w->deadline_ms = e->deadline_ms;
    w->nic_bytes_per_s = e->nic_bytes_per_s;
    w->mtu = e->mtu;
    w->policy = o->policy;
    w->policy_mem_bytes = fmax(v->mem_bytes, o->policy_min_mem_bytes);
    /* cutover's own policy only: the fixed schedules keep their systems'
     * ramp */
    w->throttle_start_pct = o->policy == CO_POL_ADAPTIVE ? co_pol_ramp_start(v->last_throttle_pct)
                                                         : 0;
    if (o->log_dir && *o->log_dir)
        snprintf(w->log_path, sizeof w->log_path, "%.400s/%.200s.jsonl", o->log_dir, v->name);
    w->time_ms = w->downtime_ms = w->sent_bytes = NAN;
    w->want_bw = w->orig_bw = NAN;
    return w;
}

/* The watchdog, called with h->mu held every tick: a worker past its time
 * limit is first asked to stop (and its job aborted out of band), then,
 * 2 x tmo later, given up. Returns 1 when w was abandoned (ws slot to clear;
 * v filled, the VM's place reported). */
static int watchdog(co_evac *e, struct worker *w, struct hub *h, int call_ms, int tmo)
{
    double now = co_clock_ms();
    if (!w->kicked_ms) {
        const char *why = NULL;
        double dt = 0;
        if (w->busy_what && now - w->busy_since_ms > call_ms)
            why = w->busy_what, dt = now - w->busy_since_ms;
        else if (now - w->progress_ms > call_ms)
            why = "no progress of the migration", dt = now - w->progress_ms;
        else if (w->deadline_ms > 0 && now - w->t0 > w->deadline_ms + 2.0 * call_ms)
            why = "past the deadline", dt = now - w->t0;
        if (!why)
            return 0;
        w->kicked_ms = now;
        snprintf(w->kick_why, sizeof w->kick_why, "time limit: %s for %.0f s "
                 "(--call-timeout %.0f s)", why, dt / 1e3, call_ms / 1e3);
        w->stop = 1; /* the controller cancels if it gets the chance */
        struct rescue *r = calloc(1, sizeof *r);
        if (r) {
            snprintf(r->src, sizeof r->src, "%s", w->src_uri);
            snprintf(r->name, sizeof r->name, "%s", w->name);
            r->tmo = tmo;
            r->abort_only = 1;
            pthread_mutex_unlock(&h->mu);
            if (co_deadline_run(rescue_fn, r, free, 2 * tmo) != 0)
                free(r); /* 0: the thread owns it */
            pthread_mutex_lock(&h->mu);
        }
        return 0;
    }
    if (w->finished || now - w->kicked_ms < 2.0 * tmo)
        return 0;
    /* still stuck: give it up; it frees itself if its call ever returns */
    w->abandoned = 1;
    w->running = 0;
    pthread_detach(w->t);
    co_evac_vm *v = &e->vms[w->vm];
    char why[sizeof w->kick_why];
    memcpy(why, w->kick_why, sizeof why);
    const char *what = w->busy_what; /* a static string */
    struct rescue *r = calloc(1, sizeof *r);
    if (r) { /* copied while w is still ours: once unlocked it may free itself */
        snprintf(r->src, sizeof r->src, "%s", w->src_uri);
        snprintf(r->dst, sizeof r->dst, "%s", w->dest_uri);
        snprintf(r->name, sizeof r->name, "%s", w->name);
        r->tmo = tmo;
    }
    pthread_mutex_unlock(&h->mu);
    char where[260] = "where it runs: unknown (out of memory)";
    if (r) {
        int ok = co_deadline_run(rescue_fn, r, free, 4 * tmo);
        if (ok == 1)
            snprintf(where, sizeof where, "%s", r->where);
        else
            snprintf(where, sizeof where, "where it runs: the daemons did not answer in %d s",
                     4 * tmo / 1000);
        if (ok != 0)
            free(r);
    }
    pthread_mutex_lock(&h->mu);
    snprintf(v->status, sizeof v->status, "failed");
    snprintf(v->reason, sizeof v->reason, "%.150s; gave up on it%s%.60s; %.260s", why,
             what ? " while " : "", what ? what : "", where);
    return 1;
}

/* The early start (auto concurrency): a migration expected to end its
 * transfer within the learnt set-up time frees its slot for the next VM,
 * whose set-up (libvirt's prepare, the destination QEMU's start) sends
 * nothing and so overlaps the end of the transfer instead of following it.
 * Expected end: what is left over what the stream gains on the guest's
 * writes (QEMU's own switch comes earlier, at pending < bandwidth x
 * downtime-limit: the estimate errs late). A migration still sending
 * CLOSING_GRACE set-ups after it was first judged closing is not believed
 * again: a guest writing close to its share of the link shows a small
 * remainder at every pass and never ends (bench-evacuate `hot`: the hot VM
 * ran 39 s with the next VMs started beside it one after another, their
 * bulk passes taking the link it needed). Under h->mu. */
#define CLOSING_GRACE 2.0
/* `others`: how many other migrations in flight will still send over the
 * next set-up (those in their set-up count: they will send); -1 = judge on
 * its own send rate alone. The send rate counted is at most its share
 * beside the others: its own rate alone overstated what it would get once
 * the VMs started early began to send (at k = 2 three in flight were all
 * judged closing, two more started, and the three ended 7-10 s later:
 * bench-evacuate `link`, docs/evacuate.md "What the run loop's log
 * showed"). note: set w->closing_since_ms when it says so. A migration
 * still in its set-up is never closing: tried (2026-12-03, its end at the
 * set-up left plus its transfer by the model), it hid more set-ups on
 * `link` but started several set-ups at once, and their destination QEMUs'
 * starts beside other VMs' switchovers pushed idle guests to 340-690 ms of
 * downtime on this 2-core machine (docs/evacuate.md, "Set-ups in
 * parallel"). What is left counts the pages dirtied since QEMU's last sync
 * (co_evac_closing_ms): QEMU's own remaining fell to ~0 at the end of each
 * of the hot VM's passes, and the next VM started beside it (bench-evacuate
 * `hot`, 2026-12-04: 2 of 4 drains took 67 s instead of 36). */
static int setup_closing(const co_evac *e, const struct worker *w, int others);
/* Judged closing more than CLOSING_GRACE set-ups ago and still sending. */
static int not_believed(const co_evac *e, const struct worker *w, double now)
{
    return w->closing_since_ms > 0 && now - w->closing_since_ms > CLOSING_GRACE * e->setup_ms;
}
static int closing(const co_evac *e, struct worker *w, int others, int note, int ahead)
{
    if (!(e->setup_ms > 0) || !w->running || w->finished)
        return 0;
    if (!(w->first_send_ms > 0))
        return ahead && setup_closing(e, w, others);
    if (w->last_status == CO_DRV_MIG_PRE_SWITCHOVER || w->last_status == CO_DRV_MIG_DEVICE)
        return 1;
    if (w->last_status != CO_DRV_MIG_ACTIVE)
        return 0;
    double now = co_clock_ms();
    if (not_believed(e, w, now))
        return 0;
    /* its stream's rate, measured over 200 ms; before that, what the plan
     * gives a stream beside the others: in `stream` a VM sends its 64 MiB
     * in 0.2 - 0.3 s after a 1 s set-up, so the run loop (250 ms ticks)
     * never saw one closing, and no set-up started early there (the planner
     * assumed they would) */
    double share = co_evac_share_bytes_per_s(e, (others > 0 ? others : 0) + 1);
    double rate = w->rate_bps > 0 ? w->rate_bps : share;
    if (others >= 0)
        rate = fmin(rate, share);
    if (w->nwin == 0) {
        /* its first pass: QEMU shows no dirty rate before its first
         * sync, so what is left over the send rate says every VM ends
         * within a pass; the model's time at its share, less what it has
         * sent for, says when (the hot VM of bench-evacuate `hot`, judged
         * closing 0.4 s into a 20 s migration, had the next start beside
         * it) */
        double T = co_evac_transfer_ms(e, w->vm, (others > 0 ? others : 0) + 1);
        /* sending since before its first sample: libvirt answered the
         * first job statistics after a set-up 1.4 s after the start, when
         * a `link` VM had sent 53 MB of its 66 (bench-evacuate, 2026-12-05),
         * and the next set-up waited until its switchover */
        double sent_for =
            now - w->first_send_ms + (w->first_send_bytes > 0 ? w->first_send_bytes : 0) / rate;
        if (!(T > 0) || T - sent_for > e->setup_ms)
            return 0;
    }
    if (!(w->remaining_bytes >= 0))
        return 0;
    double since = w->sync_seen_ms > 0 ? now - w->sync_seen_ms : 0;
    if (!(co_evac_closing_ms(w->remaining_bytes, rate, w->dirty_bps, since,
                             w->policy_mem_bytes) <= e->setup_ms))
        return 0;
    if (note && !(w->closing_since_ms > 0))
        w->closing_since_ms = now;
    return 1;
}

/* Set-ups ahead (auto concurrency at one at a time, with the hold): a
 * migration still in its set-up whose
 * transfer, by the model at its share, is shorter than a set-up closes once
 * it has been in its set-up for as long as that transfer: the next VM's
 * set-up then ends about when this one's transfer does, and the link
 * carries one stream after another with no set-up between. In `stream`
 * (2 Gbit/s, one stream carries ~1990 Mbit/s here) a 64 MiB guest sends in
 * 0.27 s after a 0.6 s set-up; the run loop never saw one sending, so no
 * set-up started early and one at a time took 4.7 s, Nova's time
 * (docs/evacuate.md, "The hold"). The caller allows it only while
 * fewer than e->setups_ahead are in their set-up or held (`ahead`),
 * and starts none while a guest is stopped for its switchover: set-ups
 * started beside other VMs' switchovers pushed idle guests to 340 - 690 ms
 * of downtime on this 2-core machine ("Set-ups in parallel"). One that has
 * not sent after CLOSING_GRACE set-ups beyond its own is not believed. */
static int setup_closing(const co_evac *e, const struct worker *w, int others)
{
    if (w->last_status != CO_DRV_MIG_NONE && w->last_status != CO_DRV_MIG_SETUP &&
        w->last_status != CO_DRV_MIG_ACTIVE)
        return 0;
    double in_setup = co_clock_ms() - w->t0;
    if (in_setup > (1 + CLOSING_GRACE) * e->setup_ms)
        return 0;
    double T = co_evac_ahead_ms(e, w->vm, (others > 0 ? others : 0) + 1);
    return T > 0 && T < e->setup_ms && in_setup >= T;
}

/* k changed mid-drain: each VM still held waits for as many ends as the
 * new k asks (all but k - 1 of those started before it and still
 * sending). A rise from one at a time to two kept the held VMs waiting
 * for every end before them, and the next set-ups waited too (`link`,
 * 21.2 s against 17.4 - 17.6: docs/evacuate.md, "One miss is not a
 * pattern"). ws[] is in start order. Under h->mu. */
static void rehold(const co_evac *e, struct hub *h, struct worker **ws, int nw)
{
    for (int i = 0; i < nw; i++) {
        struct worker *w = ws[i];
        if (!w || !w->running || w->finished || !(w->hold_ends > 0) || w->turn_ms > 0)
            continue;
        int ahead = 0;
        for (int j = 0; j < i; j++)
            ahead += ws[j] && ws[j]->running && !ws[j]->end_counted;
        ahead -= e->k - 1;
        w->hold_ends = h->ends + (ahead > 0 ? ahead : 0);
    }
}

/* The solo probe's stream carried got bytes/s alone: the report's figure,
 * and the source's rate with one in flight unless the run loop's rate
 * tick noted it first. */
static void note_probe(co_evac *e, double got)
{
    e->probe_bytes_per_s = got;
    if (!(e->src_cap_by_n[1] > 0))
        e->src_cap_by_n[1] = fmin(got, e->nic_bytes_per_s);
}

/* Its set-up, once over, into e->setup_ms (once per worker). A worker that
 * sent has a set-up's end: setup_end_ms is taken from the same statistics
 * before the hold hides them, so it comes no later than first_send_ms. */
static void note_setup_once(co_evac *e, struct worker *w)
{
    if (w->setup_noted || !(w->setup_end_ms > w->t0))
        return;
    w->setup_noted = 1;
    co_evac_note_setup(e, w->setup_end_ms - w->t0);
}

/* A worker whose migration is in its set-up (or held: no byte seen yet). */
static int in_setup(const struct worker *w)
{
    return w && w->running && !w->finished && !(w->first_send_ms > 0);
}

/* A worker whose migration sends now (as learn_tick counts them). */
static int sending(const struct worker *w)
{
    return w && w->running && !w->finished &&
           (w->last_status == CO_DRV_MIG_ACTIVE || w->last_status == CO_DRV_MIG_PRE_SWITCHOVER);
}

/* What the run learns as it goes, with h->mu held, at every tick of the
 * run loop: the source's sending rate with n migrations in flight (sum of
 * the bytes the in-flight workers sent since the last tick), and the
 * guests' real dirty rates from the windows the workers closed (in flight
 * or just finished: docs/evacuate.md, "Learning the real dirty rates").
 * When what is learnt changes a VM's curve, the VMs not yet started
 * (rest[0..nrest)) are re-planned. Each sending worker is also told what
 * the others leave of the NIC for its stop-and-copy (h->link_flows,
 * w->link_avail: engine/controller.h).
 * Returns 1 when a VM in flight showed a new window of QEMU's dirty rate. */
static int learn_tick(co_evac *e, struct hub *h, struct worker **ws, int nw, double *last_tick,
                      const int *rest, int nrest, const co_evac_opts *o)
{
    double now = co_clock_ms(), sum = 0, total = 0;
    int active = 0, fresh = 0, bytes_out = 0, moving = 0, raised = 0;
    for (int i = 0; i < nw; i++) {
        struct worker *w = ws[i];
        if (!w || !w->running)
            continue;
        if (sending(w)) {
            active++;
            bytes_out += w->first_send_ms > 0;
            total += fmax(w->rate_bps, 0);
        }
        w->moved_tick = 0;
        raised |= co_evac_note_peak(e, w->peak_bps);
        if (w->last_status == CO_DRV_MIG_ACTIVE || w->last_status == CO_DRV_MIG_PRE_SWITCHOVER) {
            if (w->tick_bytes >= 0 && w->last_bytes >= w->tick_bytes)
                sum += w->last_bytes - w->tick_bytes;
            w->moved_tick = w->tick_bytes >= 0 && w->last_bytes > w->tick_bytes;
            moving += w->moved_tick;
        }
        w->tick_bytes = w->last_bytes;
        if (w->nwin != w->nwin_seen) {
            co_evac_vm *v = &e->vms[w->vm];
            memcpy(v->win, w->win, sizeof v->win);
            v->nwin = w->nwin;
            w->nwin_seen = w->nwin;
            fresh = 1;
        }
    }
    /* what each controller's stop-and-copy shares the NIC with: the line
     * less what the others send (streams bound by the source's CPU leave
     * most of a fast NIC), at least an equal share */
    atomic_store(&h->link_flows, active);
    for (int i = 0; i < nw; i++)
        if (sending(ws[i])) {
            double others = total - fmax(ws[i]->rate_bps, 0);
            double avail = fmax(e->nic_bytes_per_s / active, e->nic_bytes_per_s - others);
            atomic_store(&ws[i]->link_avail, (long long)avail);
        }
    int started = 0;
    for (int i = 0; i < nw; i++)
        started += ws[i] && ws[i]->running && !ws[i]->finished;
    /* how many sent at once over each one's sending time (the share its
     * send_ms in the calibration was had at): those that have sent a byte
     * (bytes_out), not the set-ups that libvirt already calls active
     * (counted, they halved the share: every VM of a `link` drain looked
     * 0.6 x the model's time) */
    if (*last_tick > 0)
        for (int i = 0; i < nw; i++)
            if (sending(ws[i]) && ws[i]->first_send_ms > 0) {
                ws[i]->send_tick_ms += now - *last_tick;
                ws[i]->send_m_ms += (now - *last_tick) * bytes_out;
            }
    /* keyed by the migrations whose bytes moved in the tick, not by those
     * libvirt calls active: a set-up (active, nothing sent yet) or a
     * switchover's pause beside one sender counted as two sending, and one
     * sender's own pauses as its rate, so the rate with one in flight was
     * learnt at 31 - 36 MB/s while drains run one at a time (early starts
     * aside) averaged 43 MB/s from first start to last end on the 50 MB/s
     * link (bench-evacuate `link`, docs/evacuate.md), and the plan thought
     * two at once 1.3 - 1.5 x faster than one */
    if ((active > 0 || started > 0) && *last_tick > 0)
        co_evac_note_rate(e, moving, sum, now - *last_tick);
    /* who sent beside another just now: a VM aborted soon after was
     * denied the link at its end (co_evac_retry_alone) */
    if (moving >= 2)
        for (int i = 0; i < nw; i++)
            if (ws[i] && ws[i]->running && ws[i]->moved_tick)
                ws[i]->shared_ms = now;
    *last_tick = now;
    if (!fresh && !raised)
        return 0;
    int changed = fresh ? co_evac_learn(e) : 0;
    if ((changed || raised) && nrest > 0) {
        int old_k = e->k;
        co_evac_replan(e, rest, nrest);
        if (o->progress && e->k != old_k && changed)
            fprintf(stderr, "cutover evacuate: the guests dirty at %.2f x their curves "
                    "(median of %d seen): %d at once from now on\n", e->common_factor,
                    e->learn_obs, e->k);
        else if (o->progress && e->k != old_k)
            fprintf(stderr, "cutover evacuate: a stream carried %.0f Mbit/s (QEMU's window): "
                    "%d at once from now on\n", e->peak_bytes_per_s * 8 / 1e6, e->k);
    }
    return fresh;
}

/* The pull-back (auto concurrency), after a new dirty-rate window: the
 * migrations sending now, by the curves learnt, push one of them over the
 * budget by sharing, and cancelling one (co_evac_backoff) would not: it
 * is cancelled (its guest keeps running on the source) and goes again
 * first, and auto concurrency stays below the count it had. At most one
 * every 3 s, and once per VM. Under h->mu. */
static void pull_back(co_evac *e, struct worker **ws, int nw, double *last_pull,
                      const int *rest, int nrest, const co_evac_opts *o)
{
    if (co_clock_ms() - *last_pull < 3000)
        return;
    int fl[CO_EVAC_MAX_VMS], nfl = 0;
    struct worker *who[CO_EVAC_MAX_VMS];
    for (int i = 0; i < nw; i++) {
        struct worker *w = ws[i];
        if (w && w->running && !w->finished && !w->pull && w->first_send_ms > 0 &&
            !closing(e, w, -1, 1, 0) && nfl < CO_EVAC_MAX_VMS) {
            who[nfl] = w;
            fl[nfl++] = w->vm;
        }
    }
    int c = co_evac_backoff(e, fl, nfl);
    if (c < 0 || e->vms[fl[c]].pulled_back > 0)
        return;
    struct worker *w = who[c];
    w->pull = 1;
    w->stop = 1;
    /* it goes again once those it could not converge beside have ended,
     * whatever the model says then: the run loop's early start (one of
     * them judged about to end) restarted it at once beside the same VM,
     * to be pulled back again or abort (bench-forecast valfail) */
    co_evac_hold(e, fl, nfl, c);
    *last_pull = co_clock_ms();
    e->pulled_back++;
    if (e->k_cap == 0 || e->k_cap > nfl - 1) {
        e->k_cap = nfl - 1;
        snprintf(e->k_cap_why, sizeof e->k_cap_why, "%d at once could not all converge at "
                 "their share (dirty rates learnt in flight); %s pulled back", nfl,
                 e->vms[fl[c]].name);
    }
    if (nrest > 0)
        co_evac_replan(e, rest, nrest);
    if (o->progress)
        fprintf(stderr, "cutover evacuate: %s pulled back: with %d at once %d could not "
                "converge at their share; at most %d at once from now on\n",
                e->vms[fl[c]].name, nfl, co_evac_inflight_misses(e, fl, nfl), e->k_cap);
}

int co_evac_run(co_evac *e, const co_evac_opts *o, co_evac_result *r, co_diag *d)
{
    int tmo = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    int call_ms = o->call_timeout_ms > 0 ? o->call_timeout_ms : CO_EVAC_CALL_TIMEOUT_MS;
    struct hub *h = calloc(1, sizeof *h);
    static const int max_workers = 2 * CO_EVAC_MAX_VMS;
    struct worker **ws = calloc((size_t)max_workers, sizeof *ws);
    if (!ws || !h) {
        free(ws);
        free(h);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->refs = 1;
    int queue[2 * CO_EVAC_MAX_VMS], qh = 0, qt = 0;
    for (int ord = 0; ord < e->nvms; ord++)
        for (int i = 0; i < e->nvms; i++)
            if (e->vms[i].order == ord && e->vms[i].dest >= 0)
                queue[qt++] = i;
    int nw = 0, inflight = 0, shown = 0;
    int auto_k = e->concurrency <= 0;
    int early = auto_k && !e->no_early_start;
    /* the solo probe (auto concurrency): what one stream carries alone is
     * what decides between one at a time and more (a stream that fills
     * the link alone only gains re-sent pages from company), and streams
     * that share a link never show it. Unknown (no calibration has it), the
     * first VM goes alone; its end says it, and the rest is re-planned
     * (co_evac_plan times the same rule) */
    int probe = co_evac_probes(e, qt - qh), probe_vm = -1;
    e->probe_bytes_per_s = 0;
    e->peak_bytes_per_s = 0;
    e->early_starts = 0;
    e->held_starts = 0;
    e->early_misses = 0;
    e->most_k = 0;
    e->nxfer = 0;
    e->split = (co_evac_split){.first_byte_ms = NAN};
    e->early_missed[0] = e->early_stop_why[0] = '\0';
    e->pulled_back = 0;
    double last_pull = 0;
    double t0 = co_clock_ms(), last_progress = 0, last_tick = 0;
    FILE *rl = NULL;
    if (o->log_dir && *o->log_dir) {
        char rp[600];
        snprintf(rp, sizeof rp, "%.500s/evacuate.jsonl", o->log_dir);
        rl = fopen(rp, "a");
    }
    int logged_k = -1;
    char waited[160] = ""; /* the last "wait" logged: why the next VM did not start */
    runlog(rl, t0, "plan", json_pack("{s:i, s:s, s:b, s:b, s:f, s:i}", "k", e->k, "order",
                                     e->order_name, "auto", auto_k, "probe", probe,
                                     "setup_ms", e->setup_ms, "setups_ahead", e->setups_ahead));
    pthread_mutex_lock(&h->mu);
    for (;;) {
        int stop = o->stop_flag && *o->stop_flag;
        while (!stop && qh < qt && nw < max_workers) {
            /* the plan's rules (evacuate/plan.c): at most k at once, a
             * migration about to end not counted (the early start, auto
             * concurrency only); while a VM that needs a stream of its own
             * migrates, the next such waits and the first one that does
             * not goes instead */
            /* admission (auto concurrency): a VM whose start would leave one
             * in flight (fl: those not about to end) unable to converge at
             * its share, by the curves learnt so far, waits and the next
             * one goes instead */
            int pick = qh, own_in = 0, ncl = 0, fl[CO_EVAC_MAX_VMS + 1], nfl = 0, m_now = 0;
            /* those in flight that will still send over the next set-up:
             * all but the ones sending that end first by their own rate (a
             * set-up counts: it will send); each is then judged at its
             * share beside the others of them */
            int alone_in = 0, stay = 0, nsetup = 0;
            char ends[2 * CO_EVAC_MAX_VMS] = {0}, cl[2 * CO_EVAC_MAX_VMS] = {0};
            for (int i = 0; i < nw; i++)
                nsetup += in_setup(ws[i]);
            /* set-ups ahead (setup_closing), one at a time only, where the
             * hold keeps the transfers apart:
             * at 2 at once they put 5 in flight and the drain took 4.1 -
             * 4.8 s with switchovers over the budget (bench-evacuate
             * `stream`, 2026-12-05) */
            /* the hold, one at a time only (see ahead_of_it): at any k
             * (tried 2026-12-06) the plan took 4 at once on `link`, six
             * set-ups and four transfers ran together and the drain took
             * 41 s (docs/evacuate.md, "One miss is not a pattern") */
            int hold_on = early && e->k == 1 && !probe;
            int ahead = hold_on && nsetup < e->setups_ahead;
            for (int i = 0; i < nw; i++) {
                if (!auto_k || !ws[i] || !ws[i]->running || ws[i]->finished)
                    continue;
                ends[i] = closing(e, ws[i], -1, 0, ahead);
                stay += !ends[i];
            }
            for (int i = 0; i < nw; i++) {
                if (!ws[i] || !ws[i]->running || ws[i]->finished)
                    continue;
                alone_in |= e->vms[ws[i]->vm].alone;
                int about_to_end = auto_k && closing(e, ws[i], stay - !ends[i], 1, ahead);
                /* never beside the end of a VM that started needing a
                 * stream of its own: the next VM's set-up ends and it sends
                 * over those last passes (bench-evacuate `hot`: the hot VM,
                 * at its throttle ramp's cap, aborted 0 - 1.6 s after the
                 * next VM began to send, in 3 of 8 drains); unless the
                 * hold keeps the next transfer off the link until it ends.
                 * Never beside one QEMU throttled, now or in its last
                 * drain (CO_EVAC_THROTTLED_PCT); plan.c, predict_sched,
                 * alike */
                int thr = ws[i]->throttle_max_pct > CO_EVAC_THROTTLED_PCT ||
                          co_evac_throttled_last(&e->vms[ws[i]->vm]);
                int c = early && about_to_end && !thr &&
                        (!e->vms[ws[i]->vm].started_solo || hold_on);
                ncl += c;
                cl[i] = (char)c;
                own_in |= !c && e->vms[ws[i]->vm].solo;
                if (auto_k && !about_to_end && nfl < CO_EVAC_MAX_VMS)
                    fl[nfl++] = ws[i]->vm;
            }
            if (inflight - ncl >= (probe ? 1 : e->k) || alone_in) {
                /* which in flight were not judged about to end */
                char why[160];
                int l = snprintf(why, sizeof why, "%s:", alone_in ? "alone" : "k");
                double now = co_clock_ms();
                for (int i = 0; i < nw && l > 0 && (size_t)l < sizeof why; i++)
                    if (ws[i] && ws[i]->running && !ws[i]->finished && !cl[i]) {
                        const struct worker *x = ws[i];
                        l += snprintf(why + l, sizeof why - (size_t)l, " %s%s%s%s%s",
                                      e->vms[x->vm].name, in_setup(x) ? "(set-up)" : "",
                                      x->held ? "(held)" : "",
                                      e->vms[x->vm].started_solo ? "(own stream)" : "",
                                      not_believed(e, x, now) ? "(not believed)" : "");
                    }
                /* those in their set-up: the transfer set-ups ahead time them by,
                 * alone (setup_closing's at its share may be longer); the model
                 * runs only for a line that will be written */
                json_t *ahead_ms = NULL;
                if (rl && strcmp(waited, why) != 0) {
                    ahead_ms = json_object();
                    for (int i = 0; i < nw; i++)
                        if (ws[i] && !cl[i] && in_setup(ws[i]))
                            json_object_set_new(ahead_ms, e->vms[ws[i]->vm].name,
                                                json_real(co_evac_ahead_ms(e, ws[i]->vm, 1)));
                }
                log_wait(rl, t0, waited, sizeof waited, why, inflight, ncl, nsetup, e->setup_ms,
                         ahead_ms);
                break;
            }
            /* no set-up starts beside a switchover (auto concurrency): a
             * destination QEMU's start beside one pushed it over the budget
             * 10 % of the time here, against 6 % apart ("The hold") */
            int in_switch = 0;
            for (int i = 0; auto_k && i < nw; i++)
                in_switch |= ws[i] && ws[i]->running && !ws[i]->finished &&
                             ws[i]->stopped_ms > 0 &&
                             co_clock_ms() - ws[i]->stopped_ms < e->max_downtime_ms;
            if (in_switch) {
                log_wait(rl, t0, waited, sizeof waited, "switchover", inflight, ncl, nsetup,
                         e->setup_ms, NULL);
                break;
            }
            if (auto_k)
                m_now = co_evac_inflight_misses(e, fl, nfl);
            const char *skip = NULL; /* why the queue's head waits (the run log) */
            for (; pick < qt; pick++) {
                const char *why = NULL;
                if (own_in && e->vms[queue[pick]].solo)
                    why = "queue: needs its own stream";
                else if (e->vms[queue[pick]].alone && inflight > 0)
                    why = "queue: goes alone";
                else if (co_evac_held(e, queue[pick]))
                    why = "queue: held back";
                else if (auto_k && nfl > 0) {
                    fl[nfl] = queue[pick];
                    if (co_evac_inflight_misses(e, fl, nfl + 1) > m_now)
                        why = "admission";
                }
                if (!why)
                    break;
                if (!skip)
                    skip = why;
            }
            if (pick >= qt) {
                log_wait(rl, t0, waited, sizeof waited, skip ? skip : "queue", inflight, ncl,
                         nsetup, e->setup_ms, NULL);
                break;
            }
            waited[0] = '\0';
            int vi = queue[pick];
            memmove(queue + qh + 1, queue + qh, sizeof queue[0] * (size_t)(pick - qh));
            queue[qh++] = vi;
            co_evac_vm *v = &e->vms[vi];
            v->attempts++;
            memcpy(v->to, e->dests[v->dest].uri, sizeof v->to);
            /* before the thread exists, so a journal holds the start of
             * every migration that may have begun */
            if (o->on_mig)
                o->on_mig(o->on_mig_arg, e, vi, 0);
            struct worker *w = new_worker(e, o, vi, h, tmo);
            if (!w || pthread_create(&w->t, NULL, worker_main, w) != 0) {
                free(w);
                snprintf(v->status, sizeof v->status, "failed");
                snprintf(v->reason, sizeof v->reason, "cannot start a thread");
                if (o->on_mig)
                    o->on_mig(o->on_mig_arg, e, vi, 1);
                continue;
            }
            snprintf(v->status, sizeof v->status, "migrating");
            v->started_solo = v->solo; /* a re-plan adds none beside it (plan.c) */
            /* one at a time with the early start: its transfer waits for
             * the ends of those in flight (the hold); the planner times
             * the same (plan.c, held) */
            int ahead_of_it = 0;
            for (int i = 0; hold_on && i < nw; i++)
                ahead_of_it += ws[i] && ws[i]->running && !ws[i]->end_counted;
            if (ahead_of_it > 0) {
                w->hold_ends = h->ends + ahead_of_it;
                e->held_starts++;
            }
            if (probe && probe_vm < 0)
                probe_vm = vi;
            w->k_start = e->k;
            if ((probe ? 1 : e->k) > e->most_k)
                e->most_k = probe ? 1 : e->k;
            if (rl) {
                json_t *ev = json_pack("{s:s, s:i, s:i, s:i, s:b, s:b, s:i, s:i}", "vm", v->name,
                                       "k", probe ? 1 : e->k, "in_flight", inflight, "closing",
                                       ncl, "early", inflight >= (probe ? 1 : e->k), "alone",
                                       v->alone, "attempt", v->attempts, "held_until_ends",
                                       ahead_of_it);
                /* why it needs a stream of its own: no other sends beside
                 * it, and but under the hold no set-up starts beside its end */
                char own[200] = "";
                if (v->solo && !co_evac_own_stream_why(e, v, own, sizeof own))
                    snprintf(own, sizeof own, "planned so (no longer by the present figures)");
                if (ev && v->solo)
                    json_object_set_new(ev, "own_stream", json_string(own));
                runlog(rl, t0, "start", ev);
            }
            if (inflight >= (probe ? 1 : e->k)) {
                e->early_starts++;
                if (o->progress)
                    fprintf(stderr, "cutover evacuate: %s starts its set-up (%.1f s learnt) while "
                            "%d migration(s) end their transfer\n", v->name, e->setup_ms / 1e3,
                            ncl);
            }
            h->refs++;
            ws[nw++] = w;
            w->running = 1;
            inflight++;
            if (inflight > e->most_inflight)
                e->most_inflight = inflight;
            for (int i = 0; i < nw; i++)
                if (ws[i] && ws[i]->running && !ws[i]->finished && ws[i]->peers < inflight)
                    ws[i]->peers = inflight;
        }
        if (e->k != logged_k) {
            if (logged_k >= 0) {
                runlog(rl, t0, "k", json_pack("{s:i, s:i}", "from", logged_k, "to", e->k));
                rehold(e, h, ws, nw);
            }
            logged_k = e->k;
        }
        if (inflight == 0 && (stop || qh >= qt))
            break;
        /* a set-up that may close ahead (setup_closing) is looked at more
         * often: a transfer there is as short as 2 ticks */
        int wait_ms = 250;
        for (int i = 0; early && i < nw; i++)
            if (in_setup(ws[i]))
                wait_ms = 100;
        struct timespec dl;
        co_clock_deadline_ts(&dl, wait_ms);
        pthread_cond_timedwait(&h->cv, &h->mu, &dl);
        release_holds(e, h, ws, nw);
        if (learn_tick(e, h, ws, nw, &last_tick, queue + qh, qt - qh, o) && auto_k)
            pull_back(e, ws, nw, &last_pull, queue + qh, qt - qh, o);
        /* each migration's set-up, from its start to its first byte (libvirt's
         * prepare, the destination QEMU's start, QEMU's own set-up: 1-7 s per VM
         * here under TCG), learnt as soon as it is over: the early start and
         * the planner use it */
        for (int i = 0; i < nw; i++)
            if (ws[i])
                note_setup_once(e, ws[i]);
        /* the solo probe's stream, once watched alone for CO_EVAC_PROBE_MS:
         * its bytes between two samples that far apart are the source's
         * rate with one in flight; the rest is re-planned and may start */
        for (int i = 0; probe && i < nw; i++) {
            struct worker *w = ws[i];
            if (!w || w->vm != probe_vm || !w->running || w->finished || !(w->first_send_ms > 0) ||
                w->progress_ms - w->first_send_ms < CO_EVAC_PROBE_MS ||
                !(w->last_bytes > w->first_send_bytes))
                continue;
            double got = (w->last_bytes - w->first_send_bytes) /
                         ((w->progress_ms - w->first_send_ms) / 1e3);
            probe = 0;
            note_probe(e, got);
            co_evac_note_stream(e, got, e->nic_bytes_per_s);
            if (qh < qt) {
                co_evac_replan(e, queue + qh, qt - qh);
                if (o->progress)
                    fprintf(stderr, "cutover evacuate: a stream carries %.0f Mbit/s alone "
                            "(%.1f s watched): %d at once from now on\n", got * 8 / 1e6,
                            (w->progress_ms - w->first_send_ms) / 1e3, e->k);
            }
        }
        for (int i = 0; i < nw; i++) {
            struct worker *w = ws[i];
            if (!w || !w->running)
                continue;
            /* signals reach the workers through their own flags */
            if (o->stop_flag && *o->stop_flag > w->stop) {
                w->stop = *o->stop_flag;
                w->stop_signo = o->stop_signo ? *o->stop_signo : 0;
            }
            if (!w->finished) {
                /* given up: not retried elsewhere, its job may still hold the VM */
                if (watchdog(e, w, h, call_ms, tmo)) {
                    count_end(w); /* those held behind it go on */
                    if (o->on_mig)
                        o->on_mig(o->on_mig_arg, e, w->vm, 1);
                    ws[i] = NULL; /* the thread owns it now */
                    inflight--;
                }
                continue;
            }
            pthread_mutex_unlock(&h->mu);
            pthread_join(w->t, NULL);
            pthread_mutex_lock(&h->mu);
            w->running = 0;
            inflight--;
            co_evac_vm *v = &e->vms[w->vm];
            /* its transfer, for where the time went (co_evac_time_split) */
            if (w->first_send_ms > w->t0 && w->end_ms >= w->first_send_ms) {
                if (e->nxfer < CO_EVAC_MAX_XFERS) {
                    e->xfer[e->nxfer][0] = w->first_send_ms - t0;
                    e->xfer[e->nxfer][1] = w->end_ms - t0;
                }
                e->nxfer++;
            }
            if (w->pull && !strcmp(w->status, "cancelled") && !(o->stop_flag && *o->stop_flag)) {
                /* pulled back: it runs on the source, and goes again first */
                snprintf(v->status, sizeof v->status, "cancelled");
                v->time_ms = w->time_ms;
                v->downtime_ms = NAN;
                v->sent_bytes = w->sent_bytes;
                snprintf(v->reason, sizeof v->reason, "pulled back after %.1f s to let the "
                         "others converge (goes again)", (w->end_ms - w->t0) / 1e3);
                if (o->on_mig)
                    o->on_mig(o->on_mig_arg, e, w->vm, 1);
                runlog(rl, t0, "pulled-back", json_pack("{s:s}", "vm", v->name));
                snprintf(v->status, sizeof v->status, "planned");
                v->attempts--;
                v->pulled_back++;
                queue[--qh] = w->vm;
                free(w);
                ws[i] = NULL;
                h->refs--;
                continue;
            }
            snprintf(v->status, sizeof v->status, "%s", w->status);
            runlog(rl, t0, "end", json_pack("{s:s, s:s, s:i, s:f}", "vm", v->name, "status",
                                            w->status, "in_flight", inflight, "held_ms",
                                            w->held_ms));
            v->downtime_ms = w->downtime_ms;
            v->time_ms = w->time_ms;
            v->sent_bytes = w->sent_bytes;
            v->started_ms = w->t0 - t0;
            v->first_byte_ms = w->first_send_ms > w->t0 ? w->first_send_ms - t0 : NAN;
            v->setup_ms = w->setup_end_ms > w->t0 ? w->setup_end_ms - w->t0 : NAN;
            /* off the link after its set-up: the hold's own wait */
            v->held_ms = w->released_ms > 0 && w->setup_end_ms > 0
                             ? fmax(0, w->released_ms - w->setup_end_ms) : 0;
            if (w->kicked_ms) {
                /* the watchdog stopped it: a failure, not the operator's cancel */
                if (strcmp(v->status, "completed"))
                    snprintf(v->status, sizeof v->status, "failed");
                snprintf(v->reason, sizeof v->reason, "%.200s; %.300s", w->kick_why,
                         w->reason[0] ? w->reason : "stopped");
            } else {
                snprintf(v->reason, sizeof v->reason, "%s", w->reason);
            }
            if (v->pulled_back) {
                size_t l = strlen(v->reason);
                snprintf(v->reason + l, sizeof v->reason - l, "%spulled back %d time(s) to let "
                         "the others converge", l ? "; " : "", v->pulled_back);
            }
            if (v->attempts > 1 && v->history[0]) {
                char first[300];
                snprintf(first, sizeof first, "%.299s", v->history);
                size_t l = strlen(v->reason);
                snprintf(v->reason + l, sizeof v->reason - l, "%sattempt 2 (attempt 1: %s)",
                         l ? "; " : "", first);
            }
            if (o->on_mig)
                o->on_mig(o->on_mig_arg, e, w->vm, 1);
            int sent_some = w->first_send_ms > w->t0 && w->end_ms > w->first_send_ms;
            co_evac_note_peak(e, w->peak_bps);
            /* a worker that began sending and ended while another was being
             * joined (h->mu released) was not seen by the tick above */
            if (sent_some)
                note_setup_once(e, w);
            /* learn a stream's ceiling: a migration that got well under its
             * fair share of the NIC was bound by its own stream (on this
             * machine: TCG guests); the rest is re-planned with it */
            int was_probe = probe && w->vm == probe_vm, probed = 0;
            if (was_probe)
                probe = 0;
            /* how many sent at once over its sending time (a set-up beside
             * it sends nothing): its calibration, and the retry alone */
            double senders = w->send_tick_ms > 0 ? w->send_m_ms / w->send_tick_ms : 1;
            /* and whether another sent beside its last passes */
            int shared_end = w->shared_ms > 0 && w->end_ms - w->shared_ms <= CO_EVAC_SHARED_END_MS;
            int completed = !strcmp(v->status, "completed") && sent_some &&
                            w->res.transferred_bytes > 0;
            /* an aborted VM's sending time too: the next drain's plan times
             * it by it (learn.c, send_outcome) */
            if (completed || (!strcmp(v->status, "aborted") && sent_some)) {
                v->send_ms = w->end_ms - w->first_send_ms;
                v->send_inflight = senders;
                v->throttle_max_pct = w->throttle_max_pct;
            }
            if (completed) {
                /* over its sending time: the set-up is learnt apart */
                double got = w->res.transferred_bytes / ((w->end_ms - w->first_send_ms) / 1e3);
                double fair = e->nic_bytes_per_s / (w->peers > 0 ? w->peers : 1);
                if (was_probe) {
                    /* alone from its first byte to (about) its last, the
                     * next VM in its set-up meanwhile (often shorter than
                     * the 2 s the tick needs, so noted here) */
                    note_probe(e, got);
                    probed = 1;
                }
                if (co_evac_note_stream(e, got, fair) || probed) {
                    if (qh < qt) {
                        int old_k = e->k;
                        co_evac_replan(e, queue + qh, qt - qh);
                        if ((e->k != old_k || probed) && o->progress)
                            fprintf(stderr, "cutover evacuate: a stream carries %.0f Mbit/s%s: "
                                    "%d at once from now on\n", got * 8 / 1e6,
                                    probed ? " alone" : "", e->k);
                    }
                }
            }
            /* a switchover over the budget while another VM was in its
             * set-up (the destination QEMU's start competes for the CPU
             * under TCG): counted, and the second in a drain stops early
             * starts (co_evac_note_early_miss: one was within the chance
             * of any switchover here). Judged over the switchover itself,
             * not at its end: in bench-evacuate `stream` a 461 ms
             * switchover ran beside two set-ups that had ended by the time
             * its completion was seen. */
            if (early && !strcmp(v->status, "completed") &&
                v->downtime_ms > e->max_downtime_ms * CO_EVAC_DOWN_SHARE) {
                int beside = 0;
                double sw_from = w->end_ms - v->downtime_ms;
                for (int j = 0; j < nw; j++)
                    beside += ws[j] && ws[j] != w && !ws[j]->abandoned &&
                              co_evac_setup_during(ws[j]->t0, ws[j]->first_send_ms,
                                                   ws[j]->finished ? ws[j]->end_ms : 0,
                                                   sw_from, w->end_ms);
                if (beside) {
                    int stops = co_evac_note_early_miss(e, v->name, v->downtime_ms);
                    runlog(rl, t0, "early_miss",
                           json_pack("{s:s, s:f, s:i, s:i, s:b}", "vm", v->name, "downtime_ms",
                                     v->downtime_ms, "setups_beside", beside, "misses",
                                     e->early_misses, "early_starts_stop", stops));
                    if (stops) {
                        early = 0;
                        if (o->progress)
                            fprintf(stderr, "cutover evacuate: %s: no early starts from now "
                                    "on\n", e->early_stop_why);
                    } else if (o->progress) {
                        fprintf(stderr, "cutover evacuate: %s: %.0f ms of downtime while %d "
                                "set-up(s) ran beside it (%d of %d before early starts stop)\n",
                                v->name, v->downtime_ms, beside, e->early_misses,
                                CO_EVAC_EARLY_MISSES);
                    }
                }
            }
            /* a switchover over the budget's share with others in flight:
             * fewer at once from now on (the source's CPU under TCG). In
             * flight over the switchover itself, not at the worker's end:
             * at 2 at once in `stream` two switchovers of 333 and 336 ms
             * each ended after the other VM's worker, so neither counted
             * and the probe above the cap became the cap (bench-evacuate,
             * 2026-12-05) */
            int during = inflight + 1;
            if (!strcmp(v->status, "completed") && isfinite(v->downtime_ms)) {
                co_evac_note_switchover(e, w->k_start, v->downtime_ms);
                double sw_from = w->end_ms - v->downtime_ms;
                int n_sw = 1;
                for (int j = 0; j < nw; j++)
                    n_sw += ws[j] && ws[j] != w && !ws[j]->abandoned &&
                            co_evac_in_flight_during(ws[j]->t0,
                                                     ws[j]->finished ? ws[j]->end_ms : 0,
                                                     sw_from, w->end_ms);
                if (n_sw > during)
                    during = n_sw;
            }
            if (!strcmp(v->status, "completed") &&
                co_evac_note_downtime(e, v->name, during, v->downtime_ms) && qh < qt) {
                co_evac_replan(e, queue + qh, qt - qh);
                if (o->progress)
                    fprintf(stderr, "cutover evacuate: %s: at most %d at once from now on\n",
                            e->k_cap_why, e->k);
            }
            /* a VM that completed without a window of QEMU's (too quick)
             * still tells what it re-sent: learn again with its bytes */
            if (!strcmp(v->status, "completed") && qh < qt && co_evac_learn(e) > 0)
                co_evac_replan(e, queue + qh, qt - qh);
            free(w);
            ws[i] = NULL;
            h->refs--; /* the worker's reference; the run's own keeps h alive */
            if (auto_k && !(o->stop_flag && *o->stop_flag)) {
                if (co_evac_retry_alone(e, (int)(v - e->vms), senders, shared_end)) {
                    queue[qt++] = (int)(v - e->vms);
                    if (o->progress)
                        fprintf(stderr, "cutover evacuate: %s: %s\n", v->name, v->reason);
                    continue;
                }
            }
            /* re-plan: a migration that failed (not one the policy aborted
             * or the operator cancelled) is tried once more. If the source
             * daemon went away (restarted: libvirt fails the job and the
             * guest keeps running on the source), wait for it up to the
             * call time limit and retry to the same destination; else a
             * destination that no longer answers takes nothing more and
             * the VM goes elsewhere. */
            if (strcmp(v->status, "failed") == 0 && !(o->stop_flag && *o->stop_flag)) {
                pthread_mutex_unlock(&h->mu);
                double tw = co_clock_ms();
                int src_dead = !answers(o->src_uri, tmo), src_back = 0;
                while (src_dead && !src_back && co_clock_ms() - tw < call_ms &&
                       !(o->stop_flag && *o->stop_flag)) {
                    usleep(500 * 1000);
                    src_back = answers(o->src_uri, tmo);
                }
                int dest_dead = !src_dead && !answers(e->dests[v->dest].uri, tmo);
                pthread_mutex_lock(&h->mu);
                size_t l = strlen(v->reason);
                if (src_dead)
                    snprintf(v->reason + l, sizeof v->reason - l,
                             "; the source daemon did not answer after it%s",
                             src_back ? "" : " (nor within --call-timeout)");
                if (dest_dead)
                    e->dests[v->dest].down = 1;
                if (v->attempts < 2 && src_back) {
                    l = strlen(v->reason);
                    snprintf(v->reason + l, sizeof v->reason - l, "; back after %.1f s, "
                             "retrying", (co_clock_ms() - tw) / 1e3);
                    queue[qt++] = (int)(v - e->vms);
                } else if (v->attempts < 2 && !src_dead && replace_vm(e, v - e->vms) >= 0) {
                    char to[sizeof v->to];
                    memcpy(to, v->to, sizeof to);
                    l = strlen(v->reason);
                    snprintf(v->reason + l, sizeof v->reason - l, "; retrying on %s", to);
                    queue[qt++] = (int)(v - e->vms);
                }
                if (v->attempts < 2 && queue[qt - 1] == (int)(v - e->vms))
                    memcpy(v->history, v->reason, sizeof v->history);
                _Static_assert(sizeof v->history == sizeof v->reason, "history holds a reason");
            }
        }
        if (o->progress && co_clock_ms() - last_progress >= 1000) {
            progress_lines(e, ws, nw, &shown);
            last_progress = co_clock_ms();
        }
    }
    pthread_mutex_unlock(&h->mu);
    hub_unref(h);
    if (rl)
        fclose(rl);
    if (o->progress && shown)
        progress_lines(e, ws, 0, &shown);
    int sig = o->stop_signo ? (int)*o->stop_signo : 0;
    for (int i = qh; i < qt; i++) {
        co_evac_vm *v = &e->vms[queue[i]];
        if (!strcmp(v->status, "planned") || !strcmp(v->status, "failed")) {
            snprintf(v->status, sizeof v->status, "cancelled");
            snprintf(v->reason, sizeof v->reason, "not started: stopped by %s",
                     sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM"
                     : sig == SIGHUP ? "SIGHUP" : "a signal");
        }
    }
    free(ws);
    int stopped = o->stop_flag && *o->stop_flag;
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        if (v->blocker[0] && v->dest < 0) {
            if (o->unmovable == CO_EVAC_SHUTDOWN && !stopped)
                shut_down(o, v, tmo);
            else {
                char why[sizeof v->blocker];
                memcpy(why, v->blocker, sizeof why);
                snprintf(v->status, sizeof v->status, "left");
                snprintf(v->reason, sizeof v->reason, "%s; left on the source", why);
            }
        }
    }
    r->total_time_ms = co_clock_ms() - t0;
    co_evac_time_split((const double(*)[2])e->xfer,
                       e->nxfer < CO_EVAC_MAX_XFERS ? e->nxfer : CO_EVAC_MAX_XFERS, &e->split);
    /* what the next plan's time factor compares with (a drain cut short
     * by a signal says nothing of how long one takes) */
    e->drain_total_ms = stopped ? 0 : r->total_time_ms;
    int moved = 0, ok = 0;
    for (int i = 0; i < e->nvms; i++) {
        moved += !strcmp(e->vms[i].status, "completed");
        ok += !strcmp(e->vms[i].status, "completed") || !strcmp(e->vms[i].status, "shut-down");
    }
    if (ok == e->nvms) {
        snprintf(r->status, sizeof r->status, "completed");
        r->exit_err = CO_OK;
        return CO_OK;
    }
    if (stopped) {
        snprintf(r->status, sizeof r->status, "cancelled");
        r->exit_err = CO_ECANCELED;
        return co_diag_set(d, CO_ECANCELED, "stopped by %s: %d of %d VM(s) moved; the rest run "
                           "on the source", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM"
                           : sig == SIGHUP ? "SIGHUP" : "a signal", moved, e->nvms);
    }
    snprintf(r->status, sizeof r->status, "%s", moved ? "partial" : "failed");
    r->exit_err = CO_EFAILED;
    return co_diag_set(d, CO_EFAILED, "%d of %d VM(s) moved; see the report for the others",
                       moved, e->nvms);
}

#endif
