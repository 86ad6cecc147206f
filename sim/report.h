/* sim/report.h: views of simulation results.
 *
 * Owns: the JSON document of a Monte Carlo summary (built with jansson), its
 * text rendering (a view of the same figures), and the per-host timeline
 * CSV of one recorded run. Nothing here computes a statistic. */
#ifndef CUTOVER_SIM_REPORT_H
#define CUTOVER_SIM_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "sim/sim.h"

/* New reference (caller decrefs); NULL on allocation failure. */
json_t *co_sim_summary_json(const co_sim_cluster *c, const co_sim_summary *s);
/* Text view of the JSON document j (from co_sim_summary_json). Returns 0 or
 * CO_EIO on a write error. */
int co_sim_summary_text(FILE *out, json_t *j);
/* CSV: kind,host,what,vm,start_s,end_s,stun_ms; one line per span. 0 or CO_EIO. */
int co_sim_timeline_csv(FILE *out, const co_sim_cluster *c, const co_sim_span *sp, size_t n);

#endif
