/* lab/lab.h: the migration lab, a source and a destination QEMU running
 * cutover's test guest (lab/guest/, docs/lab.md) on this machine.
 *
 * Owns: the two QEMU child processes, their private temp dir (mkdtemp) with
 * the QMP unix sockets and logs, the destination's `-incoming` TCP port, and
 * the heartbeat receiver: a UDP socket on 127.0.0.1 that both QEMUs' COM1
 * (`-serial udp:...`) send to, read by a thread that timestamps every
 * heartbeat line with CLOCK_MONOTONIC. The longest heartbeat gap around a
 * switchover is the downtime the guest saw.
 *
 * Lifetime: co_lab_start() returns a running pair or nothing (it cleans up
 * after itself on every error); co_lab_stop() kills and reaps both QEMUs,
 * stops the receiver and removes the temp dir. Children get
 * PR_SET_PDEATHSIG(SIGKILL), which fires when the *thread* that called
 * co_lab_start() exits: call it from a thread that outlives the lab (the
 * main thread). Signals are the caller's business: install handlers that
 * set a flag, pass the flag as cfg.cancel, and call co_lab_stop() after.
 * Times are CLOCK_MONOTONIC milliseconds (co_clock_ms()). Not thread-safe
 * except where noted: one thread drives a lab. */
#ifndef CUTOVER_ENGINE_LAB_H
#define CUTOVER_ENGINE_LAB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/clock.h" /* the lab's times are co_clock_ms() readings */
#include "util/diag.h"

enum co_lab_accel { CO_LAB_ACCEL_AUTO = 0, CO_LAB_ACCEL_KVM, CO_LAB_ACCEL_TCG };

typedef struct co_lab_config {
    double mem_bytes;          /* guest RAM: whole MiB, 16 MiB .. 3 GiB; 0 = 256 MiB */
    const char *workload;      /* guest command line (docs/lab.md); NULL = "rate=1000" */
    int accel;                 /* enum co_lab_accel */
    const char *guest_path;    /* NULL: co_lab_find_guest() */
    const char *qemu_path;     /* NULL: $CUTOVER_QEMU, else qemu-system-x86_64 on PATH */
    double boot_timeout_ms;    /* first heartbeat and dest listening; 0 = 30000 */
    int no_dest;               /* 1: start only the source */
    volatile sig_atomic_t *cancel; /* optional: nonzero aborts waits (CO_ECANCELED) */
} co_lab_config;

/* What a started lab looks like; strings live as long as the lab. */
typedef struct co_lab_info {
    char dir[256];             /* private temp dir */
    char src_qmp[300];         /* QMP unix socket paths */
    char dst_qmp[300];
    char migrate_uri[64];      /* "tcp:127.0.0.1:PORT", for QMP migrate */
    int incoming_port;
    int hb_port;               /* UDP port the guests' COM1 sends to */
    const char *accel;         /* "kvm" or "tcg" */
    char accel_reason[160];    /* why auto chose it */
    pid_t src_pid, dst_pid;    /* dst_pid 0 with no_dest */
    double mem_bytes;
    char guest_path[512];
    char workload[512];        /* canonical guest command line */
    double started_ms;         /* when the source was spawned */
    double boot_ms;            /* spawn to first heartbeat */
} co_lab_info;

/* Guest state parsed from the serial lines (docs/lab.md). */
typedef struct co_lab_status {
    uint64_t hb_count;         /* heartbeats received, both QEMUs */
    uint32_t hb_last_seq;
    uint64_t hb_seq_skips;     /* heartbeats whose seq was not last+1 (UDP loss,
                                  or a guest that did not send: see docs/lab.md) */
    double hb_last_ms;         /* host time of the last heartbeat, 0 if none */
    int hb_last_sender;        /* 0 = first QEMU heard (source), 1 = next, ... */
    int senders;               /* distinct UDP senders heard */
    int ready;                 /* READY seen: the fill is done */
    double ready_ms;
    /* last ST line */
    int have_st;
    double st_at_ms;           /* host time it arrived */
    uint32_t st_guest_ms, st_rate, st_dirtied, st_pending, st_sweeps, st_err, st_stalls;
    uint64_t err_lines;        /* ERR lines (memory verification failures) */
    char first_err[256];       /* the first ERR line, "" if none */
    char bad[256];             /* a BAD line (guest refused its command line) */
    char boot_line[256];       /* the first BOOT line */
} co_lab_status;

