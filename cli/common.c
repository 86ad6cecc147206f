/* cli/common.c: helpers shared by every command. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
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

/* Signal flags (the globals conventions allow), set only by on_stop_signal. */
static volatile sig_atomic_t g_stop_level, g_stop_signo;

static void on_stop_signal(int sig)
{
    g_stop_signo = sig;
    if (g_stop_level < 2)
        g_stop_level++;
}

void co_cli_catch_stop_signals(volatile sig_atomic_t **level, volatile sig_atomic_t **signo)
{
    g_stop_level = g_stop_signo = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    *level = &g_stop_level;
    *signo = &g_stop_signo;
}

const char *co_cli_signal_name(int sig)
{
    return sig == SIGHUP ? "SIGHUP" : sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM"
                                                                                : "a signal";
}
