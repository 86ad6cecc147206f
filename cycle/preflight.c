/* cycle/preflight.c: the MTU path check of a host's preflight (see
 * cycle/preflight.h and docs/cycle.md). The probe is the file's
 * hooks.mtu_probe, run through cycle/hook.c: the placeholders only it may
 * hold ({peer}, {peer_addr}, {mtu}, {payload}) are replaced here, whole,
 * before co_hook_run replaces the common ones ({host}, {uri}, ...). */
#define _GNU_SOURCE
#include "cycle/preflight.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cycle/hook.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/units.h"

size_t co_pf_addr_of(const char *uri, char *out, size_t len)
{
    if (len == 0)
        return 0;
    out[0] = '\0';
    if (!uri || !uri[0])
        return 0;
    const char *s = strstr(uri, "://");
    if (s)
        s += 3;
    else if (!strncmp(uri, "tcp:", 4)) /* QEMU's tcp:HOST:PORT */
        s = uri + 4;
    else
        s = uri;
    size_t n = strcspn(s, "/?#");
    const char *at = memchr(s, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    if (n > 0 && s[0] == '[') { /* [v6]:port */
        const char *e = memchr(s, ']', n);
        if (!e)
            return 0;
        n = (size_t)(e - s - 1);
        s++;
    } else {
        size_t colons = 0;
        for (size_t i = 0; i < n; i++)
            colons += s[i] == ':';
        if (colons == 1) /* host:port; more than one is a bare IPv6 literal */
            n = (size_t)((const char *)memchr(s, ':', n) - s);
    }
    if (n == 0 || n >= len)
        return 0;
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

int co_pf_payload_bytes(int mtu, const char *addr)
{
    int p = mtu - (addr && strchr(addr, ':') ? CO_PF_IPV6_OVERHEAD : CO_PF_IPV4_OVERHEAD);
    return p > 0 ? p : 0;
}

void co_pf_mtu_free(co_pf_mtu *m)
{
    if (m) {
        free(m->pairs);
        m->pairs = NULL;
        m->npairs = 0;
    }
}

/* The probe's argv for one pair: probe placeholders replaced (pointers into
 * vals or into h->argv; nothing allocated but the array). */
static int probe_argv(const co_sim_hook *h, const char *const vals[4], co_sim_hook *out)
{
    char **a = calloc((size_t)h->argc + 1, sizeof *a);
    if (!a)
        return CO_ENOMEM;
    for (int i = 0; i < h->argc; i++) {
        int k = co_sim_probe_placeholder(h->argv[i]);
        a[i] = (char *)(k >= 0 ? vals[k] : h->argv[i]);
    }
    *out = *h;
    out->argv = a;
    return CO_OK;
}

int co_pf_mtu_check(const co_sim_cluster *c, int h, const co_pf_opts *o, co_pf_mtu *out,
                    co_diag *d)
{
    static const co_pf_opts none = {0};
    if (!o)
        o = &none;
    memset(out, 0, sizeof *out);
    out->host = h;
    const co_sim_hook *hk = &c->exec.hook[CO_HOOK_MTU_PROBE];
    if (!c->exec.mtu_check) {
        snprintf(out->why, sizeof out->why, "not checked (plan.execution.mtu_check is false)");
        return CO_OK;
    }
    if (!hk->argv) {
        snprintf(out->why, sizeof out->why, "not checked (no mtu_probe hook)");
        return CO_OK;
    }
    out->pairs = calloc((size_t)(c->nhosts > 0 ? c->nhosts : 1), sizeof *out->pairs);
    if (!out->pairs)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    out->checked = 1;
    char tmp[64] = "";
    const char *jdir = o->journal_dir;
    if (!jdir || !jdir[0]) {
        const char *td = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/cutover-mtu-XXXXXX",
                 td && td[0] && strlen(td) < 40 ? td : "/tmp");
        if (!mkdtemp(tmp))
            return co_diag_set(d, CO_ECANTCREAT, "MTU path check: a temp dir for the probe's "
                               "output (%s): %s", tmp, strerror(errno));
        jdir = tmp;
    }
    const co_sim_host *src = &c->hosts[h];
    int rc = CO_OK;
    co_diag first;
    co_diag_init(&first);
    for (int p = 0; p < c->nhosts && rc == CO_OK; p++) {
        const co_sim_host *peer = &c->hosts[p];
        if (p == h || !peer->uri || !peer->uri[0])
            continue;
        co_pf_pair *pr = &out->pairs[out->npairs++];
        pr->from = h;
        pr->to = p;
        pr->mtu = src->mtu > 0 ? src->mtu : 1500;
        pr->exit_status = -1;
        if (o->down && o->down[p]) {
            pr->result = CO_PF_SKIPPED;
            snprintf(pr->line, sizeof pr->line, "%s does not answer libvirt: not probed",
                     peer->name);
            out->skipped++;
            continue;
        }
        if (!co_pf_addr_of(peer->migration_uri, pr->peer_addr, sizeof pr->peer_addr) &&
            !co_pf_addr_of(peer->uri, pr->peer_addr, sizeof pr->peer_addr)) {
            pr->result = CO_PF_SKIPPED;
            snprintf(pr->line, sizeof pr->line, "%s has no address to probe (no migration_uri, "
                     "and its uri names no host)", peer->name);
            out->skipped++;
            continue;
        }
        pr->ipv6 = strchr(pr->peer_addr, ':') != NULL;
        pr->payload_bytes = co_pf_payload_bytes(pr->mtu, pr->peer_addr);
        char mtu_s[16], pay_s[16];
        snprintf(mtu_s, sizeof mtu_s, "%d", pr->mtu);
        snprintf(pay_s, sizeof pay_s, "%d", pr->payload_bytes);
        const char *vals[4] = {peer->name, pr->peer_addr, mtu_s, pay_s};
        /* co_hook_run replaces an element equal to {host}, {uri}, ... after
         * us: a value spelled like one would be replaced again */
        if (co_sim_hook_placeholder(peer->name) >= 0 ||
            co_sim_hook_placeholder(pr->peer_addr) >= 0) {
            pr->result = CO_PF_FAILED;
            snprintf(pr->line, sizeof pr->line, "the peer's name or address '%s' reads as a "
                     "placeholder: not probed", peer->name);
            out->failed++;
            if (first.code == CO_OK)
                co_diag_set(&first, CO_EFAILED, "%s", pr->line);
            continue;
        }
        co_sim_hook ph;
        if (probe_argv(hk, vals, &ph) != CO_OK) {
            rc = co_diag_set(d, CO_ENOMEM, "out of memory");
            break;
        }
        co_hook_ctx ctx = {.host = src->name, .uri = src->uri,
                           .migration_uri = src->migration_uri, .step = "mtu_probe",
                           .journal_dir = jdir, .stop_flag = o->stop_flag};
        co_hook_result hr;
        co_diag hd;
        co_diag_init(&hd);
        int hrc = co_hook_run(&ph, &ctx, &hr, &hd);
        free(ph.argv); /* the strings are hk's or ours */
        pr->exit_status = hr.exit_status;
        pr->elapsed_ms = hr.elapsed_ms;
        if (hrc == CO_ECANCELED) {
            pr->result = CO_PF_SKIPPED;
            snprintf(pr->line, sizeof pr->line, "stopped");
            out->skipped++;
            rc = co_diag_set(d, CO_ECANCELED, "stopped by a signal during the MTU path check "
                             "of %s", src->name);
            break;
        }
        if (hrc == CO_OK) {
            pr->result = CO_PF_PASSED;
            snprintf(pr->line, sizeof pr->line, "%s", hr.last_line);
            out->passed++;
            continue;
        }
        pr->result = CO_PF_FAILED;
        out->failed++;
        if (hrc == CO_EFAILED && hr.last_line[0])
            snprintf(pr->line, sizeof pr->line, "%s", hr.last_line);
        else
            snprintf(pr->line, sizeof pr->line, "%.255s", hd.msg);
        if (first.code == CO_OK)
            co_diag_set(&first, CO_EFAILED, "%s -> %s (%s): a %d-byte frame does not pass "
                        "(MTU %d, probe payload %d, exit %d): %s", src->name, peer->name,
                        pr->peer_addr, pr->mtu, pr->mtu, pr->payload_bytes, pr->exit_status,
                        pr->line[0] ? pr->line : "(no output)");
    }
    if (tmp[0])
        (void)co_fs_rm_tree(tmp);
    if (rc == CO_OK && out->failed)
        rc = co_diag_set(d, CO_EFAILED, "MTU path check: %d of %d pair(s) FAILED; first: %s",
                         out->failed, out->npairs, first.msg);
    return rc;
}

int co_pf_mtu_step(const co_sim_cluster *c, int h, const co_pf_opts *o, json_t *into,
                   co_diag *d)
{
    co_pf_mtu m;
    int rc = co_pf_mtu_check(c, h, o, &m, d);
    json_object_set_new(into, "mtu_path", co_pf_mtu_json(c, &m));
    co_pf_mtu_free(&m);
    return rc;
}

/* ---- the host's clock and scratch space ---- */

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the host's clock is compared with ours: wall time */
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run hook kind k on host h once; *mid_ms: the wall clock at its midpoint.
 * CO_OK (out->line: its last line), CO_EFAILED (out->line says why),
 * CO_ECANCELED, CO_ECANTCREAT. */
static int run_probe(const co_sim_cluster *c, int h, const co_pf_opts *o, int k,
                     co_pf_probe *out, double *mid_ms, co_diag *d)
{
    const co_sim_host *src = &c->hosts[h];
    char tmp[64] = "";
    const char *jdir = o->journal_dir;
    if (!jdir || !jdir[0]) {
        const char *td = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/cutover-probe-XXXXXX",
                 td && td[0] && strlen(td) < 40 ? td : "/tmp");
        if (!mkdtemp(tmp))
            return co_diag_set(d, CO_ECANTCREAT, "%s: a temp dir for the probe's output "
                               "(%s): %s", co_sim_hook_name(k), tmp, strerror(errno));
        jdir = tmp;
    }
    co_hook_ctx ctx = {.host = src->name, .uri = src->uri, .migration_uri = src->migration_uri,
                       .step = co_sim_hook_name(k), .journal_dir = jdir,
                       .stop_flag = o->stop_flag};
    co_hook_result hr;
    co_diag hd;
    co_diag_init(&hd);
    double t0 = wall_ms();
    int hrc = co_hook_run(&c->exec.hook[k], &ctx, &hr, &hd);
    double t1 = wall_ms();
    if (tmp[0])
        (void)co_fs_rm_tree(tmp);
    *mid_ms = (t0 + t1) / 2;
    out->rtt_ms = t1 - t0;
    out->exit_status = hr.exit_status;
    if (hrc == CO_ECANCELED)
        return co_diag_set(d, CO_ECANCELED, "stopped by a signal during the %s of %s",
                           co_sim_hook_name(k), src->name);
    if (hrc != CO_OK) {
        snprintf(out->line, sizeof out->line, "%.255s",
                 hrc == CO_EFAILED && hr.last_line[0] ? hr.last_line : hd.msg);
        return co_diag_set(d, CO_EFAILED, "%s: %s failed (exit %d): %s", src->name,
                           co_sim_hook_name(k), hr.exit_status,
                           out->line[0] ? out->line : "(no output)");
    }
    snprintf(out->line, sizeof out->line, "%s", hr.last_line);
    return CO_OK;
}

