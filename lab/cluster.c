/* lab/cluster.c: the cluster lab (lab/cluster.h, docs/lab.md). */
#define _GNU_SOURCE
#include "lab/cluster.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/lab.h"
#include "util/deadline.h"
#include "util/error.h"
#include "util/units.h"

#define DEFAULT_NIC_BYTES_PER_S 125e6 /* 1 Gbit/s */
#define DEFAULT_MEM_BYTES (128.0 * 1048576)
#define DEFAULT_WORKLOAD "rate=1000"
#define HB_PORT_BASE 20000 /* below Linux's ephemeral range (32768..) */
#define BOOT_TIMEOUT_MS 90000.0

/* snprintf whose truncation is intended and checked by the caller's sizes
 * (fields of fixed size filled from bounded values); keeps -O1's
 * -Wformat-truncation quiet without a cast at every call. */
static void put(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static void quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

/* ------------------------------------------------------------ helpers */

static int file_ok(const char *p, int mode)
{
    return access(p, mode) == 0;
}

/* Where `make install` puts the script (the Makefile passes PREFIX's). */
#ifndef CO_DATADIR
#define CO_DATADIR "/usr/local/share/cutover"
#endif

int co_cluster_find_script(char *out, size_t len, co_diag *d)
{
    const char *env = getenv("CUTOVER_CLUSTER_SH");
    if (env && *env) {
        if (!file_ok(env, X_OK))
            return co_diag_set(d, CO_ENOINPUT, "$CUTOVER_CLUSTER_SH '%s' is not executable", env);
        snprintf(out, len, "%s", env);
        return CO_OK;
    }
    char cand[5][PATH_MAX];
    int n = 0;
    snprintf(cand[n++], PATH_MAX, "lab/cluster.sh");
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[n++], PATH_MAX, "%.*s/../lab/cluster.sh", PATH_MAX - 20, exe);
            /* installed, also staged under DESTDIR: PREFIX/bin -> PREFIX/share/cutover */
            snprintf(cand[n++], PATH_MAX, "%.*s/../share/cutover/cluster.sh", PATH_MAX - 30,
                     exe);
        }
    }
    snprintf(cand[n++], PATH_MAX, "%s/cluster.sh", CO_DATADIR);
    snprintf(cand[n++], PATH_MAX, "/usr/share/cutover/cluster.sh");
    for (int i = 0; i < n; i++) {
        if (file_ok(cand[i], X_OK)) {
            if (realpath(cand[i], out) == NULL || strlen(out) >= len)
                snprintf(out, len, "%s", cand[i]);
            return CO_OK;
        }
    }
    return co_diag_set(d, CO_ENOINPUT,
                       "lab/cluster.sh not found (looked in ./lab, next to the binary, "
                       "../share/cutover from it, " CO_DATADIR ", /usr/share/cutover; or set "
                       "$CUTOVER_CLUSTER_SH)");
}

/* Whether name is an executable in the directories the script's PATH has. */
static int have_tool(const char *name)
{
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
    char path[64];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (file_ok(path, X_OK))
            return 1;
    }
    return 0;
}

/* Root and the commands the script runs. */
static int check_env(co_diag *d)
{
    if (geteuid() != 0)
        return co_diag_set(d, CO_ENOPERM,
                           "the cluster lab needs root (network, mount and PID namespaces, "
                           "libvirtd)");
    static const char *const tools[] = {"ip", "tc", "unshare", "flock", "libvirtd", "virtlogd",
                                        "virsh", "bash", NULL};
    for (int i = 0; tools[i]; i++)
        if (!have_tool(tools[i]))
            return co_diag_set(d, CO_EUNAVAIL, "'%s' not found in /usr/sbin, /usr/bin, /sbin, "
                                               "/bin (the cluster lab needs it)", tools[i]);
    return CO_OK;
}

/* Run the script with args (NULL-terminated, after the script's path).
 * stdout goes to /dev/null, stderr to a temp file whose last line becomes
 * the message on failure. watch_fd >= 0 is kept open in the child. Returns
 * CO_OK, or the script's exit code mapped (64 usage, 66 no input, 73
 * cannot create, else CO_EUNAVAIL). */
static int run_script(const char *script, const char *const *args, int watch_fd,
                      const char *what, co_diag *d)
{
    FILE *err = tmpfile();
    if (err == NULL)
        return co_diag_set(d, CO_EOS, "tmpfile: %s", strerror(errno));
    const char *argv[16];
    int n = 0;
    argv[n++] = script;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        fclose(err);
        return co_diag_set(d, CO_EOS, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        dup2(fileno(err), 2);
        if (watch_fd >= 0) {
            int fl = fcntl(watch_fd, F_GETFD);
            if (fl >= 0)
                fcntl(watch_fd, F_SETFD, fl & ~FD_CLOEXEC);
        }
        /* a capabilities cache shared by clusters (libvirtd re-probes if stale) */
        setenv("CO_BED_CACHE", getenv("CUTOVER_LAB_CACHE") ? getenv("CUTOVER_LAB_CACHE")
                                                           : "/var/cache/cutover-lab", 0);
        execv(script, (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", script, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (code == 0) {
        fclose(err);
        return CO_OK;
    }
    char line[512] = "", buf[512];
    rewind(err);
    while (fgets(buf, sizeof buf, err))
        if (buf[0] && buf[0] != '\n')
            snprintf(line, sizeof line, "%s", buf);
    fclose(err);
    line[strcspn(line, "\n")] = '\0';
    const char *msg = line;
    if (strncmp(msg, "cluster.sh: ", 12) == 0)
        msg += 12;
    int rc = code == 64 ? CO_EUSAGE : code == 66 ? CO_ENOINPUT : code == 73 ? CO_ECANTCREAT
                                                                             : CO_EUNAVAIL;
    return co_diag_set(d, rc, "%s: %s", what, msg[0] ? msg : "lab/cluster.sh failed");
}

/* Value of KEY in a KEY=VALUE file, "" when missing. */
static int env_get(const char *path, const char *key, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[512];
    size_t k = strlen(key);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, k) == 0 && line[k] == '=') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, "%s", line + k + 1);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* XML text escaping into out (truncates safely). */
