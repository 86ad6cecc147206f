/* cycle/cycle.c: the patch cycle's state machine (see cycle/cycle.h and
 * docs/cycle.md): host order, the steps of each host, stop rules, the
 * journal and resume. Moving VMs is evacuate's (evacuate/evacuate.h);
 * hooks are cycle/hook.h's; the few other libvirt calls cycle/virt.h's. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cycle/cyc_int.h"
#include "cycle/hook.h"
#include "cycle/preflight.h"
#include "cycle/view.h"
#include "cycle/virt.h"
#include "evacuate/evacuate.h"
#include "util/clock.h"
#include "util/error.h"

const char *const co_cyc_step_names[CO_CYC_S_N] = {
    "preflight", "repo_sync", "enter_maintenance", "evacuate", "apply", "reboot",
    "firmware", "firmware_reboot", "validate", "exit_maintenance", "rebalance",
};

/* The hook each step runs (-1: none of its own). */
static const int step_hook[CO_CYC_S_N] = {
    CO_HOOK_PREFLIGHT, CO_HOOK_STAGE, CO_HOOK_ENTER_MAINTENANCE, -1, CO_HOOK_PATCH,
    CO_HOOK_REBOOT, CO_HOOK_FIRMWARE, CO_HOOK_REBOOT, CO_HOOK_VALIDATE, CO_HOOK_EXIT_MAINTENANCE,
    -1,
};

static const char *const hook_key[CO_HOOK_N] = {
    "before_cycle", "preflight", "stage", "enter_maintenance", "patch", "reboot", "firmware",
    "validate", "exit_maintenance", "after_cycle", "mtu_probe", "clock_probe",
    "scratch_probe",
};

/* How long a VM that cannot live-migrate gets to shut down when asked
 * before it is forced off (the lab's guest ignores ACPI). */
#define CO_CYC_SHUTDOWN_GRACE_MS 30000
/* How long the evacuate step waits for a VM paused or in another job on
 * its host to settle (a migration libvirt is still finishing) */
#define CO_CYC_SETTLE_MS 120000
/* Bound of starting a VM again (unmovable shutdown / after-return) */
#define CO_CYC_START_MS 60000
/* On resume, a migration in flight when cutover died counts as not begun
 * only after its VM stayed on the source, running, without a job, this
 * long */
#define CO_CYC_QUIET_MS 15000
/* validate_vm: each of its two migrations gets this long (evacuate's
 * deadline; the controller gives up past it) */
#define CO_CYC_VALIDATE_VM_MS 120000

/* Internal outcome of a host: the cycle goes on, or stops. */
#define STOP_CYCLE 1

static int stopping(const co_cyc *y)
{
    return y->o.stop_flag && *y->o.stop_flag;
}

static const char *hname(const co_cyc *y, int h)
{
    return y->c->hosts[h].name;
}

static int host_by_name(const co_cyc *y, const char *name)
{
    for (int h = 0; name && h < y->c->nhosts; h++)
        if (!strcmp(y->c->hosts[h].name, name))
            return h;
    return -1;
}

static int host_by_uri(const co_cyc *y, const char *uri)
{
    for (int h = 0; uri && h < y->c->nhosts; h++)
        if (y->c->hosts[h].uri && !strcmp(y->c->hosts[h].uri, uri))
            return h;
    return -1;
}

static void note(co_cyc *y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(co_cyc *y, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&y->mu);
    json_array_append_new(y->notes, json_string(buf));
    pthread_mutex_unlock(&y->mu);
    co_view_say(y, "%s", buf);
}

/* ---- the journal ---- */

/* Append r (stolen) to the journal and to y->recs. */
static int rec(co_cyc *y, json_t *r, co_diag *d)
{
    if (!r)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int rc = CO_OK;
    pthread_mutex_lock(&y->mu);
    if (y->j)
        rc = co_jrn_append(y->j, r, d);
    else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_object_set_new(r, "t_ms", json_integer((json_int_t)ts.tv_sec * 1000 +
                                                   ts.tv_nsec / 1000000));
    }
    json_array_append(y->recs, r);
    pthread_mutex_unlock(&y->mu);
    json_decref(r);
    return rc;
}

/* A copy of the record list (the records themselves shared): host threads
 * append while others read. */
static json_t *recs_snap(const co_cyc *y)
{
    co_cyc *w = (co_cyc *)y;
    pthread_mutex_lock(&w->mu);
    json_t *a = json_copy(w->recs);
    pthread_mutex_unlock(&w->mu);
    return a ? a : json_array();
}

static int is_ev(json_t *r, const char *ev)
{
    const char *e = json_string_value(json_object_get(r, "ev"));
    return e && !strcmp(e, ev);
}

static int str_is(json_t *r, const char *key, const char *val)
{
    json_t *v = json_object_get(r, key);
    if (!val)
        return v == NULL || json_is_null(v);
    return json_is_string(v) && !strcmp(json_string_value(v), val);
}

/* The last step_end of (host, step): NULL if none. host NULL = cycle-wide. */
static json_t *last_step_end(const co_cyc *y, const char *host, const char *step)
{
    json_t *found = NULL, *all = recs_snap(y);
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
        if (is_ev(r, "step_end") && str_is(r, "host", host) && str_is(r, "step", step))
            found = r;
    json_decref(all); /* y->recs still holds found */
    return found;
}

/* 1 when the journal has more than one step_start of (host, step): the
 * one being run now and one before it (a resumed step). */
static int started_before(const co_cyc *y, const char *host, const char *step)
{
    json_t *all = recs_snap(y);
    size_t i;
    json_t *r;
    int n = 0;
    json_array_foreach(all, i, r)
        n += is_ev(r, "step_start") && str_is(r, "host", host) && str_is(r, "step", step);
    json_decref(all);
    return n > 1;
}

static int step_done(const co_cyc *y, const char *host, const char *step)
{
    json_t *r = last_step_end(y, host, step);
    return r && json_is_true(json_object_get(r, "ok"));
}

static json_t *host_end(const co_cyc *y, const char *host)
{
    json_t *found = NULL, *all = recs_snap(y);
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
        if (is_ev(r, "host_end") && str_is(r, "host", host))
            found = r;
    json_decref(all);
    return found;
}

static int failed_hosts(const co_cyc *y)
{
    int n = 0;
    size_t i;
    json_t *r, *all = recs_snap(y);
    json_array_foreach(all, i, r)
        n += is_ev(r, "host_end") && !json_is_true(json_object_get(r, "ok")) &&
             !json_is_true(json_object_get(r, "left_unpatched"));
    json_decref(all);
    return n;
}

/* VMs whose stun (any one migration) went over the budget. */
static int vms_over_budget(const co_cyc *y)
{
    json_t *seen = json_object(), *all = recs_snap(y);
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r) {
        double dt = json_number_value(json_object_get(r, "downtime_ms"));
        if (is_ev(r, "mig_end") && dt > y->budget_ms)
            json_object_set_new(seen, json_string_value(json_object_get(r, "vm")) ?
                                json_string_value(json_object_get(r, "vm")) : "?", json_true());
    }
    int n = (int)json_object_size(seen);
    json_decref(seen);
    json_decref(all);
    return n;
}

/* ---- order ---- */

/* Canaries first (phase 0), then failure domain by failure domain in the
 * order the domains first appear among the plan's hosts (the simulator's
 * rule, sim/run.c), each phase in plan order. */
static int make_order(co_cyc *y)
{
    const co_sim_cluster *c = y->c;
    const co_sim_plan *p = &c->plan;
    int *rank = calloc((size_t)(c->ndomains > 0 ? c->ndomains : 1), sizeof(int));
    if (!rank)
        return CO_ENOMEM;
    for (int d = 0; d < c->ndomains; d++)
        rank[d] = -1;
    int nr = 0, maxph = 0;
    for (int i = 0; i < p->nhosts; i++) {
        int h = p->hosts[i];
        if (p->canary && p->canary[h])
            y->phase[h] = 0;
        else if (p->order == CO_ORDER_DOMAIN && c->ndomains > 0) {
            if (rank[c->hosts[h].domain] < 0)
                rank[c->hosts[h].domain] = nr++;
            y->phase[h] = 1 + rank[c->hosts[h].domain];
        } else
            y->phase[h] = 1;
        if (y->phase[h] > maxph)
            maxph = y->phase[h];
    }
    free(rank);
    y->norder = 0;
    for (int ph = 0; ph <= maxph; ph++)
        for (int i = 0; i < p->nhosts; i++)
            if (y->phase[p->hosts[i]] == ph)
                y->order[y->norder++] = p->hosts[i];
    return CO_OK;
}

/* ---- new / free ---- */

