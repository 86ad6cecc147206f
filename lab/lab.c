/* lab/lab.c: source + destination QEMU running the test guest, and the
 * heartbeat receiver. Contracts in lab/lab.h. */
#define _GNU_SOURCE
#include "lab/lab.h"
#include "util/clock.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <sched.h>
#include <sys/file.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/procnet.h"
#include "util/units.h"

#define HB_RING (1u << 20)   /* ~17 minutes of 1 kHz heartbeats */
#define MAX_SENDERS 4
#define LINE_MAX_LEN 512

struct hb_sample {
    double t_ms;
    uint32_t seq;
    uint8_t sender;
};

struct sender {
    struct sockaddr_in addr;
};

struct co_lab {
    co_lab_info info;
    co_lab_config cfg;
    /* receiver */
    int udp_fd;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    pthread_mutex_t mu;        /* guards everything below */
    struct hb_sample *ring;
    uint64_t ring_n;           /* samples ever written */
    struct sender senders[MAX_SENDERS];
    /* One line buffer for all senders: only one QEMU runs the guest at a
     * time, and a switchover can fall in the middle of a line (the source
     * sent "HB 12", the destination sends "3\n"). */
    char line[LINE_MAX_LEN];
    size_t len;
    co_lab_status st;
    /* the shaped link: made (to be removed) once link_netns is set */
    int link_made;
    /* processes */
    int src_reaped, dst_reaped;
    int src_status, dst_status;
};

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6)};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- workload */

static int wl_size_kib(const char *key, const char *val, double mem_bytes, char *out,
                       size_t len, co_diag *d)
{
    double b;
    char what[64];
    snprintf(what, sizeof what, "workload %s", key);
    if (co_parse_size(val, what, &b, d) != CO_OK)
        return CO_EUSAGE;
    if (b < 4096)
        return co_diag_set(d, CO_EUSAGE, "workload %s: '%s' is below one page (4 KiB)", key,
                           val);
    if (b > mem_bytes)
        return co_diag_set(d, CO_EUSAGE, "workload %s: '%s' exceeds the guest memory (%.0f MiB)",
                           key, val, mem_bytes / 1048576.0);
    snprintf(out, len, "%s=%.0fK", key, floor(b / 1024.0));
    return CO_OK;
}

static int wl_uint(const char *key, const char *val, double max, double *v, co_diag *d)
{
    char what[64];
    snprintf(what, sizeof what, "workload %s", key);
    if (co_parse_number(val, what, v, d) != CO_OK)
        return CO_EUSAGE;
    if (*v != floor(*v) || *v < 0 || *v > max)
        return co_diag_set(d, CO_EUSAGE, "workload %s: '%s' is not a whole number in 0..%.0f",
                           key, val, max);
    return CO_OK;
}

int co_lab_workload_check(const char *workload, double mem_bytes, char *canon,
                          size_t canon_len, co_diag *d)
{
    char buf[1024];
    if (workload == NULL)
        workload = "rate=1000";
    if (strlen(workload) >= sizeof buf)
        return co_diag_set(d, CO_EUSAGE, "workload: longer than %zu characters",
                           sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", workload);
    canon[0] = '\0';
    size_t used = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL || eq == tok)
            return co_diag_set(d, CO_EUSAGE, "workload: '%s' is not KEY=VALUE", tok);
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        char piece[300];
        double x;
        if (strcmp(k, "pattern") == 0) {
            if (strcmp(v, "uniform") && strcmp(v, "hotcold") && strcmp(v, "seq"))
                return co_diag_set(d, CO_EUSAGE,
                                   "workload pattern: '%s' is not uniform, hotcold or seq", v);
            snprintf(piece, sizeof piece, "pattern=%s", v);
        } else if (strcmp(k, "rate") == 0) {
            if (wl_uint(k, v, 10e6, &x, d))
                return CO_EUSAGE;
            snprintf(piece, sizeof piece, "rate=%.0f", x);
        } else if (strcmp(k, "seed") == 0) {
            if (wl_uint(k, v, 4294967295.0, &x, d))
                return CO_EUSAGE;
            snprintf(piece, sizeof piece, "seed=%.0f", x);
        } else if (strcmp(k, "wss") == 0 || strcmp(k, "hot") == 0 || strcmp(k, "cold") == 0) {
            if (wl_size_kib(k, v, mem_bytes, piece, sizeof piece, d))
                return CO_EUSAGE;
        } else if (strcmp(k, "hotfrac") == 0) {
            if (co_parse_number(v, "workload hotfrac", &x, d))
                return CO_EUSAGE;
            if (x < 0 || x > 1)
                return co_diag_set(d, CO_EUSAGE, "workload hotfrac: '%s' is not in 0..1", v);
            snprintf(piece, sizeof piece, "hotfrac=%.5f", x);
        } else if (strcmp(k, "tlbflush") == 0) {
            if (co_parse_time(v, "workload tlbflush", &x, d))
                return CO_EUSAGE;
            if (x < 0 || x > 3600e3 || x != floor(x))
                return co_diag_set(d, CO_EUSAGE,
                                   "workload tlbflush: '%s' is not whole ms in 0ms..1h", v);
            snprintf(piece, sizeof piece, "tlbflush=%.0fms", x);
        } else if (strcmp(k, "idle") == 0) {
            if (strcmp(v, "hlt") != 0 && strcmp(v, "spin") != 0)
                return co_diag_set(d, CO_EUSAGE, "workload idle: '%s' is not hlt or spin", v);
            snprintf(piece, sizeof piece, "idle=%s", v);
        } else if (strcmp(k, "stats") == 0) {
            if (co_parse_time(v, "workload stats", &x, d))
                return CO_EUSAGE;
            if (x < 1 || x > 3600e3 || x != floor(x))
                return co_diag_set(d, CO_EUSAGE,
                                   "workload stats: '%s' is not whole ms in 1ms..1h", v);
            snprintf(piece, sizeof piece, "stats=%.0fms", x);
        } else if (strcmp(k, "phases") == 0) {
            /* "5s:1000,5s:50000" */
            char pb[300], *ps = NULL;
            size_t pl = (size_t)snprintf(piece, sizeof piece, "phases=");
            int n = 0;
            snprintf(pb, sizeof pb, "%s", v);
            for (char *ph = strtok_r(pb, ",", &ps); ph; ph = strtok_r(NULL, ",", &ps)) {
                char *colon = strchr(ph, ':');
                if (colon == NULL)
                    return co_diag_set(d, CO_EUSAGE,
                                       "workload phases: '%s' is not DURATION:RATE (phase %d)",
                                       ph, n + 1);
                *colon = '\0';
                double ms, r;
                if (co_parse_time(ph, "workload phases duration", &ms, d))
                    return CO_EUSAGE;
                if (ms < 1 || ms != floor(ms) || ms > 4e9)
                    return co_diag_set(d, CO_EUSAGE,
                                       "workload phases: duration '%s' is not whole ms >= 1ms "
                                       "(phase %d)", ph, n + 1);
                if (wl_uint("phases rate", colon + 1, 10e6, &r, d))
                    return CO_EUSAGE;
                if (++n > 16)
                    return co_diag_set(d, CO_EUSAGE, "workload phases: more than 16 phases");
                pl += (size_t)snprintf(piece + pl, sizeof piece - pl, "%s%.0fms:%.0f",
                                       n > 1 ? "," : "", ms, r);
                if (pl >= sizeof piece)
                    return co_diag_set(d, CO_EUSAGE, "workload phases: too long");
            }
            if (n == 0)
                return co_diag_set(d, CO_EUSAGE, "workload phases: empty");
        } else {
            return co_diag_set(d, CO_EUSAGE,
                               "workload: unknown key '%s' (expected pattern, rate, wss, hot, "
                               "cold, hotfrac, seed, stats, phases, tlbflush, idle)", k);
        }
        size_t pl = strlen(piece);
        if (used + pl + 2 > canon_len)
            return co_diag_set(d, CO_EUSAGE, "workload: too long");
        if (used)
            canon[used++] = ' ';
        memcpy(canon + used, piece, pl + 1);
        used += pl;
    }
    return CO_OK;
}

