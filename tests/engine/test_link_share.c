/* tests/engine/test_link_share.c: the controller told how many migrations
 * share its link (co_ctl_config.link_flows, kept by evacuate's run loop), on
 * real QEMU (TCG, BIOS-only guest, loopback carrying a link declared as
 * 400 Mbit/s):
 *   two_flows  link_flows at 2: a "link-share" action (value 2) says the
 *              stop-and-copy counts on 0.2 of 0.4 Gbit/s, and the migration
 *              completes
 *   others_leave_more  link_flows 2 and link_avail 37.5 MB/s (the other
 *              sends 12.5 MB/s): the stop-and-copy counts on 0.3 Gbit/s
 *   alone      link_flows NULL, or at 1: no such action */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/controller.h"
#include "drv_pair.h"
#include "util/error.h"

static void init(void)
{
    setenv("CUTOVER_TQ_ACCEL", "tcg", 1);
    drv_pair_open();
}

TestSuite(link_share, .init = init, .fini = drv_pair_close, .timeout = 90);

static int run(const _Atomic int *flows, const _Atomic long long *avail, const char *want,
               co_ctl_result *res)
{
    co_diag d;
    co_diag_init(&d);
    co_ctl_config cfg = drv_pair_ctl_config();
    cfg.pol.link_known = 1;
    cfg.pol.link_rate_bytes_per_s = 50e6;
    cfg.pol.link_mtu = 9000;
    cfg.link_flows = flows;
    cfg.link_avail_bytes_per_s = avail;
    int rc = co_ctl_run(drv, &cfg, res, &d);
    cr_assert_eq(rc, CO_OK, "%s: %s", res->status, d.msg);
    int n = 0;
    for (int i = 0; i < res->n_actions; i++)
        if (!strcmp(res->actions[i].what, "link-share")) {
            n++;
            cr_expect_eq(res->actions[i].value, 2);
            cr_expect(strstr(res->actions[i].reason, want) != NULL, "%s", res->actions[i].reason);
        }
    return n;
}

Test(link_share, two_flows)
{
    static _Atomic int flows = 2;
    co_ctl_result *res = calloc(1, sizeof *res);
    cr_expect_eq(run(&flows, NULL,
                     "2 migration(s) send on the link: the stop-and-copy counts on 0.2 Gbit/s "
                     "of 0.4", res),
                 1);
    cr_expect_str_eq(res->status, "completed");
    free(res);
}

Test(link_share, others_leave_more)
{
    static _Atomic int flows = 2;
    static _Atomic long long avail = 37500000;
    co_ctl_result *res = calloc(1, sizeof *res);
    cr_expect_eq(run(&flows, &avail, "the stop-and-copy counts on 0.3 Gbit/s of 0.4", res), 1);
    free(res);
}

Test(link_share, alone)
{
    co_ctl_result *res = calloc(1, sizeof *res);
    cr_expect_eq(run(NULL, NULL, "", res), 0);
    cr_expect_str_eq(res->status, "completed");
    free(res);
}

Test(link_share, one_flow)
{
    static _Atomic int flows = 1;
    co_ctl_result *res = calloc(1, sizeof *res);
    cr_expect_eq(run(&flows, NULL, "", res), 0);
    free(res);
}
