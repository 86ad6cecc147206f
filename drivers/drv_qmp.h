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

#endif
