/* cli/common.c: helpers shared by every command. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int co_cli_fail(const char *cmd, const co_diag *d)
{
    fprintf(stderr, "cutover %s: %s\n", cmd,
            d->msg[0] ? d->msg : co_strerror(d->code));
    int rc = co_exit_code(d->code);
    return rc == 0 ? 70 : rc;
}

int co_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cutover %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 64;
}

int co_cli_emit_json(FILE *out, json_t *j)
{
    if (j == NULL) {
        fprintf(stderr, "cutover: out of memory building JSON\n");
        return 71;
    }
    int rc = json_dumpf(j, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0) {
        fprintf(stderr, "cutover: writing JSON: %s\n", strerror(errno));
        return 74;
    }
    return 0;
}

void co_cli_getopt_reset(void)
{
    optind = 0; /* glibc: 0 forces a full re-initialisation */
    opterr = 0; /* we print our own messages */
}

FILE *co_cli_open_out(const char *path, const char *what, co_diag *d)
{
    if (strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        co_diag_set(d, CO_ECANTCREAT, "%s: cannot create '%s': %s", what, path,
                    strerror(errno));
    return f;
}
