/* tests/cli/test_cli_virt.c: `cutover migrate`, `record` and `watch` over
 * libvirt (--connect/--domain), run as subprocesses against the two-daemon
 * bed (tests/libvirt/bed.sh, helpers in tests/libvirt/bed.h) and a real KVM
 * guest (the dirtier). Each test brings up its own bed and tears it down in
 * fini, also after a failed assertion. Skipped when not root or without
 * libvirtd/KVM. Suite cli_virt_flags needs no bed: refusals of bad flag
 * combinations. No timing assertions: the host is shared. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <sys/prctl.h>

#include "libvirt/bed.h"
#include "test_util.h"
#include "traces/dirty_trace.h"

static co_bed bed;
static char out[1 << 16], err[1 << 14];
static pid_t bg_pid[2];

static void bed_init(void)
{
    const char *why = co_bed_unavailable();
    if (why)
        cr_skip_test("%s", why);
    char e[512];
    if (co_bed_up(&bed, e, sizeof e) != 0)
        cr_assert_fail("bed: %s", e);
}

static void bed_fini(void)
{
    for (int i = 0; i < 2; i++)
        if (bg_pid[i] > 0) {
            kill(bg_pid[i], SIGKILL);
            waitpid(bg_pid[i], NULL, 0);
            bg_pid[i] = 0;
        }
    co_bed_down(&bed);
}

TestSuite(cli_virt, .init = bed_init, .fini = bed_fini, .timeout = 240);
TestSuite(cli_virt_flags, .timeout = 240); /* one timeout per binary: Criterion 2.4.1 leaks under ASan otherwise */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    out[0] = err[0] = '\0';
    return co_test_run(args, out, sizeof out, err, sizeof err);
}

/* Exit code rc, nothing on stdout, one line on stderr holding w1 and w2. */
static void expect_fail(int got, int rc, const char *w1, const char *w2)
{
    cr_assert_eq(got, rc, "exit %d, want %d; stderr: %s", got, rc, err);
    cr_assert_str_eq(out, "", "stdout not empty: %s", out);
    char *nl = strchr(err, '\n');
    cr_assert(nl && nl[1] == '\0', "want one line, got: %s", err);
    if (w1)
        cr_assert(strstr(err, w1), "'%s' not in: %s", w1, err);
    if (w2)
        cr_assert(strstr(err, w2), "'%s' not in: %s", w2, err);
}

static void start_guest(const char *name, int payload_mib, const char *cmdline)
{
    char e[512];
    cr_assert_eq(co_bed_start_guest(&bed, name, payload_mib, cmdline, e, sizeof e), 0, "%s", e);
}

/* `cutover ARGS` in the background, stdout/stderr to files in the bed dir. */
static pid_t spawn(int slot, const char *args, const char *tag)
{
    const char *bin = getenv("CUTOVER_BIN") ? getenv("CUTOVER_BIN") : "build/cutover";
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "exec %s %s >%s/%s.out 2>%s/%s.err </dev/null", bin, args, bed.dir,
             tag, bed.dir, tag);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    bg_pid[slot] = pid;
    return pid;
}

/* Wait (at most limit_ms) for a background child; its exit code. */
static int wait_child(int slot, int limit_ms)
{
    int st = 0;
    double t0 = co_bed_now_ms();
    while (waitpid(bg_pid[slot], &st, WNOHANG) == 0) {
        cr_assert(co_bed_now_ms() - t0 < limit_ms, "child still running after %d ms", limit_ms);
        usleep(20000);
    }
    bg_pid[slot] = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void slurp(const char *tag, const char *ext, char *buf, size_t len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.%s", bed.dir, tag, ext);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
}

/* Wait (at most 60 s) until file PATH holds needle. */
static void wait_for(const char *path, const char *needle)
{
    static char buf[1 << 16];
    double t0 = co_bed_now_ms();
    for (;;) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        if (strstr(buf, needle))
            return;
        cr_assert(co_bed_now_ms() - t0 < 60000, "no '%s' in %s after 60 s", needle, path);
        usleep(20000);
    }
}

