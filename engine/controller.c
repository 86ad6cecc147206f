/* engine/controller.c: the migration loop, its faults and its result. */
#include "engine/controller.h"
#include "util/clock.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers/drv_qmp.h"
#include "engine/estimate.h"
#include "util/error.h"
#include "util/units.h"

#define MAX_EVENTS 32
/* after migrate_cancel, how long to wait for QEMU to settle */
#define CANCEL_WAIT_MS 10000.0
/* heartbeats resume on the destination within this after completion */
#define HB_SETTLE_MS 400.0

typedef struct run {
    co_drv *src;
    const co_ctl_config *cfg;
    co_ctl_result *res;
    co_drv_tunables orig, want;
    int changed;          /* we applied want on the source */
    int dst_changed;
    co_drv_tunables dst_orig;
    int was_running;      /* guest ran on the source before we started */
    int we_paused;
    int dirty_limited;    /* we set a per-vCPU dirty limit on the source */
    double t0;            /* CLOCK_MONOTONIC at migrate */
    co_drv_stats last;
    int have_last;
    co_drv_stats last_ram; /* the last sample with ram stats (failed ones have none) */
    int have_ram;
    int tty_line;         /* progress line shown */
    int poll_ms;          /* statistics period, 50..100 */
    co_pol_config pc;     /* the policy's config, completed from what the VM says */
    co_pol_state ps;
    co_est est;
    int probe;            /* --dirty-rate-probe: 0 none, 1 measuring, 2 done */
    double probe_t0;
    char dl_note[200];    /* what the dirty-limit check found, for the start action */
    int cancel_reason;    /* 1 signal, 2 policy abort */
    char abort_why[256];
    char dest_note[200];  /* what the destination check found, for the start action */
    int postcopy_signal_noted; /* the stop level already noted as ignored in post-copy */
    char cut_short[200];  /* what a second signal left undone ("" if nothing) */
} run;

/* The operator's stop (cfg->stop_flag): 0 none, 1 stop (cancel, put back
 * what we changed), 2 asked again (escalate: no more waiting, only what
 * keeps the guest whole). */
static int stop_level(const run *R)
{
    return R->cfg->stop_flag ? (int)*R->cfg->stop_flag : 0;
}

/* "SIGHUP" etc. for the messages; "signal" when the number is unknown. */
static const char *stop_name(const run *R)
{
    int sig = R->cfg->stop_signo ? (int)*R->cfg->stop_signo : 0;
    return sig == SIGHUP ? "SIGHUP" : sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM"
                                                                                : "signal";
}

static void add_action(co_ctl_result *r, double at, const char *what, double value,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_action(co_ctl_result *r, double at, const char *what, double value,
                       const char *fmt, ...)
{
    if (r->n_actions >= CO_CTL_MAX_ACTIONS) {
        /* keep the last slot for the newest: the end matters most */
        r->n_actions = CO_CTL_MAX_ACTIONS - 1;
    }
    co_ctl_action *a = &r->actions[r->n_actions++];
    a->at_ms = at;
    snprintf(a->what, sizeof a->what, "%s", what);
    a->value = value;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->reason, sizeof a->reason, fmt, ap);
    va_end(ap);
}

static double since_start(const run *R)
{
    return R->t0 > 0 ? co_clock_ms() - R->t0 : 0;
}

static void log_line(const run *R, json_t *j)
{
    if (!R->cfg->log || !j) {
        json_decref(j);
        return;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (s) {
        fputs(s, R->cfg->log);
        fputc('\n', R->cfg->log);
        fflush(R->cfg->log);
        free(s);
    }
    json_decref(j);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void log_sample(const run *R, const co_drv_stats *st, const co_pol_obs *o,
                       const co_pol_state *ps, double sync_ev)
{
    if (!R->cfg->log)
        return;
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("sample"));
    json_object_set_new(j, "t_ms", json_real(o->t_ms));
    json_object_set_new(j, "sampled_at_ms", num_or_null(st->sampled_at_ms));
    json_object_set_new(j, "status", json_string(co_drv_status_name(st->status)));
    json_object_set_new(j, "total_time_ms", num_or_null(st->total_time_ms));
    json_object_set_new(j, "ram_transferred_bytes", num_or_null(st->ram_transferred_bytes));
    json_object_set_new(j, "ram_remaining_bytes", num_or_null(st->ram_remaining_bytes));
    json_object_set_new(j, "ram_total_bytes", num_or_null(st->ram_total_bytes));
    json_object_set_new(j, "ram_dirty_pages_rate", num_or_null(st->ram_dirty_pages_rate));
    json_object_set_new(j, "ram_mbps", num_or_null(st->ram_mbps));
    json_object_set_new(j, "ram_page_size_bytes", num_or_null(st->ram_page_size_bytes));
    json_object_set_new(j, "dirty_sync_count", json_integer(st->ram_dirty_sync_count));
    json_object_set_new(j, "cpu_throttle_pct", num_or_null(st->cpu_throttle_pct));
    json_object_set_new(j, "expected_downtime_ms", num_or_null(st->expected_downtime_ms));
    json_object_set_new(j, "sync_event_ms", num_or_null(sync_ev));
    json_object_set_new(j, "bandwidth_bytes_per_s", json_real(o->bandwidth_bytes_per_s));
    json_object_set_new(j, "pending_at_sync_bytes", json_real(o->pending_at_sync_bytes));
    json_object_set_new(j, "downtime_limit_ms", num_or_null(ps->limit_ms));
    json_object_set_new(j, "predicted_downtime_ms", num_or_null(ps->pred_downtime_ms));
    json_object_set_new(j, "floor_ms", num_or_null(ps->pred_floor_ms));
    json_object_set_new(j, "curve", json_string(o->have_curve ? co_dirty_kind_name(o->curve.kind)
                                                              : "none"));
    log_line(R, j);
}

static void log_action(const run *R, const co_ctl_action *a)
{
    if (!R->cfg->log)
        return;
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("action"));
    json_object_set_new(j, "t_ms", json_real(a->at_ms));
    json_object_set_new(j, "what", json_string(a->what));
    json_object_set_new(j, "value", num_or_null(a->value));
    json_object_set_new(j, "reason", json_string(a->reason));
    log_line(R, j);
}

