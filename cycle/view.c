/* cycle/view.c: the TTY view of a running cycle (cycle/view.h). The
 * snapshot is a view of the journal's records, like the report
 * (cycle/report.c); the drawing erases the table it drew last (cursor up,
 * clear to the end of the screen) and draws it again below any new log
 * line, so log lines scroll above a table that stays at the bottom. */
#define _GNU_SOURCE
#include "cycle/view.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cycle/cyc_int.h"
#include "util/error.h"

/* ---- the ETA rule ---- */

/* The simulator's step for cycle step s, and the hook that does its work
 * (-1: built in, always runs). */
static const int sim_step[CO_CYC_S_N] = {
    CO_STEP_HEALTH, CO_STEP_REPO_SYNC, CO_STEP_ENTER, CO_STEP_EVACUATE, CO_STEP_APPLY,
    CO_STEP_REBOOT, CO_STEP_FIRMWARE, CO_STEP_FW_REBOOT, CO_STEP_VALIDATE, CO_STEP_EXIT,
    CO_STEP_REBALANCE,
};
static const int work_hook[CO_CYC_S_N] = {
    CO_HOOK_PREFLIGHT, CO_HOOK_STAGE, CO_HOOK_ENTER_MAINTENANCE, -1, CO_HOOK_PATCH,
    CO_HOOK_REBOOT, CO_HOOK_FIRMWARE, CO_HOOK_FIRMWARE, CO_HOOK_VALIDATE,
    CO_HOOK_EXIT_MAINTENANCE, -1,
};

double co_view_step_plan_ms(const co_sim_cluster *c, int s, double evac_pred_ms)
{
    if (s < 0 || s >= CO_CYC_S_N)
        return NAN;
    if (s == CO_CYC_S_EVAC)
        return evac_pred_ms;
    if (s == CO_CYC_S_REBALANCE)
        return c->plan.rebalance == CO_REBAL_DURATION
                   ? co_sim_dist_mean(&c->plan.step[CO_STEP_REBALANCE])
                   : evac_pred_ms;
    if (!c->exec.hook[work_hook[s]].argv)
        return 0;
    return co_sim_dist_mean(&c->plan.step[sim_step[s]]);
}

static int step_index(const char *name)
{
    for (int s = 0; name && s < CO_CYC_S_N; s++)
        if (!strcmp(co_cyc_step_names[s], name))
            return s;
    return -1;
}

static const char *sget(json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    return s ? s : "";
}

static int is_ev(json_t *r, const char *ev)
{
    return !strcmp(sget(r, "ev"), ev);
}

void co_view_free(co_view *v)
{
    if (v) {
        free(v->hosts);
        v->hosts = NULL;
    }
}