int co_cyc_new(const co_sim_cluster *c, const co_cyc_opts *o, co_cyc **out, co_diag *d)
{
    *out = NULL;
    const char *file = o->file ? o->file : c->source ? c->source : "(cluster)";
    for (int i = 0; i < c->plan.nhosts; i++) {
        const co_sim_host *h = &c->hosts[c->plan.hosts[i]];
        if (!h->uri || !h->uri[0])
            return co_pf_err_no_uri(c, file, c->plan.hosts[i], d);
    }
    if (c->plan.nhosts == 0)
        return co_diag_set(d, CO_EDATA, "%s: plan.hosts: no host to patch", file);
    co_cyc *y = calloc(1, sizeof *y);
    if (!y)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    y->c = c;
    y->o = *o;
    y->o.file = file;
    int n = c->nhosts;
    y->order = calloc((size_t)n, sizeof(int));
    y->phase = calloc((size_t)n, sizeof(int));
    y->closed = calloc((size_t)n, sizeof(int));
    y->down = calloc((size_t)n, sizeof(int));
    y->busy = calloc((size_t)n, sizeof(int));
    y->book_mem = calloc((size_t)n, sizeof(double));
    y->book_vcpus = calloc((size_t)n, sizeof(double));
    y->recs = json_array();
    y->homes = json_object();
    y->notes = json_array();
    pthread_mutex_init(&y->mu, NULL);
    pthread_mutex_init(&y->place_mu, NULL);
    pthread_mutex_init(&y->rebal_mu, NULL);
    pthread_mutex_init(&y->vmu, NULL);
    y->tmo = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    y->budget_ms = o->max_downtime_ms > 0 ? o->max_downtime_ms : c->plan.stun_budget_ms;
    y->forecast_runs = 300;
    snprintf(y->status, sizeof y->status, "%s", o->dry_run ? "planned" : "pending");
    if (!y->order || !y->phase || !y->closed || !y->down || !y->busy || !y->book_mem ||
        !y->book_vcpus || !y->recs || !y->homes ||
        !y->notes || make_order(y) != CO_OK) {
        co_cyc_free(y);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    *out = y;
    return CO_OK;
}

void co_cyc_free(co_cyc *y)
{
    if (!y)
        return;
    co_view_tty_free(y->view);
    co_jrn_close(y->j);
    free(y->order);
    free(y->phase);
    free(y->closed);
    free(y->down);
    free(y->busy);
    free(y->book_mem);
    free(y->book_vcpus);
    json_decref(y->recs);
    json_decref(y->homes);
    json_decref(y->calib);
    json_decref(y->plan);
    json_decref(y->notes);
    if (y->have_fc)
        co_sim_summary_free(&y->fc);
    pthread_mutex_destroy(&y->mu);
    pthread_mutex_destroy(&y->place_mu);
    pthread_mutex_destroy(&y->rebal_mu);
    pthread_mutex_destroy(&y->vmu);
    free(y);
}

/* ---- evacuate's records for one host ---- */

static void add_dest(const co_cyc *y, co_evac *e, int h)
{
    const co_sim_cluster *c = y->c;
    co_evac_dest *ds = &e->dests[e->ndests++];
    snprintf(ds->uri, sizeof ds->uri, "%s", c->hosts[h].uri);
    if (c->hosts[h].migration_uri)
        snprintf(ds->migration_uri, sizeof ds->migration_uri, "%s", c->hosts[h].migration_uri);
    ds->nic_bytes_per_s = c->hosts[h].nic_bytes_per_s;
}

/* Set up e to empty host src onto the open hosts (dest_only >= 0: onto that
 * host only). A host whose turn has come (busy) takes nothing: it is about
 * to be emptied itself. Under place_mu. Returns the number of destinations. */
static int evac_setup(co_cyc *y, co_evac *e, int src, int dest_only)
{
    const co_sim_cluster *c = y->c;
    co_evac_init(e);
    e->max_downtime_ms = y->budget_ms;
    e->cpu_ratio = c->plan.cpu_ratio > 0 ? c->plan.cpu_ratio : 16.0;
    if (c->hosts[src].nic_bytes_per_s > 0) {
        e->nic_bytes_per_s = c->hosts[src].nic_bytes_per_s;
        snprintf(e->nic_source, sizeof e->nic_source, "cluster file");
    }
    if (c->hosts[src].mtu > 0)
        e->mtu = c->hosts[src].mtu;
    for (int h = 0; h < c->nhosts && e->ndests < CO_EVAC_MAX_DEST; h++) {
        if (h == src || !c->hosts[h].uri || y->closed[h] || y->down[h] ||
            (y->busy[h] && dest_only < 0))
            continue;
        if (dest_only >= 0 && h != dest_only)
            continue;
        add_dest(y, e, h);
    }
    return e->ndests;
}

/* Anti-affinity groups of the file, for the VMs of e (by name). */
static void evac_groups(const co_cyc *y, co_evac *e)
{
    const co_sim_cluster *c = y->c;
    int n = 0;
    e->groups.ngroups = 0;
    for (int g = 0; g < c->ngroups; g++) {
        e->groups.start[e->groups.ngroups] = n;
        int members = 0;
        for (int k = c->group_start[g]; k < c->group_start[g + 1]; k++) {
            const char *vn = c->vms[c->group_vms[k]].name;
            for (int i = 0; i < e->nvms; i++)
                if (!strcmp(e->vms[i].name, vn) && n < CO_EVAC_MAX_VMS) {
                    e->groups.vm[n++] = i;
                    e->vms[i].group = e->groups.ngroups;
                    members++;
                }
        }
        if (members > 0)
            e->groups.ngroups++;
        else
            n = e->groups.start[e->groups.ngroups];
    }
    e->groups.start[e->groups.ngroups] = n;
}

static int no_room(const co_evac_vm *v)
{
    return v->blocker[0] && strstr(v->blocker, "no destination has room") != NULL;
}

/* A blocker that passes (evacuate/virt.c's words): paused, or in another
 * job. Not a reason to shut a VM down. */
static int transient(const co_evac_vm *v)
{
    return !strncmp(v->blocker, "not running", 11) ||
           !strncmp(v->blocker, "busy in another job", 19);
}

/* ---- migration records from evacuate's threads ---- */

/* 1 when name runs (not paused) on host h. */
static int runs_on_host(co_cyc *y, int h, const char *name)
{
    co_cyc_dom *doms = malloc(sizeof(co_cyc_dom) * CO_CYC_MAX_DOMS);
    int n = 0, found = 0;
    co_diag d;
    co_diag_init(&d);
    if (doms && co_cyc_virt_list(y->c->hosts[h].uri, y->tmo, doms, CO_CYC_MAX_DOMS, &n, &d) ==
                    CO_OK)
        for (int i = 0; i < n; i++)
            found |= !strcmp(doms[i].name, name) && !doms[i].paused;
    free(doms);
    return found;
}

struct mig_ctx {
    co_cyc *y;
    int from;
    const char *purpose;
    int booked[CO_EVAC_MAX_VMS]; /* host VM i is booked on (y->book_*), -1 = none */
};

static void mig_ctx_init(struct mig_ctx *m, co_cyc *y, int from, const char *purpose)
{
    m->y = y;
    m->from = from;
    m->purpose = purpose;
    for (int i = 0; i < CO_EVAC_MAX_VMS; i++)
        m->booked[i] = -1;
}

/* Book VM vi of e on host to (-1: release), moving an earlier booking; the
 * caller holds place_mu. */
static void book_locked(co_cyc *y, struct mig_ctx *m, const co_evac *e, int vi, int to)
{
    int was = m->booked[vi];
    if (was >= 0) {
        y->book_mem[was] -= e->vms[vi].mem_bytes;
        y->book_vcpus[was] -= e->vms[vi].vcpus;
    }
    if (to >= 0) {
        y->book_mem[to] += e->vms[vi].mem_bytes;
        y->book_vcpus[to] += e->vms[vi].vcpus;
    }
    m->booked[vi] = to;
}

static void book(co_cyc *y, struct mig_ctx *m, const co_evac *e, int vi, int to)
{
    pthread_mutex_lock(&y->place_mu);
    book_locked(y, m, e, vi, to);
    pthread_mutex_unlock(&y->place_mu);
}

/* After the inventory: what other evacuations and rebalances in flight
 * promised to e's destinations counts as used (their VMs may not have
 * arrived yet: two hosts in maintenance at once must not both fill one
 * destination from their own snapshots). Under place_mu. */
static void apply_bookings(co_cyc *y, co_evac *e)
{
    for (int k = 0; k < e->ndests; k++) {
        int hd = host_by_uri(y, e->dests[k].uri);
        if (hd < 0)
            continue;
        e->dests[k].cap.mem_used_bytes += y->book_mem[hd];
        e->dests[k].cap.vcpus_used += y->book_vcpus[hd];
    }
}

/* Book every VM co_evac_plan placed (under place_mu). */
static void book_plan(co_cyc *y, struct mig_ctx *m, const co_evac *e)
{
    for (int i = 0; i < e->nvms; i++)
        if (e->vms[i].dest >= 0)
            book_locked(y, m, e, i, host_by_uri(y, e->dests[e->vms[i].dest].uri));
}

static void release_all(co_cyc *y, struct mig_ctx *m, const co_evac *e)
{
    pthread_mutex_lock(&y->place_mu);
    for (int i = 0; i < e->nvms; i++)
        book_locked(y, m, e, i, -1);
    pthread_mutex_unlock(&y->place_mu);
}

static void on_mig(void *arg, const co_evac *e, int vi, int phase)
{
    struct mig_ctx *m = arg;
    co_cyc *y = m->y;
    const co_evac_vm *v = &e->vms[vi];
    int to = v->dest >= 0 ? host_by_uri(y, e->dests[v->dest].uri) : -1;
    co_diag d;
    co_diag_init(&d);
    json_t *r;
    /* the booking follows the VM (a retry may go elsewhere) until it ends */
    book(y, m, e, vi, phase == 0 ? to : -1);
    if (phase == 0) {
        r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ev", "mig_start", "vm", v->name, "from",
                      hname(y, m->from), "to", to >= 0 ? hname(y, to) : "?", "purpose",
                      m->purpose);
        co_view_say(y, "%s: %s -> %s (%s)", v->name, hname(y, m->from),
                    to >= 0 ? hname(y, to) : "?", m->purpose);
    } else {
        const char *st = !strcmp(v->status, "completed") || !strcmp(v->status, "aborted") ||
                                 !strcmp(v->status, "cancelled")
                             ? v->status : "failed";
        /* evacuate said it failed; libvirt may know better (seen under load:
         * "Broken pipe" on a migration that completed): where does it run? */
        int found = 0;
        if (strcmp(st, "completed") && to >= 0)
            found = runs_on_host(y, to, v->name);
        if (found)
            st = "completed";
        r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ev", "mig_end", "vm", v->name, "from",
                      hname(y, m->from), "to", to >= 0 ? hname(y, to) : "?", "status", st,
                      "purpose", m->purpose);
        if (r) {
            json_object_set_new(r, "time_ms", isfinite(v->time_ms) ? json_real(v->time_ms)
                                                                   : json_null());
            json_object_set_new(r, "downtime_ms", isfinite(v->downtime_ms)
                                                      ? json_real(v->downtime_ms) : json_null());
            json_object_set_new(r, "bytes", isfinite(v->sent_bytes) ? json_real(v->sent_bytes)
                                                                    : json_null());
            if (v->reason[0])
                json_object_set_new(r, found ? "evacuate_said" : "error",
                                    json_string(v->reason));
            if (found)
                json_object_set_new(r, "reconciled", json_true());
        }
    }
    if (rec(y, r, &d) != CO_OK)
        note(y, "journal: %s", d.msg);
    co_view_update(y);
}

/* ---- hooks ---- */

static int run_hook(co_cyc *y, int kind, int h, json_t *extra, co_diag *d)
{
    const co_sim_hook *hk = &y->c->exec.hook[kind];
    if (!hk->argv)
        return CO_OK;
    co_hook_ctx ctx = {.host = h >= 0 ? hname(y, h) : NULL,
                       .uri = h >= 0 ? y->c->hosts[h].uri : NULL,
                       .migration_uri = h >= 0 ? y->c->hosts[h].migration_uri : NULL,
                       .step = hook_key[kind], .journal_dir = y->jdir,
                       .stop_flag = y->o.stop_flag};
    co_hook_result hr;
    memset(&hr, 0, sizeof hr);
    int rc = co_hook_run(hk, &ctx, &hr, d);
    if (hr.ran) {
        json_object_set_new(extra, "hook_exit", json_integer(hr.exit_status));
        json_object_set_new(extra, "hook_last_line", json_string(hr.last_line));
        json_object_set_new(extra, "hook_log", json_string(hr.log_path));
    }
    return rc;
}

/* "version=X" in a hook's last line: X (into out), else 0. */
static int version_in(const char *line, char *out, size_t len)
{
    const char *p = line ? strstr(line, "version=") : NULL;
    if (!p)
        return 0;
    p += 8;
    size_t n = strcspn(p, " \t\r\n");
    snprintf(out, len, "%.*s", (int)n, p);
    return n > 0;
}

/* ---- waiting for a host ---- */

static void nap(co_cyc *y, double ms)
{
    double end = co_clock_ms() + ms;
    while (!stopping(y) && co_clock_ms() < end) {
        double left = end - co_clock_ms();
        usleep((useconds_t)(left > 100 ? 100000 : left > 0 ? left * 1000 : 0));
    }
}

/* Probe until the host answers: return_timeout, first wait return_backoff,
 * doubled up to 30 s. CO_OK, CO_ETIMEDOUT, CO_ECANCELED. */
static int wait_return(co_cyc *y, int h, co_diag *d)
{
    double limit = y->c->exec.return_timeout_ms > 0 ? y->c->exec.return_timeout_ms : 600e3;
    double wait = y->c->exec.return_backoff_ms > 0 ? y->c->exec.return_backoff_ms : 1000;
    double end = co_clock_ms() + limit;
    int probes = 0;
    for (;;) {
        if (stopping(y))
            return co_diag_set(d, CO_ECANCELED, "stopped by a signal while waiting for %s",
                               hname(y, h));
        double left = end - co_clock_ms();
        int tmo = left < y->tmo ? (int)(left > 200 ? left : 200) : y->tmo;
        co_diag pd;
        co_diag_init(&pd);
        probes++;
        if (co_cyc_virt_probe(y->c->hosts[h].uri, tmo, NULL, 0, &pd) == CO_OK) {
            y->down[h] = 0;
            return CO_OK;
        }
        left = end - co_clock_ms();
        if (left <= 0) {
            y->down[h] = 1;
            return co_diag_set(d, CO_ETIMEDOUT, "%s did not come back within %.0f s (%d "
                               "probes; last: %s)", hname(y, h), limit / 1e3, probes, pd.msg);
        }
        nap(y, wait < left ? wait : left);
        wait = wait * 2 > 30e3 ? 30e3 : wait * 2;
    }
}

