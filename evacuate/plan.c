/* evacuate/plan.c: placement and schedule of an evacuation (see
 * evacuate.h). Pure: no libvirt, no clock. */
#define _GNU_SOURCE /* qsort_r */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evacuate/evacuate.h"
#include "traces/dirty_trace.h"
#include "model/migration.h"
#include "sim/share.h"
#include "util/error.h"

void co_evac_init(co_evac *e)
{
    memset(e, 0, sizeof *e);
    e->max_downtime_ms = 300;
    e->deadline_ms = 600e3;
    e->cpu_ratio = 16.0; /* Nova's initial_cpu_allocation_ratio */
    e->nic_bytes_per_s = 125e6;
    snprintf(e->nic_source, sizeof e->nic_source, "assumed 1Gbit");
    e->mtu = 1500;
    e->default_dirty_mib_per_s = 0;
    e->setups_ahead = CO_EVAC_SETUPS_AHEAD; /* until a plan knows a set-up */
    e->split.first_byte_ms = NAN;           /* no drain ran */
}

/* VM v's last drain's sending time (its calibration) at `share` bytes/s,
 * scaled from the share it had then; 0 when there is none. */
static double last_send_at(const co_evac *e, const co_evac_vm *v, double share)
{
    if (!(v->last_send_ms > 0))
        return 0;
    int m = v->last_send_inflight >= 1 ? (int)lround(v->last_send_inflight) : 1;
    return v->last_send_ms * co_evac_share_bytes_per_s(e, m) / (share > 1e3 ? share : 1e3);
}

/* Did v's last drain send for longer than the model's T_ms by more than a
 * set-up? (Smaller differences, quick VMs' ends of 1 - 2 s, stay the
 * model's: the early start hides up to a set-up.) */
static int last_drain_longer(const co_evac *e, const co_evac_vm *v, double share, double T_ms)
{
    return last_send_at(e, v, share) > T_ms + (e->setup_ms > 0 ? e->setup_ms : 0);
}

/* The model's time and downtime of VM v alone on a link of `share`
 * bytes/s, with the budget as QEMU's downtime-limit (what the adaptive
 * policy aims at). */
static void model_one(const co_evac *e, const co_evac_vm *v, double share, double *T_ms,
                      double *down_ms, int *conv)
{
    co_mig_params p;
    co_mig_defaults(&p);
    p.mem_bytes = v->mem_bytes;
    p.zero_fraction = 0; /* unknown: every page counted as data (pessimistic) */
    p.dirty = v->dirty;
    p.link.line_rate_bytes_per_s = share > 1e3 ? share : 1e3;
    p.link.mtu = e->mtu;
    /* QEMU 7.2 switches once what is left fits the limit, the bulk pass's
     * unsent pages included, so the model's downtime is about the limit
     * plus its switchover cost whatever the VM dirties: with the limit at
     * the budget every VM sat at 290-310 ms and "within the budget" (and
     * so needs_own_stream) was decided by 10 ms of rounding (bench-evacuate,
     * evac4). The limit leaves the switchover cost inside the budget. */
    p.downtime_limit_ms = fmax(1, e->max_downtime_ms - p.switchover_cost_ms);
    p.deadline_ms = e->deadline_ms;
    co_mig_result r;
    if (co_mig_predict(&p, &r) != CO_OK) {
        *T_ms = e->deadline_ms;
        *down_ms = INFINITY;
        *conv = 0;
        return;
    }
    *T_ms = r.total_time_ms > 0.001 ? r.total_time_ms : 0.001;
    *conv = r.converged && r.downtime_ms <= e->max_downtime_ms;
    *down_ms = r.converged ? r.downtime_ms : INFINITY;
}

/* model_one, and when co_evac_plan times the schedule it chose, the time
 * of a VM its last drain says the model cannot: */
static void predict_one(const co_evac *e, const co_evac_vm *v, double share, double *T_ms,
                        double *down_ms, int *conv)
{
    model_one(e, v, share, T_ms, down_ms, conv);
    /* A VM whose last drain sent for longer than the model says by more
     * than a set-up is timed by that drain (scaled by the share it had
     * then): the hot TCG guest of bench-evacuate `hot` sent for 17 - 25 s
     * in every drain where the model, with the curve its windows showed,
     * said 7 - 10 s and a switch within the budget; what QEMU's
     * auto-converge ramp and adaptive's guard (engine/policy.c) make of such
     * a guest is not in the model. Smaller differences (quick VMs' ends,
     * 1 - 2 s) stay the model's: the early start hides up to a set-up.
     * The time itself only when co_evac_plan times the schedule it chose:
     * as a per-VM time factor in the choices it made the planner run two
     * at once beside the hot VM, which, starved, was aborted at its ramp's
     * cap and went again alone (57.7 s where 33 s were usual); in them it
     * only makes the VM need a stream of its own (needs_own_stream),
     * docs/evacuate.md. */
    if (e->timing && last_drain_longer(e, v, share, *T_ms))
        *T_ms = last_send_at(e, v, share);
}

/* One stream's payload ceiling (model/link.h's channel cap): a flow never
 * gets more, whatever the links leave it. */
static double stream_cap(const co_evac *e)
{
    if (e->stream_cap_bytes_per_s > 0)
        return e->stream_cap_bytes_per_s;
    co_mig_params p;
    co_mig_defaults(&p);
    return p.link.channel_cap_bytes_per_s;
}

/* Does v need a stream of its own? The model says it does not converge
 * within the budget even alone on the best one stream gets (the NIC,
 * capped at a stream's ceiling). Two such at once only split what neither
 * has enough of, and under TCG they also share the source's CPU: make
 * bench-evacuate's hot scenario ran the four dirtiest of six together
 * (dirty-per-bandwidth order, k = 4) and took 52 s and 2.2 GB where VDSM's
 * 3-by-name took 33 s (docs/evacuate.md). */
/* What the source sends in all with n migrations in flight: its NIC, or
 * less when a drain measured less (the source's CPU under TCG: each stream
 * is a QEMU migration thread beside the guests' vCPUs). A count not
 * measured between two measured takes the one below it; above the most
 * measured, the NIC (each flow is still held to a stream's ceiling): one
 * stream's figure says what a stream carries, not what the source does
 * (bench-evacuate at load 11: 140-420 Mbit/s with 1, 310-410 with 2-6). */
static double src_cap(const co_evac *e, int n)
{
    if (n > CO_EVAC_MAX_K)
        n = CO_EVAC_MAX_K;
    int top = 0;
    for (int m = 1; m <= CO_EVAC_MAX_K; m++)
        if (e->src_cap_by_n[m] > 0)
            top = m;
    if (n > top)
        return e->nic_bytes_per_s;
    for (int m = n; m >= 1; m--)
        if (e->src_cap_by_n[m] > 0)
            return fmin(e->nic_bytes_per_s, e->src_cap_by_n[m]);
    return e->nic_bytes_per_s;
}

double co_evac_share_bytes_per_s(const co_evac *e, int m)
{
    if (m < 1)
        m = 1;
    return fmin(e->nic_bytes_per_s, fmin(src_cap(e, m) / m, stream_cap(e)));
}

