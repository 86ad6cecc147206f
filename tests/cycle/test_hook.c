/* tests/cycle/test_hook.c: hooks run as argv, never through a shell
 * (cycle/hook.h): placeholders replaced whole (hostile values stay one
 * argument), the CUTOVER_* environment, the log and its last line, exit
 * status, a missing program, the timeout and the stop flag killing the
 * whole process group (a child that ignores SIGTERM and its grandchild too).
 *
 * The hooks are real programs (printf, env, sleep, sh with a fixed script
 * whose data arrive as "$1", never spliced into the script). Each test
 * works in its own mkdtemp directory, removed in .fini. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cycle/hook.h"
#include "util/error.h"

static char g_dir[64];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)remove(p);
    return 0;
}

static void init(void)
{
    strcpy(g_dir, "/tmp/cohook-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void fini(void)
{
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(hook, .init = init, .fini = fini, .timeout = 60);

static co_sim_hook mk(char **argv, double timeout_ms)
{
    co_sim_hook h = {.argv = argv, .timeout_ms = timeout_ms};
    while (argv && argv[h.argc])
        h.argc++;
    return h;
}

static co_hook_ctx ctx_for(const char *host, const char *step)
{
    return (co_hook_ctx){.host = host, .uri = "qemu+ssh://root@a/system",
                         .migration_uri = "tcp://10.0.0.1", .step = step,
                         .journal_dir = g_dir, .stop_flag = NULL};
}

/* The whole file, malloc'd. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

Test(hook, not_configured_runs_nothing)
{
    co_sim_hook h = {0};
    co_hook_ctx c = ctx_for("a", "patch");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK);
    cr_assert_eq(r.ran, 0);
    cr_assert_eq(co_hook_run(NULL, &c, &r, &d), CO_OK);
}

Test(hook, expand_replaces_whole_elements_only)
{
    char *argv[] = {"ssh", "{host}", "--host={host}", "{uri}", "{migration_uri}", "{step}",
                    "{journal_dir}", "{nope}", "{host} ", NULL};
    co_sim_hook h = mk(argv, 1000);
    co_hook_ctx c = ctx_for("h1", "patch");
    c.migration_uri = NULL;
    char **out;
    cr_assert_eq(co_hook_expand(&h, &c, &out), CO_OK);
    const char *want[] = {"ssh", "h1", "--host={host}", "qemu+ssh://root@a/system", "",
                          "patch", g_dir, "{nope}", "{host} "};
    for (int i = 0; i < 9; i++)
        cr_assert_str_eq(out[i], want[i], "element %d", i);
    cr_assert_null(out[9]);
    co_hook_argv_free(out);
}

/* Values with spaces, quotes, $(...), backquotes and ';' each arrive as
 * exactly one argument, and nothing they spell is run. */
