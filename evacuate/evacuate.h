/* evacuate/evacuate.h: empty one libvirt host: plan where and in which
 * order its VMs go, then drive the migrations.
 *
 * Owns:
 *  - the evacuation's records: each VM (inventory, blocker, dirty curve,
 *    destination, predictions, outcome), each destination (capacity as
 *    place/place.h sees it), and the report (co_evac_result) with its text
 *    and JSON renderings;
 *  - the planner (co_evac_plan, pure, no libvirt): placement through
 *    place/place.h, then for each candidate concurrency k and order a
 *    small event loop that shares the source NIC and each destination NIC
 *    max-min (sim/share.h) among the k migrations in flight and times each
 *    with the model (model/migration.h) at its share; it keeps the schedule
 *    with the fewest VMs pushed over the downtime budget, then the least
 *    predicted total, and (auto concurrency) never runs two VMs that need a
 *    stream of their own at once (docs/evacuate.md says why); the total it
 *    predicts is the model's times the drains' time factor when the
 *    calibration holds past drains of these VMs; and the drain's pre-copy
 *    floor (co_evac_floor), the time no schedule can beat;
 *  - the libvirt side (evacuate/virt.c): inventory, blockers, dirty-rate
 *    measurement, CPU comparison, and the run: one thread per migration in
 *    flight, each with its own connections and the adaptive controller
 *    (engine/controller.h), all sharing one stop flag.
 * Units: bytes, ms, bytes/s. */
#ifndef CUTOVER_EVACUATE_EVACUATE_H
#define CUTOVER_EVACUATE_EVACUATE_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "model/dirty.h"
#include "place/place.h"
#include "util/diag.h"

#define CO_EVAC_MAX_VMS 256
#define CO_EVAC_MAX_DEST 16
#define CO_EVAC_MAX_K 8        /* concurrencies the auto schedule tries: 1..8 */
/* What one migration stream of a TCG guest carries when nothing better is
 * known (--stream-rate, or learnt from a completed migration): the
 * emulation and the migration thread share the host's CPU, and make
 * bench-evacuate measured 57-119 Mbit/s per stream on the 2-core lab
 * (docs/evacuate.md, "bench-evacuate"); ~90 Mbit/s, the middle. */
#define CO_EVAC_TCG_STREAM_BYTES_PER_S 11e6
/* Default time limit of one libvirt call of a worker: twice libvirt's own
 * wait for a domain's job lock (30 s), so a call that waits for a job and
 * then fails is not cut short. */
#define CO_EVAC_CALL_TIMEOUT_MS 60000

/* QEMU's dirty-pages-rate windows a migration keeps (evacuate/learn.c). */
#define CO_EVAC_MAX_WIN 32

/* One window of QEMU's dirty-pages-rate (query-migrate ram.dirty-pages-rate,
 * libvirt's VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE): QEMU adds up, at each bitmap
 * sync, the pages newly dirtied since the page was last sent, and turns the
 * sum into a rate at the first sync at least 1 s after its last update.
 * pages = rate x dur; syncs = the bitmap syncs in the window (each counts
 * what the guest dirtied during one pass, so a hot set is counted once per
 * pass); bulk = the first window (the bulk pass), kept for the record. */
typedef struct co_evac_window {
    double dur_ms, pages;
    int syncs, bulk;
} co_evac_window;

#define CO_EVAC_ALLOW_EJECT 0x100u        /* --allow eject: CD-ROM/floppy media ejected */
#define CO_EVAC_ALLOW_COPY_STORAGE 0x200u /* --allow copy-storage: local disks copied */
#define CO_EVAC_ALLOW_QEMU_MONITOR 0x400u /* --allow qemu-monitor: the throttle's cap and
                                             live steps through libvirt-qemu's monitor
                                             passthrough (drivers/drv_virt.h) */

enum co_evac_unmovable { CO_EVAC_FAIL = 0, CO_EVAC_SHUTDOWN, CO_EVAC_LEAVE };
enum co_evac_order { CO_EVAC_ORDER_AUTO = 0, CO_EVAC_ORDER_NAME, CO_EVAC_ORDER_GIVEN };

typedef struct co_evac_vm {
    char name[128];
    double mem_bytes;
    int vcpus;
    int running;                  /* 1 running; 0 paused or other: a blocker */
    co_dirty dirty;               /* measured or assumed curve */
    int dirty_measured;           /* 1: libvirt's dirty-rate calculation gave it */
    int dirty_traced;             /* 1: read from --dirty-curves DIR/NAME.json */
    /* learning the real dirty rate (evacuate/learn.c) */
    co_dirty dirty_nominal;       /* the curve as given, before any learnt factor */
    int nominal_saved;
    double dirty_factor;          /* applied: dirty = dirty_nominal run at this speed
                                     (time-scaled); 1 = as given */
    char dirty_factor_source[48]; /* "", "own windows", "common factor learnt",
                                     "calibration (this VM)", "calibration (common)" */
    double seen_factor;           /* fitted from its own windows, NAN if none */
    double send_ms;               /* this drain: its first byte to its end, 0 = not known */
    double send_inflight;         /* this drain: how many sent at once over send_ms, mean */
    double last_send_ms;          /* the same two of its last drain (--calibration), 0 = */
    double last_send_inflight;    /*   none: they time it when the model cannot (plan.c) */
    int last_aborted;             /* ... and that drain's policy aborted it after last_send_ms */
    double throttle_max_pct;      /* this drain: the most QEMU's CPU throttle reached, 0 = none */
    double last_throttle_pct;     /* the same of its last drain (--calibration): where
                                     libvirt's fixed ramp starts this time (co_pol_ramp_start) */
    co_evac_window win[CO_EVAC_MAX_WIN];
    int nwin;
    double dirty_mib_per_s;       /* what was measured (or assumed) */
    int cpu_ok[CO_EVAC_MAX_DEST]; /* CPU compatible with destination i */
    int has_cdrom_media, has_local_disk, has_hostdev, busy_job;
    int kvm;                      /* <domain type='kvm'> */
    int tcg;                      /* <domain type='qemu'>: emulated (the inventory saw it) */
    int group;                    /* anti-affinity group, -1 = none */
    int given_order;              /* position in --order / inventory (0-based) */
    char blocker[256];            /* why it cannot move ("" = movable) */
    /* the plan */
    int dest;                     /* destination index, -1 = none */
    int order;                    /* start order, 0-based; -1 = not scheduled */
    int batch;                    /* how many had started before it (0 = first wave) */
    double pred_start_ms, pred_time_ms, pred_downtime_ms;
    int pred_converges;           /* the model says it converges within the budget */
    int alone;                    /* goes with nothing else in flight (co_evac_retry_alone) */
    int started_solo;             /* it started needing a stream of its own (this attempt) */
    int solo;                     /* needs a stream of its own (does not converge alone at
                                     one stream's best): cutover's own schedule never runs
                                     two such at once (0 under a fixed --concurrency) */
    /* the outcome */
    char status[16];              /* completed, failed, aborted, cancelled, blocked, left,
                                     shut-down, planned */
    char to[256];                 /* destination URI it went to (or was meant for) */
    double time_ms, downtime_ms;  /* measured; NAN if not */
    double started_ms;            /* its last attempt's start, from the drain's start; NAN */
    double first_byte_ms;         /* ... and its first byte sent; NAN if it sent none */
    double setup_ms;              /* ... and its set-up, from its start to QEMU's first
                                     byte (the hold's trickle included); NAN if none */
    double held_ms;               /* from its set-up's end to the hold's release (0: none) */
    double sent_bytes;            /* QEMU's ram.transferred of its last attempt (also when
                                     it did not complete); NAN when no migration ran */
    int attempts;
    int pulled_back;              /* times its migration was cancelled for the others */
    int held_by[16], nheld;       /* the VMs in flight when it was pulled back: it does not
                                     start again while one of them still migrates */
    char reason[512];
    char history[512];            /* the first attempt's reason when it was retried */
} co_evac_vm;

