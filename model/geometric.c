/* model/geometric.c: Clark/Akoush geometric pre-copy baseline. */
#include "model/geometric.h"

#include <math.h>
#include <string.h>

#include "util/error.h"

int co_geo_predict(double M, double D, double B, double limit_ms, double cost_ms,
                   int max_passes, co_geo_result *out)
{
    if (!(M > 0) || !(D >= 0) || !(B > 0) || !(limit_ms > 0) || max_passes < 1 || !(cost_ms >= 0))
        return CO_ERANGE;
    memset(out, 0, sizeof *out);
    double thr = B * limit_ms / 1000.0;
    double v = M, t = 0, sent = 0;
    int i;
    for (i = 0; i < max_passes; i++) {
        double dt = v / B;
        t += dt;
        sent += v;
        v = D * dt; /* everything written during the pass is sent again */
        if (v < thr)
            break;
    }
    out->converged = v < thr;
    out->passes = i + 1;
    out->downtime_ms = v / B * 1000.0 + cost_ms;
    out->total_time_ms = t * 1000.0 + out->downtime_ms;
    out->transferred_bytes = sent + v;
    return CO_OK;
}
