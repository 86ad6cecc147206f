/* model/geometric.h: the classic geometric pre-copy model, as a baseline.
 *
 * Owns: the textbook model (Clark et al., NSDI 2005; Akoush et al., MASCOTS
 * 2010): one average dirty rate D (bytes/s), bandwidth B; pass i sends
 * V_i = M (D/B)^i; stop when V_i falls below B x downtime-limit or after
 * max_passes, then stop-and-copy V_n. It ignores that distinct dirty pages
 * saturate at the working set, which is what model/migration.h adds.
 * Used by the accuracy benchmark as the baseline to beat. Pure math. */
#ifndef CUTOVER_MODEL_GEOMETRIC_H
#define CUTOVER_MODEL_GEOMETRIC_H

typedef struct co_geo_result {
    int converged;
    int passes;
    double total_time_ms;
    double downtime_ms;
    double transferred_bytes;
} co_geo_result;

/* mem_bytes > 0, dirty_bytes_per_s >= 0, bandwidth_bytes_per_s > 0,
 * downtime_limit_ms > 0, max_passes >= 1 (30 is usual). Returns 0 or
 * CO_ERANGE. */
int co_geo_predict(double mem_bytes, double dirty_bytes_per_s, double bandwidth_bytes_per_s,
                   double downtime_limit_ms, double switchover_cost_ms, int max_passes,
                   co_geo_result *out);

#endif
