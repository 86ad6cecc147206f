/* fuzz/fuzz_dirty_trace.c: libFuzzer target for the dirty-trace reader and
 * the --dirty spec parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "traces/dirty_trace.h"
#include "traces/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    co_dirty_trace t;
    co_diag d;
    co_diag_init(&d);
    if (co_dirty_trace_parse((const char *)data, size, "fuzz", &t, &d) == CO_OK) {
        co_dirty c;
        co_dirty_trace_curve(&t, &c);
        (void)co_dirty_pages(&c, 1.0);
    }
    /* the same bytes as a --dirty spec (NUL-terminated copy, no trace: files) */
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (strncmp(s, "trace:", 6) != 0) {
        co_dirty c;
        co_diag_init(&d);
        co_profile_parse(s, 16.0 * (1 << 30), 4096, "--dirty", &c, &d);
    }
    free(s);
    return 0;
}
