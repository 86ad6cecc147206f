/* place/place.c: the placement rules (see place.h). */
#include "place/place.h"

int co_place_capacity_ok(const co_place_host *h, double mem_bytes, double vcpus,
                         double cpu_ratio)
{
    if (h->mem_used_bytes + mem_bytes > h->mem_bytes)
        return 0;
    /* the slack keeps a sum of whole vCPUs against a fractional ratio from
     * failing on rounding */
    if (h->vcpus_used + vcpus > h->cores * cpu_ratio + 1e-9)
        return 0;
    return 1;
}

int co_place_affinity_ok(const int *members, int n, int self, const int *vm_host,
                         const int *vm_dest, int h)
{
    for (int i = 0; i < n; i++) {
        int u = members[i];
        if (u != self && (vm_host[u] == h || vm_dest[u] == h))
            return 0;
    }
    return 1;
}

int co_place_fits(const co_place_host *h, int hi, double mem_bytes, double vcpus,
                  double cpu_ratio, int cpu_ok, const int *members, int n, int self,
                  const int *vm_host, const int *vm_dest)
{
    if (h->closed || !cpu_ok)
        return 0;
    return co_place_capacity_ok(h, mem_bytes, vcpus, cpu_ratio) &&
           co_place_affinity_ok(members, n, self, vm_host, vm_dest, hi);
}

void co_place_reserve(co_place_host *h, double mem_bytes, double vcpus, double sign)
{
    h->mem_used_bytes += sign * mem_bytes;
    h->vcpus_used += sign * vcpus;
}
