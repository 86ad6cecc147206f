/* tests/pcap_test_util.h: real-traffic helpers for the packet-capture tests.
 *
 * Owns: a private pair of network namespaces joined by a veth pair
 * (169.254.88.1/30 <-> .2, link-local, names co-pcap-PID-N-a/-b), a pinger and
 * a UDP heartbeat sender that run in a namespace, and a child process that
 * runs a command inside a namespace. Everything a test creates is removed by
 * co_nsp_teardown (namespaces and with them the veth pair); children get
 * PR_SET_PDEATHSIG so a crashed test does not leave them behind. */
#ifndef CUTOVER_PCAP_TEST_UTIL_H
#define CUTOVER_PCAP_TEST_UTIL_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <math.h>
#include <net/if.h>
#include <netinet/ip_icmp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct co_nsp {
    char a[64], b[64];       /* namespace names */
    char va[16], vb[16];     /* veth ends: va in a, vb in b */
    int up;
} co_nsp;

static inline double co_t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int co_t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int co_t_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Create the pair. tag distinguishes several pairs in one process. */
static inline int co_nsp_setup(co_nsp *n, int tag)
{
    memset(n, 0, sizeof *n);
    int pid = (int)getpid();
    snprintf(n->a, sizeof n->a, "co-pcap-%d-%d-a", pid, tag);
    snprintf(n->b, sizeof n->b, "co-pcap-%d-%d-b", pid, tag);
    snprintf(n->va, sizeof n->va, "cpa%d%d", pid % 1000000, tag % 10);
    snprintf(n->vb, sizeof n->vb, "cpb%d%d", pid % 1000000, tag % 10);
    n->up = 1;
    if (co_t_sh("ip netns add %s && ip netns add %s", n->a, n->b))
        return -1;
    /* Fixed locally administered MACs and permanent neighbour entries: a
     * carrier loss flushes dynamic ARP entries, and an ARP request sent
     * while the link is down is retried only after 1 s, which would add up
     * to a second to the outage under test (docs/downtime.md). */
    if (co_t_sh("ip link add %s address 02:00:00:88:00:01 netns %s type veth peer name %s "
                "address 02:00:00:88:00:02 netns %s",
                n->va, n->a, n->vb, n->b))
        return -1;
    if (co_t_sh("ip -n %s neigh replace 169.254.88.2 lladdr 02:00:00:88:00:02 dev %s nud "
                "permanent && ip -n %s neigh replace 169.254.88.1 lladdr 02:00:00:88:00:01 dev "
                "%s nud permanent",
                n->a, n->va, n->b, n->vb))
        return -1;
    /* IPv6 link-local addresses of our own (no duplicate detection wait). */
    if (co_t_sh("ip -n %s -6 addr add fe80::88:1/64 dev %s nodad && ip -n %s -6 addr add "
                "fe80::88:2/64 dev %s nodad && ip -n %s -6 neigh replace fe80::88:2 lladdr "
                "02:00:00:88:00:02 dev %s nud permanent && ip -n %s -6 neigh replace fe80::88:1 "
                "lladdr 02:00:00:88:00:01 dev %s nud permanent",
                n->a, n->va, n->b, n->vb, n->a, n->va, n->b, n->vb))
        return -1;
    if (co_t_sh("ip -n %s addr add 169.254.88.1/30 dev %s && ip -n %s addr add "
                "169.254.88.2/30 dev %s && ip -n %s link set %s up && ip -n %s link set %s up "
                "&& ip -n %s link set lo up && ip -n %s link set lo up",
                n->a, n->va, n->b, n->vb, n->a, n->va, n->b, n->vb, n->a, n->b))
        return -1;
    return 0;
}

static inline void co_nsp_teardown(co_nsp *n)
{
    if (!n->up)
        return;
    co_t_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", n->a, n->b);
    n->up = 0;
}

/* Move the calling process into namespace ns. */
static inline int co_t_enter_ns(const char *ns)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

