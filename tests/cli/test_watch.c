/* tests/cli/test_watch.c: `cutover watch` on real migrations between two
 * QEMU 7.2 processes started here (and always killed in fini). */
#include <criterion/criterion.h>
#include <pthread.h>

#include "engine/qmp.h"
#include "engine/qemu_proc.h"
#include "test_util.h"

static char dir[64], memfile[128], tl[128];
static tq_qemu src, dst;
static int port;

static void setup(void)
{
    cr_assert_eq(tq_mkdir(dir), 0);
    snprintf(memfile, sizeof memfile, "%s/ram", dir);
    snprintf(tl, sizeof tl, "%s/timeline.jsonl", dir);
    cr_assert_eq(tq_fill_file(memfile, 32), 0);
    port = tq_free_port();
    cr_assert_eq(tq_start(&dst, dir, "dst", 32, NULL, port), 0);
    cr_assert_eq(tq_start(&src, dir, "src", 32, memfile, 0), 0);
}

static void teardown(void)
{
    tq_stop(&src);
    tq_stop(&dst);
    tq_rmdir(dir);
}

TestSuite(watch, .init = setup, .fini = teardown, .timeout = 90);

/* Start a migration as "someone else" would, then let go of the monitor
 * (QEMU serves one QMP client at a time). */
static void start_migration(double bandwidth_bytes_per_s, int events)
{
    co_qmp *q = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_connect(src.qmp, 5000, &q, &d), CO_OK, "%s", d.msg);
    if (events)
        cr_assert_eq(co_qmp_set_capability(q, "events", 1, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_qmp_set_parameter_int(q, "max-bandwidth", (int64_t)bandwidth_bytes_per_s, &d),
                 CO_OK, "%s", d.msg);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", port);
    cr_assert_eq(co_qmp_migrate(q, uri, &d), CO_OK, "%s", d.msg);
    co_qmp_close(q);
}

/* Read the timeline: returns the number of lines, records in arr. */
static json_t *load_timeline(void)
{
    FILE *f = fopen(tl, "r");
    cr_assert_not_null(f, "no timeline written");
    json_t *arr = json_array();
    char line[16384];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        cr_assert_not_null(j, "line %d is not JSON: %s", n + 1, je.text);
        json_array_append_new(arr, j);
        n++;
    }
    fclose(f);
    return arr;
}

static const char *type_of(json_t *j)
{
    return json_string_value(json_object_get(j, "type"));
}

Test(watch, samples_a_completed_migration)
{
    start_migration(20e6, 1);
    char args[512], out[4096], err[4096];
    snprintf(args, sizeof args, "watch --qmp %s -o %s --interval 50ms --wait 10s", src.qmp, tl);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_assert_str_eq(out, "");

    json_t *a = load_timeline();
    size_t n = json_array_size(a);
    cr_assert(n >= 7, "only %zu lines", n);
    json_t *h = json_array_get(a, 0);
    cr_assert_str_eq(type_of(h), "header");
    cr_assert_eq(json_integer_value(json_object_get(h, "version")), 1);
    cr_assert(strncmp(json_string_value(json_object_get(h, "qemu_version")), "7.", 2) == 0);
    json_t *e = json_array_get(a, n - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "completed");

    int samples = 0, active = 0, passes = 0, completed_ev = 0;
    double last_t = -1, last_tx = -1;
    json_t *last = NULL;
    for (size_t i = 1; i + 1 < n; i++) {
        json_t *j = json_array_get(a, i);
        if (strcmp(type_of(j), "sample") == 0) {
            samples++;
            double t = json_number_value(json_object_get(j, "t_ms"));
            cr_assert(t >= last_t);
            last_t = t;
            const char *s = json_string_value(json_object_get(j, "status"));
            if (strcmp(s, "active") == 0) {
                active++;
                double tx = json_number_value(json_object_get(j, "ram_transferred_bytes"));
                cr_assert(tx >= last_tx);
                last_tx = tx;
                cr_assert_not_null(json_object_get(j, "expected_downtime_ms"));
                cr_assert_null(json_object_get(j, "downtime_ms")); /* NAN is omitted */
            }
            last = j;
        } else {
            cr_assert_str_eq(type_of(j), "event");
            const char *ev = json_string_value(json_object_get(j, "event"));
            if (strcmp(ev, "MIGRATION_PASS") == 0)
                passes++;
            if (strcmp(ev, "MIGRATION") == 0 &&
                strcmp(json_string_value(json_object_get(json_object_get(j, "data"), "status")),
                       "completed") == 0)
                completed_ev++;
        }
    }
    cr_assert_eq(json_integer_value(json_object_get(e, "samples")), samples);
    cr_assert(active >= 5, "only %d active samples", active);
    cr_assert_not_null(last);
    cr_assert_str_eq(json_string_value(json_object_get(last, "status")), "completed");
    cr_assert(json_integer_value(json_object_get(last, "downtime_ms")) >= 0);
    cr_assert(json_integer_value(json_object_get(last, "ram_total_bytes")) >= 32 << 20);
    cr_assert(passes >= 1);
    cr_assert_eq(completed_ev, 1);
    json_decref(a);
}