/* ---- live state ---- */

/* Where every active domain runs: names -> array of {host, paused, job};
 * unlisted (per host, may be NULL) set where the host did not answer: its
 * VMs are unknown, not absent. */
static json_t *live_map_ex(co_cyc *y, int *unlisted)
{
    json_t *m = json_object();
    co_cyc_dom *doms = malloc(sizeof(co_cyc_dom) * CO_CYC_MAX_DOMS);
    if (!doms)
        return m;
    for (int h = 0; h < y->c->nhosts; h++) {
        if (!y->c->hosts[h].uri)
            continue;
        int n = 0;
        co_diag d;
        co_diag_init(&d);
        if (co_cyc_virt_list(y->c->hosts[h].uri, y->tmo, doms, CO_CYC_MAX_DOMS, &n, &d) !=
            CO_OK) {
            y->down[h] = 1;
            if (unlisted)
                unlisted[h] = 1;
            continue;
        }
        y->down[h] = 0;
        if (unlisted)
            unlisted[h] = 0;
        for (int i = 0; i < n; i++) {
            json_t *a = json_object_get(m, doms[i].name);
            if (!a) {
                a = json_array();
                json_object_set_new(m, doms[i].name, a);
            }
            json_array_append_new(a, json_pack("{s:i, s:b, s:b}", "host", h, "paused",
                                               doms[i].paused, "job", doms[i].job));
        }
    }
    free(doms);
    return m;
}

static json_t *live_map(co_cyc *y)
{
    return live_map_ex(y, NULL);
}

static int runs_on(json_t *live, const char *name);

/* VMs on h by libvirt's word: running there, or paused there with no
 * running copy elsewhere (a paused source copy of a VM that runs elsewhere
 * is a migration's leftover: *stale). -1 when h did not answer: unknown
 * is never empty (a reboot would kill what runs there). first: a name. */
static int vms_on(co_cyc *y, int h, int *stale, char *first, size_t len)
{
    int *unl = calloc((size_t)y->c->nhosts, sizeof(int));
    json_t *live = live_map_ex(y, unl);
    int left = 0;
    *stale = 0;
    if (first && len)
        first[0] = '\0';
    const char *name;
    json_t *a;
    json_object_foreach(live, name, a) {
        size_t q;
        json_t *o;
        int elsewhere = runs_on(live, name);
        json_array_foreach(a, q, o) {
            if (json_integer_value(json_object_get(o, "host")) != h)
                continue;
            if (json_is_true(json_object_get(o, "paused")) && elsewhere >= 0 && elsewhere != h) {
                (*stale)++;
                continue;
            }
            if (!left++ && first)
                snprintf(first, len, "%s", name);
        }
    }
    json_decref(live);
    int unknown = !unl || unl[h];
    free(unl);
    return unknown ? -1 : left;
}

/* The host where name runs (not paused), -1 if none. */
static int runs_on(json_t *live, const char *name)
{
    json_t *a = json_object_get(live, name), *o;
    size_t i;
    json_array_foreach(a, i, o)
        if (!json_is_true(json_object_get(o, "paused")))
            return (int)json_integer_value(json_object_get(o, "host"));
    return -1;
}

static void resume_orphans(co_cyc *y, json_t *live, co_diag *d);

/* ---- steps ---- */

/* A VM paused on h while it runs on another host is the leftover of a
 * migration that libvirt has not cleaned up (seen: a source job that never
 * ended after the VM started on its destination). It is not h's VM: taking
 * it for one would have the unmovable rule shut it down and report an
 * outage of a VM that runs. Dropped from e, noted. */
static int drop_stale_copies(co_cyc *y, co_evac *e, int h)
{
    json_t *live = NULL;
    int dropped = 0;
    for (int i = 0; i < e->nvms; i++) {
        if (e->vms[i].running)
            continue;
        if (!live)
            live = live_map(y);
        int at = runs_on(live, e->vms[i].name);
        if (at < 0 || at == h)
            continue;
        note(y, "%s: a paused copy on %s while it runs on %s (a migration's leftover, left to "
             "libvirt)", e->vms[i].name, hname(y, h), hname(y, at));
        memmove(&e->vms[i], &e->vms[i + 1], sizeof e->vms[0] * (size_t)(e->nvms - i - 1));
        e->nvms--;
        i--;
        dropped++;
    }
    json_decref(live);
    return dropped;
}

/* ---- the evacuations' calibration ----
 * Each drain learns the guests' real dirty rates, the source's send rate,
 * the set-up and the switchover cap (evacuate/learn.c); the cycle carries
 * them to its next drains and, through the journal, to the next cycle
 * (--history). Without it every drain started from the inventory's
 * measurement, which is 0 for TCG guests, and sent VMs that could not
 * converge together at once (docs/forecast.md, valfail). */

/* Give e what the cycle learnt so far. Under place_mu, before co_evac_plan. */
static void calib_in(co_cyc *y, co_evac *e)
{
    if (!y->calib)
        return;
    co_diag cd;
    co_diag_init(&cd);
    if (co_evac_calib_apply_json(e, y->calib, "the cycle's calibration", y->calib_src, &cd) !=
        CO_OK)
        note(y, "%s (not used)", cd.msg);
}

/* Fold what drain e (run, from host) learnt into the cycle's and journal it. */
static void calib_out(co_cyc *y, const co_evac *e, int from)
{
    json_t *n = co_evac_calib_json(e);
    pthread_mutex_lock(&y->place_mu);
    json_t *m = co_evac_calib_merge(y->calib, n);
    json_decref(n);
    if (m) {
        json_decref(y->calib);
        y->calib = m;
        snprintf(y->calib_src, sizeof y->calib_src, "this cycle's migrations (last from %s)",
                 hname(y, from));
    }
    json_t *r = m ? json_pack("{s:s, s:s, s:O}", "ev", "calibration", "host", hname(y, from),
                              "calibration", m)
                  : NULL;
    pthread_mutex_unlock(&y->place_mu);
    co_diag jd;
    co_diag_init(&jd);
    if (r && rec(y, r, &jd) != CO_OK)
        note(y, "the calibration was not journaled: %s", jd.msg);
}

/* The last "calibration" record of recs (borrowed), NULL when none. */
static json_t *last_calib(json_t *recs)
{
    for (size_t i = json_array_size(recs); i-- > 0;) {
        json_t *r = json_array_get(recs, i);
        if (is_ev(r, "calibration") && json_is_object(json_object_get(r, "calibration")))
            return r;
    }
    return NULL;
}

/* The seed: this cycle's own journal (--resume), else the newest of the
 * history journals'. A history journal that cannot be read is said and
 * skipped (the forecast names its faults). */
static void calib_seed(co_cyc *y)
{
    json_t *best = NULL;
    const char *from = NULL;
    if ((best = last_calib(y->recs)))
        from = "this cycle's journal";
    json_t *keep = NULL;
    for (int i = 0; !from && i < y->o.nhistory; i++) {
        json_t *recs = NULL;
        int torn = 0;
        co_diag hd;
        co_diag_init(&hd);
        if (co_jrn_read(y->o.history[i], &recs, &torn, &hd) != CO_OK) {
            note(y, "history %s: %s (its calibration not used)", y->o.history[i], hd.msg);
            continue;
        }
        json_t *r = last_calib(recs);
        if (r && (!keep || json_integer_value(json_object_get(r, "t_ms")) >
                               json_integer_value(json_object_get(keep, "t_ms")))) {
            json_decref(keep);
            keep = json_incref(r);
            snprintf(y->calib_src, sizeof y->calib_src, "history %.300s", y->o.history[i]);
        }
        json_decref(recs);
    }
    if (from)
        snprintf(y->calib_src, sizeof y->calib_src, "%s", from);
    else
        best = keep;
    if (best) {
        y->calib = json_deep_copy(json_object_get(best, "calibration"));
        const char *at = json_string_value(json_object_get(y->calib, "learned_at"));
        note(y, "evacuations start from the calibration of %s (learned %s)", y->calib_src,
             at ? at : "at an unknown date");
    }
    json_decref(keep);
}

/* Capacity, blockers and placement of host h's VMs onto the open hosts;
 * with run = 1 also the migrations. */