static inline void co_t_child_init(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static inline uint16_t co_t_cksum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        s += (uint32_t)b[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return htons((uint16_t)~s);
}

static inline void co_t_sleep_until(double t_ms)
{
    struct timespec ts = {(time_t)(t_ms / 1e3), (long)(fmod(t_ms, 1e3) * 1e6)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static inline void co_t_exit0(int sig)
{
    (void)sig;
    _exit(0);
}

/* Fork a child that, inside ns, sends one ICMP echo request (id, seq 0,1,...)
 * or one UDP datagram (udp_port > 0) to dst every interval_ms for
 * duration_ms or until SIGTERM (then it exits 0). dst may be IPv6 written
 * "fe80::88:2%IFNAME" (ICMPv6 echo). Send errors (link down) are ignored but
 * the seq still advances, as ping does. Returns the child's pid or -1. */
static inline pid_t co_t_sender(const char *ns, const char *dst, int udp_port,
                                double interval_ms, double duration_ms, uint16_t id)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    co_t_child_init();
    signal(SIGTERM, co_t_exit0);
    if (co_t_enter_ns(ns) != 0)
        _exit(2);
    /* Real-time priority: on a loaded machine a sender that is not run for
     * 100 ms would make an outage of its own (or hide the one under test).
     * It sleeps between packets, so it cannot starve anybody. */
    struct sched_param sp = {.sched_priority = 10};
    sched_setscheduler(0, SCHED_FIFO, &sp);
    int v6 = strchr(dst, ':') != NULL;
    int s = udp_port > 0 ? socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0)
            : v6         ? socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
                         : socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (s < 0)
        _exit(3);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        char host[64];
        snprintf(host, sizeof host, "%s", dst);
        char *pct = strchr(host, '%');
        if (pct) {
            *pct = '\0';
            s6->sin6_scope_id = if_nametoindex(pct + 1);
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)udp_port);
        inet_pton(AF_INET6, host, &s6->sin6_addr);
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)udp_port);
        inet_pton(AF_INET, dst, &s4->sin_addr);
        sl = sizeof *s4;
    }
    double t0 = co_t_now_ms();
    for (uint32_t seq = 0;; seq++) {
        double t = t0 + seq * interval_ms;
        if (t - t0 >= duration_ms)
            break;
        co_t_sleep_until(t);
        uint8_t pkt[64] = {0};
        if (udp_port > 0) {
            memcpy(pkt, &seq, sizeof seq);
            sendto(s, pkt, 32, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
        } else {
            pkt[0] = v6 ? 128 : 8; /* echo request; the kernel sums ICMPv6 */
            pkt[4] = (uint8_t)(id >> 8);
            pkt[5] = (uint8_t)id;
            pkt[6] = (uint8_t)(seq >> 8);
            pkt[7] = (uint8_t)seq;
            if (!v6) {
                uint16_t ck = co_t_cksum(pkt, 56);
                memcpy(pkt + 2, &ck, 2);
            }
            sendto(s, pkt, 56, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
        }
    }
    _exit(0);
}

/* Fork+exec argv inside ns with stdout to out_path (NULL: inherit) and
 * stderr to err_path. Returns the pid or -1. */
static inline pid_t co_t_spawn_in_ns(const char *ns, char *const argv[], const char *out_path,
                                     const char *err_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    co_t_child_init();
    if (ns && co_t_enter_ns(ns) != 0)
        _exit(126);
    if (out_path) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 1);
    }
    if (err_path) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
}

/* Wait for pid at most timeout_ms; kill it (SIGKILL) if it overruns.
 * Returns the exit status (0..255) or -1 when killed/crashed. */
static inline int co_t_wait(pid_t pid, double timeout_ms)
{
    double end = co_t_now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0)
            return -1;
        if (co_t_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(5000);
    }
}

static inline const char *co_t_bin(void)
{
    const char *bin = getenv("CUTOVER_BIN");
    return bin ? bin : "build/cutover";
}

#endif