int co_view_build(json_t *recs, const co_sim_cluster *c, const int *order, int norder,
                  const int *canary, double now_ms, co_view *out)
{
    memset(out, 0, sizeof *out);
    out->status = "running";
    out->nhosts = norder;
    out->hosts = calloc((size_t)(norder > 0 ? norder : 1), sizeof *out->hosts);
    /* per host (index in order): what the records say */
    struct hs {
        int done[CO_CYC_S_N];
        int open;               /* step index running, -1 none */
        double open_t, first_t, end_t, evac_pred;
    } *st = calloc((size_t)(norder > 0 ? norder : 1), sizeof *st);
    json_t *inflight = json_object();
    if (!out->hosts || !st || !inflight) {
        free(st);
        json_decref(inflight);
        co_view_free(out);
        return CO_ENOMEM;
    }
    double sum[CO_CYC_S_N] = {0};
    int cnt[CO_CYC_S_N] = {0};
    for (int i = 0; i < norder; i++) {
        out->hosts[i].name = c->hosts[order[i]].name;
        out->hosts[i].canary = canary ? canary[order[i]] != 0 : 0;
        st[i].open = -1;
        st[i].evac_pred = NAN;
    }
    double t0 = NAN;
    size_t k;
    json_t *r;
    json_array_foreach(recs, k, r) {
        double t = json_number_value(json_object_get(r, "t_ms"));
        if (is_ev(r, "cycle_start") && isnan(t0))
            t0 = t;
        else if (is_ev(r, "resume"))
            out->status = "running";
        else if (is_ev(r, "cycle_end"))
            out->status = json_string_value(json_object_get(r, "status"))
                              ? json_string_value(json_object_get(r, "status"))
                              : "ended";
        else if (is_ev(r, "mig_start"))
            json_object_set(inflight, sget(r, "vm"), r);
        else if (is_ev(r, "mig_end"))
            json_object_del(inflight, sget(r, "vm"));
        const char *hn = json_string_value(json_object_get(r, "host"));
        if (!hn)
            continue;
        int i = 0;
        while (i < norder && strcmp(out->hosts[i].name, hn))
            i++;
        if (i == norder)
            continue;
        co_view_host *h = &out->hosts[i];
        int s = step_index(sget(r, "step"));
        if (is_ev(r, "step_start") && s >= 0) {
            if (isnan(st[i].first_t) || st[i].first_t == 0)
                st[i].first_t = t;
            st[i].open = s;
            st[i].open_t = t;
            h->state = CO_VIEW_RUN;
            snprintf(h->step, sizeof h->step, "%s", co_cyc_step_names[s]);
        } else if (is_ev(r, "step_end") && s >= 0) {
            int ok = json_is_true(json_object_get(r, "ok"));
            double dur = json_number_value(json_object_get(r, "duration_ms"));
            if (st[i].first_t == 0)
                st[i].first_t = t - dur;
            st[i].open = -1;
            snprintf(h->step, sizeof h->step, "%s", co_cyc_step_names[s]);
            if (ok) {
                st[i].done[s] = 1;
                sum[s] += dur;
                cnt[s]++;
                h->state = CO_VIEW_RUN;
            } else {
                h->state = CO_VIEW_FAILED;
                st[i].end_t = t;
            }
            if (s == CO_CYC_S_PREFLIGHT && json_is_number(json_object_get(r, "predicted_ms")))
                st[i].evac_pred = json_number_value(json_object_get(r, "predicted_ms"));
            else if (s == CO_CYC_S_PREFLIGHT && ok &&
                     json_integer_value(json_object_get(r, "vms")) == 0)
                st[i].evac_pred = 0; /* nothing to move */
        } else if (is_ev(r, "host_end")) {
            int ok = json_is_true(json_object_get(r, "ok"));
            st[i].open = -1;
            st[i].end_t = t;
            h->state = ok ? CO_VIEW_DONE : CO_VIEW_FAILED;
            if (json_is_true(json_object_get(r, "left_unpatched")))
                snprintf(h->step, sizeof h->step, "left unpatched");
        }
    }
    out->elapsed_ms = isnan(t0) ? 0 : now_ms - t0;
    for (int i = 0; i < norder; i++) {
        co_view_host *h = &out->hosts[i];
        if (st[i].first_t > 0)
            h->host_elapsed_ms = (st[i].end_t > 0 && h->state != CO_VIEW_RUN ? st[i].end_t
                                                                                : now_ms) -
                                 st[i].first_t;
        if (h->state == CO_VIEW_DONE || h->state == CO_VIEW_FAILED)
            continue;
        out->left++;
        if (st[i].open >= 0)
            h->step_elapsed_ms = now_ms - st[i].open_t;
        for (int s = 0; s < CO_CYC_S_N; s++) {
            if (st[i].done[s])
                continue;
            /* evacuate and rebalance move this host's own VMs: its own
             * prediction beats the other hosts' measured mean */
            int own = (s == CO_CYC_S_EVAC || s == CO_CYC_S_REBALANCE) &&
                      !isnan(st[i].evac_pred);
            double est = !own && cnt[s] > 0 ? sum[s] / cnt[s]
                                            : co_view_step_plan_ms(c, s, st[i].evac_pred);
            if (isnan(est)) {
                h->eta_partial = 1;
                continue;
            }
            if (s == st[i].open)
                est = est > h->step_elapsed_ms ? est - h->step_elapsed_ms : 0;
            h->eta_ms += est;
        }
        out->eta_ms += h->eta_ms;
        out->eta_partial |= h->eta_partial;
    }
    const char *vm;
    json_t *m;
    json_object_foreach(inflight, vm, m) {
        if (out->nmigs == CO_VIEW_MAX_MIGS) {
            out->more_migs++;
            continue;
        }
        co_view_mig *g = &out->migs[out->nmigs++];
        snprintf(g->vm, sizeof g->vm, "%s", vm);
        snprintf(g->from, sizeof g->from, "%s", sget(m, "from"));
        snprintf(g->to, sizeof g->to, "%s", sget(m, "to"));
        snprintf(g->purpose, sizeof g->purpose, "%s", sget(m, "purpose"));
        g->elapsed_ms = now_ms - json_number_value(json_object_get(m, "t_ms"));
    }
    json_decref(inflight);
    free(st);
    return CO_OK;
}

/* ---- rendering ---- */

