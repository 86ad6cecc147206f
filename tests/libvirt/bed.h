/* tests/libvirt/bed.h: the two-daemon libvirt bed (tests/libvirt/bed.sh)
 * seen from a Criterion test.
 *
 * Owns: one bed per test process: its private directory (mkdtemp under
 * /tmp), the pipe whose write end ties the bed's lifetime to this process
 * (if the test crashes, bed.sh's watchdog sees EOF and tears everything
 * down), and the URIs parsed from DIR/env. co_bed_down() is idempotent and
 * must be called from the test's fini. Also the guests tests run on daemon
 * a (co_bed_start_guest, co_bed_make_domain) and where a domain is
 * (co_bed_domain_state). Header-only: tests include it (and link libvirt). */
#ifndef CUTOVER_TESTS_LIBVIRT_BED_H
#define CUTOVER_TESTS_LIBVIRT_BED_H

#include <dlfcn.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct co_bed {
    char dir[256];
    char script[512];
    char uri_a[512], uri_b[512], uri_b_tcp[128], migrate_uri_b[128];
    int watch_fd; /* write end of the watchdog pipe, -1 when down */
    double up_ms; /* how long bed.sh up took */
} co_bed;

static inline double co_bed_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* NULL if the bed can run here, else why not (for cr_skip). */
static inline const char *co_bed_unavailable(void)
{
    if (geteuid() != 0)
        return "libvirt bed needs root (namespaces, libvirtd)";
    if (access("/usr/sbin/libvirtd", X_OK) != 0 || access("/usr/sbin/virtlogd", X_OK) != 0)
        return "libvirtd or virtlogd not installed";
    return NULL;
}

