/* tests/cycle/test_cycle_view.c: a whole cycle on a small lab (2 hosts, 1
 * guest of 64 MiB on h1, 200 Mbit/s; CUTOVER_SLOW=1, ~40-60 s), run twice:
 *   bytes_and_view  under a pseudo-terminal (script(1)) the TTY view is
 *                   drawn (the table redrawn in place: cursor-up escapes,
 *                   "ETA", a line per host, "migrating vm1"); every
 *                   mig_end of a completed migration carries the bytes
 *                   sent (more than the guest's 64 MiB... at least half of
 *                   it), the report's vms[].bytes is their sum; a second
 *                   run with stderr not a TTY has no escape sequence in it.
 * The cluster is torn down in .fini. */
#include <criterion/criterion.h>
#include <jansson.h>
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

/* Sum of the bytes of vm's completed mig_end records; *n their count. */
static double journal_bytes(const char *jpath, const char *vm, int *n)
{
    FILE *f = fopen(jpath, "r");
    cr_assert_not_null(f);
    char line[8192];
    double sum = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *r = json_loads(line, 0, NULL);
        if (r && !strcmp(jstr(r, "ev"), "mig_end") && !strcmp(jstr(r, "vm"), vm) &&
            !strcmp(jstr(r, "status"), "completed")) {
            json_t *b = json_object_get(r, "bytes");
            cr_expect(json_is_number(b), "mig_end without bytes: %s", line);
            cr_expect_gt(json_number_value(b), 32.0 * 1048576, "%s", line);
            sum += json_number_value(b);
            (*n)++;
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
    char cfile[300], jpath[128], tty[128], cmd[1024], bin_abs[300];
    snprintf(cfile, sizeof cfile, "%s/cluster.json", fx_dir);
    snprintf(jpath, sizeof jpath, "%s/j.jsonl", tdir);
    snprintf(tty, sizeof tty, "%s/typescript", tdir);
    if (!realpath(bin(), bin_abs))
        snprintf(bin_abs, sizeof bin_abs, "%s", bin());
    /* paths from mkdtemp and the lab: no quoting needed for script -c */
    snprintf(cmd, sizeof cmd, "%s cycle %s --journal %s --json", bin_abs, cfile, jpath);
    const char *argv[] = {"/usr/bin/script", "-q", "-e", "-c", cmd, tty, NULL};
    static char out[MAX_OUT], err[MAX_OUT];
    int rc = run(argv, out, err, -1);
    size_t ol = strlen(out);
    cr_assert_eq(rc, 0, "cycle under a pty: exit %d: %s\n%s", rc, err,
                 out + (ol > 3000 ? ol - 3000 : 0));
    char *ts = slurp(tty);
    cr_expect(strstr(ts, "\033[J") != NULL, "no redraw in the typescript");
    cr_expect(strstr(ts, "ETA") != NULL);
    cr_expect(strstr(ts, "  h2 ") != NULL || strstr(ts, "> h2 ") != NULL);
    cr_expect(strstr(ts, "migrating vm1 h1 -> h2") != NULL, "no migration in flight shown");
    cr_expect(strstr(ts, "(0 of 2 host(s) left)") != NULL);

    int n = 0;
    double sum = journal_bytes(jpath, "vm1", &n);
    cr_expect_eq(n, 2, "vm1: evacuate and rebalance");
    /* the report (from the journal, by a resume of the completed cycle) */
    const char *rep[] = {bin(), "cycle", cfile, "--journal", jpath, "--resume", "--json", NULL};
    rc = run(rep, out, err, -1);
    cr_assert_eq(rc, 0, "%s", err);
    json_t *r = json_loads(out, 0, NULL);
    cr_assert_not_null(r, "%s", out);
    json_t *v = json_array_get(json_object_get(r, "vms"), 0);
    cr_expect_str_eq(jstr(v, "name"), "vm1");
    cr_expect_float_eq(json_number_value(json_object_get(v, "bytes")), sum, 1.0);
    json_decref(r);

    /* stderr not a TTY: the old log lines, no escape sequence */
    char j2[160];
    snprintf(j2, sizeof j2, "%s/j2.jsonl", tdir);
    const char *plain[] = {bin(), "cycle", cfile, "--journal", j2, NULL};
    rc = run(plain, out, err, -1);
    cr_expect_eq(rc, 0, "%s", err);
    cr_expect_null(strchr(err, '\033'), "escape sequences on a non-TTY: %s", err);
    json_decref(lab);
}
