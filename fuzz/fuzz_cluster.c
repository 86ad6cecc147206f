/* fuzz/fuzz_cluster.c: libFuzzer target for the simulator's cluster reader.
 *
 * Feeds arbitrary bytes to co_sim_load_buffer(); whatever it accepts is
 * simulated once with the invariant checks on (small clusters only, so an
 * input cannot make one iteration slow). Build and run: make fuzz-cluster-run; or run
 * build-fuzz/fuzz_cluster fuzz/corpus/cluster. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    if (co_sim_load_buffer((const char *)data, size, "fuzz", &c, &d) != CO_OK) {
        if (d.code == CO_OK || d.msg[0] == '\0')
            abort(); /* a failure must say what is wrong */
        return 0;
    }
    if (c->nhosts <= 32 && c->nvms <= 64) {
        co_sim_run *r = co_sim_run_new(c);
        if (r != NULL) {
            co_sim_run_set_check(r, 1);
            co_sim_run_result res;
            if (co_sim_run_once(r, 1, 0, &res) == CO_OK && res.violations != 0)
                abort();
            co_sim_run_free(r);
        }
    }
    co_sim_cluster_free(c);
    return 0;
}
