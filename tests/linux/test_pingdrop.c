/* tests/linux/test_pingdrop.c: the ping drop of a real Linux guest.
 *
 * Runs tests/linux/pingdrop.sh (Debian's kernel and a busybox initramfs
 * from tests/linux/build-guest.sh, booted under TCG on a tap device in a
 * private network namespace; pinged every millisecond from the bridge while
 * `cutover migrate` moves it to a second QEMU on another tap of the same
 * bridge; `cutover downtime` measures the drop from the capture) and checks
 * what the run reports. Slow (a boot under TCG and a download of Debian's
 * kernel package the first time): only with CUTOVER_SLOW=1 (make
 * check-slow); skipped with the script's reason when something is missing
 * (root, QEMU, tcpdump, jq, or the kernel package offline).
 *
 * The script runs in its own process group; fini sends it SIGTERM, which
 * makes it kill its QEMUs, pinger and capture and delete the namespace. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/cutover-test-pingdrop.XXXXXX";
static pid_t child = -1;

static void fx_init(void)
{
    const char *slow = getenv("CUTOVER_SLOW");
    if (slow == NULL || strcmp(slow, "1") != 0)
        cr_skip_test("slow Linux-guest test: run with CUTOVER_SLOW=1 (make check-slow)");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void fx_fini(void)
{
    if (child > 0) {
        kill(-child, SIGTERM);
        for (int i = 0; i < 100 && waitpid(child, NULL, WNOHANG) == 0; i++)
            usleep(100000);
        kill(-child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    if (strchr(tmpdir, 'X') == NULL && getenv("CO_TEST_KEEP") == NULL) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "[pingdrop] could not remove %s\n", tmpdir);
    }
}

/* Run `pingdrop.sh run POLICY DIR/run`, stdout to DIR/result.json and
 * stderr to DIR/stderr; returns its exit code. */
static int run_script(const char *policy)
{
    char out[256], err[256], rundir[256];
    snprintf(out, sizeof out, "%s/result.json", tmpdir);
    snprintf(err, sizeof err, "%s/stderr", tmpdir);
    snprintf(rundir, sizeof rundir, "%s/run", tmpdir);
    child = fork();
    cr_assert_geq(child, 0, "fork: %s", strerror(errno));
    if (child == 0) {
        setpgid(0, 0);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(1);
        execl("/bin/bash", "bash", "tests/linux/pingdrop.sh", "run", policy, rundir,
              (char *)NULL);
        _exit(127);
    }
    setpgid(child, child);
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child, "waitpid");
    child = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

TestSuite(pingdrop, .init = fx_init, .fini = fx_fini, .timeout = 600);

Test(pingdrop, linux_guest_migrates_and_drop_is_measured)
{
    int rc = run_script("adaptive");
    char path[256];
    snprintf(path, sizeof path, "%s/result.json", tmpdir);
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (rc == 77)
        cr_skip_test("%s", json_string_value(json_object_get(r, "skipped")));
    if (r == NULL) {
        /* no result: show what the script said */
        snprintf(path, sizeof path, "%s/stderr", tmpdir);
        FILE *f = fopen(path, "r");
        for (int c; f && (c = fgetc(f)) != EOF;)
            fputc(c, stderr);
        if (f)
            fclose(f);
        cr_assert_fail("pingdrop.sh exit %d, no result (%s)", rc, je.text);
    }
    char *text = json_dumps(r, JSON_COMPACT);
    fprintf(stderr, "[pingdrop] %s\n", text);
    free(text);

    cr_assert_eq(rc, 0, "pingdrop.sh exit %d: %s", rc,
                 json_string_value(json_object_get(r, "error")));
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "completed");
    cr_assert_eq(num(r, "migrate_exit"), 0);
    /* QEMU 7.2's TCG can migrate stale guest memory (docs/lab.md); the
     * script's workaround narrows the window but does not close it. */
    cr_assert(json_is_null(json_object_get(r, "dst_panic")),
              "the guest's kernel failed on the destination (QEMU 7.2 TCG dirty tracking, "
              "docs/policies.md): %s",
              json_string_value(json_object_get(r, "dst_panic")));
    cr_assert_gt(num(r, "answers_after"), 0, "the guest does not answer after the migration");

    /* cutover downtime on the capture: ping mode, no outage open at the end
     * (the guest came back), every outage under a generous bound. */
    json_t *p = json_object_get(r, "ping");
    cr_assert(json_is_object(p), "no cutover downtime result");
    cr_assert_str_eq(json_string_value(json_object_get(p, "mode")), "ping");
    cr_assert_gt(num(p, "echo_replies"), 100, "the capture saw almost no replies");
    double longest = num(p, "longest_outage_ms");
    cr_assert(longest > 0 && longest < 5000, "longest ping drop %.1f ms", longest);
    json_t *outages = json_object_get(p, "outages"), *u;
    size_t i;
    json_array_foreach(outages, i, u)
        cr_assert(!json_is_true(json_object_get(u, "open")),
                  "an outage lasts to the end of the capture");

    /* QEMU's self-announce after switchover: RARP frames from the guest's
     * MAC; the first lies inside the drop of the switch (QEMU announces,
     * then starts the guest on the destination; until a frame from the
     * guest's MAC comes through the destination's tap, the bridge sends the
     * requests to the source's). */
    cr_assert_gt(num(r, "rarp_frames"), 0, "no RARP announce in the capture");
    json_t *drop = json_object_get(r, "switch_drop");
    cr_assert(json_is_object(drop), "no lost requests around the first RARP");
    double drop_ms = num(drop, "duration_ms");
    cr_assert(drop_ms > 0 && drop_ms < 5000, "ping drop at the switch %.1f ms", drop_ms);
    double gap_ms = num(r, "reply_gap_ms");
    cr_assert(gap_ms > 0 && gap_ms < 5000, "reply gap %.1f ms", gap_ms);
    json_decref(r);
}
