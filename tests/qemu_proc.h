/* tests/qemu_proc.h: start and always stop real QEMU processes for
 * the QMP tests.
 *
 * Owns: a tiny launcher for BIOS-only guests (no kernel: SeaBIOS idles),
 * private mkdtemp directories, ephemeral ports, and teardown. Children get
 * PR_SET_PDEATHSIG(SIGKILL) so a crashed test never leaves a QEMU behind;
 * tq_stop() kills and reaps; tq_qmp_running() asks any QEMU (the lab's too)
 * whether its guest runs. The test guest and lab launcher proper live in
 * lab/lab.h; this header keeps the QMP tests independent of them. */
#ifndef CUTOVER_TESTS_QEMU_PROC_H
#define CUTOVER_TESTS_QEMU_PROC_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/qmp.h"
#include "util/procnet.h"

typedef struct tq_qemu {
    pid_t pid;
    char qmp[100];  /* unix socket path (fits sun_path) */
    char why[96];   /* why the last start failed */
} tq_qemu;

/* CLOCK_MONOTONIC in ms, for the tests' own bounded waits. */
static inline double tq_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 1 if the QEMU behind QMP socket qmp reports its guest running, 0 if
 * not, -1 if it cannot be asked. */
static inline int tq_qmp_running(const char *qmp)
{
    co_qmp *q = NULL;
    co_diag d;
    co_diag_init(&d);
    if (co_qmp_connect(qmp, 5000, &q, &d) != CO_OK)
        return -1;
    co_qmp_status st;
    int rc = co_qmp_query_status(q, &st, &d) == CO_OK ? st.running : -1;
    co_qmp_close(q);
    return rc;
}

/* A free TCP port on 127.0.0.1 (bind port 0, read it back, close). */
static inline int tq_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

/* A free port other than `taken`: the kernel may hand the same free port
 * twice in a row (seen once in make check), so ask again (20 tries). */
static inline int tq_free_port_but(int taken)
{
    int p = tq_free_port();
    for (int i = 0; i < 20 && p == taken; i++)
        p = tq_free_port();
    return p;
}

/* 1 if some socket listens on 127.0.0.1:port (or a wildcard address),
 * through the one /proc/net/tcp reader (util/procnet.h). Probing with
 * connect() is not an option: QEMU would take the probe as the incoming
 * migration stream. */
static inline int tq_listening(int port)
{
    return co_procnet_listening("127.0.0.1", port);
}

/* Create a private directory; returns 0 or -1. dir must hold 64 bytes. */
static inline int tq_mkdir(char *dir)
{
    strcpy(dir, "/tmp/coqmp-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

/* Write a file of mem_mb MiB of non-zero bytes: RAM backed by it is sent
 * as normal pages, not as zero pages, so migrations move real data. */
static inline int tq_fill_file(const char *path, int mem_mb)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    static const size_t chunk = 1 << 20;
    char *b = malloc(chunk);
    if (b == NULL) {
        close(fd);
        return -1;
    }
    memset(b, 0x5a, chunk);
    for (int i = 0; i < mem_mb; i++)
        if (write(fd, b, chunk) != (ssize_t)chunk) {
            free(b);
            close(fd);
            return -1;
        }
    free(b);
    return close(fd);
}

/* Start QEMU with its QMP socket at DIR/NAME.qmp. mem_file: back RAM by
 * that file (source side; NULL: anonymous RAM). incoming_port > 0: start
 * as a migration destination on 127.0.0.1:PORT. Waits up to 10 s for the
 * socket. Returns 0 or -1 (QEMU reaped). */
static inline int tq_start_ex(tq_qemu *q, const char *dir, const char *name, int mem_mb,
                              const char *mem_file, int incoming_port, int qmp_tcp_port);
static inline void tq_stop(tq_qemu *q);
static inline int tq_start(tq_qemu *q, const char *dir, const char *name, int mem_mb,
                           const char *mem_file, int incoming_port)
{
    return tq_start_ex(q, dir, name, mem_mb, mem_file, incoming_port, 0);
}

/* Same, plus a second QMP monitor on tcp:127.0.0.1:qmp_tcp_port when > 0. */
static inline int tq_start_ex(tq_qemu *q, const char *dir, const char *name, int mem_mb,
                              const char *mem_file, int incoming_port, int qmp_tcp_port)
{
    memset(q, 0, sizeof *q);
    snprintf(q->qmp, sizeof q->qmp, "%s/%s.qmp", dir, name);
    char qmparg[200], memarg[64], objarg[400], machine[64], incoming[64], tcparg[80];
    snprintf(tcparg, sizeof tcparg, "tcp:127.0.0.1:%d,server=on,wait=off", qmp_tcp_port);
    snprintf(qmparg, sizeof qmparg, "unix:%s,server=on,wait=off", q->qmp);
    snprintf(memarg, sizeof memarg, "%d", mem_mb);
    if (mem_file)
        snprintf(objarg, sizeof objarg, "memory-backend-file,id=m,size=%dM,mem-path=%s,share=off",
                 mem_mb, mem_file);
    else
        snprintf(objarg, sizeof objarg, "memory-backend-ram,id=m,size=%dM", mem_mb);
    /* kvm when /dev/kvm works; QEMU falls back to tcg by itself.
     * CUTOVER_TQ_ACCEL (e.g. "kvm,dirty-ring-size=4096") picks one instead. */
    const char *accel = getenv("CUTOVER_TQ_ACCEL");
    snprintf(machine, sizeof machine, "pc,%smemory-backend=m", accel ? "" : "accel=kvm:tcg,");
    snprintf(incoming, sizeof incoming, "tcp:127.0.0.1:%d", incoming_port);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            if (!getenv("CUTOVER_TEST_QEMU_STDERR"))
                dup2(nul, 2);
        }
        char *argv[32];
        int n = 0;
        argv[n++] = "qemu-system-x86_64";
        argv[n++] = "-machine";
        argv[n++] = machine;
        argv[n++] = "-nodefaults";
        argv[n++] = "-display";
        argv[n++] = "none";
        argv[n++] = "-m";
        argv[n++] = memarg;
        argv[n++] = "-object";
        argv[n++] = objarg;
        argv[n++] = "-qmp";
        argv[n++] = qmparg;
        if (qmp_tcp_port > 0) {
            argv[n++] = "-qmp";
            argv[n++] = tcparg;
        }
        if (accel) {
            argv[n++] = "-accel";
            argv[n++] = (char *)accel;
        }
        if (incoming_port > 0) {
            argv[n++] = "-incoming";
            argv[n++] = incoming;
        }
        argv[n] = NULL;
        execvp(argv[0], argv);
        _exit(127);
    }
    q->pid = pid;
    /* Up to 30 s: the box may be shared with other QEMU tests. */
    for (int i = 0; i < 3000; i++) {
        /* The socket file appears at bind(), before listen(): wait until
         * a connect succeeds (then hang up; QEMU takes the next client). */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", q->qmp);
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(s);
            /* QEMU opens the -incoming listener after its monitors, and
             * the tcp monitor may lag the unix one: wait for both, or a
             * migration or a connect in between is refused. */
            for (int j = 0; (incoming_port > 0 && !tq_listening(incoming_port)) ||
                            (qmp_tcp_port > 0 && !tq_listening(qmp_tcp_port));
                 j++) {
                int wst;
                if (waitpid(pid, &wst, WNOHANG) == pid) {
                    q->pid = 0; /* exited (and reaped) */
                    snprintf(q->why, sizeof q->why, "%s exited (status 0x%x) before listening",
                             name, wst);
                    return -1;
                }
                if (j == 3000) {
                    snprintf(q->why, sizeof q->why, "%s: port %d/%d not listening after 30 s",
                             name, incoming_port, qmp_tcp_port);
                    kill(pid, SIGKILL);
                    waitpid(pid, NULL, 0);
                    q->pid = 0;
                    return -1;
                }
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            return 0;
        }
        if (s >= 0)
            close(s);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            q->pid = 0;
            snprintf(q->why, sizeof q->why, "%s exited (status 0x%x) at start (port in use?)",
                     name, st);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    q->pid = 0;
    snprintf(q->why, sizeof q->why, "%s: no QMP socket after 30 s", name);
    return -1;
}

