/* tests/cycle/test_cycle_view.c: a whole cycle on a small lab (2 hosts, 1
 * guest of 64 MiB on h1, 200 Mbit/s; CUTOVER_SLOW=1, ~40-60 s), run twice:
 *   bytes_and_view  under a pseudo-terminal (script(1)) the TTY view is
 *                   drawn (the table redrawn in place: cursor-up escapes,
 *                   "ETA", a line per host, "migrating vm1"); the JSON
 *                   report on stdout is not mixed with it; every mig_end
 *                   of a completed migration carries the bytes sent (at
 *                   least half the guest's 64 MiB), the report's
 *                   vms[].bytes is their sum; with stderr not a TTY
 *                   nothing is drawn. A cycle stopped by the known libvirt
 *                   hang of a rebalance (docs/cycle.md) is tolerated: what
 *                   ran is checked.
 * The cluster is torn down in .fini. */
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

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Sum of the bytes of vm's mig_end records (completed or not); *n the
 * completed ones, each of which must carry its bytes. */
static double journal_bytes(const char *jpath, const char *vm, int *n)
{
    FILE *f = fopen(jpath, "r");
    cr_assert_not_null(f);
    char line[8192];
    double sum = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *r = json_loads(line, 0, NULL);
        json_t *b = r ? json_object_get(r, "bytes") : NULL;
        if (r && !strcmp(jstr(r, "ev"), "mig_end") && !strcmp(jstr(r, "vm"), vm)) {
            sum += json_number_value(b);
            if (!strcmp(jstr(r, "status"), "completed") &&
                !json_is_true(json_object_get(r, "reconciled"))) {
                cr_expect(json_is_number(b), "mig_end without bytes: %s", line);
                cr_expect_gt(json_number_value(b), 32.0 * 1048576, "%s", line);
                (*n)++;
            }
        }
        json_decref(r);
    }
    fclose(f);
    return sum;
}

Test(cycle_view, bytes_and_view, .fini = fini, .timeout = 600)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    if (!getenv("CUTOVER_SLOW"))
        cr_skip_test("slow (a lab cycle, ~1 min under TCG): CUTOVER_SLOW=1");
    if (access("/usr/bin/script", X_OK) != 0)
        cr_skip_test("script(1) (util-linux) not installed: no pseudo-terminal");
    const char *flags[] = {"--hosts", "2", "--vms", "1", "--mem", "64MiB", "--nic", "200Mbit",
                           NULL};
    json_t *lab = up(flags);
    strcpy(tdir, "/tmp/co-cyc-view-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    char cfile[300], jpath[128], tty[128], cmd[1200], bin_abs[300];
    snprintf(cfile, sizeof cfile, "%s/cluster.json", fx_dir);
    snprintf(jpath, sizeof jpath, "%s/j.jsonl", tdir);
    snprintf(tty, sizeof tty, "%s/typescript", tdir);
    if (!realpath(bin(), bin_abs))
        snprintf(bin_abs, sizeof bin_abs, "%s", bin());
    /* paths from mkdtemp and the lab: no quoting needed in script's -c
     * command; the report goes to a file, the pty gets stderr (the view) */
    char rpath[160];
    snprintf(rpath, sizeof rpath, "%s/report.json", tdir);
    snprintf(cmd, sizeof cmd, "%s cycle %s --journal %s --json > %s", bin_abs, cfile, jpath,
             rpath);
    const char *argv[] = {"/usr/bin/script", "-q", "-e", "-c", cmd, tty, NULL};
    static char out[MAX_OUT], err[MAX_OUT];
    int rc = run(argv, out, err, -1);
    /* 1: stopped; seen when the rebalance into the rebooted h1 hangs in
     * libvirt (docs/cycle.md, "Known problem"): the view and the bytes are
     * still checked on what ran */
    cr_assert(rc == 0 || rc == 1, "cycle under a pty: exit %d: %s", rc, err);
    if (rc == 1)
        cr_log_warn("the cycle stopped (exit 1): checking what ran");
    char *ts = slurp(tty);
    cr_expect(strstr(ts, "\033[J") != NULL, "no redraw in the typescript");
    cr_expect(strstr(ts, "cycle running  elapsed") != NULL);
    cr_expect(strstr(ts, "> h1 ") != NULL, "h1 never shown running");
    cr_expect(strstr(ts, "migrating vm1 h1 -> h2") != NULL, "no migration in flight shown");
    if (rc == 0)
        cr_expect(strstr(ts, "(0 of 2 host(s) left)") != NULL);
    cr_expect_null(strstr(ts, "\"status\""), "the JSON report went to the pty");

    int n = 0;
    double sum = journal_bytes(jpath, "vm1", &n);
    cr_expect_geq(n, 1, "vm1 was evacuated at least");
    json_t *r = json_load_file(rpath, 0, NULL);
    cr_assert_not_null(r, "no report in %s", rpath);
    json_t *v = json_array_get(json_object_get(r, "vms"), 0);
    cr_expect_str_eq(jstr(v, "name"), "vm1");
    cr_expect_float_eq(json_number_value(json_object_get(v, "bytes")), sum, 1.0);
    json_decref(r);

    /* stderr not a TTY: nothing drawn (the dry run's stderr stays empty) */
    const char *plain[] = {bin(), "cycle", cfile, "--dry-run", NULL};
    rc = run(plain, out, err, -1);
    cr_expect_null(strchr(err, '\033'), "escape sequences on a non-TTY: %s", err);
    cr_expect_null(strchr(out, '\033'), "escape sequences on a non-TTY: %s", out);
    json_decref(lab);
}
