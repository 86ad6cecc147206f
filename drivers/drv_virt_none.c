/* drivers/drv_virt_none.c: the libvirt driver's entry points in a build
 * without libvirt (libvirt-dev absent, or `make WITHOUT=libvirt`). The
 * Makefile compiles this file instead of drivers/drv_virt.c. Every entry
 * point fails with CO_EUNAVAIL (exit 69) and says how to get the real one,
 * so model, tune and simulate build and run while --connect/--domain say
 * why they cannot. */
#include "drivers/drv_virt.h"

#define CO_NO_LIBVIRT "built without libvirt (install libvirt-dev and rebuild)"

/* Never handed out (co_virt_open fails), only its identity is public. */
const co_drv_ops co_virt_ops = {.name = "libvirt"};

int co_virt_open(const co_virt_opts *o, co_drv **out, co_diag *diag)
{
    *out = NULL;
    return co_diag_set(diag, CO_EUNAVAIL, "libvirt domain '%s': " CO_NO_LIBVIRT,
                       o && o->domain ? o->domain : "?");
}

int co_virt_init(void)
{
    return CO_EUNAVAIL;
}

int co_virt_lock_key(co_drv *d, char *buf, size_t len)
{
    return CO_EUSAGE; /* no driver can come from co_virt_open */
}

int co_virt_wait_events(co_drv *d, int timeout_ms, co_drv_event *evs, int max, int *n_ev)
{
    *n_ev = 0;
    return CO_EUSAGE;
}

int co_virt_watch_sample(co_drv *d, co_drv_stats *st, co_diag *diag)
{
    return co_diag_set(diag, CO_EUNAVAIL, CO_NO_LIBVIRT);
}

int co_virt_get_info(co_drv *d, co_virt_info *out, co_diag *diag)
{
    return co_diag_set(diag, CO_EUNAVAIL, CO_NO_LIBVIRT);
}

int co_virt_dirty_rate(co_drv *d, int secs, const char *mode, double *mib_per_s,
                       co_diag *diag)
{
    return co_diag_set(diag, CO_EUNAVAIL, CO_NO_LIBVIRT);
}