double co_evac_transfer_ms(const co_evac *e, int vi, int m)
{
    double T, D;
    int C;
    if (vi < 0 || vi >= e->nvms)
        return NAN;
    predict_one(e, &e->vms[vi], co_evac_share_bytes_per_s(e, m), &T, &D, &C);
    return T;
}

double co_evac_ahead_ms(const co_evac *e, int vi, int m)
{
    double T = co_evac_transfer_ms(e, vi, m);
    if (vi < 0 || vi >= e->nvms)
        return T;
    double last = last_send_at(e, &e->vms[vi], co_evac_share_bytes_per_s(e, m));
    return last > 0 && last < T ? last : T;
}

int co_evac_setups_ahead(const co_evac *e)
{
    double sum = 0;
    int n = 0;
    for (int v = 0; v < e->nvms; v++) {
        if (e->vms[v].dest < 0)
            continue;
        double T = co_evac_ahead_ms(e, v, 1);
        if (T > 0 && isfinite(T))
            sum += T, n++;
    }
    if (!(e->setup_ms > 0) || n == 0)
        return CO_EVAC_SETUPS_AHEAD;
    double fit = floor(e->setup_ms / (sum / n));
    if (!(fit > CO_EVAC_SETUPS_AHEAD))
        return CO_EVAC_SETUPS_AHEAD;
    return fit >= CO_EVAC_SETUPS_AHEAD_MAX ? CO_EVAC_SETUPS_AHEAD_MAX : (int)fit;
}

static double nonneg(double x)
{
    return isfinite(x) && x > 0 ? x : 0;
}

double co_evac_closing_ms(double remaining_bytes, double rate_bps, double dirty_bps,
                          double since_sync_ms, double mem_bytes)
{
    rate_bps = nonneg(rate_bps);
    dirty_bps = nonneg(dirty_bps);
    double gain = rate_bps - dirty_bps;
    if (!(rate_bps > 0) || !(gain > 0.05 * rate_bps))
        return INFINITY;
    double left = nonneg(remaining_bytes) + dirty_bps * nonneg(since_sync_ms) / 1e3;
    if (nonneg(mem_bytes) > 0)
        left = fmin(left, mem_bytes);
    return left / gain * 1e3;
}

int co_evac_own_stream_why(const co_evac *e, const co_evac_vm *v, char *why, size_t n)
{
    double T, D;
    int C;
    double best = fmin(src_cap(e, 1), stream_cap(e));
    model_one(e, v, best, &T, &D, &C); /* the model's own, timing or not */
    /* or its last drain said so: it sent for longer than the model says
     * by more than a set-up (the hot TCG guest, modelled to switch within
     * the budget after 7 - 10 s, sent for 17 - 25 s under QEMU's
     * auto-converge in every drain; planned beside others it was starved,
     * pulled back or aborted: docs/evacuate.md) */
    int longer = last_drain_longer(e, v, best, T);
    if (why && n > 0) {
        if (!C)
            snprintf(why, n, "model: alone at %.0f Mbit/s no switch within %.0f ms (%s)",
                     best * 8 / 1e6, e->max_downtime_ms,
                     isfinite(D) ? "downtime over the budget" : "does not converge");
        else if (longer)
            snprintf(why, n, "its last drain sent for %.0f ms where the model says %.0f",
                     last_send_at(e, v, best), T);
        else
            why[0] = 0;
    }
    return !C || longer;
}

static int needs_own_stream(const co_evac *e, const co_evac_vm *v)
{
    return co_evac_own_stream_why(e, v, NULL, 0);
}

/* When a flow that has done frac of a transfer of T ms at its present rate
 * starts closing: once what is left of it, timed at its share beside the
 * others that still send (Teff), fits in a set-up. In ms at the present
 * rate; <= 0 when it closes now. The event and the test that closes the
 * flow use this one figure: timed at T for the event and at Teff for the
 * test, they disagreed by a rounding error at which frac stopped moving,
 * and the loop stepped by 1e-13 ms for ever (found by fuzz_calibration). */
static double closes_in(double frac, double T, double Teff, double setup)
{
    return (1 - frac) * T - setup * T / Teff;
}
/* closer than this counts as now: time steps below it move nothing */
#define CLOSE_EPS_MS 1e-6

/* The schedule's prediction; *misses counts the VMs that converge alone at
 * the full NIC but not at their share here. VMs start in the order of idx,
 * at most k at once; with solo, a VM that needs a stream of its own
 * (needs_own_stream) waits while another such is in flight and the next
 * one that does not takes its turn (co_evac_run starts them so). Arrays
 * are indexed like idx; eff (if not NULL) gets the positions in idx in the
 * order they start. */