typedef struct co_evac_dest {
    char uri[256];
    char migration_uri[256];      /* data address (cluster file), "" = libvirt's choice */
    co_place_host cap;            /* free memory and cores; *_used = planned + residents */
    double nic_bytes_per_s;       /* 0 = same as the source NIC */
    int down;                     /* found unreachable during the run */
} co_evac_dest;

typedef struct co_evac_groups {
    int ngroups;
    int start[CO_EVAC_MAX_VMS + 1]; /* members of g: vm[start[g]..start[g+1]) */
    int vm[CO_EVAC_MAX_VMS];        /* index into vms, or CO_EVAC_MAX_VMS + r for
                                       residents[r] (a VM already on a destination) */
} co_evac_groups;

/* A domain already running on a destination (inventory): anti-affinity
 * counts it (a group member there keeps the others away). */
typedef struct co_evac_resident {
    char name[128];
    int dest;
} co_evac_resident;

/* Slots of the where-is arrays of co_evac_positions (VMs, then residents). */
#define CO_EVAC_PLACE_SLOTS (2 * CO_EVAC_MAX_VMS)

/* A past drain of this host, kept in the calibration ("drains", newest
 * first, at most CO_EVAC_DRAINS_KEPT): what it took and the schedule its
 * plan chose, so that the next plan times that schedule again with what it
 * knows now and scales its own prediction by what the drains really took
 * over that (co_evac_plan, docs/evacuate.md "The drains' time factor"). */
#define CO_EVAC_DRAINS_KEPT 8
/* ... of which the newest this many make the time factor; each k's own
 * factor (co_evac_plan's choice of k) comes from all kept at that k */
#define CO_EVAC_DRAINS_FACTOR 3
typedef struct co_evac_drain {
    double total_ms;              /* measured, first start to last end */
    int k;                        /* the plan's concurrency */
    int auto_k;                   /* 1: cutover's own schedule (auto concurrency) */
    int nvms;
    char vms[CO_EVAC_MAX_VMS][128]; /* the plan's start order, by name (as co_evac_vm.name) */
} co_evac_drain;

/* The pre-copy floor of a drain: what no schedule of pre-copy migrations
 * can beat on the source NIC (docs/evacuate.md, "The pre-copy floor").
 * Each VM alone on the whole NIC (its rate, no stream ceiling, no source
 * CPU limit), QEMU switching as soon as what is left fits the budget
 * (downtime-limit = budget - switchover cost): the stream bytes the model
 * (model/migration.h) says it sends then, RAM and pages sent again. A share
 * of the NIC only slows a VM and makes it send more, and every byte leaves
 * through the NIC, so the sum at the NIC's payload rate, plus one
 * switchover cost after the last byte, bounds every schedule's time from
 * below. Set-ups are not in it (each VM's start before its first byte). A
 * VM that converges within the budget only with help is counted under
 * QEMU's auto-converge at its defaults (20 %, +10 %: the model throttles a
 * CPU-bound writer, so a paced one needs more in truth); one that does not
 * even then is counted at its RAM, what post-copy sends. */
typedef struct co_evac_floor {
    double time_ms;               /* sum of bytes at the payload rate + switchover_ms */
    double bytes;                 /* stream bytes, all VMs */
    double ram_bytes;             /* their RAM */
    double payload_bytes_per_s;   /* the NIC's payload rate (model/link.h framing) */
    double switchover_ms;         /* the model's switchover cost (device state, resume) */
    int vms;                      /* VMs counted */
    int throttled;                /* of them, counted under auto-converge */
    int at_ram;                   /* of them, counted at their RAM (post-copy) */
} co_evac_floor;

/* Where a drain's time went (co_evac_time_split): from its start to the
 * first byte any migration sent (the first set-up: libvirt's prepare, the
 * destination QEMU's start), then to the last transfer's end the time
 * some migration was in transfer (its first byte to its end: passes,
 * switchover, libvirt's finish) and the time none was (the link idle: a
 * set-up the schedule did not hide). All ms from the drain's start. */
#define CO_EVAC_MAX_XFERS (2 * CO_EVAC_MAX_VMS)
typedef struct co_evac_split {
    double first_byte_ms;         /* NAN: no migration sent */
    double transfer_ms;           /* the transfers' union */
    double idle_ms;               /* first byte .. last end, none in transfer */
    int idle_gaps;                /* stretches of it */
    double longest_idle_ms;
} co_evac_split;

