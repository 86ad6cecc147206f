/* cycle/preflight.c: the MTU path check of a host's preflight (see
 * cycle/preflight.h and docs/cycle.md). The probe is the file's
 * hooks.mtu_probe, run through cycle/hook.c: the placeholders only it may
 * hold ({peer}, {peer_addr}, {mtu}, {payload}) are replaced here, whole,
 * before co_hook_run replaces the common ones ({host}, {uri}, ...). */
#define _GNU_SOURCE
#include "cycle/preflight.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cycle/hook.h"
#include "util/error.h"

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

/* rm -r of the private log dir of a dry run: DIR/hooks/<files>, DIR. */
static void remove_tmp(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/hooks", dir);
    DIR *dp = opendir(p);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char f[800];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            unlink(f);
        }
        closedir(dp);
    }
    rmdir(p);
    rmdir(dir);
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
        remove_tmp(tmp);
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