static int evacuate(co_cyc *y, int h, int run, json_t *extra, co_diag *d)
{
    co_evac *e = malloc(sizeof *e);
    if (!e)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    /* one planner at a time, and none while a rebalance moves VMs (it may
     * be taking one of this host's); released once the plan is booked */
    pthread_mutex_lock(&y->rebal_mu);
    pthread_mutex_lock(&y->place_mu);
    int locked = 1;
    int rc = CO_OK, nd = evac_setup(y, e, h, -1);
    int unmov = y->c->exec.unmovable, pre_stale = 0;
    struct mig_ctx mc;
    mig_ctx_init(&mc, y, h, "evacuate");
    /* evacuate leaves the VMs that cannot live-migrate; the cycle shuts them
     * down itself, time-bounded (co_cyc_virt_shutdown) */
    co_evac_opts eo = {.src_uri = y->c->hosts[h].uri, .allow = y->o.allow, .measure_dirty = 1,
                       .unmovable = CO_EVAC_LEAVE,
                       .timeout_ms = y->tmo, .stop_flag = y->o.stop_flag,
                       .stop_signo = y->o.stop_signo, .on_mig = on_mig, .on_mig_arg = &mc};
    /* a VM paused or in another job (a migration of the run before a crash,
     * or libvirt still finishing one) is not a VM that cannot live-migrate:
     * never shut down for it; wait for it to settle (orphans resumed) */
    for (double until = co_clock_ms() + CO_CYC_SETTLE_MS;;) {
        if ((rc = co_evac_inventory(e, &eo, d)) != CO_OK)
            goto out;
        pre_stale = drop_stale_copies(y, e, h);
        int unsettled = 0;
        for (int i = 0; i < e->nvms; i++)
            unsettled += transient(&e->vms[i]);
        if (!unsettled || !run || co_clock_ms() > until || stopping(y))
            break;
        pthread_mutex_unlock(&y->place_mu);
        pthread_mutex_unlock(&y->rebal_mu);
        nap(y, 2000);
        json_t *live = live_map(y);
        co_diag od;
        co_diag_init(&od);
        resume_orphans(y, live, &od);
        json_decref(live);
        pthread_mutex_lock(&y->rebal_mu);
        pthread_mutex_lock(&y->place_mu);
        nd = evac_setup(y, e, h, -1);
    }
    apply_bookings(y, e);
    if (e->nvms == 0) {
        json_object_set_new(extra, "vms", json_integer(0));
        goto out;
    }
    if (nd == 0) {
        rc = co_diag_set(d, CO_EFAILED, "%s: no open host to take its %d VM(s)", hname(y, h),
                         e->nvms);
        goto out;
    }
    evac_groups(y, e);
    calib_in(y, e);
    if ((rc = co_evac_plan(e, d)) != CO_OK)
        goto out;
    json_t *blk = json_array();
    int full = 0, blocked = 0, unsettled = 0;
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        if (!v->blocker[0])
            continue;
        unsettled += transient(v);
        blocked += !transient(v);
        full += no_room(v);
        json_array_append_new(blk, json_pack("{s:s, s:s}", "vm", v->name, "reason",
                                             v->blocker));
    }
    json_object_set_new(extra, "vms", json_integer(e->nvms));
    json_object_set_new(extra, "blockers", blk);
    json_object_set_new(extra, "concurrency", json_integer(e->k));
    json_object_set_new(extra, "predicted_ms", json_real(e->pred_total_ms));
    if (full) {
        rc = co_diag_set(d, CO_EFAILED, "%s: %d VM(s) fit on no open host (memory, vCPUs, "
                         "anti-affinity, CPU)", hname(y, h), full);
        goto out;
    }
    if (unsettled && run) {
        rc = co_diag_set(d, CO_EFAILED, "%s: %d VM(s) paused or busy in another job for %d s "
                         "(not shut down for it; resume the cycle once libvirt settled)",
                         hname(y, h), unsettled, CO_CYC_SETTLE_MS / 1000);
        goto out;
    }
    if (blocked && unmov == CO_UNMOV_LEAVE) {
        json_object_set_new(extra, "left_unpatched", json_true());
        rc = co_diag_set(d, CO_EFAILED, "%s: %d VM(s) cannot live-migrate (first: %s: %s); "
                         "execution.unmovable \"leave\": the host is left unpatched",
                         hname(y, h), blocked, json_string_value(json_object_get(
                             json_array_get(blk, 0), "vm")),
                         json_string_value(json_object_get(json_array_get(blk, 0), "reason")));
        goto out;
    }
    if (!run)
        goto out;
    book_plan(y, &mc, e);
    pthread_mutex_unlock(&y->place_mu);
    pthread_mutex_unlock(&y->rebal_mu);
    locked = 0;
    co_evac_result er = {.total_time_ms = NAN};
    rc = co_evac_run(e, &eo, &er, d);
    release_all(y, &mc, e);
    calib_out(y, e, h);
    /* VMs that could not live-migrate (not for lack of room): shut down,
     * forced off when the guest ignores the request (unmovable shutdown or
     * after-return) */
    int unmoved = 0;
    for (int i = 0; i < e->nvms && unmov != CO_UNMOV_LEAVE && !stopping(y); i++) {
        co_evac_vm *v = &e->vms[i];
        if (strcmp(v->status, "left") || transient(v) || no_room(v))
            continue;
        int forced = 0;
        co_diag sd;
        co_diag_init(&sd);
        if (co_cyc_virt_shutdown(y->c->hosts[h].uri, v->name, CO_CYC_SHUTDOWN_GRACE_MS, y->tmo,
                                 &forced, &sd) != CO_OK) {
            snprintf(v->reason, sizeof v->reason, "%.200s; not shut down: %.290s", v->blocker,
                     sd.msg);
            unmoved++;
            continue;
        }
        snprintf(v->status, sizeof v->status, "shut-down");
        snprintf(v->reason, sizeof v->reason, "%.300s%s", v->blocker,
                 forced ? "; it did not shut down when asked: forced off" : "");
        if (forced)
            note(y, "%s: did not shut down within %d s when asked (ACPI): forced off (destroy)",
                 v->name, CO_CYC_SHUTDOWN_GRACE_MS / 1000);
    }
    if (rc == CO_EFAILED && !unmoved) {
        int ok = 1;
        for (int i = 0; i < e->nvms; i++)
            ok &= !strcmp(e->vms[i].status, "completed") ||
                  !strcmp(e->vms[i].status, "shut-down");
        if (ok) {
            co_diag_init(d);
            rc = CO_OK;
        }
    }
    {
        /* the step's verdict is libvirt's: the host is empty (VMs shut down
         * by the unmovable rule aside), whatever evacuate reported; and no VM
         * is left paused anywhere */
        /* a source copy libvirt has not cleaned up yet (paused, the VM runs
         * on its destination) is given a while, then left to libvirt: the
         * VM itself moved (docs/cycle.md, "a migration that never ends") */
        int left = 0, stale = 0;
        char first[128] = "";
        json_t *live = live_map(y);
        co_diag od;
        co_diag_init(&od);
        resume_orphans(y, live, &od);
        json_decref(live);
        for (double until = co_clock_ms() + 30e3;;) {
            left = vms_on(y, h, &stale, first, sizeof first);
            /* a leftover there before the evacuation (an earlier cycle's):
             * libvirt will not clean it up now, no wait for it */
            if ((!left && stale <= pre_stale) || co_clock_ms() > until || stopping(y) ||
                (rc != CO_OK && left > 0))
                break;
            nap(y, 1000);
        }
        if (left < 0) {
            /* never "empty" on a listing that failed: the reboot would kill
             * whatever still runs there */
            char was[200];
            snprintf(was, sizeof was, "%.190s", rc != CO_OK ? d->msg : "no answer");
            co_diag_init(d); /* the verdict replaces evacuate's message (kept in it) */
            rc = co_diag_set(d, CO_EFAILED, "%s: libvirt did not list its domains after the "
                             "evacuation (%s); not taken for empty", hname(y, h), was);
            left = 1;
        }
        if (stale)
            note(y, "%s: %d paused source cop%s of VMs that run elsewhere still there after the "
                 "evacuation (left to libvirt)", hname(y, h), stale, stale > 1 ? "ies" : "y");
        if (rc != CO_OK && rc != CO_ECANCELED && left == 0 && !stopping(y)) {
            note(y, "%s: evacuate reported \"%s\" but libvirt shows the host empty", hname(y, h),
                 d->msg);
            co_diag_init(d);
            rc = CO_OK;
        } else if (rc == CO_OK && left > 0) {
            rc = co_diag_set(d, CO_EFAILED, "%s: %d VM(s) still run there after the evacuation "
                             "(first: %s)", hname(y, h), left, first);
        }
    }
    /* VMs that could not live-migrate: shut down by evacuate; say so, and
     * restart them now on another host (unmovable "shutdown") or once their
     * host is back (after_return, in validate) */
    for (int i = 0; i < e->nvms; i++) {
        co_evac_vm *v = &e->vms[i];
        if (strcmp(v->status, "shut-down"))
            continue;
        co_diag od;
        co_diag_init(&od);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ev", "vm_outage", "vm", v->name,
                              "host", hname(y, h), "action", "shutdown", "reason", v->reason);
        if (o && strstr(v->reason, "forced off"))
            json_object_set_new(o, "forced", json_true());
        rec(y, o, &od);
        if (unmov != CO_UNMOV_SHUTDOWN)
            continue;
        int started = 0;
        for (int k = 0; k < e->ndests && !started; k++) {
            co_diag sd;
            co_diag_init(&sd);
            if (co_cyc_virt_start_copy(y->c->hosts[h].uri, e->dests[k].uri, v->name,
                                       CO_CYC_START_MS,
                                       &sd) == CO_OK) {
                rec(y, json_pack("{s:s, s:s, s:s, s:s, s:s}", "ev", "vm_outage", "vm", v->name,
                                 "host", hname(y, host_by_uri(y, e->dests[k].uri)), "action",
                                 "start", "reason", "restarted on another host"), &od);
                started = 1;
            }
        }
        if (!started)
            note(y, "%s: shut down for %s's patch and not restarted anywhere", v->name,
                 hname(y, h));
    }
out:
    if (locked) {
        pthread_mutex_unlock(&y->place_mu);
        pthread_mutex_unlock(&y->rebal_mu);
    }
    free(e);
    return rc;
}

/* Return every VM whose home is open and patched (exit_maintenance done)
 * and which runs elsewhere: one evacuate run per (where it is, home) pair
 * with the others held back. VMs for which the home has no room stay where
 * they are and are tried again at the next rebalance (*pending). */
static int rebalance(co_cyc *y, int *pending, co_diag *d)
{
    *pending = 0;
    /* one at a time: two hosts back at once would both send the same VM home */
    pthread_mutex_lock(&y->rebal_mu);
    json_t *live = live_map(y);
    int rc = CO_OK;
    for (int home = 0; home < y->c->nhosts && rc == CO_OK; home++) {
        if (y->closed[home] || y->down[home] || !step_done(y, hname(y, home), "exit_maintenance"))
            continue;
        for (int from = 0; from < y->c->nhosts && rc == CO_OK; from++) {
            /* a host in its turn and not back yet empties itself */
            if (from == home || y->down[from] ||
                (y->busy[from] && !step_done(y, hname(y, from), "exit_maintenance")))
                continue;
            int want = 0;
            const char *k;
            json_t *v;
            json_object_foreach(y->homes, k, v)
                if (!strcmp(json_string_value(v), hname(y, home)) && runs_on(live, k) == from)
                    want++;
            if (!want)
                continue;
            co_evac *e = malloc(sizeof *e);
            if (!e) {
                rc = co_diag_set(d, CO_ENOMEM, "out of memory");
                break;
            }
            /* the home is open: evac_setup skips closed hosts, and from may
             * itself be closed (a VM of home on a host now in maintenance) */
            pthread_mutex_lock(&y->place_mu);
            evac_setup(y, e, from, home);
            struct mig_ctx mc;
            mig_ctx_init(&mc, y, from, "rebalance");
            co_evac_opts eo = {.src_uri = y->c->hosts[from].uri, .allow = y->o.allow,
                               .measure_dirty = 1, .unmovable = CO_EVAC_LEAVE,
                               .timeout_ms = y->tmo, .stop_flag = y->o.stop_flag,
                               .stop_signo = y->o.stop_signo, .on_mig = on_mig,
                               .on_mig_arg = &mc};
            co_diag ed;
            co_diag_init(&ed);
            int inv = e->ndests == 1 ? co_evac_inventory(e, &eo, &ed) : CO_EUNAVAIL;
            int planned = 0;
            if (inv == CO_OK) {
                drop_stale_copies(y, e, from);
                apply_bookings(y, e);
                int movable = 0;
                for (int i = 0; i < e->nvms; i++) {
                    co_evac_vm *ev = &e->vms[i];
                    json_t *hv = json_object_get(y->homes, ev->name);
                    if (!hv || strcmp(json_string_value(hv), hname(y, home)))
                        snprintf(ev->blocker, sizeof ev->blocker, "stays (not returning)");
                    else if (!ev->blocker[0])
                        movable++;
                }
                evac_groups(y, e);
                calib_in(y, e);
                planned = movable && co_evac_plan(e, &ed) == CO_OK;
                if (planned)
                    book_plan(y, &mc, e);
            }
            pthread_mutex_unlock(&y->place_mu);
            if (inv == CO_OK) {
                co_evac_result er = {.total_time_ms = NAN};
                if (planned) {
                    co_evac_run(e, &eo, &er, &ed);
                    release_all(y, &mc, e);
                    calib_out(y, e, from);
                }
                for (int i = 0; i < e->nvms; i++) {
                    json_t *hv = json_object_get(y->homes, e->vms[i].name);
                    if (hv && !strcmp(json_string_value(hv), hname(y, home)) &&
                        strcmp(e->vms[i].status, "completed"))
                        (*pending)++;
                }
            } else
                *pending += want;
            free(e);
            if (stopping(y))
                rc = co_diag_set(d, CO_ECANCELED, "stopped by a signal during rebalance");
        }
    }
    json_t *after = live_map(y);
    co_diag od;
    co_diag_init(&od);
    resume_orphans(y, after, &od);
    json_decref(after);
    json_decref(live);
    pthread_mutex_unlock(&y->rebal_mu);
    return rc;
}

