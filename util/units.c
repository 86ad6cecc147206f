/* util/units.c: unit parsing with exact, table-driven suffixes. */
#include "util/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct suffix {
    const char *name;
    double mult;
};

static const struct suffix size_suffixes[] = {
    {"", 1.0}, {"B", 1.0}, {"b", 1.0}, {"bytes", 1.0},
    {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
    {"K", 1024.0}, {"M", 1048576.0}, {"G", 1073741824.0}, {"T", 1099511627776.0},
    {"k", 1024.0},
};

/* Rates in bytes per second. */
static const struct suffix rate_suffixes[] = {
    {"bit", 1.0 / 8}, {"kbit", 1e3 / 8}, {"Kbit", 1e3 / 8}, {"Mbit", 1e6 / 8},
    {"Gbit", 1e9 / 8}, {"Tbit", 1e12 / 8},
    {"bit/s", 1.0 / 8}, {"kbit/s", 1e3 / 8}, {"Kbit/s", 1e3 / 8}, {"Mbit/s", 1e6 / 8},
    {"Gbit/s", 1e9 / 8}, {"Tbit/s", 1e12 / 8},
    {"kb/s", 1e3 / 8}, {"Kb/s", 1e3 / 8}, {"Mb/s", 1e6 / 8}, {"Gb/s", 1e9 / 8},
    {"Tb/s", 1e12 / 8},
    {"B/s", 1.0}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"TB/s", 1e12},
    {"KiB/s", 1024.0}, {"MiB/s", 1048576.0}, {"GiB/s", 1073741824.0},
    {"TiB/s", 1099511627776.0},
};

static const struct suffix time_suffixes[] = {
    {"us", 1e-3}, {"ms", 1.0}, {"s", 1e3}, {"sec", 1e3}, {"m", 60e3}, {"min", 60e3},
    {"h", 3600e3},
};

static int parse_with(const char *text, const char *what, const struct suffix *tab,
                      size_t n, int unit_required, const char *expect, double *out,
                      co_diag *d)
{
    if (text == NULL || *text == '\0')
        return co_diag_set(d, CO_EUSAGE, "%s: empty value (expected %s)", what, expect);
    errno = 0;
    char *end = NULL;
    /* strtod would accept "inf", "nan" and hex; insist on a plain decimal. */
    const char *p = text;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return co_diag_set(d, CO_EUSAGE, "%s: '%s' is not a number (expected %s)", what,
                           text, expect);
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v))
        return co_diag_set(d, CO_EUSAGE, "%s: '%s' is not a number (expected %s)", what,
                           text, expect);
    while (*end == ' ')
        end++;
    if (*end == '\0' && unit_required)
        return co_diag_set(d, CO_EUSAGE, "%s: '%s' has no unit (expected %s)", what, text,
                           expect);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(end, tab[i].name) == 0) {
            if (v < 0)
                return co_diag_set(d, CO_EUSAGE, "%s: '%s' is negative", what, text);
            /* "1e308TiB" is a finite number and a finite unit, not a finite size */
            if (!isfinite(v * tab[i].mult))
                return co_diag_set(d, CO_EUSAGE, "%s: '%s' is too large", what, text);
            *out = v * tab[i].mult;
            return CO_OK;
        }
    }
    if (tab == rate_suffixes && strlen(end) >= 3 &&
        strcasecmp(end + strlen(end) - 3, "bps") == 0)
        return co_diag_set(d, CO_EUSAGE,
                           "%s: unit '%s' in '%s' is ambiguous (bits or bytes?): write "
                           "e.g. Gbit or GB/s",
                           what, end, text);
    return co_diag_set(d, CO_EUSAGE, "%s: unknown unit '%s' in '%s' (expected %s)", what,
                       end, text, expect);
}

int co_parse_size(const char *text, const char *what, double *bytes, co_diag *d)
{
    return parse_with(text, what, size_suffixes, sizeof size_suffixes / sizeof *size_suffixes,
                      0, "a size such as 512MiB, 16GiB or 4GB", bytes, d);
}

int co_parse_rate(const char *text, const char *what, double *bps, co_diag *d)
{
    return parse_with(text, what, rate_suffixes, sizeof rate_suffixes / sizeof *rate_suffixes,
                      1, "a rate such as 10Gbit, 800Mbit or 120MB/s", bps, d);
}

int co_parse_time(const char *text, const char *what, double *ms, co_diag *d)
{
    return parse_with(text, what, time_suffixes, sizeof time_suffixes / sizeof *time_suffixes,
                      1, "a duration such as 300ms, 10s, 5m or 1h", ms, d);
}

int co_parse_number(const char *text, const char *what, double *out, co_diag *d)
{
    static const struct suffix none[] = {{"", 1.0}};
    return parse_with(text, what, none, 1, 0, "a plain number", out, d);
}

char *co_fmt_size(double b, char *buf, size_t len)
{
    static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int i = 0;
    while (fabs(b) >= 1024.0 && i < 5) {
        b /= 1024.0;
        i++;
    }
    snprintf(buf, len, i == 0 ? "%.0f %s" : "%.2f %s", b, u[i]);
    return buf;
}

char *co_fmt_rate(double bytes_per_s, char *buf, size_t len)
{
    static const char *u[] = {"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"};
    double v = bytes_per_s * 8.0;
    int i = 0;
    while (fabs(v) >= 1000.0 && i < 4) {
        v /= 1000.0;
        i++;
    }
    snprintf(buf, len, "%.2f %s", v, u[i]);
    return buf;
}

char *co_fmt_time(double ms, char *buf, size_t len)
{
    if (!isfinite(ms))
        snprintf(buf, len, "never");
    else if (fabs(ms) < 1000.0)
        snprintf(buf, len, "%.1f ms", ms);
    else if (fabs(ms) < 120e3)
        snprintf(buf, len, "%.2f s", ms / 1e3);
    else if (fabs(ms) < 7200e3)
        snprintf(buf, len, "%.1f min", ms / 60e3);
    else
        snprintf(buf, len, "%.2f h", ms / 3600e3);
    return buf;
}