/* ---------------------------------------------------------------- lookup */

static int file_ok(const char *p)
{
    return access(p, R_OK) == 0;
}

/* Where `make install` puts the guest: PREFIX/share/cutover (the Makefile
 * passes it; a build without the Makefile gets the default PREFIX). */
#ifndef CO_DATADIR
#define CO_DATADIR "/usr/local/share/cutover"
#endif

int co_lab_find_guest(const char *explicit_path, char *out, size_t len, co_diag *d)
{
    if (explicit_path) {
        if (!file_ok(explicit_path))
            return co_diag_set(d, CO_ENOINPUT, "test guest '%s': %s", explicit_path,
                               strerror(errno));
        snprintf(out, len, "%s", explicit_path);
        return CO_OK;
    }
    const char *env = getenv("CUTOVER_GUEST");
    if (env && *env) {
        if (!file_ok(env))
            return co_diag_set(d, CO_ENOINPUT, "test guest '%s' (CUTOVER_GUEST): %s", env,
                               strerror(errno));
        snprintf(out, len, "%s", env);
        return CO_OK;
    }
    char cand[7][PATH_MAX];
    int n = 0;
    const char *b = getenv("BUILD");
    if (b && *b)
        snprintf(cand[n++], PATH_MAX, "%s/guest/guest.elf", b);
    snprintf(cand[n++], PATH_MAX, "build/guest/guest.elf");
    char exe[PATH_MAX];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el > 0) {
        exe[el] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* build/cutover -> build/guest/guest.elf; build/tests/x/t -> ../../guest */
            snprintf(cand[n++], PATH_MAX, "%.3800s/guest/guest.elf", exe);
            snprintf(cand[n++], PATH_MAX, "%.3800s/../../guest/guest.elf", exe);
            /* installed: PREFIX/bin/cutover -> PREFIX/share/cutover/guest.elf,
             * also when staged under DESTDIR or moved as a tree */
            snprintf(cand[n++], PATH_MAX, "%.3800s/../share/cutover/guest.elf", exe);
        }
    }
    snprintf(cand[n++], PATH_MAX, "%s/guest.elf", CO_DATADIR);
    snprintf(cand[n++], PATH_MAX, "/usr/share/cutover/guest.elf");
    for (int i = 0; i < n; i++) {
        if (file_ok(cand[i])) {
            snprintf(out, len, "%s", cand[i]);
            return CO_OK;
        }
    }
    return co_diag_set(d, CO_ENOINPUT,
                       "test guest guest.elf not found (set CUTOVER_GUEST, or build it with "
                       "`make guest`; looked in $BUILD/guest, build/guest, next to the binary, "
                       "../share/cutover from the binary, " CO_DATADIR ", /usr/share/cutover)");
}

int co_lab_pick_accel(int want, const char **accel, char *reason, size_t len, co_diag *d)
{
    if (want == CO_LAB_ACCEL_TCG) {
        *accel = "tcg";
        snprintf(reason, len, "asked for tcg");
        return CO_OK;
    }
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (want == CO_LAB_ACCEL_KVM) {
        if (fd < 0)
            return co_diag_set(d, CO_EUNAVAIL, "--accel kvm: cannot open /dev/kvm: %s",
                               strerror(err));
        *accel = "kvm";
        snprintf(reason, len, "asked for kvm");
        return CO_OK;
    }
    if (fd < 0) {
        *accel = "tcg";
        snprintf(reason, len, "/dev/kvm unusable (%s)", strerror(err));
        return CO_OK;
    }
    /* kvm_pvm runs only PVM-enlightened guests natively; ours would be
     * emulated one instruction at a time. */
    struct stat sb;
    if (stat("/sys/module/kvm_pvm", &sb) == 0) {
        *accel = "tcg";
        snprintf(reason, len, "/dev/kvm is kvm_pvm, which emulates this guest ~100x slower "
                              "than tcg (use --accel kvm to force it)");
        return CO_OK;
    }
    *accel = "kvm";
    snprintf(reason, len, "/dev/kvm usable");
    return CO_OK;
}

