/* inventory/virt.c: visiting the hosts through libvirt (inventory/inventory.h).
 * Domains, blockers and dirty rates come from co_evac_inventory (one
 * implementation of that in the tree); what evacuate does not keep is read
 * here: node totals, the hypervisor version, used memory from the balloon,
 * the MTU and link speed of the host's interface. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evacuate/evacuate.h"
#include "inventory/inventory.h"
#include "util/error.h"

#ifndef CO_HAVE_LIBVIRT

int co_inv_collect(co_inv *inv, const co_inv_opts *o, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "host %s (%s): cutover was built without libvirt "
                       "(install libvirt-dev and rebuild)", inv->nhosts ? inv->hosts[0].name : "?",
                       inv->nhosts ? inv->hosts[0].uri : "?");
}

#else

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static const char *vir_msg(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->message ? e->message : "unknown libvirt error";
}

/* The integer value of attribute attr of the first <elem ...> in xml, or -1. */
static long xml_attr_long(const char *xml, const char *elem, const char *attr)
{
    char open[48], key[48];
    snprintf(open, sizeof open, "<%s ", elem);
    snprintf(key, sizeof key, "%s='", attr);
    const char *p = strstr(xml, open);
    if (p == NULL)
        return -1;
    const char *end = strchr(p, '>');
    const char *a = strstr(p, key);
    if (a == NULL || (end && a > end))
        return -1;
    return strtol(a + strlen(key), NULL, 10);
}

/* The host's migration interface: libvirt's interface driver lists the
 * host's interfaces with MTU and link speed, but not which one carries
 * migration_uri's address; so only a host with exactly one active
 * interface besides lo is measured. */
static void host_interface(virConnectPtr conn, co_inv_host *h, int *mtu, double *speed,
                           char *why, size_t wlen)
{
    *mtu = 0;
    *speed = 0;
    virInterfacePtr *ifs = NULL;
    int n = virConnectListAllInterfaces(conn, &ifs, VIR_CONNECT_LIST_INTERFACES_ACTIVE);
    if (n < 0) {
        snprintf(why, wlen, "libvirt lists no interfaces (%s)", vir_msg());
        return;
    }
    int found = 0;
    char name[64] = "";
    for (int i = 0; i < n; i++) {
        const char *nm = virInterfaceGetName(ifs[i]);
        if (nm && strcmp(nm, "lo")) {
            if (++found == 1) {
                snprintf(name, sizeof name, "%s", nm);
                char *xml = virInterfaceGetXMLDesc(ifs[i], 0);
                if (xml) {
                    long m = xml_attr_long(xml, "mtu", "size");
                    long s = xml_attr_long(xml, "link", "speed"); /* Mbit/s */
                    *mtu = m >= 576 && m <= 65536 ? (int)m : 0;
                    *speed = s > 0 ? s * 1e6 / 8 : 0;
                    free(xml);
                }
            }
        }
        virInterfaceFree(ifs[i]);
    }
    free(ifs);
    if (found != 1) {
        *mtu = 0;
        *speed = 0;
        snprintf(why, wlen, "%d active interfaces besides lo: which carries migrations is not "
                 "known to libvirt", found);
        return;
    }
    snprintf(why, wlen, "%s", name);
    (void)h;
}

/* Used memory as the guest's balloon driver reports it, for every domain of
 * the host in one call that never waits: VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
 * skips a domain whose job lock is held (virDomainMemoryStats waited 30 s
 * per call on a guest whose monitor hung). used = current - usable
 * (MemAvailable), else available - unused; KiB. */
static double used_memory(virDomainStatsRecordPtr *recs, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const char *nm = virDomainGetName(recs[i]->dom);
        if (nm == NULL || strcmp(nm, name))
            continue;
        unsigned long long cur = 0, usable = 0, avail = 0, unused = 0;
        int hc = virTypedParamsGetULLong(recs[i]->params, recs[i]->nparams, "balloon.current",
                                         &cur) == 1;
        int hu = virTypedParamsGetULLong(recs[i]->params, recs[i]->nparams, "balloon.usable",
                                         &usable) == 1;
        int ha = virTypedParamsGetULLong(recs[i]->params, recs[i]->nparams, "balloon.available",
                                         &avail) == 1;
        int hn = virTypedParamsGetULLong(recs[i]->params, recs[i]->nparams, "balloon.unused",
                                         &unused) == 1;
        if (hc && hu && cur > 0 && usable <= cur)
            return (double)(cur - usable) * 1024;
        if (ha && hn && avail > 0 && unused <= avail)
            return (double)(avail - unused) * 1024;
        return 0;
    }
    return 0;
}

static int add_vm(co_inv *inv, co_inv_vm **out)
{
    if (inv->nvms == inv->capvms) {
        int nc = inv->capvms ? 2 * inv->capvms : 64;
        co_inv_vm *nv = realloc(inv->vms, (size_t)nc * sizeof *nv);
        if (nv == NULL)
            return CO_ENOMEM;
        inv->vms = nv;
        inv->capvms = nc;
    }
    *out = &inv->vms[inv->nvms++];
    memset(*out, 0, sizeof **out);
    return CO_OK;
}