static void xml_esc(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; *s && o + 7 < len; s++) {
        const char *r = NULL;
        switch (*s) {
        case '&': r = "&amp;"; break;
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '\'': r = "&apos;"; break;
        case '"': r = "&quot;"; break;
        }
        if (r) {
            size_t rl = strlen(r);
            memcpy(out + o, r, rl);
            o += rl;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------ workloads file */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int co_cluster_workloads_load(const char *path, double default_mem_bytes, int nhosts,
                              co_cluster *c, int *n, co_diag *d)
{
    *n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return co_diag_set(d, CO_ENOINPUT, "--workloads: cannot open '%s': %s", path,
                           strerror(errno));
    char line[1024];
    int lineno = 0, rc = CO_OK;
    while (rc == CO_OK && fgets(line, sizeof line, f)) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = co_diag_set(d, CO_EDATA, "%s:%d: line longer than %zu bytes", path, lineno,
                             sizeof line - 2);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        if (*n >= CO_CLUSTER_MAX_VMS) {
            rc = co_diag_set(d, CO_EDATA, "%s:%d: more than %d VMs", path, lineno,
                             CO_CLUSTER_MAX_VMS);
            break;
        }
        co_cluster_vm *v = &c->vms[*n];
        memset(v, 0, sizeof *v);
        v->host = -1;
        v->mem_bytes = default_mem_bytes;
        char guest[512] = "";
        size_t gl = 0;
        for (char *save = NULL, *tok = strtok_r(s, " \t", &save); tok;
             tok = strtok_r(NULL, " \t", &save)) {
            co_diag td;
            co_diag_init(&td);
            if (strncmp(tok, "host=", 5) == 0) {
                const char *h = tok + 5;
                if (*h == 'h')
                    h++;
                char *end;
                long k = strtol(h, &end, 10);
                if (*h == '\0' || *end != '\0' || k < 1 || k > nhosts) {
                    rc = co_diag_set(d, CO_EDATA, "%s:%d: %s: no such host (h1..h%d)", path,
                                     lineno, tok, nhosts);
                    break;
                }
                v->host = (int)k - 1;
            } else if (strncmp(tok, "mem=", 4) == 0) {
                if (co_parse_size(tok + 4, "mem", &v->mem_bytes, &td) != CO_OK ||
                    v->mem_bytes < 16.0 * 1048576 || v->mem_bytes > 1073741824.0 ||
                    fmod(v->mem_bytes, 1048576.0) != 0) {
                    rc = co_diag_set(d, CO_EDATA, "%s:%d: %s: not a whole number of MiB in "
                                                  "16MiB..1GiB", path, lineno, tok);
                    break;
                }
            } else {
                int w = snprintf(guest + gl, sizeof guest - gl, "%s%s", gl ? " " : "", tok);
                if (w < 0 || (size_t)w >= sizeof guest - gl) {
                    rc = co_diag_set(d, CO_EDATA, "%s:%d: workload too long", path, lineno);
                    break;
                }
                gl += (size_t)w;
            }
        }
        if (rc != CO_OK)
            break;
        co_diag td;
        co_diag_init(&td);
        if (co_lab_workload_check(guest, v->mem_bytes, v->workload, sizeof v->workload, &td)) {
            rc = co_diag_set(d, CO_EDATA, "%s:%d: %s", path, lineno, td.msg);
            break;
        }
        (*n)++;
    }
    if (rc == CO_OK && ferror(f))
        rc = co_diag_set(d, CO_EIO, "--workloads: reading '%s' failed", path);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------ JSON files */

static int write_json(const char *dir, const char *name, json_t *j, co_diag *d)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int r = json_dump_file(j, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (r != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return co_diag_set(d, CO_ECANTCREAT, "cannot write %s", path);
    }
    return CO_OK;
}

json_t *co_cluster_json(const co_cluster *c, const co_cluster_dom *doms, int nd)
{
    json_t *j = json_object();
    json_object_set_new(j, "dir", json_string(c->dir));
    json_object_set_new(j, "root_addr", json_string(c->root_addr));
    json_object_set_new(j, "switch_netns", json_string(c->switch_netns));
    json_object_set_new(j, "nic_bytes_per_s", json_real(c->nic_bytes_per_s));
    json_object_set_new(j, "mtu", json_integer(c->mtu));
    json_object_set_new(j, "accel", json_string(c->accel));
    json_object_set_new(j, "guest", json_string(c->guest_path));
    if (doms == NULL)
        json_object_set_new(j, "up_ms", json_real(c->up_ms));
    json_t *hs = json_array();
    for (int k = 0; k < c->nhosts; k++) {
        const co_cluster_host *h = &c->hosts[k];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(h->name));
        json_object_set_new(o, "addr", json_string(h->addr));
        json_object_set_new(o, "uri", json_string(h->uri));
        json_object_set_new(o, "migration_uri", json_string(h->migration_uri));
        json_object_set_new(o, "netns", json_string(h->netns));
        if (doms) {
            json_object_set_new(o, "up", json_boolean(h->up));
            json_t *ds = json_array();
            for (int i = 0; i < nd; i++) {
                if (doms[i].host != k)
                    continue;
                json_t *e = json_object();
                json_object_set_new(e, "name", json_string(doms[i].name));
                json_object_set_new(e, "state", json_string(doms[i].state));
                json_array_append_new(ds, e);
            }
            json_object_set_new(o, "domains", ds);
        }
        json_array_append_new(hs, o);
    }
    json_object_set_new(j, "hosts", hs);
    json_t *vs = json_array();
    for (int i = 0; i < c->nvms; i++) {
        const co_cluster_vm *v = &c->vms[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(v->name));
        json_object_set_new(o, "host", json_string(c->hosts[v->host].name));
        /* the same as "host" (where it was started), the key `up --json`
         * and `status --json` always had */
        json_object_set_new(o, "started_on", json_string(c->hosts[v->host].name));
        json_object_set_new(o, "mem_bytes", json_integer((json_int_t)v->mem_bytes));
        json_object_set_new(o, "workload", json_string(v->workload));
        json_object_set_new(o, "heartbeat_port", json_integer(v->hb_port));
        json_object_set_new(o, "heartbeat", json_sprintf("udp:%d", v->hb_port));
        if (doms == NULL)
            json_object_set_new(o, "boot_ms", json_real(v->boot_ms));
        json_array_append_new(vs, o);
    }
    json_object_set_new(j, "vms", vs);
    return j;
}

/* The guest's workload as the simulator's dirty object: the base rate and
 * the pattern's sets (phases are not modelled: the base rate is used). */
static json_t *dirty_json(const co_cluster_vm *v)
{
    char pattern[16] = "uniform";
    double rate = 1000, wss = -1, hot = 16.0 * 1048576, cold = -1, hotfrac = 0.9;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v->workload);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        co_diag td;
        co_diag_init(&td);
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *val = eq + 1;
        if (strcmp(t, "pattern") == 0)
            snprintf(pattern, sizeof pattern, "%s", val);
        else if (strcmp(t, "rate") == 0)
            rate = atof(val);
        else if (strcmp(t, "wss") == 0)
            co_parse_size(val, "wss", &wss, &td);
        else if (strcmp(t, "hot") == 0)
            co_parse_size(val, "hot", &hot, &td);
        else if (strcmp(t, "cold") == 0)
            co_parse_size(val, "cold", &cold, &td);
        else if (strcmp(t, "hotfrac") == 0)
            hotfrac = atof(val);
    }
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(pattern));
    json_object_set_new(o, "rate_pages_per_s", json_real(rate));
    if (strcmp(pattern, "hotcold") == 0) {
        if (cold < 0)
            cold = v->mem_bytes * 0.9 - hot;
        json_object_set_new(o, "hot", json_integer((json_int_t)hot));
        json_object_set_new(o, "cold", json_integer((json_int_t)(cold > 0 ? cold : 0)));
        json_object_set_new(o, "hot_frac", json_real(hotfrac));
    } else {
        /* no wss: all test pages, about the whole RAM */
        json_object_set_new(o, "wss", json_integer((json_int_t)(wss > 0 ? wss
                                                                        : v->mem_bytes * 0.95)));
    }
    return o;
}

