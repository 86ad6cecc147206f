/* meter/flowtab.h: a growing table of flows keyed by fixed-size bytes.
 *
 * Owns: the hash-and-grow structure the capture meters share (the ping
 * flows of pcapmeter, the TCP connections of linkstat): items of one size
 * in an array that doubles as it fills, each starting with a key of
 * key_size bytes, and an open-addressing index (linear probing, FNV-1a of
 * the key bytes) kept at most half full so a probe ends after a slot or
 * two. Items never move between indexes, so callers keep an item's index
 * (a uint32_t in their per-packet records) instead of its key. Keys
 * compare by their bytes: callers zero a key before filling it if it has
 * padding. Not thread-safe. Also the doubling rule for the meters' other
 * arrays (co_ftab_grow). */
#ifndef CUTOVER_METER_FLOWTAB_H
#define CUTOVER_METER_FLOWTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct co_ftab {
    void *items;       /* n items of item_size bytes, key first */
    size_t item_size, key_size;
    size_t n, cap;
    uint32_t *slots;   /* index + 1 of an item, 0 empty */
    size_t n_slots;    /* a power of two, or 0 before the first add */
    size_t max_items;  /* co_ftab_get adds no item beyond this */
} co_ftab;

/* An empty table of items of item_size bytes whose first key_size bytes
 * (key_size <= item_size) are the key; at most max_items items (0: as many
 * as a uint32_t index holds). Allocates nothing yet. */
void co_ftab_init(co_ftab *t, size_t item_size, size_t key_size, size_t max_items);
/* Free what the table holds (t itself is the caller's); t is empty after. */
void co_ftab_free(co_ftab *t);
/* Index of the item whose key equals key (key_size bytes). When absent,
 * adds an item with that key and the rest zeroed, and sets *added (may be
 * NULL) to 1. Returns the index, CO_EBUSY when absent and the table holds
 * max_items already (nothing added), CO_ENOMEM when out of memory. */
long co_ftab_get(co_ftab *t, const void *key, int *added);
/* Item i (i < t->n); valid until the next co_ftab_get. */
static inline void *co_ftab_item(const co_ftab *t, size_t i)
{
    return (char *)t->items + i * t->item_size;
}
/* Make room for element n of *arr (elements of elem bytes, capacity *cap):
 * the capacity doubles from first when n reaches it. 0, or -1 when out of
 * memory (*arr and *cap unchanged). */
int co_ftab_grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first);

#endif
