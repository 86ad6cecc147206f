/* fuzz/fuzz_units.c: libFuzzer target for the unit parsers (util/units.h):
 * sizes, rates, times and plain numbers as users type them on the command
 * line. The same NUL-terminated bytes go through all four; whatever one
 * accepts must be finite and not negative (the contract) and is rendered
 * back. Seeds: fuzz/corpus/units. Build and run: make fuzz-units-run. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/units.h"

/* A failure must name what is wrong; a success must keep the contract. */
static void check(int rc, double v, const co_diag *d)
{
    if (rc != CO_OK) {
        if (d->msg[0] == '\0')
            abort();
        return;
    }
    if (!isfinite(v) || v < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0; /* a flag value, not a file */
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    char buf[64];
    double v = 0;
    co_diag d;

    co_diag_init(&d);
    int rc = co_parse_size(s, "--mem", &v, &d);
    check(rc, v, &d);
    if (rc == CO_OK)
        co_fmt_size(v, buf, sizeof buf);

    co_diag_init(&d);
    rc = co_parse_rate(s, "--link", &v, &d);
    check(rc, v, &d);
    if (rc == CO_OK)
        co_fmt_rate(v, buf, sizeof buf);

    co_diag_init(&d);
    rc = co_parse_time(s, "--downtime-limit", &v, &d);
    check(rc, v, &d);
    if (rc == CO_OK)
        co_fmt_time(v, buf, sizeof buf);

    co_diag_init(&d);
    rc = co_parse_number(s, "--runs", &v, &d);
    if (rc != CO_OK && d.msg[0] == '\0')
        abort(); /* a plain number may be negative */
    return 0;
}