static json_t *cluster_json(const co_cluster *c, int cores, double host_mem_bytes)
{
    json_t *j = json_object();
    json_object_set_new(j, "source",
                        json_sprintf("cutover lab cluster up %s (%d hosts, %d VMs)", c->dir,
                                     c->nhosts, c->nvms));
    json_t *hs = json_array();
    for (int i = 0; i < c->nhosts; i++) {
        const co_cluster_host *h = &c->hosts[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(h->name));
        json_object_set_new(o, "cores", json_integer(cores));
        json_object_set_new(o, "mem", json_integer((json_int_t)host_mem_bytes));
        json_object_set_new(o, "nic_rate", json_sprintf("%.0fbit", c->nic_bytes_per_s * 8));
        json_object_set_new(o, "mtu", json_integer(c->mtu));
        json_object_set_new(o, "uri", json_string(h->uri));
        json_object_set_new(o, "migration_uri", json_string(h->migration_uri));
        json_array_append_new(hs, o);
    }
    json_object_set_new(j, "hosts", hs);
    json_t *vs = json_array();
    for (int i = 0; i < c->nvms; i++) {
        const co_cluster_vm *v = &c->vms[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(v->name));
        json_object_set_new(o, "host", json_string(c->hosts[v->host].name));
        json_object_set_new(o, "vcpus", json_integer(1));
        json_object_set_new(o, "mem", json_integer((json_int_t)v->mem_bytes));
        json_object_set_new(o, "dirty", dirty_json(v));
        json_object_set_new(o, "comment", json_sprintf("lab guest '%s', heartbeat udp:%d",
                                                       v->workload, v->hb_port));
        json_array_append_new(vs, o);
    }
    json_object_set_new(j, "vms", vs);
    /* `cutover cycle` reads the same file: its reboot hook is the lab's
     * reboot (argv, no shell), when the running binary is cutover itself
     * (a test binary calling co_cluster_up has no such command) */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        const char *base = strrchr(exe, '/');
        /* the MTU path check of `cutover cycle`'s preflight: a ping that
         * must not fragment, from inside the host's namespace, at the
         * host's MTU (cycle/preflight.h) */
        if (base && !strcmp(base + 1, "cutover")) {
            const char *probe[] = {exe, "lab", "cluster", "exec", c->dir, "{host}", "--", "ping",
                                   "-n", "-M", "do", "-s", "{payload}", "-c", "2", "-i", "0.2",
                                   "-W", "2", "{peer_addr}"};
            json_t *pa = json_array();
            for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++)
                json_array_append_new(pa, json_string(probe[i]));
            /* the clock and scratch checks of the same preflight: the host's
             * clock (here the machine's own, so they agree) and the free
             * space of the lab's directory */
            json_object_set_new(
                j, "hooks",
                json_pack("{s:[s,s,s,s,s,s], s:{s:o, s:s}, s:[s,s,s,s,s,s,s,s,s],"
                          " s:[s,s,s,s,s,s,s,s,s,s,s]}",
                          "reboot", exe, "lab", "cluster", "reboot", c->dir, "{host}",
                          "mtu_probe", "argv", pa, "timeout", "20s",
                          "clock_probe", exe, "lab", "cluster", "exec", c->dir, "{host}", "--",
                          "date", "+%s.%N",
                          "scratch_probe", exe, "lab", "cluster", "exec", c->dir, "{host}",
                          "--", "df", "--output=avail", "-B1", c->dir));
        }
    }
    return j;
}

