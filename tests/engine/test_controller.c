/* tests/engine/test_controller.c: `cutover migrate` against real QEMU.
 *
 * Each test starts its own source and destination QEMU (RAM backed by a
 * file of non-zero bytes so the migration moves real data, KVM when it
 * works) in a private directory with ephemeral ports, runs the built
 * cutover binary as a child, and checks the outcome through QMP. Teardown
 * kills everything, also when an assertion fails (Criterion runs .fini). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/controller.h"
#include "drivers/qmp.h"
#include "qemu_proc.h"
#include "util/error.h"

#define MEM_MB 64

static char g_dir[64];
static tq_qemu g_src, g_dst;
static int g_port;
static char g_src_tcp[64]; /* the source's second monitor, free while cutover holds the first */
static pid_t g_kids[16];
static int g_nkids;

static void fini(void)
{
    for (int i = 0; i < g_nkids; i++)
        if (g_kids[i] > 0) {
            kill(g_kids[i], SIGKILL);
            waitpid(g_kids[i], NULL, 0);
        }
    g_nkids = 0;
    tq_stop(&g_src);
    tq_stop(&g_dst);
    tq_rmdir(g_dir);
}

static void init(void)
{
    memset(&g_src, 0, sizeof g_src);
    memset(&g_dst, 0, sizeof g_dst);
    cr_assert_eq(tq_mkdir(g_dir), 0);
    char mem[128];
    snprintf(mem, sizeof mem, "%s/ram", g_dir);
    cr_assert_eq(tq_fill_file(mem, MEM_MB), 0);
    g_port = tq_free_port();
    cr_assert_gt(g_port, 0);
    int tp = tq_free_port_but(g_port);
    cr_assert_neq(tp, g_port);
    cr_assert_eq(tq_start_ex(&g_src, g_dir, "src", MEM_MB, mem, 0, tp), 0, "source QEMU starts");
    snprintf(g_src_tcp, sizeof g_src_tcp, "tcp:127.0.0.1:%d", tp);
    /* tq_start returns once the destination listens */
    cr_assert_eq(tq_start(&g_dst, g_dir, "dst", MEM_MB, NULL, g_port), 0, "dest QEMU starts");
}

TestSuite(controller, .init = init, .fini = fini, .timeout = 120);

static const char *bin(void)
{
    const char *b = getenv("CUTOVER_BIN");
    return b ? b : "build/cutover";
}

/* Start cutover migrate with extra args (NULL-terminated) and the usual
 * --qmp/--uri; stdout/stderr go to DIR/outN, DIR/errN. */
static const char *g_child_cwd; /* spawn_cutover's working directory (NULL: ours) */

static pid_t spawn_cutover(int n, const char *qmp, const char *uri, const char *const *extra)
{
    char binabs[4096];
    if (realpath(bin(), binabs) == NULL)
        snprintf(binabs, sizeof binabs, "%s", bin());
    char out[128], err[128];
    snprintf(out, sizeof out, "%s/out%d", g_dir, n);
    snprintf(err, sizeof err, "%s/err%d", g_dir, n);
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
            _exit(127);
        if (g_child_cwd && chdir(g_child_cwd) != 0)
            _exit(127);
        const char *argv[40];
        int k = 0;
        argv[k++] = binabs;
        argv[k++] = "migrate";
        argv[k++] = "--qmp";
        argv[k++] = qmp;
        argv[k++] = "--uri";
        argv[k++] = uri;
        for (int i = 0; extra && extra[i] && k < 38; i++)
            argv[k++] = extra[i];
        argv[k] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    cr_assert_gt(p, 0);
    cr_assert_lt(g_nkids, 16);
    g_kids[g_nkids++] = p;
    return p;
}

/* Wait for the child up to timeout_ms; returns its exit code, or -1
 * (killed after the timeout: a hang is a failure). */
static int wait_exit(pid_t p, double timeout_ms)
{
    for (double t = 0; t < timeout_ms; t += 20) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            for (int i = 0; i < g_nkids; i++)
                if (g_kids[i] == p)
                    g_kids[i] = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    return -1;
}

