/* evacuate/virt.c: the libvirt side of an evacuation (see evacuate.h):
 * inventory, blockers, dirty rates, and the run. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evacuate/evacuate.h"
#include "util/error.h"

#ifndef CO_HAVE_LIBVIRT

int co_evac_inventory(co_evac *e, const co_evac_opts *o, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "evacuate: cutover was built without libvirt");
}

int co_evac_run(co_evac *e, const co_evac_opts *o, co_evac_result *r, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "evacuate: cutover was built without libvirt");
}

#else

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "drivers/drv_virt.h"
#include "engine/controller.h"
#include "engine/lock.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void quiet(void *ud, virErrorPtr err) { (void)ud; (void)err; }

static const char *vir_msg(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->message ? e->message : "unknown libvirt error";
}

/* ---- connections with a time bound: virConnectOpen blocks for minutes on
 * an unreachable TCP host, so it runs in a thread that owns the result if
 * we stop waiting (then it closes the connection itself). ---- */

struct open_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char uri[256];
    virConnectPtr conn;
    int done, abandoned;
    char err[256];
};

static void *open_thread(void *arg)
{
    struct open_job *j = arg;
    virConnectPtr c = virConnectOpen(j->uri);
    char err[256] = "";
    if (!c)
        snprintf(err, sizeof err, "%s", vir_msg());
    pthread_mutex_lock(&j->mu);
    j->conn = c;
    snprintf(j->err, sizeof j->err, "%s", err);
    j->done = 1;
    int ab = j->abandoned;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (ab) {
        if (c)
            virConnectClose(c);
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
    return NULL;
}

static int open_conn(const char *uri, int timeout_ms, virConnectPtr *out, co_diag *d)
{
    *out = NULL;
    virSetErrorFunc(NULL, quiet);
    struct open_job *j = calloc(1, sizeof *j);
    if (!j)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    snprintf(j->uri, sizeof j->uri, "%s", uri);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, open_thread, j) != 0) {
        free(j);
        return co_diag_set(d, CO_EOS, "cannot start a thread to connect to %s", uri);
    }
    pthread_detach(t);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT)
            break;
    if (!j->done) {
        j->abandoned = 1;
        pthread_mutex_unlock(&j->mu);
        return co_diag_set(d, CO_EUNAVAIL, "libvirt at %s did not answer within %d ms", uri,
                           timeout_ms);
    }
    pthread_mutex_unlock(&j->mu);
    int rc = CO_OK;
    if (!j->conn)
        rc = co_diag_set(d, CO_EUNAVAIL, "cannot connect to libvirt at %s: %s", uri, j->err);
    *out = j->conn;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    return rc;
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
 * bound and the thread, which then owns the job, frees it. */
struct dirty_job {
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    char uri[256], name[128];
    int timeout_ms;
    int done, abandoned, rc;
    double mib;
    char err[256];
};

static void *dirty_thread(void *arg)
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
    pthread_mutex_lock(j->mu);
    j->rc = rc;
    j->mib = mib;
    snprintf(j->err, sizeof j->err, "%.250s", d.msg);
    j->done = 1;
    int ab = j->abandoned;
    pthread_cond_broadcast(j->cv);
    pthread_mutex_unlock(j->mu);
    if (ab)
        free(j);
    return NULL;
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
        v->time_ms = v->downtime_ms = NAN;
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
    static pthread_mutex_t dmu = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t dcv = PTHREAD_COND_INITIALIZER;
    struct dirty_job *jobs[CO_EVAC_MAX_VMS] = {0};
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
        *j = (struct dirty_job){.mu = &dmu, .cv = &dcv, .timeout_ms = tmo};
        snprintf(j->uri, sizeof j->uri, "%s", o->src_uri);
        snprintf(j->name, sizeof j->name, "%s", v->name);
        pthread_t t;
        if (pthread_create(&t, NULL, dirty_thread, j) != 0) {
            free(j);
            continue;
        }
        pthread_detach(t);
        jobs[i] = j;
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&dmu);
    for (int i = 0; i < e->nvms; i++) {
        struct dirty_job *j = jobs[i];
        if (!j)
            continue;
        while (!j->done)
            if (pthread_cond_timedwait(&dcv, &dmu, &dl) == ETIMEDOUT)
                break;
        co_evac_vm *v = &e->vms[i];
        if (!j->done) {
            j->abandoned = 1; /* the thread frees it */
            snprintf(v->reason, sizeof v->reason, "dirty rate not measured: no answer in 10 s");
            continue;
        }
        if (j->rc == CO_OK) {
            v->dirty_mib_per_s = j->mib;
            v->dirty_measured = 1;
        } else {
            snprintf(v->reason, sizeof v->reason, "dirty rate not measured: %s", j->err);
        }
        free(j);
    }
    pthread_mutex_unlock(&dmu);
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