int co_cluster_load(const char *dir, co_cluster *c, co_diag *d)
{
    memset(c, 0, sizeof *c);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lab.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (j == NULL) {
        if (access(path, F_OK) != 0)
            return co_diag_set(d, CO_ENOINPUT, "no cluster at %s (no lab.json)", dir);
        return co_diag_set(d, CO_EDATA, "%s:%d: %s", path, je.line, je.text);
    }
    int rc = CO_OK;
    const char *s;
#define GETS(obj, key, dst)                                                                \
    do {                                                                                   \
        s = json_string_value(json_object_get(obj, key));                                  \
        if (s == NULL) {                                                                   \
            rc = co_diag_set(d, CO_EDATA, "%s: missing \"%s\"", path, key);                \
            goto out;                                                                      \
        }                                                                                  \
        snprintf(dst, sizeof dst, "%s", s);                                                \
    } while (0)
    GETS(j, "dir", c->dir);
    GETS(j, "root_addr", c->root_addr);
    GETS(j, "switch_netns", c->switch_netns);
    GETS(j, "accel", c->accel);
    GETS(j, "guest", c->guest_path);
    c->nic_bytes_per_s = json_number_value(json_object_get(j, "nic_bytes_per_s"));
    c->mtu = (int)json_integer_value(json_object_get(j, "mtu"));
    c->up_ms = json_number_value(json_object_get(j, "up_ms"));
    json_t *hs = json_object_get(j, "hosts"), *vs = json_object_get(j, "vms");
    if (!json_is_array(hs) || json_array_size(hs) > CO_CLUSTER_MAX_HOSTS || !json_is_array(vs) ||
        json_array_size(vs) > CO_CLUSTER_MAX_VMS) {
        rc = co_diag_set(d, CO_EDATA, "%s: bad \"hosts\" or \"vms\"", path);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(hs); i++) {
        json_t *o = json_array_get(hs, i);
        co_cluster_host *h = &c->hosts[c->nhosts++];
        GETS(o, "name", h->name);
        GETS(o, "addr", h->addr);
        GETS(o, "uri", h->uri);
        GETS(o, "migration_uri", h->migration_uri);
        GETS(o, "netns", h->netns);
    }
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *o = json_array_get(vs, i);
        co_cluster_vm *v = &c->vms[c->nvms++];
        char host[16];
        GETS(o, "name", v->name);
        GETS(o, "host", host);
        GETS(o, "workload", v->workload);
        v->host = -1;
        for (int k = 0; k < c->nhosts; k++)
            if (strcmp(c->hosts[k].name, host) == 0)
                v->host = k;
        if (v->host < 0) {
            rc = co_diag_set(d, CO_EDATA, "%s: vms[%zu]: unknown host '%s'", path, i, host);
            goto out;
        }
        v->mem_bytes = (double)json_integer_value(json_object_get(o, "mem_bytes"));
        v->hb_port = (int)json_integer_value(json_object_get(o, "heartbeat_port"));
        v->boot_ms = json_number_value(json_object_get(o, "boot_ms"));
    }
#undef GETS
out:
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------ up */

