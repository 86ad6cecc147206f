/* meter/flowtab.c: the meters' growing flow table (see flowtab.h). */
#include "meter/flowtab.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Index slots of a new table; doubles from here. */
#define FTAB_FIRST_SLOTS 64
/* Item capacity of a new table; doubles from here. */
#define FTAB_FIRST_ITEMS 256
/* FNV-1a, 64-bit (Fowler, Noll, Vo; the published offset basis and prime). */
#define FNV64_OFFSET 1469598103934665603ull
#define FNV64_PRIME 1099511628211ull

void co_ftab_init(co_ftab *t, size_t item_size, size_t key_size, size_t max_items)
{
    memset(t, 0, sizeof *t);
    t->item_size = item_size;
    t->key_size = key_size;
    t->max_items = max_items > 0 && max_items < UINT32_MAX ? max_items : UINT32_MAX - 1;
}

void co_ftab_free(co_ftab *t)
{
    free(t->items);
    free(t->slots);
    co_ftab_init(t, t->item_size, t->key_size, t->max_items);
}

int co_ftab_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : first;
    void *p = realloc(*arr, nc * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static uint64_t key_hash(const void *key, size_t n)
{
    const uint8_t *p = key;
    uint64_t h = FNV64_OFFSET;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV64_PRIME;
    return h;
}

/* Rebuild the index at twice the size when one more item would pass half
 * full: linear probing stays short below that. */
static int rehash(co_ftab *t)
{
    if (2 * (t->n + 1) <= t->n_slots)
        return 0;
    size_t ns = t->n_slots ? t->n_slots * 2 : FTAB_FIRST_SLOTS;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (sl == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = key_hash(co_ftab_item(t, i), t->key_size) & (ns - 1);
        while (sl[j])
            j = (j + 1) & (ns - 1);
        sl[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = sl;
    t->n_slots = ns;
    return 0;
}

long co_ftab_get(co_ftab *t, const void *key, int *added)
{
    if (added)
        *added = 0;
    if (rehash(t))
        return CO_ENOMEM;
    size_t mask = t->n_slots - 1;
    size_t j = key_hash(key, t->key_size) & mask;
    while (t->slots[j]) {
        size_t i = t->slots[j] - 1;
        if (memcmp(co_ftab_item(t, i), key, t->key_size) == 0)
            return (long)i;
        j = (j + 1) & mask;
    }
    if (t->n >= t->max_items)
        return CO_EBUSY;
    if (co_ftab_grow(&t->items, &t->cap, t->n, t->item_size, FTAB_FIRST_ITEMS))
        return CO_ENOMEM;
    void *it = co_ftab_item(t, t->n);
    memset(it, 0, t->item_size);
    memcpy(it, key, t->key_size);
    t->slots[j] = (uint32_t)++t->n;
    if (added)
        *added = 1;
    return (long)t->n - 1;
}