typedef struct co_evac {
    co_evac_vm vms[CO_EVAC_MAX_VMS];
    int nvms;
    co_evac_dest dests[CO_EVAC_MAX_DEST];
    int ndests;
    co_evac_groups groups;
    co_evac_resident residents[CO_EVAC_MAX_VMS];
    int nresidents;               /* beyond CO_EVAC_MAX_VMS they are not counted */
    double nic_bytes_per_s;       /* the source NIC's rate */
    char nic_source[64];          /* "--nic", "cluster file", "assumed 1 Gbit/s" */
    int mtu;
    double max_downtime_ms, deadline_ms, cpu_ratio;
    int concurrency;              /* asked: 0 = auto */
    int order_kind;               /* enum co_evac_order */
    double default_dirty_mib_per_s; /* assumed when not measured */
    double stream_cap_bytes_per_s;  /* one migration stream's ceiling: --stream-rate, or
                                       learnt from completed migrations; 0 = the model's
                                       default (model/link.h channel cap), or for TCG
                                       guests CO_EVAC_TCG_STREAM_BYTES_PER_S (co_evac_plan) */
    char stream_cap_source[48];   /* "--stream-rate", "assumed for TCG guests", "learnt", "" */
    /* learnt as the drain goes, or from the last drain (--calibration) */
    double src_cap_by_n[CO_EVAC_MAX_K + 1]; /* what the source sent in all with n
                                       migrations in flight (its CPU under TCG), bytes/s;
                                       0 = not known */
    double agg_bytes[CO_EVAC_MAX_K + 1], agg_ms[CO_EVAC_MAX_K + 1]; /* measured so far */
    double peak_bytes_per_s;      /* co_evac_run: the most one stream carried in one of
                                     QEMU's 100 ms windows (ram.mbps) in this drain; 0 =
                                     none seen (co_evac_note_peak) */
    double setup_ms;              /* per VM from its start to its first byte sent
                                     (libvirt's prepare, the destination QEMU's start,
                                     QEMU's set-up); the planner lets other VMs send
                                     meanwhile: 0 = not known */
    double setup_sum_ms;
    int setup_n;
    double setup_prior_ms;        /* the calibration's, counted as one set-up more */
    int setups_ahead;             /* set-ups ahead under the hold (co_evac_setups_ahead,
                                     at each plan and re-plan; co_evac_init:
                                     CO_EVAC_SETUPS_AHEAD) */
    double hold_wait_ms;          /* a held VM's wait from its turn (the end before it,
                                     or its set-up's end if later) to its release: libvirt
                                     answering its first job statistics, the run loop's
                                     tick; learnt (mean), 0 = not known (co_evac_note_hold) */
    double hold_wait_sum_ms;
    int hold_wait_n;
    double common_factor;         /* learnt: the median of the VMs' own factors, applied
                                     to the VMs not seen (0 = not known) */
    double write_ceiling_pages_per_s; /* learnt: what the starved guests (factor < 0.8)
                                     wrote, the most; a VM not seen writes at most this
                                     (0 = none seen starved) */
    int learn_obs;                /* VMs whose windows it came from */
    int k_cap;                    /* learnt: the most migrations at once whose switchovers
                                     stayed within CO_EVAC_DOWN_SHARE of the budget; auto
                                     concurrency never plans above it (0 = no cap) */
    char k_cap_why[160];          /* the switchover that set it */
    /* The probe above the cap backs off (docs/evacuate.md, "Switchovers
     * together, and the cap's probe"): a drain starts one above the last
     * drain's cap, unless that level went over the budget again; then the
     * cap holds for k_hold drains, twice as many each time the probe fails
     * (at most CO_EVAC_CAP_HOLD_MAX). From the calibration: */
    int calib_cap;                /* the last drain's cap (0 = none) */
    int calib_hold, calib_backoff;/* drains it still holds; the length of its last hold */
    int k_cap_noted;              /* this drain: a switchover over budget set the cap */
    int most_inflight;            /* this drain: the most migrations in flight at once
                                     (set-ups included, as co_evac_note_downtime counts) */
    int most_k;                   /* this drain: the highest k a VM started at (the solo
                                     probe's: 1); set-ups ahead and held VMs put more
                                     in flight than k */
    /* The switchover tally (co_evac_note_switchover): per concurrency k
     * the VMs were started at, how many switchovers completed and how many
     * went over CO_EVAC_DOWN_SHARE of the budget, the calibration's counts
     * decayed by CO_EVAC_TALLY_DECAY per drain; auto concurrency plans no
     * level whose rate expects more than CO_EVAC_MISS_EXPECT misses in the
     * drain's VMs (co_evac_tally_cap). */
    double sw_n[CO_EVAC_MAX_K + 1], sw_over[CO_EVAC_MAX_K + 1];
    char tally_why[160];          /* the level co_evac_tally_cap refused last, "" none */
    char calib_source[320];       /* "" or "FILE (learned from the last drain, DATE)" */
    int no_early_start;           /* 1: never start a VM before a slot is free (below;
                                     --no-early-start, or co_evac_note_early_miss) */
    int early_misses;             /* co_evac_run: switchovers over the budget beside a
                                     set-up in this drain (co_evac_note_early_miss) */
    char early_missed[160];       /* those switchovers: "vm1 344 ms, ..." */
    char early_stop_why[240];     /* why early starts stopped mid-drain, "" if not */
    int pulled_back;              /* co_evac_run: migrations cancelled to let the others
                                     converge (co_evac_backoff), each VM gone again later */
    double probe_bytes_per_s;     /* co_evac_run: what the first VM's stream carried alone
                                     (the solo probe, co_evac_probes), 0 = no probe */
    int held_starts;              /* co_evac_run: VMs held until the transfers before
                                     them ended (CO_EVAC_HOLD_BYTES_PER_S) */
    int early_starts;             /* co_evac_run: VMs started while k others were in
                                     flight, one or more of them ending its transfer
                                     within setup_ms (auto concurrency only: the next
                                     VM's set-up overlaps their end) */
    co_evac_drain drains[CO_EVAC_DRAINS_KEPT]; /* from the calibration, newest first */
    int ndrains;
    double drain_total_ms;        /* co_evac_run: this drain's measured time, 0 = none
                                     (dry run, or stopped by a signal) */
    /* the plan's verdict */
    int k;                        /* concurrency chosen (re-plans change it) */
    int plan_k;                   /* ... as co_evac_plan chose it */
    double pred_model_ms;         /* the model's time of the schedule chosen */
    double time_factor;           /* pred_total_ms / pred_model_ms: the median over the
                                     past drains of their measured time over the model's
                                     time of their schedule now; 0 = none applied */
    int time_factor_n;            /* drains it came from */
    double k_time_factor[CO_EVAC_MAX_K + 1]; /* per k: the median of measured over the
                                     model of the kept drains planned at k (auto), 0 =
                                     none; co_evac_plan weighs each k's time by it, and
                                     the chosen k's is the time_factor when there is one */
    int k_time_factor_n[CO_EVAC_MAX_K + 1]; /* drains each came from */
    int time_factor_k;            /* the k whose own drains gave time_factor, 0 = all */
    double time_factor_all;       /* the newest drains' factor, any k (0 = none): a k
                                     without drains of its own is weighed by it */
    char order_name[32];          /* "dirty-per-bandwidth", "longest-first", "name", "given" */
    double pred_total_ms;
    int timing;                   /* 1 while co_evac_plan times the schedule it chose: a
                                     VM's last_send_ms counts then only (plan.c) */
    int pred_within_budget;       /* every scheduled VM predicted within the budget */
    int pred_misses;              /* VMs that converge alone but not in the chosen schedule */
    co_evac_floor floor;          /* the pre-copy floor of the VMs planned (co_evac_floor_of) */
    double xfer[CO_EVAC_MAX_XFERS][2]; /* co_evac_run: each attempt's first byte and end
                                     (ms from the drain's start), those past the
                                     array not kept (nxfer counts them all) */
    int nxfer;
    co_evac_split split;          /* co_evac_run: where the time went (above); first_byte_ms
                                     NAN in a plan */
} co_evac;