static void note(run *R, double at, const char *what, double value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void note(run *R, double at, const char *what, double value, const char *fmt, ...)
{
    char buf[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    add_action(R->res, at, what, value, "%s", buf);
    log_action(R, &R->res->actions[R->res->n_actions - 1]);
}

static void progress(run *R, const co_pol_obs *o, const co_pol_state *ps)
{
    if (!R->cfg->progress)
        return;
    char rem[32], bw[32];
    double total = o->mem_bytes > 0 ? o->mem_bytes : 1;
    double pct = 100.0 * (1.0 - o->remaining_bytes / total);
    fprintf(stderr,
            "\r%6.1f s  %-15s pass %-3lld  %5.1f%%  remaining %-10s  %-12s  dirty %.0f p/s  "
            "throttle %.0f%%  limit %.0f ms  pred %.0f ms   ",
            o->t_ms / 1000, co_drv_status_name(o->status), (long long)(o->sync_count > 0 ? o->sync_count - 1 : 0),
            pct < 0 ? 0 : pct, co_fmt_size(o->remaining_bytes, rem, sizeof rem),
            co_fmt_rate(o->bandwidth_bytes_per_s, bw, sizeof bw),
            isfinite(o->dirty_rate_pages_per_s) ? o->dirty_rate_pages_per_s : 0, o->throttle_pct,
            ps->limit_ms, isfinite(ps->pred_downtime_ms) ? ps->pred_downtime_ms : 0.0);
    R->tty_line = 1;
}

static void end_progress(run *R)
{
    if (R->tty_line)
        fputc('\n', stderr);
    R->tty_line = 0;
}

/* Put the source back the way we found it: guest running, tunables as they
 * were. Best effort: each step is tried even if an earlier one failed. */
static void restore_source(run *R, co_diag *d)
{
    co_diag tmp;
    int running = -1;
    co_diag_init(&tmp);
    if (R->src->ops->guest_running(R->src, &running, &tmp) == CO_OK && !running &&
        (R->was_running || R->we_paused)) {
        co_diag_init(&tmp);
        int rc = R->src->ops->resume_guest(R->src, &tmp);
        note(R, since_start(R), "resume", NAN, "guest was stopped on the source: cont%s%s",
             rc == CO_OK ? "" : " failed: ", rc == CO_OK ? "" : tmp.msg);
        co_diag_init(&tmp);
        if (R->src->ops->guest_running(R->src, &running, &tmp) != CO_OK)
            running = -1;
    }
    snprintf(R->res->guest_on, sizeof R->res->guest_on, "%s",
             running == 1 ? "source" : "unknown");
    if (running == 0 && R->was_running)
        co_diag_set(d, CO_EFAILED, "the guest is NOT running on the source after the migration "
                                   "ended; run `cont` on its QMP socket");
    if (R->dirty_limited) {
        /* lifted even after a second signal: a dirty limit outlives the
         * migration and would keep slowing the guest */
        co_diag_init(&tmp);
        int rc = R->src->ops->set_dirty_limit(R->src, 0, NULL, &tmp);
        note(R, since_start(R), "restore", NAN, "cancel the dirty limit%s%s",
             rc == CO_OK ? "" : ": failed: ", rc == CO_OK ? "" : tmp.msg);
        if (rc == CO_OK)
            R->dirty_limited = 0;
    }
    if (R->changed && stop_level(R) >= 2) {
        /* asked twice: the downtime-limit and bandwidth only matter to a
         * migration, and none runs now; the operator wants out */
        snprintf(R->cut_short, sizeof R->cut_short,
                 "second signal: tunables not put back (downtime-limit %.0f ms, was %.0f ms)",
                 R->want.downtime_limit_ms, R->orig.downtime_limit_ms);
        note(R, since_start(R), "restore", NAN, "%s", R->cut_short);
    } else if (R->changed) {
        co_diag_init(&tmp);
        int rc = R->src->ops->set_tunables(R->src, &R->orig, &tmp);
        note(R, since_start(R), "restore", NAN, "put back the tunables cutover changed%s%s",
             rc == CO_OK ? "" : ": failed: ", rc == CO_OK ? "" : tmp.msg);
        if (rc == CO_OK)
            R->changed = 0;
    }
}

/* Cancel and wait until QEMU says it stopped migrating. Returns the final
 * status seen. */
static int cancel_and_wait(run *R, co_diag *d)
{
    co_diag tmp;
    co_diag_init(&tmp);
    int rc = R->src->ops->cancel(R->src, &tmp);
    if (rc != CO_OK && rc != CO_EFAILED)
        co_diag_set(d, rc, "migrate_cancel: %s", tmp.msg);
    double until = co_clock_ms() + CANCEL_WAIT_MS;
    int status = R->have_last ? R->last.status : CO_DRV_MIG_NONE;
    while (co_clock_ms() < until && stop_level(R) < 2) {
        co_drv_event ev[MAX_EVENTS];
        int nev = 0;
        co_drv_stats st;
        co_diag_init(&tmp);
        if (R->src->ops->poll(R->src, 50, ev, MAX_EVENTS, &nev, &st, &tmp) != CO_OK)
            break;
        status = st.status;
        R->last = st;
        R->have_last = 1;
        if (status == CO_DRV_MIG_CANCELLED || status == CO_DRV_MIG_FAILED ||
            status == CO_DRV_MIG_COMPLETED || status == CO_DRV_MIG_NONE)
            break;
    }
    return status;
}

static void fill_final(run *R, const co_drv_stats *st)
{
    co_ctl_result *r = R->res;
    r->total_time_ms = isfinite(st->total_time_ms) ? st->total_time_ms : since_start(R);
    if (isfinite(st->ram_transferred_bytes))
        r->transferred_bytes = st->ram_transferred_bytes;
    else if (R->have_ram)
        r->transferred_bytes = R->last_ram.ram_transferred_bytes;
    int64_t c = st->ram_dirty_sync_count >= 0 ? st->ram_dirty_sync_count
                : R->have_ram ? R->last_ram.ram_dirty_sync_count : -1;
    if (c >= 0) {
        r->passes = (int)(st->status == CO_DRV_MIG_COMPLETED ? (c >= 3 ? c - 2 : 1) : (c >= 2 ? c - 1 : c > 0));
    }
    if (isfinite(st->cpu_throttle_pct))
        r->final_throttle_pct = st->cpu_throttle_pct;
}

static void result_init(co_ctl_result *r, const co_ctl_config *cfg)
{
    memset(r, 0, sizeof *r);
    snprintf(r->status, sizeof r->status, "error");
    snprintf(r->policy, sizeof r->policy, "%s", co_pol_name(cfg->pol.kind));
    snprintf(r->guest_on, sizeof r->guest_on, "source");
    r->code = CO_ESOFTWARE;
    r->downtime_ms = NAN;
    r->heartbeat_downtime_ms = NAN;
    r->heartbeat_ignored = -1;
    r->measure.longest_outage_ms = NAN;
    r->predicted_downtime_ms = NAN;
    r->floor_ms = NAN;
    r->stop_copy_bytes = r->stop_copy_rate_bytes_per_s = NAN;
    r->total_time_ms = 0;
}

/* The outcome when QEMU's status is terminal but not completed, or we
 * cancelled. */
static int finish_unsuccessful(run *R, const char *status, int code, co_diag *d, const char *fmt,
                               ...) __attribute__((format(printf, 5, 6)));
static int finish_unsuccessful(run *R, const char *status, int code, co_diag *d, const char *fmt,
                               ...)
{
    co_ctl_result *r = R->res;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    snprintf(r->status, sizeof r->status, "%s", status);
    r->code = code;
    end_progress(R);
    co_diag rd;
    co_diag_init(&rd);
    restore_source(R, &rd);
    if (R->dst_changed && R->cfg->dst) {
        /* best effort: a destination whose incoming failed has exited */
        co_diag tmp;
        co_diag_init(&tmp);
        R->cfg->dst->ops->set_tunables(R->cfg->dst, &R->dst_orig, &tmp);
    }
    if (R->have_last)
        fill_final(R, &R->last);
    if (R->cut_short[0]) {
        size_t len = strlen(r->message);
        snprintf(r->message + len, sizeof r->message - len, "; %s", R->cut_short);
    }
    if (rd.code != CO_OK) {
        /* a guest not running on the source outranks everything */
        size_t len = strlen(r->message);
        snprintf(r->message + len, sizeof r->message - len, "; %s", rd.msg);
    }
    co_diag_set(d, code, "%s", r->message);
    return code;
}

/* A destination on this host: the stop-and-copy is bound by the migration
 * threads, not by a wire (policy.h, link_loopback). */
static int ctl_uri_is_loopback(const char *uri)
{
    char host[256];
    int port;
    co_diag quiet;
    co_diag_init(&quiet);
    if (co_ctl_parse_uri(uri, host, sizeof host, &port, &quiet) != CO_OK)
        return 0;
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

/* Start adaptive's dirty-rate probe: page sampling (the mode that runs
 * beside a migration) at QEMU's maximum density, but no more than 65536
 * pages hashed. Returns 1 when measuring (t0 set), else 2 (noted why). */
static int probe_start(run *R, co_drv *src, double mem_bytes, double *t0)
{
    const co_drv_ops *ops = src->ops;
    if (!ops->dirty_rate_start || !ops->dirty_rate_read) {
        note(R, since_start(R), "dirty-rate", NAN,
             "no dirty-rate measurement over %s (libvirt 9.0 runs it as a job that an "
             "outgoing migration blocks)", ops->name);
        return 2;
    }
    double gib = mem_bytes > 0 ? mem_bytes / 1073741824.0 : 1;
    int spg = gib * 4096 <= 65536 ? 4096 : (int)(65536 / gib);
    co_diag tmp;
    co_diag_init(&tmp);
    if (ops->dirty_rate_start(src, 1, spg, &tmp) != CO_OK) {
        note(R, since_start(R), "dirty-rate", NAN,
             "no dirty-rate measurement (%.150s): the curve waits for two passes", tmp.msg);
        return 2;
    }
    *t0 = co_clock_ms();
    return 1;
}

/* The probe's result, once its window is over: a point for the estimator
 * (the window scaled by the throttle the estimator holds, dirty limit
 * included). Returns 1 while still measuring, else 2 (noted what came). */
static int probe_read(run *R, co_drv *src, co_est *est, double t0)
{
    int measured = 0;
    double mib = NAN;
    co_diag tmp;
    co_diag_init(&tmp);
    if (src->ops->dirty_rate_read(src, &measured, &mib, &tmp) != CO_OK) {
        note(R, since_start(R), "dirty-rate", NAN, "dirty-rate measurement lost: %.150s", tmp.msg);
        return 2;
    }
    if (!measured) {
        if (co_clock_ms() - t0 <= 6000)
            return 1;
        note(R, since_start(R), "dirty-rate", NAN,
             "no dirty-rate result 6 s after a 1 s window: going on without it");
        return 2;
    }
    if (mib < 4) {
        /* QEMU reports whole MiB/s, rounded down: too coarse here */
        note(R, since_start(R), "dirty-rate", mib,
             "QEMU's page sampling over 1 s: under 4 MiB/s, too coarse for its whole MiB/s "
             "steps; not used");
        return 2;
    }
    /* the middle of the whole MiB/s step QEMU rounded down to */
    double pages = (mib + 0.5) * 1048576.0 / est->page_size_bytes;
    co_est_add_window(est, 1.0 - est->throttle_pct / 100.0, pages);
    note(R, since_start(R), "dirty-rate", mib,
         "QEMU's page sampling over 1 s: %.0f pages dirtied (a point of the dirty curve)", pages);
    return 2;
}

/* ---- the steps of one migration ------------------------------------------ */

/* How the sampling loop ended when it did not finish the run itself. */
enum loop_end { LOOP_COMPLETED, LOOP_CANCELLED, LOOP_ABORTED };

/* Preflight: read what the VM runs with now, whether it runs, and that no
 * migration is under way, so we can put it back and never fight another
 * driver. Changes nothing. CO_OK or the error (res->code set). */
static int read_source(run *R, co_drv_stats *st0, co_diag *d)
{
    co_drv *src = R->src;
    const co_drv_ops *ops = src->ops;
    int rc;
    if ((rc = ops->get_tunables(src, &R->orig, d)) != CO_OK)
        return R->res->code = rc;
    int running = 0;
    if ((rc = ops->guest_running(src, &running, d)) != CO_OK)
        return R->res->code = rc;
    R->was_running = running;
    co_drv_event ev[MAX_EVENTS];
    int nev = 0;
    if ((rc = ops->poll(src, 0, ev, MAX_EVENTS, &nev, st0, d)) != CO_OK)
        return R->res->code = rc;
    if (st0->status == CO_DRV_MIG_ACTIVE || st0->status == CO_DRV_MIG_SETUP ||
        st0->status == CO_DRV_MIG_POSTCOPY_ACTIVE || st0->status == CO_DRV_MIG_CANCELLING ||
        st0->status == CO_DRV_MIG_PRE_SWITCHOVER || st0->status == CO_DRV_MIG_DEVICE) {
        co_diag_set(d, CO_EBUSY, "a migration is already %s on this VM (started by someone else)",
                    co_drv_status_name(st0->status));
        return R->res->code = CO_EBUSY;
    }
    return CO_OK;
}

/* Preflight: is the destination waiting for us? Only the destination's own
 * QMP can say: a resolver or /proc/net/tcp here sees this host's network
 * namespace, not the destination's. Without it we say so in the start
 * action rather than guess. Changes nothing. */
static int check_destination(run *R, co_diag *d)
{
    const co_ctl_config *cfg = R->cfg;
    if (cfg->dst == NULL || co_drv_qmp_conn(cfg->dst) == NULL) {
        /* libvirt's own prepare step checks its destination */
        if (strcmp(R->src->ops->name, "qmp") == 0)
            snprintf(R->dest_note, sizeof R->dest_note,
                     ", destination not checked (no --dest-qmp)");
        return CO_OK;
    }
    co_drv_qmp_incoming in;
    int rc = co_drv_qmp_incoming_state(cfg->dst, &in, d);
    if (rc != CO_OK) {
        co_diag_prefix(d, "destination (--dest-qmp)");
        return R->res->code = rc;
    }
    if (strcmp(in.status, "inmigrate") != 0) {
        co_diag_set(d, CO_EUNAVAIL,
                    "destination QEMU (--dest-qmp) is '%s', not waiting for a migration "
                    "('inmigrate'): start it with -incoming",
                    in.status);
        return R->res->code = CO_EUNAVAIL;
    }
    if (in.n_listen == 0) {
        co_diag_set(d, CO_EUNAVAIL,
                    "destination QEMU (--dest-qmp) waits for a migration but listens nowhere "
                    "(-incoming defer without migrate-incoming?)");
        return R->res->code = CO_EUNAVAIL;
    }
    char host[256];
    int port = 0;
    co_diag quiet;
    co_diag_init(&quiet);
    if (cfg->uri == NULL ||
        co_ctl_parse_uri(cfg->uri, host, sizeof host, &port, &quiet) != CO_OK) {
        snprintf(R->dest_note, sizeof R->dest_note,
                 ", destination inmigrate (its address not compared: URI not tcp:)");
        return CO_OK;
    }
    /* the port only: the host the source dials may be a name, a NAT or a
     * wildcard the destination listens on */
    for (int i = 0; i < in.n_listen; i++)
        if (strcmp(in.listen[i].type, "inet") == 0 && in.listen[i].port == port) {
            snprintf(R->dest_note, sizeof R->dest_note,
                     ", destination inmigrate and listening on %.100s:%d (--dest-qmp)",
                     in.listen[i].host, in.listen[i].port);
            return CO_OK;
        }
    co_diag_set(d, CO_EUNAVAIL,
                "destination QEMU (--dest-qmp) listens on %s %.100s%s%.0d, not on port %d of "
                "--uri %.200s",
                in.listen[0].type, in.listen[0].host, in.listen[0].port ? ":" : "",
                in.listen[0].port, port, cfg->uri);
    return R->res->code = CO_EUNAVAIL;
}

/* Preflight: a signal before `migrate` stops here, with what we changed put
 * back, so nothing starts that nobody watches. Returns 1 when it stopped. */
static int stopped_before_start(run *R, co_diag *d)
{
    if (stop_level(R) == 0)
        return 0;
    co_diag tmp;
    if (R->changed) {
        co_diag_init(&tmp);
        R->src->ops->set_tunables(R->src, &R->orig, &tmp);
        R->changed = 0;
    }
    if (R->dst_changed && R->cfg->dst) {
        co_diag_init(&tmp);
        R->cfg->dst->ops->set_tunables(R->cfg->dst, &R->dst_orig, &tmp);
        R->dst_changed = 0;
    }
    co_ctl_result *res = R->res;
    snprintf(res->status, sizeof res->status, "cancelled");
    snprintf(res->guest_on, sizeof res->guest_on, "source");
    snprintf(res->message, sizeof res->message,
             "stopped by %s before the migration started; the VM is as it was", stop_name(R));
    res->code = CO_ECANCELED;
    co_diag_set(d, CO_ECANCELED, "%s", res->message);
    return 1;
}

/* Preflight: the policy's tunables on both ends, because capabilities can
 * only change before the start. A failure leaves the source as it was. */
static int apply_tunables(run *R, const co_drv_stats *st0, co_diag *d)
{
    const co_ctl_config *cfg = R->cfg;
    co_drv *src = R->src;
    co_pol_config *pc = &R->pc;
    int rc;
    *pc = cfg->pol;
    if (!(pc->mem_bytes > 0) && isfinite(st0->ram_total_bytes))
        pc->mem_bytes = st0->ram_total_bytes;
    if (pc->channels <= 0 && cfg->channels > 0)
        pc->channels = cfg->channels;
    if (!pc->link_known && cfg->uri && ctl_uri_is_loopback(cfg->uri))
        pc->link_known = pc->link_loopback = 1;
    /* libvirt 9.0 fixes the throttle ramp at the start (drivers/drv_virt.c);
     * evacuate's and the cycle's worker drivers say so through the name they
     * are given: their ops name is the inner driver's */
    if (!strcmp(src->ops->name, "libvirt"))
        pc->throttle_fixed = 1;
    co_pol_prestart(pc, &R->orig, &R->want);
    if (cfg->bandwidth_bytes_per_s > 0)
        R->want.max_bandwidth_bytes_per_s = cfg->bandwidth_bytes_per_s;
    if (cfg->channels > 0)
        R->want.multifd_channels = cfg->channels;
    if (cfg->dst && (R->want.postcopy_ram || R->want.multifd_channels > 1)) {
        /* postcopy-ram and multifd must be on at both ends */
        if ((rc = cfg->dst->ops->get_tunables(cfg->dst, &R->dst_orig, d)) != CO_OK) {
            co_diag_prefix(d, "destination");
            return R->res->code = rc;
        }
        co_drv_tunables dw = R->dst_orig;
        dw.postcopy_ram = R->want.postcopy_ram;
        /* postcopy-preempt must be on at both ends or at neither: where
         * the destination's QEMU lacks it, it stays off at the source */
        if (R->dst_orig.postcopy_preempt < 0 && R->want.postcopy_preempt > 0)
            R->want.postcopy_preempt = 0;
        else if (R->dst_orig.postcopy_preempt >= 0 && R->want.postcopy_preempt >= 0)
            dw.postcopy_preempt = R->want.postcopy_preempt;
        dw.multifd_channels = R->want.multifd_channels;
        if ((rc = cfg->dst->ops->set_tunables(cfg->dst, &dw, d)) != CO_OK) {
            co_diag_prefix(d, "destination");
            return R->res->code = rc;
        }
        R->dst_changed = 1;
    }
    rc = src->ops->set_tunables(src, &R->want, d);
    if (rc == CO_EUSAGE && R->want.max_cpu_throttle_pct != R->orig.max_cpu_throttle_pct) {
        /* libvirt 9.0 cannot set max-cpu-throttle (drv_virt refuses it):
         * keep QEMU's; the adaptive policy never asks for more than its
         * own cap anyway (throttle_cap_pct), so the cap is only a guard */
        co_diag_init(d);
        R->want.max_cpu_throttle_pct = R->orig.max_cpu_throttle_pct;
        rc = src->ops->set_tunables(src, &R->want, d);
    }
    if (rc != CO_OK) {
        co_diag tmp;
        co_diag_init(&tmp);
        src->ops->set_tunables(src, &R->orig, &tmp); /* a partial apply: undo it */
        return R->res->code = rc;
    }
    R->changed = 1;
    return CO_OK;
}

/* Preflight: per-vCPU dirty limits need KVM's dirty ring; find out now (a
 * limit no guest reaches, then cancelled) rather than when the guest needs
 * it. Fills R->dl_note for the start action. */
static void check_dirty_limit(run *R)
{
    co_drv *src = R->src;
    const co_drv_ops *ops = src->ops;
    co_pol_config *pc = &R->pc;
    if (!(pc->allow & CO_ALLOW_DIRTYLIMIT))
        return;
    co_diag tmp;
    co_diag_init(&tmp);
    int vcpus = 0;
    if (ops->set_dirty_limit == NULL) {
        snprintf(R->dl_note, sizeof R->dl_note,
                 ", dirty-limit unavailable (the %s driver has none)", ops->name);
    } else if (ops->set_dirty_limit(src, 1e6, &vcpus, &tmp) == CO_OK) {
        co_diag_init(&tmp);
        ops->set_dirty_limit(src, 0, NULL, &tmp);
        pc->dirty_limit_ready = 1;
        pc->vcpus = vcpus > 0 ? vcpus : 1;
        snprintf(R->dl_note, sizeof R->dl_note, ", dirty-limit ready on %d vCPU(s)", pc->vcpus);
    } else {
        snprintf(R->dl_note, sizeof R->dl_note, ", dirty-limit unavailable (%.150s)", tmp.msg);
    }
}

/* What adaptive assumes of the stop-and-copy rate (policy.h), said in the
 * start action so a report shows what the plans rested on. */
static void describe_link(run *R, char *buf, size_t len)
{
    const co_pol_config *pc = &R->pc;
    buf[0] = '\0';
    if (pc->kind != CO_POL_ADAPTIVE)
        return;
    if (!pc->link_known)
        snprintf(buf, len, ", link unknown (give --link)");
    else if (pc->link_loopback)
        snprintf(buf, len, ", link loopback");
    else
        snprintf(buf, len, ", link %.3g Gbit/s", pc->link_rate_bytes_per_s * 8 / 1e9);
}

/* Migrations sharing the link (cfg->link_flows): the stop-and-copy gets
 * what the others leave of it (cfg->link_avail_bytes_per_s: on a fast NIC
 * whose streams are bound by the source's CPU, most of it), not the whole
 * line (bench-evacuate `link`, two at once on 400 Mbit/s: switches planned
 * within 300 ms measured 346-377 ms), and while others send a pre-copy
 * that does not converge waits for the link rather than take its last
 * resort (policy.h link_peers). The pre-copy bandwidth is measured and
 * needs no such word. A change of the share is noted as a "link-share"
 * action. */
static void link_share(run *R, double at_ms)
{
    const co_pol_config *pol = &R->cfg->pol;
    if (!R->cfg->link_flows || !pol->link_known || pol->link_loopback ||
        !(pol->link_rate_bytes_per_s > 0))
        return;
    int n = atomic_load(R->cfg->link_flows);
    if (n < 1)
        n = 1;
    double share = pol->link_rate_bytes_per_s / n;
    long long avail = R->cfg->link_avail_bytes_per_s ? atomic_load(R->cfg->link_avail_bytes_per_s)
                                                     : 0;
    if (n > 1 && avail > 0)
        share = fmin(pol->link_rate_bytes_per_s, fmax(share, (double)avail));
    R->pc.link_peers = n - 1;
    if (share == R->pc.link_rate_bytes_per_s)
        return;
    R->pc.link_rate_bytes_per_s = share;
    note(R, at_ms, "link-share", n,
         "%d migration(s) send on the link: the stop-and-copy counts on %.3g Gbit/s of %.3g", n,
         share * 8 / 1e9, pol->link_rate_bytes_per_s * 8 / 1e9);
}

/* Start: arm the meters and send `migrate`; from here on every exit goes
 * through a finish step. CO_OK, or the refusal (finished as "failed"). */
static int start_migration(run *R, co_diag *d)
{
    const co_ctl_config *cfg = R->cfg;
    char link_note[80];
    describe_link(R, link_note, sizeof link_note);
    co_pol_init(&R->pc, &R->ps);
    co_est_init(&R->est);
    if (cfg->hb)
        co_hb_arm(cfg->hb);
    R->t0 = co_clock_ms();
    note(R, 0, "start", R->want.downtime_limit_ms,
         "policy %s: migrate to %s, downtime-limit %.0f ms%s%s%s%s%s%s", co_pol_name(R->pc.kind),
         cfg->uri, R->want.downtime_limit_ms, link_note,
         R->want.auto_converge ? ", auto-converge on" : "",
         R->want.postcopy_ram ? ", postcopy-ram on" : "",
         R->want.postcopy_ram && R->want.postcopy_preempt > 0 ? " (postcopy-preempt)" : "",
         R->dl_note, R->dest_note);
    int rc = R->src->ops->start(R->src, cfg->uri, d);
    if (rc != CO_OK) {
        co_diag keep = *d;
        co_diag_init(d);
        finish_unsuccessful(R, "failed", rc, d, "migrate to %.200s refused: %.300s", cfg->uri,
                            keep.msg);
        return rc;
    }
    /* adaptive with --dirty-rate-probe: one second of QEMU's own dirty-rate
     * measurement, a short-window point of the dirty curve (docs/policies.md) */
    if (cfg->dirty_rate_probe && R->pc.kind == CO_POL_ADAPTIVE)
        R->probe = probe_start(R, R->src, R->pc.mem_bytes, &R->probe_t0);
    return CO_OK;
}

/* Loop: carry out the policy's actions of this sample, in order; an abort
 * cancels at once and skips the rest. */
static void apply_actions(run *R, const co_pol_action *acts, int na, co_diag *d)
{
    co_drv *src = R->src;
    const co_drv_ops *ops = src->ops;
    for (int i = 0; i < na && !R->cancel_reason; i++) {
        const co_pol_action *a = &acts[i];
        co_diag ad;
        co_diag_init(&ad);
        int arc = CO_OK;
        switch (a->kind) {
        case CO_ACT_DOWNTIME:
            arc = ops->set_downtime_limit(src, a->value, &ad);
            note(R, a->at_ms, "downtime-limit", a->value, "%s", a->reason);
            break;
        case CO_ACT_THROTTLE:
            arc = ops->set_throttle(src, a->value, a->value2, &ad);
            note(R, a->at_ms, "throttle", a->value, "%s", a->reason);
            break;
        case CO_ACT_DIRTYLIMIT:
            arc = ops->set_dirty_limit ? ops->set_dirty_limit(src, a->value, NULL, &ad)
                                       : co_diag_set(&ad, CO_ECONFIG, "no dirty limit");
            if (arc == CO_OK)
                R->dirty_limited = 1;
            note(R, a->at_ms, "dirty-limit", a->value, "%s", a->reason);
            break;
        case CO_ACT_POSTCOPY:
            arc = ops->start_postcopy(src, &ad);
            note(R, a->at_ms, "postcopy", NAN, "%s", a->reason);
            break;
        case CO_ACT_PAUSE:
            arc = ops->pause_guest(src, &ad);
            if (arc == CO_OK)
                R->we_paused = 1;
            note(R, a->at_ms, "pause", NAN, "%s", a->reason);
            break;
        case CO_ACT_ABORT:
            R->cancel_reason = 2;
            snprintf(R->abort_why, sizeof R->abort_why, "%s", a->reason);
            note(R, a->at_ms, "abort", NAN, "%s", a->reason);
            cancel_and_wait(R, d);
            break;
        }
        if (arc != CO_OK && a->kind != CO_ACT_ABORT)
            note(R, a->at_ms, "error", NAN, "%s failed: %s", co_pol_action_name(a->kind), ad.msg);
    }
}

/* Loop: an operator's signal cancels, except in post-copy where the guest's
 * memory is split between the hosts and only finishing keeps it whole.
 * Returns 1 when it cancelled. */
static int handle_stop(run *R, const co_drv_stats *st, double t_ms, co_diag *d)
{
    int level = stop_level(R);
    if (level == 0 || R->cancel_reason)
        return 0;
    if (st->status == CO_DRV_MIG_POSTCOPY_ACTIVE) {
        if (level > R->postcopy_signal_noted) {
            note(R, t_ms, "ignore-signal", NAN,
                 "%s during post-copy: cancelling would lose the guest, finishing", stop_name(R));
            R->postcopy_signal_noted = level;
        }
        return 0;
    }
    R->cancel_reason = 1;
    note(R, t_ms, "cancel", NAN, "%s received: migrate_cancel", stop_name(R));
    cancel_and_wait(R, d);
    return 1;
}

/* Loop: poll a sample, feed the estimator and the policy, act, until QEMU
 * completes, fails, or we cancel. Returns an enum loop_end, or a negative
 * code when the run is already finished (lost QEMU, failed migration). */
static int sample_loop(run *R, co_diag *d)
{
    co_drv *src = R->src;
    const co_drv_ops *ops = src->ops;
    co_ctl_result *res = R->res;
    co_drv_event ev[MAX_EVENTS];
    double sync_ev = NAN;
    for (;;) {
        co_drv_stats st;
        int nev = 0;
        co_diag pd;
        co_diag_init(&pd);
        int rc = ops->poll(src, R->poll_ms, ev, MAX_EVENTS, &nev, &st, &pd);
        if (rc != CO_OK) {
            end_progress(R);
            res->code = rc;
            snprintf(res->status, sizeof res->status, "error");
            snprintf(res->guest_on, sizeof res->guest_on, "unknown");
            snprintf(res->message, sizeof res->message,
                     "lost the %s connection to the source during the migration (%.300s); the "
                     "migration may still be running: check the VM with its own tools",
                     strcmp(ops->name, "qmp") == 0 ? "QMP" : ops->name, pd.msg);
            if (R->have_last)
                fill_final(R, &R->last);
            co_diag_set(d, rc, "%s", res->message);
            return rc;
        }
        for (int i = 0; i < nev; i++) {
            if (ev[i].kind == CO_DRV_EV_PASS)
                sync_ev = ev[i].at_ms;
            else if (ev[i].kind == CO_DRV_EV_SHUTDOWN)
                note(R, since_start(R), "event", NAN, "source QEMU reports SHUTDOWN");
        }
        R->last = st;
        R->have_last = 1;
        if (isfinite(st.ram_transferred_bytes)) {
            R->last_ram = st;
            R->have_ram = 1;
        }
        /* a dirty limit slows the guest like a throttle: let the estimator
         * undo it the same way (its equivalent percentage, policy.h) */
        co_drv_stats est_st = st;
        if (R->ps.dl_pct > 0 && !(est_st.cpu_throttle_pct >= R->ps.dl_pct))
            est_st.cpu_throttle_pct = R->ps.dl_pct;
        co_est_feed(&R->est, &est_st, sync_ev);
        if (R->probe == 1 && co_clock_ms() - R->probe_t0 >= 1000)
            R->probe = probe_read(R, src, &R->est, R->probe_t0);
        double sync_seen = sync_ev;
        sync_ev = NAN;
        co_pol_obs o;
        co_pol_obs_from(&R->est, &st, &o);
        if (!isfinite(st.total_time_ms))
            o.t_ms = since_start(R);

        if (st.status == CO_DRV_MIG_COMPLETED)
            return LOOP_COMPLETED;
        if (st.status == CO_DRV_MIG_FAILED || st.status == CO_DRV_MIG_CANCELLED)
            return finish_unsuccessful(R, "failed", CO_EFAILED, d,
                                       "QEMU reports the migration %s%s%s",
                                       co_drv_status_name(st.status),
                                       st.error_desc[0] ? ": " : "", st.error_desc);
        if (handle_stop(R, &st, o.t_ms, d))
            return LOOP_CANCELLED;
        /* A VM that never migrated reports no ram.total before the start:
         * the per-GiB timeouts of the baselines wait for the first one. */
        if (!(R->pc.mem_bytes > 0) && isfinite(st.ram_total_bytes) && st.ram_total_bytes > 0)
            R->pc.mem_bytes = st.ram_total_bytes;
        link_share(R, o.t_ms);
        co_pol_action acts[8];
        int na = co_pol_decide(&R->pc, &R->ps, &o, acts, 8);
        log_sample(R, &st, &o, &R->ps, sync_seen);
        apply_actions(R, acts, na, d);
        if (R->cancel_reason)
            return LOOP_ABORTED;
        progress(R, &o, &R->ps);
    }
}

/* Switchover done: read QEMU's final figures, make sure the guest runs on
 * the destination, and let the heartbeat settle so its gap is whole. */
static int finish_completed(run *R)
{
    const co_ctl_config *cfg = R->cfg;
    co_drv *src = R->src;
    co_ctl_result *res = R->res;
    /* QEMU 7.2 sets "completed" before it computes total-time and downtime
     * (migration_calculate_complete runs just after): re-read briefly */
    for (int i = 0; i < 20 && !(R->last.total_time_ms > 0 && isfinite(R->last.downtime_ms)); i++) {
        co_drv_stats st2;
        co_drv_event ev[MAX_EVENTS];
        int nev = 0;
        co_diag tmp;
        co_diag_init(&tmp);
        usleep(20000);
        if (src->ops->poll(src, 0, ev, MAX_EVENTS, &nev, &st2, &tmp) != CO_OK ||
            st2.status != CO_DRV_MIG_COMPLETED)
            break;
        R->last = st2;
    }
    fill_final(R, &R->last);
    res->downtime_ms = R->last.downtime_ms;
    /* what the stop-and-copy really moved, and how fast at least: the
     * downtime also holds device state and the switch itself */
    if (isfinite(R->last.ram_downtime_bytes) && R->last.ram_downtime_bytes > 0) {
        res->stop_copy_bytes = R->last.ram_downtime_bytes;
        if (isfinite(res->downtime_ms) && res->downtime_ms > 0)
            res->stop_copy_rate_bytes_per_s = res->stop_copy_bytes / (res->downtime_ms / 1000.0);
    }
    snprintf(res->status, sizeof res->status, "completed");
    snprintf(res->guest_on, sizeof res->guest_on, "destination");
    res->code = CO_OK;
    if (cfg->dst) {
        /* the destination starts the guest only if the source was running
         * when it stopped; after a pause we must start it ourselves */
        int drun = -1;
        co_diag tmp;
        co_diag_init(&tmp);
        for (int i = 0; i < 20; i++) { /* it resumes within ms of completion */
            if (cfg->dst->ops->guest_running(cfg->dst, &drun, &tmp) != CO_OK || drun == 1 ||
                stop_level(R) >= 2)
                break;
            usleep(50000);
        }
        if (drun == 0) {
            co_diag_init(&tmp);
            int rrc = cfg->dst->ops->resume_guest(cfg->dst, &tmp);
            note(R, since_start(R), "resume", NAN, "guest paused on the destination: cont%s%s",
                 rrc == CO_OK ? "" : " failed: ", rrc == CO_OK ? "" : tmp.msg);
        }
    }
    if (cfg->hb) {
        double until = co_clock_ms() + HB_SETTLE_MS;
        while (co_clock_ms() < until && stop_level(R) < 2)
            usleep(20000);
        long count = 0;
        double g = co_hb_max_gap_ms(cfg->hb, NULL, &count);
        if (count > 0)
            res->heartbeat_downtime_ms = g;
        res->heartbeat_ignored = co_hb_ignored(cfg->hb);
    }
    return CO_OK;
}

int co_ctl_run(co_drv *src, const co_ctl_config *cfg, co_ctl_result *res, co_diag *d)
{
    run R;
    memset(&R, 0, sizeof R);
    R.src = src;
    R.cfg = cfg;
    R.res = res;
    R.poll_ms = cfg->poll_ms >= 50 && cfg->poll_ms <= 100 ? cfg->poll_ms : 100;
    result_init(res, cfg);
    int rc;
    co_drv_stats st0;
    if ((rc = read_source(&R, &st0, d)) != CO_OK)
        return rc;
    if ((rc = check_destination(&R, d)) != CO_OK)
        return rc;
    if (stopped_before_start(&R, d))
        return CO_ECANCELED;
    if ((rc = apply_tunables(&R, &st0, d)) != CO_OK)
        return rc;
    check_dirty_limit(&R);
    if (stopped_before_start(&R, d))
        return CO_ECANCELED;
    if ((rc = start_migration(&R, d)) != CO_OK)
        return rc;
    int end = sample_loop(&R, d);
    if (end < 0)
        return end;
    end_progress(&R);
    res->predicted_downtime_ms = R.ps.pred_downtime_ms;
    res->floor_ms = R.ps.pred_floor_ms;
    /* a cancel that lost the race with the switchover: it completed */
    if (end != LOOP_COMPLETED && !(R.have_last && R.last.status == CO_DRV_MIG_COMPLETED)) {
        if (end == LOOP_CANCELLED)
            return finish_unsuccessful(&R, "cancelled", CO_ECANCELED, d,
                                       "cancelled by %s; the guest stays on the source",
                                       stop_name(&R));
        return finish_unsuccessful(&R, "aborted", CO_EFAILED, d, "aborted: %s", R.abort_why);
    }
    return finish_completed(&R);
}


/* ---- renderings ---------------------------------------------------------- */

json_t *co_ctl_result_json(const co_ctl_result *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "status", json_string(r->status));
    json_object_set_new(j, "policy", json_string(r->policy));
    json_object_set_new(j, "total_time_ms", json_real(r->total_time_ms));
    json_object_set_new(j, "downtime_ms", num_or_null(r->downtime_ms));
    json_object_set_new(j, "heartbeat_downtime_ms", num_or_null(r->heartbeat_downtime_ms));
    if (r->heartbeat_ignored >= 0)
        json_object_set_new(j, "heartbeat_ignored", json_integer(r->heartbeat_ignored));
    if (r->measure.on) {
        const co_ctl_measure *m = &r->measure;
        json_object_set_new(j, "measured_downtime_ms", num_or_null(m->longest_outage_ms));
        json_t *x = json_object();
        json_object_set_new(x, "iface", json_string(m->iface));
        json_object_set_new(x, "filter", json_string(m->filter));
        json_object_set_new(x, "mode", m->mode ? json_string(m->mode) : json_null());
        json_object_set_new(x, "packets", json_real(m->packets));
        json_object_set_new(x, "outages", json_real(m->outages));
        json_object_set_new(x, "longest_outage_ms", num_or_null(m->longest_outage_ms));
        if (m->error[0])
            json_object_set_new(x, "error", json_string(m->error));
        json_object_set_new(j, "measure", x);
    }
    json_object_set_new(j, "transferred_bytes", json_real(r->transferred_bytes));
    json_object_set_new(j, "passes", json_integer(r->passes));
    json_object_set_new(j, "predicted_downtime_ms", num_or_null(r->predicted_downtime_ms));
    json_object_set_new(j, "floor_ms", num_or_null(r->floor_ms));
    json_object_set_new(j, "stop_copy_bytes", num_or_null(r->stop_copy_bytes));
    json_object_set_new(j, "stop_copy_rate_bytes_per_s", num_or_null(r->stop_copy_rate_bytes_per_s));
    json_object_set_new(j, "final_throttle_pct", json_real(r->final_throttle_pct));
    json_object_set_new(j, "guest_on", json_string(r->guest_on));
    if (r->message[0])
        json_object_set_new(j, "message", json_string(r->message));
    json_t *acts = json_array();
    for (int i = 0; i < r->n_actions; i++) {
        const co_ctl_action *a = &r->actions[i];
        json_t *x = json_object();
        json_object_set_new(x, "t_ms", json_real(a->at_ms));
        json_object_set_new(x, "what", json_string(a->what));
        json_object_set_new(x, "value", num_or_null(a->value));
        json_object_set_new(x, "reason", json_string(a->reason));
        json_array_append_new(acts, x);
    }
    json_object_set_new(j, "actions", acts);
    return j;
}

void co_ctl_result_text(const co_ctl_result *r, FILE *out)
{
    char a[32], b[32];
    fprintf(out, "status:       %s (policy %s)\n", r->status, r->policy);
    if (r->message[0])
        fprintf(out, "why:          %s\n", r->message);
    fprintf(out, "total time:   %s\n", co_fmt_time(r->total_time_ms, a, sizeof a));
    if (isfinite(r->downtime_ms))
        fprintf(out, "downtime:     %.0f ms (QEMU)\n", r->downtime_ms);
    if (isfinite(r->heartbeat_downtime_ms))
        fprintf(out, "heartbeat:    %.1f ms longest gap seen by the guest\n",
                r->heartbeat_downtime_ms);
    if (r->heartbeat_ignored > 0)
        fprintf(out, "heartbeat:    %ld datagrams from unexpected senders ignored\n",
                r->heartbeat_ignored);
    if (r->measure.on) {
        const co_ctl_measure *m = &r->measure;
        if (isfinite(m->longest_outage_ms))
            fprintf(out, "on the wire:  %.1f ms longest outage (%s, '%s': %.0f outages in %.0f "
                         "packets)\n",
                    m->longest_outage_ms, m->iface, m->filter, m->outages, m->packets);
        else
            fprintf(out, "on the wire:  not measured (%s, '%s'): %s\n", m->iface, m->filter,
                    m->error);
    }
    if (isfinite(r->predicted_downtime_ms))
        fprintf(out, "predicted:    %.0f ms downtime (model floor %.0f ms)\n",
                r->predicted_downtime_ms, isfinite(r->floor_ms) ? r->floor_ms : 0);
    if (isfinite(r->stop_copy_bytes)) {
        char rate[32] = "";
        if (isfinite(r->stop_copy_rate_bytes_per_s))
            snprintf(rate, sizeof rate, " (at least %.0f MB/s)", r->stop_copy_rate_bytes_per_s / 1e6);
        fprintf(out, "stop-copy:    %s with the guest stopped%s\n",
                co_fmt_size(r->stop_copy_bytes, b, sizeof b), rate);
    }
    fprintf(out, "data sent:    %s\n", co_fmt_size(r->transferred_bytes, b, sizeof b));
    fprintf(out, "passes:       %d\n", r->passes);
    fprintf(out, "guest on:     %s\n", r->guest_on);
    fprintf(out, "actions:\n");
    for (int i = 0; i < r->n_actions; i++) {
        const co_ctl_action *x = &r->actions[i];
        char v[32] = "";
        if (isfinite(x->value))
            snprintf(v, sizeof v, " %.0f", x->value);
        fprintf(out, "  %8.2f s  %s%s: %s\n", x->at_ms / 1000, x->what, v, x->reason);
    }
}

/* ---- destination checks -------------------------------------------------- */

int co_ctl_parse_uri(const char *uri, char *host, size_t hostlen, int *port, co_diag *d)
{
    if (uri == NULL || strncmp(uri, "tcp:", 4) != 0)
        return co_diag_set(d, CO_EUSAGE, "--uri '%s': expected tcp:HOST:PORT",
                           uri ? uri : "");
    const char *h = uri + 4, *colon;
    size_t hl;
    if (*h == '[') {
        const char *rb = strchr(h, ']');
        if (!rb || rb[1] != ':')
            return co_diag_set(d, CO_EUSAGE, "--uri '%s': bad [IPv6] host, expected "
                                             "tcp:[ADDR]:PORT", uri);
        h++;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return co_diag_set(d, CO_EUSAGE, "--uri '%s': missing port, expected tcp:HOST:PORT",
                               uri);
        hl = (size_t)(colon - h);
    }
    if (hl == 0 || hl >= hostlen)
        return co_diag_set(d, CO_EUSAGE, "--uri '%s': missing or too long host", uri);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno || p < 1 || p > 65535)
        return co_diag_set(d, CO_EUSAGE, "--uri '%s': port '%s' is not a number in 1..65535",
                           uri, colon + 1);
    *port = (int)p;
    return CO_OK;
}
