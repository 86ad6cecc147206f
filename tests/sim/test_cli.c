/* tests/sim/test_cli.c: `cutover simulate` end to end: outputs, exit codes,
 * one-line errors, thread-count invariance, timeline and plots. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

#define EX "traces/example-cluster.json"

static char out[1 << 16], err[1 << 14];

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl != NULL && nl[1] == '\0';
}

Test(cli, example_text)
{
    int rc = co_test_run("simulate " EX " --runs 20 --seed 3", out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
    cr_assert(strstr(out, "window") && strstr(out, "stun per VM") && strstr(out, "MTTR"));
}

Test(cli, json_same_for_any_thread_count)
{
    static char a[1 << 16];
    int rc = co_test_run("simulate " EX " --runs 30 --seed 9 --json --threads 1", a, sizeof a,
                         err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    rc = co_test_run("simulate " EX " --runs 30 --seed 9 --json --threads 2", out, sizeof out, err,
                     sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(a, out);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "bad JSON: %s", je.text);
    json_t *w = json_object_get(j, "window");
    double p50 = json_number_value(json_object_get(w, "p50_s"));
    double p99 = json_number_value(json_object_get(w, "p99_s"));
    cr_assert(p50 > 0 && p99 >= p50);
    cr_assert_not_null(json_object_get(json_object_get(j, "stun_per_vm"), "p99_ms"));
    cr_assert_not_null(json_object_get(j, "mttr"));
    cr_assert_eq(json_integer_value(json_object_get(j, "runs")), 30);
    json_decref(j);
}

Test(cli, missing_file_is_66)
{
    int rc = co_test_run("simulate /nonexistent/c.json", out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 66);
    cr_assert_str_eq(out, "");
    cr_assert(one_line(err) && strstr(err, "/nonexistent/c.json"), "%s", err);
}

Test(cli, bad_data_is_65_with_file_line_field)
{
    char path[] = "/tmp/cotest-sim-XXXXXX";
    int fd = mkstemp(path);
    const char *t = "{\"hosts\": [\n {\"name\": \"a\", \"cores\": 8, \"mem\": \"8GiB\",\n"
                    "  \"nic_rate\": \"10Gbps\"}]}\n";
    cr_assert_eq(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    char args[256];
    snprintf(args, sizeof args, "simulate %s", path);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 65);
    cr_assert_str_eq(out, "");
    cr_assert(one_line(err), "%s", err);
    char want[128];
    snprintf(want, sizeof want, "%s:3: hosts[0].nic_rate:", path);
    cr_assert(strstr(err, want), "'%s' lacks '%s'", err, want);
}

Test(cli, directory_is_io_error)
{
    int rc = co_test_run("simulate /tmp", out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 74, "rc %d: %s", rc, err);
    cr_assert(one_line(err));
}

Test(cli, usage_errors_are_64)
{
    const char *bad[] = {"simulate", "simulate " EX " --runs 0", "simulate " EX " --runs x",
                         "simulate " EX " --bogus", "simulate " EX " --threads 0",
                         "simulate " EX " --seed -1", "simulate " EX " --seed 9223372036854775808",
                         "simulate " EX " extra"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = co_test_run(bad[i], out, sizeof out, err, sizeof err);
        cr_assert_eq(rc, 64, "'%s' gave %d", bad[i], rc);
        cr_assert(one_line(err), "'%s': %s", bad[i], err);
        cr_assert_str_eq(out, "");
    }
}

Test(cli, missing_gnuplot_is_a_clear_error)
{
    setenv("CUTOVER_GNUPLOT", "/nonexistent/gnuplot", 1);
    int rc = co_test_run("simulate " EX " --runs 2 --plot-gantt /tmp/x.png", out, sizeof out, err,
                         sizeof err);
    unsetenv("CUTOVER_GNUPLOT");
    cr_assert_eq(rc, 69);
    cr_assert(one_line(err) && strstr(err, "gnuplot not found"), "%s", err);
}

Test(cli, timeline_and_plots)
{
    char dir[] = "/tmp/cotest-simplot-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char args[512], csv[128], g[128], s[128];
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    snprintf(g, sizeof g, "%s/g.png", dir);
    snprintf(s, sizeof s, "%s/s.png", dir);
    /* The timeline is checked everywhere; the PNGs only where gnuplot runs
     * (the test reports a skip after its timeline checks otherwise). */
    const char *gp = getenv("CUTOVER_GNUPLOT");
    int have_gp = co_test_have_cmd(gp && *gp ? gp : "gnuplot");
    if (have_gp)
        snprintf(args, sizeof args, "simulate " EX " --runs 5 --timeline %s --plot-gantt %s "
                 "--plot-stun %s", csv, g, s);
    else
        snprintf(args, sizeof args, "simulate " EX " --runs 5 --timeline %s", csv);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "kind,host,what,vm,start_s,end_s,stun_ms\n");
    int steps = 0, migs = 0;
    while (fgets(line, sizeof line, f)) {
        steps += strncmp(line, "step,", 5) == 0;
        migs += strncmp(line, "migration,", 10) == 0;
    }
    fclose(f);
    cr_assert_gt(steps, 12 * 9);
    cr_assert_gt(migs, 50);
    if (have_gp) {
        unsigned char magic[8];
        const char *pngs[] = {g, s};
        for (int i = 0; i < 2; i++) {
            f = fopen(pngs[i], "rb");
            cr_assert_not_null(f, "%s missing", pngs[i]);
            cr_assert_eq(fread(magic, 1, 8, f), 8);
            fclose(f);
            cr_assert_eq(memcmp(magic, "\x89PNG", 4), 0);
            unlink(pngs[i]);
        }
    }
    unlink(csv);
    rmdir(dir);
    if (!have_gp)
        cr_skip_test("gnuplot not found in PATH: --plot-gantt/--plot-stun PNGs not checked "
                     "(the timeline was)");
}

/* --help and man/cutover.1 list the same flags of simulate. */
Test(cli, help_and_man_page_list_every_flag)
{
    static const char *const flags[] = {"runs", "seed", "threads", "json", "timeline",
                                        "plot-gantt", "plot-stun", "check", "help", NULL};
    int rc = co_test_run("simulate --help", out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0);
    FILE *f = fopen("man/cutover.1", "r");
    cr_assert_not_null(f);
    static char man[1 << 17];
    size_t n = fread(man, 1, sizeof man - 1, f);
    man[n] = '\0';
    fclose(f);
    const char *sec = strstr(man, ".SH \"SIMULATE OPTIONS\"");
    cr_assert_not_null(sec, "no SIMULATE OPTIONS section in the man page");
    const char *end = strstr(sec + 1, ".SH ");
    for (int i = 0; flags[i]; i++) {
        char h[64], m[64];
        snprintf(h, sizeof h, "--%s", flags[i]);
        cr_assert(strstr(out, h), "--help lacks %s", h);
        /* man escapes each '-' as \- */
        size_t k = (size_t)snprintf(m, sizeof m, "\\-\\-");
        for (const char *c = flags[i]; *c; c++)
            k += (size_t)snprintf(m + k, sizeof m - k, *c == '-' ? "\\-" : "%c", *c);
        const char *hit = strstr(sec, m);
        cr_assert(hit && (end == NULL || hit < end), "man page lacks %s under simulate", h);
    }
    for (int code = 64; code <= 74; code++) {
        static const int used[] = {64, 65, 66, 69, 70, 71, 73, 74};
        for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
            if (used[i] == code) {
                char c[12];
                snprintf(c, sizeof c, "%d", code);
                cr_assert(strstr(out, c), "--help lacks exit code %d", code);
            }
    }
}