static double predict_sched(const co_evac *e, const int *idx, int n, int k, double *start_ms,
                            double *time_ms, double *down_ms, int *misses, int solo, int *eff)
{
    co_share sh;
    *misses = 0;
    if (n <= 0)
        return 0;
    if (k < 1)
        k = 1;
    if (co_share_init(&sh, 1 + CO_EVAC_MAX_DEST + CO_EVAC_MAX_K, CO_EVAC_MAX_K) != CO_OK) {
        co_share_free(&sh);
        *misses = n;
        return INFINITY;
    }
    double cap1 = stream_cap(e);
    /* libvirt's set-up of each migration (the destination QEMU's start,
     * QEMU's own set-up), when a drain measured it: the flow sends nothing
     * meanwhile and takes no share of the links */
    double setup = e->setup_ms > 0 ? e->setup_ms : 0;
    int fl[CO_EVAC_MAX_K];      /* position in idx of each flow in flight */
    double frac[CO_EVAC_MAX_K]; /* share of its transfer done */
    double st[CO_EVAC_MAX_K];
    double su[CO_EVAC_MAX_K];   /* set-up left, ms (<= 0: sending) */
    char cl[CO_EVAC_MAX_K];     /* ending its transfer within the set-up: its slot is
                                   free for the next VM's set-up (the early start);
                                   never a VM QEMU throttled in its last drain, nor
                                   one that needs a stream of its own but under the
                                   hold, as in co_evac_run (may_close) */
    char own[CO_EVAC_MAX_VMS], started[CO_EVAC_MAX_VMS];
    char thr[CO_EVAC_MAX_VMS]; /* throttled in its last drain (CO_EVAC_THROTTLED_PCT) */
    /* flow f may free its slot early: the early start, not yet closing, not
     * a VM QEMU throttled in its last drain, and not a VM that needs a
     * stream of its own (one such stays counted in own_in until it leaves)
     * unless the hold keeps the next transfer off the link until it ends
     * (one at a time, below) */
#define may_close(f) (early && !cl[f] && !thr[fl[f]] && (!own[fl[f]] || hold))
    /* the early start (co_evac_run): cutover's own schedule only */
    int early = solo && setup > 0 && !e->no_early_start;
    /* the hold (co_evac_run): one at a time with the early start, a VM
     * started beside others sends once as many have ended as were in
     * flight at its start (he[f]: that count of ends). Tried at any k
     * (2026-12-06: a VM beside k or more sends once all but k - 1 have
     * ended, set-ups ahead beyond k): the plan took 4 at once on `link`
     * at 14.1 s and the drain took 41 s (docs/evacuate.md, "One miss is
     * not a pattern") */
    int hold = early && k == 1, endc = 0;
    /* Under the hold a VM that needs a stream of its own has it whatever
     * starts its set-up beside it: the next VM sends only once it ended
     * (co_evac_run alike). Without it, at one at a time the link idled
     * through each set-up after such a VM (1.3 s of a 12 s `link` drain,
     * bench-evacuate 2026-12-05). Never beside the end of one QEMU
     * throttled (CO_EVAC_THROTTLED_PCT), own stream or not. */
    int he[CO_EVAC_MAX_K];
    /* ... and sends hold_wait_ms after its turn (tn[f]: when as many had
     * ended) or its set-up's end, whichever is later: the run loop's wait
     * for libvirt (learnt, co_evac_note_hold) */
    double tn[CO_EVAC_MAX_K], hw = e->hold_wait_ms > 0 ? e->hold_wait_ms : 0;
#define released_at(f) (fmax(tn[f], st[f] + setup) + hw)
    char hd[CO_EVAC_MAX_K]; /* started beside others: held (the first never is) */
#define held(f)                                                                              \
    (hold && hd[f] && su[f] <= 0 && (endc < he[f] || t < released_at(f) - CLOSE_EPS_MS))
    for (int i = 0; i < n; i++) {
        own[i] = solo && needs_own_stream(e, &e->vms[idx[i]]);
        thr[i] = co_evac_throttled_last(&e->vms[idx[i]]);
        started[i] = 0;
    }
    /* the solo probe (co_evac_probes): the first VM alone until it has sent
     * for CO_EVAC_PROBE_MS or ended */
    int probe = solo && k > 1 && n >= 3 && !(e->src_cap_by_n[1] > 0), ended = 0;
    double sent[CO_EVAC_MAX_K]; /* ms each flow has been sending */
    int nf = 0, nstarted = 0, own_in = 0, neff = 0, ncl = 0;
    double t = 0, total = 0;
    while (nstarted < n || nf > 0) {
        int kk = probe && ended == 0 ? 1 : k;
        while (nf - ncl < kk && nf < CO_EVAC_MAX_K && nstarted < n) {
            int next = -1;
            for (int i = 0; i < n && next < 0; i++)
                if (!started[i] && !(own[i] && own_in && !hold))
                    next = i;
            if (next < 0)
                break; /* only VMs that need their own stream left: wait */
            started[next] = 1;
            nstarted++;
            own_in += own[next];
            if (eff)
                eff[neff++] = next;
            he[nf] = endc + nf;
            tn[nf] = nf == 0 ? t : NAN;
            hd[nf] = nf > 0;
            fl[nf] = next;
            cl[nf] = 0;
            frac[nf] = 0;
            st[nf] = t;
            su[nf] = setup;
            sent[nf] = 0;
            if (start_ms)
                start_ms[next] = t;
            nf++;
        }
        int sending = 0;
        for (int f = 0; f < nf; f++)
            sending += su[f] <= 0 && !held(f);
        co_share_reset(&sh);
        int src = co_share_link(&sh, src_cap(e, sending > 0 ? sending : 1));
        int dl[CO_EVAC_MAX_DEST];
        for (int i = 0; i < e->ndests; i++)
            dl[i] = co_share_link(&sh, e->dests[i].nic_bytes_per_s > 0
                                           ? e->dests[i].nic_bytes_per_s
                                           : e->nic_bytes_per_s);
        int slot[CO_EVAC_MAX_K]; /* flow f's index in the share, -1 in set-up */
        for (int f = 0, j = 0; f < nf; f++) {
            slot[f] = -1;
            if (su[f] > 0 || held(f))
                continue;
            const co_evac_vm *v = &e->vms[idx[fl[f]]];
            int path[3] = {src, v->dest >= 0 ? dl[v->dest] : src, co_share_link(&sh, cap1)};
            if (path[1] == src)
                path[1] = path[2], path[2] = -1;
            co_share_flow(&sh, path, path[2] < 0 ? 2 : 3);
            slot[f] = j++;
        }
        co_share_solve(&sh);
        double T[CO_EVAC_MAX_K], D[CO_EVAC_MAX_K], Teff[CO_EVAC_MAX_K];
        int C[CO_EVAC_MAX_K];
        int stay = 0; /* in flight, but those sending that are closing */
        int nsu = 0;  /* in their set-up */
        for (int g = 0; g < nf; g++) {
            stay += !(su[g] <= 0 && !held(g) && cl[g]);
            nsu += su[g] > 0 || held(g);
        }
        double dt = INFINITY;
        int first = 0, now_closing = 0;
        double Tsu[CO_EVAC_MAX_K]; /* a set-up's transfer, for set-ups ahead */
        for (int f = 0; f < nf; f++) {
            double rem;
            if (slot[f] < 0) {
                T[f] = D[f] = NAN;
                C[f] = 1;
                rem = held(f) ? INFINITY : su[f];
                /* a held flow whose turn came: its release is an event */
                if (held(f) && endc >= he[f] && released_at(f) - t < dt) {
                    dt = released_at(f) - t;
                    first = -1;
                }
                /* set-ups ahead (co_evac_run's setup_closing): while fewer
                 * than e->setups_ahead are in their set-up or held, one
                 * whose transfer at its share is shorter than a set-up closes
                 * once it has been in its set-up that long (Tsu: that
                 * transfer, for the step below) */
                Tsu[f] = NAN;
                if (hold && may_close(f) && nsu < e->setups_ahead && nstarted < n) {
                    double Tf = co_evac_ahead_ms(e, idx[fl[f]], stay > 0 ? stay : 1);
                    if (Tf > 0 && Tf < setup) {
                        Tsu[f] = Tf;
                        double c = su[f] - (setup - Tf);
                        if (c <= CLOSE_EPS_MS) {
                            cl[f] = 1;
                            ncl++;
                            now_closing = 1;
                        } else if (c < dt) {
                            dt = c, first = -1;
                        }
                    }
                }
            } else {
                predict_one(e, &e->vms[idx[fl[f]]], sh.rate[slot[f]], &T[f], &D[f], &C[f]);
                rem = (1 - frac[f]) * T[f];
                /* judged, as co_evac_run's closing() does, at no more than
                 * its share beside the others that will still send (the
                 * set-ups among them will) */
                Teff[f] = T[f];
                if (early && !cl[f] && co_evac_share_bytes_per_s(e, stay) < sh.rate[slot[f]])
                    Teff[f] = co_evac_transfer_ms(e, idx[fl[f]], stay);
                /* a transfer no longer than the set-up closes as it starts
                 * (co_evac_run's closing() sees it at once): the next VM's
                 * set-up starts now */
                double c = closes_in(frac[f], T[f], Teff[f], setup);
                if (may_close(f) && c <= CLOSE_EPS_MS && nstarted < n) {
                    cl[f] = 1;
                    ncl++;
                    now_closing = 1;
                }
                /* the moment it starts closing is an event too */
                if (may_close(f) && c < dt && c > CLOSE_EPS_MS)
                    dt = c, first = -1;
            }
            if (rem < dt) {
                dt = rem;
                first = f;
            }
        }
        /* the probe's window closing is an event too */
        if (probe && ended == 0 && nf > 0 && slot[0] >= 0 && sent[0] < CO_EVAC_PROBE_MS &&
            CO_EVAC_PROBE_MS - sent[0] < dt)
            dt = CO_EVAC_PROBE_MS - sent[0], first = -1;
        if (now_closing)
            continue; /* start the next VMs before time moves */
        t += dt;
        for (int f = 0; f < nf; f++) {
            if (slot[f] < 0) {
                su[f] -= dt;
                if (may_close(f) && isfinite(Tsu[f]) && su[f] - (setup - Tsu[f]) <= CLOSE_EPS_MS) {
                    cl[f] = 1;
                    ncl++;
                }
            } else {
                sent[f] += dt;
                frac[f] += dt / T[f];
                if (may_close(f) && closes_in(frac[f], T[f], Teff[f], setup) <= CLOSE_EPS_MS) {
                    cl[f] = 1;
                    ncl++;
                }
            }
        }
        /* the first to end its transfer (and any ending with it) leaves; one
         * ending its set-up starts sending at the next step */
        for (int f = nf - 1; f >= 0; f--) {
            if (slot[f] < 0 || (f != first && frac[f] < 1 - 1e-9))
                continue;
            int pos = fl[f];
            const co_evac_vm *v = &e->vms[idx[pos]];
            if (time_ms)
                time_ms[pos] = t - st[f];
            if (down_ms)
                down_ms[pos] = D[f];
            /* a VM the model says converges alone (on what one stream
             * gets: the NIC, the source's rate with one in flight, a
             * stream's ceiling) must converge within the budget here too;
             * judged at the raw NIC, a VM whose source sends less alone
             * counted as pushed over by company where it ran alone (a
             * 300.4 ms switchover at k = 1: bench-evacuate's link) */
            double Ta, Da;
            int Ca;
            predict_one(e, v, co_evac_share_bytes_per_s(e, 1), &Ta, &Da, &Ca);
            if (Ca && !C[f])
                (*misses)++;
            own_in -= own[pos];
            ncl -= cl[f];
            ended++;
            endc++;
            cl[f] = cl[nf - 1];
            he[f] = he[nf - 1];
            tn[f] = tn[nf - 1];
            hd[f] = hd[nf - 1];
            fl[f] = fl[nf - 1];
            frac[f] = frac[nf - 1];
            st[f] = st[nf - 1];
            su[f] = su[nf - 1];
            sent[f] = sent[nf - 1];
            slot[f] = slot[nf - 1];
            nf--; /* the flow moved in from the end was visited already */
        }
        for (int f = 0; f < nf; f++)
            if (isnan(tn[f]) && endc >= he[f])
                tn[f] = t;
        if (probe && ended == 0 && nf > 0 && sent[0] >= CO_EVAC_PROBE_MS * (1 - 1e-9))
            ended = 1; /* the probe has its rate: the others may start */
        if (t > total)
            total = t;
    }
    co_share_free(&sh);
    return total;
}
#undef may_close
#undef held
#undef released_at

