/* cli/common.c: helpers shared by every command. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/policy.h"
#include "evacuate/evacuate.h"
#include "model/link.h"
#include "util/error.h"
#include "util/units.h"

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

void co_cli_mig_flags_init(co_cli_mig_flags *f)
{
    *f = (co_cli_mig_flags){.mtu = 0, .max_downtime_ms = 300, .deadline_ms = 600e3};
}

const co_cli_allow_item co_cli_evac_allow[] = {
    {"eject", CO_EVAC_ALLOW_EJECT},
    {"copy-storage", CO_EVAC_ALLOW_COPY_STORAGE},
    {"qemu-monitor", CO_EVAC_ALLOW_QEMU_MONITOR},
    {NULL, 0},
};

/* --allow: the caller's extra items, the rest as engine/policy.h's. */
static int parse_allow(const char *text, const co_cli_allow_item *extra, unsigned *allow,
                       co_diag *d)
{
    if (!extra) /* migrate: the policy's items only, as it parses them */
        return co_pol_parse_allow(text, allow, d);
    char buf[256], rest[256] = "";
    if (strlen(text) >= sizeof buf)
        return co_diag_set(d, CO_EUSAGE, "--allow: list too long");
    snprintf(buf, sizeof buf, "%s", text);
    *allow = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const co_cli_allow_item *x = extra;
        while (x && x->name && strcmp(x->name, t))
            x++;
        if (x && x->name) {
            *allow |= x->bit;
        } else {
            size_t l = strlen(rest);
            snprintf(rest + l, sizeof rest - l, "%s%s", l ? "," : "", t);
        }
    }
    if (rest[0]) {
        unsigned a;
        if (co_pol_parse_allow(rest, &a, d) != CO_OK) {
            /* the command's own items too, or the message hides them */
            char msg[sizeof d->msg], names[160] = "";
            size_t nl = 0;
            for (const co_cli_allow_item *x = extra; x->name && nl < sizeof names; x++)
                nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%s", nl ? ", " : "",
                                       x->name);
            snprintf(msg, sizeof msg, "%s", d->msg);
            int code = d->code;
            co_diag_init(d);
            return co_diag_set(d, code, "%.600s; this command also takes %s", msg, names);
        }
        *allow |= a;
    }
    return CO_OK;
}

int co_cli_mig_flag(enum co_cli_mig_flag which, const char *arg, const co_cli_allow_item *extra,
                    co_cli_mig_flags *f, co_diag *d)
{
    int rc = CO_OK;
    switch (which) {
    case CO_CLI_MTU: {
        char *end;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (end == arg || *end || errno || v < CO_LINK_MTU_MIN || v > CO_LINK_MTU_MAX)
            return co_diag_set(d, CO_EUSAGE, "--mtu '%s': expected %d..%d", arg,
                               CO_LINK_MTU_MIN, CO_LINK_MTU_MAX);
        f->mtu = (int)v;
        return CO_OK;
    }
    case CO_CLI_MAX_DOWNTIME:
        rc = co_parse_time(arg, "--max-downtime", &f->max_downtime_ms, d);
        if (rc == CO_OK && !(f->max_downtime_ms >= 1 && f->max_downtime_ms <= 600e3))
            rc = co_diag_set(d, CO_EUSAGE, "--max-downtime '%s': expected 1ms..10m", arg);
        return rc;
    case CO_CLI_DEADLINE:
        rc = co_parse_time(arg, "--deadline", &f->deadline_ms, d);
        if (rc == CO_OK && !(f->deadline_ms >= 1000 && f->deadline_ms <= 7 * 86400e3))
            rc = co_diag_set(d, CO_EUSAGE, "--deadline '%s': expected 1s..7d", arg);
        return rc;
    case CO_CLI_ALLOW:
        return parse_allow(arg, extra, &f->allow, d);
    }
    return co_diag_set(d, CO_EUSAGE, "internal: unknown migration flag %d", (int)which);
}