static void probe_init(co_pf_probe *out, double limit)
{
    memset(out, 0, sizeof *out);
    out->value = NAN;
    out->limit = limit;
    out->exit_status = -1;
}

int co_pf_clock_check(const co_sim_cluster *c, int h, const co_pf_opts *o, co_pf_probe *out,
                      co_diag *d)
{
    static const co_pf_opts none = {0};
    if (!o)
        o = &none;
    probe_init(out, c->exec.clock_skew_max_ms);
    if (!c->exec.hook[CO_HOOK_CLOCK_PROBE].argv) {
        snprintf(out->why, sizeof out->why, "not checked (no clock_probe hook)");
        return CO_OK;
    }
    out->checked = 1;
    double mid;
    int rc = run_probe(c, h, o, CO_HOOK_CLOCK_PROBE, out, &mid, d);
    if (rc != CO_OK)
        return rc;
    char *end;
    double host_s = strtod(out->line, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == out->line || *end || !isfinite(host_s) || host_s <= 0)
        return co_diag_set(d, CO_EFAILED, "%s: clock_probe's last line is not Unix seconds "
                           "(as `date +%%s.%%N` prints): '%s'", c->hosts[h].name, out->line);
    out->value = host_s * 1e3 - mid;
    double off = fabs(out->value) - out->rtt_ms / 2;
    out->ok = off <= out->limit;
    if (!out->ok)
        return co_diag_set(d, CO_EFAILED, "%s: its clock is %.1f s %s the orchestrator's "
                           "(+- %.1f s; plan.execution.clock_skew_max %.0f s)",
                           c->hosts[h].name, fabs(out->value) / 1e3,
                           out->value > 0 ? "ahead of" : "behind", out->rtt_ms / 2e3,
                           out->limit / 1e3);
    return CO_OK;
}

