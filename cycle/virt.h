/* cycle/virt.h: the few libvirt calls the cycle makes itself (everything
 * that moves a VM goes through evacuate/evacuate.h).
 *
 * Owns: probing a host (answers, versions), listing its active domains,
 * resuming a paused one, starting a defined one, shutting one down (then
 * forcing it off), and whether a domain has a job in flight
 * (reconciliation after a crash). Every call runs on a thread
 * of its own and is waited for at most timeout_ms: a libvirt call that does
 * not return (seen under load, docs/evacuate.md) is abandoned, not waited
 * on; the thread cleans up after itself. Without libvirt every call fails
 * with CO_EUNAVAIL. Units: ms. No globals. */
#ifndef CUTOVER_CYCLE_VIRT_H
#define CUTOVER_CYCLE_VIRT_H

#include <stddef.h>

#include "util/diag.h"

#define CO_CYC_MAX_DOMS 256

/* Does the daemon at uri answer within timeout_ms? Fills libvirt's version
 * and the hypervisor's ("libvirt 9.0.0, QEMU 7.2.0") when version is not
 * NULL. CO_OK or CO_EUNAVAIL naming the URI. */
int co_cyc_virt_probe(const char *uri, int timeout_ms, char *version, size_t len, co_diag *d);

/* One active domain. */
typedef struct co_cyc_dom {
    char name[128];
    int paused;                 /* 1 paused, 0 running (other states are not listed) */
    int job;                    /* 1 a job (e.g. a migration) is in flight */
} co_cyc_dom;

/* Active domains at uri (running or paused): up to cap in out, count in *n.
 * CO_OK or CO_EUNAVAIL. */
int co_cyc_virt_list(const char *uri, int timeout_ms, co_cyc_dom *out, int cap, int *n,
                     co_diag *d);

/* Resume the paused domain name at uri. CO_OK (also when it runs already),
 * CO_EUNAVAIL. */
int co_cyc_virt_resume(const char *uri, const char *name, int timeout_ms, co_diag *d);

/* Start the defined, inactive domain name at uri (a VM shut down for its
 * host's patch). CO_OK (also when it runs already), CO_EUNAVAIL. */
int co_cyc_virt_start(const char *uri, const char *name, int timeout_ms, co_diag *d);

/* Copy the definition of name (inactive XML) from uri to dest_uri and start
 * it there: restarting a shut-down VM on another host (plan.execution
 * "unmovable": "shutdown"). CO_OK or CO_EUNAVAIL. */
int co_cyc_virt_start_copy(const char *uri, const char *dest_uri, const char *name,
                           int timeout_ms, co_diag *d);

/* Shut name at uri down: ask the guest (ACPI), wait up to grace_ms for it
 * to go off, then force it off (destroy). Every libvirt call is bounded by
 * timeout_ms (a guest that ignores ACPI, or a call that hangs, cannot hold
 * the cycle). *forced = 1 when it had to be destroyed. CO_OK once it is
 * off (or undefined); CO_EFAILED naming it when it still runs. */
int co_cyc_virt_shutdown(const char *uri, const char *name, int grace_ms, int timeout_ms,
                         int *forced, co_diag *d);

#endif