/* Fill the defaults (budget 300 ms, deadline 10 min, ratio 16 (Nova's), auto
 * concurrency, 1 Gbit/s assumed NIC, MTU 1500, no VMs). */
void co_evac_init(co_evac *e);

/* Place and schedule the movable VMs (blocker ""): each gets dest (place
 * rules, most free memory first, a destination in ev->dests[].cap with its
 * cpu_ok flag), order, batch and predictions; a VM no destination takes
 * gets blocker "no destination has room (...)". Then picks k and the order
 * (see the header) unless e->concurrency / e->order_kind fix them, and
 * fills k, plan_k, order_name, pred_total_ms (pred_model_ms times
 * time_factor when e->drains gives one: each past drain whose VMs are all
 * here, its schedule timed again, measured / model, the median; each VM's
 * predicted start and time scaled alike). Reserves the chosen VMs' memory and
 * vCPUs on their destinations. CO_OK, or CO_EUNAVAIL with d naming the
 * reason when no VM can be placed at all although some are movable. */
int co_evac_plan(co_evac *e, co_diag *d);

/* The pre-copy floor (co_evac_floor above) of the VMs idx[0..n-1] (indices
 * into e->vms) with e's NIC, MTU, budget and each VM's curve as it stands.
 * co_evac_plan fills e->floor with the VMs it schedules. Pure. */
co_evac_floor co_evac_floor_of(const co_evac *e, const int *idx, int n);

/* Predict a schedule without changing e: concurrency k, VMs started in
 * the order idx[0..n-1] (indices into e->vms, each with dest set). Fills
 * start/time/downtime per VM into the arrays (indexed like idx) when not
 * NULL; returns the predicted total (ms), and *ok = 0 when some VM that
 * converges alone at the full NIC misses the budget in this schedule. For
 * benchmarks that emulate fixed schedules (Nova 1, KubeVirt 2, VDSM 3). */
double co_evac_predict(const co_evac *e, const int *idx, int n, int k, double *start_ms,
                       double *time_ms, double *down_ms, int *ok);

/* Re-plan the rest: the best concurrency (as co_evac_plan, 1..8 unless
 * e->concurrency fixes it) for the VMs idx[0..n-1] still to start, in that
 * order, with what e now knows (e.g. a stream ceiling learnt). Sets and
 * returns e->k (unchanged when n is 0; not lowered only because fewer than
 * k VMs are left, unless one of them needs a stream of its own). */
int co_evac_replan(co_evac *e, const int *idx, int n);

/* The migrations vms[0..n-1] all at once, as the model sees them now (the
 * curves learnt so far): how many VMs that converge alone at the full NIC
 * would not converge within the budget at their share (co_evac_predict's
 * misses, from the start of each: what they sent is not counted). */
int co_evac_inflight_misses(const co_evac *e, const int *vms, int n);

/* The model's transfer time of VM vi (ms, set-up not counted) when it sends
 * beside m - 1 others: at an equal share of what the source sends with m in
 * flight, at most a stream's ceiling and the NIC. The run loop's early start
 * judges a migration in its first pass by it (QEMU shows no dirty rate before
 * its first sync), m counting the others in flight that will still send
 * (co_evac_run, docs/evacuate.md "Early start"). m < 1 counts as 1. */
double co_evac_transfer_ms(const co_evac *e, int vi, int m);
/* What the set-ups ahead time VM vi's transfer by (ms, as
 * co_evac_transfer_ms): the model's, or its last drain's sending time when
 * that was shorter. The model counts every page as data; an idle 64 MiB
 * guest sent its zero pages in 0.3 s where it says 1.3 s at 400 Mbit/s, so
 * the next VM's set-up started 1.3 s into this one's, and its busiest part
 * (the destination QEMU's start, 0.3 - 0.65 s in) met this VM's switchover
 * (bench-evacuate `hot`, 2026-12-05: the first VM 317 - 344 ms in 2 of 3
 * drains). Timed by what it sent in, the next set-up starts ~0.3 s in and
 * its busy part comes before the switchover. */
double co_evac_ahead_ms(const co_evac *e, int vi, int m);
/* How many set-ups may be ahead under the hold: as many as transfers fit
 * in one set-up (e->setup_ms over the mean of co_evac_ahead_ms alone of the
 * VMs with a destination, rounded down), so the link has a VM ready at each
 * end; at least CO_EVAC_SETUPS_AHEAD, at most CO_EVAC_SETUPS_AHEAD_MAX;
 * CO_EVAC_SETUPS_AHEAD while no set-up is known. Runs the model per VM:
 * the plan and re-plans store it in e->setups_ahead. */
int co_evac_setups_ahead(const co_evac *e);
/* Does v need a stream of its own (no other such sends beside it; but
 * under the hold no set-up starts early beside its end)? The model gives
 * it no switch within the budget
 * even alone on the best one stream gets, or its last drain sent for
 * longer than the model says by more than a set-up. 1 or 0; why (if not
 * NULL) gets the reason, "" when 0. */
int co_evac_own_stream_why(const co_evac *e, const co_evac_vm *v, char *why, size_t n);
/* What one of m migrations in flight gets (bytes/s): an equal share of
 * what the source sends with m in flight, at most a stream's ceiling and
 * the NIC (the rate co_evac_transfer_ms times at). m < 1 counts as 1. */
double co_evac_share_bytes_per_s(const co_evac *e, int m);