int co_pf_scratch_check(const co_sim_cluster *c, int h, const co_pf_opts *o, co_pf_probe *out,
                        co_diag *d)
{
    static const co_pf_opts none = {0};
    if (!o)
        o = &none;
    probe_init(out, c->exec.scratch_min_bytes);
    if (!c->exec.hook[CO_HOOK_SCRATCH_PROBE].argv) {
        snprintf(out->why, sizeof out->why, "not checked (no scratch_probe hook)");
        return CO_OK;
    }
    out->checked = 1;
    double mid;
    int rc = run_probe(c, h, o, CO_HOOK_SCRATCH_PROBE, out, &mid, d);
    if (rc != CO_OK)
        return rc;
    char txt[sizeof out->line];
    snprintf(txt, sizeof txt, "%s", out->line);
    for (size_t n = strlen(txt); n > 0 && (txt[n - 1] == ' ' || txt[n - 1] == '\t'); n--)
        txt[n - 1] = '\0';
    const char *t = txt;
    while (*t == ' ' || *t == '\t')
        t++;
    co_diag pd;
    co_diag_init(&pd);
    double bytes;
    if (co_parse_size(t, "scratch_probe", &bytes, &pd) != CO_OK)
        return co_diag_set(d, CO_EFAILED, "%s: scratch_probe's last line is not a size in "
                           "bytes (as `df --output=avail -B1 DIR` prints): '%s'",
                           c->hosts[h].name, out->line);
    out->value = bytes;
    out->ok = bytes >= out->limit;
    if (!out->ok)
        return co_diag_set(d, CO_EFAILED, "%s: %.0f MiB of scratch space free, below "
                           "plan.execution.scratch_min %.0f MiB", c->hosts[h].name,
                           bytes / 1048576.0, out->limit / 1048576.0);
    return CO_OK;
}