/* ---- the run ---- */

struct worker {
    co_evac *e;
    const co_evac_opts *o;
    int vm;
    pthread_t t;
    int running, finished;
    int peers;                    /* most migrations in flight during it */
    double t0;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    co_ctl_result res;
};

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

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    co_evac *e = w->e;
    co_evac_vm *v = &e->vms[w->vm];
    const co_evac_dest *ds = &e->dests[v->dest];
    co_diag d;
    co_diag_init(&d);
    co_drv *drv = NULL;
    co_lock lock = {.fd = -1};
    int tmo = w->o->timeout_ms > 0 ? w->o->timeout_ms : 5000;
    co_virt_opts vo = {.conn_uri = w->o->src_uri, .domain = v->name, .dest_uri = ds->uri,
                       .migrate_uri = ds->migration_uri[0] ? ds->migration_uri : NULL,
                       .copy_storage = v->has_local_disk &&
                                       (w->o->allow & CO_EVAC_ALLOW_COPY_STORAGE),
                       .timeout_ms = tmo};
    char key[1200];
    int started = 0;
    int rc = co_virt_open(&vo, &drv, &d);
    if (rc == CO_OK && co_virt_lock_key(drv, key, sizeof key) == CO_OK)
        rc = co_lock_take(&lock, key, &d);
    if (rc == CO_OK && v->has_cdrom_media && (w->o->allow & CO_EVAC_ALLOW_EJECT))
        rc = eject_media(w->o->src_uri, v->name, tmo, &d);
    if (rc == CO_OK) {
        co_ctl_config cfg = {
            .pol = {.kind = CO_POL_ADAPTIVE, .max_downtime_ms = e->max_downtime_ms,
                    .deadline_ms = e->deadline_ms, .allow = w->o->allow & 0xffu,
                    .postcopy_ready = 1, .link_known = e->nic_bytes_per_s > 0,
                    .link_rate_bytes_per_s = e->nic_bytes_per_s, .link_mtu = e->mtu},
            .uri = ds->uri,
            .poll_ms = 100,
            .stop_flag = w->o->stop_flag,
            .stop_signo = w->o->stop_signo,
        };
        if (w->o->on_mig)
            w->o->on_mig(w->o->on_mig_arg, e, w->vm, 0);
        rc = co_ctl_run(drv, &cfg, &w->res, &d);
        snprintf(v->status, sizeof v->status, "%s", w->res.status);
        v->downtime_ms = w->res.downtime_ms;
        v->time_ms = w->res.total_time_ms;
        started = 1;
    } else {
        snprintf(v->status, sizeof v->status, "%s", rc == CO_EBUSY ? "failed" : "failed");
        w->res.status[0] = '\0';
    }
    if (rc != CO_OK)
        snprintf(v->reason, sizeof v->reason, "%.500s", d.msg);
    else
        v->reason[0] = '\0';
    if (started && w->o->on_mig)
        w->o->on_mig(w->o->on_mig_arg, e, w->vm, 1);
    if (drv)
        drv->ops->close(drv);
    co_lock_release(&lock);
    pthread_mutex_lock(w->mu);
    w->finished = 1;
    pthread_cond_broadcast(w->cv);
    pthread_mutex_unlock(w->mu);
    return NULL;
}

/* Another open destination for VM v after its own failed (place rules,
 * most memory left). -1 if none. */