/* Start the VMs shut down on h for its patch (unmovable "after_return"). */
static void restart_after_return(co_cyc *y, int h)
{
    json_t *started = json_object(), *all = recs_snap(y);
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
        if (is_ev(r, "vm_outage") && str_is(r, "action", "start"))
            json_object_set_new(started, json_string_value(json_object_get(r, "vm")),
                                json_true());
    json_array_foreach(all, i, r) {
        if (!is_ev(r, "vm_outage") || !str_is(r, "action", "shutdown") ||
            !str_is(r, "host", hname(y, h)))
            continue;
        const char *vm = json_string_value(json_object_get(r, "vm"));
        if (!vm || json_object_get(started, vm))
            continue;
        co_diag d;
        co_diag_init(&d);
        /* a QEMU start under load takes longer than a query (seen: over
         * 5 s at load 26, the start then completed unjournaled) */
        int st = co_cyc_virt_start(y->c->hosts[h].uri, vm, CO_CYC_START_MS, &d);
        if (st != CO_OK && runs_on_host(y, h, vm))
            st = CO_OK;
        if (st == CO_OK) {
            rec(y, json_pack("{s:s, s:s, s:s, s:s, s:s}", "ev", "vm_outage", "vm", vm, "host",
                             hname(y, h), "action", "start", "reason", "its host returned"),
                &d);
            json_object_set_new(started, vm, json_true());
        } else
            note(y, "%s: not restarted on %s: %s", vm, hname(y, h), d.msg);
    }
    json_decref(started);
    json_decref(all);
}

/* ---- validate_vm ---- */

/* Move one VM, e->vms[vi], from src to the one destination of e (host to)
 * and wait for it, the others of e held back; purpose journaled. Under
 * rebal_mu (the caller's); takes place_mu for the plan. CO_OK when libvirt
 * shows it running on to. */
static int move_one(co_cyc *y, co_evac *e, int src, int to, const char *name,
                    const char *purpose, co_diag *d)
{
    struct mig_ctx mc;
    mig_ctx_init(&mc, y, src, purpose);
    co_evac_opts eo = {.src_uri = y->c->hosts[src].uri, .allow = y->o.allow, .measure_dirty = 1,
                       .unmovable = CO_EVAC_LEAVE, .timeout_ms = y->tmo,
                       .stop_flag = y->o.stop_flag, .stop_signo = y->o.stop_signo,
                       .on_mig = on_mig, .on_mig_arg = &mc};
    pthread_mutex_lock(&y->place_mu);
    co_evac_init(e);
    e->max_downtime_ms = y->budget_ms;
    e->cpu_ratio = y->c->plan.cpu_ratio > 0 ? y->c->plan.cpu_ratio : 16.0;
    e->deadline_ms = CO_CYC_VALIDATE_VM_MS;
    add_dest(y, e, to); /* open or not: validate_vm's host is still in maintenance */
    int rc = co_evac_inventory(e, &eo, d), vi = -1;
    if (rc == CO_OK) {
        apply_bookings(y, e);
        for (int i = 0; i < e->nvms; i++)
            if (strcmp(e->vms[i].name, name))
                snprintf(e->vms[i].blocker, sizeof e->vms[i].blocker, "stays (validate_vm)");
            else
                vi = i;
        evac_groups(y, e);
        calib_in(y, e);
        if (vi < 0)
            rc = co_diag_set(d, CO_EFAILED, "%s is no longer on %s", name, hname(y, src));
        else if (e->vms[vi].blocker[0])
            rc = co_diag_set(d, CO_EFAILED, "%s cannot go to %s: %s", name, hname(y, to),
                             e->vms[vi].blocker);
        else if ((rc = co_evac_plan(e, d)) == CO_OK && e->vms[vi].dest < 0)
            rc = co_diag_set(d, CO_EFAILED, "%s cannot go to %s: %s", name, hname(y, to),
                             e->vms[vi].blocker);
        if (rc == CO_OK)
            book_plan(y, &mc, e);
    }
    pthread_mutex_unlock(&y->place_mu);
    if (rc != CO_OK)
        return rc;
    co_evac_result er = {.total_time_ms = NAN};
    rc = co_evac_run(e, &eo, &er, d);
    release_all(y, &mc, e);
    calib_out(y, e, src);
    /* libvirt has the last word (a "failed" migration may have completed) */
    if (runs_on_host(y, to, name)) {
        co_diag_init(d);
        return CO_OK;
    }
    if (rc == CO_OK)
        rc = co_diag_set(d, CO_EFAILED, "%s does not run on %s after its migration", name,
                         hname(y, to));
    return rc == CO_ECANCELED ? rc : co_diag_set(d, CO_EFAILED, "%s -> %s: %s", name,
                                                 hname(y, to), e->vms[vi].reason[0] ?
                                                 e->vms[vi].reason : d->msg);
}

/* plan.execution.validate_vm: one small VM migrated onto the returned host
 * h and back off (left there when h is its home: the rebalance would bring
 * it anyway), each way within CO_CYC_VALIDATE_VM_MS. The VM: one whose home
 * is h, else the smallest running on an open host not in its turn. */
static int validate_vm(co_cyc *y, int h, json_t *extra, co_diag *d)
{
    co_evac *e = malloc(sizeof *e);
    if (!e)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    pthread_mutex_lock(&y->rebal_mu);
    int src = -1, home = 0;
    double best = INFINITY;
    char name[128] = "";
    for (int k = 0; k < y->c->nhosts; k++) {
        pthread_mutex_lock(&y->place_mu);
        int skip = k == h || !y->c->hosts[k].uri || y->closed[k] || y->down[k] || y->busy[k];
        pthread_mutex_unlock(&y->place_mu);
        if (skip)
            continue;
        co_evac_init(e);
        add_dest(y, e, h);
        co_evac_opts eo = {.src_uri = y->c->hosts[k].uri, .allow = y->o.allow,
                           .timeout_ms = y->tmo, .stop_flag = y->o.stop_flag,
                           .stop_signo = y->o.stop_signo};
        co_diag id;
        co_diag_init(&id);
        if (co_evac_inventory(e, &eo, &id) != CO_OK)
            continue;
        for (int i = 0; i < e->nvms; i++) {
            const co_evac_vm *v = &e->vms[i];
            json_t *hv = json_object_get(y->homes, v->name);
            int is_home = hv && !strcmp(json_string_value(hv), hname(y, h));
            if (v->blocker[0] || !v->cpu_ok[0] || (home && !is_home))
                continue;
            if ((is_home && !home) || v->mem_bytes < best) {
                best = v->mem_bytes;
                home = is_home;
                src = k;
                snprintf(name, sizeof name, "%s", v->name);
            }
        }
    }
    int rc = CO_OK;
    if (src < 0) {
        rc = co_diag_set(d, CO_EFAILED, "%s: validate_vm: no running VM on an open host can "
                         "go there", hname(y, h));
        goto out;
    }
    json_object_set_new(extra, "validate_vm", json_pack("{s:s, s:s, s:b}", "vm", name, "from",
                                                        hname(y, src), "home", home));
    if (y->o.progress)
        fprintf(stderr, "cutover cycle: %s: validate_vm %s from %s%s\n", hname(y, h), name,
                hname(y, src), home ? " (home: it stays)" : " and back");
    if ((rc = move_one(y, e, src, h, name, "validate", d)) != CO_OK)
        goto fail;
    if (!home && (rc = move_one(y, e, h, src, name, "validate", d)) != CO_OK)
        goto fail;
    goto out;
fail:
    if (rc != CO_ECANCELED) {
        char m[sizeof d->msg];
        snprintf(m, sizeof m, "%s", d->msg);
        rc = co_diag_set(d, CO_EFAILED, "%s: validate_vm: %s", hname(y, h), m);
    }
out:
    pthread_mutex_unlock(&y->rebal_mu);
    free(e);
    return rc;
}

/* ---- rebalance "balance" ---- */

/* plan.rebalance "balance": move VMs so free memory evens out over the open
 * hosts (those not in maintenance, in their turn only once back): free =
 * the host's memory in the file (what the simulator places against) minus
 * its VMs' memory (libvirt's list). Greedy: the VM of the host with the
 * least free memory that narrows the gap to the host with the most without
 * reversing it (m < gap: the sum of squares falls, so it ends), largest
 * first, at most one move per VM of the cluster. Each move goes through the
 * same placement rules (move_one: memory, vCPUs, anti-affinity, CPU, the
 * other evacuations' bookings); a move refused for room is retried after a
 * backoff (return_backoff, doubled, 3 tries), then balancing stops there. */
static int balance(co_cyc *y, int *moves, co_diag *d)
{
    *moves = 0;
    int H = y->c->nhosts, rc = CO_OK;
    co_evac *e = malloc(sizeof *e);
    double *freem = calloc((size_t)H, sizeof(double));
    if (!e || !freem) {
        free(e);
        free(freem);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&y->rebal_mu);
    double backoff = y->c->exec.return_backoff_ms > 0 ? y->c->exec.return_backoff_ms : 1000;
    int tries = 0;
    for (int round = 0; round < y->c->nvms + H && !stopping(y); round++) {
        int lo = -1, hi = -1;
        char cand[128] = "";
        double cm = 0;
        for (int k = 0; k < H; k++) {
            freem[k] = NAN;
            pthread_mutex_lock(&y->place_mu);
            int open = y->c->hosts[k].uri && !y->closed[k] && !y->down[k] &&
                       (!y->busy[k] || step_done(y, hname(y, k), "exit_maintenance"));
            pthread_mutex_unlock(&y->place_mu);
            if (!open || y->c->hosts[k].mem_bytes <= 0)
                continue;
            co_cyc_dom *doms = malloc(sizeof(co_cyc_dom) * CO_CYC_MAX_DOMS);
            int n = 0;
            co_diag ld;
            co_diag_init(&ld);
            if (!doms || co_cyc_virt_list(y->c->hosts[k].uri, y->tmo, doms, CO_CYC_MAX_DOMS, &n,
                                          &ld) != CO_OK) {
                free(doms);
                continue;
            }
            double used = 0;
            for (int i = 0; i < n; i++)
                for (int v = 0; v < y->c->nvms; v++)
                    if (!strcmp(y->c->vms[v].name, doms[i].name))
                        used += y->c->vms[v].mem_bytes;
            free(doms);
            freem[k] = y->c->hosts[k].mem_bytes - used;
            if (lo < 0 || freem[k] < freem[lo])
                lo = k;
            if (hi < 0 || freem[k] > freem[hi])
                hi = k;
        }
        if (lo < 0 || hi < 0 || lo == hi)
            break;
        double gap = freem[hi] - freem[lo];
        /* the VM on lo: largest with m <= gap/2, else the smallest with m < gap */
        co_evac_init(e);
        co_evac_opts eo = {.src_uri = y->c->hosts[lo].uri, .allow = y->o.allow,
                           .timeout_ms = y->tmo, .stop_flag = y->o.stop_flag,
                           .stop_signo = y->o.stop_signo};
        co_diag id;
        co_diag_init(&id);
        if (co_evac_inventory(e, &eo, &id) != CO_OK)
            break;
        for (int i = 0; i < e->nvms; i++) {
            const co_evac_vm *v = &e->vms[i];
            double m = v->mem_bytes;
            if (v->blocker[0] || m <= 0 || m >= gap)
                continue;
            int better = !cand[0] || (m <= gap / 2 ? (cm > gap / 2 || m > cm)
                                                   : (cm > gap / 2 && m < cm));
            if (better) {
                cm = m;
                snprintf(cand, sizeof cand, "%s", v->name);
            }
        }
        if (!cand[0])
            break; /* even, as far as whole VMs go */
        co_diag md;
        co_diag_init(&md);
        int mrc = move_one(y, e, lo, hi, cand, "rebalance", &md);
        if (mrc == CO_ECANCELED) {
            rc = co_diag_set(d, CO_ECANCELED, "stopped by a signal during rebalance");
            break;
        }
        if (mrc == CO_OK) {
            (*moves)++;
            tries = 0;
            continue;
        }
        if (strstr(md.msg, "room") && ++tries < 3) {
            note(y, "balance: %s -> %s: memory short, again in %.0f s", cand, hname(y, hi),
                 backoff / 1e3);
            nap(y, backoff);
            backoff = backoff * 2 > 30e3 ? 30e3 : backoff * 2;
            continue;
        }
        note(y, "balance: %s -> %s did not move (%s); balancing stops here", cand,
             hname(y, hi), md.msg);
        break;
    }
    pthread_mutex_unlock(&y->rebal_mu);
    free(freem);
    free(e);
    return rc;
}