static json_t *probe_json(const co_pf_probe *p, const char *vkey, const char *lkey)
{
    if (!p->checked)
        return json_pack("{s:b, s:s}", "checked", 0, "why", p->why);
    json_t *j = json_pack("{s:b, s:b, s:f, s:f, s:i, s:s}", "checked", 1, "ok", p->ok, lkey,
                          p->limit, "rtt_ms", p->rtt_ms, "exit", p->exit_status, "line",
                          p->line);
    if (j && isfinite(p->value))
        json_object_set_new(j, vkey, json_real(p->value));
    return j;
}

int co_pf_host_step(const co_sim_cluster *c, int h, const co_pf_opts *o, json_t *into,
                    co_diag *d)
{
    co_pf_probe ck, sc;
    co_diag d2;
    co_diag_init(&d2);
    int rc = co_pf_clock_check(c, h, o, &ck, d);
    json_object_set_new(into, "clock", probe_json(&ck, "skew_ms", "limit_ms"));
    if (rc == CO_ECANCELED)
        return rc;
    int rc2 = co_pf_scratch_check(c, h, o, &sc, rc == CO_OK ? d : &d2);
    json_object_set_new(into, "scratch", probe_json(&sc, "free_bytes", "min_bytes"));
    return rc != CO_OK ? rc : rc2;
}

