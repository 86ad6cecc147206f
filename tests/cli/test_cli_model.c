/* `cutover model` and `cutover tune` from the outside: output, JSON, bad input. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "test_util.h"

static char out[1 << 20], err[1 << 16];

Test(cli, version_and_help)
{
    cr_assert_eq(co_test_run("--version", out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "cutover "));
    cr_assert_eq(co_test_run("--help", out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "model"));
    cr_assert_eq(co_test_run("model --help", out, sizeof out, err, sizeof err), 0);
    cr_assert(strstr(out, "--downtime-limit"));
    cr_assert_eq(co_test_run("tune --help", out, sizeof out, err, sizeof err), 0);
    cr_assert_eq(co_test_run("nosuchcommand", out, sizeof out, err, sizeof err), 64);
}

Test(cli, model_json_has_the_keys)
{
    int rc = co_test_run("model --mem 16GiB --dirty uniform:wss=4GiB,rate=20000 --link 10Gbit "
                         "--mtu 9000 --channels 4 --downtime-limit 300ms --max-bandwidth 1Gbit --json",
                         out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    const char *keys[] = {"converged", "passes", "total_time_ms", "downtime_ms",
                          "transferred_bytes", "bandwidth_bps", "downtime_floor_ms", "timeline"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        cr_assert_not_null(json_object_get(j, keys[i]), "missing %s", keys[i]);
    cr_assert(json_is_true(json_object_get(j, "converged")));
    /* 1 Gbit/s max-bandwidth: 16 GiB alone takes 137 s; re-sending the 4 GiB set adds more */
    double t = json_number_value(json_object_get(j, "total_time_ms"));
    cr_assert(t > 137e3 && t < 300e3, "%g", t);
    json_decref(j);
}

Test(cli, not_converging_says_why_and_what_helps)
{
    int rc = co_test_run("model --mem 8GiB --dirty uniform:wss=2GiB,rate=1000000", out, sizeof out,
                         err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "does NOT converge"), "%s", out);
    cr_assert(strstr(out, "--throttle"), "%s", out);
}

/* Each bad input: one line on stderr naming the flag, nothing on stdout, exit 64. */
Test(cli, bad_input)
{
    const char *cases[][2] = {
        {"model --mem 16GiX", "--mem"},
        {"model --mem -4GiB", "--mem"},
        {"model --mem 100TiB", "--mem"},
        {"model --mem 16GiB --link 10Gbps", "--link"},
        {"model --mem 16GiB --link fast", "--link"},
        {"model --mem 16GiB --mtu 100", "--mtu"},
        {"model --mem 16GiB --mtu 9k", "--mtu"},
        {"model --mem 16GiB --channels 0", "--channels"},
        {"model --mem 16GiB --downtime-limit 300", "--downtime-limit"},
        {"model --mem 16GiB --dirty uniform:wss=4GiB", "--dirty"},
        {"model --mem 16GiB --dirty uniform:wss=4GiB,rate=20000,x=1", "--dirty"},
        {"model --mem 16GiB --dirty wobbly:rate=1", "--dirty"},
        {"model --mem 16GiB --mode sideways", "--mode"},
        {"model --mem 16GiB --throttle 120", "--throttle"},
        {"model --dirty none", "--mem"},
        {"model --mem 16GiB --bogus", "--bogus"},
        {"model --mem", "--mem"},
        {"tune --mem 16GiB --max-downtime fast", "--max-downtime"},
        {"tune --mem 16GiB --csv --json", "choose one"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = co_test_run(cases[i][0], out, sizeof out, err, sizeof err);
        cr_assert_eq(rc, 64, "'%s' exited %d: %s", cases[i][0], rc, err);
        cr_assert_eq(out[0], '\0', "'%s' printed on stdout: %s", cases[i][0], out);
        cr_assert(strstr(err, cases[i][1]), "'%s': message does not name %s: %s", cases[i][0],
                  cases[i][1], err);
        cr_assert(strchr(err, '\n') == err + strlen(err) - 1, "'%s': not one line: %s",
                  cases[i][0], err);
    }
}

Test(cli, bad_trace_files_exit_65_or_66)
{
    int rc = co_test_run("model --mem 256MiB --dirty trace:tests/data/trace-decreasing.json", out,
                         sizeof out, err, sizeof err);
    cr_assert_eq(rc, 65, "%s", err);
    cr_assert(strstr(err, "trace-decreasing.json:9: points[1].dirty_pages"), "%s", err);
    rc = co_test_run("model --mem 256MiB --dirty trace:/nonexistent.json", out, sizeof out, err,
                     sizeof err);
    cr_assert_eq(rc, 66, "%s", err);
}

Test(cli, tune_recommends)
{
    int rc = co_test_run("tune --mem 16GiB --dirty uniform:wss=4GiB,rate=100000 --link 25Gbit "
                         "--max-downtime 500ms --json",
                         out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j);
    json_t *rec = json_object_get(j, "recommended");
    cr_assert(json_is_object(rec));
    cr_assert_eq(json_array_size(json_object_get(j, "rows")), 2 * 16 * 5);
    cr_assert(json_number_value(json_object_get(rec, "downtime_ms")) <= 500);
    json_decref(j);
    rc = co_test_run("tune --mem 16GiB --dirty uniform:wss=4GiB,rate=100000 --csv", out, sizeof out,
                     err, sizeof err);
    cr_assert_eq(rc, 0);
    cr_assert(strncmp(out, "mtu,channels,downtime_limit_ms", 30) == 0);
}

Test(cli, tune_plot_writes_png)
{
    co_test_need_cmd("gnuplot");
    char png[] = "/tmp/cotune-XXXXXX.png";
    int fd = mkstemps(png, 4);
    close(fd);
    unlink(png);
    char args[256];
    snprintf(args, sizeof args, "tune --mem 8GiB --dirty uniform:wss=1GiB,rate=50000 --plot %s", png);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    FILE *f = fopen(png, "rb");
    cr_assert_not_null(f);
    unsigned char sig[8] = {0};
    cr_assert_eq(fread(sig, 1, 8, f), 8);
    fclose(f);
    unlink(png);
    cr_assert(sig[0] == 0x89 && sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G');
    /* an output that cannot be created: 73 (EX_CANTCREAT), naming it */
    rc = co_test_run("tune --mem 8GiB --plot /nonexistent-dir/x.png", out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 73, "%s", err);
    cr_assert(strstr(err, "/nonexistent-dir/x.png") != NULL, "%s", err);
}
