/* tests/test_util.h: helpers shared by the Criterion tests. */
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

#endif