/* ---------------------------------------------------------------- receiver */

static int sender_index(co_lab *lab, const struct sockaddr_in *a)
{
    for (int i = 0; i < lab->st.senders; i++)
        if (lab->senders[i].addr.sin_port == a->sin_port &&
            lab->senders[i].addr.sin_addr.s_addr == a->sin_addr.s_addr)
            return i;
    if (lab->st.senders == MAX_SENDERS)
        return -1;
    int i = lab->st.senders++;
    lab->senders[i].addr = *a;
    return i;
}

static uint32_t kv_u32(const char *line, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    return p ? (uint32_t)strtoul(p + strlen(pat), NULL, 10) : 0;
}

/* One complete line from sender s, under lab->mu. */
static void handle_line(co_lab *lab, int s, const char *line, double now)
{
    co_lab_status *st = &lab->st;
    if (line[0] == 'H' && line[1] == 'B' && line[2] == ' ') {
        struct hb_sample *h = &lab->ring[lab->ring_n % HB_RING];
        h->t_ms = now;
        h->seq = (uint32_t)strtoul(line + 3, NULL, 10);
        h->sender = (uint8_t)s;
        lab->ring_n++;
        if (st->hb_count > 0 && h->seq != st->hb_last_seq + 1)
            st->hb_seq_skips++;
        st->hb_count++;
        st->hb_last_seq = h->seq;
        st->hb_last_ms = now;
        st->hb_last_sender = s;
    } else if (strncmp(line, "ST ", 3) == 0) {
        st->have_st = 1;
        st->st_at_ms = now;
        st->st_guest_ms = kv_u32(line, "ms");
        st->st_rate = kv_u32(line, "rate");
        st->st_dirtied = kv_u32(line, "dirtied");
        st->st_pending = kv_u32(line, "pending");
        st->st_sweeps = kv_u32(line, "sweeps");
        st->st_err = kv_u32(line, "err");
        st->st_stalls = kv_u32(line, "stalls");
    } else if (strncmp(line, "ERR ", 4) == 0) {
        if (st->err_lines++ == 0)
            snprintf(st->first_err, sizeof st->first_err, "%.255s", line);
    } else if (strncmp(line, "BAD ", 4) == 0) {
        if (st->bad[0] == '\0')
            snprintf(st->bad, sizeof st->bad, "%.255s", line);
    } else if (strncmp(line, "BOOT ", 5) == 0) {
        if (st->boot_line[0] == '\0')
            snprintf(st->boot_line, sizeof st->boot_line, "%.255s", line);
    } else if (strncmp(line, "READY", 5) == 0) {
        if (!st->ready) {
            st->ready = 1;
            st->ready_ms = now;
        }
    }
}

static void *receiver(void *arg)
{
    co_lab *lab = arg;
    char buf[2048];
    while (!atomic_load(&lab->stop)) {
        struct pollfd p = {.fd = lab->udp_fd, .events = POLLIN};
        int r = poll(&p, 1, 100); /* 100 ms: bounds how long stop takes */
        if (r <= 0)
            continue;
        for (;;) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(lab->udp_fd, buf, sizeof buf, MSG_DONTWAIT,
                                 (struct sockaddr *)&from, &fl);
            if (n <= 0)
                break;
            double now = co_clock_ms();
            pthread_mutex_lock(&lab->mu);
            int s = sender_index(lab, &from);
            if (s >= 0) {
                for (ssize_t i = 0; i < n; i++) {
                    char c = buf[i];
                    if (c == '\n') {
                        lab->line[lab->len] = '\0';
                        handle_line(lab, s, lab->line, now);
                        lab->len = 0;
                    } else if (c != '\r' && lab->len < LINE_MAX_LEN - 1) {
                        lab->line[lab->len++] = c;
                    }
                }
            }
            pthread_mutex_unlock(&lab->mu);
        }
    }
    return NULL;
}


/* ---------------------------------------------------------------- link */

/* Names carry the owner's pid and the subnet: "cutover-lk-PID-S" for the
 * namespace, "ckPID-S" for the veth end here (IFNAMSIZ: 15 characters). */
#define LINK_NETNS_PREFIX "cutover-lk-"
#define LINK_LOCK_PATH "/run/cutover-lab-link.lock"
/* 169.254.S.0/30 with S in this range: the cluster lab takes 101..250
 * (lab/cluster.sh), tests/libvirt/bed.sh uses 77 inside its namespaces. */
#define LINK_SUBNET_MIN 2
#define LINK_SUBNET_MAX 99
#define LINK_SUBNET_BED 77
/* tbf as lab/cluster.sh shapes: a bucket of 2 ms at the rate (at least 4
 * frames), a 20 ms queue: TCP fills the link, and the rate holds over the
 * stop-and-copy (a deep bucket would let it burst past the rate). */
#define LINK_BUCKET_S 0.002
#define LINK_BUCKET_MIN_FRAMES 4
#define LINK_QUEUE_MS 20

/* Absolute path of an iproute2 tool (root's PATH may lack /usr/sbin). */
static int find_tool(const char *name, char *out, size_t len)
{
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(out, len, "%s/%s", dirs[i], name);
        if (access(out, X_OK) == 0)
            return 1;
    }
    return 0;
}

int co_lab_link_available(co_diag *d)
{
    char p[64];
    if (geteuid() != 0)
        return co_diag_set(d, CO_EUNAVAIL, "a shaped link needs root (network namespaces, tc)");
    if (!find_tool("ip", p, sizeof p) || !find_tool("tc", p, sizeof p))
        return co_diag_set(d, CO_EUNAVAIL, "a shaped link needs ip and tc (iproute2)");
    if (mkdir("/run/netns", 0755) != 0 && errno != EEXIST)
        return co_diag_set(d, CO_EUNAVAIL, "a shaped link needs /run/netns: %s",
                           strerror(errno));
    return CO_OK;
}

/* Run an iproute2 command (argv[0] a tool name) and wait; its output goes
 * to the diag on failure. Never through a shell. */
