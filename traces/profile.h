/* traces/profile.h: the `--dirty` profile syntax.
 *
 * Owns: turning a dirty-behaviour spec into a model curve (model/dirty.h):
 *   none
 *   uniform:wss=SIZE,rate=PAGES_PER_S
 *   hotcold:hot=SIZE,cold=SIZE,hotfrac=0..1,rate=PAGES_PER_S
 *   seq:wss=SIZE,rate=PAGES_PER_S
 *   table:WINDOW=PAGES,...      e.g. table:1s=20000,2s=35000,4s=52000
 *   trace:FILE                  a dirty trace (traces/dirty_trace.h)
 * SIZE takes the units of util/units.h; rate is page writes per second.
 * Errors name the flag, the spec and the offending key. */
#ifndef CUTOVER_TRACES_PROFILE_H
#define CUTOVER_TRACES_PROFILE_H

#include "model/dirty.h"
#include "util/diag.h"

/* Parse spec for a VM of mem_bytes with page_size_bytes pages. what names
 * the flag in messages ("--dirty"). Returns CO_OK, CO_EUSAGE (bad spec),
 * or the trace reader's CO_ENOINPUT / CO_EDATA for trace:FILE. */
int co_profile_parse(const char *spec, double mem_bytes, double page_size_bytes,
                     const char *what, co_dirty *out, co_diag *d);

#endif
