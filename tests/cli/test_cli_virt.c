/* tests/cli/test_cli_virt.c: `cutover migrate`, `record` and `watch` over
 * libvirt (--connect/--domain), run as subprocesses against the two-daemon
 * bed (tests/libvirt/bed.sh, helpers in tests/libvirt/bed.h) and a real KVM
 * guest (the dirtier). Each test brings up its own bed and tears it down in
 * fini, also after a failed assertion. Skipped when not root or without
 * libvirtd/KVM. Suite cli_virt_flags needs no bed: refusals of bad flag
 * combinations. No timing assertions: the host is shared. */
#include "pcap_test_util.h" /* first: it defines _GNU_SOURCE */

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <jansson.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli_expect.h"
#include "libvirt/bed.h"
#include "traces/dirty_trace.h"

static co_bed bed;
static pid_t bg_pid[2]; /* cutovers running in the background, 0 if none */

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
/* one timeout per binary: Criterion 2.4.1 leaks under ASan otherwise */
TestSuite(cli_virt_flags, .timeout = 240);

static void start_guest(const char *name, int payload_mib, const char *cmdline)
{
    char e[512];
    cr_assert_eq(co_bed_start_guest(&bed, name, payload_mib, cmdline, e, sizeof e), 0, "%s", e);
}

/* `cutover ARGV...` in the background, stdout/stderr to DIR/TAG.out/.err. */
static void spawn(int slot, char *const argv[], const char *tag)
{
    char o[400], e[400];
    snprintf(o, sizeof o, "%s/%s.out", bed.dir, tag);
    snprintf(e, sizeof e, "%s/%s.err", bed.dir, tag);
    bg_pid[slot] = co_t_spawn_in_ns(NULL, argv, o, e);
    cr_assert(bg_pid[slot] > 0, "fork");
}

