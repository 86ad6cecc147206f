/* tests/drv_pair.h: the QMP driver tests' fixture.
 *
 * Owns: a source and a destination QEMU (BIOS only, RAM backed by a file of
 * non-zero bytes so migrations move real data, destination listening on an
 * ephemeral port) in a private directory, and the QMP driver open on the
 * source. drv_pair_open() asserts each step; drv_pair_close() kills and
 * removes everything, also after a failed assertion (Criterion .fini). */
#ifndef CUTOVER_TESTS_DRV_PAIR_H
#define CUTOVER_TESTS_DRV_PAIR_H

#include <criterion/criterion.h>

#include "drivers/drv_qmp.h"
#include "engine/controller.h"
#include "qemu_proc.h"

static char dir[64], memfile[128];
static tq_qemu src, dst;
static int port;
static co_drv *drv;

static inline void drv_pair_open(void)
{
    char why[160];
    cr_assert_eq(tq_filled_pair(dir, memfile, 32, &src, &dst, &port, why), 0, "%s", why);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_drv_qmp_open(src.qmp, 5000, &drv, &d), CO_OK, "%s", d.msg);
}

/* A controller config migrating to the pair's destination: adaptive, 300 ms,
 * 60 s deadline, polled every 50 ms; the caller adds to it. */
static inline co_ctl_config drv_pair_ctl_config(void)
{
    static char uri[64];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", port);
    return (co_ctl_config){
        .pol = {.kind = CO_POL_ADAPTIVE, .max_downtime_ms = 300, .deadline_ms = 60e3},
        .uri = uri,
        .poll_ms = 50,
    };
}

static inline void drv_pair_close(void)
{
    if (drv)
        drv->ops->close(drv);
    drv = NULL;
    tq_stop(&src);
    tq_stop(&dst);
    tq_rmdir(dir);
}

#endif