static int run_tool(const char *const *argv, co_diag *d)
{
    char path[64];
    if (!find_tool(argv[0], path, sizeof path))
        return co_diag_set(d, CO_EUNAVAIL, "%s (iproute2) not found", argv[0]);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return co_diag_set(d, CO_EOS, "pipe: %s", strerror(errno));
    pid_t p = fork();
    if (p < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return co_diag_set(d, CO_EOS, "fork: %s", strerror(e));
    }
    if (p == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    char out[256];
    size_t n = 0;
    ssize_t r;
    char sink[256];
    while ((r = read(pfd[0], n < sizeof out - 1 ? out + n : sink,
                     n < sizeof out - 1 ? sizeof out - 1 - n : sizeof sink)) > 0 ||
           (r < 0 && errno == EINTR))
        if (r > 0 && n < sizeof out - 1)
            n += (size_t)r;
    close(pfd[0]);
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return CO_OK;
    char cmd[200];
    size_t cl = 0;
    for (int i = 0; argv[i] && cl < sizeof cmd - 1; i++)
        cl += (size_t)snprintf(cmd + cl, sizeof cmd - cl, "%s%s", i ? " " : "", argv[i]);
    return co_diag_set(d, CO_EUNAVAIL, "`%s` failed%s%s", cmd, out[0] ? ": " : "", out);
}

/* Any address of this namespace in 169.254.S.0/24? */
static int subnet_busy(int s)
{
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0)
        return 1;
    int busy = 0;
    for (struct ifaddrs *i = ifa; i && !busy; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        busy = (a >> 8) == ((169u << 16) | (254u << 8) | (uint32_t)s);
    }
    freeifaddrs(ifa);
    return busy;
}

static int if_exists(const char *dev)
{
    char p[64];
    snprintf(p, sizeof p, "/sys/class/net/%s", dev);
    return access(p, F_OK) == 0;
}

static void link_remove_names(const char *netns, const char *dev)
{
    co_diag d;
    co_diag_init(&d);
    /* deleting one end of a veth deletes both; the namespace goes after */
    const char *del_dev[] = {"ip", "link", "del", dev, NULL};
    if (dev[0] && if_exists(dev))
        run_tool(del_dev, &d);
    char p[80];
    snprintf(p, sizeof p, "/run/netns/%s", netns);
    if (netns[0] && access(p, F_OK) == 0) {
        const char *del_ns[] = {"ip", "netns", "del", netns, NULL};
        co_diag_init(&d);
        if (run_tool(del_ns, &d) != CO_OK)
            fprintf(stderr, "cutover lab: %s\n", d.msg);
    }
}

/* Links of lab processes that died without co_lab_stop(). Under the lock. */
static void link_sweep(void)
{
    DIR *dh = opendir("/run/netns");
    if (dh == NULL)
        return;
    char names[32][40];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL && n < 32) {
        int pid, sub;
        if (sscanf(e->d_name, LINK_NETNS_PREFIX "%d-%d", &pid, &sub) != 2 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(names[n++], sizeof names[0], "%.39s", e->d_name);
    }
    closedir(dh);
    for (int i = 0; i < n; i++) {
        int pid, sub;
        sscanf(names[i], LINK_NETNS_PREFIX "%d-%d", &pid, &sub);
        char dev[16];
        snprintf(dev, sizeof dev, "ck%d-%d", pid, sub);
        fprintf(stderr, "cutover lab: removing %s, left by pid %d\n", names[i], pid);
        link_remove_names(names[i], dev);
    }
}

static int link_shape(const char *netns, const char *dev, double rate_bit, int mtu, co_diag *d)
{
    char rate[32], burst[32], lat[32];
    double b = fmax(rate_bit / 8 * LINK_BUCKET_S, (double)mtu * LINK_BUCKET_MIN_FRAMES);
    snprintf(rate, sizeof rate, "%.0fbit", rate_bit);
    snprintf(burst, sizeof burst, "%.0f", ceil(b));
    snprintf(lat, sizeof lat, "%dms", LINK_QUEUE_MS);
    if (netns) {
        const char *a[] = {"tc", "-n", netns, "qdisc", "replace", "dev", dev, "root", "tbf",
                           "rate", rate, "burst", burst, "latency", lat, NULL};
        return run_tool(a, d);
    }
    const char *a[] = {"tc", "qdisc", "replace", "dev", dev, "root", "tbf",
                       "rate", rate, "burst", burst, "latency", lat, NULL};
    return run_tool(a, d);
}

/* Make the namespace, the veth and the shaping; fills the link_* fields.
 * On failure removes what it made. */