/* When a migration in pre-copy ends its transfer, by the fluid view the run
 * loop's early start judges it with (ms from now; INFINITY when the stream
 * does not gain on the guest's writes by 5 % of rate_bps): what is left over
 * what the stream gains, rate_bps - dirty_bps. What is left is QEMU's
 * ram_remaining_bytes plus what the guest dirtied since QEMU's last bitmap
 * sync (dirty_bps x since_sync_ms, at most mem_bytes when mem_bytes > 0):
 * QEMU counts those pages only at its next sync, so its remaining falls to
 * ~0 at the end of every pass, even for a guest that re-dirties most of its
 * memory each pass (bench-evacuate `hot`: the hot VM judged closing at the
 * end of its second pass with 5.6 MB left, 42 MB pending at the sync that
 * followed; docs/evacuate.md "The hot VM's passes, and guests that idle"). Bytes,
 * bytes/s, ms; a negative or non-finite input is read as 0, a rate_bps not
 * above 0 gives INFINITY. */
double co_evac_closing_ms(double remaining_bytes, double rate_bps, double dirty_bps,
                          double since_sync_ms, double mem_bytes);

/* The solo probe: does a drain of n VMs planned at e->k start its first VM
 * alone to learn what one stream carries? Auto concurrency, k > 1, n >= 3,
 * and the source's rate with one in flight unknown (src_cap_by_n[1]: no
 * calibration has it). co_evac_run re-plans once that VM has sent for
 * CO_EVAC_PROBE_MS (its bytes between two samples that far apart) or at
 * its end if sooner; co_evac_plan's prediction holds the others back until
 * then too. */
int co_evac_probes(const co_evac *e, int n);
/* How long the probe's stream is watched alone: long enough for a few of
 * the run loop's samples (250 ms apart) and TCP's ramp (chosen); until
 * 2026-12-03 the probe ran to its end, which cost bench-evacuate's
 * stream-bound drain 1.77x all-at-once's time (docs/evacuate.md). */
#define CO_EVAC_PROBE_MS 2000.0

/* The hold (co_evac_run at k = 1 with the early start): a VM started while
 * others are in flight migrates at this rate until their transfers have
 * ended, then at the rate its controller asked. libvirt's unit is MiB/s:
 * 1 is its least. At 1 MiB/s QEMU's bulk pass of a guest syncs no bitmap
 * for as many seconds as it has MiB, so it neither switches nor throttles
 * while held. Transfers one after another keep switchovers apart: on this
 * 2-core machine two switchovers at once went over the budget 30 - 38 %
 * of the time against 6 - 10 % apart (docs/evacuate.md, "The hold"). */
#define CO_EVAC_HOLD_BYTES_PER_S 1048576.0
/* ... and at most this long, whatever the others do (a stuck one) */
#define CO_EVAC_HOLD_MAX_MS 20000.0
/* Set-ups ahead (co_evac_run's setup_closing): a VM in its set-up may let
 * the next start while fewer than this many are in their set-up or held.
 * A set-up took 0.6 - 1.1 s here where a stream's transfer took 0.3 s, so
 * one set-up ahead left the link idle half the time (bench-evacuate
 * `stream`, one at a time: 4.3 s) */
#define CO_EVAC_SETUPS_AHEAD 3
/* ... and up to this many where more transfers fit in one set-up
 * (co_evac_setups_ahead): on a machine without KVM a set-up took 4 - 7 s
 * beside transfers of 0.3 - 2 s, so 3 ahead ran a `stream` drain in two
 * waves of set-ups (13.2 - 14.3 s; 5 ahead: 10.8 - 13.7 s). At 5 the
 * sixth VM of `stream` began its set-up only at the first byte and was
 * the last to finish in 9 of 9 drains (11.3 - 14.1 s, median 12.4); at 6
 * all six run their set-ups together (9.2 - 11.5 s over 10 drains:
 * docs/evacuate.md, "The sixth set-up"). Not more: set-ups share the CPU,
 * the drain's first set-up (the link idle) took 3.4 s alone, 5.3 s beside
 * 2 more, 7.8 s beside 5 (medians over this machine's bench logs) */
#define CO_EVAC_SETUPS_AHEAD_MAX 6
/* No set-up starts early beside the end of a VM QEMU throttled above this
 * (now, or in its last drain), and an order of cutover's own sends such a
 * VM last: a set-up's CPU beside a throttled guest's last passes costs
 * what convergence it has left (bench-evacuate `hot`: the hot guest sent
 * first with set-ups beside its ramp moved in 1 of 4 drains). A VM that
 * needs a stream of its own but was not throttled lets the next set-up
 * start beside its end under the hold (one at a time). */
#define CO_EVAC_THROTTLED_PCT 5.0
/* Did QEMU throttle v above CO_EVAC_THROTTLED_PCT in its last drain (its
 * calibration)? 1 or 0. */
static inline int co_evac_throttled_last(const co_evac_vm *v)
{
    return v->last_throttle_pct > CO_EVAC_THROTTLED_PCT;
}
/* A released VM whose QEMU still shows the held rate this long after is
 * released once more (a release libvirt overruled) */
#define CO_EVAC_RELEASE_CHECK_MS 500.0
/* A held VM goes at the end of the transfer before it: when that VM's
 * guest stops for its switchover with at most this much left to send at
 * its rate (its QEMU job's end, the libvirt call's return, came 0.2 - 0.3 s
 * later here), else at its job's end */
#define CO_EVAC_RELEASE_AT_STOP_MS 25.0

/* The pull-back: of the migrations vms[0..n-1] in flight (in start order),
 * the one whose cancel (the guest keeps running on the source; it goes
 * again later) leaves the fewest of the others unable to converge at their
 * share, the latest started on ties; -1 when none is over or no cancel
 * helps. A drain started from assumed curves (TCG guests are not measured)
 * can start more at once than the link carries: `cutover cycle` sent three
 * VMs to one 200 Mbit/s host and two of them ran 466 s and 5.6 GB each
 * before switching with 1.1 s of downtime (bench-forecast, valfail). */
int co_evac_backoff(const co_evac *e, const int *vms, int n);

/* The hold after a pull-back: vms[c], pulled back from the n in flight,
 * does not start again while one of the others still migrates (status
 * "migrating"), whatever the model says then; co_evac_held says whether it
 * is still held and clears the hold when not. */
void co_evac_hold(co_evac *e, const int *vms, int n, int c);
int co_evac_held(co_evac *e, int vm);