static int domain_xml(const co_cluster *c, const co_cluster_vm *v, char *out, size_t len)
{
    char guest[1100], wl[1100];
    xml_esc(c->guest_path, guest, sizeof guest);
    xml_esc(v->workload, wl, sizeof wl);
    const char *qboot = "/usr/share/qemu/qboot.rom";
    char loader[160] = "";
    /* qboot starts a multiboot kernel in ~0.2 s where SeaBIOS takes seconds */
    if (file_ok(qboot, R_OK))
        snprintf(loader, sizeof loader, "<loader type='rom' readonly='yes'>%s</loader>", qboot);
    int n = snprintf(out, len,
                     "<domain type='%s'>\n"
                     "  <name>%s</name>\n"
                     "  <memory unit='KiB'>%.0f</memory>\n"
                     "  <vcpu>1</vcpu>\n"
                     "  <os><type arch='x86_64' machine='pc'>hvm</type>%s"
                     "<kernel>%s</kernel><cmdline>%s</cmdline></os>\n"
                     "  <on_poweroff>destroy</on_poweroff>\n"
                     "  <on_crash>destroy</on_crash>\n"
                     "  <devices>\n"
                     "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                     "    <controller type='usb' model='none'/>\n"
                     "    <memballoon model='none'/>\n"
                     "    <serial type='udp'><source mode='connect' host='%s' service='%d'/>"
                     "<target port='0'/></serial>\n"
                     "  </devices>\n"
                     "</domain>\n",
                     strcmp(c->accel, "kvm") == 0 ? "kvm" : "qemu", v->name, v->mem_bytes / 1024,
                     loader, guest, wl, c->root_addr, v->hb_port);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Bind each VM's heartbeat port on the root address, before its guest
 * starts (so the first heartbeat is seen when it comes). fds[i] = -1 when
 * the port is taken (a tool listens already): that VM is not checked. */
static void hb_bind(const co_cluster *c, int *fds)
{
    for (int i = 0; i < c->nvms; i++) {
        fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->vms[i].hb_port)};
        inet_pton(AF_INET, c->root_addr, &a.sin_addr);
        if (fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0) {
            /* someone listens there already (a tool): cannot check this one */
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

/* Wait until every bound heartbeat port has heard a datagram; closes fds. */
static int wait_heartbeats(co_cluster *c, int *fds, double t0, co_diag *d)
{
    int left = 0, rc = CO_OK;
    for (int i = 0; i < c->nvms; i++)
        left += fds[i] >= 0;
    while (left > 0) {
        double now = co_clock_ms();
        if (now - t0 > BOOT_TIMEOUT_MS) {
            for (int i = 0; i < c->nvms; i++)
                if (fds[i] >= 0) {
                    rc = co_diag_set(d, CO_ETIMEDOUT,
                                     "guest %s on %s sent no heartbeat within %.0f s (see "
                                     "%s/%s/var/log/libvirt/qemu/%s.log)",
                                     c->vms[i].name, c->hosts[c->vms[i].host].name,
                                     BOOT_TIMEOUT_MS / 1e3, c->dir,
                                     c->hosts[c->vms[i].host].name, c->vms[i].name);
                    break;
                }
            break;
        }
        struct pollfd p[CO_CLUSTER_MAX_VMS];
        int map[CO_CLUSTER_MAX_VMS], np = 0;
        for (int i = 0; i < c->nvms; i++)
            if (fds[i] >= 0) {
                p[np] = (struct pollfd){.fd = fds[i], .events = POLLIN};
                map[np++] = i;
            }
        if (poll(p, (nfds_t)np, 200) < 0 && errno != EINTR) {
            rc = co_diag_set(d, CO_EOS, "poll: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < np; k++)
            if (p[k].revents & POLLIN) {
                int i = map[k];
                /* boot_ms held the domain's start time (start_domains) */
                c->vms[i].boot_ms = co_clock_ms() - c->vms[i].boot_ms;
                close(fds[i]);
                fds[i] = -1;
                left--;
            }
    }
    for (int i = 0; i < c->nvms; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* One host's share of start_domains, on a thread of its own: libvirt
 * starts a QEMU in seconds on this loaded machine, hosts go in parallel. */
struct host_job {
    co_cluster *c;
    int k;
    pthread_t tid;
    int rc, cores;
    double host_mem;
    char err[400];
};

static void *host_start(void *arg)
{
    struct host_job *j = arg;
    co_cluster *c = j->c;
    virConnectPtr conn = virConnectOpen(c->hosts[j->k].uri);
    if (conn == NULL) {
        snprintf(j->err, sizeof j->err, "connect to %s: %s", c->hosts[j->k].uri,
                 virGetLastErrorMessage());
        j->rc = CO_EUNAVAIL;
        return NULL;
    }
    virNodeInfo ni;
    if (virNodeGetInfo(conn, &ni) == 0) {
        j->cores = (int)ni.cpus;
        j->host_mem = (double)ni.memory * 1024;
    }
    for (int i = 0; i < c->nvms && j->rc == CO_OK; i++) {
        co_cluster_vm *v = &c->vms[i];
        if (v->host != j->k)
            continue;
        char xml[4096];
        if (domain_xml(c, v, xml, sizeof xml) != 0) {
            snprintf(j->err, sizeof j->err, "domain XML of %s too long", v->name);
            j->rc = CO_ESOFTWARE;
            break;
        }
        /* persistent, so a reboot leaves it defined (shut off), as on a
         * real host; not autostarted: what runs after a reboot is the
         * operator's (or the evacuation's) decision */
        v->boot_ms = co_clock_ms(); /* start time, until the heartbeat */
        virDomainPtr dom = virDomainDefineXML(conn, xml);
        if (dom == NULL || virDomainCreate(dom) != 0) {
            snprintf(j->err, sizeof j->err, "start %s on %s: %s", v->name, c->hosts[j->k].name,
                     virGetLastErrorMessage());
            j->rc = CO_EUNAVAIL;
        }
        if (dom)
            virDomainFree(dom);
    }
    virConnectClose(conn);
    return NULL;
}

static int start_domains(co_cluster *c, int *cores, double *host_mem, co_diag *d)
{
    virSetErrorFunc(NULL, quiet);
    struct host_job jobs[CO_CLUSTER_MAX_HOSTS];
    int started = 0, rc = CO_OK;
    for (int k = 0; k < c->nhosts; k++) {
        jobs[k] = (struct host_job){.c = c, .k = k, .rc = CO_OK};
        if (pthread_create(&jobs[k].tid, NULL, host_start, &jobs[k]) != 0) {
            rc = co_diag_set(d, CO_EOS, "pthread_create failed");
            break;
        }
        started++;
    }
    for (int k = 0; k < started; k++) {
        pthread_join(jobs[k].tid, NULL);
        if (jobs[k].rc != CO_OK && rc == CO_OK)
            rc = co_diag_set(d, jobs[k].rc, "%s", jobs[k].err);
        if (jobs[k].cores > 0) {
            *cores = jobs[k].cores;
            *host_mem = jobs[k].host_mem;
        }
    }
    return rc;
}

int co_cluster_up(const co_cluster_config *cfg, co_cluster *c, co_diag *d)
{
    memset(c, 0, sizeof *c);
    double t0 = co_clock_ms();
    if (cfg->hosts < 2 || cfg->hosts > CO_CLUSTER_MAX_HOSTS)
        return co_diag_set(d, CO_EUSAGE, "--hosts: %d is not in 2..%d", cfg->hosts,
                           CO_CLUSTER_MAX_HOSTS);
    c->nic_bytes_per_s = cfg->nic_bytes_per_s > 0 ? cfg->nic_bytes_per_s : DEFAULT_NIC_BYTES_PER_S;
    if (c->nic_bytes_per_s < 125e3 || c->nic_bytes_per_s > 12.5e9)
        return co_diag_set(d, CO_EUSAGE, "--nic: must be in 1Mbit..100Gbit");
    c->mtu = cfg->mtu > 0 ? cfg->mtu : 9000;
    if (c->mtu < 1280 || c->mtu > 9000)
        return co_diag_set(d, CO_EUSAGE, "--mtu: %d is not in 1280..9000", c->mtu);
    double mem = cfg->mem_bytes > 0 ? cfg->mem_bytes : DEFAULT_MEM_BYTES;
    c->nhosts = cfg->hosts;

    /* VMs: from the workloads file (cycled over --vms), else the default */
    int nlines = 0, rc;
    co_cluster_vm *lines = NULL;
    if (cfg->workloads_path) {
        co_cluster *tmp = calloc(1, sizeof *tmp);
        if (tmp == NULL)
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        rc = co_cluster_workloads_load(cfg->workloads_path, mem, cfg->hosts, tmp, &nlines, d);
        if (rc == CO_OK && nlines == 0)
            rc = co_diag_set(d, CO_EDATA, "%s: no workload lines", cfg->workloads_path);
        if (rc != CO_OK) {
            free(tmp);
            return rc;
        }
        lines = malloc(sizeof *lines * (size_t)nlines);
        if (lines == NULL) {
            free(tmp);
            return co_diag_set(d, CO_ENOMEM, "out of memory");
        }
        memcpy(lines, tmp->vms, sizeof *lines * (size_t)nlines);
        free(tmp);
    }
    int nvms = cfg->vms >= 0 ? cfg->vms : nlines;
    if (nvms > CO_CLUSTER_MAX_VMS) {
        free(lines);
        return co_diag_set(d, CO_EUSAGE, "--vms: %d is not in 0..%d", nvms, CO_CLUSTER_MAX_VMS);
    }
    if ((rc = co_lab_find_guest(cfg->guest_path, c->guest_path, sizeof c->guest_path, d))) {
        free(lines);
        return rc;
    }
    char abs[PATH_MAX];
    if (realpath(c->guest_path, abs) && strlen(abs) < sizeof c->guest_path)
        put(c->guest_path, sizeof c->guest_path, "%s", abs);
    const char *accel;
    char reason[200];
    if ((rc = co_lab_pick_accel(CO_LAB_ACCEL_AUTO, &accel, reason, sizeof reason, d))) {
        free(lines);
        return rc;
    }
    snprintf(c->accel, sizeof c->accel, "%s", accel);
    c->nvms = nvms;
    for (int i = 0; i < nvms; i++) {
        co_cluster_vm *v = &c->vms[i];
        if (lines) {
            *v = lines[i % nlines];
        } else {
            v->host = -1;
            v->mem_bytes = mem;
            co_diag td;
            co_diag_init(&td);
            if (co_lab_workload_check(DEFAULT_WORKLOAD, mem, v->workload, sizeof v->workload,
                                      &td)) {
                free(lines);
                return co_diag_set(d, CO_EUSAGE, "--mem: %s", td.msg);
            }
        }
        snprintf(v->name, sizeof v->name, "vm%d", i + 1);
        if (v->host < 0)
            v->host = i % c->nhosts;
        /* Under TCG (QEMU < 9.0) the guest flushes its TLB every ms, else
         * pages that stay in it migrate stale (docs/lab.md). */
        if (strcmp(c->accel, "tcg") == 0 && strstr(v->workload, "tlbflush=") == NULL) {
            size_t wl = strlen(v->workload);
            snprintf(v->workload + wl, sizeof v->workload - wl, "%stlbflush=1ms",
                     wl ? " " : "");
        }
    }
    free(lines);

    if ((rc = check_env(d)))
        return rc;
    char script[PATH_MAX];
    if ((rc = co_cluster_find_script(script, sizeof script, d)))
        return rc;
    if (mkdir(cfg->dir, 0755) != 0 && errno != EEXIST)
        return co_diag_set(d, CO_ECANTCREAT, "cannot create %s: %s", cfg->dir, strerror(errno));
    if (realpath(cfg->dir, abs) == NULL || strlen(abs) >= sizeof c->dir)
        return co_diag_set(d, CO_ECANTCREAT, "%s: %s", cfg->dir, strerror(errno));
    put(c->dir, sizeof c->dir, "%s", abs);
    /* each host mounts its own /var and /run and /etc/libvirt: a cluster
     * (or guest) under them would be hidden from the daemons */
    static const char *const hidden[] = {"/var/", "/run/", "/etc/libvirt/", "/proc/", NULL};
    for (int i = 0; hidden[i]; i++) {
        size_t hl = strlen(hidden[i]);
        if (strncmp(c->dir, hidden[i], hl) == 0 || strncmp(c->guest_path, hidden[i], hl) == 0)
            return co_diag_set(d, CO_EUSAGE, "%s and the guest must not be under %s (each "
                                             "host mounts its own there)", c->dir, hidden[i]);
    }
    char lab_env[PATH_MAX];
    snprintf(lab_env, sizeof lab_env, "%s/lab.env", c->dir);
    if (access(lab_env, F_OK) == 0)
        return co_diag_set(d, CO_EUSAGE, "%s holds a cluster already (cutover lab cluster down "
                                         "%s)", c->dir, c->dir);

    char nh[16], rate[32], mtu[16], wfd[16];
    snprintf(nh, sizeof nh, "%d", c->nhosts);
    snprintf(rate, sizeof rate, "%.0f", c->nic_bytes_per_s * 8);
    snprintf(mtu, sizeof mtu, "%d", c->mtu);
    snprintf(wfd, sizeof wfd, "%d", cfg->watch_fd);
    const char *args[] = {"up", c->dir, nh, rate, mtu, cfg->watch_fd >= 0 ? wfd : NULL, NULL};
    if ((rc = run_script(script, args, cfg->watch_fd, "cluster up", d)))
        return rc; /* the script tore down what it made */

    char prefix[32] = "", nsp[32] = "", subnet[16] = "";
    if (env_get(lab_env, "PREFIX", prefix, sizeof prefix) ||
        env_get(lab_env, "NS_PREFIX", nsp, sizeof nsp) ||
        env_get(lab_env, "SUBNET", subnet, sizeof subnet) ||
        env_get(lab_env, "ROOT_ADDR", c->root_addr, sizeof c->root_addr) ||
        env_get(lab_env, "NS_SW", c->switch_netns, sizeof c->switch_netns)) {
        rc = co_diag_set(d, CO_ESOFTWARE, "%s: missing keys", lab_env);
        goto fail;
    }
    for (int k = 0; k < c->nhosts; k++) {
        co_cluster_host *h = &c->hosts[k];
        put(h->name, sizeof h->name, "h%d", k + 1);
        put(h->addr, sizeof h->addr, "%s.%d", prefix, k + 1);
        put(h->uri, sizeof h->uri, "qemu+tcp://%s/system", h->addr);
        put(h->migration_uri, sizeof h->migration_uri, "tcp://%s", h->addr);
        put(h->netns, sizeof h->netns, "%s-h%d", nsp, k + 1);
        h->up = 1;
    }
    int s = atoi(subnet);
    for (int i = 0; i < c->nvms; i++)
        c->vms[i].hb_port = HB_PORT_BASE + (s - 101) * CO_CLUSTER_MAX_VMS + i;

    int cores = 1;
    double host_mem = 1073741824.0;
    int hb_fds[CO_CLUSTER_MAX_VMS];
    hb_bind(c, hb_fds);
    double tdom = co_clock_ms();
    if ((rc = start_domains(c, &cores, &host_mem, d))) {
        for (int i = 0; i < c->nvms; i++)
            if (hb_fds[i] >= 0)
                close(hb_fds[i]);
        goto fail;
    }
    if ((rc = wait_heartbeats(c, hb_fds, tdom, d)))
        goto fail;
    c->up_ms = co_clock_ms() - t0;
    if ((rc = write_json(c->dir, "lab.json", co_cluster_json(c, NULL, 0), d)) ||
        (rc = write_json(c->dir, "cluster.json", cluster_json(c, cores, host_mem), d)))
        goto fail;
    return CO_OK;
fail:;
    co_diag dd;
    co_diag_init(&dd);
    co_cluster_down(c->dir, &dd);
    return rc;
}

/* ------------------------------------------------------------ reboot, down */

/* The number K of host ("h2" or "2") in c (1..nhosts); 0 with d set
 * (CO_EUSAGE) when it names no host of the cluster at dir. */
static long host_number(const co_cluster *c, const char *dir, const char *host, co_diag *d)
{
    const char *h = host[0] == 'h' ? host + 1 : host;
    char *end;
    long k = strtol(h, &end, 10);
    if (*h == '\0' || *end != '\0' || k < 1 || k > c->nhosts) {
        co_diag_set(d, CO_EUSAGE, "no host '%s' in %s (h1..h%d)", host, dir, c->nhosts);
        return 0;
    }
    return k;
}

/* Run `cluster.sh VERB DIR K` for host ("h2" or "2") of the cluster at dir. */
static int host_script(const char *dir, const char *host, const char *verb, const char *what,
                       co_diag *d)
{
    co_cluster c;
    int rc = co_cluster_load(dir, &c, d);
    if (rc)
        return rc;
    long k = host_number(&c, dir, host, d);
    if (k == 0)
        return CO_EUSAGE;
    if ((rc = check_env(d)))
        return rc;
    char script[PATH_MAX], ks[16];
    if ((rc = co_cluster_find_script(script, sizeof script, d)))
        return rc;
    snprintf(ks, sizeof ks, "%ld", k);
    const char *args[] = {verb, c.dir, ks, NULL};
    return run_script(script, args, -1, what, d);
}

int co_cluster_reboot(const char *dir, const char *host, co_diag *d)
{
    return host_script(dir, host, "reboot", "cluster reboot", d);
}

int co_cluster_restart_daemon(const char *dir, const char *host, co_diag *d)
{
    return host_script(dir, host, "restart-daemon", "cluster restart-daemon", d);
}

int co_cluster_exec(const char *dir, const char *host, char *const argv[], co_diag *d)
{
    if (!argv || !argv[0] || !argv[0][0])
        return co_diag_set(d, CO_EUSAGE, "exec: no program to run");
    co_cluster c;
    int rc = co_cluster_load(dir, &c, d);
    if (rc)
        return rc;
    long k = host_number(&c, dir, host, d);
    if (k == 0)
        return CO_EUSAGE;
    char ns[96];
    snprintf(ns, sizeof ns, "/run/netns/%s", c.hosts[k - 1].netns);
    int fd = open(ns, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return co_diag_set(d, errno == EACCES ? CO_ENOPERM : CO_EUNAVAIL,
                           "host h%ld's network namespace %s: %s (is the cluster up?)", k, ns,
                           strerror(errno));
    if (setns(fd, CLONE_NEWNET) != 0) {
        int e = errno;
        close(fd);
        return co_diag_set(d, e == EPERM ? CO_ENOPERM : CO_EOS, "entering %s: %s%s", ns,
                           strerror(e), e == EPERM ? " (the cluster lab needs root)" : "");
    }
    close(fd);
    execvp(argv[0], argv);
    return co_diag_set(d, CO_EOS, "cannot run '%s' on h%ld: %s", argv[0], k, strerror(errno));
}

int co_cluster_down(const char *dir, co_diag *d)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return CO_OK; /* nothing there: down already */
    int rc;
    if ((rc = check_env(d)))
        return rc;
    char script[PATH_MAX];
    if ((rc = co_cluster_find_script(script, sizeof script, d)))
        return rc;
    const char *args[] = {"down", dir, NULL};
    return run_script(script, args, -1, "cluster down", d);
}

/* ------------------------------------------------------------ status */

static const char *state_name(int s)
{
    switch (s) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
    }
}

/* One host's domains, asked in a thread: a daemon that does not answer
 * (stopped, stuck) must not hold `status`; after the bound the thread owns
 * its job and frees it (util/deadline.h). No keepalive here: that needs
 * libvirt's event loop, which drivers/drv_virt.c owns for the process, and
 * lab/ does not call drivers/. */
#define STATUS_TIMEOUT_MS 5000
#define STATUS_MAX_DOMS CO_CLUSTER_MAX_VMS

struct status_job {
    char uri[96];
    int up, n;
    struct {
        char name[sizeof ((co_cluster_dom *)0)->name];
        int state;
    } doms[STATUS_MAX_DOMS];
};

static void status_call(void *arg)
{
    struct status_job *j = arg;
    virConnectPtr conn = virConnectOpen(j->uri);
    int n = 0;
    if (conn) {
        virDomainPtr *list = NULL;
        int nd = virConnectListAllDomains(conn, &list, 0);
        for (int i = 0; i < nd; i++) {
            int st = 0, reason;
            if (n < STATUS_MAX_DOMS && virDomainGetState(list[i], &st, &reason, 0) == 0) {
                snprintf(j->doms[n].name, sizeof j->doms[n].name, "%s",
                         virDomainGetName(list[i]));
                j->doms[n++].state = st;
            }
            virDomainFree(list[i]);
        }
        free(list);
        virConnectClose(conn);
    }
    j->up = conn != NULL;
    j->n = n;
}

int co_cluster_status(co_cluster *c, co_cluster_dom *doms, int cap, int *n, co_diag *d)
{
    (void)d;
    virSetErrorFunc(NULL, quiet);
    *n = 0;
    struct status_job *jobs[CO_CLUSTER_MAX_HOSTS];
    int host[CO_CLUSTER_MAX_HOSTS], nj = 0;
    for (int k = 0; k < c->nhosts; k++) {
        c->hosts[k].up = 0;
        struct status_job *j = calloc(1, sizeof *j);
        if (!j)
            continue;
        snprintf(j->uri, sizeof j->uri, "%s", c->hosts[k].uri);
        jobs[nj] = j;
        host[nj++] = k;
    }
    int done[CO_CLUSTER_MAX_HOSTS];
    if (co_deadline_run_all(status_call, (void *const *)jobs, nj, free, STATUS_TIMEOUT_MS,
                            done) < 0)
        for (int i = 0; i < nj; i++)
            done[i] = -1;
    for (int i = 0; i < nj; i++) {
        struct status_job *j = jobs[i];
        if (done[i] == 0)
            continue; /* no answer within the bound: reported down; the thread frees j */
        int k = host[i];
        c->hosts[k].up = done[i] == 1 && j->up;
        for (int m = 0; done[i] == 1 && m < j->n && *n < cap; m++) {
            co_cluster_dom *o = &doms[(*n)++];
            snprintf(o->name, sizeof o->name, "%s", j->doms[m].name);
            o->host = k;
            o->state = state_name(j->doms[m].state);
        }
        free(j);
    }
    return CO_OK;
}
