/* place/place.h: where a VM may go: the placement rules shared by the
 * simulator (sim/run.c) and the evacuation (evacuate/).
 *
 * Owns: the rules, one implementation, as pure functions over the caller's
 * own bookkeeping (no allocation, no state):
 *  - a host in maintenance or being emptied takes no VM (closed);
 *  - memory: residents plus VMs on their way in, at most the host's memory;
 *  - vCPUs: residents plus incoming at most cores x allocation ratio
 *    (Nova's cpu_allocation_ratio; 1e-9 of slack for sums of whole vCPUs);
 *  - CPU compatibility: a flag per (VM, host) the caller found (libvirt's
 *    virConnectCompareHypervisorCPU for evacuate; always 1 in the simulator);
 *  - anti-affinity: no two members of a group on, or headed to, one host.
 * The order of floating-point operations is fixed so the simulator's
 * results stay bit-identical to its earlier inline copy. */
#ifndef CUTOVER_PLACE_PLACE_H
#define CUTOVER_PLACE_PLACE_H

/* A host as placement sees it: capacity and what is already promised. */
typedef struct co_place_host {
    double mem_bytes;         /* memory capacity */
    double cores;             /* physical cores (libvirt: node CPUs) */
    double mem_used_bytes;    /* residents + incoming reservations */
    double vcpus_used;        /* residents + incoming */
    int closed;               /* in maintenance or being emptied: takes nothing */
} co_place_host;

/* Does a VM of mem_bytes and vcpus fit in h's memory and vCPUs at
 * cpu_ratio vCPUs per core? (closed is not looked at: see co_place_fits.) */
int co_place_capacity_ok(const co_place_host *h, double mem_bytes, double vcpus,
                         double cpu_ratio);

/* Anti-affinity: may VM `self` go to host h, given the members of its group
 * members[0..n-1] (VM indices; self may be among them) and per VM where it
 * is (vm_host) and where it is headed (vm_dest, -1 = nowhere)? n = 0 (no
 * group) is always fine. */
int co_place_affinity_ok(const int *members, int n, int self, const int *vm_host,
                         const int *vm_dest, int h);

/* All the rules at once: h open, CPU compatible (cpu_ok), capacity, and
 * anti-affinity as above. 1 when the VM may go there. */
int co_place_fits(const co_place_host *h, int hi, double mem_bytes, double vcpus,
                  double cpu_ratio, int cpu_ok, const int *members, int n, int self,
                  const int *vm_host, const int *vm_dest);

/* Book (sign +1) or release (-1) a VM's memory and vCPUs on h. */
void co_place_reserve(co_place_host *h, double mem_bytes, double vcpus, double sign);

#endif
