/* fuzz/fuzz_calibration.c: libFuzzer target for the file `cutover evacuate
 * --calibration` reads (evacuate/learn.c co_evac_calib_apply_json), then a
 * plan with what it applied, the calibration written back, and that merged
 * with the input (as `cutover cycle` carries it from drain to drain). */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evacuate/evacuate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)data, size, 0, &je);
    if (o == NULL)
        return 0;
    co_evac *e = malloc(sizeof *e);
    if (e == NULL) {
        json_decref(o);
        return 0;
    }
    co_evac_init(e);
    e->nic_bytes_per_s = 50e6;
    e->nvms = 3;
    static const double rate[] = {500, 25000, 100};
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        /* three 64 MiB TCG guests, as bench-evacuate's */
        *v = (co_evac_vm){.mem_bytes = 64.0 * 1048576, .vcpus = 1, .running = 1, .tcg = 1,
                          .group = -1, .given_order = i, .seen_factor = NAN, .time_ms = NAN,
                          .downtime_ms = NAN, .sent_bytes = NAN};
        snprintf(v->name, sizeof v->name, "vm%d", i + 1);
        co_dirty_uniform(&v->dirty, 48 * 256.0, rate[i]);
        v->dirty_mib_per_s = rate[i] / 256;
        v->cpu_ok[0] = 1;
    }
    e->ndests = 1;
    memset(&e->dests[0], 0, sizeof e->dests[0]);
    snprintf(e->dests[0].uri, sizeof e->dests[0].uri, "qemu+tcp://h2/system");
    e->dests[0].cap.mem_bytes = 8.0 * (1 << 30);
    e->dests[0].cap.cores = 8;
    co_diag d;
    co_diag_init(&d);
    if (co_evac_calib_apply_json(e, o, "fuzz", "fuzz", &d) == CO_OK) {
        co_diag_init(&d);
        if (co_evac_plan(e, &d) == CO_OK) {
            for (int i = 0; i < e->nvms; i++)
                snprintf(e->vms[i].status, sizeof e->vms[i].status, "completed");
            /* as if it ran for the predicted time: a drain to record */
            e->drain_total_ms = isfinite(e->pred_total_ms) ? e->pred_total_ms : 0;
        }
        json_t *back = co_evac_calib_json(e);
        json_decref(co_evac_calib_merge(o, back));
        json_decref(back);
    }
    free(e);
    json_decref(o);
    return 0;
}