double co_evac_predict(const co_evac *e, const int *idx, int n, int k, double *start_ms,
                       double *time_ms, double *down_ms, int *ok)
{
    int misses;
    /* a fixed schedule: in the given order, without cutover's own rule */
    double tot = predict_sched(e, idx, n, k, start_ms, time_ms, down_ms, &misses, 0, NULL);
    *ok = misses == 0;
    return tot;
}

int co_evac_probes(const co_evac *e, int n)
{
    return e->concurrency <= 0 && e->k > 1 && n >= 3 && !(e->src_cap_by_n[1] > 0);
}

int co_evac_inflight_misses(const co_evac *e, const int *vms, int n)
{
    if (n <= 0)
        return 0;
    int misses;
    predict_sched(e, vms, n, n, NULL, NULL, NULL, &misses, 0, NULL);
    return misses;
}

void co_evac_hold(co_evac *e, const int *vms, int n, int c)
{
    co_evac_vm *v = &e->vms[vms[c]];
    v->nheld = 0;
    for (int i = 0; i < n && v->nheld < (int)(sizeof v->held_by / sizeof v->held_by[0]); i++)
        if (i != c)
            v->held_by[v->nheld++] = vms[i];
}

int co_evac_held(co_evac *e, int vm)
{
    co_evac_vm *v = &e->vms[vm];
    for (int i = 0; i < v->nheld; i++)
        if (!strcmp(e->vms[v->held_by[i]].status, "migrating"))
            return 1;
    v->nheld = 0;
    return 0;
}

int co_evac_retry_alone(co_evac *e, int vm, double senders, int shared_end)
{
    co_evac_vm *v = &e->vms[vm];
    if (e->concurrency > 0 || !(senders >= CO_EVAC_SHARED_SENDERS || shared_end) ||
        v->attempts >= 2 || strcmp(v->status, "aborted"))
        return 0;
    v->alone = 1;
    memcpy(v->history, v->reason, sizeof v->history);
    size_t l = strlen(v->reason);
    if (senders >= CO_EVAC_SHARED_SENDERS)
        snprintf(v->reason + l, sizeof v->reason - l, "%saborted while it shared the link (%.1f "
                 "migrations sending at once on average): goes again with the link to itself",
                 l ? "; " : "", senders);
    else
        snprintf(v->reason + l, sizeof v->reason - l, "%saborted with another migration sending "
                 "beside it in its last %.0f s: goes again with the link to itself",
                 l ? "; " : "", CO_EVAC_SHARED_END_MS / 1e3);
    snprintf(v->status, sizeof v->status, "planned");
    return 1;
}

int co_evac_backoff(const co_evac *e, const int *vms, int n)
{
    if (n < 2)
        return -1;
    int m0 = co_evac_inflight_misses(e, vms, n), best = -1, best_m = m0;
    if (m0 == 0)
        return -1;
    int rest[CO_EVAC_MAX_VMS];
    for (int c = n - 1; c >= 0; c--) { /* the latest started first: the least sent */
        for (int i = 0, j = 0; i < n; i++)
            if (i != c)
                rest[j++] = vms[i];
        int m = co_evac_inflight_misses(e, rest, n - 1);
        if (m < best_m) {
            best_m = m;
            best = c;
        }
    }
    return best;
}

/* The drains' time factor: each past drain of these VMs (e->drains, from
 * the calibration) has its schedule timed again by the model with what the
 * plan knows now (the calibration included), and its measured time is
 * divided by that; the median over them, held to [1/4, 4]. What the model
 * leaves out shows here and repeats from drain to drain on a host: on the
 * TCG lab the model's time of bench-evacuate's `link` drains was 1.2 - 1.7
 * times the measured, of `stream` 0.5 - 1.0 (the source's rate with one
 * in flight learnt low, set-ups that overlap more or less than planned,
 * docs/evacuate.md). Only drains all of whose VMs are here and placed
 * count; 0 when none does (*used = how many did). */
static int find_vm(const co_evac *e, const char *name, size_t len)
{
    for (int v = 0; v < e->nvms; v++)
        if (strlen(e->vms[v].name) == len && strncmp(e->vms[v].name, name, len) == 0)
            return v;
    return -1;
}

