/* tests/test_util.h: helpers shared by the Criterion tests.
 *
 * Skips: a test that needs something this machine may lack (root, a program
 * such as gnuplot or ip, a daemon, KVM) checks for it first and skips with
 * the reason (co_test_need_cmd, co_test_need_root, or cr_skip_test directly);
 * it never fails for it and never returns silently. tests/run.sh lists every
 * skip with its reason and counts it in its closing line. */
#ifndef CUTOVER_TEST_UTIL_H
#define CUTOVER_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run the built cutover binary (CUTOVER_BIN, or build/cutover) with a shell
 * argument string; capture stdout and stderr into caller buffers; return the
 * exit code (or -1). */
static inline int co_test_run(const char *args, char *out, size_t outlen, char *err,
                              size_t errlen)
{
    const char *bin = getenv("CUTOVER_BIN");
    if (bin == NULL)
        bin = "build/cutover";
    char ofile[] = "/tmp/cotest-out-XXXXXX", efile[] = "/tmp/cotest-err-XXXXXX";
    int ofd = mkstemp(ofile), efd = mkstemp(efile);
    if (ofd < 0 || efd < 0)
        return -1;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", bin, args, ofile, efile);
    int st = system(cmd);
    FILE *f;
    if (out && (f = fdopen(ofd, "r"))) {
        size_t n = fread(out, 1, outlen - 1, f);
        out[n] = '\0';
        fclose(f);
    } else {
        close(ofd);
    }
    if (err && (f = fdopen(efd, "r"))) {
        size_t n = fread(err, 1, errlen - 1, f);
        err[n] = '\0';
        fclose(f);
    } else {
        close(efd);
    }
    unlink(ofile);
    unlink(efile);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 1 if an executable named cmd is in PATH (a name with a '/' is checked as
 * is). No shell: PATH is split here. */
static inline int co_test_have_cmd(const char *cmd)
{
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char full[4096];
        if (n > 0 && n + strlen(cmd) + 2 <= sizeof full) {
            memcpy(full, p, n);
            full[n] = '/';
            strcpy(full + n + 1, cmd);
            if (access(full, X_OK) == 0)
                return 1;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

/* Skip the calling test (Criterion's cr_skip_test, so the file must include
 * <criterion/criterion.h>) unless cmd is in PATH / unless running as root;
 * why says what needs it. */
#define co_test_need_cmd(cmd)                                                        \
    do {                                                                             \
        if (!co_test_have_cmd(cmd))                                                  \
            cr_skip_test("%s not found in PATH", (cmd));                             \
    } while (0)
#define co_test_need_root(why)                                                       \
    do {                                                                             \
        if (geteuid() != 0)                                                          \
            cr_skip_test("needs root (%s)", (why));                                  \
    } while (0)

#endif
