/* lab/cluster.h: the cluster lab, N libvirt "hosts" on one machine joined by
 * tc-shaped links, with M test guests spread over them (docs/lab.md, "The
 * cluster lab"). `cutover lab cluster` is its front end; tests and
 * benchmarks use the same calls.
 *
 * Owns: everything under the cluster directory DIR: the state the helper
 * script lab/cluster.sh keeps (DIR/lab.env, DIR/hK/ per host), the lab's own
 * description DIR/lab.json (hosts, addresses, VMs, heartbeat ports) and
 * DIR/cluster.json (the cluster as `cutover simulate` reads it, plus "uri"
 * and "migration_uri" per host). The namespaces, the bridge, the veths, tc
 * and the daemons belong to the script; this module runs it with argv
 * (fork + execv, never a shell string) and drives libvirt for the domains.
 *
 * Why a script for the plumbing: every step is an `ip`, `tc`, `mount` or
 * `unshare` command whose failure is legible in one line, PID 1 of each
 * host's PID namespace must be a process that mounts and then waits (a
 * shell loop), and tests/libvirt/bed.sh, already proven on this machine,
 * does the same for two daemons. C keeps what needs parsing or libvirt:
 * flags, the workloads file, domains, JSON.
 *
 * Needs root, ip, tc, unshare, flock, virsh, libvirtd and virtlogd (checked
 * first: CO_ENOPERM, CO_EUNAVAIL). Not thread-safe; one caller per DIR. */
#ifndef CUTOVER_LAB_CLUSTER_H
#define CUTOVER_LAB_CLUSTER_H

#include <stddef.h>

#include <jansson.h>

#include "util/diag.h"

#define CO_CLUSTER_MAX_HOSTS 6
#define CO_CLUSTER_MAX_VMS 64

typedef struct co_cluster_config {
    const char *dir;            /* created if missing; must not hold a cluster */
    int hosts;                  /* 2..6 */
    int vms;                    /* 0..64; -1 = one per line of the workloads file (else 0) */
    double nic_bytes_per_s;     /* each host's link, both directions; 0 = 1 Gbit/s */
    int mtu;                    /* 1280..9000 (0 = 9000) */
    double mem_bytes;           /* per VM unless the workloads file says; 0 = 128 MiB */
    const char *workloads_path; /* NULL: every VM runs "rate=1000" */
    const char *guest_path;     /* NULL: co_lab_find_guest() */
    int watch_fd;               /* >= 0: tear down when this fd (a pipe) reaches EOF */
} co_cluster_config;

typedef struct co_cluster_host {
    char name[8];               /* "h1" .. "h6" */
    char addr[32];              /* 169.254.S.K */
    char uri[96];               /* qemu+tcp://ADDR/system */
    char migration_uri[64];     /* tcp://ADDR */
    char netns[32];             /* coclS-hK: `ip netns exec` reaches the host */
    int up;                     /* status: the daemon answered */
} co_cluster_host;

typedef struct co_cluster_vm {
    char name[16];              /* vm1 .. vmM */
    int host;                   /* index into hosts (where it was started) */
    double mem_bytes;
    char workload[512];         /* canonical guest command line, as booted */
    int hb_port;                /* UDP port on the root address its COM1 sends to */
    double boot_ms;             /* start to first heartbeat (up only), 0 if unseen */
} co_cluster_vm;

typedef struct co_cluster {
    char dir[256];              /* absolute */
    int nhosts, nvms;
    co_cluster_host hosts[CO_CLUSTER_MAX_HOSTS];
    co_cluster_vm vms[CO_CLUSTER_MAX_VMS];
    char root_addr[32];         /* the root namespace's address on the bridge */
    char switch_netns[32];
    double nic_bytes_per_s;
    int mtu;
    char accel[8];              /* "tcg" or "kvm" */
    char guest_path[512];
    double up_ms;               /* how long co_cluster_up took */
} co_cluster;

/* Per-domain state for status. */
typedef struct co_cluster_dom {
    char name[64];
    int host;                   /* index */
    const char *state;          /* "running", "paused", "shut off", ... */
} co_cluster_dom;