Test(watch, no_migration_times_out_clearly)
{
    char args[512], err[4096];
    snprintf(args, sizeof args, "watch --qmp %s -o %s --interval 20ms --wait 300ms", src.qmp, tl);
    int rc = co_test_run(args, NULL, 0, err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "no migration started") && strstr(err, "--wait"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert_not_null(json_object_get(e, "error"));
    json_decref(a);
}

static void *kill_after(void *arg)
{
    struct timespec ts = {0, 600 * 1000 * 1000};
    nanosleep(&ts, NULL);
    tq_stop((tq_qemu *)arg);
    return NULL;
}

Test(watch, destination_killed_migration_fails)
{
    start_migration(5e6, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, kill_after, &dst), 0);
    char args[512], err[4096];
    snprintf(args, sizeof args, "watch --qmp %s -o %s --interval 50ms", src.qmp, tl);
    int rc = co_test_run(args, NULL, 0, err, sizeof err);
    pthread_join(t, NULL);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "migration failed"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "failed");
    json_decref(a);
    /* The source is not lost: QEMU resumes it after a failed migration. */
    co_qmp *q = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_connect(src.qmp, 5000, &q, &d), CO_OK, "%s", d.msg);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(q, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.running, 1);
    co_qmp_close(q);
}

Test(watch, source_killed_mid_watch)
{
    start_migration(5e6, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, kill_after, &src), 0);
    char args[512], err[4096];
    snprintf(args, sizeof args, "watch --qmp %s -o %s --interval 50ms", src.qmp, tl);
    int rc = co_test_run(args, NULL, 0, err, sizeof err);
    pthread_join(t, NULL);
    cr_assert_eq(rc, 69, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "closed the connection"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert(strstr(json_string_value(json_object_get(e, "error")), "closed"));
    json_decref(a);
}

Test(watch, usage_errors)
{
    char err[4096];
    cr_assert_eq(co_test_run("watch", NULL, 0, err, sizeof err), 64);
    cr_assert(strstr(err, "--qmp"), "%s", err);
    cr_assert_eq(co_test_run("watch --qmp x --interval 1ms", NULL, 0, err, sizeof err), 64);
    cr_assert(strstr(err, "--interval"), "%s", err);
    cr_assert_eq(co_test_run("watch --qmp x --wait soon", NULL, 0, err, sizeof err), 64);
    cr_assert(strstr(err, "--wait"), "%s", err);
    cr_assert_eq(co_test_run("watch --qmp x --frobnicate", NULL, 0, err, sizeof err), 64);
    char args[512];
    snprintf(args, sizeof args, "watch --qmp %s/none.qmp -o %s", dir, tl);
    cr_assert_eq(co_test_run(args, NULL, 0, err, sizeof err), 69);
    cr_assert(strstr(err, "none.qmp"), "%s", err);
    cr_assert(access(tl, F_OK) != 0, "no output file on failure");
    snprintf(args, sizeof args, "watch --qmp %s -o %s/no/such/dir/t.jsonl", src.qmp, dir);
    cr_assert_eq(co_test_run(args, NULL, 0, err, sizeof err), 73);
    cr_assert(strstr(err, "-o"), "%s", err);
}

Test(watch, sigterm_stops_watching_and_leaves_migration_alone)
{
    start_migration(5e6, 0);
    const char *bin = getenv("CUTOVER_BIN") ? getenv("CUTOVER_BIN") : "build/cutover";
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 1);
        dup2(nul, 2);
        execl(bin, bin, "watch", "--qmp", src.qmp, "-o", tl, "--interval", "50ms", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 600 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGTERM);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 75);
    json_t *a = load_timeline();
    cr_assert(json_array_size(a) >= 3);
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert(strstr(json_string_value(json_object_get(e, "error")), "interrupted"));
    json_decref(a);
    /* The migration goes on. */
    co_qmp *q = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_connect(src.qmp, 5000, &q, &d), CO_OK, "%s", d.msg);
    co_mig_stats ms;
    cr_assert_eq(co_qmp_query_migrate(q, &ms, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(ms.status, CO_MIG_ACTIVE);
    co_qmp_close(q);
}
