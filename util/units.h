/* util/units.h: parsing and printing of sizes, rates and durations.
 *
 * Owns: the unit vocabulary users type, as virsh and tc users expect it.
 *   sizes:  B, KB MB GB TB (powers of 1000), KiB MiB GiB TiB and K M G T
 *           (powers of 1024, as virsh reads them). A bare number is bytes.
 *   rates:  bit/s forms  bit kbit Mbit Gbit Tbit (also "Gbit/s", "Gb/s");
 *           byte/s forms B/s KB/s MB/s GB/s KiB/s MiB/s GiB/s.
 *           "bps"-style suffixes are refused as ambiguous. A unit is required.
 *   times:  us ms s m(in) h. A unit is required.
 * Every parser returns CO_OK or CO_EUSAGE and fills d with a message that
 * quotes the text and says what was expected. Results are checked for
 * finiteness and sign; range checks belong to the caller. */
#ifndef CUTOVER_UTIL_UNITS_H
#define CUTOVER_UTIL_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

/* "16GiB" -> 17179869184.0 bytes. what names the input in messages. */
int co_parse_size(const char *text, const char *what, double *bytes, co_diag *d);
/* "10Gbit" -> 1.25e9 bytes per second. */
int co_parse_rate(const char *text, const char *what, double *bytes_per_s, co_diag *d);
/* "300ms" -> 300.0 milliseconds. */
int co_parse_time(const char *text, const char *what, double *ms, co_diag *d);
/* A plain decimal number (no unit), e.g. "20000" or "0.9". */
int co_parse_number(const char *text, const char *what, double *out, co_diag *d);

/* Human renderings into buf (returns buf): "4.00 GiB", "9.41 Gbit/s", "1.25 s". */
char *co_fmt_size(double bytes, char *buf, size_t len);
char *co_fmt_rate(double bytes_per_s, char *buf, size_t len);
char *co_fmt_time(double ms, char *buf, size_t len);

#endif
