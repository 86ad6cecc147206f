/* tests/cli/test_watch.c: `cutover watch` on real migrations between two
 * QEMU 7.2 processes started here (and always killed in fini).
 *
 * The source QEMU has two monitors: `cutover watch` holds the unix one
 * while the test, playing "someone else", drives the migration through a
 * tcp one. Watch is started first and the migration only once watch has
 * written its header, so the order of events does not depend on how
 * loaded the machine is. */
#include <criterion/criterion.h>
#include <sys/prctl.h>

#include "qemu_proc.h"
#include "drivers/qmp.h"
#include "test_util.h"

static char dir[64], memfile[128], tl[128], errfile[128];
static tq_qemu src, dst;
static int port, qmp_tcp_port;
static pid_t watch_pid;
static co_qmp *ctl; /* "someone else": the test's own client on the tcp monitor */

static void setup(void)
{
    cr_assert_eq(tq_mkdir(dir), 0);
    snprintf(memfile, sizeof memfile, "%s/ram", dir);
    snprintf(tl, sizeof tl, "%s/timeline.jsonl", dir);
    snprintf(errfile, sizeof errfile, "%s/watch.err", dir);
    cr_assert_eq(tq_fill_file(memfile, 32), 0);
    cr_assert_eq(tq_start_pair(dir, 32, memfile, &src, &dst, &port, &qmp_tcp_port), 0,
                 "QEMU did not start: %s%s", src.why, dst.why);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp:127.0.0.1:%d", qmp_tcp_port);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_connect(addr, 5000, &ctl, &d), CO_OK, "%s", d.msg);
}

static void teardown(void)
{
    if (watch_pid > 0) {
        kill(watch_pid, SIGKILL);
        waitpid(watch_pid, NULL, 0);
        watch_pid = 0;
    }
    co_qmp_close(ctl);
    ctl = NULL;
    tq_stop(&src);
    tq_stop(&dst);
    tq_rmdir(dir);
}

TestSuite(watch, .init = setup, .fini = teardown, .timeout = 90);

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Start `cutover watch --qmp SRC -o TL EXTRA...` in the background. */
static void spawn_watch(const char *interval, const char *wait)
{
    const char *bin = getenv("CUTOVER_BIN") ? getenv("CUTOVER_BIN") : "build/cutover";
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int nul = open("/dev/null", O_RDWR);
        int ef = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(ef, 2);
        execl(bin, bin, "watch", "--qmp", src.qmp, "-o", tl, "--interval", interval, "--wait",
              wait, (char *)NULL);
        _exit(127);
    }
    watch_pid = pid;
}

