/* tests/cycle/test_preflight_lab.c: the MTU path check on the cluster lab
 * (3 hosts, no guests, MTU 9000; default suite, ~20-30 s). The lab's
 * cluster.json carries the probe: hooks.mtu_probe = `cutover lab cluster
 * exec DIR {host} -- ping -M do -s {payload} ... {peer_addr}`.
 *   mtu_path  the dry run probes every pair and all pass; `cutover lab
 *             cluster exec` lowers h3's eth0 to MTU 1500 inside its
 *             namespace; the dry run then exits 1 and names h1 -> h3 and
 *             h3 -> h1 FAILED at MTU 9000 (text and JSON), h1 -> h2 still
 *             passes; a real run stops at the canary h1's preflight, its
 *             journal's step_end naming the pair; exec refuses an unknown
 *             host (64). The cluster is torn down in .fini. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libvirt/libvirt.h> /* cluster_fx.h; the Makefile leaves this test out without it */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_fx.h"

static char tdir[64];

static void fini(void)
{
    fx_fini();
    if (tdir[0]) {
        const char *argv[] = {"/bin/rm", "-rf", tdir, NULL};
        run(argv, NULL, NULL, -1);
        tdir[0] = '\0';
    }
}

static json_t *pair(json_t *plan, int host, const char *to)
{
    json_t *mp = json_object_get(json_array_get(json_object_get(plan, "hosts"), (size_t)host),
                                 "mtu_path");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(mp, "pairs"), i, p)
        if (!strcmp(jstr(p, "to"), to))
            return p;
    cr_assert_fail("no pair toward %s in %s", to, json_dumps(mp, 0));
    return NULL;
}

Test(preflight_lab, mtu_path, .fini = fini, .timeout = 300)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    if (access("/usr/bin/ping", X_OK) != 0 && access("/bin/ping", X_OK) != 0)
        cr_skip_test("ping (iputils) not installed");
    const char *flags[] = {"--hosts", "3", "--vms", "0", "--mtu", "9000", NULL};
    json_t *lab = up(flags);
    char cfile[300];
    snprintf(cfile, sizeof cfile, "%s/cluster.json", fx_dir);
    static char out[MAX_OUT], err[MAX_OUT];

    /* every path passes at 9000 */
    const char *dry[] = {bin(), "cycle", cfile, "--dry-run", "--json", NULL};
    int rc = run(dry, out, err, -1);
    cr_assert_eq(rc, 0, "dry run exit %d: %s", rc, err);
    json_t *p = json_loads(out, 0, NULL);
    cr_assert_not_null(p, "%s", out);
    for (int h = 0; h < 3; h++) {
        json_t *mp = json_object_get(json_array_get(json_object_get(p, "hosts"), (size_t)h),
                                     "mtu_path");
        cr_expect(json_is_true(json_object_get(mp, "checked")), "host %d", h);
        cr_expect_eq(json_integer_value(json_object_get(mp, "passed")), 2, "host %d", h);
        cr_expect_eq(json_integer_value(json_object_get(mp, "failed")), 0, "host %d", h);
    }
    cr_expect_eq(json_integer_value(json_object_get(pair(p, 0, "h2"), "payload")), 8972);
    json_decref(p);

    /* h3's link drops to 1500 inside its namespace */
    const char *lower[] = {bin(), "lab", "cluster", "exec", fx_dir, "h3", "--", "ip", "link",
                           "set", "eth0", "mtu", "1500", NULL};
    rc = run(lower, out, err, -1);
    cr_assert_eq(rc, 0, "exec exit %d: %s", rc, err);
    const char *show[] = {bin(), "lab", "cluster", "exec", fx_dir, "3", "ip", "-o", "link",
                          "show", "eth0", NULL};
    rc = run(show, out, err, -1);
    cr_assert_eq(rc, 0, "exec exit %d: %s", rc, err);
    cr_expect(strstr(out, "mtu 1500") != NULL, "%s", out);
    const char *nohost[] = {bin(), "lab", "cluster", "exec", fx_dir, "h9", "--", "true", NULL};
    rc = run(nohost, out, err, -1);
    cr_expect_eq(rc, 64, "exec on h9: exit %d: %s", rc, err);

    rc = run(dry, out, err, -1);
    cr_expect_eq(rc, 1, "dry run exit %d: %s", rc, err);
    cr_expect(strstr(err, "fail the MTU path check") != NULL, "%s", err);
    p = json_loads(out, 0, NULL);
    cr_assert_not_null(p, "%s", out);
    cr_expect_str_eq(jstr(pair(p, 0, "h2"), "result"), "passed");
    json_t *bad = pair(p, 0, "h3");
    cr_expect_str_eq(jstr(bad, "result"), "FAILED");
    cr_expect_str_eq(jstr(bad, "from"), "h1");
    cr_expect_eq(json_integer_value(json_object_get(bad, "mtu")), 9000);
    cr_expect(strstr(jstr(bad, "line"), "100% packet loss") != NULL, "%s", jstr(bad, "line"));
    cr_expect_str_eq(jstr(pair(p, 2, "h1"), "result"), "FAILED");
    json_decref(p);

    const char *dryt[] = {bin(), "cycle", cfile, "--dry-run", NULL};
    rc = run(dryt, out, err, -1);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(out, "MTU path h1 -> h3 (") != NULL &&
                  strstr(out, "at MTU 9000: FAILED (") != NULL,
              "%s", out);

    /* a real run: the canary h1 fails its preflight on that pair */
    strcpy(tdir, "/tmp/co-pf-lab-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    char jpath[128];
    snprintf(jpath, sizeof jpath, "%s/j.jsonl", tdir);
    json_t *c = json_load_file(cfile, 0, NULL);
    cr_assert_not_null(c);
    json_object_set_new(c, "plan", json_pack("{s:[s]}", "canary", "h1"));
    char cyc[128];
    snprintf(cyc, sizeof cyc, "%s/cycle.json", tdir);
    cr_assert_eq(json_dump_file(c, cyc, JSON_INDENT(1)), 0);
    json_decref(c);
    const char *real[] = {bin(), "cycle", cyc, "--journal", jpath, "--json", NULL};
    rc = run(real, out, err, -1);
    cr_expect_eq(rc, 1, "run exit %d: %s", rc, err);
    cr_expect(strstr(err, "canary h1 failed preflight") != NULL, "%s", err);
    cr_expect(strstr(err, "h1 -> h3 (") != NULL && strstr(err, "MTU 9000") != NULL, "%s", err);
    json_t *rep = json_loads(out, 0, NULL);
    cr_assert_not_null(rep, "%s", out);
    cr_expect_str_eq(jstr(rep, "status"), "stopped");
    json_t *h1 = json_array_get(json_object_get(rep, "hosts"), 0);
    json_t *mp = json_object_get(h1, "mtu_path");
    cr_expect_eq(json_integer_value(json_object_get(mp, "failed")), 1, "%s",
                 json_dumps(h1, 0));
    json_decref(rep);
    json_decref(lab);
}