Test(hook, hostile_placeholder_values_stay_one_argument)
{
    char pwned[128];
    snprintf(pwned, sizeof pwned, "%s/PWNED", g_dir);
    char host[512];
    snprintf(host, sizeof host, "a b; touch %s; $(touch %s) `touch %s` 'q\" \\ *", pwned, pwned,
             pwned);
    char *argv[] = {"printf", "[%s]\\n", "{host}", "{uri}", "{step}", NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for(host, "patch");
    c.uri = "$(id) && echo hi > x";
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(r.ran, 1);
    cr_assert_eq(r.exit_status, 0);
    char *log = slurp(r.log_path);
    char want[700];
    snprintf(want, sizeof want, "\n[%s]\n[$(id) && echo hi > x]\n[patch]\n", host);
    cr_assert(strstr(log, want), "log:\n%s\nlacks:\n%s", log, want);
    free(log);
    cr_assert_neq(access(pwned, F_OK), 0, "a value was run as a command");
    cr_assert_str_eq(r.last_line, "[patch]");
    /* the host's '/' and ' ' do not make the log name a path */
    cr_assert(strncmp(r.log_path, g_dir, strlen(g_dir)) == 0);
    cr_assert_null(strchr(r.log_path + strlen(g_dir) + strlen("/hooks/"), '/'), "%s",
                   r.log_path);
}

Test(hook, environment_carries_cutover_vars)
{
    setenv("CUTOVER_HOST", "stale-from-parent", 1);
    setenv("CO_TEST_KEEP", "kept", 1);
    char *argv[] = {"env", NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("hv-1", "reboot");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK, "%s", d.msg);
    char *log = slurp(r.log_path);
    cr_assert(strstr(log, "\nCUTOVER_HOST=hv-1\n"), "%s", log);
    cr_assert(strstr(log, "\nCUTOVER_URI=qemu+ssh://root@a/system\n"), "%s", log);
    cr_assert(strstr(log, "\nCUTOVER_MIGRATION_URI=tcp://10.0.0.1\n"), "%s", log);
    cr_assert(strstr(log, "\nCUTOVER_STEP=reboot\n"), "%s", log);
    cr_assert(strstr(log, "\nCO_TEST_KEEP=kept\n"), "the rest of our environment: %s", log);
    cr_assert_null(strstr(log, "stale-from-parent"), "%s", log);
    free(log);
}

Test(hook, log_appended_0600_in_a_0700_dir)
{
    umask(022);
    char *argv[] = {"echo", "run", "{step}", NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("a", "validate");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK, "%s", d.msg);
    char want[256];
    snprintf(want, sizeof want, "%s/hooks/validate-a.log", g_dir);
    cr_assert_str_eq(r.log_path, want);
    struct stat st;
    cr_assert_eq(stat(r.log_path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "log mode %03o", st.st_mode & 0777);
    snprintf(want, sizeof want, "%s/hooks", g_dir);
    cr_assert_eq(stat(want, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "dir mode %03o", st.st_mode & 0777);
    char *log = slurp(r.log_path);
    int n = 0;
    for (char *p = log; (p = strstr(p, "\nrun validate\n")); p++)
        n++;
    cr_assert_eq(n, 2, "both runs appended:\n%s", log);
    free(log);
    /* a cycle-wide hook: no host in the name */
    c.host = NULL;
    c.step = "before_cycle";
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK, "%s", d.msg);
    snprintf(want, sizeof want, "%s/hooks/before_cycle.log", g_dir);
    cr_assert_str_eq(r.log_path, want);
}

Test(hook, nonzero_exit_reported_with_last_line)
{
    char *argv[] = {"sh", "-c", "echo first; echo 'the last line' >&2; echo; echo '  '; exit 3",
                    NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("a", "patch");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_EFAILED, "%s", d.msg);
    cr_assert_eq(r.ran, 1);
    cr_assert_eq(r.exit_status, 3);
    cr_assert_eq(r.timed_out, 0);
    cr_assert_str_eq(r.last_line, "the last line");
    cr_assert(strstr(d.msg, "hook patch on host a") && strstr(d.msg, "exit status 3") &&
                  strstr(d.msg, "the last line") && strstr(d.msg, r.log_path),
              "%s", d.msg);
}

Test(hook, killed_by_a_signal_is_128_plus_it)
{
    char *argv[] = {"sh", "-c", "kill -9 $$", NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("a", "patch");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_EFAILED, "%s", d.msg);
    cr_assert_eq(r.exit_status, 128 + SIGKILL);
}

Test(hook, missing_program_is_eos_naming_it)
{
    char *argv[] = {"/nonexistent/cutover-hook-xyz", "{host}", NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("a", "stage");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_EOS, "%s", d.msg);
    cr_assert(strstr(d.msg, "/nonexistent/cutover-hook-xyz") &&
                  strstr(d.msg, "No such file"),
              "%s", d.msg);
    cr_assert_eq(r.ran, 0);
    char *argv2[] = {"cutover-no-such-program-in-path", NULL};
    h = mk(argv2, 10000);
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_EOS, "%s", d.msg);
    cr_assert(strstr(d.msg, "cutover-no-such-program-in-path"), "%s", d.msg);
}

Test(hook, timeout_kills_sleep)
{
    char *argv[] = {"sleep", "30", NULL};
    co_sim_hook h = mk(argv, 300);
    co_hook_ctx c = ctx_for("a", "reboot");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_ETIMEDOUT, "%s", d.msg);
    cr_assert_eq(r.timed_out, 1);
    cr_assert_eq(r.exit_status, 128 + SIGTERM);
    cr_assert(r.elapsed_ms >= 300, "%.0f ms", r.elapsed_ms);
    cr_assert(r.elapsed_ms < 20000, "did not wait for sleep 30: %.0f ms", r.elapsed_ms);
    cr_assert(strstr(d.msg, "hook reboot on host a") && strstr(d.msg, "300 ms"), "%s", d.msg);
}

static long read_pid(const char *name)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s was not written", p);
    long pid = 0;
    cr_assert_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return pid;
}

