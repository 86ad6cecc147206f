/* tests/cli/test_migrate_measure.c: `cutover migrate --measure pcap:IFACE,FILTER`
 * on a real QEMU migration over loopback (lab/lab.h: the test guest sends
 * a UDP heartbeat about every millisecond from whichever QEMU runs it to the
 * lab's receiver on 127.0.0.1). Capturing that flow on `lo` sees it stop at
 * the switchover and resume on the destination: a measured outage beside
 * QEMU's downtime. Bad specs are usage errors naming --measure, with the VM
 * untouched. Needs root (CAP_NET_RAW) for the capture: skipped otherwise.
 * The lab kills its QEMUs in fini. No timing assertions. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "lab/lab.h"
#include "qemu_proc.h"
#include "drivers/qmp.h"
#include "test_util.h"

static co_lab *lab;
static char out[1 << 16], err[1 << 14];

static void init(void)
{
    co_test_need_root("a live capture");
    co_diag d;
    co_diag_init(&d);
    co_lab_config c = {.mem_bytes = 32 * 1048576.0};
    cr_assert_eq(co_lab_start(&c, &lab, &d), CO_OK, "lab: %s", d.msg);
    cr_assert_eq(co_lab_wait_ready(lab, 60000, &d), CO_OK, "guest ready: %s", d.msg);
}

static void fini(void)
{
    co_lab_stop(lab);
    lab = NULL;
}

TestSuite(migrate_measure, .init = init, .fini = fini, .timeout = 180);

/* cutover migrate on the lab with a --measure spec and extra flags. */
static int run(const char *measure, const char *extra)
{
    const co_lab_info *in = co_lab_get_info(lab);
    char args[2048];
    snprintf(args, sizeof args,
             "migrate --qmp %s --dest-qmp %s --uri %s --deadline 60s --measure '%s' %s",
             in->src_qmp, in->dst_qmp, in->migrate_uri, measure, extra);
    out[0] = err[0] = '\0';
    return co_test_run(args, out, sizeof out, err, sizeof err);
}

static void expect_usage(int rc, const char *word)
{
    cr_assert_eq(rc, 64, "exit %d: %s", rc, err);
    cr_assert_str_eq(out, "", "%s", out);
    cr_assert(strstr(err, "--measure"), "%s", err);
    cr_assert(strstr(err, word), "'%s' not in: %s", word, err);
    char *nl = strchr(err, '\n');
    cr_assert(nl && nl[1] == '\0', "one line: %s", err);
}

Test(migrate_measure, heartbeat_outage_on_loopback)
{
    const co_lab_info *in = co_lab_get_info(lab);
    /* bad specs first: refused before anything changes */
    expect_usage(run("pcap:lo", "--json"), "pcap:IFACE,FILTER");
    expect_usage(run("pcap:co-no-such0,udp", "--json"), "co-no-such0");
    expect_usage(run("pcap:lo,udp and", "--json"), "udp and");
    cr_assert(1 == tq_qmp_running(in->src_qmp), "guest not running on the source after refusals");

    char spec[128];
    snprintf(spec, sizeof spec, "pcap:lo,udp dst port %d", in->hb_port);
    int rc = run(spec, "--max-downtime 300ms --json");
    cr_assert_eq(rc, 0, "exit %d: %s%s", rc, err, out);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "completed");
    json_t *m = json_object_get(j, "measure");
    cr_assert(json_is_object(m), "no measure object: %s", out);
    cr_expect_str_eq(json_string_value(json_object_get(m, "iface")), "lo");
    cr_expect(strstr(json_string_value(json_object_get(m, "filter")), "udp dst port"), "%s", out);
    cr_expect_str_eq(json_string_value(json_object_get(m, "mode")), "gap");
    cr_expect(json_number_value(json_object_get(m, "packets")) > 0, "%s", out);
    cr_expect(json_number_value(json_object_get(m, "outages")) >= 1, "%s", out);
    double measured = json_number_value(json_object_get(j, "measured_downtime_ms"));
    cr_assert(json_is_number(json_object_get(j, "measured_downtime_ms")) && measured > 0,
              "measured_downtime_ms: %s", out);
    cr_expect_float_eq(json_number_value(json_object_get(m, "longest_outage_ms")), measured,
                       1e-9);
    cr_expect(json_is_number(json_object_get(j, "downtime_ms")), "QEMU's downtime beside it");
    fprintf(stderr, "[measure] QEMU downtime %.0f ms, on the wire %.1f ms (%.0f outages)\n",
            json_number_value(json_object_get(j, "downtime_ms")), measured,
            json_number_value(json_object_get(m, "outages")));
    json_decref(j);
    cr_assert(1 == tq_qmp_running(in->dst_qmp), "guest not running on the destination");
}