/* A VM whose migration the policy aborted (status "aborted": not converging
 * within the budget) while others sent beside it (senders: how many sent at
 * once over its sending time, itself included, the mean over the run loop's
 * ticks; at least CO_EVAC_SHARED_SENDERS) gets the link to itself once: with auto
 * concurrency, on its first attempt, it is marked `alone` (co_evac_run
 * starts it only when nothing else is in flight, and starts nothing beside
 * it), its status set back to "planned", its first reason kept in history,
 * and the reason says it goes again. Returns 1 when so (the caller queues
 * it again), 0 when it stays aborted. bench-forecast: two cycles failed a
 * host for one VM aborted at 13-14 MB/s of a 200 Mbit/s link shared with
 * another migration (docs/evacuate.md, "Aborted while sharing: once more
 * alone"). A set-up started beside it in its last second does not count: the hot VM
 * of bench-evacuate `hot`, aborted at QEMU's throttle ramp after 28 s alone
 * with the next VM's set-up 20 ms old, went again alone for 27 s more
 * (2026-12-04; the rule counted the most in flight). Nor does a mean
 * under 1.2 when another migration's bytes moved beside it in its last
 * CO_EVAC_SHARED_END_MS (shared_end): the hot VM, alone for 11 s, aborted at
 * the ramp's cap 0.3 s after the next VM began to send beside its last
 * passes, where alone it had switched within the budget in the drain
 * before (docs/evacuate.md). */
#define CO_EVAC_SHARED_SENDERS 1.2
#define CO_EVAC_SHARED_END_MS 2000.0
int co_evac_retry_alone(co_evac *e, int vm, double senders, int shared_end);

/* ---- learning the real dirty rates and the calibration (evacuate/learn.c,
 * pure but for the calibration file) ---- */

/* The curve d run at speed f (time-scaled: U_f(t) = U(f t); a starved vCPU
 * writes the same pattern, slower). f <= 0 gives none. */
void co_evac_scale_curve(const co_dirty *d, double f, co_dirty *out);

/* The speed f in [0, 8] at which the nominal curve reproduces what QEMU
 * counted: sum_i m_i U(f dur_i / m_i) = sum_i pages_i (m_i = syncs, at
 * least 1). Windows shorter than 800 ms are not QEMU's (it updates at most
 * once a second; seen: a last sample reading 0 as the job ends) and are
 * left out. NAN when no window is left or the curve is none. */
double co_evac_fit_factor(const co_dirty *nominal, const co_evac_window *w, int n);

/* The curve a VM showed: one point per window, (length, pages) over its
 * syncs (one pass's worth), sorted, non-decreasing, as a table curve
 * (model/dirty.h) capped at cap_pages. CO_OK, or CO_ERANGE (out = none)
 * when no window is usable. */
int co_evac_observed_curve(const co_evac_window *w, int n, double cap_pages, co_dirty *out);

/* The common factor of the VMs observed: the median of their fitted
 * speeds (finite ones). NAN when there is none. */
double co_evac_common_factor(const double *f, int n);

/* A completed VM without a usable window (a migration shorter than QEMU's
 * first 1 s rate update): the pages it re-sent (ram.transferred beyond its
 * memory) over its migration time, as a factor of its nominal rate; a
 * lower bound (each re-send is at least one write). NAN when it did not
 * complete or nothing is known. */
double co_evac_bytes_factor(const co_evac_vm *v);

/* The write ceiling: of the VMs observed (nominal write rate r_i pages/s,
 * fitted speed f_i), those clearly starved (f_i < 0.8) wrote r_i f_i; the
 * most of these. 0 when none is starved, NAN when n is 0. */
double co_evac_write_ceiling(const double *rate, const double *f, int n);

/* The speed of a VM not seen, of nominal rate r: the common factor, and
 * at most the write ceiling (a starved vCPU writes at most what the host
 * gives it: bench-evacuate saw 100-500 pages/s guests at 1.0, 3000-5000
 * pages/s ones at 0.5-0.75). */
double co_evac_unseen_factor(double common, double ceiling, double r);

/* Learn from the windows in e->vms[].win (completed and in-flight VMs):
 * each VM with windows gets seen_factor and its own curve (what it showed,
 * co_evac_observed_curve; the factor is for the record and the others); the common factor
 * and the write ceiling (e->common_factor, write_ceiling_pages_per_s,
 * learn_obs) give every VM not yet started (status "planned") and not seen
 * its speed (co_evac_unseen_factor; its curve is what re-planning times).
 * Returns the number of VMs whose applied factor changed by more than 5 %. */
int co_evac_learn(co_evac *e);

/* Set VM v's applied speed (saves the nominal curve first). */
void co_evac_apply_factor(co_evac_vm *v, double f, const char *source);

/* Record one measured aggregate sample: n migrations in flight sent bytes
 * in ms; updates e->src_cap_by_n[n] once 2 s are counted at n. n = 0: some
 * started, none sending yet (only the time is kept, agg_ms[0]). */
void co_evac_note_rate(co_evac *e, int n, double bytes, double ms);

/* Record QEMU's own rate of one stream in pre-copy (ram.mbps over its last
 * 100 ms window, in bytes/s), beside whatever else sent then: the source
 * sends at least that with one in flight, so src_cap_by_n[1] is raised to
 * it (at most the NIC). The run loop's ticks miss a migration that sends
 * in less than a tick: at 2 Gbit/s a 64 MiB guest sends in 0.27 s, and the
 * rate with one in flight was learnt at 48.5 MB/s from ticks it filled in
 * part, where QEMU showed 248 (bench-evacuate `stream`). Returns 1 when it
 * raised src_cap_by_n[1] by more than 5 %. */
int co_evac_note_peak(co_evac *e, double bytes_per_s);
/* Switchovers compete for the source's CPU (under TCG, 4-6 at once gave
 * 568-976 ms of guest-visible downtime at a 300 ms budget, where 1-2 at
 * once stayed within it): a completed VM whose QEMU downtime went over
 * this share of --max-downtime while n migrations were in flight caps auto
 * concurrency at n - 1. 1.0: the budget itself; 0.8 capped a whole drain
 * (and, through the calibration, the next ones) at 1 for one switchover of
 * 264 ms with 2 in flight, within the budget. */
#define CO_EVAC_DOWN_SHARE 1.0
/* The longest a cap holds before the level above it is tried again, in
 * drains (chosen: the held drains are slower, the probes cost a VM over
 * budget each; 1, 2, 4, 8). */
#define CO_EVAC_CAP_HOLD_MAX 8

/* Record a completed VM's QEMU downtime with n migrations in flight at its
 * end (itself included); lowers e->k_cap as above. Returns 1 when the cap
 * fell. A cap read from a calibration is applied one higher (the last drain
 * could not try above it; a switchover over budget there lowers it again),
 * unless it holds (below). */
int co_evac_note_downtime(co_evac *e, const char *vm, int n, double downtime_ms);