/* Gone, or a zombie waiting for a reaper that is not us. */
static int gone(long pid)
{
    for (int i = 0; i < 100; i++) {
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            return 1;
        char p[64], buf[256] = "";
        snprintf(p, sizeof p, "/proc/%ld/stat", pid);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(buf, sizeof buf, f) == NULL)
                buf[0] = '\0';
            fclose(f);
            char *rp = strrchr(buf, ')');
            if (rp && rp[1] == ' ' && rp[2] == 'Z')
                return 1;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The hook ignores SIGTERM and has started a grandchild that ignores it
 * too: both are killed (SIGKILL to the group after the 5 s grace). */
Test(hook, timeout_kills_the_group_even_when_sigterm_is_ignored)
{
    const char *script = "trap '' TERM\n"
                         "sleep 1000 &\n"
                         "echo $! > \"$1/gc.pid\"\n"
                         "echo $$ > \"$1/c.pid\"\n"
                         "echo started\n"
                         "while :; do sleep 0.1; done\n";
    char *argv[] = {"sh", "-c", (char *)script, "sh", "{journal_dir}", NULL};
    co_sim_hook h = mk(argv, 500);
    co_hook_ctx c = ctx_for("a", "patch");
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    int rc = co_hook_run(&h, &c, &r, &d);
    long cpid = read_pid("c.pid"), gpid = read_pid("gc.pid");
    int c_gone = gone(cpid), g_gone = gone(gpid);
    if (!c_gone)
        kill((pid_t)cpid, SIGKILL);
    if (!g_gone)
        kill((pid_t)gpid, SIGKILL);
    cr_assert_eq(rc, CO_ETIMEDOUT, "%s", d.msg);
    cr_assert(c_gone, "the hook (pid %ld) survived", cpid);
    cr_assert(g_gone, "its grandchild (pid %ld) survived", gpid);
    cr_assert_eq(r.exit_status, 128 + SIGKILL, "killed by SIGKILL, not TERM: %d",
                 r.exit_status);
    cr_assert(r.elapsed_ms >= 5000, "SIGKILL only after the grace: %.0f ms", r.elapsed_ms);
    cr_assert_str_eq(r.last_line, "started");
}

struct raiser {
    volatile sig_atomic_t *flag;
    int ms;
};

static void *raise_later(void *arg)
{
    struct raiser *w = arg;
    struct timespec ts = {w->ms / 1000, (long)(w->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    *w->flag = 1;
    return NULL;
}

Test(hook, stop_flag_kills_it)
{
    volatile sig_atomic_t stop = 0;
    char *argv[] = {"sleep", "30", NULL};
    co_sim_hook h = mk(argv, 60000);
    co_hook_ctx c = ctx_for("a", "firmware");
    c.stop_flag = &stop;
    struct raiser w = {&stop, 200};
    pthread_t t;
    pthread_create(&t, NULL, raise_later, &w);
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    int rc = co_hook_run(&h, &c, &r, &d);
    pthread_join(t, NULL);
    cr_assert_eq(rc, CO_ECANCELED, "%s", d.msg);
    cr_assert_eq(r.timed_out, 0);
    cr_assert_eq(r.exit_status, 128 + SIGTERM);
    cr_assert(r.elapsed_ms >= 200 && r.elapsed_ms < 20000, "%.0f ms", r.elapsed_ms);
    cr_assert(strstr(d.msg, "hook firmware on host a") && strstr(d.msg, "stopped"), "%s",
              d.msg);
}

Test(hook, without_journal_dir_output_is_dropped)
{
    char *argv[] = {"echo", "x", NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("a", "patch");
    c.journal_dir = NULL;
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(r.ran, 1);
    cr_assert_str_eq(r.log_path, "");
}

Test(hook, stop_flag_already_up_starts_nothing)
{
    volatile sig_atomic_t stop = 1;
    char mark[128];
    snprintf(mark, sizeof mark, "%s/ran", g_dir);
    char *argv[] = {"touch", mark, NULL};
    co_sim_hook h = mk(argv, 10000);
    co_hook_ctx c = ctx_for("a", "patch");
    c.stop_flag = &stop;
    co_hook_result r;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hook_run(&h, &c, &r, &d), CO_ECANCELED, "%s", d.msg);
    cr_assert_eq(r.ran, 0);
    cr_assert_neq(access(mark, F_OK), 0, "the hook ran");
}