static void slurp(int n, const char *which, char *buf, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s%d", g_dir, which, n);
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (!f)
        return;
    size_t k = fread(buf, 1, len - 1, f);
    buf[k] = '\0';
    fclose(f);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void uri(char *buf, size_t len, int port)
{
    snprintf(buf, len, "tcp:127.0.0.1:%d", port);
}

/* Status of a VM through its own QMP connection (cutover has exited). */
static void vm_status(const char *qmp, co_qmp_status *st, co_drv_stats *ms, double *limit)
{
    co_qmp *q;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_connect(qmp, 5000, &q, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_qmp_query_status(q, st, &d), CO_OK, "%s", d.msg);
    if (ms)
        cr_assert_eq(co_qmp_query_migrate(q, ms, &d), CO_OK, "%s", d.msg);
    if (limit) {
        json_t *p;
        cr_assert_eq(co_qmp_query_parameters(q, &p, &d), CO_OK, "%s", d.msg);
        *limit = (double)json_integer_value(json_object_get(p, "downtime-limit"));
        json_decref(p);
    }
    co_qmp_close(q);
}

/* Wait until the source's migration is active (so a fault lands mid-way). */
static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

Test(controller, completes_with_json_report_and_log)
{
    char u[64], log[128], out[16384], err[4096];
    uri(u, sizeof u, g_port);
    snprintf(log, sizeof log, "%s/timeline.jsonl", g_dir);
    const char *extra[] = {"--json", "--log", log, "--dest-qmp", g_dst.qmp, NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    int rc = wait_exit(p, 60000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d, stderr: %s", rc, err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "stdout is JSON: %s", je.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "completed");
    const char *keys[] = {"total_time_ms", "downtime_ms", "transferred_bytes", "passes"};
    for (int i = 0; i < 4; i++)
        cr_assert(json_is_number(json_object_get(j, keys[i])), "key %s", keys[i]);
    cr_assert(json_is_array(json_object_get(j, "actions")));
    const char *why = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "actions"), 0), "reason"));
    cr_assert(why && strstr(why, "destination inmigrate and listening on 127.0.0.1:"),
              "the start action says what --dest-qmp showed: %s", why ? why : "(none)");
    cr_assert_geq(json_number_value(json_object_get(j, "transferred_bytes")), MEM_MB * 1048576.0 * 0.9,
                  "the RAM really moved");
    json_decref(j);
    co_qmp_status ds;
    vm_status(g_dst.qmp, &ds, NULL, NULL);
    cr_assert(ds.running, "guest runs on the destination (%s)", ds.status);
    char lg[65536];
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    size_t k = fread(lg, 1, sizeof lg - 1, f);
    lg[k] = '\0';
    fclose(f);
    cr_assert_geq(count_lines(lg), 2);
    cr_assert(strstr(lg, "\"type\":\"sample\"") != NULL);
    /* every line is JSON */
    char *save, *line = strtok_r(lg, "\n", &save);
    while (line) {
        json_t *x = json_loads(line, 0, &je);
        cr_assert_not_null(x, "bad JSONL line: %s", line);
        json_decref(x);
        line = strtok_r(NULL, "\n", &save);
    }
}

