/* tests/cluster_fx.h: the cluster-lab fixture shared by the tests that need
 * several libvirt hosts (tests/lab/test_cluster.c, tests/evacuate/).
 *
 * Owns: the cluster directory of the running test (fx_dir) and the write
 * end of the lab's watchdog pipe (fx_watch): up() brings a cluster up with
 * `cutover lab cluster up DIR --json` and returns its JSON; fx_fini (a
 * test's .fini) tears it down with `cutover lab cluster down`, also after a
 * failed assertion, and the watchdog does if the test process dies.
 * run() runs a program without a shell; dom_state() asks a host's libvirtd
 * for a domain's state, running_on() every host; heartbeats_clean() listens
 * to the guests' heartbeats; jstr() reads a string the test cannot do without. One fixture per test binary (static state). Include
 * after criterion.h, with jansson and libvirt available. */
#ifndef CUTOVER_TESTS_CLUSTER_FX_H
#define CUTOVER_TESTS_CLUSTER_FX_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Start argv (NULL-terminated) without waiting, stdin, stdout and stderr on
 * /dev/null; fx_reap waits for it: its exit code, 128 + signal if killed. */
static inline pid_t fx_spawn(const char *const *argv)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static inline int fx_reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert_eq(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void fx_fini(void)
{
    if (fx_dir[0]) {
        const char *argv[] = {bin(), "lab", "cluster", "down", fx_dir, NULL};
        /* down removes the lab; what the test wrote beside it (reports,
         * calibrations) goes too. A failed down leaves all, to be read. */
        if (run(argv, NULL, NULL, -1) == 0) {
            const char *rm[] = {"/bin/rm", "-rf", "--one-file-system", "--", fx_dir, NULL};
            run(rm, NULL, NULL, -1);
        }
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

/* o[k] as a string; the test fails when it is missing. */
__attribute__((unused)) static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    cr_assert_not_null(s, "missing \"%s\"", k);
    return s;
}

/* Where NAME runs: the number of hosts of the cluster (its "hosts" array)
 * with it running, the index of the last one in *where, and whether any
 * has it paused. */
__attribute__((unused)) static int running_on(json_t *hosts, const char *name, int *where,
                                              int *paused)
{
    int n = 0;
    *paused = 0;
    *where = -1;
    for (size_t i = 0; i < json_array_size(hosts); i++) {
        int st = dom_state(jstr(json_array_get(hosts, i), "uri"), name);
        if (st == VIR_DOMAIN_RUNNING) {
            n++;
            *where = (int)i;
        }
        if (st == VIR_DOMAIN_PAUSED)
            *paused = 1;
    }
    return n;
}

/* Listen on the heartbeat ports of names[0..n-1] (lab: the lab's JSON) for
 * min_ms, then on until every VM was heard, up to max_ms: every VM must
 * send, none an ERR line (docs/lab.md: the guest reports corrupted memory
 * so). */
__attribute__((unused)) static void heartbeats_clean(json_t *lab, const char *const *names,
                                                     int n, int min_ms, int max_ms)
{
    int fds[8];
    cr_assert(n <= 8);
    json_t *vms = json_object_get(lab, "vms");
    for (int k = 0; k < n; k++) {
        int port = -1;
        for (size_t i = 0; i < json_array_size(vms); i++)
            if (!strcmp(jstr(json_array_get(vms, i), "name"), names[k]))
                port = (int)json_integer_value(
                    json_object_get(json_array_get(vms, i), "heartbeat_port"));
        cr_assert(port > 0, "no heartbeat port for %s", names[k]);
        fds[k] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, jstr(lab, "root_addr"), &sa.sin_addr);
        int one = 1;
        setsockopt(fds[k], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_assert_eq(bind(fds[k], (struct sockaddr *)&sa, sizeof sa), 0, "bind %d: %s", port,
                     strerror(errno));
    }
    int got[8] = {0}, errs[8] = {0};
    for (int t = 0; t < max_ms / 10; t++) {
        int all = 1;
        for (int k = 0; k < n; k++)
            all &= got[k] > 0;
        if (t >= min_ms / 10 && all)
            break;
        usleep(10000);
        for (int k = 0; k < n; k++) {
            char buf[512];
            ssize_t r;
            while ((r = recv(fds[k], buf, sizeof buf - 1, 0)) > 0) {
                buf[r] = '\0';
                got[k]++;
                errs[k] += strstr(buf, "ERR ") != NULL;
            }
        }
    }
    for (int k = 0; k < n; k++) {
        close(fds[k]);
        cr_expect(got[k] > 0, "%s sent no heartbeat", names[k]);
        cr_expect_eq(errs[k], 0, "%s reported %d ERR lines", names[k], errs[k]);
    }
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