/* A heartbeat gap. */
typedef struct co_lab_gap {
    double gap_ms;             /* longest interval between consecutive heartbeats */
    double start_ms, end_ms;   /* host times of the two heartbeats around it */
    int from_sender, to_sender;
    uint32_t from_seq, to_seq;  /* heartbeat sequence numbers around it */
    uint64_t samples;          /* heartbeats in the window */
} co_lab_gap;

typedef struct co_lab co_lab; /* opaque */

/* Check a workload string (the guest's command line: pattern, rate, wss,
 * hot, cold, hotfrac, seed, stats, phases; docs/lab.md) against mem_bytes and
 * write its canonical form (sizes in KiB, times in ms) to canon.
 * CO_OK, or CO_EUSAGE naming the key and what is wrong. */
int co_lab_workload_check(const char *workload, double mem_bytes, char *canon,
                          size_t canon_len, co_diag *d);

/* Locate guest.elf: explicit (if non-NULL), else $CUTOVER_GUEST, else
 * $BUILD/guest/guest.elf and build/guest/guest.elf from the cwd, else next
 * to the running binary (guest/guest.elf, ../../guest/guest.elf), else where
 * `make install` put it: ../share/cutover/guest.elf from the binary (so a
 * DESTDIR-staged or moved tree works), PREFIX/share/cutover/guest.elf
 * (CO_DATADIR, compiled in), /usr/share/cutover/guest.elf.
 * CO_OK with the path in out, or CO_ENOINPUT naming where it looked. */
int co_lab_find_guest(const char *explicit_path, char *out, size_t len, co_diag *d);

/* Decide the accelerator: KVM when asked or (auto) when /dev/kvm opens and
 * KVM is hardware-backed. Auto picks TCG under kvm_pvm (a software KVM that
 * emulates non-PVM guests instruction by instruction; measured ~100x slower
 * than TCG for this guest, docs/lab.md). CO_EUNAVAIL when kvm was asked and
 * /dev/kvm cannot be opened. reason gets one line. */
int co_lab_pick_accel(int want, const char **accel, char *reason, size_t len, co_diag *d);

/* Start source (and destination unless cfg->no_dest) and wait until the
 * source's first heartbeat arrived and the destination listens. On success
 * *out owns everything; on failure nothing is left behind and d says what
 * failed (bad config CO_EUSAGE, missing guest CO_ENOINPUT, QEMU missing or
 * exiting CO_EUNAVAIL with the last line of its log, timeout CO_ETIMEDOUT,
 * cancel CO_ECANCELED, system calls CO_EOS). */
int co_lab_start(const co_lab_config *cfg, co_lab **out, co_diag *d);

/* The lab's addresses and parameters (valid until co_lab_stop). */
const co_lab_info *co_lab_get_info(const co_lab *lab);

/* Copy the guest status (thread-safe against the receiver). */
void co_lab_get_status(co_lab *lab, co_lab_status *st);

/* Wait until the guest's fill is done (READY), up to timeout_ms.
 * CO_OK, CO_ETIMEDOUT, CO_ECANCELED, or CO_EUNAVAIL if the source died. */
int co_lab_wait_ready(co_lab *lab, double timeout_ms, co_diag *d);

/* Wait until a heartbeat from sender index `sender` (1 = the destination
 * after a switchover) arrives after host time after_ms. Same codes. */
int co_lab_wait_heartbeat(co_lab *lab, int sender, double after_ms, double timeout_ms,
                          co_diag *d);

/* Longest heartbeat gap among heartbeats in [from_ms, to_ms], counting the
 * interval from the last heartbeat before from_ms. CO_OK, or CO_EDATA if
 * fewer than two heartbeats bound the window (or the ring overwrote it). */
int co_lab_max_gap(co_lab *lab, double from_ms, double to_ms, co_lab_gap *gap, co_diag *d);

/* The switchover gap: from the last heartbeat of sender `from` before the
 * first heartbeat of sender `to`, to that first heartbeat (the kept
 * history is searched). CO_OK, or CO_EDATA if either is missing. */
int co_lab_switch_gap(co_lab *lab, int from, int to, co_lab_gap *gap, co_diag *d);

/* Whether the QEMU process is still running (reaps it if not). which: 0
 * source, 1 destination. Fills d with its exit status and last log line. */
int co_lab_alive(co_lab *lab, int which, co_diag *d);

/* Kill and reap both QEMUs, stop the receiver, remove the temp dir, free.
 * Safe on NULL; never fails (problems go to stderr). */
void co_lab_stop(co_lab *lab);

#endif