static double drains_factor(co_evac *e, int *used)
{
    double f[CO_EVAC_DRAINS_KEPT], fk[CO_EVAC_MAX_K + 1][CO_EVAC_DRAINS_KEPT];
    int nf = 0, nk[CO_EVAC_MAX_K + 1] = {0};
    for (int d = 0; d < e->ndrains && d < CO_EVAC_DRAINS_KEPT; d++) {
        const co_evac_drain *dr = &e->drains[d];
        int idx[CO_EVAC_MAX_VMS], n = 0;
        for (int i = 0; i < dr->nvms && n >= 0; i++) {
            int v = find_vm(e, dr->vms[i], strlen(dr->vms[i]));
            if (v < 0 || e->vms[v].dest < 0)
                n = -1;
            else
                idx[n++] = v;
        }
        if (n <= 0 || !(dr->total_ms > 0))
            continue;
        int misses;
        e->timing = 1; /* as the plan's own time: the VMs' last sending times count */
        double m = predict_sched(e, idx, n, dr->k, NULL, NULL, NULL, &misses, dr->auto_k, NULL);
        e->timing = 0;
        if (!(m > 0) || !isfinite(m))
            continue;
        if (d < CO_EVAC_DRAINS_FACTOR)
            f[nf++] = dr->total_ms / m;
        if (dr->auto_k && dr->k >= 1 && dr->k <= CO_EVAC_MAX_K)
            fk[dr->k][nk[dr->k]++] = dr->total_ms / m;
    }
    for (int k = 0; k <= CO_EVAC_MAX_K; k++) {
        e->k_time_factor[k] = nk[k] ? fmin(4, fmax(0.25, co_evac_common_factor(fk[k], nk[k])))
                                    : 0;
        e->k_time_factor_n[k] = nk[k];
    }
    *used = nf;
    if (!nf)
        return 0;
    return fmin(4, fmax(0.25, co_evac_common_factor(f, nf))); /* the median */
}

/* Each k's time as the drains at k really went: the model's time times
 * that k's own factor; a k with no drains of its own takes the factor of
 * the nearest k below that has some, else the overall one. In
 * bench-evacuate `stream` at low load the model gave 2.7 - 3.4 s at k 3 - 6
 * against 3.8 s at 1, and drains took 3.5 - 4.2 s at 3 - 6 against 3.0 -
 * 3.6 s at 1 (2026-12-05): one factor for all kept the model's order of
 * the k. The model's error grew with k there, so a k not yet run is
 * judged as the one below it ran (as the switchover tally borrows the rate
 * below), not by the newest drains at any k: with the overall factor 4 at
 * once was tried after drains at 3 that took no less than those at 1 (the
 * full run of 2026-12-05, 11:15). */
static int factor_k(const co_evac *e, int k)
{
    for (; k >= 1; k--)
        if (e->k_time_factor[k] > 0)
            return k;
    return 0;
}

static void weigh_by_k(const co_evac *e, double *tot, int klo, int khi)
{
    double all = e->time_factor_all > 0 ? e->time_factor_all : 1;
    for (int k = klo; k <= khi; k++) {
        int j = factor_k(e, k);
        if (isfinite(tot[k]))
            tot[k] *= j > 0 ? e->k_time_factor[j] : all;
    }
}

/* Is schedule (misses, tot) better than the best so far? Fewer VMs pushed
 * over the budget by sharing first (at 100 Mbit/s no schedule keeps every
 * VM in, and the fastest then aborted one that converges alone: make
 * bench-evacuate, docs/evacuate.md), then the least total; ties keep the
 * first order. */
static int sched_better(int misses, double tot, int best_misses, double best)
{
    if (best_misses < 0)
        return 1;
    if (misses != best_misses)
        return misses < best_misses;
    return tot < best * (1 - 1e-9);
}

/* More at once must be predicted this much sooner than fewer to be taken
 * (chosen). The sharing model counts each VM's passes at its share of the
 * link, but VMs sharing a link re-sent more than it predicts: bench-evacuate
 * `link`, two at once from a calibration made mostly alone, predicted 14.6 s
 * and took 29.5 s re-sending 1337 MB for 403 MB of RAM, where one at a time
 * took 14.8 s (docs/evacuate.md, "Fewer at once unless clearly sooner"). */
#define MORE_AT_ONCE_GAIN 0.1

/* Among the best schedule of each k (klo..khi; best_misses[k] < 0: none),
 * the smallest k that no larger k beats by fewer misses or, at as many, by
 * MORE_AT_ONCE_GAIN of its time. */
static int pick_k(const int *best_misses, const double *best_tot, int klo, int khi)
{
    int pick = -1;
    for (int k = klo; k <= khi; k++) {
        if (best_misses[k] < 0)
            continue;
        if (pick < 0 || best_misses[k] < best_misses[pick] ||
            (best_misses[k] == best_misses[pick] &&
             best_tot[k] < best_tot[pick] * (1 - MORE_AT_ONCE_GAIN)))
            pick = k;
    }
    return pick;
}

/* The most at once auto concurrency may plan for a drain of n_vms VMs by
 * what it learnt: the cap from a switchover over the budget
 * (co_evac_note_downtime) and the switchover tally (co_evac_tally_cap). */
static int learnt_cap(co_evac *e, int n_vms)
{
    int t = co_evac_tally_cap(e, n_vms);
    return e->k_cap > 0 && e->k_cap < t ? e->k_cap : t;
}

/* ------------------------------------------------------------ placement */

static int cmp_mem_desc(const void *a, const void *b, void *ctx)
{
    const co_evac *e = ctx;
    const co_evac_vm *x = &e->vms[*(const int *)a], *y = &e->vms[*(const int *)b];
    if (x->mem_bytes != y->mem_bytes)
        return x->mem_bytes > y->mem_bytes ? -1 : 1;
    return x->given_order - y->given_order;
}

/* Biggest first onto the destination with the most memory left (so the
 * load spreads and big VMs are not left without room). */
