/* tests/cycle/test_cycle_input.c: `cutover cycle` input that needs no lab
 * (default suite, a few seconds):
 *   bad_files      a hook given as a shell string, a placeholder inside a
 *                  larger argument, a host without "uri" (FILE:LINE:
 *                  hosts[I]): exit 65, one line naming FILE:LINE: and the
 *                  field path; nothing on stdout
 *   usage          no FILE, a run without --journal, --resume without it,
 *                  --dry-run with a journal, an unknown flag: exit 64
 *   journal_locked a second cycle on a journal another process holds is
 *                  refused (exit 75, names the holder) before any host is
 *                  touched
 *   timeline       a journal converts to simulate's timeline CSV (steps,
 *                  migrations, outages, times from the cycle's start);
 *                  a file that is no journal is refused (65)
 *   resumed_error  a host whose step failed and then, resumed, ended ok
 *                  carries no error in the report (a completed journal:
 *                  no host is touched) */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wunused-function"
#include "cluster_fx.h"
#include "cycle/journal.h"
#include "util/diag.h"
#include "util/error.h"

static char tdir[64];

static void init(void)
{
    strcpy(tdir, "/tmp/co-cyc-in-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
}

static void fini(void)
{
    const char *argv[] = {"/bin/rm", "-rf", tdir, NULL};
    run(argv, NULL, NULL, -1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl && nl[1] == '\0';
}

#define HOSTS                                                                                   \
    "{\n"                                                                                       \
    "  \"hosts\": [\n"                                                                          \
    "    {\"name\": \"h1\", \"cores\": 8, \"mem\": \"16GiB\", \"nic_rate\": \"1Gbit\",\n"      \
    "     \"uri\": \"qemu+tcp://127.0.0.9/system\"},\n"                                          \
    "    {\"name\": \"h2\", \"cores\": 8, \"mem\": \"16GiB\", \"nic_rate\": \"1Gbit\",\n"      \
    "     \"uri\": \"qemu+tcp://127.0.0.10/system\"}\n"                                          \
    "  ],\n"                                                                                    \
    "  \"vms\": [{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": 1, \"mem\": \"1GiB\"}],\n"

Test(cycle_input, bad_files, .init = init, .fini = fini)
{
    static char out[MAX_OUT], err[MAX_OUT];
    char f[128];
    snprintf(f, sizeof f, "%s/c.json", tdir);
    struct {
        const char *text, *want;
    } cases[] = {
        {HOSTS "  \"hooks\": {\"patch\": \"ssh {host} apt-get upgrade\"}\n}\n",
         ":9: hooks.patch:"},
        {HOSTS "  \"hooks\": {\"patch\": [\"ssh\", \"--to={host}\"]}\n}\n",
         ":9: hooks.patch[1]:"},
        {"{\n  \"hosts\": [\n    {\"name\": \"h1\", \"cores\": 8, \"mem\": \"16GiB\", \"nic_rate\": \"1Gbit\"}\n  ],\n"
         "  \"vms\": []\n}\n",
         ":3: hosts[0]: no \"uri\" (host h1)"},
        /* the third host of three: its own line, its index */
        {"{\n  \"hosts\": [\n"
         "    {\"name\": \"h1\", \"cores\": 8, \"mem\": \"16GiB\", \"nic_rate\": \"1Gbit\",\n"
         "     \"uri\": \"qemu:///a\"},\n"
         "    {\"name\": \"h2\", \"cores\": 8, \"mem\": \"16GiB\", \"nic_rate\": \"1Gbit\",\n"
         "     \"uri\": \"qemu:///b\"},\n"
         "    {\"name\": \"h3\",\n"
         "     \"cores\": 8, \"mem\": \"16GiB\", \"nic_rate\": \"1Gbit\"}\n  ],\n"
         "  \"vms\": []\n}\n",
         ":7: hosts[2]: no \"uri\" (host h3)"},
        {HOSTS "  \"plan\": {\"execution\": {\"unmovable\": \"migrate\"}}\n}\n",
         ":9: plan.execution.unmovable:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(f, cases[i].text);
        const char *argv[] = {bin(), "cycle", f, "--dry-run", NULL};
        int rc = run(argv, out, err, -1);
        cr_expect_eq(rc, 65, "case %zu: exit %d: %s", i, rc, err);
        cr_expect(strstr(err, cases[i].want) != NULL, "case %zu: want '%s' in: %s", i,
                  cases[i].want, err);
        cr_expect(one_line(err), "case %zu: not one line: %s", i, err);
        cr_expect_str_empty(out, "case %zu: stdout: %s", i, out);
    }
}

Test(cycle_input, usage, .init = init, .fini = fini)
{
    static char out[MAX_OUT], err[MAX_OUT];
    char f[128], j[128];
    snprintf(f, sizeof f, "%s/c.json", tdir);
    snprintf(j, sizeof j, "%s/j", tdir);
    write_file(f, HOSTS "  \"plan\": {}\n}\n");
    const char *a1[] = {bin(), "cycle", NULL};
    const char *a2[] = {bin(), "cycle", f, NULL};
    const char *a3[] = {bin(), "cycle", f, "--resume", NULL};
    const char *a4[] = {bin(), "cycle", f, "--dry-run", "--journal", j, NULL};
    const char *a5[] = {bin(), "cycle", f, "--bogus", NULL};
    const char *const *all[] = {a1, a2, a3, a4, a5};
    for (size_t i = 0; i < 5; i++) {
        int rc = run(all[i], out, err, -1);
        cr_expect_eq(rc, 64, "case %zu: exit %d: %s", i, rc, err);
        cr_expect(one_line(err), "case %zu: %s", i, err);
        cr_expect_str_empty(out);
    }
    cr_expect_eq(access(j, F_OK), -1, "a refused run created the journal");
}

Test(cycle_input, journal_locked, .init = init, .fini = fini)
{
    static char out[MAX_OUT], err[MAX_OUT];
    char f[128], j[128];
    snprintf(f, sizeof f, "%s/c.json", tdir);
    snprintf(j, sizeof j, "%s/j", tdir);
    write_file(f, HOSTS "  \"plan\": {}\n}\n");
    co_diag d;
    co_diag_init(&d);
    co_jrn *held = NULL;
    cr_assert_eq(co_jrn_open(j, 0, &held, &d), CO_OK, "%s", d.msg);
    json_t *r = json_pack("{s:s}", "ev", "cycle_start");
    cr_assert_eq(co_jrn_append(held, r, &d), CO_OK, "%s", d.msg);
    json_decref(r);
    const char *argv[] = {bin(), "cycle", f, "--journal", j, "--resume", NULL};
    int rc = run(argv, out, err, -1);
    co_jrn_close(held);
    cr_expect_eq(rc, 75, "exit %d: %s", rc, err);
    cr_expect(one_line(err), "%s", err);
    cr_expect_str_empty(out);
}

Test(cycle_input, timeline, .init = init, .fini = fini)
{
    static char out[MAX_OUT], err[MAX_OUT];
    char j[128], bad[128];
    snprintf(j, sizeof j, "%s/j.jsonl", tdir);
    snprintf(bad, sizeof bad, "%s/bad.jsonl", tdir);
    write_file(j,
               "{\"seq\":1,\"t_ms\":1000,\"ev\":\"cycle_start\",\"file\":\"c.json\",\"hosts\":"
               "[\"h1\"],\"vms\":{\"a\":\"h1\"}}\n"
               "{\"seq\":2,\"t_ms\":1000,\"ev\":\"step_start\",\"host\":\"h1\",\"step\":"
               "\"evacuate\"}\n"
               "{\"seq\":3,\"t_ms\":1500,\"ev\":\"mig_start\",\"vm\":\"a\",\"from\":\"h1\",\"to\":"
               "\"h2\",\"purpose\":\"evacuate\"}\n"
               "{\"seq\":4,\"t_ms\":3500,\"ev\":\"mig_end\",\"vm\":\"a\",\"from\":\"h1\",\"to\":"
               "\"h2\",\"status\":\"completed\",\"downtime_ms\":120}\n"
               "{\"seq\":5,\"t_ms\":4000,\"ev\":\"step_end\",\"host\":\"h1\",\"step\":"
               "\"evacuate\",\"ok\":true,\"duration_ms\":3000}\n"
               "{\"seq\":6,\"t_ms\":5000,\"ev\":\"vm_outage\",\"vm\":\"b\",\"host\":\"h1\","
               "\"action\":\"shutdown\"}\n"
               "{\"seq\":7,\"t_ms\":9000,\"ev\":\"vm_outage\",\"vm\":\"b\",\"host\":\"h2\","
               "\"action\":\"start\"}\n");
    const char *argv[] = {bin(), "cycle", "--timeline", j, NULL};
    int rc = run(argv, out, err, -1);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_expect_str_eq(out, "kind,host,what,vm,start_s,end_s,stun_ms\n"
                          "migration,h1,h2,a,0.500000,2.500000,120.000\n"
                          "step,h1,evacuate,,0.000000,3.000000,0.000\n"
                          "outage,h2,off,b,4.000000,8.000000,0.000\n");
    write_file(bad, "{\"seq\":1,\"t_ms\":1,\"ev\":\"resume\"}\n");
    const char *argv2[] = {bin(), "cycle", "--timeline", bad, NULL};
    rc = run(argv2, out, err, -1);
    cr_expect_eq(rc, 65, "exit %d: %s", rc, err);
    cr_expect(one_line(err), "%s", err);
}

Test(cycle_input, resumed_error, .init = init, .fini = fini)
{
    static char out[MAX_OUT], err[MAX_OUT];
    char f[128], j[128];
    snprintf(f, sizeof f, "%s/c.json", tdir);
    snprintf(j, sizeof j, "%s/j.jsonl", tdir);
    write_file(f, HOSTS "  \"plan\": {}\n}\n");
    write_file(j,
               "{\"seq\":1,\"t_ms\":1000,\"ev\":\"cycle_start\",\"file\":\"c.json\",\"hosts\":"
               "[\"h1\",\"h2\"],\"vms\":{\"a\":\"h1\"}}\n"
               "{\"seq\":2,\"t_ms\":1100,\"ev\":\"step_end\",\"host\":\"h1\",\"step\":"
               "\"validate\",\"ok\":false,\"duration_ms\":100,\"error\":\"OLD failure\"}\n"
               "{\"seq\":3,\"t_ms\":1200,\"ev\":\"resume\",\"pid\":1,\"torn\":false}\n"
               "{\"seq\":4,\"t_ms\":1300,\"ev\":\"step_end\",\"host\":\"h1\",\"step\":"
               "\"validate\",\"ok\":true,\"duration_ms\":100}\n"
               "{\"seq\":5,\"t_ms\":1400,\"ev\":\"host_end\",\"host\":\"h1\",\"ok\":true}\n"
               "{\"seq\":6,\"t_ms\":1500,\"ev\":\"cycle_end\",\"status\":\"completed\","
               "\"window_ms\":500}\n");
    chmod(j, 0600);
    const char *argv[] = {bin(), "cycle", f, "--journal", j, "--resume", "--json", NULL};
    int rc = run(argv, out, err, -1);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    json_t *r = json_loads(out, 0, NULL);
    cr_assert_not_null(r, "%s", out);
    json_t *h1 = json_array_get(json_object_get(r, "hosts"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(h1, "state")), "done");
    cr_expect_null(json_object_get(h1, "error"), "%s", out);
    json_decref(r);
}