static int visit(co_inv *inv, int hi, const co_inv_opts *o, co_evac *e, co_diag *d)
{
    co_inv_host *h = &inv->hosts[hi];
    int tmo = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    virConnectPtr conn = NULL;
    virDomainStatsRecordPtr *recs = NULL;
    int nrecs = 0;
    int rc = co_evac_connect(h->uri, tmo, &conn, d);
    if (rc != CO_OK)
        return rc;
    /* a daemon that stops answering closes the connection (and fails the
     * call) instead of holding the inventory */
    virConnectSetKeepAlive(conn, tmo / 3000 > 1 ? tmo / 3000 : 1, 2);
    virNodeInfo ni;
    if (virNodeGetInfo(conn, &ni) < 0) {
        rc = co_diag_set(d, CO_EUNAVAIL, "%s: node info: %s", h->uri, vir_msg());
        goto out;
    }
    h->cores = (int)ni.cpus;
    h->mem_bytes = (double)ni.memory * 1024.0;
    unsigned long ver = 0;
    if (virConnectGetVersion(conn, &ver) == 0 && ver > 0)
        snprintf(h->qemu_version, sizeof h->qemu_version, "%lu.%lu.%lu", ver / 1000000,
                 ver / 1000 % 1000, ver % 1000);
    int mtu;
    double speed;
    char ifwhy[160];
    host_interface(conn, h, &mtu, &speed, ifwhy, sizeof ifwhy);
    /* measured values are recorded as such; co_inv_settle weighs them
     * against what was given */
    if (mtu > 0) {
        h->mtu = mtu;
        snprintf(h->mtu_how, sizeof h->mtu_how, "measured: MTU of %.150s (virInterface)", ifwhy);
    } else {
        snprintf(h->mtu_how, sizeof h->mtu_how, "not measured: %.150s", ifwhy);
    }
    if (speed > 0) {
        h->nic_bytes_per_s = speed;
        snprintf(h->nic_how, sizeof h->nic_how,
                 "measured: link speed of %.150s (virInterface; shaping such as tc is not "
                 "seen)",
                 ifwhy);
    } else {
        snprintf(h->nic_how, sizeof h->nic_how, "not measured: %.150s",
                 mtu > 0 ? "the interface reports no link speed" : ifwhy);
    }

    co_evac_init(e);
    e->ndests = 0;
    e->default_dirty_mib_per_s = 0;
    co_evac_opts eo = {.src_uri = h->uri, .measure_dirty = o->measure_dirty, .timeout_ms = tmo};
    if ((rc = co_evac_inventory(e, &eo, d)) != CO_OK)
        goto out;
    nrecs = virConnectGetAllDomainStats(conn, VIR_DOMAIN_STATS_BALLOON, &recs,
                                            VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                                VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (nrecs < 0)
        nrecs = 0;
    for (int k = 0; k < e->nvms; k++) {
        const co_evac_vm *ev = &e->vms[k];
        co_inv_vm *v;
        if (add_vm(inv, &v) != CO_OK) {
            rc = co_diag_set(d, CO_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(v->name, sizeof v->name, "%s", ev->name);
        v->host = hi;
        v->vcpus = ev->vcpus;
        v->mem_bytes = ev->mem_bytes;
        v->passthrough = ev->has_hostdev;
        v->tcg = ev->tcg;
        v->paused = !ev->running;
        snprintf(v->blocker, sizeof v->blocker, "%s", ev->blocker);
        if (ev->dirty_measured) {
            v->dirty_measured = 1;
            co_dirty_trace *t = &v->trace;
            snprintf(t->recorded_at, sizeof t->recorded_at, "%s", inv->taken_at);
            snprintf(t->qemu_version, sizeof t->qemu_version, "%s", h->qemu_version);
            snprintf(t->method, sizeof t->method, "calc-dirty-rate/page-sampling");
            snprintf(t->command, sizeof t->command, "%s", inv->command);
            t->mem_bytes = ev->mem_bytes;
            t->page_size_bytes = 4096;
            t->vcpus = ev->vcpus;
            t->n = 1;
            t->window_ms[0] = 1000;
            double pages = ev->dirty_mib_per_s * 256.0; /* 4 KiB pages per MiB, 1 s */
            double cap = ev->mem_bytes / 4096.0;
            t->dirty_pages[0] = pages < cap ? pages : cap;
            snprintf(v->dirty_how, sizeof v->dirty_how,
                     "measured: %.0f MiB/s over 1 s (libvirt calc-dirty-rate, page sampling)",
                     ev->dirty_mib_per_s);
        } else {
            snprintf(v->dirty_how, sizeof v->dirty_how, "%.300s",
                     ev->reason[0] ? ev->reason : "dirty rate not measured (--measure-dirty no)");
        }
        v->mem_used_bytes = used_memory(recs, nrecs, ev->name);
        if (v->mem_used_bytes > 0)
            snprintf(v->mem_used_how, sizeof v->mem_used_how,
                     "measured: balloon statistics (virDomainMemoryStats)");
        else
            snprintf(v->mem_used_how, sizeof v->mem_used_how,
                     "defaulted: mem_used = mem (the guest's balloon reports no usable or unused "
                     "memory)");
    }
out:
    if (recs)
        virDomainStatsRecordListFree(recs);
    virConnectClose(conn);
    return rc;
}

int co_inv_collect(co_inv *inv, const co_inv_opts *o, co_diag *d)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(inv->taken_at, sizeof inv->taken_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    co_evac *e = malloc(sizeof *e);
    if (e == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int rc = CO_OK;
    for (int i = 0; i < inv->nhosts && rc == CO_OK; i++)
        if ((rc = visit(inv, i, o, e, d)) != CO_OK)
            co_diag_prefix(d, "host %s", inv->hosts[i].name);
    free(e);
    /* the same domain on two hosts: a paused leftover is dropped (named);
     * a migration in flight would be counted twice: try again */
    if (rc == CO_OK)
        rc = co_inv_drop_leftovers(inv, d);
    if (rc == CO_OK)
        co_inv_settle(inv, o);
    return rc;
}

#endif
