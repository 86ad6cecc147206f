/* tests/sim/test_load.c: the cluster reader accepts good input and names
 * FILE:LINE: PATH for bad input. */
#include <criterion/criterion.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

#define HOSTS                                                                   \
    "{\"hosts\": [\n"                                                           \
    "  {\"name\": \"a\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"},\n" \
    "  {\"name\": \"b\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"}\n"  \
    "],\n"

static int load(const char *text, co_diag *d, co_sim_cluster **c)
{
    co_diag_init(d);
    return co_sim_load_buffer(text, strlen(text), "t.json", c, d);
}

static void expect_bad(const char *text, const char *want)
{
    co_diag d;
    co_sim_cluster *c = NULL;
    int rc = load(text, &d, &c);
    cr_assert_eq(rc, CO_EDATA, "rc %d for: %s", rc, text);
    cr_assert_null(c);
    cr_assert(strstr(d.msg, want) != NULL, "message '%s' lacks '%s'", d.msg, want);
}

Test(load, good_minimal)
{
    co_diag d;
    co_sim_cluster *c;
    const char *t = HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"b\", \"vcpus\": 2, "
                          "\"mem\": \"4GiB\"}]}";
    cr_assert_eq(load(t, &d, &c), 0, "%s", d.msg);
    cr_assert_eq(c->nhosts, 2);
    cr_assert_eq(c->nvms, 1);
    cr_assert_eq(c->vms[0].host, 1);
    cr_assert_eq(c->plan.nhosts, 2);
    cr_assert_eq(c->plan.per_host, 1); /* nova preset by default */
    co_sim_cluster_free(c);
}

Test(load, syntax_error_names_line_and_column)
{
    expect_bad("{\"hosts\": [\n  {\"name\": \"a\",,}\n]}", "t.json:2:");
}

Test(load, bad_rate_names_line_and_path)
{
    expect_bad("{\"hosts\": [\n"
               "  {\"name\": \"a\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"},\n"
               "  {\"name\": \"b\", \"cores\": 8, \"mem\": \"32GiB\",\n"
               "   \"nic_rate\": \"fast\"}\n]}",
               "t.json:4: hosts[1].nic_rate: 'fast' is not a rate");
}

Test(load, unknown_field)
{
    expect_bad(HOSTS "\"plan\": {\n \"max_retry\": 3}}", "t.json:6: plan.max_retry: unknown field");
}

Test(load, unknown_host)
{
    expect_bad(HOSTS "\"vms\": [\n{\"name\": \"v\", \"host\": \"zz\", \"vcpus\": 1, "
                     "\"mem\": \"1GiB\"}]}",
               "t.json:6: vms[0].host: no host named 'zz'");
}

Test(load, over_capacity_at_start)
{
    expect_bad(HOSTS "\"vms\": [\n{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, "
                     "\"mem\": \"40GiB\"}]}",
               "vms[0].host: host 'a' is over its memory");
}

Test(load, anti_affinity_conflict_at_start)
{
    expect_bad(HOSTS "\"vms\": [\n"
                     "{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", "
                     "\"anti_affinity\": \"g\"},\n"
                     "{\"name\": \"w\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", "
                     "\"anti_affinity\": \"g\"}]}",
               "t.json:7: vms[1].anti_affinity: group 'g' already has VM 'v'");
}

Test(load, bad_distribution)
{
    expect_bad(HOSTS "\"plan\": {\"steps\": {\n\"reboot\": {\"dist\": \"uniform\", "
                     "\"min\": \"5min\", \"max\": \"1min\"}}}}",
               "t.json:6: plan.steps.reboot: uniform distribution needs 0 <= min <= max");
    expect_bad(HOSTS "\"plan\": {\"steps\": {\"reboot\": {\"dist\": \"gamma\"}}}}",
               "plan.steps.reboot.dist: unknown distribution 'gamma'");
    expect_bad(HOSTS "\"plan\": {\"steps\": {\"reboot\": 300}}}",
               "plan.steps.reboot: expected a time");
}

Test(load, bad_dirty_and_preset)
{
    expect_bad(HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, "
                     "\"mem\": \"1GiB\", \"dirty\": {\"kind\": \"uniform\", \"wss\": \"1GiB\"}}]}",
               "vms[0].dirty.rate_pages_per_s: missing");
    expect_bad(HOSTS "\"plan\": {\"concurrency\": \"openstack\"}}",
               "plan.concurrency: unknown preset 'openstack'");
    expect_bad(HOSTS "\"plan\": {\"faults\": {\"patch_fail_prob\": 1.5}}}",
               "plan.faults.patch_fail_prob: 1.5 is out of range");
}

Test(load, misc_shapes)
{
    expect_bad("[]", "expected a JSON object");
    expect_bad("{\"hosts\": []}", "hosts: expected a non-empty array");
    expect_bad(HOSTS "\"vms\": {}}", "vms: expected an array");
    expect_bad("{\"hosts\": [{\"name\": \"a\", \"name2\": 1}]}", "hosts[0].name2: unknown field");
    expect_bad(HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1.5, "
                     "\"mem\": \"1GiB\"}]}",
               "vms[0].vcpus: expected an integer");
}

Test(load, missing_file)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file("/nonexistent/x.json", &c, &d), CO_ENOINPUT);
    cr_assert_eq(co_exit_code(CO_ENOINPUT), 66);
}

Test(load, example_cluster)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file("traces/example-cluster.json", &c, &d), 0, "%s", d.msg);
    cr_assert_geq(c->nhosts, 8);
    cr_assert_geq(c->nvms, 90);
    cr_assert_geq(c->ndomains, 2);
    co_sim_cluster_free(c);
}

Test(load, word_choices)
{
    expect_bad(HOSTS "\"plan\": {\n \"rebalance\": \"back\"}}",
               "t.json:6: plan.rebalance: 'back' is not return, duration or balance");
    expect_bad(HOSTS "\"plan\": {\n \"policy\": {\"mode\": \"fast\"}}}",
               "plan.policy.mode: 'fast' is not precopy, postcopy, hybrid or pause");
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(HOSTS "\"plan\": {\"rebalance\": \"duration\", \"order\": \"list\", "
                            "\"faults\": {\"on_abort\": \"cold\"}}}", &d, &c), 0, "%s", d.msg);
    cr_assert_eq(c->plan.rebalance, CO_REBAL_DURATION);
    cr_assert_eq(c->plan.order, CO_ORDER_LIST);
    cr_assert_eq(c->plan.on_abort, CO_ABORT_COLD);
    co_sim_cluster_free(c);
    cr_assert_eq(load(HOSTS "\"plan\": {\"rebalance\": \"balance\"}}", &d, &c), 0, "%s", d.msg);
    cr_assert_eq(c->plan.rebalance, CO_REBAL_BALANCE);
    co_sim_cluster_free(c);
}