static void place_all(co_evac *e)
{
    int idx[CO_EVAC_MAX_VMS], n = 0;
    int vm_host[CO_EVAC_PLACE_SLOTS], vm_dest[CO_EVAC_PLACE_SLOTS];
    for (int v = 0; v < e->nvms; v++) {
        e->vms[v].dest = -1;
        if (e->vms[v].blocker[0] == '\0')
            idx[n++] = v;
    }
    co_evac_positions(e, -1, vm_host, vm_dest);
    qsort_r(idx, n, sizeof idx[0], cmp_mem_desc, e);
    for (int i = 0; i < n; i++) {
        co_evac_vm *v = &e->vms[idx[i]];
        const int *members = NULL;
        int nm = 0;
        if (v->group >= 0) {
            members = e->groups.vm + e->groups.start[v->group];
            nm = e->groups.start[v->group + 1] - e->groups.start[v->group];
        }
        int best = -1;
        double best_free = -INFINITY;
        for (int h = 0; h < e->ndests; h++) {
            co_place_host *ph = &e->dests[h].cap;
            if (e->dests[h].down)
                continue;
            if (!co_place_fits(ph, h, v->mem_bytes, v->vcpus, e->cpu_ratio, v->cpu_ok[h],
                               members, nm, idx[i], vm_host, vm_dest))
                continue;
            double left = ph->mem_bytes - ph->mem_used_bytes;
            if (left > best_free) {
                best_free = left;
                best = h;
            }
        }
        if (best < 0) {
            snprintf(v->status, sizeof v->status, "blocked");
            int any_cpu = 0;
            for (int h = 0; h < e->ndests; h++)
                any_cpu |= v->cpu_ok[h] && !e->dests[h].down && !e->dests[h].cap.closed;
            snprintf(v->blocker, sizeof v->blocker, "%s",
                     !any_cpu ? "no destination has a compatible CPU"
                     : nm ? "no destination has room (memory, vCPUs at the allocation ratio, "
                            "anti-affinity)"
                          : "no destination has room (memory, vCPUs at the allocation ratio)");
            continue;
        }
        v->dest = best;
        vm_dest[idx[i]] = best;
        co_place_reserve(&e->dests[best].cap, v->mem_bytes, v->vcpus, 1);
        memcpy(v->to, e->dests[best].uri, sizeof v->to);
    }
}

/* ------------------------------------------------------------- schedule */

struct sort_ctx {
    const co_evac *e;
    const double *key; /* descending */
};

static int cmp_key_desc(const void *a, const void *b, void *ctx)
{
    const struct sort_ctx *c = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    if (c->key[x] != c->key[y])
        return c->key[x] > c->key[y] ? -1 : 1;
    return c->e->vms[x].given_order - c->e->vms[y].given_order;
}

static int cmp_given(const void *a, const void *b, void *ctx)
{
    const co_evac *e = ctx;
    return e->vms[*(const int *)a].given_order - e->vms[*(const int *)b].given_order;
}

static int cmp_name(const void *a, const void *b, void *ctx)
{
    const co_evac *e = ctx;
    return strcmp(e->vms[*(const int *)a].name, e->vms[*(const int *)b].name);
}

co_evac_floor co_evac_floor_of(const co_evac *e, const int *idx, int n)
{
    co_evac_floor f;
    memset(&f, 0, sizeof f);
    co_mig_params p;
    co_mig_defaults(&p);
    p.link.line_rate_bytes_per_s = e->nic_bytes_per_s > 1e3 ? e->nic_bytes_per_s : 1e3;
    p.link.mtu = e->mtu;
    /* the NIC binds, not one migration thread: a floor over every schedule */
    if (p.link.channel_cap_bytes_per_s < 2 * p.link.line_rate_bytes_per_s)
        p.link.channel_cap_bytes_per_s = 2 * p.link.line_rate_bytes_per_s;
    co_link_eval le;
    if (co_link_evaluate(&p.link, &le) != CO_OK || !(le.payload_bytes_per_s > 0)) {
        f.time_ms = NAN;
        return f;
    }
    f.payload_bytes_per_s = le.payload_bytes_per_s;
    f.switchover_ms = p.switchover_cost_ms;
    p.zero_fraction = 0; /* as predict_one: every page counted as data */
    p.downtime_limit_ms = fmax(1, e->max_downtime_ms - p.switchover_cost_ms);
    p.deadline_ms = e->deadline_ms > 0 ? e->deadline_ms : p.deadline_ms;
    for (int i = 0; i < n; i++) {
        const co_evac_vm *v = &e->vms[idx[i]];
        if (!(v->mem_bytes > 0))
            continue;
        p.mem_bytes = v->mem_bytes;
        p.dirty = v->dirty;
        p.auto_converge = 0;
        co_mig_result r;
        int ok = co_mig_predict(&p, &r) == CO_OK && r.converged &&
                 r.downtime_ms <= e->max_downtime_ms;
        if (!ok) {
            p.auto_converge = 1;
            ok = co_mig_predict(&p, &r) == CO_OK && r.converged &&
                 r.downtime_ms <= e->max_downtime_ms;
            f.throttled += ok;
        }
        double b = ok ? r.transferred_bytes : v->mem_bytes;
        f.at_ram += !ok;
        f.bytes += b > 0 ? b : 0;
        f.ram_bytes += v->mem_bytes;
        f.vms++;
    }
    f.time_ms = f.vms ? f.bytes / f.payload_bytes_per_s * 1e3 + f.switchover_ms : 0;
    return f;
}