/* Wait (killing it after limit_ms) for the background cutover: its exit code. */
static int wait_bg(int slot, double limit_ms)
{
    int rc = co_t_wait(bg_pid[slot], limit_ms);
    bg_pid[slot] = 0;
    return rc;
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

/* `cutover watch --connect A --domain NAME -o DIR/watch.jsonl` in slot, once
 * it has written its header (so it sees the migration start); tl gets the
 * timeline's path. */
static void start_watch(int slot, const char *domain, char *tl, size_t len)
{
    snprintf(tl, len, "%s/watch.jsonl", bed.dir);
    char *argv[] = {(char *)co_t_bin(), "watch", "--connect", bed.uri_a, "--domain",
                    (char *)domain, "-o", tl, "--interval", "50ms", "--wait", "120s", NULL};
    spawn(slot, argv, "watch");
    wait_for(tl, "\"header\"");
}

/* Wait for the watch in slot to exit with want; its timeline must hold
 * libvirt samples and an end record, and final_status. */
static void finish_watch(int slot, int want, const char *tl, const char *final_status)
{
    int rc = wait_bg(slot, 60000);
    slurp("watch", "err", cli_err, sizeof cli_err);
    cr_assert_eq(rc, want, "watch: exit %d, want %d: %s", rc, want, cli_err);
    char needle[64];
    snprintf(needle, sizeof needle, "\"status\":\"%s\"", final_status);
    wait_for(tl, "\"source\":\"libvirt\"");
    wait_for(tl, "\"type\":\"sample\"");
    wait_for(tl, "\"type\":\"end\",");
    wait_for(tl, needle);
}

Test(cli_virt, migrate_record_and_watch_over_libvirt)
{
    start_guest("co-cli", 32, "dirty_mib=8 spin=20000");

    /* refusals first: nothing may change */
    cli_expect_fail(
        cli_run("migrate --connect '%s' --domain co-nope --to %s", bed.uri_a, bed.uri_b_tcp), 66,
        "co-nope", "--domain");
    long long dt0 = co_bed_max_downtime(bed.uri_a, "co-cli");
    cr_assert_geq(dt0, 1, "downtime limit of co-cli readable");
    int rc = cli_run("migrate --connect '%s' --domain co-cli --to qemu+tcp://169.254.77.9/system "
                     "--json",
                     bed.uri_a);
    cr_assert_eq(rc, 69, "unreachable --to: exit %d: %s", rc, cli_err);
    cr_assert_eq(co_bed_max_downtime(bed.uri_a, "co-cli"), dt0,
                 "the refused start left the downtime limit as it was");
    cr_assert(strstr(cli_err, "169.254.77.9"), "%s", cli_err);
    cr_assert_eq(co_bed_domain_state(bed.uri_a, "co-cli"), VIR_DOMAIN_RUNNING,
                 "guest not running on the source after a refused start");

    /* record through libvirt: a one-window trace */
    char trace[400];
    snprintf(trace, sizeof trace, "%s/trace.json", bed.dir);
    rc = cli_run("record --connect '%s' --domain co-cli -o %s --windows 1s --json", bed.uri_a,
                 trace);
    cr_assert_eq(rc, 0, "record: %s", cli_err);
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
    start_watch(0, "co-cli", tl, sizeof tl);
    rc = cli_run("migrate --connect '%s' --domain co-cli --to %s --uri tcp:169.254.77.2 "
             "--max-downtime 500ms --measure 'pcap:lo,udp port 9' --dirty-rate-probe --json",
             bed.uri_a, bed.uri_b_tcp);
    cr_assert_eq(rc, 0, "migrate: exit %d: %s%s", rc, cli_err, cli_out);
    /* the probe is QMP only: said, and the migration goes on without it */
    cr_expect(strstr(cli_out, "no dirty-rate measurement over libvirt") != NULL, "%s", cli_out);
    json_error_t je;
    json_t *j = json_loads(cli_out, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, cli_out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "completed");
    cr_expect(json_real_value(json_object_get(j, "total_time_ms")) > 0);
    cr_expect(json_is_number(json_object_get(j, "downtime_ms")), "downtime_ms: %s", cli_out);
    cr_expect(json_real_value(json_object_get(j, "transferred_bytes")) > 30.0 * 1048576, "%s",
              cli_out);
    cr_expect(json_is_integer(json_object_get(j, "passes")));
    cr_expect(json_array_size(json_object_get(j, "actions")) >= 1);
    cr_expect_str_eq(json_string_value(json_object_get(j, "guest_on")), "destination");
    /* --measure works over libvirt too; nothing flows on udp port 9 here */
    json_t *m = json_object_get(j, "measure");
    cr_expect_str_eq(json_string_value(json_object_get(m, "iface")), "lo");
    cr_expect(json_is_string(json_object_get(m, "error")), "%s", cli_out);
    cr_expect(json_is_null(json_object_get(j, "measured_downtime_ms")));
    json_decref(j);
    cr_expect_eq(co_bed_domain_state(bed.uri_b, "co-cli"), VIR_DOMAIN_RUNNING, "not on b");
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-cli"), -1, "still on a");

    finish_watch(0, 0, tl, "completed");
}

Test(cli_virt, destination_killed_and_second_cutover_refused)
{
    start_guest("co-kill", 160, "");
    char log[400];
    snprintf(log, sizeof log, "%s/mig.jsonl", bed.dir);
    /* 20 MiB/s: about 8 s, time to try a second cutover and kill b */
    char *mig_argv[] = {(char *)co_t_bin(), "migrate", "--connect", bed.uri_a, "--domain",
                        "co-kill", "--to", bed.uri_b_tcp, "--bandwidth", "160Mbit", "--json",
                        "--log", log, NULL};
    /* someone else's view of the same migration: watch must report it failed */
    char tl[400];
    start_watch(1, "co-kill", tl, sizeof tl);
    spawn(0, mig_argv, "mig");
    wait_for(log, "\"status\":\"active\"");

    /* the lock: same domain (by UUID), same connection */
    cli_expect_fail(
        cli_run("migrate --connect '%s' --domain co-kill --to %s", bed.uri_a, bed.uri_b_tcp), 75,
        "another cutover", NULL);

    cr_assert_eq(co_bed_kill_daemon(&bed, "b"), 0, "kill libvirtd b");
    int rc = wait_bg(0, 120000);
    slurp("mig", "err", cli_err, sizeof cli_err);
    slurp("mig", "out", cli_out, sizeof cli_out);
    cr_assert_neq(rc, 0, "migration to a killed destination exited 0: %s", cli_out);
    cr_expect(strstr(cli_out, "\"guest_on\": \"source\""), "%s", cli_out);
    cr_assert_eq(co_bed_domain_state(bed.uri_a, "co-kill"), VIR_DOMAIN_RUNNING,
                 "guest not running on the source: %s", cli_err);
    finish_watch(1, 1, tl, "failed");
    wait_for(tl, "\"status\":\"active\"");
}

/* --allow qemu-monitor where libvirt-qemu.so.0 cannot be loaded (hidden by
 * a bind mount in a mount namespace of cutover's own): one clear line
 * naming the library, a sysexits code, the guest running on the source. */
Test(cli_virt, qemu_monitor_without_libvirt_qemu_is_one_clear_line)
{
    void *h = dlopen("libvirt-qemu.so.0", RTLD_NOW | RTLD_LOCAL);
    struct link_map *lm = NULL;
    char lib[PATH_MAX];
    if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_name ||
        !realpath(lm->l_name, lib))
        cr_skip_test("libvirt-qemu.so.0 not found here: nothing to hide");
    if (access("/usr/bin/unshare", X_OK) != 0)
        cr_skip_test("unshare (util-linux) not installed: cannot hide libvirt-qemu.so.0");
    start_guest("co-nomon", 32, "");
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "mount --bind /dev/null '%s' && exec \"$0\" \"$@\"", lib);
    char *argv[] = {"/usr/bin/unshare", "-m", "--propagation", "private", "sh", "-c", script,
                    (char *)co_t_bin(), "migrate", "--connect", bed.uri_a, "--domain", "co-nomon",
                    "--to", bed.uri_b_tcp, "--allow", "auto-converge,qemu-monitor", NULL};
    spawn(0, argv, "nomon");
    int rc = wait_bg(0, 120000);
    slurp("nomon", "err", cli_err, sizeof cli_err);
    slurp("nomon", "out", cli_out, sizeof cli_out);
    cr_log_info("exit %d: %s", rc, cli_err);
    cr_expect_eq(rc, 69, "exit %d; stderr: %s; stdout: %s", rc, cli_err, cli_out);
    cr_expect(strstr(cli_err, "libvirt-qemu.so.0 could not be loaded"), "%s", cli_err);
    cr_expect(strstr(cli_err, "--allow qemu-monitor"), "%s", cli_err);
    cr_expect_eq(co_bed_domain_state(bed.uri_a, "co-nomon"), VIR_DOMAIN_RUNNING,
                 "guest not running on the source: %s", cli_err);
}

