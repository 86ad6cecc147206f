/* util/diag.h: diagnostics, the "what is wrong and where" of a failure.
 *
 * Owns: struct co_diag, a fixed-size message buffer passed explicitly to any
 * function that can fail on user input, so the message can name the flag,
 * file, line and field. No globals; no allocation. */
#ifndef CUTOVER_UTIL_DIAG_H
#define CUTOVER_UTIL_DIAG_H

#include "util/error.h"

typedef struct co_diag {
    int code;       /* CO_E* of the first failure, CO_OK if none */
    char msg[768];  /* one line, no trailing newline */
} co_diag;

void co_diag_init(co_diag *d);
/* Record a failure (printf-style message) and return code, so callers can
 * write `return co_diag_set(d, CO_EDATA, "...")`. A NULL d is allowed.
 * The first failure wins: later calls keep the first message. */
int co_diag_set(co_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with "prefix: " (e.g. a file name). */
void co_diag_prefix(co_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