/* Kill (SIGKILL, also if stopped) and reap. Safe to call twice. */
static inline void tq_stop(tq_qemu *q)
{
    if (q->pid > 0) {
        kill(q->pid, SIGKILL);
        waitpid(q->pid, NULL, 0);
        q->pid = 0;
    }
    if (q->qmp[0])
        unlink(q->qmp);
}

/* Remove the files tests create in dir, then dir. */
static inline void tq_rmdir(const char *dir)
{
    if (dir[0] == '\0')
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir);
    if (system(cmd) != 0) {
        /* best effort: a leftover dir in /tmp is harmless */
    }
}

/* Start a destination (-incoming on a fresh ephemeral *port) and a source
 * (RAM backed by mem_file; a second QMP monitor on a fresh *qmp_tcp_port
 * when qmp_tcp_port is not NULL). A port picked by binding port 0 can be
 * taken by someone else before QEMU binds it, so each start is retried
 * with new ports (3 tries). Returns 0, or -1 with nothing left running. */
static inline int tq_start_pair(const char *dir, int mem_mb, const char *mem_file, tq_qemu *src,
                                tq_qemu *dst, int *port, int *qmp_tcp_port)
{
    int ok = -1;
    for (int i = 0; i < 3 && ok != 0; i++) {
        *port = tq_free_port();
        ok = *port > 0 ? tq_start(dst, dir, "dst", mem_mb, NULL, *port) : -1;
    }
    if (ok != 0)
        return -1;
    ok = -1;
    for (int i = 0; i < 3 && ok != 0; i++) {
        int tp = 0;
        if (qmp_tcp_port)
            *qmp_tcp_port = tp = tq_free_port_but(*port);
        ok = tq_start_ex(src, dir, "src", mem_mb, mem_file, 0, tp);
    }
    if (ok != 0) {
        tq_stop(dst);
        return -1;
    }
    return 0;
}

/* The usual fixture: a fresh dir (char[64]), a RAM file of non-zero bytes
 * DIR/ram (memfile, char[128]) of mem_mb, and tq_start_pair on it. Returns
 * 0, or -1 with why (char[160]) saying which step failed. */
static inline int tq_filled_pair(char *dir, char *memfile, int mem_mb, tq_qemu *src, tq_qemu *dst,
                                 int *port, char *why)
{
    if (tq_mkdir(dir) != 0)
        return snprintf(why, 160, "mkdtemp failed"), -1;
    snprintf(memfile, 128, "%s/ram", dir);
    if (tq_fill_file(memfile, mem_mb) != 0)
        return snprintf(why, 160, "cannot fill %s", memfile), -1;
    if (tq_start_pair(dir, mem_mb, memfile, src, dst, port, NULL) != 0)
        return snprintf(why, 160, "QEMU did not start: %.60s%.60s", src->why, dst->why), -1;
    return 0;
}

#endif