/* The version the patch hook promised ("version=X" in its last line). */
static int promised_version(const co_cyc *y, int h, char *out, size_t len)
{
    json_t *r = last_step_end(y, hname(y, h), "apply");
    return r && version_in(json_string_value(json_object_get(r, "hook_last_line")), out, len);
}

static int do_step(co_cyc *y, int h, int s, json_t *extra, co_diag *d)
{
    int rc = CO_OK, hk = step_hook[s];
    switch (s) {
    case CO_CYC_S_PREFLIGHT: {
        char ver[160];
        if ((rc = co_cyc_virt_probe(y->c->hosts[h].uri, y->tmo, ver, sizeof ver, d)) != CO_OK)
            return rc;
        json_object_set_new(extra, "version", json_string(ver));
        if ((rc = evacuate(y, h, 0, extra, d)) != CO_OK)
            return rc;
        co_pf_opts po = {.journal_dir = y->jdir, .stop_flag = y->o.stop_flag, .down = y->down};
        if ((rc = co_pf_mtu_step(y->c, h, &po, extra, d)) != CO_OK)
            return rc;
        if ((rc = co_pf_host_step(y->c, h, &po, extra, d)) != CO_OK)
            return rc;
        break;
    }
    case CO_CYC_S_ENTER:
        pthread_mutex_lock(&y->place_mu);
        y->closed[h] = 1;
        pthread_mutex_unlock(&y->place_mu);
        break;
    case CO_CYC_S_EVAC:
        return evacuate(y, h, 1, extra, d);
    case CO_CYC_S_REBOOT:
    case CO_CYC_S_FW_REBOOT: {
        /* the last word before a reboot: nothing runs there (also after a
         * resume, when the evacuate step is not run again) */
        int stale = 0;
        char first[128];
        int n = vms_on(y, h, &stale, first, sizeof first);
        if (n < 0 && started_before(y, hname(y, h), co_cyc_step_names[s]))
            n = 0; /* a resumed reboot: the host may be down in it */
        if (n < 0)
            return co_diag_set(d, CO_EFAILED, "%s: libvirt did not list its domains; not "
                               "rebooted (unknown is not empty)", hname(y, h));
        if (n > 0)
            return co_diag_set(d, CO_EFAILED, "%s: %d VM(s) run there (first: %s); not "
                               "rebooted", hname(y, h), n, first);
    }
        if (!y->c->exec.hook[CO_HOOK_REBOOT].argv)
            json_object_set_new(extra, "skipped", json_string("not configured"));
        if ((rc = run_hook(y, CO_HOOK_REBOOT, h, extra, d)) != CO_OK)
            return rc;
        return wait_return(y, h, d);
    case CO_CYC_S_FIRMWARE:
    case CO_CYC_S_STAGE:
    case CO_CYC_S_PATCH:
    case CO_CYC_S_EXIT:
        if (!y->c->exec.hook[hk].argv)
            json_object_set_new(extra, "skipped", json_string("not configured"));
        break;
    case CO_CYC_S_VALIDATE: {
        char ver[160];
        if ((rc = co_cyc_virt_probe(y->c->hosts[h].uri, y->tmo, ver, sizeof ver, d)) != CO_OK)
            return rc;
        json_object_set_new(extra, "version", json_string(ver));
        if ((rc = run_hook(y, CO_HOOK_VALIDATE, h, extra, d)) != CO_OK)
            return rc;
        char want[64], got[64];
        if (!promised_version(y, h, want, sizeof want)) {
            json_object_set_new(extra, "version_check",
                                json_string("not checked (the patch hook printed no "
                                            "version=...)"));
        } else if (!version_in(json_string_value(json_object_get(extra, "hook_last_line")), got,
                               sizeof got)) {
            return co_diag_set(d, CO_EFAILED, "%s: the patch promised version %s; the validate "
                               "hook reported none (version=... on its last line)",
                               hname(y, h), want);
        } else if (strcmp(want, got)) {
            return co_diag_set(d, CO_EFAILED, "%s: the patch promised version %s; the validate "
                               "hook reports %s", hname(y, h), want, got);
        } else
            json_object_set_new(extra, "version_check", json_sprintf("version %s as promised",
                                                                     want));
        if (y->c->exec.validate_vm && (rc = validate_vm(y, h, extra, d)) != CO_OK)
            return rc;
        if (y->c->exec.unmovable == CO_UNMOV_AFTER_RETURN)
            restart_after_return(y, h);
        return CO_OK;
    }
    case CO_CYC_S_REBALANCE: {
        int pending = 0;
        if (y->c->plan.rebalance == CO_REBAL_BALANCE) {
            rc = balance(y, &pending, d);
            json_object_set_new(extra, "moves", json_integer(pending));
            return rc;
        }
        if (y->c->plan.rebalance == CO_REBAL_DURATION) {
            json_object_set_new(extra, "skipped", json_string("plan.rebalance \"duration\""));
            return CO_OK;
        }
        rc = rebalance(y, &pending, d);
        json_object_set_new(extra, "pending", json_integer(pending));
        if (pending)
            note(y, "rebalance after %s: %d VM(s) did not go home yet (no room, or the "
                 "migration failed: see aborts); tried again after the next host", hname(y, h), pending);
        return rc;
    }
    }
    if (hk >= 0 && s != CO_CYC_S_REBOOT && s != CO_CYC_S_FW_REBOOT)
        rc = run_hook(y, hk, h, extra, d);
    if (s == CO_CYC_S_EXIT && rc == CO_OK) {
        pthread_mutex_lock(&y->place_mu);
        y->closed[h] = 0;
        pthread_mutex_unlock(&y->place_mu);
    }
    return rc;
}

/* Run step s of host h (h < 0: a cycle-wide hook step named by kind) unless
 * the journal says it is done; journal its start and end. */
static int step(co_cyc *y, int h, int s, co_diag *d)
{
    const char *host = h >= 0 ? hname(y, h) : NULL;
    const char *name = h >= 0 ? co_cyc_step_names[s] : hook_key[s];
    if (step_done(y, host, name))
        return CO_OK;
    if (stopping(y))
        return co_diag_set(d, CO_ECANCELED, "stopped by a signal before %s%s%s", name,
                           host ? " of " : "", host ? host : "");
    if (h >= 0 && s == CO_CYC_S_FIRMWARE + 1 && !y->c->exec.hook[CO_HOOK_FIRMWARE].argv) {
        /* no firmware hook: no firmware reboot either */
        return rec(y, json_pack("{s:s, s:s, s:s, s:b, s:f, s:s}", "ev", "step_end", "host", host,
                                "step", name, "ok", 1, "duration_ms", 0.0, "skipped",
                                "not configured"), d);
    }
    int rc = rec(y, json_pack("{s:s, s:o, s:s}", "ev", "step_start", "host",
                              host ? json_string(host) : json_null(), "step", name), d);
    if (rc != CO_OK)
        return rc;
    co_view_say(y, "%s%s%s ...", host ? host : "cycle", ": ", name);
    /* the step's error is its own: co_diag_set keeps the first message, so
     * one left in d by an earlier step or host (seen: h2's validate failure,
     * within the budget, named as h3's evacuate error) would mask it */
    co_diag_init(d);
    json_t *extra = json_object();
    double t0 = co_clock_ms();
    if (h >= 0)
        rc = do_step(y, h, s, extra, d);
    else
        rc = run_hook(y, s, -1, extra, d);
    double ms = co_clock_ms() - t0;
    json_t *r = json_pack("{s:s, s:o, s:s, s:b, s:f}", "ev", "step_end", "host",
                          host ? json_string(host) : json_null(), "step", name, "ok", rc == CO_OK,
                          "duration_ms", ms);
    if (r) {
        json_object_update(r, extra);
        if (rc != CO_OK)
            json_object_set_new(r, "error", json_string(d->msg));
    }
    json_decref(extra);
    co_diag jd;
    co_diag_init(&jd);
    int jrc = rec(y, r, &jd);
    co_view_update(y);
    if (rc == CO_OK && jrc != CO_OK) {
        *d = jd;
        return jrc;
    }
    return rc;
}

/* All of host h's steps from its first unfinished one. CO_OK when done
 * (host_end ok written); otherwise the step's error, with *stop set when
 * the cycle must stop. */
static int run_host(co_cyc *y, int h, int *stop, co_diag *d)
{
    *stop = 0;
    int rc = CO_OK, s;
    for (s = 0; s < CO_CYC_S_N && rc == CO_OK; s++)
        rc = step(y, h, s, d);
    if (rc == CO_OK)
        return rec(y, json_pack("{s:s, s:s, s:b}", "ev", "host_end", "host", hname(y, h), "ok",
                                1), d);
    s--;
    if (rc == CO_ECANCELED || stopping(y)) {
        *stop = 1;
        return CO_ECANCELED;
    }
    json_t *pf = last_step_end(y, hname(y, h), "preflight");
    if (s == CO_CYC_S_PREFLIGHT && pf && json_is_true(json_object_get(pf, "left_unpatched"))) {
        /* the plan's choice (unmovable "leave"), not a failure: reported,
         * not counted against the budget */
        note(y, "%s left unpatched: %s", hname(y, h), d->msg);
        co_diag_init(d);
        return rec(y, json_pack("{s:s, s:s, s:b, s:s, s:b, s:b}", "ev", "host_end", "host",
                                hname(y, h), "ok", 0, "reason", "left unpatched (unmovable VMs)",
                                "left_unpatched", 1, "in_maintenance", 0), d);
    }
    /* hosts in maintenance at once come here from their own threads: one
     * verdict at a time, the first stop's reason is the cycle's */
    pthread_mutex_lock(&y->vmu);
    if (rc == CO_ETIMEDOUT && (s == CO_CYC_S_REBOOT || s == CO_CYC_S_FW_REBOOT)) {
        *stop = 1;
        if (!y->reason[0])
            snprintf(y->reason, sizeof y->reason, "%.600s; it stays in maintenance, no other "
                     "host was touched after it", d->msg);
        pthread_mutex_unlock(&y->vmu);
        return CO_EFAILED;
    }
    if (y->phase[h] == 0) {
        *stop = 1;
        if (!y->reason[0])
            snprintf(y->reason, sizeof y->reason, "canary %s failed %s: %.450s", hname(y, h),
                     co_cyc_step_names[s], d->msg);
        pthread_mutex_unlock(&y->vmu);
        return CO_EFAILED;
    }
    /* a failed host: within the budget the cycle goes on; a host that failed
     * before its patch is reopened (nothing changed on it) */
    int fails = failed_hosts(y) + 1;
    if (fails > y->c->exec.fail_hosts_max) {
        *stop = 1;
        if (!y->reason[0])
            snprintf(y->reason, sizeof y->reason, "failure budget: %d failed host(s), %d "
                     "tolerated; last: %.400s", fails, y->c->exec.fail_hosts_max, d->msg);
        pthread_mutex_unlock(&y->vmu);
        return CO_EFAILED;
    }
    int reopened = 0;
    pthread_mutex_lock(&y->place_mu);
    if (s < CO_CYC_S_PATCH && y->closed[h]) {
        y->closed[h] = 0;
        reopened = 1;
    }
    pthread_mutex_unlock(&y->place_mu);
    co_diag jd;
    co_diag_init(&jd);
    rec(y, json_pack("{s:s, s:s, s:b, s:s, s:b}", "ev", "host_end", "host", hname(y, h), "ok",
                     0, "reason", d->msg, "in_maintenance", !reopened), &jd);
    pthread_mutex_unlock(&y->vmu);
    note(y, "%s failed (%s); within the failure budget (%d of %d), the cycle goes on",
         hname(y, h), d->msg, fails, y->c->exec.fail_hosts_max);
    return rc;
}

