/* fuzz/fuzz_history.c: libFuzzer target for the cycle-journal reader of
 * `simulate --history` (cycle/history.c): read the bytes as a journal,
 * then fit and apply to a small cluster. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cycle/history.h"

static const char cluster[] =
    "{\"hosts\": [{\"name\": \"h1\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"},"
    " {\"name\": \"h2\", \"cores\": 16, \"mem\": \"64GiB\", \"nic_rate\": \"10Gbit\"}],"
    " \"vms\": [{\"name\": \"vm1\", \"host\": \"h1\", \"vcpus\": 2, \"mem\": \"4GiB\"}],"
    " \"plan\": {\"rebalance\": \"duration\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    if (co_sim_load_buffer(cluster, strlen(cluster), "fuzz-cluster", &c, &d) != CO_OK)
        __builtin_trap();
    co_history h;
    co_history_init(&h);
    if (co_history_read_buffer(&h, (const char *)data, size, "fuzz", c, &d) == CO_OK &&
        co_history_apply(&h, c, &d) == CO_OK) {
        json_t *j = co_history_json(&h);
        json_decref(j);
    }
    co_history_free(&h);
    co_sim_cluster_free(c);
    return 0;
}
