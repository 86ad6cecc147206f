/* drivers/drv_qmp.h: the QMP implementation of drivers/driver.h.
 *
 * Owns: a co_drv over one QEMU's QMP socket (drivers/qmp.h). It talks to
 * the source QEMU only; a destination that needs capabilities too (multifd,
 * postcopy-ram) gets its own driver or co_qmp connection.
 * Conventions of this driver:
 *  - set_tunables always turns on the "events" capability (MIGRATION and
 *    MIGRATION_PASS events feed poll); fields left as NAN / -1 are not sent.
 *    Capabilities change only while no migration runs (QEMU refuses later).
 *  - max-bandwidth 0 means unlimited; it is sent as libvirt does, as the
 *    largest MiB/s value that fits in int64 bytes/s, and read back as 0.
 *  - multifd_channels 1 means the multifd capability off; >1 turns it on
 *    and sets multifd-channels.
 *  - poll returns as soon as one event arrived (or at timeout_ms), drains
 *    the events already queued up to max (the rest stay queued), then
 *    samples query-migrate.
 *  - cancel sends migrate_cancel and waits (polling every 50 ms, at most the
 *    driver's timeout) for cancelled / failed / completed. It does not
 *    resume a guest that pause_guest stopped: the caller does that. */
#ifndef CUTOVER_ENGINE_DRV_QMP_H
#define CUTOVER_ENGINE_DRV_QMP_H

#include "drivers/driver.h"
#include "drivers/qmp.h"

/* Connect to the QMP socket at socket_path (any address co_qmp_connect
 * takes) with timeout_ms bounding every call (<= 0: 5000 ms). Changes
 * nothing in QEMU. Returns CO_OK and *out (free with (*out)->ops->close),
 * or co_qmp_connect's errors. */
int co_drv_qmp_open(const char *socket_path, int timeout_ms, co_drv **out, co_diag *d);

/* The VM identity the driver's vm_id op returns for socket_path, known
 * before connecting (QEMU's QMP serves one client at a time, so the lock
 * must come first): "qmp:" + the canonical path of a unix socket (realpath:
 * relative paths and symlinks resolved), else "qmp:" + the address as
 * given (tcp:HOST:PORT, or a path that does not exist). */
void co_drv_qmp_vm_id(const char *socket_path, char *buf, size_t len);

/* Check the syntax of a migration URI as QEMU 7.2 takes it (tcp:HOST:PORT
 * with a port 1..65535, unix:PATH, exec:, fd:, rdma:), so a typo fails
 * before anything changes in QEMU. Does not connect: probing a
 * destination's -incoming port would be taken by QEMU as the migration
 * stream. CO_OK or CO_EUSAGE naming the URI. start() calls it. */
int co_drv_qmp_check_uri(const char *uri, co_diag *d);

/* The QMP connection under a driver opened by co_drv_qmp_open (borrowed;
 * for calls the driver interface lacks, e.g. calc-dirty-rate). NULL if drv
 * is not a QMP driver. */
co_qmp *co_drv_qmp_conn(co_drv *drv);

#define CO_DRV_QMP_MAX_LISTEN 4

/* A destination QEMU's side as its own QMP tells it: the run state
 * (query-status; "inmigrate" while -incoming waits) and where it listens
 * (query-migrate's "socket-address" list, which QEMU reports on the
 * destination since 4.0 and 7.2 fills from -incoming / migrate-incoming). */
typedef struct co_drv_qmp_incoming {
    char status[32];                         /* query-status "status" */
    int n_listen;                            /* 0: listens nowhere (yet) */
    struct {
        char type[16];                       /* "inet", "unix", "vsock", "fd" */
        char host[128];                      /* inet host or unix path */
        int port;                            /* inet port, else 0 */
    } listen[CO_DRV_QMP_MAX_LISTEN];
} co_drv_qmp_incoming;

/* Ask the QEMU under a QMP driver (read only: query-status, query-migrate)
 * how it waits for a migration. CO_OK, CO_EUSAGE if drv is not a QMP
 * driver, or the QMP call's error. */
int co_drv_qmp_incoming_state(co_drv *drv, co_drv_qmp_incoming *in, co_diag *d);

#endif