/* ---- resume ---- */

/* Hosts in maintenance according to the journal. */
static void closed_from_journal(co_cyc *y)
{
    for (int h = 0; h < y->c->nhosts; h++) {
        json_t *he = host_end(y, hname(y, h));
        y->closed[h] = step_done(y, hname(y, h), "enter_maintenance") &&
                       !step_done(y, hname(y, h), "exit_maintenance") &&
                       !(he && json_is_false(json_object_get(he, "in_maintenance")));
    }
}

/* Paused VMs: resumed on the side that owns them (the only copy; a paused
 * copy beside a running one is an incoming migration's leftover, libvirt's
 * to clean). */
static void resume_orphans(co_cyc *y, json_t *live, co_diag *d)
{
    int complete = 0; /* every host answered a fresh listing */
    size_t k;
    const char *name;
    json_t *a;
    json_object_foreach(live, name, a) {
        json_t *o;
        int running = runs_on(live, name) >= 0;
        json_array_foreach(a, k, o) {
            if (!json_is_true(json_object_get(o, "paused")) ||
                json_is_true(json_object_get(o, "job")))
                continue;
            int h = (int)json_integer_value(json_object_get(o, "host"));
            if (running) {
                note(y, "%s: paused on %s while it runs elsewhere (left to libvirt)", name,
                     hname(y, h));
                continue;
            }
            /* never on a partial view: the running copy may be on a host
             * that did not answer (two running copies of one disk) */
            if (!complete) {
                int *unl = calloc((size_t)y->c->nhosts, sizeof(int));
                json_t *fresh = live_map_ex(y, unl);
                complete = unl != NULL;
                for (int q = 0; unl && q < y->c->nhosts; q++)
                    if (unl[q] && y->c->hosts[q].uri)
                        complete = 0;
                int runs = runs_on(fresh, name) >= 0;
                json_decref(fresh);
                free(unl);
                if (!complete || runs) {
                    note(y, "%s: paused on %s, not resumed: %s", name, hname(y, h),
                         runs ? "it runs elsewhere" : "a host did not answer (its running copy "
                         "may be there)");
                    complete = 0;
                    continue;
                }
            }
            co_diag rd;
            co_diag_init(&rd);
            if (co_cyc_virt_resume(y->c->hosts[h].uri, name, y->tmo, &rd) == CO_OK) {
                rec(y, json_pack("{s:s, s:s, s:s}", "ev", "vm_resumed", "vm", name, "host",
                                 hname(y, h)), d);
                note(y, "%s: found paused on %s, resumed", name, hname(y, h));
            } else
                note(y, "%s: paused on %s and not resumed: %s", name, hname(y, h), rd.msg);
        }
    }
}

/* Make the journal agree with libvirt: migrations that were in flight,
 * paused VMs. Never migrates. */
static int reconcile(co_cyc *y, co_diag *d)
{
    json_t *live = live_map(y);
    /* migrations started and not ended: wait for libvirt to finish them (a
     * peer-to-peer migration goes on without us), then look where the VM is */
    size_t i, k;
    json_t *r, *r2;
    json_array_foreach(y->recs, i, r) {
        if (!is_ev(r, "mig_start"))
            continue;
        const char *vm = json_string_value(json_object_get(r, "vm"));
        int ended = 0;
        for (k = i + 1; k < json_array_size(y->recs); k++) {
            r2 = json_array_get(y->recs, k);
            if (is_ev(r2, "mig_end") && str_is(r2, "vm", vm))
                ended = 1;
        }
        if (ended || !vm)
            continue;
        /* the request may still sit in the source daemon's queue (seen under
         * load: a migration began seconds after the cutover that asked for it
         * died): "not moved" only after it stayed on its source, running and
         * without a job, for CO_CYC_QUIET_MS */
        int to = host_by_name(y, json_string_value(json_object_get(r, "to")));
        int from = host_by_name(y, json_string_value(json_object_get(r, "from")));
        double end = co_clock_ms() + 120e3, quiet = 0;
        for (;;) {
            int busy = 0, at = runs_on(live, vm);
            json_t *a = json_object_get(live, vm), *o;
            json_array_foreach(a, k, o)
                busy |= json_is_true(json_object_get(o, "job"));
            if (!busy && to >= 0 && at == to)
                break;
            if (!busy && at >= 0 && at == from) {
                if (!quiet)
                    quiet = co_clock_ms();
            } else
                quiet = 0;
            if ((quiet && co_clock_ms() - quiet > CO_CYC_QUIET_MS) || co_clock_ms() > end ||
                stopping(y))
                break;
            nap(y, 1000);
            json_decref(live);
            live = live_map(y);
        }
        int at = runs_on(live, vm);
        int moved = to >= 0 && at == to;
        json_t *e = json_pack("{s:s, s:s, s:O, s:O, s:s, s:b, s:n, s:n, s:O}", "ev", "mig_end",
                              "vm", vm, "from", json_object_get(r, "from"), "to",
                              json_object_get(r, "to"), "status", moved ? "completed" : "failed",
                              "reconciled", 1, "time_ms", "downtime_ms", "purpose",
                              json_object_get(r, "purpose"));
        if (!moved && e)
            json_object_set_new(e, "error", json_sprintf("cutover stopped during it; found %s",
                                                         at >= 0 ? hname(y, at)
                                                                 : "running nowhere"));
        int rc = rec(y, e, d);
        if (rc != CO_OK)
            goto out;
        note(y, "%s: the migration %s -> %s in flight when cutover stopped %s", vm,
             json_string_value(json_object_get(r, "from")),
             json_string_value(json_object_get(r, "to")),
             moved ? "completed (counted as moved)" : "did not complete");
    }
    resume_orphans(y, live, d);
    closed_from_journal(y);
out:
    json_decref(live);
    return d->code < 0 ? d->code : CO_OK;
}

/* ---- dry run ---- */

static int dry_run(co_cyc *y, co_diag *d)
{
    const co_sim_cluster *c = y->c;
    json_t *p = json_object(), *hosts = json_array();
    int unreachable = 0, unplaced = 0;
    int mtu_failed = 0, probe_failed = 0;
    for (int i = 0; i < y->norder; i++) {
        int h = y->order[i];
        char ver[160] = "";
        co_diag pd;
        co_diag_init(&pd);
        y->down[h] = co_cyc_virt_probe(c->hosts[h].uri, y->tmo, ver, sizeof ver, &pd) != CO_OK;
        json_t *o = json_pack("{s:s, s:s, s:b, s:i, s:b}", "name", hname(y, h), "uri",
                              c->hosts[h].uri, "canary", y->phase[h] == 0, "phase", y->phase[h],
                              "reachable", !y->down[h]);
        json_object_set_new(o, "failure_domain", c->ndomains ? json_string(
                                c->domains[c->hosts[h].domain]) : json_null());
        json_object_set_new(o, "version", y->down[h] ? json_null() : json_string(ver));
        if (y->down[h]) {
            json_object_set_new(o, "error", json_string(pd.msg));
            unreachable++;
        }
        json_array_append_new(hosts, o);
    }
    for (size_t i = 0; i < json_array_size(hosts); i++) {
        json_t *o = json_array_get(hosts, i);
        int h = y->order[i];
        if (y->down[h])
            continue;
        co_evac *e = malloc(sizeof *e);
        if (!e) {
            json_decref(p);
            json_decref(hosts);
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        }
        evac_setup(y, e, h, -1);
        co_evac_opts eo = {.src_uri = c->hosts[h].uri, .allow = y->o.allow, .measure_dirty = 1,
                           .timeout_ms = y->tmo, .stop_flag = y->o.stop_flag,
                           .stop_signo = y->o.stop_signo};
        co_diag ed;
        co_diag_init(&ed);
        json_t *vms = json_array();
        if (co_evac_inventory(e, &eo, &ed) == CO_OK) {
            evac_groups(y, e);
            calib_in(y, e);
            if (e->nvms && co_evac_plan(e, &ed) != CO_OK)
                json_object_set_new(o, "error", json_string(ed.msg));
            for (int k = 0; k < e->nvms; k++) {
                co_evac_vm *v = &e->vms[k];
                int to = v->dest >= 0 ? host_by_uri(y, e->dests[v->dest].uri) : -1;
                json_t *vo = json_pack("{s:s, s:f, s:i}", "name", v->name, "mem_bytes",
                                       v->mem_bytes, "vcpus", v->vcpus);
                json_object_set_new(vo, "to", to >= 0 ? json_string(hname(y, to)) : json_null());
                json_object_set_new(vo, "order", json_integer(v->order));
                json_object_set_new(vo, "predicted_time_ms", v->dest >= 0
                                        ? json_real(v->pred_time_ms) : json_null());
                json_object_set_new(vo, "predicted_downtime_ms", v->dest >= 0
                                        ? json_real(v->pred_downtime_ms) : json_null());
                if (v->blocker[0]) {
                    json_object_set_new(vo, "blocker", json_string(v->blocker));
                    json_object_set_new(vo, "handling", json_string(
                        no_room(v) ? "none: the host cannot be emptied"
                        : transient(v) ? "waits for it to settle (never shut down for it)"
                        : c->exec.unmovable == CO_UNMOV_LEAVE ? "leave: host left unpatched"
                        : c->exec.unmovable == CO_UNMOV_AFTER_RETURN
                            ? "shut down, restarted when its host returns"
                            : "shut down, restarted on another host"));
                    unplaced += no_room(v);
                }
                json_array_append_new(vms, vo);
                if (!json_object_get(y->homes, v->name))
                    json_object_set_new(y->homes, v->name, json_string(hname(y, h)));
            }
            json_object_set_new(o, "concurrency", json_integer(e->k));
            json_object_set_new(o, "predicted_evacuation_ms",
                                e->nvms ? json_real(e->pred_total_ms) : json_real(0));
        } else {
            json_object_set_new(o, "error", json_string(ed.msg));
            unplaced++;
        }
        json_object_set_new(o, "vms", vms);
        free(e);
        co_pf_opts po = {.stop_flag = y->o.stop_flag, .down = y->down};
        co_diag md;
        co_diag_init(&md);
        mtu_failed += co_pf_mtu_step(c, h, &po, o, &md) == CO_EFAILED;
        probe_failed += co_pf_host_step(c, h, &po, o, &md) == CO_EFAILED;
    }
    json_t *hooks = json_object();
    for (int k = 0; k < CO_HOOK_N; k++) {
        const co_sim_hook *hk = &c->exec.hook[k];
        json_t *argv = json_array();
        for (int a = 0; hk->argv && hk->argv[a]; a++)
            json_array_append_new(argv, json_string(hk->argv[a]));
        json_object_set_new(hooks, hook_key[k], hk->argv ? argv : json_null());
        if (!hk->argv)
            json_decref(argv);
    }
    json_object_set_new(p, "status", json_string("planned"));
    json_object_set_new(p, "file", json_string(y->o.file));
    json_object_set_new(p, "max_hosts_in_maintenance", json_integer(c->plan.max_in_maint));
    json_object_set_new(p, "hosts", hosts);
    json_object_set_new(p, "hooks", hooks);
    json_object_set_new(p, "firmware", json_string(c->exec.hook[CO_HOOK_FIRMWARE].argv
                                                   ? "configured" : "not configured"));
    y->plan = p;
    if (unreachable)
        return co_diag_set(d, CO_EUNAVAIL, "%d host(s) do not answer (see the plan)",
                           unreachable);
    if (unplaced)
        return co_diag_set(d, CO_EFAILED, "%d VM(s) or host(s) cannot be placed (see the plan)",
                           unplaced);
    if (mtu_failed)
        return co_diag_set(d, CO_EFAILED, "%d host(s) fail the MTU path check (see the plan)",
                           mtu_failed);
    if (probe_failed)
        return co_diag_set(d, CO_EFAILED, "%d host(s) fail the clock or scratch check (see the "
                           "plan)", probe_failed);
    return CO_OK;
}

