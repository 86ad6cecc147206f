/* lab/cluster_none.c: the cluster lab's entry points (lab/cluster.h) in a
 * build without libvirt (libvirt-dev absent, or `make WITHOUT=libvirt`). The
 * Makefile compiles this file instead of lab/cluster.c: a cluster of
 * libvirt daemons is all the cluster lab is, so every entry point fails
 * with CO_EUNAVAIL (exit 69) and says how to get the real one. */
#include "lab/cluster.h"

#define CO_NO_LIBVIRT "built without libvirt (install libvirt-dev and rebuild)"

int co_cluster_workloads_load(const char *path, double default_mem_bytes, int nhosts,
                              co_cluster *c, int *n, co_diag *d)
{
    *n = 0;
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_up(const co_cluster_config *cfg, co_cluster *out, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_load(const char *dir, co_cluster *out, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_reboot(const char *dir, const char *host, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_restart_daemon(const char *dir, const char *host, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

json_t *co_cluster_json(const co_cluster *c, const co_cluster_dom *doms, int nd)
{
    return NULL;
}

int co_cluster_exec(const char *dir, const char *host, char *const argv[], co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_down(const char *dir, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_status(co_cluster *c, co_cluster_dom *doms, int cap, int *n, co_diag *d)
{
    *n = 0;
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}

int co_cluster_find_script(char *out, size_t len, co_diag *d)
{
    return co_diag_set(d, CO_EUNAVAIL, "cluster lab: " CO_NO_LIBVIRT);
}
