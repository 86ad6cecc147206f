/* fuzz/fuzz_inventory.c: libFuzzer target for the host list `cutover
 * inventory` reads (inventory/file.c), then the writer's JSON of what it
 * would write (settled with nothing measured). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "inventory/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    co_inv *inv = malloc(sizeof *inv);
    if (inv == NULL)
        return 0;
    co_inv_init(inv);
    co_diag d;
    co_diag_init(&d);
    if (co_inv_from_text(inv, (const char *)data, size, "fuzz", &d) == CO_OK) {
        co_inv_opts o = {.measure_dirty = 1};
        co_inv_settle(inv, &o);
        json_decref(co_inv_json(inv));
    }
    co_inv_free(inv);
    free(inv);
    return 0;
}
