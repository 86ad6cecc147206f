/* tests/cluster_fx.h: the cluster-lab fixture shared by the tests that need
 * several libvirt hosts (tests/lab/test_cluster.c, tests/evacuate/).
 *
 * Owns: the cluster directory of the running test (fx_dir) and the write
 * end of the lab's watchdog pipe (fx_watch): up() brings a cluster up with
 * `cutover lab cluster up DIR --json` and returns its JSON; fx_fini (a
 * test's .fini) tears it down with `cutover lab cluster down`, also after a
 * failed assertion, and the watchdog does if the test process dies.
 * run() runs a program without a shell; dom_state() asks a host's libvirtd
 * for a domain's state. One fixture per test binary (static state). Include
 * after criterion.h, with jansson and libvirt available. */
#ifndef CUTOVER_TESTS_CLUSTER_FX_H
#define CUTOVER_TESTS_CLUSTER_FX_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_OUT 65536

static char fx_dir[256];
static int fx_watch = -1; /* write end of the watchdog pipe */

static const char *bin(void)
{
    const char *b = getenv("CUTOVER_BIN");
    return b && *b ? b : "build/cutover";
}

/* Run argv (NULL-terminated) with stdout into out (if non-NULL) and stderr
 * into err; return the exit code. watch_rd >= 0 is passed as
 * CUTOVER_LAB_WATCH_FD. */
static int run(const char *const *argv, char *out, char *err, int watch_rd)
{
    char of[] = "/tmp/co-cl-out-XXXXXX", ef[] = "/tmp/co-cl-err-XXXXXX";
    int ofd = mkstemp(of), efd = mkstemp(ef);
    cr_assert(ofd >= 0 && efd >= 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        if (watch_rd >= 0) {
            char fd[16];
            snprintf(fd, sizeof fd, "%d", watch_rd);
            setenv("CUTOVER_LAB_WATCH_FD", fd, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    char *bufs[2] = {out, err};
    int fds[2] = {ofd, efd};
    for (int i = 0; i < 2; i++) {
        if (bufs[i]) {
            ssize_t n = pread(fds[i], bufs[i], MAX_OUT - 1, 0);
            bufs[i][n > 0 ? n : 0] = '\0';
        }
        close(fds[i]);
    }
    unlink(of);
    unlink(ef);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void fx_fini(void)
{
    if (fx_dir[0]) {
        const char *argv[] = {bin(), "lab", "cluster", "down", fx_dir, NULL};
        run(argv, NULL, NULL, -1);
        rmdir(fx_dir);
        fx_dir[0] = '\0';
    }
    if (fx_watch >= 0)
        close(fx_watch);
    fx_watch = -1;
}

static const char *unavailable(void)
{
    if (geteuid() != 0)
        return "the cluster lab needs root";
    if (access("/usr/sbin/libvirtd", X_OK) != 0 || access("/usr/sbin/virtlogd", X_OK) != 0)
        return "libvirtd or virtlogd not installed";
    if (access("/usr/sbin/tc", X_OK) != 0 && access("/sbin/tc", X_OK) != 0)
        return "tc not installed";
    return NULL;
}

/* Bring a cluster up with extra flags; returns the parsed --json output. */
static json_t *up(const char *const *flags)
{
    snprintf(fx_dir, sizeof fx_dir, "/tmp/co-cluster-XXXXXX");
    cr_assert_not_null(mkdtemp(fx_dir));
    /* capabilities cache shared with the libvirt bed: cuts daemon start-up */
    if (!getenv("CUTOVER_LAB_CACHE")) {
        char cwd[300], cache[400];
        if (getcwd(cwd, sizeof cwd)) {
            snprintf(cache, sizeof cache, "%s/%s/tests/libvirt/cache", cwd,
                     getenv("BUILD") ? getenv("BUILD") : "build");
            setenv("CUTOVER_LAB_CACHE", cache, 1);
        }
    }
    int p[2];
    cr_assert_eq(pipe(p), 0);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    fx_watch = p[1];
    const char *argv[32] = {bin(), "lab", "cluster", "up", fx_dir, "--json"};
    int n = 6;
    for (int i = 0; flags[i] && n < 31; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    static char out[MAX_OUT], err[MAX_OUT];
    int rc = run(argv, out, err, p[0]);
    close(p[0]);
    cr_assert_eq(rc, 0, "cluster up exit %d: %s", rc, err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "cluster up --json: %s", je.text);
    return j;
}

static void quiet(void *o, virErrorPtr e)
{
    (void)o;
    (void)e;
}

/* State of NAME at uri: VIR_DOMAIN_*, -1 absent, -2 daemon unreachable. */
static int dom_state(const char *uri, const char *name)
{
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c = virConnectOpen(uri);
    if (c == NULL)
        return -2;
    int st = -1, reason;
    virDomainPtr d = virDomainLookupByName(c, name);
    if (d) {
        if (virDomainGetState(d, &st, &reason, 0) < 0)
            st = -2;
        virDomainFree(d);
    }
    virConnectClose(c);
    return st;
}

/* The XML of a copy of vm1 (read from from_uri) named vmcd, with a CD-ROM
 * holding iso: evacuate's blocker "CD-ROM or floppy with media". Returns a
 * static buffer (one test at a time). */
__attribute__((unused)) static const char *fx_cdrom_xml(const char *from_uri, const char *iso)
{
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c = virConnectOpen(from_uri);
    cr_assert_not_null(c);
    virDomainPtr d = virDomainLookupByName(c, "vm1");
    cr_assert_not_null(d);
    char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
    virDomainFree(d);
    virConnectClose(c);
    cr_assert_not_null(xml);
    static char nx[65536];
    char *p = strstr(xml, "<name>vm1</name>"), *u = strstr(xml, "<uuid>"),
         *ue = u ? strstr(u, "</uuid>") : NULL, *dv = strstr(xml, "</devices>");
    cr_assert(p && u && ue && dv && p < u && ue < dv);
    snprintf(nx, sizeof nx,
             "%.*s<name>vmcd</name>%.*s%.*s<disk type='file' device='cdrom'><driver name='qemu' "
             "type='raw'/><source file='%s'/><target dev='hdc' bus='ide'/><readonly/></disk>%s",
             (int)(p - xml), xml, (int)(u - (p + 16)), p + 16, (int)(dv - (ue + 7)), ue + 7, iso,
             dv);
    free(xml);
    return nx;
}

#endif
