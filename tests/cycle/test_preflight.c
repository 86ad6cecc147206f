/* tests/cycle/test_preflight.c: the MTU path check of a host's preflight
 * (cycle/preflight.h) without a lab: the probe is tests/cycle/hooks/
 * mtu_probe.sh, which fails for one pair ("h1-h3") and logs each argv.
 *   addr_of, payload   addresses out of migration and libvirt URIs; the
 *                      ping payload over IPv4 (MTU - 28) and IPv6 (- 48)
 *   pairs              h1 toward every other host with a uri: each
 *                      probe's argv (peer, address, MTU, payload), passed /
 *                      FAILED with the probe's last line, the error names
 *                      both hosts and the MTU; logs beside the journal
 *   not_checked        no probe, mtu_check false: nothing runs, why said
 *   dry_run_temp_dir   without a journal dir the logs go to a temp dir
 *                      that is removed
 *   stopped            a stop flag already up: CO_ECANCELED, nothing runs
 *   json_and_text      the "mtu_path" JSON and its text lines */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cycle/preflight.h"
#include "util/error.h"

static char g_dir[64], g_log[128], g_probe[512];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    (void)remove(p);
    return 0;
}

static void init(void)
{
    strcpy(g_dir, "/tmp/copf-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    snprintf(g_log, sizeof g_log, "%s/probe.log", g_dir);
    setenv("MTU_PROBE_LOG", g_log, 1);
    char cwd[400];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(g_probe, sizeof g_probe, "%s/tests/cycle/hooks/mtu_probe.sh", cwd);
}

static void fini(void)
{
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(preflight, .init = init, .fini = fini, .timeout = 60);

/* h1 (MTU 9000, IPv4), h2 (IPv6 migration address), h3 (no migration_uri:
 * its libvirt URI's host), h4 (no uri: not a peer). hook: NULL = none. */
static co_sim_cluster *cluster(const char *hook, int mtu_check)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"hosts\": [\n"
             " {\"name\": \"h1\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\", "
             "\"mtu\": 9000, \"uri\": \"qemu+tcp://10.0.0.1/system\", "
             "\"migration_uri\": \"tcp://10.0.0.1\"},\n"
             " {\"name\": \"h2\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\", "
             "\"uri\": \"qemu+tcp://[fd00::2]/system\", "
             "\"migration_uri\": \"tcp://[fd00::2]:49152\"},\n"
             " {\"name\": \"h3\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\", "
             "\"mtu\": 9000, \"uri\": \"qemu+ssh://root@h3.example/system\"},\n"
             " {\"name\": \"h4\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"}\n"
             "], \"vms\": []%s%s%s,\n"
             "\"plan\": {\"execution\": {\"mtu_check\": %s}}}\n",
             hook ? ", \"hooks\": {\"mtu_probe\": [\"" : "", hook ? hook : "",
             hook ? "\", \"h1-h3\", \"{host}\", \"{peer}\", \"{peer_addr}\", \"{mtu}\", "
                    "\"{payload}\"]}"
                  : "",
             mtu_check ? "true" : "false");
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "pf.json", &c, &d), CO_OK, "%s\n%s",
                 d.msg, text);
    return c;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

