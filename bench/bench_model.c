/* bench/bench_model.c: predictions per second and memory of model/.
 * Target (issue 2): >= 1,000,000 predictions/s on one core for a 64 GiB VM
 * with a measured-table dirty curve. Baselines in the same run: the same
 * prediction with a closed-form curve, and the geometric textbook model. */
#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "model/geometric.h"
#include "model/migration.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile double sink;

static double rate_of(co_mig_params *p, int n)
{
    co_mig_result r;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        /* vary an input so nothing is hoisted out of the loop */
        p->downtime_limit_ms = 300 + (i & 15);
        co_mig_predict(p, &r);
        sink += r.total_time_ms;
    }
    return n / (now_s() - t0);
}

int main(void)
{
    const double GiB = 1073741824.0;
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = 64 * GiB;
    /* a measured table: 8 windows of a busy 64 GiB VM (hot/cold shape) */
    double t[] = {0.25, 0.5, 1, 2, 4, 8, 16, 32};
    double u[8];
    co_dirty hc;
    co_dirty_hotcold(&hc, 1 * GiB / 4096, 12 * GiB / 4096, 0.85, 120000);
    for (int i = 0; i < 8; i++)
        u[i] = co_dirty_pages(&hc, t[i]);
    co_dirty_table(&p.dirty, t, u, 8, p.mem_bytes / 4096);
    p.link.line_rate_bytes_per_s = 25e9 / 8;
    p.link.channels = 4;

    co_mig_result r;
    co_mig_predict(&p, &r);
    int n = 2000000;
    double table_rate = rate_of(&p, n);
    co_mig_params q = p;
    q.dirty = hc;
    double closed_rate = rate_of(&q, n);

    double t0 = now_s();
    co_geo_result g;
    for (int i = 0; i < n; i++) {
        co_geo_predict(64 * GiB, 120000 * 4096.0, 2.9e9, 300 + (i & 15), 15, 30, &g);
        sink += g.total_time_ms;
    }
    double geo_rate = n / (now_s() - t0);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench_model: 64 GiB VM, 8-point measured-table curve, 25 Gbit/s, 4 channels\n");
    printf("  prediction: converged=%d passes=%d total=%.1f s downtime=%.1f ms\n", r.converged,
           r.passes, r.total_time_ms / 1000, r.downtime_ms);
    printf("  predictions_per_s (table curve)       %12.0f   target >= 1000000 : %s\n", table_rate,
           table_rate >= 1e6 ? "MET" : "MISSED");
    printf("  predictions_per_s (closed-form curve) %12.0f   ratio table/closed = %.2f\n",
           closed_rate, table_rate / closed_rate);
    printf("  predictions_per_s (geometric baseline)%12.0f   ratio table/geometric = %.3f\n",
           geo_rate, table_rate / geo_rate);
    printf("  result struct size %zu bytes, params %zu bytes\n", sizeof(co_mig_result),
           sizeof(co_mig_params));
    printf("  peak RSS %.1f MiB (no allocation per prediction)\n", ru.ru_maxrss / 1024.0);
    return 0;
}