Test(controller, sigint_cancels_guest_stays_on_source)
{
    char u[64], out[8192], err[4096];
    uri(u, sizeof u, g_port);
    double limit0;
    co_qmp_status s0;
    vm_status(g_src.qmp, &s0, NULL, &limit0);
    const char *extra[] = {"--bandwidth", "40Mbit", "--policy", "qemu", "--max-downtime", "123ms",
                           NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    sleep_ms(1500);
    kill(p, SIGINT);
    int rc = wait_exit(p, 20000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d (want 75), stderr: %s", rc, err);
    cr_assert(strstr(err, "cancelled") != NULL, "%s", err);
    cr_assert_eq(count_lines(err), 1, "one error line: %s", err);
    co_qmp_status st;
    co_drv_stats ms;
    double limit;
    vm_status(g_src.qmp, &st, &ms, &limit);
    cr_assert(st.running, "guest running on the source (%s)", st.status);
    cr_assert_eq(ms.status, CO_DRV_MIG_CANCELLED, "status %s", co_drv_status_name(ms.status));
    cr_assert_eq(limit, limit0, "downtime-limit put back (%.0f, was %.0f)", limit, limit0);
}

Test(controller, sigterm_cancels_too)
{
    char u[64], err[4096];
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--bandwidth", "40Mbit", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    sleep_ms(1200);
    kill(p, SIGTERM);
    int rc = wait_exit(p, 20000);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d, stderr: %s", rc, err);
    co_qmp_status st;
    vm_status(g_src.qmp, &st, NULL, NULL);
    cr_assert(st.running, "guest running on the source (%s)", st.status);
}

Test(controller, destination_killed_mid_migration)
{
    char u[64], out[8192], err[4096];
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--bandwidth", "40Mbit", "--json", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    sleep_ms(1500);
    tq_stop(&g_dst);
    int rc = wait_exit(p, 30000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 1, "exit %d (want 1), stderr: %s", rc, err);
    cr_assert(strstr(err, "failed") != NULL, "clear error: %s", err);
    cr_assert_eq(count_lines(err), 1, "one error line: %s", err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "report on stdout: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "failed");
    cr_assert_str_eq(json_string_value(json_object_get(j, "guest_on")), "source");
    json_decref(j);
    co_qmp_status st;
    vm_status(g_src.qmp, &st, NULL, NULL);
    cr_assert(st.running, "guest running on the source (%s)", st.status);
}

Test(controller, qmp_socket_gone)
{
    char u[64], err[4096], path[128];
    uri(u, sizeof u, g_port);
    snprintf(path, sizeof path, "%s/nosuch.qmp", g_dir);
    pid_t p = spawn_cutover(0, path, u, NULL);
    int rc = wait_exit(p, 15000);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 69, "exit %d, stderr: %s", rc, err);
    cr_assert(strstr(err, "nosuch.qmp") != NULL, "names the socket: %s", err);
    cr_assert_eq(count_lines(err), 1);
}

Test(controller, bad_uri_changes_nothing)
{
    const char *bad[] = {"127.0.0.1:4444", "tcp:127.0.0.1", "tcp:127.0.0.1:99999", "tcp::5",
                         "tcp:127.0.0.1:12ab"};
    double limit0;
    co_qmp_status s0;
    vm_status(g_src.qmp, &s0, NULL, &limit0);
    for (int i = 0; i < 5; i++) {
        char err[4096];
        pid_t p = spawn_cutover(i, g_src.qmp, bad[i], NULL);
        int rc = wait_exit(p, 10000);
        slurp(i, "err", err, sizeof err);
        cr_assert_eq(rc, 64, "'%s': exit %d, %s", bad[i], rc, err);
        cr_assert(strstr(err, "--uri") != NULL, "%s", err);
    }
    /* a port the destination does not listen on, seen through its QMP:
     * refused before anything changes */
    char u[64], err[4096];
    int other = tq_free_port();
    uri(u, sizeof u, other == g_port ? other + 1 : other);
    const char *dq[] = {"--dest-qmp", g_dst.qmp, NULL};
    pid_t p = spawn_cutover(9, g_src.qmp, u, dq);
    int rc = wait_exit(p, 10000);
    slurp(9, "err", err, sizeof err);
    cr_assert_eq(rc, 69, "exit %d, %s", rc, err);
    cr_assert(strstr(err, "not on port") != NULL, "%s", err);
    co_qmp_status st;
    co_drv_stats ms;
    double limit;
    vm_status(g_src.qmp, &st, &ms, &limit);
    cr_assert(st.running);
    cr_assert_eq(ms.status, CO_DRV_MIG_NONE, "no migration was started");
    cr_assert_eq(limit, limit0, "no parameter changed");
    /* without --dest-qmp nothing is guessed: QEMU fails the migration, the
     * report says the destination was not checked, the VM is put back */
    char out[16384];
    const char *js[] = {"--json", "--max-downtime", "77ms", "--policy", "qemu", NULL};
    p = spawn_cutover(8, g_src.qmp, u, js);
    rc = wait_exit(p, 15000);
    slurp(8, "out", out, sizeof out);
    slurp(8, "err", err, sizeof err);
    cr_assert_eq(rc, 1, "exit %d, %s", rc, err);
    cr_assert(strstr(out, "destination not checked (no --dest-qmp)") != NULL, "%s", out);
    vm_status(g_src.qmp, &st, &ms, &limit);
    cr_assert(st.running);
    cr_assert_eq(limit, limit0, "downtime-limit put back");
}

/* --dest-qmp on a QEMU that is not waiting for a migration: refused (69)
 * before anything changes; the report of a ready one says what it saw. */
Test(controller, dest_qmp_not_inmigrate_refused)
{
    tq_qemu other;
    cr_assert_eq(tq_start(&other, g_dir, "other", 32, NULL, 0), 0, "third QEMU starts");
    char u[64], err[4096];
    uri(u, sizeof u, g_port);
    double limit0;
    co_qmp_status s0;
    vm_status(g_src.qmp, &s0, NULL, &limit0);
    const char *extra[] = {"--dest-qmp", other.qmp, "--max-downtime", "77ms", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    int rc = wait_exit(p, 15000);
    slurp(0, "err", err, sizeof err);
    tq_stop(&other);
    cr_assert_eq(rc, 69, "exit %d, %s", rc, err);
    cr_assert(strstr(err, "not waiting for a migration") != NULL, "%s", err);
    cr_assert_eq(count_lines(err), 1, "%s", err);
    co_qmp_status st;
    co_drv_stats ms;
    double limit;
    vm_status(g_src.qmp, &st, &ms, &limit);
    cr_assert(st.running);
    cr_assert_eq(ms.status, CO_DRV_MIG_NONE, "no migration was started");
    cr_assert_eq(limit, limit0, "no parameter changed");
    co_qmp_status ds;
    vm_status(g_dst.qmp, &ds, NULL, NULL);
    cr_assert_str_eq(ds.status, "inmigrate", "the real destination untouched");
}

/* SIGHUP (an ssh session dropping) during a migration: cancelled like
 * SIGTERM, downtime-limit put back, the guest runs on the source. */
Test(controller, sighup_cancels_and_restores)
{
    char u[64], out[16384], err[4096];
    uri(u, sizeof u, g_port);
    double limit0;
    co_qmp_status s0;
    vm_status(g_src_tcp, &s0, NULL, &limit0);
    const char *extra[] = {"--bandwidth", "40Mbit", "--policy", "qemu", "--max-downtime", "20ms",
                           "--json", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    /* until the migration runs with cutover's downtime-limit */
    double limit = limit0;
    co_qmp_status st;
    co_drv_stats ms;
    for (int i = 0; i < 100; i++) {
        sleep_ms(100);
        vm_status(g_src_tcp, &st, &ms, &limit);
        if (ms.status == CO_DRV_MIG_ACTIVE && limit == 20)
            break;
    }
    cr_assert_eq(ms.status, CO_DRV_MIG_ACTIVE, "migration active before the signal");
    cr_assert_eq(limit, 20, "cutover's downtime-limit in force");
    kill(p, SIGHUP);
    int rc = wait_exit(p, 20000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d (want 75, not 129), stderr: %s", rc, err);
    cr_assert(strstr(err, "cancelled by SIGHUP") != NULL, "%s", err);
    cr_assert_eq(count_lines(err), 1, "one error line: %s", err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "report on stdout: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "cancelled");
    cr_assert_str_eq(json_string_value(json_object_get(j, "guest_on")), "source");
    json_decref(j);
    vm_status(g_src_tcp, &st, &ms, &limit);
    cr_assert(st.running, "guest running on the source (%s)", st.status);
    cr_assert_str_eq(st.status, "running");
    cr_assert_eq(ms.status, CO_DRV_MIG_CANCELLED, "status %s", co_drv_status_name(ms.status));
    cr_assert_eq(limit, limit0, "downtime-limit put back (%.0f, was %.0f)", limit, limit0);
}

/* A second signal escalates: the cleanup is cut to cancel + resume, and the
 * message says what was left. The guest still runs on the source. */
Test(controller, second_signal_escalates)
{
    char u[64], err[4096];
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--bandwidth", "40Mbit", "--policy", "qemu", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    co_qmp_status st;
    co_drv_stats ms;
    for (int i = 0; i < 100; i++) {
        sleep_ms(100);
        vm_status(g_src_tcp, &st, &ms, NULL);
        if (ms.status == CO_DRV_MIG_ACTIVE)
            break;
    }
    /* both before cutover's next poll: it sees the escalation at once */
    kill(p, SIGTERM);
    kill(p, SIGHUP);
    int rc = wait_exit(p, 20000);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d, stderr: %s", rc, err);
    cr_assert(strstr(err, "second signal") != NULL, "%s", err);
    for (int i = 0; i < 100; i++) { /* the cancel was sent; QEMU settles by itself */
        vm_status(g_src_tcp, &st, &ms, NULL);
        if (ms.status != CO_DRV_MIG_CANCELLING && ms.status != CO_DRV_MIG_ACTIVE)
            break;
        sleep_ms(50);
    }
    cr_assert_eq(ms.status, CO_DRV_MIG_CANCELLED, "status %s", co_drv_status_name(ms.status));
    cr_assert(st.running, "guest running on the source (%s)", st.status);
}

/* A signal while cutover still prepares (here: waiting for a destination
 * QMP that never greets) stops it before the migration starts. */
Test(controller, signal_during_preflight_starts_nothing)
{
    char path[100], u[64], out[4096], err[4096];
    snprintf(path, sizeof path, "%.80s/mute.qmp", g_dir);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    cr_assert_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(ls, 4), 0); /* accepts into the backlog, never greets */
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--dest-qmp", path, "--max-downtime", "77ms", NULL};
    double limit0;
    co_qmp_status s0;
    vm_status(g_src.qmp, &s0, NULL, &limit0);
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    sleep_ms(700);
    kill(p, SIGHUP);
    int rc = wait_exit(p, 15000);
    close(ls);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 75, "exit %d, stderr: %s", rc, err);
    cr_assert(strstr(err, "before the migration started") != NULL, "%s", err);
    cr_assert_str_eq(out, "", "no report: nothing ran");
    co_qmp_status st;
    co_drv_stats ms;
    double limit;
    vm_status(g_src.qmp, &st, &ms, &limit);
    cr_assert(st.running);
    cr_assert_eq(ms.status, CO_DRV_MIG_NONE, "no migration was started");
    cr_assert_eq(limit, limit0, "no parameter changed");
}

Test(controller, second_cutover_on_same_vm_refused)
{
    char u[64], err[4096];
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--bandwidth", "40Mbit", NULL};
    pid_t p1 = spawn_cutover(0, g_src.qmp, u, extra);
    sleep_ms(800);
    pid_t p2 = spawn_cutover(1, g_src.qmp, u, extra);
    int rc2 = wait_exit(p2, 10000);
    slurp(1, "err", err, sizeof err);
    cr_assert_eq(rc2, 75, "second: exit %d, %s", rc2, err);
    cr_assert(strstr(err, "another cutover") != NULL, "%s", err);
    /* the same socket through a symlink is the same VM (the lock keys on
     * the driver's vm_id, the canonical path) */
    char alias[128];
    snprintf(alias, sizeof alias, "%.80s/alias.qmp", g_dir);
    cr_assert_eq(symlink(g_src.qmp, alias), 0);
    pid_t p3 = spawn_cutover(2, alias, u, extra);
    int rc3 = wait_exit(p3, 10000);
    slurp(2, "err", err, sizeof err);
    unlink(alias);
    cr_assert_eq(rc3, 75, "symlinked spelling: exit %d, %s", rc3, err);
    cr_assert(strstr(err, "another cutover") != NULL, "%s", err);
    /* and a relative spelling from the socket's directory */
    g_child_cwd = g_dir;
    pid_t p4 = spawn_cutover(3, "src.qmp", u, extra);
    g_child_cwd = NULL;
    int rc4 = wait_exit(p4, 10000);
    slurp(3, "err", err, sizeof err);
    cr_assert_eq(rc4, 75, "relative spelling: exit %d, %s", rc4, err);
    cr_assert(strstr(err, "another cutover") != NULL, "%s", err);
    kill(p1, SIGINT);
    int rc1 = wait_exit(p1, 20000);
    cr_assert_eq(rc1, 75, "first was cancelled: %d", rc1);
    co_qmp_status st;
    vm_status(g_src.qmp, &st, NULL, NULL);
    cr_assert(st.running);
}

/* adaptive sees the first pass cannot finish before --deadline and aborts
 * early, saying why; the guest stays on the source. */
Test(controller, adaptive_aborts_before_deadline)
{
    char u[64], out[16384], err[4096];
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--bandwidth", "16Mbit", "--deadline", "8s", "--json", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    int rc = wait_exit(p, 30000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 1, "exit %d, %s", rc, err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "aborted");
    json_t *acts = json_object_get(j, "actions");
    int found = 0;
    for (size_t i = 0; i < json_array_size(acts); i++) {
        json_t *a = json_array_get(acts, i);
        if (strcmp(json_string_value(json_object_get(a, "what")), "abort") == 0) {
            found = 1;
            cr_assert_lt(json_number_value(json_object_get(a, "t_ms")), 6000,
                         "aborted before the deadline");
            cr_assert(strstr(json_string_value(json_object_get(a, "reason")), "first pass"));
        }
    }
    cr_assert(found, "an abort action: %s", out);
    json_decref(j);
    co_qmp_status st;
    vm_status(g_src.qmp, &st, NULL, NULL);
    cr_assert(st.running);
}

Test(controller_cli, usage_errors)
{
    char err[4096];
    const char *cases[][2] = {
        {"migrate --uri tcp:127.0.0.1:1", "--qmp"},
        {"migrate --qmp /x", "--uri"},
        {"migrate --qmp /x --uri tcp:h:1 --policy vmware", "--policy"},
        {"migrate --qmp /x --uri tcp:h:1 --allow turbo", "--allow"},
        {"migrate --qmp /x --uri tcp:h:1 --max-downtime 300", "--max-downtime"},
        {"migrate --qmp /x --uri tcp:h:1 --heartbeat 5000", "--heartbeat"},
        {"migrate --qmp /x --uri tcp:h:1 --channels 4", "--channels"},
        {"migrate --qmp /x --uri tcp:h:1 --bogus", "--bogus"},
        {"migrate --qmp /x --uri tcp:h:1 --link 5", "--link"},
        {"migrate --qmp /x --uri tcp:h:1 --link 0Gbit", "--link"},
        {"migrate --qmp /x --uri tcp:h:1 --mtu 100", "--mtu"},
        {"migrate --qmp /x --uri tcp:h:1 --allow dirty-limit,turbo", "--allow"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s 2>&1 >/dev/null </dev/null", cases[i][0]);
        char full[1024];
        snprintf(full, sizeof full, "%s %s", bin(), cmd);
        FILE *f = popen(full, "r");
        cr_assert_not_null(f);
        size_t k = fread(err, 1, sizeof err - 1, f);
        err[k] = '\0';
        int st = pclose(f);
        cr_assert_eq(WEXITSTATUS(st), 64, "'%s': exit %d, %s", cases[i][0], WEXITSTATUS(st), err);
        cr_assert(strstr(err, cases[i][1]) != NULL, "'%s': %s", cases[i][0], err);
        cr_assert_eq(count_lines(err), 1, "'%s': %s", cases[i][0], err);
    }
}

Test(controller, source_killed_mid_migration_is_a_clear_error)
{
    char u[64], out[8192], err[4096];
    uri(u, sizeof u, g_port);
    const char *extra[] = {"--bandwidth", "40Mbit", NULL};
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    sleep_ms(1500);
    tq_stop(&g_src);
    int rc = wait_exit(p, 30000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert(rc == 69 || rc == 74 || rc == 75 || rc == 76, "exit %d, %s", rc, err);
    cr_assert(strstr(err, "lost the QMP connection") != NULL, "%s", err);
    cr_assert_eq(count_lines(err), 1, "%s", err);
}

/* Send "HB" every ms from 127.0.0.1 and every ms from 127.0.0.2 (a
 * foreign sender) to 127.0.0.1:port for dur_ms, in a child process. */
static pid_t spawn_senders(int port, int dur_ms)
{
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int good = socket(AF_INET, SOCK_DGRAM, 0), bad = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in b = {.sin_family = AF_INET};
        inet_pton(AF_INET, "127.0.0.2", &b.sin_addr);
        if (good < 0 || bad < 0 || bind(bad, (struct sockaddr *)&b, sizeof b) != 0)
            _exit(1);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        double end = tq_mono_ms() + dur_ms;
        while (tq_mono_ms() < end) {
            sendto(good, "HB 1\n", 5, 0, (struct sockaddr *)&to, sizeof to);
            sendto(bad, "HB 1\n", 5, 0, (struct sockaddr *)&to, sizeof to);
            usleep(1000);
        }
        _exit(0);
    }
    cr_assert_gt(p, 0);
    cr_assert_lt(g_nkids, 16);
    g_kids[g_nkids++] = p;
    return p;
}

/* --heartbeat through `cutover migrate`: a foreign sender's datagrams are
 * counted as ignored in the report, not as heartbeats. */
Test(controller, heartbeat_foreign_sender_ignored)
{
    char u[64], hb[64], out[16384], err[4096];
    uri(u, sizeof u, g_port);
    int hp = tq_free_port(); /* a TCP port number free on 127.0.0.1: fine for UDP here */
    cr_assert_gt(hp, 0);
    snprintf(hb, sizeof hb, "udp:127.0.0.1:%d", hp);
    const char *extra[] = {"--heartbeat", hb, "--json", "--dest-qmp", g_dst.qmp, NULL};
    pid_t s = spawn_senders(hp, 30000);
    pid_t p = spawn_cutover(0, g_src.qmp, u, extra);
    int rc = wait_exit(p, 60000);
    kill(s, SIGKILL);
    wait_exit(s, 5000);
    slurp(0, "out", out, sizeof out);
    slurp(0, "err", err, sizeof err);
    cr_assert_eq(rc, 0, "exit %d, stderr: %s", rc, err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    json_t *ign = json_object_get(j, "heartbeat_ignored");
    cr_assert(json_is_integer(ign), "heartbeat_ignored in the report: %s", out);
    cr_assert_gt(json_integer_value(ign), 0, "the foreign sender's datagrams were ignored");
    cr_assert(json_is_number(json_object_get(j, "heartbeat_downtime_ms")),
              "the expected sender's heartbeats were measured: %s", out);
    json_decref(j);
}

/* The heartbeat meter on its own: datagrams every ms with one 80 ms hole. */
Test(controller_hb, longest_gap)
{
    co_hb *h;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hb_start(0, &h, &d), CO_OK, "%s", d.msg);
    int port = co_hb_port(h);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    co_hb_arm(h);
    /* the hole as the sender made it: on a loaded machine usleep(80 ms)
     * may last longer, and the meter must see what really happened */
    double hole_ms = 0;
    for (int i = 0; i < 300; i++) {
        double t0 = tq_mono_ms();
        sendto(s, "HB 1\n", 5, 0, (struct sockaddr *)&a, sizeof a);
        usleep(i == 150 ? 80000 : 1000);
        if (i == 150)
            hole_ms = tq_mono_ms() - t0;
    }
    usleep(100000);
    long count;
    double g = co_hb_max_gap_ms(h, NULL, &count);
    close(s);
    co_hb_stop(h);
    cr_assert_geq(count, 250);
    /* at least the hole asked; at most the hole the sender really made
     * (usleep oversleeps on a loaded host: 129 ms seen) plus the receiver
     * thread's own wake-up, loosely */
    cr_assert(g >= 75 && g < hole_ms + 100, "gap %.1f ms, the hole was %.1f ms", g, hole_ms);
    /* a port in use is a clear error */
    co_hb *h2;
    int s2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in b = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    socklen_t bl = sizeof b;
    cr_assert_eq(bind(s2, (struct sockaddr *)&b, sizeof b), 0);
    getsockname(s2, (struct sockaddr *)&b, &bl);
    co_diag_init(&d);
    cr_assert_eq(co_hb_start(ntohs(b.sin_port), &h2, &d), CO_EBUSY);
    cr_assert(strstr(d.msg, "--heartbeat") != NULL, "%s", d.msg);
    close(s2);
}