int co_evac_plan(co_evac *e, co_diag *d)
{
    place_all(e);
    e->setups_ahead = co_evac_setups_ahead(e);
    int idx[CO_EVAC_MAX_VMS], n = 0, movable = 0;
    for (int v = 0; v < e->nvms; v++) {
        e->vms[v].order = -1;
        e->vms[v].batch = -1;
        e->vms[v].pred_start_ms = e->vms[v].pred_time_ms = e->vms[v].pred_downtime_ms = NAN;
        if (e->vms[v].dest >= 0)
            idx[n++] = v;
        if (e->vms[v].blocker[0] == '\0' || strncmp(e->vms[v].blocker, "no destination", 14) == 0)
            movable++;
    }
    e->k = 0;
    e->pred_total_ms = 0;
    memset(&e->floor, 0, sizeof e->floor);
    e->pred_within_budget = 1;
    snprintf(e->order_name, sizeof e->order_name, "none");
    if (n == 0) {
        if (movable > 0)
            return co_diag_set(d, CO_EUNAVAIL, "no destination can take any of the %d movable "
                               "VM(s): no capacity anywhere (memory, vCPUs at allocation ratio "
                               "%g, CPU, anti-affinity)", movable, e->cpu_ratio);
        return CO_OK;
    }
    /* TCG guests: one stream is CPU-bound far below a NIC (see
     * CO_EVAC_TCG_STREAM_BYTES_PER_S); without it the plan runs them one at
     * a time and predicts a fraction of the real time */
    if (!(e->stream_cap_bytes_per_s > 0))
        for (int i = 0; i < n; i++)
            if (e->vms[idx[i]].tcg) {
                e->stream_cap_bytes_per_s = CO_EVAC_TCG_STREAM_BYTES_PER_S;
                snprintf(e->stream_cap_source, sizeof e->stream_cap_source,
                         "assumed for TCG guests");
                break;
            }
    /* the candidate orders */
    double dirty_key[CO_EVAC_MAX_VMS], time_key[CO_EVAC_MAX_VMS];
    for (int i = 0; i < n; i++) {
        int v = idx[i];
        double Ta, Da;
        int Ca;
        predict_one(e, &e->vms[v], e->nic_bytes_per_s, &Ta, &Da, &Ca);
        e->vms[v].pred_converges = Ca;
        dirty_key[v] = co_dirty_rate0(&e->vms[v].dirty) * 4096.0 / e->nic_bytes_per_s;
        time_key[v] = Ta;
    }
    struct {
        const char *name;
        int ord[CO_EVAC_MAX_VMS];
    } cand[3];
    int nc = 0;
    if (e->order_kind == CO_EVAC_ORDER_AUTO) {
        struct sort_ctx c1 = {e, dirty_key}, c2 = {e, time_key};
        cand[nc].name = "dirty-per-bandwidth";
        memcpy(cand[nc].ord, idx, n * sizeof idx[0]);
        qsort_r(cand[nc].ord, n, sizeof idx[0], cmp_key_desc, &c1);
        nc++;
        cand[nc].name = "longest-first";
        memcpy(cand[nc].ord, idx, n * sizeof idx[0]);
        qsort_r(cand[nc].ord, n, sizeof idx[0], cmp_key_desc, &c2);
        nc++;
    }
    cand[nc].name = e->order_kind == CO_EVAC_ORDER_NAME ? "name" : "given";
    memcpy(cand[nc].ord, idx, n * sizeof idx[0]);
    qsort_r(cand[nc].ord, n, sizeof idx[0],
            e->order_kind == CO_EVAC_ORDER_NAME ? cmp_name : cmp_given, e);
    nc++;
    /* In an order of cutover's own, a VM QEMU had to throttle in its last
     * drain goes last: nothing then starts beside its ramp, and if it is
     * aborted the others are already moved. Sent first, the hot guest of
     * bench-evacuate `hot` went in 1 of 4 drains and the drains took 16.6 -
     * 18.9 s; last, 15.2 - 17.5 s (2026-12-05). */
    if (e->order_kind == CO_EVAC_ORDER_AUTO)
        for (int c = 0; c < nc; c++) {
            int out[CO_EVAC_MAX_VMS], m = 0;
            for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < n; i++)
                    if (co_evac_throttled_last(&e->vms[cand[c].ord[i]]) == pass)
                        out[m++] = cand[c].ord[i];
            memcpy(cand[c].ord, out, n * sizeof out[0]);
        }
    int kmax = n < CO_EVAC_MAX_K ? n : CO_EVAC_MAX_K;
    int klo = 1, khi = kmax;
    if (e->concurrency > 0)
        klo = khi = e->concurrency < n ? e->concurrency : n;
    else {
        int cap = learnt_cap(e, n);
        if (khi > cap)
            khi = cap;
    }
    /* cutover's own schedule (auto concurrency) runs VMs that need a stream
     * of their own one at a time; a fixed --concurrency emulates another
     * system's and keeps its order */
    int solo = e->concurrency <= 0;
    for (int i = 0; i < n; i++)
        e->vms[idx[i]].solo = solo && needs_own_stream(e, &e->vms[idx[i]]);
    double kbest[CO_EVAC_MAX_K + 1];
    int kc[CO_EVAC_MAX_K + 1], kmisses[CO_EVAC_MAX_K + 1];
    for (int k = klo; k <= khi; k++) {
        kbest[k] = INFINITY;
        kc[k] = -1;
        kmisses[k] = -1;
        for (int c = 0; c < nc; c++) {
            int misses;
            double tot = predict_sched(e, cand[c].ord, n, k, NULL, NULL, NULL, &misses, solo,
                                       NULL);
            if (sched_better(misses, tot, kmisses[k], kbest[k])) {
                kbest[k] = tot;
                kc[k] = c;
                kmisses[k] = misses;
            }
        }
    }
    e->time_factor = e->time_factor_all = drains_factor(e, &e->time_factor_n);
    if (e->concurrency <= 0)
        weigh_by_k(e, kbest, klo, khi);
    int best_k = pick_k(kmisses, kbest, klo, khi);
    int best_c = kc[best_k];
    double st[CO_EVAC_MAX_VMS], tm[CO_EVAC_MAX_VMS], dn[CO_EVAC_MAX_VMS];
    int misses, eff[CO_EVAC_MAX_VMS];
    e->timing = 1;
    e->pred_total_ms = predict_sched(e, cand[best_c].ord, n, best_k, st, tm, dn, &misses, solo,
                                     eff);
    e->timing = 0;
    e->pred_model_ms = e->pred_total_ms;
    /* the drains that weighed the chosen k (weigh_by_k) time it */
    e->time_factor_k = 0;
    int fk = e->concurrency <= 0 ? factor_k(e, best_k) : 0;
    if (fk > 0) {
        e->time_factor = e->k_time_factor[fk];
        e->time_factor_n = e->k_time_factor_n[fk];
        e->time_factor_k = fk;
    }
    if (e->time_factor > 0) {
        e->pred_total_ms *= e->time_factor;
        for (int i = 0; i < n; i++) {
            st[i] *= e->time_factor;
            tm[i] *= e->time_factor;
        }
    }
    e->k = e->plan_k = best_k;
    e->floor = co_evac_floor_of(e, idx, n);
    e->pred_misses = misses;
    e->pred_within_budget = misses == 0;
    for (int i = 0; i < n; i++)
        if (!(dn[i] <= e->max_downtime_ms))
            e->pred_within_budget = 0; /* a VM that cannot make it even alone */
    snprintf(e->order_name, sizeof e->order_name, "%s", cand[best_c].name);
    for (int r = 0; r < n; r++) { /* r: the start rank */
        int i = eff[r];
        co_evac_vm *v = &e->vms[cand[best_c].ord[i]];
        v->order = r;
        v->batch = r < best_k ? 0 : r - best_k + 1;
        v->pred_start_ms = st[i];
        v->pred_time_ms = tm[i];
        v->pred_downtime_ms = dn[i];
        snprintf(v->status, sizeof v->status, "planned");
    }
    return CO_OK;
}

int co_evac_replan(co_evac *e, const int *idx, int n)
{
    if (n <= 0)
        return e->k;
    int klo = 1, khi = n < CO_EVAC_MAX_K ? n : CO_EVAC_MAX_K;
    if (e->concurrency > 0)
        return e->k;
    e->setups_ahead = co_evac_setups_ahead(e); /* the set-ups learnt so far */
    /* the misses a level expects count over the whole drain, not the VMs
     * left: else the last few would go at a level refused at the start */
    int movable = 0;
    for (int v = 0; v < e->nvms; v++)
        movable += !e->vms[v].blocker[0];
    int cap = learnt_cap(e, movable > n ? movable : n);
    if (khi > cap)
        khi = cap;
    /* No more at once while a VM that started needing a stream of its own
     * still migrates: in bench-evacuate `hot`, re-plans as the dirty rates
     * came in raised k beside the hot guest (1 -> 2, 2 -> 4, 4 - 17 s into
     * its 20 s) in 7 of 28 drains; 4 of those took 49 - 60 s (the hot guest
     * starved: aborted at its ramp's cap, or others pulled back) where 19
     * of the 21 others took 29 - 38 s (docs/evacuate.md). Fewer stays
     * allowed. */
    for (int v = 0; v < e->nvms; v++)
        if (!strcmp(e->vms[v].status, "migrating") && e->vms[v].started_solo && e->k >= 1 &&
            khi > e->k)
            khi = e->k;
    /* what e now knows (a learnt stream ceiling) may change who needs a
     * stream of its own */
    for (int i = 0; i < n; i++)
        e->vms[idx[i]].solo = needs_own_stream(e, &e->vms[idx[i]]);
    /* and what a VM in flight showed of itself (its own dirty windows) may
     * free the next one that needs a stream of its own to start beside it */
    for (int v = 0; v < e->nvms; v++)
        if (!strcmp(e->vms[v].status, "migrating") && e->vms[v].solo)
            e->vms[v].solo = needs_own_stream(e, &e->vms[v]);
    double kbest[CO_EVAC_MAX_K + 1];
    int kmisses[CO_EVAC_MAX_K + 1];
    for (int k = klo; k <= khi; k++)
        kbest[k] = predict_sched(e, idx, n, k, NULL, NULL, NULL, &kmisses[k], 1, NULL);
    weigh_by_k(e, kbest, klo, khi);
    int k = pick_k(kmisses, kbest, klo, khi);
    /* Fewer VMs left than k at once is no reason to run fewer at once: given
     * n VMs the model cannot pick more than n, and k also counts the ones in
     * flight. Lowered to the VMs left, k held each last VM back until every
     * migration in flight had ended: bench-evacuate `stream`, k 3 -> 2 -> 1
     * in every drain, the idle vm1 sent 0.9 s alone at the end of a 3.7 s
     * drain (docs/evacuate.md). A cap learnt meanwhile still holds; a VM
     * left that needs a stream of its own still waits for the others. */
    int solo_left = 0;
    for (int i = 0; i < n; i++)
        solo_left |= e->vms[idx[i]].solo;
    if (k == khi && khi == n && e->k > k && !solo_left) {
        k = e->k < cap ? e->k : cap;
    }
    e->k = k;
    return e->k;
}

