/* fuzz/fuzz_journal.c: libFuzzer target for the cycle journal's reader.
 *
 * Feeds arbitrary bytes to co_jrn_read_buffer() (what --resume reads after
 * a crash). Checks: a refusal says what is wrong; an accepted journal holds
 * only objects with seq 1, 2, ... and t_ms and ev; a torn tail is reported
 * only when the input does not end with a newline. Build and run: make
 * fuzz-journal-run; or build-fuzz/fuzz_journal fuzz/corpus/journal. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cycle/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    co_diag d;
    co_diag_init(&d);
    json_t *all = NULL;
    int torn = -1;
    int rc = co_jrn_read_buffer((const char *)data, size, "fuzz", &all, &torn, &d);
    if (rc != CO_OK) {
        if (all != NULL || d.code == CO_OK || d.msg[0] == '\0')
            abort(); /* a failure must say what is wrong, and give nothing */
        return 0;
    }
    if (all == NULL || !json_is_array(all) || (torn != 0 && torn != 1))
        abort();
    if (torn != (size > 0 && data[size - 1] != '\n'))
        abort();
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *o = json_array_get(all, i);
        if (json_integer_value(json_object_get(o, "seq")) != (json_int_t)i + 1 ||
            !json_is_integer(json_object_get(o, "t_ms")) ||
            !json_is_string(json_object_get(o, "ev")))
            abort();
    }
    json_decref(all);
    return 0;
}
