/* meter/pcaplive.h: a downtime measurement running beside a migration.
 *
 * Owns: one background thread that captures live (meter/pcapio.h) into a
 * downtime meter (meter/pcapmeter.h) while the caller does something else,
 * e.g. `cutover migrate --measure pcap:IFACE,FILTER` driving a migration;
 * and the parsing of that "pcap:IFACE,FILTER" spec. Start returns once the
 * capture is active, so traffic sent afterwards is seen; stop ends it, joins
 * the thread and analyses. Times in ms. */
#ifndef CUTOVER_ENGINE_PCAPLIVE_H
#define CUTOVER_ENGINE_PCAPLIVE_H

#include <stddef.h>

#include "meter/pcapmeter.h"
#include "util/diag.h"

typedef struct co_dtm_live co_dtm_live;

typedef struct co_dtm_live_opts {
    const char *iface;      /* required */
    const char *filter;     /* required: BPF selecting the measured flow */
    co_dtm_opts meter;      /* mode and --gap */
    double max_duration_ms; /* the capture never runs longer; 0 = 1 hour */
    const char *save_path;  /* also write the packets here, or NULL */
} co_dtm_live_opts;

/* Start capturing. On success *out is the running measurement (strings in
 * o are copied). Returns CO_OK, or the capture's error (CO_ENOINPUT no such
 * interface, CO_ENOPERM, CO_EUSAGE bad filter, CO_EUNAVAIL, ...) with d
 * filled; nothing runs then. Waits at most 5 s for the capture to start. */
int co_dtm_live_start(const co_dtm_live_opts *o, co_dtm_live **out, co_diag *d);

/* Stop the capture, wait for the thread, analyse and free l (always, even
 * on error). Fills *r (free with co_dtm_result_free) and, if not NULL,
 * *kernel_drops. Returns CO_OK or the capture's / meter's error. */
int co_dtm_live_stop(co_dtm_live *l, co_dtm_result *r, unsigned long long *kernel_drops,
                     co_diag *d);

/* Parse "pcap:IFACE,FILTER" (the filter may contain commas) into iface and
 * filter buffers. CO_EUSAGE naming what is missing, e.g. "--measure
 * 'pcap:eth0': expected pcap:IFACE,FILTER". */
int co_dtm_parse_measure(const char *spec, char *iface, size_t iface_len, char *filter,
                         size_t filter_len, co_diag *d);

#endif
