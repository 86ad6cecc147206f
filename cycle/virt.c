/* cycle/virt.c: the cycle's own libvirt calls, each bounded in time (see
 * cycle/virt.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cycle/virt.h"
#include "util/clock.h"
#include "util/deadline.h"
#include "util/error.h"

#ifndef CO_HAVE_LIBVIRT

static int none(co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cycle: cutover was built without libvirt (install "
                       "libvirt-dev and rebuild)");
}
int co_cyc_virt_probe(const char *uri, int timeout_ms, char *version, size_t len, co_diag *d)
{
    return none(d);
}
int co_cyc_virt_list(const char *uri, int timeout_ms, co_cyc_dom *out, int cap, int *n,
                     co_diag *d)
{
    *n = 0;
    return none(d);
}
int co_cyc_virt_resume(const char *uri, const char *name, int timeout_ms, co_diag *d)
{
    return none(d);
}
int co_cyc_virt_start(const char *uri, const char *name, int timeout_ms, co_diag *d)
{
    return none(d);
}
int co_cyc_virt_start_copy(const char *uri, const char *dest_uri, const char *name,
                           int timeout_ms, co_diag *d)
{
    return none(d);
}
int co_cyc_virt_shutdown(const char *uri, const char *name, int grace_ms, int timeout_ms,
                         int *forced, co_diag *d)
{
    *forced = 0;
    return none(d);
}

#else

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void quiet(void *ud, virErrorPtr err) { (void)ud; (void)err; }

static const char *vir_msg(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->message ? e->message : "unknown libvirt error";
}

enum { OP_PROBE, OP_LIST, OP_RESUME, OP_START, OP_COPY, OP_SHUTDOWN, OP_DESTROY, OP_STATE };

/* One call's inputs and outputs; owned by whoever leaves last (the waiter,
 * or the thread when the waiter gave up). */
struct job {
    int op, rc;
    char uri[256], dest[256], name[128];
    char version[128];
    char err[300];
    int state;                  /* OP_STATE: VIR_DOMAIN_*, -1 = not defined there */
    co_cyc_dom doms[CO_CYC_MAX_DOMS];
    int ndoms;
};

static int fail(struct job *j, const char *what)
{
    snprintf(j->err, sizeof j->err, "%s: %s", what, vir_msg());
    return CO_EUNAVAIL;
}

static int do_op(struct job *j, virConnectPtr c)
{
    if (j->op == OP_PROBE) {
        unsigned long lib = 0, hv = 0;
        if (virConnectGetLibVersion(c, &lib) < 0)
            return fail(j, "version");
        virConnectGetVersion(c, &hv);
        snprintf(j->version, sizeof j->version, "libvirt %lu.%lu.%lu, %s %lu.%lu.%lu",
                 lib / 1000000, lib / 1000 % 1000, lib % 1000,
                 virConnectGetType(c) ? virConnectGetType(c) : "hypervisor", hv / 1000000,
                 hv / 1000 % 1000, hv % 1000);
        return CO_OK;
    }
    if (j->op == OP_LIST) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0)
            return fail(j, "listing domains");
        j->ndoms = 0;
        for (int i = 0; i < n; i++) {
            int st, reason;
            const char *name = virDomainGetName(doms[i]);
            if (name && j->ndoms < CO_CYC_MAX_DOMS &&
                virDomainGetState(doms[i], &st, &reason, 0) == 0 &&
                (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_PAUSED)) {
                co_cyc_dom *o = &j->doms[j->ndoms++];
                snprintf(o->name, sizeof o->name, "%s", name);
                o->paused = st == VIR_DOMAIN_PAUSED;
                /* not virDomainGetJobInfo: it waits (30 s) for the domain's job
                 * lock, and a listing that times out must not read as empty */
                virDomainControlInfo ci;
                o->job = virDomainGetControlInfo(doms[i], &ci, 0) == 0 &&
                         ci.state != VIR_DOMAIN_CONTROL_OK;
            }
            virDomainFree(doms[i]);
        }
        free(doms);
        return CO_OK;
    }
    virDomainPtr dom = virDomainLookupByName(c, j->name);
    if (!dom && j->op == OP_STATE) {
        j->state = -1;
        return CO_OK;
    }
    if (!dom)
        return fail(j, j->name);
    int rc = CO_OK, st = -1, reason;
    virDomainGetState(dom, &st, &reason, 0);
    j->state = st;
    if (j->op == OP_STATE) {
        /* j->state is the answer */
    } else if (j->op == OP_SHUTDOWN) {
        /* a request to the guest (ACPI); it may ignore it */
        if (st == VIR_DOMAIN_RUNNING && virDomainShutdown(dom) < 0)
            rc = fail(j, "asking it to shut down");
    } else if (j->op == OP_DESTROY) {
        /* libvirt kills the QEMU process first, then takes the domain's job:
         * it works while a monitor call hangs */
        if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
            rc = fail(j, "forcing it off (destroy)");
    } else if (j->op == OP_RESUME) {
        if (st == VIR_DOMAIN_PAUSED && virDomainResume(dom) < 0)
            rc = fail(j, "resuming");
    } else if (j->op == OP_START) {
        if (st != VIR_DOMAIN_RUNNING && st != VIR_DOMAIN_PAUSED && virDomainCreate(dom) < 0)
            rc = fail(j, "starting");
    } else {
        char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        virConnectPtr dc = xml ? virConnectOpen(j->dest) : NULL;
        virDomainPtr nd = NULL;
        if (!xml)
            rc = fail(j, "reading the definition");
        else if (!dc)
            rc = fail(j, j->dest);
        else if (!(nd = virDomainDefineXML(dc, xml)) || virDomainCreate(nd) < 0)
            rc = fail(j, "defining and starting it on the other host");
        if (nd)
            virDomainFree(nd);
        if (dc)
            virConnectClose(dc);
        free(xml);
    }
    virDomainFree(dom);
    return rc;
}

