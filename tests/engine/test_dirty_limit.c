/* tests/engine/test_dirty_limit.c: per-vCPU dirty limits (QEMU 7.2
 * set-vcpu-dirty-limit) through the QMP driver and the controller, on real
 * QEMU: under KVM with a dirty ring (where it works) and under TCG (where
 * QEMU refuses it and cutover must say so and carry on). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>

#include "engine/controller.h"
#include "drv_pair.h"
#include "drivers/qmp.h"
#include "util/error.h"

static void start_pair(const char *accel)
{
    setenv("CUTOVER_TQ_ACCEL", accel, 1);
    drv_pair_open();
}

static void init_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        cr_skip_test("no usable /dev/kvm: dirty limits need KVM with a dirty ring");
    close(fd);
    start_pair("kvm,dirty-ring-size=4096");
}

static void init_tcg(void)
{
    start_pair("tcg");
}

TestSuite(dirty_limit_kvm, .init = init_kvm, .fini = drv_pair_close, .timeout = 90);
TestSuite(dirty_limit_tcg, .init = init_tcg, .fini = drv_pair_close, .timeout = 90);

/* query-vcpu-dirty-limit: how many vCPUs are limited, and the first limit. */
static int limited(double *rate)
{
    co_qmp *q = co_drv_qmp_conn(drv);
    co_diag d;
    co_diag_init(&d);
    json_t *ret = NULL;
    cr_assert_eq(co_qmp_call(q, "query-vcpu-dirty-limit", NULL, &ret, &d), CO_OK, "%s", d.msg);
    int n = (int)json_array_size(ret);
    if (n > 0 && rate)
        *rate = (double)json_integer_value(json_object_get(json_array_get(ret, 0), "limit-rate"));
    json_decref(ret);
    return n;
}

Test(dirty_limit_kvm, set_and_cancel)
{
    co_diag d;
    co_diag_init(&d);
    int vcpus = -1;
    cr_assert_eq(drv->ops->set_dirty_limit(drv, 49.6, &vcpus, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(vcpus, 1);
    double rate = 0;
    cr_assert_eq(limited(&rate), 1);
    cr_assert_eq(rate, 50, "QEMU takes whole MB/s: %.0f", rate);
    cr_assert_eq(drv->ops->set_dirty_limit(drv, 0, NULL, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(limited(NULL), 0);
}

static void run_controller(co_ctl_result *res, int *rc)
{
    co_diag d;
    co_diag_init(&d);
    co_ctl_config cfg = drv_pair_ctl_config();
    cfg.pol.allow = CO_ALLOW_DIRTYLIMIT;
    cfg.bandwidth_bytes_per_s = 100e6;
    *rc = co_ctl_run(drv, &cfg, res, &d);
    cr_assert_eq(*rc, CO_OK, "%s: %s", res->status, d.msg);
}

/* The controller finds the dirty ring before it starts, says so, and leaves
 * no limit behind. */
Test(dirty_limit_kvm, controller_probes_and_leaves_none)
{
    co_ctl_result *res = calloc(1, sizeof *res);
    int rc;
    run_controller(res, &rc);
    cr_assert_str_eq(res->status, "completed");
    cr_assert_str_eq(res->actions[0].what, "start");
    cr_assert(strstr(res->actions[0].reason, "dirty-limit ready on 1 vCPU") != NULL, "%s",
              res->actions[0].reason);
    free(res);
}

Test(dirty_limit_tcg, refused_with_a_clear_error)
{
    co_diag d;
    co_diag_init(&d);
    int vcpus = -1;
    cr_assert_eq(drv->ops->set_dirty_limit(drv, 50, &vcpus, &d), CO_ECONFIG, "%s", d.msg);
    cr_assert(strstr(d.msg, "dirty-ring") != NULL, "%s", d.msg);
    cr_assert_eq(vcpus, 0);
}

/* Allowed but unavailable: the migration goes on without it, and the start
 * action says why. */
Test(dirty_limit_tcg, controller_carries_on_without)
{
    co_ctl_result *res = calloc(1, sizeof *res);
    int rc;
    run_controller(res, &rc);
    cr_assert_str_eq(res->status, "completed");
    cr_assert(strstr(res->actions[0].reason, "dirty-limit unavailable") != NULL, "%s",
              res->actions[0].reason);
    cr_assert(strstr(res->actions[0].reason, "dirty-ring") != NULL, "%s",
              res->actions[0].reason);
    cr_assert(strstr(res->actions[0].reason, "link loopback") != NULL, "%s",
              res->actions[0].reason);
    free(res);
}