/* --------------------------------------------------------------- groups */


/* One "NAME=vm,vm" item into the index. */
static int add_group(co_evac *e, const char *s, size_t len, co_diag *d)
{
    const char *eq = memchr(s, '=', len);
    if (!eq || eq == s)
        return co_diag_set(d, CO_EUSAGE, "--groups item '%.*s': expected NAME=vm,vm", (int)len,
                           s);
    co_evac_groups *g = &e->groups;
    int gi = g->ngroups;
    if (gi >= CO_EVAC_MAX_VMS)
        return co_diag_set(d, CO_EUSAGE, "--groups: more than %d groups", CO_EVAC_MAX_VMS);
    int at = g->start[gi];
    const char *p = eq + 1, *end = s + len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t l = (size_t)((c ? c : end) - p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\n' || p[l - 1] == '\r'))
            l--;
        while (l && *p == ' ')
            p++, l--;
        if (l) {
            int v = find_vm(e, p, l);
            if (v < 0) {
                for (int r = 0; r < e->nresidents && v < 0; r++)
                    if (strlen(e->residents[r].name) == l &&
                        !strncmp(e->residents[r].name, p, l))
                        v = CO_EVAC_MAX_VMS + r;
                for (int k = at - 1; v >= CO_EVAC_MAX_VMS && k >= 0; k--)
                    if (g->vm[k] == v)
                        return co_diag_set(d, CO_EUSAGE, "--groups: VM '%.*s' is in two "
                                           "groups", (int)l, p);
            }
            if (v < 0)
                return co_diag_set(d, CO_EUSAGE, "--groups '%.*s': no VM '%.*s' on the source "
                                   "or a destination", (int)(eq - s), s, (int)l, p);
            if (v < CO_EVAC_MAX_VMS && e->vms[v].group >= 0)
                return co_diag_set(d, CO_EUSAGE, "--groups: VM '%s' is in two groups",
                                   e->vms[v].name);
            if (at >= CO_EVAC_MAX_VMS)
                return co_diag_set(d, CO_EUSAGE, "--groups: too many members");
            if (v < CO_EVAC_MAX_VMS)
                e->vms[v].group = gi;
            g->vm[at++] = v;
        }
        p = c ? c + 1 : end;
    }
    g->ngroups++;
    g->start[g->ngroups] = at;
    return CO_OK;
}

int co_evac_parse_groups(co_evac *e, const char *text, co_diag *d)
{
    char *buf = NULL;
    FILE *f = strchr(text, '=') ? NULL : fopen(text, "r");
    if (!strchr(text, '=') && !f)
        return co_diag_set(d, CO_EUSAGE, "--groups '%s': neither NAME=vm,vm nor a readable file",
                           text);
    if (f) {
        size_t cap = 0;
        ssize_t got = getdelim(&buf, &cap, '\0', f);
        fclose(f);
        if (got < 0) {
            free(buf);
            return co_diag_set(d, CO_EUSAGE, "--groups '%s': cannot read", text);
        }
        for (char *q = buf; *q; q++)
            if (*q == '\n')
                *q = ';';
        text = buf;
    }
    int rc = CO_OK;
    const char *p = text;
    while (*p && rc == CO_OK) {
        const char *sc = strchr(p, ';');
        size_t l = sc ? (size_t)(sc - p) : strlen(p);
        while (l && *p == ' ')
            p++, l--;
        if (l && *p != '#')
            rc = add_group(e, p, l, d);
        p = sc ? sc + 1 : p + l;
    }
    free(buf);
    return rc;
}

void co_evac_positions(const co_evac *e, int moving, int *vm_host, int *vm_dest)
{
    for (int i = 0; i < CO_EVAC_PLACE_SLOTS; i++)
        vm_host[i] = vm_dest[i] = -1; /* -1 as host: the source, not a destination */
    for (int v = 0; v < e->nvms; v++)
        vm_dest[v] = v == moving ? -1 : e->vms[v].dest;
    for (int r = 0; r < e->nresidents && r < CO_EVAC_MAX_VMS; r++)
        vm_host[CO_EVAC_MAX_VMS + r] = e->residents[r].dest;
}

int co_evac_load_curves(co_evac *e, const char *dir, co_diag *d)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return co_diag_set(d, CO_ENOINPUT, "--dirty-curves %s: not a readable directory", dir);
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        if (v->blocker[0])
            continue;
        /* a libvirt name may hold '/': never a path of ours beyond DIR */
        if (strchr(v->name, '/') || v->name[0] == '.') {
            snprintf(v->reason, sizeof v->reason, "no dirty trace: its name cannot be a file "
                     "name in --dirty-curves");
            continue;
        }
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s.json", dir, v->name) >= (int)sizeof path)
            continue;
        co_dirty_trace *t = malloc(sizeof *t);
        if (!t)
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        int rc = co_dirty_trace_load(path, t, d);
        if (rc == CO_ENOINPUT) {
            char name[sizeof v->name];
            memcpy(name, v->name, sizeof name);
            snprintf(v->reason, sizeof v->reason, "no dirty trace %s.json in --dirty-curves; "
                     "%.1f MiB/s %s", name, v->dirty_mib_per_s,
                     v->dirty_measured ? "measured" : "assumed");
            free(t);
            continue;
        }
        if (rc == CO_OK && co_dirty_trace_curve(t, &v->dirty) != CO_OK)
            rc = co_diag_set(d, CO_EDATA, "--dirty-curves %s: no usable curve", path);
        free(t);
        if (rc != CO_OK)
            return rc == CO_ENOMEM ? rc : CO_EDATA;
        v->dirty_traced = 1;
        v->dirty_measured = 0;
        v->dirty_mib_per_s = co_dirty_pages(&v->dirty, 1.0) / 256.0;
        v->reason[0] = '\0';
    }
    return CO_OK;
}
