/* util/diag.c: error names, exit codes and diagnostics. */
#include "util/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *name;
    const char *desc;
    int exit_code;
} err_table[] = {
    {CO_OK, "OK", "success", 0},
    {CO_EUSAGE, "EUSAGE", "bad command-line usage", 64},
    {CO_EDATA, "EDATA", "malformed input data", 65},
    {CO_ENOINPUT, "ENOINPUT", "input not found or unreadable", 66},
    {CO_EUNAVAIL, "EUNAVAIL", "service unavailable", 69},
    {CO_ESOFTWARE, "ESOFTWARE", "internal error", 70},
    {CO_EOS, "EOS", "operating system error", 71},
    {CO_ECANTCREAT, "ECANTCREAT", "cannot create output", 73},
    {CO_EIO, "EIO", "input/output error", 74},
    {CO_ETIMEDOUT, "ETIMEDOUT", "timed out", 75},
    {CO_EPROTO, "EPROTO", "protocol error", 76},
    {CO_ENOPERM, "ENOPERM", "permission denied", 77},
    {CO_ECONFIG, "ECONFIG", "configuration error", 78},
    {CO_ENOMEM, "ENOMEM", "out of memory", 71},
    {CO_EBUSY, "EBUSY", "resource busy", 75},
    {CO_ECANCELED, "ECANCELED", "cancelled", 75},
    {CO_EFAILED, "EFAILED", "operation failed", 1},
    {CO_ERANGE, "ERANGE", "value out of range", 65},
};

static int find(int err)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == err)
            return (int)i;
    return -1;
}

const char *co_err_name(int err)
{
    int i = find(err);
    return i < 0 ? "EUNKNOWN" : err_table[i].name;
}

const char *co_strerror(int err)
{
    int i = find(err);
    return i < 0 ? "unknown error" : err_table[i].desc;
}

int co_exit_code(int err)
{
    int i = find(err);
    return i < 0 ? 70 : err_table[i].exit_code;
}

void co_diag_init(co_diag *d)
{
    d->code = CO_OK;
    d->msg[0] = '\0';
}

int co_diag_set(co_diag *d, int code, const char *fmt, ...)
{
    if (d == NULL || d->code != CO_OK)
        return code;
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return code;
}

void co_diag_prefix(co_diag *d, const char *fmt, ...)
{
    if (d == NULL)
        return;
    char buf[sizeof d->msg];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf - 2)
        return;
    size_t used = (size_t)n;
    buf[used++] = ':';
    buf[used++] = ' ';
    size_t room = sizeof buf - used - 1, len = strlen(d->msg);
    if (len > room)
        len = room;
    memcpy(buf + used, d->msg, len);
    buf[used + len] = '\0';
    memcpy(d->msg, buf, sizeof buf);
}