void co_pf_probe_text(const char *what, json_t *pj, const char *indent, FILE *out)
{
    if (!json_is_object(pj))
        return;
    if (!json_is_true(json_object_get(pj, "checked"))) {
        fprintf(out, "%s%s: %s\n", indent, what,
                json_string_value(json_object_get(pj, "why")));
        return;
    }
    int ok = json_is_true(json_object_get(pj, "ok"));
    json_t *skew = json_object_get(pj, "skew_ms"), *fb = json_object_get(pj, "free_bytes");
    const char *line = json_string_value(json_object_get(pj, "line"));
    if (skew)
        fprintf(out, "%s%s: %.1f s %s (limit %.0f s): %s\n", indent, what,
                fabs(json_number_value(skew)) / 1e3,
                json_number_value(skew) >= 0 ? "ahead" : "behind",
                json_number_value(json_object_get(pj, "limit_ms")) / 1e3, ok ? "ok" : "FAILED");
    else if (fb)
        fprintf(out, "%s%s: %.0f MiB free (min %.0f MiB): %s\n", indent, what,
                json_number_value(fb) / 1048576.0,
                json_number_value(json_object_get(pj, "min_bytes")) / 1048576.0,
                ok ? "ok" : "FAILED");
    else
        fprintf(out, "%s%s: FAILED (%s)\n", indent, what, line && line[0] ? line : "no output");
}

const char *co_pf_mtu_unchecked(const co_sim_cluster *c)
{
    if (!c->exec.mtu_check)
        return "not checked (plan.execution.mtu_check is false)";
    if (!c->exec.hook[CO_HOOK_MTU_PROBE].argv)
        return "not checked (no mtu_probe hook)";
    return NULL;
}

static const char *result_name(int r)
{
    return r == CO_PF_PASSED ? "passed" : r == CO_PF_FAILED ? "FAILED" : "skipped";
}

json_t *co_pf_mtu_json(const co_sim_cluster *c, const co_pf_mtu *m)
{
    if (!m->checked)
        return json_pack("{s:b, s:s}", "checked", 0, "why", m->why);
    json_t *pairs = json_array();
    for (int i = 0; i < m->npairs; i++) {
        const co_pf_pair *p = &m->pairs[i];
        json_array_append_new(pairs, json_pack(
            "{s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:f, s:s}", "from", c->hosts[p->from].name,
            "to", c->hosts[p->to].name, "peer_addr", p->peer_addr, "mtu", p->mtu, "payload",
            p->payload_bytes, "result", result_name(p->result), "exit", p->exit_status,
            "elapsed_ms", p->elapsed_ms, "line", p->line));
    }
    return json_pack("{s:b, s:i, s:i, s:i, s:i, s:o}", "checked", 1, "mtu",
                     c->hosts[m->host].mtu, "passed", m->passed, "failed", m->failed,
                     "skipped", m->skipped, "pairs", pairs);
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void co_pf_mtu_text(json_t *m, const char *indent, FILE *out)
{
    if (!m)
        return;
    if (!json_is_true(json_object_get(m, "checked"))) {
        fprintf(out, "%sMTU path: %s\n", indent, js(m, "why"));
        return;
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(m, "pairs"), i, p) {
        const char *line = js(p, "line");
        fprintf(out, "%sMTU path %s -> %s (%s) at MTU %lld: %s%s%s%s\n", indent, js(p, "from"),
                js(p, "to"), js(p, "peer_addr")[0] ? js(p, "peer_addr") : "-",
                json_integer_value(json_object_get(p, "mtu")), js(p, "result"),
                line[0] ? " (" : "", line, line[0] ? ")" : "");
    }
}

int co_pf_err_no_uri(const co_sim_cluster *c, const char *file, int h, co_diag *d)
{
    const co_sim_host *hs = &c->hosts[h];
    if (hs->line > 0)
        return co_diag_set(d, CO_EDATA, "%s:%d: hosts[%d]: no \"uri\" (host %s): `cutover "
                           "cycle` needs each patched host's libvirt URI", file, hs->line, h,
                           hs->name);
    return co_diag_set(d, CO_EDATA, "%s: hosts[%d]: no \"uri\" (host %s): `cutover cycle` "
                       "needs each patched host's libvirt URI", file, h, hs->name);
}