static int link_make(co_lab *lab, co_diag *d)
{
    co_lab_info *in = &lab->info;
    double rate = lab->cfg.link.rate_bits_per_s;
    int mtu = lab->cfg.link.mtu > 0 ? lab->cfg.link.mtu : 1500;
    if (!(rate >= 8e3 && rate <= 1e12))
        return co_diag_set(d, CO_EUSAGE, "link rate %.0f bit/s: expected 8kbit..1Tbit", rate);
    if (mtu < 576 || mtu > 65520)
        return co_diag_set(d, CO_EUSAGE, "link MTU %d: expected 576..65520", mtu);
    int rc = co_lab_link_available(d);
    if (rc)
        return rc;
    int lockfd = open(LINK_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX) != 0) {
        rc = co_diag_set(d, CO_EOS, "cannot lock %s: %s", LINK_LOCK_PATH, strerror(errno));
        if (lockfd >= 0)
            close(lockfd);
        return rc;
    }
    link_sweep();
    int sub = -1;
    for (int s = LINK_SUBNET_MIN; s <= LINK_SUBNET_MAX && sub < 0; s++)
        if (s != LINK_SUBNET_BED && !subnet_busy(s))
            sub = s;
    if (sub < 0) {
        close(lockfd);
        return co_diag_set(d, CO_EUNAVAIL, "no free subnet in 169.254.%d-%d.0/24 for the link",
                           LINK_SUBNET_MIN, LINK_SUBNET_MAX);
    }
    int pid = (int)getpid();
    snprintf(in->link_netns, sizeof in->link_netns, LINK_NETNS_PREFIX "%d-%d", pid, sub);
    snprintf(in->link_dev, sizeof in->link_dev, "ck%d-%d", pid, sub);
    snprintf(in->link_root_addr, sizeof in->link_root_addr, "169.254.%d.1", sub);
    snprintf(in->link_dst_addr, sizeof in->link_dst_addr, "169.254.%d.2", sub);
    in->link_rate_bits_per_s = rate;
    in->link_mtu = mtu;
    lab->link_made = 1; /* from here co_lab_stop() removes whatever exists */
    char mtus[16], ra[24], da[24];
    snprintf(mtus, sizeof mtus, "%d", mtu);
    snprintf(ra, sizeof ra, "%s/30", in->link_root_addr);
    snprintf(da, sizeof da, "%s/30", in->link_dst_addr);
    const char *add_ns[] = {"ip", "netns", "add", in->link_netns, NULL};
    const char *add_veth[] = {"ip", "link", "add", in->link_dev, "mtu", mtus, "type", "veth",
                              "peer", "name", "eth0", "mtu", mtus, "netns", in->link_netns,
                              NULL};
    const char *addr_root[] = {"ip", "addr", "add", ra, "dev", in->link_dev, NULL};
    const char *up_root[] = {"ip", "link", "set", in->link_dev, "up", NULL};
    const char *addr_dst[] = {"ip", "-n", in->link_netns, "addr", "add", da, "dev", "eth0", NULL};
    const char *up_dst[] = {"ip", "-n", in->link_netns, "link", "set", "eth0", "up", NULL};
    const char *up_lo[] = {"ip", "-n", in->link_netns, "link", "set", "lo", "up", NULL};
    const char *const *steps[] = {add_ns, add_veth, addr_root, up_root, addr_dst, up_dst, up_lo};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && rc == CO_OK; i++)
        rc = run_tool(steps[i], d);
    close(lockfd); /* the address claims the subnet now */
    if (rc == CO_OK)
        rc = link_shape(NULL, in->link_dev, rate, mtu, d); /* source -> destination */
    if (rc == CO_OK)
        rc = link_shape(in->link_netns, "eth0", rate, mtu, d); /* destination -> source */
    return rc;
}

static void link_remove(co_lab *lab)
{
    if (!lab->link_made)
        return;
    link_remove_names(lab->info.link_netns, lab->info.link_dev);
    lab->link_made = 0;
}

/* ---------------------------------------------------------------- processes */

static int pick_tcp_port(co_diag *d)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return co_diag_set(d, CO_EOS, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        int e = errno;
        close(fd);
        return co_diag_set(d, CO_EOS, "picking a TCP port on 127.0.0.1: %s", strerror(e));
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void last_log_line(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        size_t n = strlen(line);
        if (n == 0)
            continue;
        if (n >= len)
            n = len - 1;
        memcpy(out, line, n);
        out[n] = '\0';
    }
    fclose(f);
}

struct argv_buf {
    char *v[48];
    int n;
    char store[4096];
    size_t used;
    int full;
};

static void av_add(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_add(struct argv_buf *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = a->store + a->used;
    int n = vsnprintf(p, sizeof a->store - a->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof a->store - a->used || a->n >= 47) {
        a->full = 1; /* the caller checks */
        return;
    }
    a->used += (size_t)n + 1;
    a->v[a->n++] = p;
    a->v[a->n] = NULL;
}

static const char *qemu_binary(const co_lab_config *cfg)
{
    if (cfg->qemu_path)
        return cfg->qemu_path;
    const char *e = getenv("CUTOVER_QEMU");
    return e && *e ? e : "qemu-system-x86_64";
}

/* fork + exec one QEMU. Everything is prepared before fork: the child only
 * makes async-signal-safe calls (we have a receiver thread). */
static int spawn_qemu(co_lab *lab, int dest, pid_t *pid, co_diag *d)
{
    co_lab_info *in = &lab->info;
    struct argv_buf a = {.n = 0, .used = 0, .full = 0};
    av_add(&a, "%s", qemu_binary(&lab->cfg));
    av_add(&a, "-name");
    av_add(&a, "cutover-lab-%s", dest ? "dst" : "src");
    av_add(&a, "-machine");
    av_add(&a, "pc");
    /* under KVM, a dirty ring: QEMU's per-vCPU dirty limit needs it */
    av_add(&a, "-accel");
    if (strcmp(in->accel, "kvm") == 0)
        av_add(&a, "kvm,dirty-ring-size=4096");
    else
        av_add(&a, "%s", in->accel);
    av_add(&a, "-cpu");
    av_add(&a, "qemu64");
    av_add(&a, "-m");
    av_add(&a, "%.0fM", in->mem_bytes / 1048576.0);
    av_add(&a, "-smp");
    av_add(&a, "1");
    av_add(&a, "-nodefaults");
    av_add(&a, "-no-user-config");
    av_add(&a, "-display");
    av_add(&a, "none");
    /* qboot starts a multiboot kernel in ~0.1 s, SeaBIOS takes seconds.
     * Both sides must use the same firmware (it is migrated RAM). */
    if (file_ok("/usr/share/qemu/qboot.rom")) {
        av_add(&a, "-bios");
        av_add(&a, "/usr/share/qemu/qboot.rom");
    }
    av_add(&a, "-serial");
    av_add(&a, "udp:%s:%d", in->hb_addr, in->hb_port);
    av_add(&a, "-qmp");
    av_add(&a, "unix:%s,server=on,wait=off", dest ? in->dst_qmp : in->src_qmp);
    av_add(&a, "-kernel");
    av_add(&a, "%s", in->guest_path);
    av_add(&a, "-append");
    av_add(&a, "%s", in->workload);
    if (dest) {
        av_add(&a, "-incoming");
        av_add(&a, "tcp:%s:%d", in->link_netns[0] ? in->link_dst_addr : "127.0.0.1",
               in->incoming_port);
    }
    if (a.full)
        return co_diag_set(d, CO_ESOFTWARE, "QEMU command line too long");
    char logp[300];
    snprintf(logp, sizeof logp, "%s/%s.log", in->dir, dest ? "dst" : "src");
    int logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        int e = errno;
        if (logfd >= 0)
            close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return co_diag_set(d, CO_EOS, "opening %s: %s", logp, strerror(e));
    }
    /* the destination runs in the link's namespace */
    int nsfd = -1;
    if (dest && in->link_netns[0]) {
        char nsp[80];
        snprintf(nsp, sizeof nsp, "/run/netns/%s", in->link_netns);
        nsfd = open(nsp, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
            int e = errno;
            close(logfd);
            close(nullfd);
            return co_diag_set(d, CO_EOS, "opening %s: %s", nsp, strerror(e));
        }
    }
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) {
        int e = errno;
        close(logfd);
        close(nullfd);
        if (nsfd >= 0)
            close(nsfd);
        return co_diag_set(d, CO_EOS, "fork: %s", strerror(e));
    }
    if (p == 0) {
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) {
            static const char msg[] = "setns into the link namespace failed\n";
            (void)!write(logfd, msg, sizeof msg - 1);
            _exit(126);
        }
        /* Die with the parent (thread); if it is already gone, do not run. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* Own process group: a terminal's Ctrl-C reaches only us, and we
         * tear down in order (PDEATHSIG still covers our crash). */
        setpgid(0, 0);
        /* a clean signal state for QEMU */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execvp(a.v[0], a.v);
        static const char msg[] = "exec of QEMU failed\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    if (nsfd >= 0)
        close(nsfd);
    *pid = p;
    return CO_OK;
}

