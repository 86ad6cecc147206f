/* util/jsonpos.h: where in a JSON text a value lives.
 *
 * Owns: mapping a JSON path such as "points[2].window_ms" to the 1-based
 * line of that value in the source text, so semantic errors found after
 * jansson has parsed a file can still name file, line and field (jansson
 * reports positions for syntax errors only). A small scanner, no allocation. */
#ifndef CUTOVER_UTIL_JSONPOS_H
#define CUTOVER_UTIL_JSONPOS_H

#include <stddef.h>

/* Line of the value at path in text[0..len), or 0 if not found or the text
 * is not well-formed. Path syntax: keys joined by '.', array indexes as
 * [N]; "" is the root. */
int co_json_line_of(const char *text, size_t len, const char *path);

#endif