/* The switchover tally. One cap from one miss swung with chance: in
 * bench-evacuate `stream` (2 Gbit/s, TCG) cutover's switchovers went over
 * the 300 ms budget 1.3 % of the time with 1 in flight and 9 - 23 % with 2 -
 * 4 (663 switchovers, 2026-12-02 - 05), yet a drain at 2 without a miss
 * lifted the cap and the next probe missed again: 13 of 78 switchovers of
 * drains started at k >= 2 missed, 2 of 54 at k = 1. The tally keeps a rate
 * per level instead:
 *  - co_evac_note_switchover: a completed VM started at concurrency k with
 *    downtime_ms (QEMU's); counted at level k (1..CO_EVAC_MAX_K).
 *  - co_evac_tally_rate: the rate of switchovers over the budget at level
 *    k, (over + CO_EVAC_TALLY_PRIOR x the rate of level k-1) / (n +
 *    CO_EVAC_TALLY_PRIOR): a level not yet seen borrows the rate below it
 *    (0 below level 1), so the cap's probe can still try it.
 *  - co_evac_tally_cap: the highest k whose levels 2..k each expect at most
 *    CO_EVAC_MISS_EXPECT misses over n_vms VMs (n_vms x rate); 1 at least.
 *    Sets e->tally_why when a level is refused, else "".
 * The decay lets an old miss fade and follows a machine whose load
 * changes: a level refused for one miss in 6 switchovers (nothing over
 * below it) comes back after 6 drains that do not try it. */
#define CO_EVAC_TALLY_DECAY 0.8
#define CO_EVAC_TALLY_PRIOR 4.0
#define CO_EVAC_MISS_EXPECT 0.3
void co_evac_note_switchover(co_evac *e, int k, double downtime_ms);
/* A switchover of vm over the budget (downtime_ms, QEMU's) while another
 * VM's set-up ran beside it. The CO_EVAC_EARLY_MISSES-th in a drain stops
 * early starts for the rest of it (e->no_early_start, e->early_stop_why
 * naming each); returns 1 then, else 0. One was the rule until 2026-12-06:
 * over 335 of cutover's switchovers in this machine's bench logs (ev1 -
 * ev8, 2026-12-05/06), those beside 1 - 3 set-ups went over 5 times in 210
 * (2.4 %), those with none beside 2 in 125 (1.6 %), so one miss said
 * nothing of the set-ups, and stopping cost the drain its hidden set-ups
 * (`link`, 21.2 s against 17.4 - 17.6: docs/evacuate.md, "One miss is not
 * a pattern"). Two in one drain of 6 at that rate come by chance in
 * ~0.6 % of drains. */
#define CO_EVAC_EARLY_MISSES 2
int co_evac_note_early_miss(co_evac *e, const char *vm, double downtime_ms);
double co_evac_tally_rate(const co_evac *e, int k);
int co_evac_tally_cap(co_evac *e, int n_vms);

/* Did a migration's set-up (from its start to its first byte sent; to its
 * end if it never sent; on if neither: 0) overlap the switchover from_ms..
 * to_ms? Times on one clock, ms. The run loop counts a switchover over the
 * budget beside a set-up (co_evac_note_early_miss). */
int co_evac_setup_during(double start_ms, double first_send_ms, double end_ms, double from_ms,
                         double to_ms);
/* Was a migration (from its start to its end; on if end_ms is 0) in flight
 * during the switchover from_ms..to_ms? The run loop counts those for the
 * cap (co_evac_note_downtime), not the ones left when the worker ended. */
int co_evac_in_flight_during(double start_ms, double end_ms, double from_ms, double to_ms);

/* Where the time went (co_evac_split above) from n transfers iv[i] = {first
 * byte, end} (ms from the drain's start, any order, overlapping or not;
 * ones with end < first byte or not finite ignored). n = 0 gives first_byte_ms
 * NAN and zeros. */
void co_evac_time_split(const double (*iv)[2], int n, co_evac_split *out);

/* What this drain's calibration says of the cap's hold (drains it still
 * holds, and that hold's length): a probe one above the last cap that went
 * over the budget again holds the cap for twice the last hold (1 the first
 * time, at most CO_EVAC_CAP_HOLD_MAX); a held drain without a miss counts
 * one down; a probe without a miss keeps the backoff (0 hold). */
void co_evac_cap_hold_next(const co_evac *e, int *hold, int *backoff);

/* A completed migration sent got bytes/s over its sending time while its
 * fair share of the source NIC was fair bytes/s. It was bound by its own
 * stream when got < 0.8 x fair: the stream ceiling is at least got (raised
 * to it, source "learnt"). An assumed or calibrated ceiling below got is
 * raised to got whatever the share: the stream did that much (the assumed
 * 11 MB/s for TCG stayed while streams carried 24-33 MB/s here, and the
 * dry run predicted 138 s for a 17.6 s drain). Returns 1 when it changed. */
int co_evac_note_stream(co_evac *e, double got, double fair);

/* Record one VM's set-up (its worker's start to its first byte sent);
 * updates e->setup_ms (mean). */
void co_evac_note_setup(co_evac *e, double ms);

/* Record one held VM's wait for its release past its turn (ms);
 * updates e->hold_wait_ms (mean). */
void co_evac_note_hold(co_evac *e, double ms);

/* The calibration: what a drain learnt (stream ceiling, source rate per
 * number in flight, per-VM setup, common factor, each VM's own factor), as
 * JSON (new reference) and back. co_evac_calib_apply reads FILE and sets
 * them on e before co_evac_plan (curves of VMs named in it by their own
 * factor, the others by the common factor); e->calib_source says where from.
 * CO_OK, CO_ENOINPUT (cannot read), CO_EDATA naming the file and field. */
json_t *co_evac_calib_json(const co_evac *e);
int co_evac_calib_save(const co_evac *e, const char *path, co_diag *d);
int co_evac_calib_apply(co_evac *e, const char *path, co_diag *d);
/* The same from a parsed calibration o (borrowed); what names it in errors
 * ("--calibration FILE"), source goes to e->calib_source. */
int co_evac_calib_apply_json(co_evac *e, json_t *o, const char *what, const char *source,
                             co_diag *d);
/* One calibration from an older and a newer (both borrowed, either NULL;
 * new reference, NULL when both are): what the cycle carries from one
 * evacuation to the next and from past cycles (cycle/cycle.c). VMs by
 * name, the newer's entry replacing; scalars and rates per number in flight
 * the newer's where it learnt them, else the older's. The concurrency cap
 * is the newer's when it set one lower than the older's or tried above the
 * older's (an applied cap is written one higher, co_evac_calib_apply);
 * otherwise the older's stands: a drain too small to try more proves
 * nothing, and the cap would climb by one per drain. */