Test(cli_virt_flags, bad_combinations_are_usage_errors)
{
    cli_expect_fail(cli_run("migrate --qmp /x.sock --connect qemu:///system --domain d --to "
                            "qemu+tcp://h/system"),
                    64, "--qmp", "--connect");
    cli_expect_fail(cli_run("migrate --connect qemu:///system --to qemu+tcp://h/system"), 64,
                    "--domain", NULL);
    cli_expect_fail(cli_run("migrate --connect qemu:///system --domain d"), 64, "--to", NULL);
    cli_expect_fail(cli_run("migrate --domain d --to qemu+tcp://h/system"), 64, "--connect", NULL);
    cli_expect_fail(cli_run("migrate --qmp /x.sock --uri tcp:h:1 --tls"), 64, "--tls", NULL);
    cli_expect_fail(cli_run("migrate --qmp /x.sock --uri tcp:h:1 --allow auto-converge,qemu-monitor"),
                    64, "--allow qemu-monitor", "--connect");
    cli_expect_fail(cli_run("migrate --qmp /x.sock --uri tcp:h:1 --allow qemu-monitr"), 64,
                    "qemu-monitr", "also takes qemu-monitor");
    cli_expect_fail(cli_run("migrate --connect qemu:///system --domain d --to qemu+tcp://h/system "
                            "--dest-qmp /y"),
                    64, "--dest-qmp", NULL);
    cli_expect_fail(cli_run("migrate --connect qemu:///system --domain d --to qemu+tcp://h/system "
                            "--uri udp:h"),
                    64, "--uri", NULL);
    cli_expect_fail(cli_run("migrate --connect 'not a uri' --domain d --to qemu+tcp://h/system"),
                    64, "--connect", "not a uri");
    cli_expect_fail(
        cli_run("migrate --connect 'qemu+unix:///system?socket=/nonexistent/sock' --domain "
                "d --to qemu+tcp://h/system"),
        69, "/nonexistent/sock", NULL);
    cli_expect_fail(cli_run("migrate --qmp /x.sock --uri tcp:h:1 --measure pcap:lo"), 64,
                    "--measure", NULL);
    cli_expect_fail(cli_run("record --qmp /x --connect qemu:///system --domain d -o /tmp/x.json"),
                    64, "--qmp", "--connect");
    cli_expect_fail(cli_run("record --connect qemu:///system -o /tmp/x.json"), 64, "--domain",
                    NULL);
    cli_expect_fail(cli_run("watch --qmp /x --connect qemu:///system --domain d"), 64, "--qmp",
                    "--connect");
    cli_expect_fail(cli_run("watch --domain d"), 64, "--connect", NULL);
}