Test(preflight, addr_of)
{
    struct {
        const char *uri, *want;
    } cases[] = {
        {"tcp://10.0.0.2", "10.0.0.2"},
        {"tcp://10.0.0.2:49152", "10.0.0.2"},
        {"tcp:10.0.0.2:49152", "10.0.0.2"},
        {"tcp://[fd00::2]:49152", "fd00::2"},
        {"tcp://[fd00::2]", "fd00::2"},
        {"qemu+ssh://root@h2.example:2222/system?keyfile=/k", "h2.example"},
        {"qemu+tcp://169.254.103.1/system", "169.254.103.1"},
        {"10.0.0.7", "10.0.0.7"},
        {"fd00::7", "fd00::7"},
        {"qemu:///system", ""},
        {"", ""},
        {NULL, ""},
        {"tcp://[fd00::2", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = co_pf_addr_of(cases[i].uri, out, sizeof out);
        cr_expect_str_eq(out, cases[i].want, "%s", cases[i].uri ? cases[i].uri : "(null)");
        cr_expect_eq(n, strlen(cases[i].want));
    }
    char tiny[4];
    cr_expect_eq(co_pf_addr_of("tcp://10.0.0.2", tiny, sizeof tiny), 0u);
    cr_expect_str_empty(tiny);
}

Test(preflight, payload)
{
    cr_expect_eq(co_pf_payload_bytes(9000, "10.0.0.2"), 8972);
    cr_expect_eq(co_pf_payload_bytes(1500, "h2.example"), 1472);
    cr_expect_eq(co_pf_payload_bytes(9000, "fd00::2"), 8952);
    cr_expect_eq(co_pf_payload_bytes(1280, "fd00::2"), 1232);
    cr_expect_eq(co_pf_payload_bytes(20, "10.0.0.2"), 0);
}

Test(preflight, pairs)
{
    co_sim_cluster *c = cluster(g_probe, 1);
    co_pf_opts o = {.journal_dir = g_dir};
    co_pf_mtu m;
    co_diag d;
    co_diag_init(&d);
    int rc = co_pf_mtu_check(c, 0, &o, &m, &d);
    cr_assert_eq(rc, CO_EFAILED, "rc %d: %s", rc, d.msg);
    cr_assert_eq(m.checked, 1);
    cr_assert_eq(m.npairs, 2, "h4 has no uri: not a peer");
    cr_expect_eq(m.passed, 1);
    cr_expect_eq(m.failed, 1);
    /* h1 -> h2: IPv6 migration address, payload 9000 - 48 */
    cr_expect_eq(m.pairs[0].to, 1);
    cr_expect_str_eq(m.pairs[0].peer_addr, "fd00::2");
    cr_expect_eq(m.pairs[0].ipv6, 1);
    cr_expect_eq(m.pairs[0].payload_bytes, 8952);
    cr_expect_eq(m.pairs[0].result, CO_PF_PASSED);
    cr_expect_eq(m.pairs[0].exit_status, 0);
    cr_expect(strstr(m.pairs[0].line, "0% packet loss (test: h1-h2)") != NULL, "%s",
              m.pairs[0].line);
    /* h1 -> h3: no migration_uri, its libvirt URI's host; fails */
    cr_expect_eq(m.pairs[1].to, 2);
    cr_expect_str_eq(m.pairs[1].peer_addr, "h3.example");
    cr_expect_eq(m.pairs[1].payload_bytes, 8972);
    cr_expect_eq(m.pairs[1].result, CO_PF_FAILED);
    cr_expect_eq(m.pairs[1].exit_status, 1);
    cr_expect(strstr(m.pairs[1].line, "100% packet loss (test: h1-h3)") != NULL, "%s",
              m.pairs[1].line);
    /* the error names both hosts, the MTU and the probe's line */
    cr_expect(strstr(d.msg, "MTU path check: 1 of 2 pair(s) FAILED; first: h1 -> h3 "
                            "(h3.example): a 9000-byte frame does not pass (MTU 9000, probe "
                            "payload 8972, exit 1): 2 packets transmitted, 0 received") != NULL,
              "%s", d.msg);
    cr_expect_null(strchr(d.msg, '\n'));
    /* the probe got each value as one whole argument */
    char *log = slurp(g_log);
    cr_expect_str_eq(log, "h1 h2 fd00::2 9000 8952\nh1 h3 h3.example 9000 8972\n");
    free(log);
    /* its output went beside the journal */
    char p[200];
    snprintf(p, sizeof p, "%s/hooks/mtu_probe-h1.log", g_dir);
    char *hl = slurp(p);
    cr_expect(strstr(hl, "PING fd00::2 8952(9000)") != NULL, "%s", hl);
    cr_expect(strstr(hl, "PING h3.example 8972(9000)") != NULL, "%s", hl);
    free(hl);
    co_pf_mtu_free(&m);

    /* h2 at the default MTU 1500: both peers pass (IPv4 payloads) */
    co_diag_init(&d);
    rc = co_pf_mtu_check(c, 1, &o, &m, &d);
    cr_expect_eq(rc, CO_OK, "%s", d.msg);
    cr_expect_eq(m.npairs, 2);
    cr_expect_eq(m.passed, 2);
    cr_expect_eq(m.pairs[0].payload_bytes, 1472);
    cr_expect_eq(m.pairs[0].mtu, 1500);
    co_pf_mtu_free(&m);

    /* h3 does not answer libvirt: its pair is skipped, not failed */
    int down[4] = {0, 0, 1, 0};
    o.down = down;
    co_diag_init(&d);
    cr_expect_eq(co_pf_mtu_check(c, 0, &o, &m, &d), CO_OK, "%s", d.msg);
    cr_expect_eq(m.skipped, 1);
    cr_expect_eq(m.pairs[1].result, CO_PF_SKIPPED);
    cr_expect_str_eq(m.pairs[1].line, "h3 does not answer libvirt: not probed");
    co_pf_mtu_free(&m);
    co_sim_cluster_free(c);
}

Test(preflight, not_checked)
{
    co_pf_mtu m;
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = cluster(NULL, 1);
    cr_expect_eq(co_pf_mtu_check(c, 0, NULL, &m, &d), CO_OK);
    cr_expect_eq(m.checked, 0);
    cr_expect_str_eq(m.why, "not checked (no mtu_probe hook)");
    cr_expect_str_eq(co_pf_mtu_unchecked(c), "not checked (no mtu_probe hook)");
    co_pf_mtu_free(&m);
    co_sim_cluster_free(c);
    c = cluster(g_probe, 0);
    cr_expect_eq(co_pf_mtu_check(c, 0, NULL, &m, &d), CO_OK);
    cr_expect_eq(m.checked, 0);
    cr_expect_str_eq(m.why, "not checked (plan.execution.mtu_check is false)");
    cr_expect_not_null(co_pf_mtu_unchecked(c));
    co_pf_mtu_free(&m);
    co_sim_cluster_free(c);
    c = cluster(g_probe, 1);
    cr_expect_null(co_pf_mtu_unchecked(c));
    co_sim_cluster_free(c);
    cr_expect_eq(access(g_log, F_OK), -1, "a probe ran");
}

Test(preflight, dry_run_temp_dir)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/tmp", g_dir);
    cr_assert_eq(mkdir(tmp, 0700), 0);
    setenv("TMPDIR", tmp, 1);
    co_sim_cluster *c = cluster(g_probe, 1);
    co_pf_mtu m;
    co_diag d;
    co_diag_init(&d);
    int rc = co_pf_mtu_check(c, 0, NULL, &m, &d);
    unsetenv("TMPDIR");
    cr_expect_eq(rc, CO_EFAILED, "%s", d.msg);
    /* the last line is kept without a journal too */
    cr_expect(strstr(m.pairs[1].line, "100% packet loss") != NULL, "%s", m.pairs[1].line);
    DIR *dp = opendir(tmp);
    cr_assert_not_null(dp);
    struct dirent *e;
    int left = 0;
    while ((e = readdir(dp)) != NULL)
        left += e->d_name[0] != '.';
    closedir(dp);
    cr_expect_eq(left, 0, "the temp dir of the probe's logs was left behind");
    co_pf_mtu_free(&m);
    co_sim_cluster_free(c);
}

