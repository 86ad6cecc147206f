/* inventory/inventory.h: the live cluster as a simulate/cycle file
 * (`cutover inventory`).
 *
 * Owns: the inventory's records (co_inv: each host with its facts, each
 * VM with its facts and dirty curve, and for every figure where it came
 * from: measured, given (FILE or a flag) or defaulted, with the reason);
 * reading the hosts to visit from a cycle/cluster file or a URI list
 * (inventory/file.c, pure); asking libvirt (inventory/virt.c: node facts
 * through co_evac_connect, domains, blockers and dirty rates through
 * co_evac_inventory, used memory from the balloon, MTU and link speed from
 * virInterface); writing the cluster file with its "source" account and
 * one dirty trace per measured VM beside it (inventory/save.c, jansson;
 * traces/dirty_trace.h). The written file loads with co_sim_load_file.
 * docs/forecast.md says what is measured and what is defaulted.
 * Units: bytes, bytes/s. No globals. */
#ifndef CUTOVER_INVENTORY_INVENTORY_H
#define CUTOVER_INVENTORY_INVENTORY_H

#include <jansson.h>

#include "traces/dirty_trace.h"
#include "util/diag.h"

#define CO_INV_MAX_HOSTS 256
#define CO_INV_HOW 400 /* "measured: ...", "given: ...", "defaulted: ..." */

typedef struct co_inv_host {
    char name[64];
    char uri[256];
    char migration_uri[256];        /* "" = none */
    int cores;
    double mem_bytes;
    double nic_bytes_per_s;
    int mtu;
    char qemu_version[32];          /* from virConnectGetVersion, "" unknown */
    char nic_how[CO_INV_HOW], mtu_how[CO_INV_HOW];
    /* given in FILE, written back as they were (json, owned; NULL = absent) */
    json_t *channels, *failure_domain, *rack, *uplink;
    /* given by FILE or flags (0 = not given) */
    double nic_given_bytes_per_s;
    int mtu_given;
    char nic_given_by[48], mtu_given_by[48]; /* "FILE:LINE", "--nic" */
} co_inv_host;

typedef struct co_inv_vm {
    char name[128];
    int host;                       /* index into hosts */
    int vcpus;
    double mem_bytes;
    double mem_used_bytes;          /* 0 = not reported: the file says mem */
    char mem_used_how[CO_INV_HOW];
    int passthrough;                /* a <hostdev>: cannot live-migrate */
    int tcg;                        /* <domain type='qemu'>: emulated (its migration stream is
                                       CPU bound: cycle/forecast.c assumes evacuate's ceiling) */
    char blocker[256];              /* why evacuate would not move it ("" none) */
    int paused;                     /* not running (paused or another state) */
    int dirty_measured;             /* 1: trace below from libvirt's dirty rate */
    co_dirty_trace trace;
    char trace_rel[600];            /* path written, relative to the output's dir */
    json_t *dirty_given;            /* from FILE (owned), when not measured */
    double dirty_assumed_mib_per_s; /* when neither: uniform over mem at this rate (0 = none) */
    char dirty_how[CO_INV_HOW];
    json_t *extra;                  /* FILE's pinned, anti_affinity (object, owned) */
} co_inv_vm;

typedef struct co_inv {
    co_inv_host hosts[CO_INV_MAX_HOSTS];
    int nhosts;
    co_inv_vm *vms;                 /* owned */
    int nvms, capvms;
    char file[512];                 /* FILE, "" with --connect */
    json_t *file_vms;               /* FILE's "vms" (owned; NULL = none) */
    json_t *carry;                  /* FILE's "plan", "uplinks", "hooks" (object, owned) */
    json_t *leftovers;              /* phrases: paused copies dropped (array, owned; NULL none) */
    char taken_at[32];              /* ISO 8601 UTC */
    char command[512];
} co_inv;

typedef struct co_inv_opts {
    double nic_bytes_per_s;         /* --nic: every host's NIC rate (0 = not given) */
    int mtu;                        /* --mtu (0 = not given) */
    int measure_dirty;              /* 0 no, 1 KVM guests (default), 2 every guest (TCG too:
                                       may hang QEMU 7.2's monitor, docs/forecast.md) */
    double dirty_mib_per_s;         /* --dirty-rate: assumed for VMs not measured and not in
                                       FILE (0 = no dirtying) */
    int timeout_ms;                 /* per connection (default 5000) */
} co_inv_opts;

void co_inv_init(co_inv *inv);
void co_inv_free(co_inv *inv);

/* Hosts from FILE (a cycle or cluster file: "hosts" with "name" and "uri"
 * each; nic_rate, mtu, channels, failure_domain, rack, uplink, migration_uri
 * kept when present; "vms" kept to supply dirty curves and placement rules
 * of VMs that are not measured; "plan", "uplinks", "hooks" carried over).
 * CO_ENOINPUT (cannot open), CO_EDATA "FILE:LINE: hosts[i].uri: what". */
int co_inv_from_file(co_inv *inv, const char *path, co_diag *d);
/* Same from memory (fuzzing); path names it in messages. */
int co_inv_from_text(co_inv *inv, const char *text, size_t len, const char *path, co_diag *d);
/* Hosts from a comma-separated URI list: named h1, h2, ... in that order.
 * CO_EUSAGE for an empty item or a duplicate. */
int co_inv_from_uris(co_inv *inv, const char *list, co_diag *d);

/* Visit every host (inventory/virt.c): node facts, domains (running and
 * paused), used memory, dirty rates per o->measure_dirty; then settle every
 * figure's origin (given, measured, defaulted). CO_EUNAVAIL naming the host
 * and URI that does not answer (nothing is written then), CO_EUNAVAIL
 * "built without libvirt" in a build without it. */
int co_inv_collect(co_inv *inv, const co_inv_opts *o, co_diag *d);

/* A VM listed on two hosts (pure; co_inv_collect calls it): a paused copy
 * of a VM that runs on another host is a migration's leftover (the source
 * copy libvirt leaves paused when it does not see a migration's end; the
 * cycle's evacuate and reboot checks treat it the same): dropped from
 * inv->vms and named in inv->leftovers, not counted as a VM of its host.
 * Otherwise (both copies running, or none running: a migration in flight)
 * CO_EBUSY naming the VM and both hosts. */
int co_inv_drop_leftovers(co_inv *inv, co_diag *d);

/* Settle the figures not measured (pure; co_inv_collect calls it): NIC rate
 * and MTU given > measured > defaulted (1 Gbit/s, 1500), dirty curves
 * measured > FILE > assumed. */
void co_inv_settle(co_inv *inv, const co_inv_opts *o);

/* The cluster file as JSON (caller owns): hosts, vms, the carried plan,
 * and "source": {"tool", "taken_at", "command", "file", "measured": [...],
 * "given": [...], "defaulted": [...]} (one phrase per figure or group).
 * Dirty curves of measured VMs are "trace:REL" where REL is trace_rel. */
json_t *co_inv_json(const co_inv *inv);

/* Write out_path and, for each measured VM, the trace DIR/STEM.traces/VM.json
 * (DIR, STEM: out_path's directory and name without ".json"; VM names made
 * file-safe) that out_path refers to. Files are created with O_NOFOLLOW.
 * CO_ECANTCREAT naming the path, CO_EIO. */
int co_inv_save(co_inv *inv, const char *out_path, co_diag *d);

#endif