Test(cli_virt, migrate_record_and_watch_over_libvirt)
{
    start_guest("co-cli", 32, "dirty_mib=8 spin=20000");

    /* refusals first: nothing may change */
    expect_fail(run("migrate --connect '%s' --domain co-nope --to %s", bed.uri_a, bed.uri_b_tcp),
                66, "co-nope", "--domain");
    int rc = run("migrate --connect '%s' --domain co-cli --to qemu+tcp://169.254.77.9/system "
                 "--json",
                 bed.uri_a);
    cr_assert_eq(rc, 69, "unreachable --to: exit %d: %s", rc, err);
    cr_assert(strstr(err, "169.254.77.9"), "%s", err);
    cr_assert_eq(co_bed_domain_state(bed.uri_a, "co-cli"), VIR_DOMAIN_RUNNING,
                 "guest not running on the source after a refused start");

    /* record through libvirt: a one-window trace */
    char trace[400];
    snprintf(trace, sizeof trace, "%s/trace.json", bed.dir);
    rc = run("record --connect '%s' --domain co-cli -o %s --windows 1s --json", bed.uri_a, trace);
    cr_assert_eq(rc, 0, "record: %s", err);
    co_dirty_trace t;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load(trace, &t, &d), CO_OK, "%s", d.msg);
    cr_expect_eq(t.n, 1);
    cr_expect(strncmp(t.method, "calc-dirty-rate/", 16) == 0, "%s", t.method);
    cr_expect_float_eq(t.mem_bytes, 256.0 * 1048576, 1);
    cr_expect_eq(t.vcpus, 1);

    /* watch on a, then migrate a -> b with cutover itself */
    char tl[400];
    snprintf(tl, sizeof tl, "%s/watch.jsonl", bed.dir);
    char args[2000];
    snprintf(args, sizeof args, "watch --connect '%s' --domain co-cli -o %s --interval 50ms "
                                "--wait 120s", bed.uri_a, tl);
    spawn(0, args, "watch");
    wait_for(tl, "\"header\"");
    rc = run("migrate --connect '%s' --domain co-cli --to %s --uri tcp:169.254.77.2 "
             "--max-downtime 500ms --measure 'pcap:lo,udp port 9' --json",
             bed.uri_a, bed.uri_b_tcp);
    cr_assert_eq(rc, 0, "migrate: exit %d: %s%s", rc, err, out);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "completed");
    cr_expect(json_real_value(json_object_get(j, "total_time_ms")) > 0);
    cr_expect(json_is_number(json_object_get(j, "downtime_ms")), "downtime_ms: %s", out);
    cr_expect(json_real_value(json_object_get(j, "transferred_bytes")) > 30.0 * 1048576, "%s",
              out);
    cr_expect(json_is_integer(json_object_get(j, "passes")));
    cr_expect(json_array_size(json_object_get(j, "actions")) >= 1);
    cr_expect_str_eq(json_string_value(json_object_get(j, "guest_on")), "destination");
    /* --measure works over libvirt too; nothing flows on udp port 9 here */
    json_t *m = json_object_get(j, "measure");
    cr_expect_str_eq(json_string_value(json_object_get(m, "iface")), "lo");
    cr_expect(json_is_string(json_object_get(m, "error")), "%s", out);
    cr_expect(json_is_null(json_object_get(j, "measured_downtime_ms")));
    json_decref(j);
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-cli"), VIR_DOMAIN_RUNNING, "not on b");
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-cli"), -1, "still on a");

    rc = wait_child(0, 60000);
    slurp("watch", "err", err, sizeof err);
    cr_assert_eq(rc, 0, "watch: exit %d: %s", rc, err);
    wait_for(tl, "\"type\":\"end\",");
    wait_for(tl, "\"status\":\"completed\"");
    wait_for(tl, "\"type\":\"sample\"");
    wait_for(tl, "\"source\":\"libvirt\"");
}

Test(cli_virt, destination_killed_and_second_cutover_refused)
{
    start_guest("co-kill", 160, "");
    char log[400], args[2000];
    snprintf(log, sizeof log, "%s/mig.jsonl", bed.dir);
    /* 20 MiB/s: about 8 s, time to try a second cutover and kill b */
    snprintf(args, sizeof args, "migrate --connect '%s' --domain co-kill --to %s --bandwidth "
                                "160Mbit --json --log %s", bed.uri_a, bed.uri_b_tcp, log);
    spawn(0, args, "mig");
    wait_for(log, "\"status\":\"active\"");

    /* the lock: same domain (by UUID), same connection */
    expect_fail(run("migrate --connect '%s' --domain co-kill --to %s", bed.uri_a, bed.uri_b_tcp),
                75, "another cutover", NULL);

    cr_assert_eq(co_bed_kill_daemon(&bed, "b"), 0, "kill libvirtd b");
    int rc = wait_child(0, 120000);
    char o[1 << 14];
    slurp("mig", "err", err, sizeof err);
    slurp("mig", "out", o, sizeof o);
    cr_assert_neq(rc, 0, "migration to a killed destination exited 0: %s", o);
    cr_expect(strstr(o, "\"guest_on\": \"source\""), "%s", o);
    cr_assert_eq(co_bed_domain_state(bed.uri_a, "co-kill"), VIR_DOMAIN_RUNNING,
                 "guest not running on the source: %s", err);
}

Test(cli_virt_flags, bad_combinations_are_usage_errors)
{
    expect_fail(run("migrate --qmp /x.sock --connect qemu:///system --domain d --to "
                    "qemu+tcp://h/system"),
                64, "--qmp", "--connect");
    expect_fail(run("migrate --connect qemu:///system --to qemu+tcp://h/system"), 64, "--domain",
                NULL);
    expect_fail(run("migrate --connect qemu:///system --domain d"), 64, "--to", NULL);
    expect_fail(run("migrate --domain d --to qemu+tcp://h/system"), 64, "--connect", NULL);
    expect_fail(run("migrate --qmp /x.sock --uri tcp:h:1 --tls"), 64, "--tls", NULL);
    expect_fail(run("migrate --connect qemu:///system --domain d --to qemu+tcp://h/system "
                    "--dest-qmp /y"),
                64, "--dest-qmp", NULL);
    expect_fail(run("migrate --connect qemu:///system --domain d --to qemu+tcp://h/system "
                    "--uri udp:h"),
                64, "--uri", NULL);
    expect_fail(run("migrate --connect 'not a uri' --domain d --to qemu+tcp://h/system"), 64,
                "--connect", "not a uri");
    expect_fail(run("migrate --connect 'qemu+unix:///system?socket=/nonexistent/sock' --domain "
                    "d --to qemu+tcp://h/system"),
                69, "/nonexistent/sock", NULL);
    expect_fail(run("migrate --qmp /x.sock --uri tcp:h:1 --measure pcap:lo"), 64, "--measure",
                NULL);
    expect_fail(run("record --qmp /x --connect qemu:///system --domain d -o /tmp/x.json"), 64,
                "--qmp", "--connect");
    expect_fail(run("record --connect qemu:///system -o /tmp/x.json"), 64, "--domain", NULL);
    expect_fail(run("watch --qmp /x --connect qemu:///system --domain d"), 64, "--qmp",
                "--connect");
    expect_fail(run("watch --domain d"), 64, "--connect", NULL);
}