Test(preflight, stopped)
{
    volatile sig_atomic_t stop = 1;
    co_sim_cluster *c = cluster(g_probe, 1);
    co_pf_opts o = {.journal_dir = g_dir, .stop_flag = &stop};
    co_pf_mtu m;
    co_diag d;
    co_diag_init(&d);
    cr_expect_eq(co_pf_mtu_check(c, 0, &o, &m, &d), CO_ECANCELED, "%s", d.msg);
    cr_expect_eq(access(g_log, F_OK), -1, "a probe ran");
    co_pf_mtu_free(&m);
    co_sim_cluster_free(c);
}

Test(preflight, json_and_text)
{
    co_sim_cluster *c = cluster(g_probe, 1);
    co_pf_opts o = {.journal_dir = g_dir};
    json_t *into = json_object();
    co_diag d;
    co_diag_init(&d);
    cr_expect_eq(co_pf_mtu_step(c, 0, &o, into, &d), CO_EFAILED);
    json_t *mp = json_object_get(into, "mtu_path");
    cr_assert_not_null(mp);
    cr_expect(json_is_true(json_object_get(mp, "checked")));
    cr_expect_eq(json_integer_value(json_object_get(mp, "failed")), 1);
    json_t *p1 = json_array_get(json_object_get(mp, "pairs"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(p1, "from")), "h1");
    cr_expect_str_eq(json_string_value(json_object_get(p1, "to")), "h3");
    cr_expect_str_eq(json_string_value(json_object_get(p1, "result")), "FAILED");
    cr_expect_eq(json_integer_value(json_object_get(p1, "mtu")), 9000);
    cr_expect_eq(json_integer_value(json_object_get(p1, "payload")), 8972);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    co_pf_mtu_text(mp, "  ", f);
    fclose(f);
    cr_expect(strstr(buf, "  MTU path h1 -> h2 (fd00::2) at MTU 9000: passed (") != NULL, "%s",
              buf);
    cr_expect(strstr(buf, "  MTU path h1 -> h3 (h3.example) at MTU 9000: FAILED (2 packets "
                          "transmitted, 0 received") != NULL,
              "%s", buf);
    free(buf);
    json_decref(into);

    co_sim_cluster_free(c);
    c = cluster(NULL, 1);
    into = json_object();
    cr_expect_eq(co_pf_mtu_step(c, 0, &o, into, &d), CO_OK);
    buf = NULL;
    f = open_memstream(&buf, &len);
    co_pf_mtu_text(json_object_get(into, "mtu_path"), "", f);
    fclose(f);
    cr_expect_str_eq(buf, "MTU path: not checked (no mtu_probe hook)\n");
    free(buf);
    json_decref(into);
    co_sim_cluster_free(c);
}

Test(preflight, host_without_uri_named_by_line)
{
    const char *text = "{\"hosts\": [\n"
                       " {\"name\": \"a\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": "
                       "\"10Gbit\", \"uri\": \"qemu:///a\"},\n"
                       " {\"name\": \"b\",\n"
                       "  \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"}\n"
                       "], \"vms\": []}\n";
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "x.json", &c, &d), CO_OK, "%s", d.msg);
    co_diag_init(&d);
    cr_expect_eq(co_pf_err_no_uri(c, "x.json", 1, &d), CO_EDATA);
    cr_expect_str_eq(d.msg, "x.json:3: hosts[1]: no \"uri\" (host b): `cutover cycle` needs "
                            "each patched host's libvirt URI");
    co_sim_cluster_free(c);
}