json_t *co_evac_calib_merge(json_t *older, json_t *newer);

/* Parse --groups: "NAME=vm,vm[;NAME=vm,...]" or a file of such lines
 * (path, if readable). A member is a VM of the source or a resident of a
 * destination (e->residents). CO_OK or CO_EUSAGE naming the unknown VM or
 * bad item. Must run after the inventory (names are resolved). */
int co_evac_parse_groups(co_evac *e, const char *text, co_diag *d);

/* Where each group member is (vm_host: a destination index, -1 the source)
 * and is headed (vm_dest, -1 = nowhere), in the index space of
 * co_evac_groups.vm: arrays of CO_EVAC_PLACE_SLOTS. The VM `moving` (or -1)
 * counts as headed nowhere (it is being placed again). */
void co_evac_positions(const co_evac *e, int moving, int *vm_host, int *vm_dest);

/* --dirty-curves DIR: for each movable VM with a recorded trace
 * DIR/NAME.json (traces/dirty_trace.h), that trace's curve replaces the
 * measured or assumed one (dirty_traced = 1; dirty_mib_per_s = what it
 * dirties in its first second); a VM without one keeps its curve and says
 * so in its reason. CO_OK; CO_ENOINPUT when DIR is not a readable
 * directory; CO_EDATA naming the file:line of a bad trace. */
int co_evac_load_curves(co_evac *e, const char *dir, co_diag *d);

/* The report. status: "completed" (all moved), "partial", "failed",
 * "cancelled", "planned" (dry run). */
typedef struct co_evac_result {
    char status[16];
    double total_time_ms;         /* NAN for a dry run */
    int dry_run;
    int exit_err;                 /* CO_OK or the CO_E* the exit code comes from */
} co_evac_result;

json_t *co_evac_result_json(const co_evac *e, const co_evac_result *r);
/* Where a drain's time went as JSON ({first_byte_ms, transfer_ms, idle_ms,
 * idle_gaps, longest_idle_ms}; new reference), null when no migration
 * sent (first_byte_ms NAN): the report's `time_split`, and the bench's. */
json_t *co_evac_split_json(const co_evac_split *sp);
void co_evac_result_text(const co_evac *e, const co_evac_result *r, FILE *out);

/* ---- libvirt (evacuate/virt.c; without libvirt each fails with CO_EUNAVAIL) ---- */

typedef struct co_evac_opts {
    const char *src_uri;
    unsigned allow;               /* CO_ALLOW_* | CO_EVAC_ALLOW_* */
    int measure_dirty;            /* 1: 1 s of libvirt's dirty-rate calculation per KVM
                                     VM (TCG guests skipped, see virt.c); 2: every VM */
    int unmovable;                /* enum co_evac_unmovable */
    int progress;                 /* one line per VM in flight on stderr */
    int timeout_ms;               /* connection bound (default 5000) */
    int call_timeout_ms;          /* a worker's time limit for one libvirt call, and for
                                     a migration without progress; 0 = the default,
                                     CO_EVAC_CALL_TIMEOUT_MS (virt.c says what happens) */
    volatile sig_atomic_t *stop_flag, *stop_signo;
    int policy;                   /* enum co_pol_kind each migration runs under: 0 =
                                     CO_POL_ADAPTIVE (cutover); a baseline (qemu, nova,
                                     ovirt, kubevirt) lets a benchmark emulate another
                                     system's drain (bench/bench_evacuate.c) */
    double policy_min_mem_bytes;  /* a baseline's per-GiB timeouts count at least this
                                     much RAM (0 = the VM's own) */
    const char *log_dir;          /* each migration's controller timeline (the JSONL of
                                     `cutover migrate --log`) appended to DIR/<vm>.jsonl,
                                     a VM that goes again adding to its file; the directory
                                     must exist and be writable (co_evac_check_log_dir);
                                     NULL = none */
    /* Called from co_evac_run's own thread (never a worker's): phase 0
     * before a VM's migration thread starts, phase 1 once its outcome
     * (status, time_ms, downtime_ms, reason) is in e->vms[vm], also for a
     * worker the watchdog gave up on. `cutover cycle` journals them. NULL =
     * not called. */
    void (*on_mig)(void *arg, const co_evac *e, int vm, int phase);
    void *on_mig_arg;
} co_evac_opts;

/* Inventory: every domain on the source (running or paused) with its
 * facts and blockers, every destination's capacity (virNodeGetInfo,
 * virNodeGetFreeMemory; resident vCPUs counted) and the CPU comparison of
 * each domain against it; with measure_dirty, each running VM's dirty rate
 * (all at once, 1 s). Errors: CO_EUNAVAIL naming the URI that does not
 * answer, CO_EUSAGE for a malformed one. Moves nothing. */
int co_evac_inventory(co_evac *e, const co_evac_opts *o, co_diag *d);

/* Checks that dir is a directory this process can write (creating it, one
 * level, when missing), before any VM moves. CO_ECANTCREAT naming it. */
int co_evac_check_log_dir(const char *dir, co_diag *d);

/* The connection co_evac_inventory opens, for callers that need node facts
 * the evacuation does not keep (cutover inventory: total memory, version,
 * interfaces): virConnectOpen in a thread abandoned after timeout_ms (it
 * blocks for minutes on an unreachable TCP host). *out is libvirt's
 * virConnectPtr, closed with virConnectClose. CO_EUNAVAIL naming the URI. */
struct _virConnect;
int co_evac_connect(const char *uri, int timeout_ms, struct _virConnect **out, co_diag *d);

/* Run the plan: start in plan order, at most e->k at once, each with the
 * adaptive controller and its own downtime budget; a migration that fails
 * (not aborted by the policy, not cancelled) is re-placed on another open
 * destination once, its destination checked and closed if it does not
 * answer; one that failed while the source daemon was away waits for it
 * (up to the call time limit) and is retried to the same destination.
 * Time limits: a worker in one libvirt call, or without migration progress,
 * for longer than o->call_timeout_ms is cancelled, its job aborted over a
 * fresh connection, and 2 x timeout_ms later given up: its VM is "failed"
 * with the reason and where it runs. A worker given up may outlive this
 * call (detached; it reads and writes only its own copy, never e or o).
 * Then the unmovable VMs per o->unmovable. Fills each VM's outcome and r.
 * Returns CO_OK when every VM moved (or was shut down as asked). */
int co_evac_run(co_evac *e, const co_evac_opts *o, co_evac_result *r, co_diag *d);

#endif