/* Absolute path of a file in the source tree (tests run from the top). */
static inline void co_bed_abspath(const char *rel, char *out, size_t len)
{
    char cwd[384];
    if (rel[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
        snprintf(out, len, "%s", rel);
    else
        snprintf(out, len, "%s/%s", cwd, rel);
}

static inline int co_bed_env_get(const char *env, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    for (const char *p = env; p && *p;) {
        if (strncmp(p, key, k) == 0 && p[k] == '=') {
            const char *v = p + k + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= len)
                return -1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

/* Run bed.sh with args (argv-style, NULL-terminated), optional extra fd as
 * fd 3; returns the exit code or -1. */
static inline int co_bed_run(co_bed *b, const char *const *args, int fd3)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (fd3 >= 0) {
            if (dup2(fd3, 3) < 0)
                _exit(127);
        }
        const char *argv[8];
        int n = 0;
        argv[n++] = b->script;
        for (int i = 0; args[i] && n < 7; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(b->script, (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bring the bed up. Returns 0, or -1 with a reason in err. */
static inline int co_bed_up(co_bed *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->watch_fd = -1;
    co_bed_abspath("tests/libvirt/bed.sh", b->script, sizeof b->script);
    snprintf(b->dir, sizeof b->dir, "/tmp/co-virt-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        snprintf(err, errlen, "mkdtemp failed");
        return -1;
    }
    int p[2];
    if (pipe(p) < 0 || fcntl(p[0], F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(p[1], F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe failed");
        return -1;
    }
    b->watch_fd = p[1];
    /* a capabilities cache shared by the beds of this build tree */
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char rel[300], cache[700];
    snprintf(rel, sizeof rel, "%s/tests/libvirt/cache", build);
    co_bed_abspath(rel, cache, sizeof cache);
    setenv("CO_BED_CACHE", cache, 0);
    double t0 = co_bed_now_ms();
    const char *args[] = {"up", b->dir, "3", NULL};
    int rc = co_bed_run(b, args, p[0]);
    close(p[0]);
    b->up_ms = co_bed_now_ms() - t0;
    if (rc != 0) {
        snprintf(err, errlen, "bed.sh up %s failed (exit %d)", b->dir, rc);
        return -1;
    }
    char path[300], env[4096];
    snprintf(path, sizeof path, "%s/env", b->dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(env, 1, sizeof env - 1, f) : 0;
    if (f)
        fclose(f);
    env[n] = '\0';
    if (co_bed_env_get(env, "URI_A", b->uri_a, sizeof b->uri_a) ||
        co_bed_env_get(env, "URI_B", b->uri_b, sizeof b->uri_b) ||
        co_bed_env_get(env, "URI_B_TCP", b->uri_b_tcp, sizeof b->uri_b_tcp) ||
        co_bed_env_get(env, "MIGRATE_URI_B", b->migrate_uri_b, sizeof b->migrate_uri_b)) {
        snprintf(err, errlen, "%s: missing keys", path);
        return -1;
    }
    return 0;
}

static inline void co_bed_down(co_bed *b)
{
    if (b->script[0] && b->dir[0]) {
        const char *args[] = {"down", b->dir, NULL};
        co_bed_run(b, args, -1);
    }
    if (b->watch_fd >= 0)
        close(b->watch_fd);
    b->watch_fd = -1;
    b->dir[0] = '\0';
}

/* SIGKILL one side's libvirtd ('a' or 'b'). */
static inline int co_bed_kill_daemon(co_bed *b, const char *side)
{
    const char *args[] = {"kill-daemon", b->dir, side, NULL};
    return co_bed_run(b, args, -1);
}

/* SIGSTOP (stop=1) or SIGCONT (stop=0) one side's libvirtd. */
static inline int co_bed_stop_daemon(co_bed *b, const char *side, int stop)
{
    const char *args[] = {stop ? "stop-daemon" : "cont-daemon", b->dir, side, NULL};
    return co_bed_run(b, args, -1);
}

/* Domain XML for the dirtier guest (built by tests/libvirt/module.mk) into
 * buf; its serial log goes to DIR/NAME.serial; with payload_mib > 0 its RAM
 * holds that many MiB of random bytes (a multiboot module, kept in
 * $CO_BED_CACHE, set by co_bed_up, else in DIR).
 * Returns 0 or -1. */
static inline int co_bed_domain_xml(co_bed *b, const char *name, int mem_mib, int payload_mib,
                                    const char *cmdline, char *buf, size_t len)
{
    char payload[800] = "";
    if (payload_mib > 0) {
        /* one read-only payload per size, shared by the beds of this build
         * tree (QEMU only reads it), made once: random bytes cost time */
        const char *cache = getenv("CO_BED_CACHE");
        char mib[16], tmp[900];
        snprintf(mib, sizeof mib, "%d", payload_mib);
        if (cache)
            snprintf(payload, sizeof payload, "%s/payload-%dmib.bin", cache, payload_mib);
        else
            snprintf(payload, sizeof payload, "%s/%s.payload", b->dir, name);
        if (access(payload, R_OK) != 0) {
            snprintf(tmp, sizeof tmp, "%s.%d.tmp", payload, (int)getpid());
            const char *args[] = {"payload", tmp, mib, NULL};
            if (co_bed_run(b, args, -1) != 0 || rename(tmp, payload) != 0) {
                unlink(tmp);
                return -1;
            }
        }
    }
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char rel[300], kernel[700], cmd[2600];
    snprintf(rel, sizeof rel, "%s/tests/libvirt/dirtier.elf", build);
    co_bed_abspath(rel, kernel, sizeof kernel);
    if (access(kernel, R_OK) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "'%s' domain-xml '%s' %d '%s' '%s' '%s/%s.serial' '%s'",
             b->script, name, mem_mib, kernel, cmdline, b->dir, name, payload);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t n = fread(buf, 1, len - 1, p);
    buf[n] = '\0';
    return pclose(p) == 0 && n > 0 ? 0 : -1;
}

/* Wait up to timeout_ms for the guest NAME to report that it filled its RAM. */
static inline int co_bed_wait_guest(co_bed *b, const char *name, int timeout_ms)
{
    char path[400], buf[256];
    snprintf(path, sizeof path, "%s/%s.serial", b->dir, name);
    double end = co_bed_now_ms() + timeout_ms;
    while (co_bed_now_ms() < end) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (strstr(buf, "dirtier: ready"))
                return 0;
        }
        usleep(20000);
    }
    return -1;
}

static inline void co_bed_quiet(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

/* Create (start=1: run the dirtier guest with payload_mib of content and
 * cmdline) or only define (start=0: enough for calls that need a domain to
 * exist, without the guest's boot time) domain NAME on daemon a.
 * 0, or -1 with the reason in err. */
static inline int co_bed_make_domain(co_bed *b, const char *name, int payload_mib,
                                     const char *cmdline, int start, char *err, size_t errlen)
{
    virSetErrorFunc(NULL, co_bed_quiet);
    char xml[4096];
    if (co_bed_domain_xml(b, name, 256, payload_mib, cmdline, xml, sizeof xml) != 0) {
        snprintf(err, errlen, "domain XML (is build/tests/libvirt/dirtier.elf built?)");
        return -1;
    }
    virConnectPtr a = virConnectOpen(b->uri_a);
    if (a == NULL) {
        snprintf(err, errlen, "connect to daemon a: %s", virGetLastErrorMessage());
        return -1;
    }
    virDomainPtr d = start ? virDomainCreateXML(a, xml, 0) : virDomainDefineXML(a, xml);
    if (d == NULL)
        snprintf(err, errlen, "%s domain %s: %s", start ? "create" : "define", name,
                 virGetLastErrorMessage());
    else
        virDomainFree(d);
    virConnectClose(a);
    return d ? 0 : -1;
}

/* Start the dirtier guest NAME on daemon a and wait up to 60 s until its
 * RAM is filled. 0, or -1 with the reason in err. */
static inline int co_bed_start_guest(co_bed *b, const char *name, int payload_mib,
                                     const char *cmdline, char *err, size_t errlen)
{
    if (co_bed_make_domain(b, name, payload_mib, cmdline, 1, err, errlen) != 0)
        return -1;
    if (co_bed_wait_guest(b, name, 60000) != 0) {
        snprintf(err, errlen, "guest %s did not fill its RAM within 60 s", name);
        return -1;
    }
    return 0;
}

/* State of domain NAME on the daemon at uri: VIR_DOMAIN_*, -1 if absent,
 * -2 if the daemon or the call failed. */
static inline int co_bed_domain_state(const char *uri, const char *name)
{
    virSetErrorFunc(NULL, co_bed_quiet);
    virConnectPtr c = virConnectOpen(uri);
    if (c == NULL)
        return -2;
    int state = -1, reason;
    virDomainPtr d = virDomainLookupByName(c, name);
    if (d) {
        if (virDomainGetState(d, &state, &reason, 0) < 0)
            state = -2;
        virDomainFree(d);
    }
    virConnectClose(c);
    return state;
}

/* The migration downtime limit of domain NAME (ms), -1 if it cannot be read. */
static inline long long co_bed_max_downtime(const char *uri, const char *name)
{
    virSetErrorFunc(NULL, co_bed_quiet);
    virConnectPtr c = virConnectOpen(uri);
    if (c == NULL)
        return -1;
    unsigned long long ms = 0;
    long long out = -1;
    virDomainPtr d = virDomainLookupByName(c, name);
    if (d) {
        if (virDomainMigrateGetMaxDowntime(d, &ms, 0) == 0)
            out = (long long)ms;
        virDomainFree(d);
    }
    virConnectClose(c);
    return out;
}

/* One of QEMU's migration parameters of domain NAME (query-migrate-parameters
 * through libvirt-qemu's monitor passthrough, loaded with dlopen: the tests
 * link libvirt only), e.g. "max-cpu-throttle"; -1 if it cannot be read. */
static inline long long co_bed_migrate_param(const char *uri, const char *name, const char *key)
{
    void *h = dlopen("libvirt-qemu.so.0", RTLD_NOW | RTLD_LOCAL);
    void *sym = h ? dlsym(h, "virDomainQemuMonitorCommand") : NULL;
    if (sym == NULL)
        return -1;
    int (*cmd)(virDomainPtr, const char *, char **, unsigned int);
    memcpy(&cmd, &sym, sizeof sym);
    virSetErrorFunc(NULL, co_bed_quiet);
    virConnectPtr c = virConnectOpen(uri);
    if (c == NULL)
        return -1;
    long long out = -1;
    virDomainPtr d = virDomainLookupByName(c, name);
    char *reply = NULL;
    if (d && cmd(d, "{\"execute\":\"query-migrate-parameters\"}", &reply, 0) == 0 && reply) {
        char pat[96];
        snprintf(pat, sizeof pat, "\"%s\":", key);
        const char *p = strstr(reply, pat);
        if (p)
            out = strtoll(p + strlen(pat), NULL, 10);
    }
    free(reply);
    if (d)
        virDomainFree(d);
    virConnectClose(c);
    return out;
}

#endif
