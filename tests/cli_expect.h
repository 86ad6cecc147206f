/* tests/cli_expect.h: run build/cutover from a Criterion test and check how
 * it refuses bad input (docs/conventions.md: one line on stderr
 * "cutover CMD: ...", nothing on stdout, a sysexits code).
 *
 * Owns: the captured stdout and stderr of the last cli_run (cli_out,
 * cli_err; one pair per test binary). Include after criterion.h. */
#ifndef CUTOVER_TESTS_CLI_EXPECT_H
#define CUTOVER_TESTS_CLI_EXPECT_H

#include <stdarg.h>
#include <string.h>

#include "test_util.h"

static char cli_out[1 << 16], cli_err[1 << 14];

/* Run `cutover ARGS` (a shell argument string built from fmt); returns the
 * exit code, output in cli_out / cli_err. */
static inline int cli_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int cli_run(const char *fmt, ...)
{
    char args[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    cli_out[0] = cli_err[0] = '\0';
    return co_test_run(args, cli_out, sizeof cli_out, cli_err, sizeof cli_err);
}

/* Exit code rc, nothing on stdout, one "cutover ..." line on stderr holding
 * w1 and w2 (either may be NULL). */
static inline void cli_expect_fail(int got, int rc, const char *w1, const char *w2)
{
    cr_assert_eq(got, rc, "exit %d, want %d; stderr: %s", got, rc, cli_err);
    cr_assert_str_eq(cli_out, "", "stdout not empty: %s", cli_out);
    char *nl = strchr(cli_err, '\n');
    cr_assert(nl && nl[1] == '\0', "want one line, got: %s", cli_err);
    cr_assert(strncmp(cli_err, "cutover ", 8) == 0, "%s", cli_err);
    if (w1)
        cr_assert(strstr(cli_err, w1), "'%s' not in: %s", w1, cli_err);
    if (w2)
        cr_assert(strstr(cli_err, w2), "'%s' not in: %s", w2, cli_err);
}

#endif
