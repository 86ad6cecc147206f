/* tests/place/test_place.c: the shared placement rules. */
#include <criterion/criterion.h>

#include "place/place.h"

Test(place, capacity_memory_and_vcpus_with_ratio)
{
    co_place_host h = {.mem_bytes = 8e9, .cores = 4, .mem_used_bytes = 6e9, .vcpus_used = 7};
    cr_expect(co_place_capacity_ok(&h, 2e9, 1, 2.0));
    cr_expect(!co_place_capacity_ok(&h, 2.5e9, 1, 2.0), "memory over");
    cr_expect(!co_place_capacity_ok(&h, 1e9, 2, 2.0), "vCPUs over 4 x 2");
    cr_expect(co_place_capacity_ok(&h, 1e9, 2, 2.25));
}

Test(place, closed_host_and_cpu_flag)
{
    co_place_host h = {.mem_bytes = 8e9, .cores = 4};
    int host[1] = {0}, dest[1] = {-1};
    cr_expect(co_place_fits(&h, 1, 1e9, 1, 1.0, 1, NULL, 0, 0, host, dest));
    cr_expect(!co_place_fits(&h, 1, 1e9, 1, 1.0, 0, NULL, 0, 0, host, dest), "CPU incompatible");
    h.closed = 1;
    cr_expect(!co_place_fits(&h, 1, 1e9, 1, 1.0, 1, NULL, 0, 0, host, dest), "being emptied");
}

Test(place, anti_affinity)
{
    int members[3] = {0, 1, 2};
    int host[3] = {0, 0, 0}, dest[3] = {-1, 1, -1};
    cr_expect(!co_place_affinity_ok(members, 3, 0, host, dest, 1), "VM 1 is headed to host 1");
    cr_expect(co_place_affinity_ok(members, 3, 0, host, dest, 2));
    cr_expect(co_place_affinity_ok(members, 3, 1, host, dest, 1), "itself does not count");
    cr_expect(co_place_affinity_ok(NULL, 0, 0, host, dest, 0), "no group");
}