static void job_thread(void *arg)
{
    struct job *j = arg;
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c = virConnectOpen(j->uri);
    j->rc = c ? do_op(j, c) : fail(j, "connecting");
    if (c)
        virConnectClose(c);
}

/* Run j on a thread (util/deadline.h) and wait at most timeout_ms. On CO_OK
 * the caller reads j and frees it; otherwise j is gone (freed here, or by
 * the thread once an abandoned call returns). */
static int run_job(struct job *j, int timeout_ms, co_diag *d)
{
    char uri[sizeof j->uri];
    snprintf(uri, sizeof uri, "%s", j->uri); /* j is the thread's once abandoned */
    int in_time = co_deadline_run(job_thread, j, free, timeout_ms);
    if (in_time < 0) {
        free(j);
        return co_diag_set(d, in_time, "cannot start a thread for a libvirt call");
    }
    if (!in_time)
        return co_diag_set(d, CO_EUNAVAIL, "libvirt at %s did not answer within %d ms", uri,
                           timeout_ms);
    if (j->rc != CO_OK) {
        int rc = co_diag_set(d, j->rc, "%s: %s", j->uri, j->err);
        free(j);
        return rc;
    }
    return CO_OK;
}

static struct job *new_job(int op, const char *uri, const char *name, co_diag *d)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        co_diag_set(d, CO_ENOMEM, "out of memory");
        return NULL;
    }
    j->op = op;
    snprintf(j->uri, sizeof j->uri, "%s", uri);
    if (name)
        snprintf(j->name, sizeof j->name, "%s", name);
    return j;
}

int co_cyc_virt_probe(const char *uri, int timeout_ms, char *version, size_t len, co_diag *d)
{
    struct job *j = new_job(OP_PROBE, uri, NULL, d);
    if (!j)
        return CO_ENOMEM;
    int rc = run_job(j, timeout_ms, d);
    if (rc != CO_OK)
        return rc;
    if (version)
        snprintf(version, len, "%s", j->version);
    free(j);
    return CO_OK;
}

int co_cyc_virt_list(const char *uri, int timeout_ms, co_cyc_dom *out, int cap, int *n,
                     co_diag *d)
{
    *n = 0;
    struct job *j = new_job(OP_LIST, uri, NULL, d);
    if (!j)
        return CO_ENOMEM;
    int rc = run_job(j, timeout_ms, d);
    if (rc != CO_OK)
        return rc;
    for (int i = 0; i < j->ndoms && i < cap; i++)
        out[(*n)++] = j->doms[i];
    free(j);
    return CO_OK;
}

static int simple(int op, const char *uri, const char *dest, const char *name, int timeout_ms,
                  co_diag *d)
{
    struct job *j = new_job(op, uri, name, d);
    if (!j)
        return CO_ENOMEM;
    if (dest)
        snprintf(j->dest, sizeof j->dest, "%s", dest);
    int rc = run_job(j, timeout_ms, d);
    if (rc == CO_OK)
        free(j);
    return rc;
}

int co_cyc_virt_resume(const char *uri, const char *name, int timeout_ms, co_diag *d)
{
    return simple(OP_RESUME, uri, NULL, name, timeout_ms, d);
}

int co_cyc_virt_start(const char *uri, const char *name, int timeout_ms, co_diag *d)
{
    return simple(OP_START, uri, NULL, name, timeout_ms, d);
}

int co_cyc_virt_start_copy(const char *uri, const char *dest_uri, const char *name,
                           int timeout_ms, co_diag *d)
{
    return simple(OP_COPY, uri, dest_uri, name, timeout_ms, d);
}

/* name's state at uri: VIR_DOMAIN_*, -1 undefined; -2 when the daemon did
 * not answer in time. */
static int state_of(const char *uri, const char *name, int timeout_ms)
{
    co_diag d;
    co_diag_init(&d);
    struct job *j = new_job(OP_STATE, uri, name, &d);
    if (!j || run_job(j, timeout_ms, &d) != CO_OK)
        return -2;
    int st = j->state;
    free(j);
    return st;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int co_cyc_virt_shutdown(const char *uri, const char *name, int grace_ms, int timeout_ms,
                         int *forced, co_diag *d)
{
    *forced = 0;
    double end = co_clock_ms() + grace_ms;
    co_diag sd;
    co_diag_init(&sd);
    /* the request itself is bounded too: seen hanging for minutes on a
     * guest without ACPI under load (docs/cycle.md) */
    int asked = simple(OP_SHUTDOWN, uri, NULL, name, timeout_ms, &sd) == CO_OK;
    while (asked && co_clock_ms() < end) {
        int st = state_of(uri, name, timeout_ms);
        if (st == -1 || st == VIR_DOMAIN_SHUTOFF)
            return CO_OK;
        sleep_ms(500);
    }
    int st = state_of(uri, name, timeout_ms);
    if (st == -1 || st == VIR_DOMAIN_SHUTOFF)
        return CO_OK;
    *forced = 1;
    co_diag dd;
    co_diag_init(&dd);
    int rc = simple(OP_DESTROY, uri, NULL, name, timeout_ms, &dd);
    st = state_of(uri, name, timeout_ms);
    if (st == -1 || st == VIR_DOMAIN_SHUTOFF)
        return CO_OK;
    return co_diag_set(d, CO_EFAILED, "%s at %s: not off after %d s and a forced off "
                       "(destroy): %s", name, uri, grace_ms / 1000,
                       rc != CO_OK ? dd.msg : st == -2 ? "the daemon did not answer"
                                                       : "it still runs");
}

#endif