/* Count timeline lines containing needle (0 if no file yet). */
static int lines_with(const char *needle)
{
    FILE *f = fopen(tl, "r");
    if (f == NULL)
        return 0;
    char line[16384];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

/* Wait (at most 20 s) until the timeline has a line containing needle. */
static void wait_line(const char *needle)
{
    double t0 = mono_ms();
    while (lines_with(needle) == 0) {
        cr_assert(mono_ms() - t0 < 20000, "no '%s' in the timeline after 20 s", needle);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Wait for watch to exit (at most 60 s); returns its exit code, its
 * stderr in err. */
static int finish_watch(char *err, size_t len)
{
    int status = 0;
    double t0 = mono_ms();
    while (waitpid(watch_pid, &status, WNOHANG) == 0) {
        cr_assert(mono_ms() - t0 < 60000, "watch did not end in 60 s");
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    watch_pid = 0;
    FILE *f = fopen(errfile, "r");
    size_t n = f ? fread(err, 1, len - 1, f) : 0;
    err[n] = '\0';
    if (f)
        fclose(f);
    cr_assert(WIFEXITED(status), "watch died by a signal");
    return WEXITSTATUS(status);
}

static void start_migration(double bandwidth_bytes_per_s, int events)
{
    co_diag d;
    co_diag_init(&d);
    if (events)
        cr_assert_eq(co_qmp_set_capability(ctl, "events", 1, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(
        co_qmp_set_parameter_int(ctl, "max-bandwidth", (int64_t)bandwidth_bytes_per_s, &d), CO_OK,
        "%s", d.msg);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", port);
    cr_assert_eq(co_qmp_migrate(ctl, uri, &d), CO_OK, "%s", d.msg);
}

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
    spawn_watch("50ms", "20s");
    wait_line("\"header\"");
    start_migration(20e6, 1);
    char err[4096];
    int rc = finish_watch(err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);

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

    int samples = 0, active = 0, passes = 0, completed_ev = 0, setup_ev = 0;
    double last_t = -1, last_tx = -1;
    json_t *last = NULL;
    for (size_t i = 1; i + 1 < n; i++) {
        json_t *j = json_array_get(a, i);
        if (strcmp(type_of(j), "sample") == 0) {
            samples++;
            double t = json_number_value(json_object_get(j, "t_ms"));
            cr_assert(t >= last_t && t >= 0);
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
            const char *st =
                json_string_value(json_object_get(json_object_get(j, "data"), "status"));
            if (strcmp(ev, "MIGRATION_PASS") == 0)
                passes++;
            if (strcmp(ev, "MIGRATION") == 0 && strcmp(st, "completed") == 0)
                completed_ev++;
            if (strcmp(ev, "MIGRATION") == 0 && strcmp(st, "setup") == 0)
                setup_ev++;
        }
    }
    cr_assert_eq(json_integer_value(json_object_get(e, "samples")), samples);
    cr_assert(active >= 5, "only %d active samples", active);
    cr_assert_not_null(last);
    cr_assert_str_eq(json_string_value(json_object_get(last, "status")), "completed");
    cr_assert(json_integer_value(json_object_get(last, "downtime_ms")) >= 0);
    cr_assert(json_integer_value(json_object_get(last, "ram_total_bytes")) >= 32 << 20);
    /* Watch was there from the start: the whole event sequence is in. */
    cr_assert_eq(setup_ev, 1);
    cr_assert(passes >= 2);
    cr_assert_eq(completed_ev, 1);
    json_decref(a);
}

Test(watch, no_migration_times_out_clearly)
{
    spawn_watch("20ms", "300ms");
    char err[4096];
    int rc = finish_watch(err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "no migration started") && strstr(err, "--wait"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert_not_null(json_object_get(e, "error"));
    json_decref(a);
}

Test(watch, earlier_final_status_is_not_taken_for_a_new_migration)
{
    /* A migration that failed before watch started. */
    co_diag d;
    co_diag_init(&d);
    char uri[64];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", tq_free_port());
    cr_assert_eq(co_qmp_migrate(ctl, uri, &d), CO_OK, "%s", d.msg);
    co_drv_stats ms;
    double t0 = mono_ms();
    do
        cr_assert_eq(co_qmp_query_migrate(ctl, &ms, &d), CO_OK, "%s", d.msg);
    while (ms.status != CO_DRV_MIG_FAILED && mono_ms() - t0 < 5000);
    cr_assert_eq(ms.status, CO_DRV_MIG_FAILED);
    /* Watch waits for a new one instead of reporting the old failure... */
    spawn_watch("20ms", "20s");
    wait_line("\"header\"");
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cr_assert_eq(lines_with("\"sample\""), 0);
    /* ...and records the new one. */
    start_migration(40e6, 0);
    char err[4096];
    int rc = finish_watch(err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_assert_eq(lines_with("\"status\":\"failed\""), 0);
    cr_assert(lines_with("\"status\":\"completed\"") >= 2); /* last sample and end */
}

Test(watch, destination_killed_migration_fails)
{
    spawn_watch("50ms", "20s");
    wait_line("\"header\"");
    start_migration(5e6, 0);
    wait_line("\"status\":\"active\"");
    tq_stop(&dst);
    char err[4096];
    int rc = finish_watch(err, sizeof err);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "migration failed"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "failed");
    cr_assert_not_null(json_object_get(e, "error_desc"));
    json_decref(a);
    /* The source is not lost: QEMU resumes it after a failed migration. */
    co_diag d;
    co_diag_init(&d);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(ctl, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.running, 1);
}

Test(watch, source_killed_mid_watch)
{
    spawn_watch("50ms", "20s");
    wait_line("\"header\"");
    start_migration(5e6, 0);
    wait_line("\"status\":\"active\"");
    tq_stop(&src);
    char err[4096];
    int rc = finish_watch(err, sizeof err);
    cr_assert_eq(rc, 69, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "closed the connection"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert(strstr(json_string_value(json_object_get(e, "error")), "closed"));
    json_decref(a);
}

Test(watch, sigterm_stops_watching_and_leaves_migration_alone)
{
    spawn_watch("50ms", "20s");
    wait_line("\"header\"");
    start_migration(5e6, 0);
    wait_line("\"status\":\"active\"");
    kill(watch_pid, SIGTERM);
    char err[4096];
    int rc = finish_watch(err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "interrupted"), "%s", err);
    json_t *a = load_timeline();
    json_t *e = json_array_get(a, json_array_size(a) - 1);
    cr_assert_str_eq(type_of(e), "end");
    cr_assert(strstr(json_string_value(json_object_get(e, "error")), "interrupted"));
    json_decref(a);
    /* The migration goes on. */
    co_diag d;
    co_diag_init(&d);
    co_drv_stats ms;
    cr_assert_eq(co_qmp_query_migrate(ctl, &ms, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(ms.status, CO_DRV_MIG_ACTIVE);
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