void co_view_fmt_ms(double ms, char *buf, size_t cap)
{
    if (!(ms >= 0)) {
        snprintf(buf, cap, "-");
        return;
    }
    long s = (long)(ms / 1e3 + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

struct out {
    char *buf;
    size_t cap, len;
    int width, lines;
};

/* Append one line, cut to width - 1 columns (bytes: names are ASCII). */
static void line(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    size_t n = strlen(tmp);
    size_t w = o->width > 1 ? (size_t)o->width - 1 : 79;
    if (n > w)
        n = w;
    while (n > 0 && tmp[n - 1] == ' ')
        n--;
    if (o->len + n + 2 > o->cap)
        return;
    memcpy(o->buf + o->len, tmp, n);
    o->len += n;
    o->buf[o->len++] = '\n';
    o->buf[o->len] = '\0';
    o->lines++;
}

void co_view_eta_at_once(co_view *v, const int *phase, int k)
{
    if (k < 1)
        k = 1;
    double *slot = calloc((size_t)k, sizeof *slot);
    if (!slot)
        return; /* the sum over hosts stays: an upper bound */
    double total = 0;
    int i = 0;
    while (i < v->nhosts) {
        int ph = phase[i];
        memset(slot, 0, (size_t)k * sizeof *slot);
        for (; i < v->nhosts && phase[i] == ph; i++) {
            const co_view_host *h = &v->hosts[i];
            if (h->state == CO_VIEW_DONE || h->state == CO_VIEW_FAILED)
                continue;
            int s = 0;
            for (int j = 1; j < k; j++)
                if (slot[j] < slot[s])
                    s = j;
            slot[s] += h->eta_ms;
        }
        double longest = 0;
        for (int j = 0; j < k; j++)
            if (slot[j] > longest)
                longest = slot[j];
        total += longest;
    }
    free(slot);
    v->eta_ms = total;
}

int co_view_render(const co_view *v, int width, char *buf, size_t cap)
{
    struct out o = {.buf = buf, .cap = cap, .width = width};
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    char el[24], eta[24], a[24], b[24], c[24];
    co_view_fmt_ms(v->elapsed_ms, el, sizeof el);
    co_view_fmt_ms(v->eta_ms, eta, sizeof eta);
    line(&o, "cycle %s  elapsed %s  ETA %s%s  (%d of %d host(s) left)", v->status, el,
         v->eta_partial ? ">" : "", v->left ? eta : "0:00", v->left, v->nhosts);
    line(&o, "  %-12s %-24s %8s %8s %9s", "host", "step", "in step", "host", "ETA");
    for (int i = 0; i < v->nhosts; i++) {
        const co_view_host *h = &v->hosts[i];
        char what[64];
        switch (h->state) {
        case CO_VIEW_WAIT: snprintf(what, sizeof what, "waiting"); break;
        case CO_VIEW_RUN: snprintf(what, sizeof what, "%s", h->step); break;
        case CO_VIEW_DONE:
            snprintf(what, sizeof what, "%s", h->step[0] && !strcmp(h->step, "left unpatched")
                                                  ? h->step : "done");
            break;
        default: snprintf(what, sizeof what, "FAILED at %s", h->step); break;
        }
        co_view_fmt_ms(h->state == CO_VIEW_RUN ? h->step_elapsed_ms : -1, a, sizeof a);
        co_view_fmt_ms(h->host_elapsed_ms > 0 ? h->host_elapsed_ms : -1, b, sizeof b);
        co_view_fmt_ms(h->state <= CO_VIEW_RUN ? h->eta_ms : -1, c + 1, sizeof c - 1);
        c[0] = h->eta_partial && h->state <= CO_VIEW_RUN ? '>' : ' ';
        char nm[40];
        snprintf(nm, sizeof nm, "%s%s", h->name, h->canary ? "*" : "");
        line(&o, "%c %-12s %-24s %8s %8s %9s", h->state == CO_VIEW_RUN ? '>' : ' ', nm, what,
             a, b, c);
    }
    for (int i = 0; i < v->nmigs; i++) {
        const co_view_mig *g = &v->migs[i];
        co_view_fmt_ms(g->elapsed_ms, a, sizeof a);
        line(&o, "  migrating %s %s -> %s  %s  (%s)", g->vm, g->from, g->to, a, g->purpose);
    }
    if (v->more_migs)
        line(&o, "  ... and %d more migration(s)", v->more_migs);
    return o.lines;
}

/* ---- on the TTY ---- */

struct co_view_tty {
    co_cyc *y;
    pthread_mutex_t mu;         /* the terminal: one writer at a time */
    pthread_cond_t cv;
    pthread_t th;
    int stop, lines;
};

static int tty_on(const co_cyc *y)
{
    return y->o.progress && !y->o.dry_run && isatty(STDERR_FILENO);
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Render the current snapshot into buf; 0 lines when there is nothing to
 * show (no cycle_start yet). Takes y->mu. */
static int snapshot(co_cyc *y, char *buf, size_t cap, int *running)
{
    int width = 100;
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        width = ws.ws_col;
    co_view v;
    int n = 0;
    *running = 1;
    pthread_mutex_lock(&y->mu);
    json_t *first = json_array_get(y->recs, 0);
    int ok = first && !strcmp(sget(first, "ev"), "cycle_start") &&
             co_view_build(y->recs, y->c, y->order, y->norder, NULL, wall_ms(), &v) == CO_OK;
    pthread_mutex_unlock(&y->mu);
    if (!ok)
        return 0;
    int *ph = malloc((size_t)(v.nhosts > 0 ? v.nhosts : 1) * sizeof *ph);
    for (int i = 0; i < v.nhosts; i++) {
        v.hosts[i].canary = y->phase[y->order[i]] == 0;
        if (ph)
            ph[i] = y->phase[y->order[i]];
    }
    if (ph)
        co_view_eta_at_once(&v, ph, y->c->plan.max_in_maint);
    free(ph);
    n = co_view_render(&v, width, buf, cap);
    *running = !strcmp(v.status, "running");
    co_view_free(&v);
    return n;
}

/* Under t->mu: erase the last table, print pre (may be NULL), draw. */
static void redraw(struct co_view_tty *t, const char *pre, const char *table, int lines)
{
    if (t->lines > 0)
        fprintf(stderr, "\r\033[%dA\033[J", t->lines);
    if (pre)
        fprintf(stderr, "cutover cycle: %s\n", pre);
    fputs(table, stderr);
    fflush(stderr);
    t->lines = lines;
}

#define VIEW_BUF 16384

static void *ticker(void *arg)
{
    struct co_view_tty *t = arg;
    char *buf = malloc(VIEW_BUF);
    if (!buf)
        return NULL;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->mu);
        int running;
        int n = snapshot(t->y, buf, VIEW_BUF, &running);
        pthread_mutex_lock(&t->mu);
        if (n > 0 && !t->stop)
            redraw(t, NULL, buf, n);
        if (!running)
            break; /* cycle_end: the last drawing stays */
    }
    pthread_mutex_unlock(&t->mu);
    free(buf);
    return NULL;
}

/* The view of y, created (ticker started) on first use. */
static struct co_view_tty *tty_of(co_cyc *y)
{
    pthread_mutex_lock(&y->mu);
    if (!y->view) {
        struct co_view_tty *t = calloc(1, sizeof *t);
        if (t) {
            t->y = y;
            pthread_mutex_init(&t->mu, NULL);
            pthread_cond_init(&t->cv, NULL);
            if (pthread_create(&t->th, NULL, ticker, t) != 0) {
                pthread_mutex_destroy(&t->mu);
                pthread_cond_destroy(&t->cv);
                free(t);
                t = NULL;
            }
        }
        y->view = t;
    }
    struct co_view_tty *t = y->view;
    pthread_mutex_unlock(&y->mu);
    return t;
}

static void say_or_draw(co_cyc *y, const char *msg)
{
    if (!tty_on(y)) {
        if (msg)
            fprintf(stderr, "cutover cycle: %s\n", msg);
        return;
    }
    char *buf = malloc(VIEW_BUF);
    int running = 1, n = buf ? snapshot(y, buf, VIEW_BUF, &running) : 0;
    struct co_view_tty *t = n > 0 ? tty_of(y) : y->view;
    if (!t) {
        if (msg)
            fprintf(stderr, "cutover cycle: %s\n", msg);
        free(buf);
        return;
    }
    pthread_mutex_lock(&t->mu);
    if (n > 0)
        redraw(t, msg, buf, n);
    else if (msg) {
        redraw(t, msg, "", 0);
    }
    pthread_mutex_unlock(&t->mu);
    free(buf);
}

void co_view_say(co_cyc *y, const char *fmt, ...)
{
    if (!y->o.progress)
        return;
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    say_or_draw(y, msg);
}

void co_view_update(co_cyc *y)
{
    if (tty_on(y))
        say_or_draw(y, NULL);
}

void co_view_tty_free(struct co_view_tty *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