static int replace_vm(co_evac *e, int vi)
{
    co_evac_vm *v = &e->vms[vi];
    int vm_host[CO_EVAC_MAX_VMS], vm_dest[CO_EVAC_MAX_VMS];
    for (int i = 0; i < e->nvms; i++) {
        vm_host[i] = -1;
        vm_dest[i] = i == vi ? -1 : e->vms[i].dest;
    }
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

static void progress_lines(const co_evac *e, struct worker *ws, int nw, int *shown)
{
    double t = now_ms();
    if (*shown)
        fprintf(stderr, "\033[%dA", *shown);
    int n = 0;
    for (int i = 0; i < nw; i++)
        if (ws[i].running && !ws[i].finished) {
            const co_evac_vm *v = &e->vms[ws[i].vm];
            fprintf(stderr, "\r\033[K%-20.20s -> %-36.36s %6.1f s (predicted %.1f s)\n", v->name,
                    v->to, (t - ws[i].t0) / 1e3, v->pred_time_ms / 1e3);
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

int co_evac_run(co_evac *e, const co_evac_opts *o, co_evac_result *r, co_diag *d)
{
    int tmo = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    static const int max_workers = 2 * CO_EVAC_MAX_VMS;
    struct worker *ws = calloc((size_t)max_workers, sizeof *ws);
    if (!ws)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int queue[2 * CO_EVAC_MAX_VMS], qh = 0, qt = 0;
    for (int ord = 0; ord < e->nvms; ord++)
        for (int i = 0; i < e->nvms; i++)
            if (e->vms[i].order == ord && e->vms[i].dest >= 0)
                queue[qt++] = i;
    int nw = 0, inflight = 0, shown = 0;
    double t0 = now_ms(), last_progress = 0;
    pthread_mutex_lock(&mu);
    for (;;) {
        int stop = o->stop_flag && *o->stop_flag;
        while (!stop && inflight < e->k && qh < qt && nw < max_workers) {
            struct worker *w = &ws[nw++];
            *w = (struct worker){.e = e, .o = o, .vm = queue[qh++], .mu = &mu, .cv = &cv,
                                 .t0 = now_ms()};
            e->vms[w->vm].attempts++;
            snprintf(e->vms[w->vm].status, sizeof e->vms[w->vm].status, "migrating");
            if (pthread_create(&w->t, NULL, worker_main, w) != 0) {
                snprintf(e->vms[w->vm].status, sizeof e->vms[w->vm].status, "failed");
                snprintf(e->vms[w->vm].reason, sizeof e->vms[w->vm].reason,
                         "cannot start a thread");
                continue;
            }
            w->running = 1;
            inflight++;
            for (int i = 0; i < nw; i++)
                if (ws[i].running && !ws[i].finished && ws[i].peers < inflight)
                    ws[i].peers = inflight;
        }
        if (inflight == 0 && (stop || qh >= qt))
            break;
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 250000000L;
        if (dl.tv_nsec >= 1000000000L)
            dl.tv_sec++, dl.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&cv, &mu, &dl);
        for (int i = 0; i < nw; i++) {
            struct worker *w = &ws[i];
            if (!w->running || !w->finished)
                continue;
            pthread_mutex_unlock(&mu);
            pthread_join(w->t, NULL);
            pthread_mutex_lock(&mu);
            w->running = 0;
            inflight--;
            co_evac_vm *v = &e->vms[w->vm];
            /* learn a stream's ceiling: a migration that got well under its
             * fair share of the NIC was bound by its own stream (on this
             * machine: TCG guests); the rest is re-planned with it */
            if (!strcmp(v->status, "completed") && w->res.total_time_ms > 0 &&
                w->res.transferred_bytes > 0) {
                double got = w->res.transferred_bytes / (w->res.total_time_ms / 1e3);
                double fair = e->nic_bytes_per_s / (w->peers > 0 ? w->peers : 1);
                if (got < 0.8 * fair && got > e->stream_cap_bytes_per_s) {
                    e->stream_cap_bytes_per_s = got;
                    if (qh < qt) {
                        int old_k = e->k;
                        co_evac_replan(e, queue + qh, qt - qh);
                        if (e->k != old_k && o->progress)
                            fprintf(stderr, "cutover evacuate: a stream carries %.0f Mbit/s: "
                                    "%d at once from now on\n", got * 8 / 1e6, e->k);
                    }
                }
            }
            /* re-plan: a migration that failed (not one the policy aborted
             * or the operator cancelled) goes elsewhere once; a destination
             * that no longer answers takes nothing more */
            if (strcmp(v->status, "failed") == 0 && !(o->stop_flag && *o->stop_flag)) {
                co_diag dd;
                co_diag_init(&dd);
                virConnectPtr c;
                int dead = open_conn(e->dests[v->dest].uri, tmo, &c, &dd) != CO_OK;
                if (c)
                    virConnectClose(c);
                if (dead)
                    e->dests[v->dest].down = 1;
                if (v->attempts < 2 && replace_vm(e, w->vm) >= 0) {
                    char to[sizeof v->to];
                    memcpy(to, v->to, sizeof to);
                    size_t l = strlen(v->reason);
                    snprintf(v->reason + l, sizeof v->reason - l, "; retrying on %s", to);
                    queue[qt++] = w->vm;
                }
            }
        }
        if (o->progress && now_ms() - last_progress >= 1000) {
            progress_lines(e, ws, nw, &shown);
            last_progress = now_ms();
        }
    }
    pthread_mutex_unlock(&mu);
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
    r->total_time_ms = now_ms() - t0;
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