/* ---- the run ---- */

static void forecast(co_cyc *y)
{
    co_sim_mc_opts mo = {.runs = y->forecast_runs, .seed = 1, .threads = 2};
    co_diag d;
    co_diag_init(&d);
    if (co_sim_mc(y->c, &mo, &y->fc, &d) == CO_OK)
        y->have_fc = 1;
    else
        note(y, "forecast: %s", d.msg);
}

static int finish(co_cyc *y, const char *status, const char *reason, co_diag *d)
{
    snprintf(y->status, sizeof y->status, "%s", status);
    if (reason && reason != y->reason)
        snprintf(y->reason, sizeof y->reason, "%s", reason);
    json_t *first = json_array_get(y->recs, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    double t0 = json_number_value(json_object_get(first, "t_ms"));
    co_diag jd;
    co_diag_init(&jd);
    json_t *r = json_pack("{s:s, s:s, s:f}", "ev", "cycle_end", "status", status, "window_ms",
                          now - t0);
    if (r && y->reason[0])
        json_object_set_new(r, "reason", json_string(y->reason));
    int jrc = rec(y, r, &jd);
    co_view_update(y);
    if (d->code == CO_OK && jrc != CO_OK)
        *d = jd;
    return CO_OK;
}

/* ---- hosts in maintenance at once ---- */

/* One host's run on a thread of its own. */
struct host_slot {
    co_cyc *y;
    int h, used, joinable, done, stop, rc; /* done under y->vmu */
    pthread_t t;
    co_diag d;
};

static void *host_main(void *arg)
{
    struct host_slot *sl = arg;
    co_diag dd;
    co_diag_init(&dd);
    int stop = 0;
    int rc = run_host(sl->y, sl->h, &stop, &dd);
    pthread_mutex_lock(&sl->y->vmu);
    sl->d = dd;
    sl->rc = rc;
    sl->stop = stop;
    sl->done = 1;
    pthread_mutex_unlock(&sl->y->vmu);
    return NULL;
}

static void set_busy(co_cyc *y, int h, int v)
{
    pthread_mutex_lock(&y->place_mu);
    y->busy[h] = v;
    pthread_mutex_unlock(&y->place_mu);
}

/* Run the hosts as the simulator does (sim/run.c try_start_hosts): in
 * order, up to plan.max_hosts_in_maintenance at once, one phase at a time
 * (the canaries, then each failure domain): a phase starts when the one
 * before it is done, the first after the canaries also after the soak.
 * Each host runs on a thread of its own. A stop rule (or the VM budget)
 * starts no further host; those in flight finish their steps (leaving one
 * half-way would strand it in maintenance). CO_OK, CO_ECANCELED, or CO_OK
 * with *stopped set (y->reason says why). */
static int run_hosts(co_cyc *y, int *stopped, co_diag *d)
{
    int lim = y->c->plan.max_in_maint > 0 ? y->c->plan.max_in_maint : 1;
    if (lim > y->norder)
        lim = y->norder > 0 ? y->norder : 1;
    struct host_slot *sl = calloc((size_t)lim, sizeof *sl);
    if (!sl)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int next = 0, inflight = 0, cur = -1, soaked = 0, halt = 0, cancelled = 0;
    co_diag first;
    co_diag_init(&first);
    *stopped = 0;
    for (;;) {
        for (int k = 0; k < lim; k++) {
            if (!sl[k].used)
                continue;
            pthread_mutex_lock(&y->vmu);
            int done = sl[k].done;
            pthread_mutex_unlock(&y->vmu);
            if (!done)
                continue;
            if (sl[k].joinable)
                pthread_join(sl[k].t, NULL);
            sl[k].used = 0;
            inflight--;
            set_busy(y, sl[k].h, 0);
            if (sl[k].rc == CO_ECANCELED) {
                if (!cancelled)
                    first = sl[k].d;
                cancelled = 1;
            } else if (sl[k].stop) {
                if (!halt && !cancelled)
                    first = sl[k].d;
                halt = 1;
            } else if (y->c->exec.fail_vms_over_budget_max >= 0 &&
                       vms_over_budget(y) > y->c->exec.fail_vms_over_budget_max) {
                pthread_mutex_lock(&y->vmu);
                if (!y->reason[0])
                    snprintf(y->reason, sizeof y->reason, "failure budget: %d VM(s) over the "
                             "%.0f ms stun budget, %d tolerated", vms_over_budget(y),
                             y->budget_ms, y->c->exec.fail_vms_over_budget_max);
                pthread_mutex_unlock(&y->vmu);
                halt = 1;
            }
        }
        while (!halt && !cancelled && !stopping(y) && inflight < lim && next < y->norder) {
            int h = y->order[next];
            if (y->phase[h] > 0 && !soaked) {
                if (inflight > 0)
                    break; /* the canaries first, alone */
                soaked = 1;
                int had_canary = next > 0 && y->phase[y->order[0]] == 0;
                double soak = y->c->plan.canary_soak_us / 1e3;
                if (had_canary && soak > 0 && !step_done(y, NULL, "canary_soak")) {
                    note(y, "canary soak: %.0f s", soak / 1e3);
                    nap(y, soak);
                    if (!stopping(y))
                        rec(y, json_pack("{s:s, s:n, s:s, s:b, s:f}", "ev", "step_end", "host",
                                         "step", "canary_soak", "ok", 1, "duration_ms", soak),
                            d);
                }
                continue;
            }
            if (host_end(y, hname(y, h))) {
                next++;
                continue;
            }
            if (cur >= 0 && y->phase[h] != cur && inflight > 0)
                break; /* one phase (failure domain) at a time */
            cur = y->phase[h];
            next++;
            struct host_slot *s = NULL;
            for (int k = 0; k < lim && !s; k++)
                if (!sl[k].used)
                    s = &sl[k];
            memset(s, 0, sizeof *s);
            s->y = y;
            s->h = h;
            s->used = 1;
            set_busy(y, h, 1);
            inflight++;
            if (pthread_create(&s->t, NULL, host_main, s) == 0)
                s->joinable = 1;
            else
                host_main(s); /* no thread: run here (done is set, reaped below) */
        }
        if (inflight == 0 && (halt || cancelled || stopping(y) || next >= y->norder))
            break;
        usleep(100000);
    }
    free(sl);
    if (cancelled || stopping(y)) {
        if (first.code != CO_ECANCELED)
            co_diag_set(&first, CO_ECANCELED, "stopped by a signal");
        *d = first;
        return CO_ECANCELED;
    }
    if (halt) {
        *stopped = 1;
        *d = first;
    }
    return CO_OK;
}

int co_cyc_run(co_cyc *y, co_diag *d)
{
    if (y->o.forecast)
        forecast(y);
    if (y->o.dry_run) {
        calib_seed(y);
        return dry_run(y, d);
    }
    if (!y->o.journal_path)
        return co_diag_set(d, CO_EUSAGE, "--journal PATH is required to run a cycle");
    int rc = co_jrn_open(y->o.journal_path, y->o.resume, &y->j, d);
    if (rc != CO_OK) {
        snprintf(y->status, sizeof y->status, "%s", rc == CO_EBUSY ? "busy" : "failed");
        return rc;
    }
    if ((rc = co_jrn_dir(y->o.journal_path, y->jdir, sizeof y->jdir, d)) != CO_OK)
        return rc;
    if (y->o.resume) {
        json_t *old = NULL;
        int torn = 0;
        if ((rc = co_jrn_read(y->o.journal_path, &old, &torn, d)) != CO_OK)
            return rc;
        json_array_extend(y->recs, old);
        json_decref(old);
        json_t *first = json_array_get(y->recs, 0);
        if (!is_ev(first, "cycle_start")) {
            return co_diag_set(d, CO_EDATA, "%s: no cycle_start record: not a cycle journal "
                               "(or empty; run without --resume)", y->o.journal_path);
        }
        json_t *last = json_array_get(y->recs, json_array_size(y->recs) - 1);
        if (is_ev(last, "cycle_end") && str_is(last, "status", "completed")) {
            snprintf(y->status, sizeof y->status, "completed");
            note(y, "the journal's cycle completed already; nothing to do");
            return CO_OK;
        }
        json_t *h = json_object_get(first, "vms");
        if (json_is_object(h))
            json_object_update(y->homes, h);
        if ((rc = rec(y, json_pack("{s:s, s:i, s:b}", "ev", "resume", "pid", (int)getpid(),
                                   "torn", torn || co_jrn_torn(y->j)), d)) != CO_OK)
            return rc;
        calib_seed(y);
        if ((rc = reconcile(y, d)) != CO_OK)
            return rc;
    } else {
        json_t *live = live_map(y);
        const char *name;
        json_t *a;
        json_object_foreach(live, name, a) {
            int at = runs_on(live, name);
            if (at < 0)
                at = (int)json_integer_value(json_object_get(json_array_get(a, 0), "host"));
            json_object_set_new(y->homes, name, json_string(hname(y, at)));
        }
        json_decref(live);
        json_t *hosts = json_array();
        for (int i = 0; i < y->norder; i++)
            json_array_append_new(hosts, json_string(hname(y, y->order[i])));
        json_t *r = json_pack("{s:s, s:s, s:o, s:i, s:s, s:O}", "ev", "cycle_start", "file",
                              y->o.file, "hosts", hosts, "pid", (int)getpid(), "version",
                              "1", "vms", y->homes);
        if ((rc = rec(y, r, d)) != CO_OK)
            return rc;
        calib_seed(y);
    }
    snprintf(y->status, sizeof y->status, "running");
    if ((rc = step(y, -1, CO_HOOK_BEFORE_CYCLE, d)) != CO_OK)
        return finish(y, rc == CO_ECANCELED ? "cancelled" : "failed", d->msg, d), rc;
    int stopped = 0;
    rc = run_hosts(y, &stopped, d);
    if (rc == CO_ECANCELED) {
        finish(y, "cancelled", d->msg, d);
        return CO_ECANCELED;
    }
    if (stopped) {
        finish(y, "stopped", y->reason[0] ? y->reason : d->msg, d);
        /* the stop rule is the verdict (exit 1), not the step's own error */
        co_diag_init(d);
        return co_diag_set(d, CO_EFAILED, "%s", y->reason);
    }
    if (rc != CO_OK) {
        finish(y, "failed", d->msg, d);
        return rc;
    }
    /* VMs that could not go home earlier: one more try */
    int pending = 0;
    co_diag rd;
    co_diag_init(&rd);
    if (y->c->plan.rebalance == CO_REBAL_RETURN && rebalance(y, &pending, &rd) == CO_OK &&
        pending)
        note(y, "%d VM(s) are not on their home host at the end (memory short)", pending);
    if ((rc = step(y, -1, CO_HOOK_AFTER_CYCLE, d)) != CO_OK) {
        finish(y, rc == CO_ECANCELED ? "cancelled" : "failed", d->msg, d);
        return rc;
    }
    int failed = failed_hosts(y);
    if (failed) {
        snprintf(y->reason, sizeof y->reason, "%d host(s) failed within the failure budget",
                 failed);
        finish(y, "failed", y->reason, d);
        return co_diag_set(d, CO_EFAILED, "%s", y->reason);
    }
    finish(y, "completed", NULL, d);
    return CO_OK;
}