/* Reap pid if it exited; returns 1 if still running. */
static int check_child(pid_t pid, int *reaped, int *status)
{
    if (pid <= 0 || *reaped)
        return 0;
    int s;
    pid_t r = waitpid(pid, &s, WNOHANG);
    if (r == pid) {
        *reaped = 1;
        *status = s;
        return 0;
    }
    return r == 0;
}

static void describe_exit(co_lab *lab, int which, int code, co_diag *d)
{
    char logp[300], last[300];
    snprintf(logp, sizeof logp, "%s/%s.log", lab->info.dir, which ? "dst" : "src");
    last_log_line(logp, last, sizeof last);
    int s = which ? lab->dst_status : lab->src_status;
    char how[64];
    if (WIFEXITED(s))
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(s));
    else if (WIFSIGNALED(s))
        snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(s));
    else
        snprintf(how, sizeof how, "ended");
    co_diag_set(d, code, "%s QEMU (%s) %s%s%s", which ? "destination" : "source",
                qemu_binary(&lab->cfg), how, last[0] ? ": " : "", last);
}

int co_lab_alive(co_lab *lab, int which, co_diag *d)
{
    pid_t pid = which ? lab->info.dst_pid : lab->info.src_pid;
    int *reaped = which ? &lab->dst_reaped : &lab->src_reaped;
    int *status = which ? &lab->dst_status : &lab->src_status;
    if (pid <= 0)
        return 0;
    if (check_child(pid, reaped, status))
        return 1;
    describe_exit(lab, which, CO_EUNAVAIL, d);
    return 0;
}

static void kill_reap(pid_t pid, int *reaped)
{
    if (pid <= 0 || *reaped)
        return;
    kill(pid, SIGKILL);
    /* SIGKILL cannot be ignored; still bound the wait (D state, NFS...). */
    for (int i = 0; i < 500; i++) {
        int s;
        pid_t r = waitpid(pid, &s, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            *reaped = 1;
            return;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "cutover lab: QEMU pid %d did not exit after SIGKILL\n", (int)pid);
}

static void remove_dir(const char *dir)
{
    if (dir[0] == '\0')
        return;
    DIR *dh = opendir(dir);
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dh);
    }
    if (rmdir(dir) != 0 && errno != ENOENT)
        fprintf(stderr, "cutover lab: cannot remove %s: %s\n", dir, strerror(errno));
}

void co_lab_stop(co_lab *lab)
{
    if (lab == NULL)
        return;
    kill_reap(lab->info.src_pid, &lab->src_reaped);
    kill_reap(lab->info.dst_pid, &lab->dst_reaped);
    link_remove(lab); /* its namespace is empty now */
    if (lab->thread_started) {
        atomic_store(&lab->stop, 1);
        pthread_join(lab->thread, NULL);
    }
    if (lab->udp_fd >= 0)
        close(lab->udp_fd);
    remove_dir(lab->info.dir);
    pthread_mutex_destroy(&lab->mu);
    free(lab->ring);
    free(lab);
}

static int cancelled(const co_lab *lab)
{
    return lab->cfg.cancel && *lab->cfg.cancel;
}

/* Start the destination; retry with a fresh port if someone took ours
 * between our probe and QEMU's bind. */
static int start_dest(co_lab *lab, double deadline, co_diag *d)
{
    co_lab_info *in = &lab->info;
    for (int attempt = 0; attempt < 4; attempt++) {
        int port = pick_tcp_port(d);
        if (port < 0)
            return port;
        in->incoming_port = port;
        const char *host = in->link_netns[0] ? in->link_dst_addr : "127.0.0.1";
        snprintf(in->migrate_uri, sizeof in->migrate_uri, "tcp:%s:%d", host, port);
        lab->dst_reaped = 0;
        int rc = spawn_qemu(lab, 1, &in->dst_pid, d);
        if (rc)
            return rc;
        for (;;) {
            if (cancelled(lab))
                return co_diag_set(d, CO_ECANCELED, "cancelled while starting");
            if (!check_child(in->dst_pid, &lab->dst_reaped, &lab->dst_status))
                break;
            /* in the link's namespace: seen through the QEMU's /proc/PID/net */
            int listening = in->link_netns[0]
                                ? co_procnet_listening_pid((int)in->dst_pid, host, port)
                                : co_procnet_listening(host, port);
            if (listening && access(in->dst_qmp, F_OK) == 0)
                return CO_OK;
            if (co_clock_ms() > deadline)
                return co_diag_set(d, CO_ETIMEDOUT,
                                   "destination QEMU not listening on %s:%d after "
                                   "%.0f ms", host, port, lab->cfg.boot_timeout_ms);
            sleep_ms(20);
        }
        char logp[300], last[300];
        snprintf(logp, sizeof logp, "%s/dst.log", in->dir);
        last_log_line(logp, last, sizeof last);
        if (strstr(last, "in use") == NULL) {
            describe_exit(lab, 1, CO_EUNAVAIL, d);
            in->dst_pid = 0;
            return CO_EUNAVAIL;
        }
        in->dst_pid = 0; /* reaped; try another port */
    }
    return co_diag_set(d, CO_EUNAVAIL, "no free TCP port for -incoming after 4 tries");
}