/* Read a workloads file: one VM per line, `#` comments and blank lines
 * skipped. A line is the guest's command line (docs/lab.md), optionally
 * with the lab's own keys `host=hK` (where it starts) and `mem=SIZE`.
 * Fills c->vms[0..] (name, host or -1, mem_bytes, workload) and returns
 * the number of lines in *n. Errors CO_EDATA "FILE:LINE: ..." (or
 * CO_ENOINPUT when the file cannot be opened). */
int co_cluster_workloads_load(const char *path, double default_mem_bytes, int nhosts,
                              co_cluster *c, int *n, co_diag *d);

/* Bring a cluster up: hosts, links, daemons, then define and start every VM
 * (persistent domains, not autostarted) and wait for each guest's first
 * heartbeat; write DIR/lab.json and DIR/cluster.json. On failure nothing is
 * left running (the script's down ran) and d says what failed. */
int co_cluster_up(const co_cluster_config *cfg, co_cluster *out, co_diag *d);

/* Read DIR/lab.json. CO_ENOINPUT when DIR holds no cluster. */
int co_cluster_load(const char *dir, co_cluster *out, co_diag *d);

/* Reboot host `host` ("h2" or "2"): its PID namespace is killed (QEMUs,
 * libvirtd, virtlogd die), /run is lost, libvirtd starts again on the same
 * /etc/libvirt and /var: persistent domains come back shut off. Returns
 * once the daemon answers. CO_EUSAGE for an unknown host. */
int co_cluster_reboot(const char *dir, const char *host, co_diag *d);

/* Restart host `host`'s libvirtd only, as `systemctl restart libvirtd`
 * does: SIGTERM (SIGKILL after 15 s), started again in the host's
 * namespaces on the same state; its QEMUs keep running and the new daemon
 * reconnects to them. Waits until it answers. Errors as co_cluster_reboot. */
int co_cluster_restart_daemon(const char *dir, const char *host, co_diag *d);

/* Run argv in host `host`'s network namespace ("h2" or "2"): setns(2)
 * into /run/netns/coclS-hK, then execvp(argv[0], argv): no shell, the
 * mount and PID namespaces stay ours (enough for ping, ip, ss). Returns
 * only on failure: CO_EUSAGE (unknown host, empty argv), CO_ENOINPUT (no
 * cluster), CO_ENOPERM (setns refused: not root), CO_EUNAVAIL (the
 * namespace is gone), CO_EOS (exec failed; d names the program). What
 * `cutover cycle`'s MTU probe of the lab runs (hooks.mtu_probe). */
int co_cluster_exec(const char *dir, const char *host, char *const argv[], co_diag *d);

/* Remove everything (processes, namespaces, bridge, veths, tc, the files
 * the lab wrote in DIR, DIR itself if then empty). Idempotent: CO_OK when
 * there is nothing to remove, also after a crash. */
int co_cluster_down(const char *dir, co_diag *d);

/* Ask every host's daemon for its domains, all at once: sets hosts[].up,
 * fills up to cap entries of doms, *n their count. A daemon that does not
 * answer within 5 s (stopped, stuck) counts as down. CO_OK even when
 * daemons are down. */
int co_cluster_status(co_cluster *c, co_cluster_dom *doms, int cap, int *n, co_diag *d);

/* The cluster as JSON: with doms NULL what DIR/lab.json holds and `up
 * --json` prints (addresses, namespaces, each VM's start host, heartbeat
 * port, boot time); with doms (from co_cluster_status) the status view:
 * each host's "up" and "domains" [{name, state}], no boot times. The
 * caller owns the result (NULL when out of memory or built without
 * libvirt). One builder for lab.json and the command's output. */
json_t *co_cluster_json(const co_cluster *c, const co_cluster_dom *doms, int nd);

/* Locate lab/cluster.sh: $CUTOVER_CLUSTER_SH, lab/cluster.sh from the cwd,
 * ../lab/cluster.sh next to the running binary (a build tree), then where
 * `make install` put it: ../share/cutover from the binary (also under
 * DESTDIR), PREFIX/share/cutover (compiled in), /usr/share/cutover.
 * CO_ENOINPUT if absent. */
int co_cluster_find_script(char *out, size_t len, co_diag *d);

#endif