int co_lab_start(const co_lab_config *cfg, co_lab **out, co_diag *d)
{
    *out = NULL;
    co_lab *lab = calloc(1, sizeof *lab);
    if (lab == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    lab->udp_fd = -1;
    pthread_mutex_init(&lab->mu, NULL);
    lab->cfg = *cfg;
    if (lab->cfg.boot_timeout_ms <= 0)
        lab->cfg.boot_timeout_ms = 30000;
    co_lab_info *in = &lab->info;
    in->mem_bytes = cfg->mem_bytes > 0 ? cfg->mem_bytes : 256.0 * 1048576;
    int rc;
    if (in->mem_bytes < 16.0 * 1048576 || in->mem_bytes > 3.0 * 1073741824 ||
        fmod(in->mem_bytes, 1048576.0) != 0) {
        rc = co_diag_set(d, CO_EUSAGE,
                         "memory %.0f bytes is not a whole number of MiB in 16 MiB..3 GiB "
                         "(the guest is 32-bit, without paging)", in->mem_bytes);
        goto fail;
    }
    if ((rc = co_lab_workload_check(cfg->workload, in->mem_bytes, in->workload,
                                    sizeof in->workload, d)))
        goto fail;
    if ((rc = co_lab_find_guest(cfg->guest_path, in->guest_path, sizeof in->guest_path, d)))
        goto fail;
    char abs[PATH_MAX];
    if (realpath(in->guest_path, abs) && strlen(abs) < sizeof in->guest_path)
        memcpy(in->guest_path, abs, strlen(abs) + 1); /* printed, and cwd-independent */
    if ((rc = co_lab_pick_accel(cfg->accel, &in->accel, in->accel_reason,
                                sizeof in->accel_reason, d)))
        goto fail;

    /* Under TCG (QEMU < 9.0) the guest must flush its TLB now and then or
     * pages that stay in it migrate stale (see tlb_flush_all in
     * lab/guest/guest.c); the workload may set tlbflush itself. */
    if (strcmp(in->accel, "tcg") == 0 && strstr(in->workload, "tlbflush=") == NULL) {
        size_t wl = strlen(in->workload);
        if (wl + 16 >= sizeof in->workload) {
            rc = co_diag_set(d, CO_EUSAGE, "workload: too long");
            goto fail;
        }
        snprintf(in->workload + wl, sizeof in->workload - wl, "%stlbflush=1ms",
                 wl ? " " : "");
    }

    const char *tmp = getenv("TMPDIR");
    snprintf(in->dir, sizeof in->dir, "%s/cutover-lab-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (strlen(in->dir) > 200 || mkdtemp(in->dir) == NULL) {
        rc = co_diag_set(d, CO_EOS, "cannot create temp dir %s: %s", in->dir,
                         strlen(in->dir) > 200 ? "path too long for unix sockets"
                                               : strerror(errno));
        in->dir[0] = '\0';
        goto fail;
    }
    snprintf(in->src_qmp, sizeof in->src_qmp, "%s/src.qmp", in->dir);
    snprintf(in->dst_qmp, sizeof in->dst_qmp, "%s/dst.qmp", in->dir);

    /* heartbeat socket and receiver */
    lab->ring = calloc(HB_RING, sizeof *lab->ring);
    if (lab->ring == NULL) {
        rc = co_diag_set(d, CO_ENOMEM, "out of memory for the heartbeat ring");
        goto fail;
    }
    /* the shaped link first: the heartbeat binds its address here */
    snprintf(in->hb_addr, sizeof in->hb_addr, "127.0.0.1");
    if (cfg->link.rate_bits_per_s > 0 && !cfg->no_dest) {
        if ((rc = link_make(lab, d)))
            goto fail;
        snprintf(in->hb_addr, sizeof in->hb_addr, "%s", in->link_root_addr);
    }
    lab->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, in->hb_addr, &a.sin_addr);
    socklen_t al = sizeof a;
    int rcvbuf = 4 << 20;
    if (lab->udp_fd < 0 || bind(lab->udp_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(lab->udp_fd, (struct sockaddr *)&a, &al) < 0) {
        rc = co_diag_set(d, CO_EOS, "heartbeat UDP socket on %s: %s", in->hb_addr,
                         strerror(errno));
        goto fail;
    }
    /* QEMU's UART sends one datagram per byte (~10 per heartbeat); 4 MiB
     * holds ~0.5 s of them if the receiver thread is starved. FORCE needs
     * CAP_NET_ADMIN; otherwise rmem_max caps the plain request. */
    if (setsockopt(lab->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(lab->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    in->hb_port = ntohs(a.sin_port);
    if (pthread_create(&lab->thread, NULL, receiver, lab) != 0) {
        rc = co_diag_set(d, CO_EOS, "cannot start the heartbeat thread");
        goto fail;
    }
    lab->thread_started = 1;

    double deadline = co_clock_ms() + lab->cfg.boot_timeout_ms;
    in->started_ms = co_clock_ms();
    if ((rc = spawn_qemu(lab, 0, &in->src_pid, d)))
        goto fail;
    if (!cfg->no_dest && (rc = start_dest(lab, deadline, d)))
        goto fail;
    /* first heartbeat from the source */
    for (;;) {
        co_lab_status st;
        co_lab_get_status(lab, &st);
        if (st.bad[0]) {
            rc = co_diag_set(d, CO_EUSAGE, "the guest refused its command line: %s",
                             st.bad);
            goto fail;
        }
        if (st.hb_count > 0) {
            in->boot_ms = st.hb_last_ms - in->started_ms;
            break;
        }
        if (!co_lab_alive(lab, 0, d)) {
            rc = CO_EUNAVAIL;
            goto fail;
        }
        if (cancelled(lab)) {
            rc = co_diag_set(d, CO_ECANCELED, "cancelled while starting");
            goto fail;
        }
        if (co_clock_ms() > deadline) {
            rc = co_diag_set(d, CO_ETIMEDOUT,
                             "no heartbeat from the source guest on udp:%s:%d "
                             "after %.0f ms (accel %s)", in->hb_addr, in->hb_port,
                             lab->cfg.boot_timeout_ms, in->accel);
            goto fail;
        }
        sleep_ms(5);
    }
    *out = lab;
    return CO_OK;
fail:
    co_lab_stop(lab);
    return rc;
}

const co_lab_info *co_lab_get_info(const co_lab *lab)
{
    return &lab->info;
}

void co_lab_get_status(co_lab *lab, co_lab_status *st)
{
    pthread_mutex_lock(&lab->mu);
    *st = lab->st;
    pthread_mutex_unlock(&lab->mu);
}

/* Poll cond every 5 ms until it holds, the timeout passes, the lab is
 * cancelled, or the QEMU that must produce it (which) dies. */
static int wait_for(co_lab *lab, int (*cond)(const co_lab_status *, const void *),
                    const void *arg, int which, double timeout_ms, const char *what,
                    co_diag *d)
{
    double deadline = co_clock_ms() + timeout_ms;
    for (;;) {
        co_lab_status st;
        co_lab_get_status(lab, &st);
        if (cond(&st, arg))
            return CO_OK;
        if (cancelled(lab))
            return co_diag_set(d, CO_ECANCELED, "cancelled while waiting for %s", what);
        if (!co_lab_alive(lab, which, d))
            return CO_EUNAVAIL;
        if (co_clock_ms() > deadline)
            return co_diag_set(d, CO_ETIMEDOUT, "no %s after %.0f ms", what, timeout_ms);
        sleep_ms(5);
    }
}

static int cond_ready(const co_lab_status *st, const void *arg)
{
    (void)arg;
    return st->ready;
}

int co_lab_wait_ready(co_lab *lab, double timeout_ms, co_diag *d)
{
    return wait_for(lab, cond_ready, NULL, 0, timeout_ms, "READY line (guest fill)", d);
}

struct hb_want {
    int sender;
    double after_ms;
};

static int cond_hb(const co_lab_status *st, const void *arg)
{
    const struct hb_want *w = arg;
    return st->hb_count > 0 && st->hb_last_sender == w->sender && st->hb_last_ms > w->after_ms;
}

int co_lab_wait_heartbeat(co_lab *lab, int sender, double after_ms, double timeout_ms,
                          co_diag *d)
{
    struct hb_want w = {sender, after_ms};
    char what[64];
    snprintf(what, sizeof what, "heartbeat from sender %d", sender);
    return wait_for(lab, cond_hb, &w, sender > 0 ? 1 : 0, timeout_ms, what, d);
}

int co_lab_max_gap(co_lab *lab, double from_ms, double to_ms, co_lab_gap *gap, co_diag *d)
{
    memset(gap, 0, sizeof *gap);
    pthread_mutex_lock(&lab->mu);
    uint64_t n = lab->ring_n, first = n > HB_RING ? n - HB_RING : 0;
    /* find the last sample before from_ms (or the oldest kept) */
    uint64_t i = n;
    while (i > first && lab->ring[(i - 1) % HB_RING].t_ms >= from_ms)
        i--;
    if (i > first)
        i--; /* include the heartbeat just before the window */
    else if (n > HB_RING) {
        pthread_mutex_unlock(&lab->mu);
        return co_diag_set(d, CO_EDATA, "heartbeat window starts before the kept history");
    }
    const struct hb_sample *prev = NULL;
    for (; i < n; i++) {
        const struct hb_sample *h = &lab->ring[i % HB_RING];
        if (h->t_ms > to_ms)
            break;
        if (h->t_ms >= from_ms)
            gap->samples++;
        if (prev) {
            double g = h->t_ms - prev->t_ms;
            if (g > gap->gap_ms) {
                gap->gap_ms = g;
                gap->start_ms = prev->t_ms;
                gap->end_ms = h->t_ms;
                gap->from_sender = prev->sender;
                gap->to_sender = h->sender;
                gap->from_seq = prev->seq;
                gap->to_seq = h->seq;
            }
        }
        prev = h;
    }
    pthread_mutex_unlock(&lab->mu);
    if (gap->end_ms == 0)
        return co_diag_set(d, CO_EDATA, "fewer than two heartbeats in the window");
    return CO_OK;
}

int co_lab_switch_gap(co_lab *lab, int from, int to, co_lab_gap *gap, co_diag *d)
{
    memset(gap, 0, sizeof *gap);
    pthread_mutex_lock(&lab->mu);
    uint64_t n = lab->ring_n, first = n > HB_RING ? n - HB_RING : 0;
    const struct hb_sample *last_from = NULL;
    for (uint64_t i = first; i < n; i++) {
        const struct hb_sample *h = &lab->ring[i % HB_RING];
        if (h->sender == from) {
            last_from = h;
        } else if (h->sender == to && last_from) {
            gap->gap_ms = h->t_ms - last_from->t_ms;
            gap->start_ms = last_from->t_ms;
            gap->end_ms = h->t_ms;
            gap->from_sender = from;
            gap->to_sender = to;
            gap->from_seq = last_from->seq;
            gap->to_seq = h->seq;
            gap->samples = 2;
            break;
        }
    }
    pthread_mutex_unlock(&lab->mu);
    if (gap->samples == 0)
        return co_diag_set(d, CO_EDATA, "no heartbeat of sender %d followed by one of "
                                        "sender %d", from, to);
    return CO_OK;
}
