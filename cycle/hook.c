/* cycle/hook.c: run one hook of a patch cycle (cycle/hook.h).
 *
 * fork + execvpe with the argv of the file (no shell: a host name with a
 * space, a quote or "$(...)" is one argument and nothing more). The child
 * leads its own process group, so a timeout or a stop kills what the hook
 * started too (ssh, a script's children), not only the hook. Its output
 * goes straight to the log file (no pipe: a grandchild that outlives the
 * hook cannot make us wait for an EOF); the last line is read back from
 * the log afterwards. */
#define _GNU_SOURCE
#include "cycle/hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

extern char **environ;

#define HOOK_GRACE_MS 5000.0  /* SIGTERM, then SIGKILL this much later */
#define HOOK_POLL_MS 100      /* the stop flag is looked at this often at least */
#define HOOK_TAIL_BYTES 65536 /* how far back the last line is looked for */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ------------------------------------------------------------ argv */

/* The value of placeholder i, in co_sim_hook_placeholder's numbering. */
static const char *ph_value(const co_hook_ctx *c, int i)
{
    const char *v = NULL;
    switch (i) {
    case 0: v = c->host; break;
    case 1: v = c->uri; break;
    case 2: v = c->migration_uri; break;
    case 3: v = c->step; break;
    case 4: v = c->journal_dir; break;
    }
    return v ? v : "";
}

void co_hook_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

int co_hook_expand(const co_sim_hook *h, const co_hook_ctx *ctx, char ***out)
{
    static const co_hook_ctx none = {0};
    if (ctx == NULL)
        ctx = &none;
    size_t n = 0;
    if (h && h->argv)
        while (h->argv[n])
            n++;
    char **a = calloc(n + 1, sizeof *a);
    if (a == NULL)
        return CO_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int k = co_sim_hook_placeholder(h->argv[i]);
        /* whole elements only: "--host={host}" stays as it is (sim/load.c
         * refuses it, so it cannot reach here from a file) */
        a[i] = strdup(k >= 0 ? ph_value(ctx, k) : h->argv[i]);
        if (a[i] == NULL) {
            co_hook_argv_free(a);
            return CO_ENOMEM;
        }
    }
    *out = a;
    return CO_OK;
}

/* ours plus CUTOVER_*, replacing any CUTOVER_* we inherited */
static char **build_env(const co_hook_ctx *c)
{
    static const char *const keys[] = {"CUTOVER_HOST", "CUTOVER_URI", "CUTOVER_MIGRATION_URI",
                                       "CUTOVER_STEP"};
    const char *vals[] = {c->host, c->uri, c->migration_uri, c->step};
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = calloc(n + 5, sizeof *env);
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (char **e = environ; e && *e; e++) {
        int ours = 0;
        for (int i = 0; i < 4; i++) {
            size_t l = strlen(keys[i]);
            if (strncmp(*e, keys[i], l) == 0 && (*e)[l] == '=')
                ours = 1;
        }
        if (!ours)
            env[k++] = *e; /* borrowed: only the 4 below are freed */
    }
    for (int i = 0; i < 4; i++) {
        const char *v = vals[i] ? vals[i] : "";
        size_t l = strlen(keys[i]) + strlen(v) + 2;
        char *s = malloc(l);
        if (s == NULL) {
            for (size_t j = k - i; j < k; j++)
                free(env[j]);
            free(env);
            return NULL;
        }
        snprintf(s, l, "%s=%s", keys[i], v);
        env[k++] = s;
    }
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    if (env == NULL)
        return;
    size_t k = 0;
    while (env[k])
        k++;
    for (size_t j = k >= 4 ? k - 4 : 0; j < k; j++)
        free(env[j]);
    free(env);
}

/* ------------------------------------------------------------ the log */

/* A name's characters safe in a file name; others become '_'. */
static void sanitize(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        out[n++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                           (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'
                       ? (char)ch
                       : '_';
    }
    out[n] = '\0';
    if (n > 0 && out[0] == '.')
        out[0] = '_'; /* no hidden files, no ".." */
}

static int open_log(const co_hook_ctx *c, co_hook_result *r, co_diag *d)
{
    char dir[400];
    if (snprintf(dir, sizeof dir, "%s/hooks", c->journal_dir) >= (int)sizeof dir)
        return co_diag_set(d, CO_EUSAGE, "hook log directory %s/hooks: path too long",
                           c->journal_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return co_diag_set(d, CO_ECANTCREAT, "hook log directory %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return co_diag_set(d, CO_ENOPERM, "hook log directory %s is not a directory of ours: "
                                          "refused",
                           dir);
    char step[64], host[128];
    sanitize(step, sizeof step, c->step && c->step[0] ? c->step : "hook");
    sanitize(host, sizeof host, c->host);
    char path[sizeof dir + sizeof step + sizeof host + 8];
    if (host[0])
        snprintf(path, sizeof path, "%s/%s-%s.log", dir, step, host);
    else
        snprintf(path, sizeof path, "%s/%s.log", dir, step);
    if (strlen(path) >= sizeof r->log_path)
        return co_diag_set(d, CO_EUSAGE, "hook log %s: path too long", path);
    memcpy(r->log_path, path, strlen(path) + 1);
    int fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return co_diag_set(d, errno == ELOOP ? CO_ENOPERM : CO_ECANTCREAT, "hook log %s: %s",
                           r->log_path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        return co_diag_set(d, CO_ENOPERM, "hook log %s is not a regular file of ours: refused",
                           r->log_path);
    }
    return fd;
}

static void log_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_printf(int fd, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    if (write(fd, buf, (size_t)n) < 0) {
        /* the log is for people; the hook's result does not depend on it */
    }
}

static void log_header(int fd, const co_hook_ctx *c, char **argv)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[3000];
    size_t k = (size_t)snprintf(line, sizeof line, "== %s %s%s%s:", when,
                                c->step ? c->step : "hook", c->host ? " host " : "",
                                c->host ? c->host : "");
    for (char **a = argv; *a && k < sizeof line; a++)
        k += (size_t)snprintf(line + k, sizeof line - k, " %s", *a);
    log_printf(fd, "%.*s\n", (int)(k < sizeof line ? k : sizeof line - 1), line);
}

/* The last non-empty line written to the log since offset from. */
static void last_line(const char *path, off_t from, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= from) {
        close(fd);
        return;
    }
    off_t start = st.st_size - from > HOOK_TAIL_BYTES ? st.st_size - HOOK_TAIL_BYTES : from;
    size_t len = (size_t)(st.st_size - start);
    char *b = malloc(len + 1);
    ssize_t n = b ? pread(fd, b, len, start) : -1;
    close(fd);
    if (n <= 0) {
        free(b);
        return;
    }
    size_t e = (size_t)n;
    for (;;) {
        while (e > 0 && (b[e - 1] == '\n' || b[e - 1] == '\r' || b[e - 1] == ' ' ||
                         b[e - 1] == '\t'))
            e--;
        if (e == 0)
            break;
        size_t s = e;
        while (s > 0 && b[s - 1] != '\n')
            s--;
        size_t m = e - s < cap - 1 ? e - s : cap - 1;
        for (size_t i = 0; i < m; i++) {
            unsigned char ch = (unsigned char)b[s + i];
            out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
        }
        out[m] = '\0';
        break;
    }
    free(b);
}

/* ------------------------------------------------------------ running */

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* Wait up to ms for the child to change state (or for nothing, when there
 * is no pidfd: then just sleep a little, bounded by ms). */
static void wait_a_bit(int pidfd, double ms)
{
    int t = ms < 0 ? 0 : ms > HOOK_POLL_MS ? HOOK_POLL_MS : (int)ms + 1;
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        (void)poll(&p, 1, t);
    } else {
        struct timespec ts = {0, (long)(t < 10 ? t : 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* In the child, after fork: only async-signal-safe calls. */
static void child(char **argv, char **env, int logfd, int nullfd, int errfd)
{
    setpgid(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    /* ignored signals stay ignored across exec: give the hook the defaults */
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0) {
        int e = errno;
        if (write(errfd, &e, sizeof e) < 0) {
            /* nothing left to tell it with */
        }
        _exit(127);
    }
    /* fds we leaked without O_CLOEXEC (libraries' sockets) stay with us */
#ifdef SYS_close_range
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
    execvpe(argv[0], argv, env);
    int e = errno;
    if (write(errfd, &e, sizeof e) < 0) {
        /* the parent sees EOF and an exit of 127 */
    }
    _exit(127);
}

static void where(char *buf, size_t cap, const co_hook_ctx *c)
{
    if (c->host && c->host[0])
        snprintf(buf, cap, "hook %s on host %s", c->step ? c->step : "?", c->host);
    else
        snprintf(buf, cap, "hook %s", c->step ? c->step : "?");
}

int co_hook_run(const co_sim_hook *h, const co_hook_ctx *ctx, co_hook_result *r, co_diag *d)
{
    static const co_hook_ctx none = {0};
    if (ctx == NULL)
        ctx = &none;
    memset(r, 0, sizeof *r);
    r->exit_status = -1;
    if (h == NULL || h->argv == NULL || h->argv[0] == NULL)
        return CO_OK;
    char who[300];
    where(who, sizeof who, ctx);
    if (ctx->stop_flag && *ctx->stop_flag) /* stopping: start nothing new */
        return co_diag_set(d, CO_ECANCELED, "%s: not started (stopping)", who);
    char **argv = NULL, **env = NULL;
    int logfd = -1, nullfd = -1, errp[2] = {-1, -1}, pidfd = -1, rc = CO_OK;
    if (co_hook_expand(h, ctx, &argv) != CO_OK || (env = build_env(ctx)) == NULL) {
        rc = co_diag_set(d, CO_ENOMEM, "%s: out of memory", who);
        goto out;
    }
    if (argv[0][0] == '\0') {
        rc = co_diag_set(d, CO_EUSAGE, "%s: argv[0] is empty after expansion", who);
        goto out;
    }
    if (ctx->journal_dir && ctx->journal_dir[0]) {
        if ((logfd = open_log(ctx, r, d)) < 0) {
            rc = logfd;
            goto out;
        }
        log_header(logfd, ctx, argv);
    } else if ((logfd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
        rc = co_diag_set(d, CO_EOS, "%s: /dev/null: %s", who, strerror(errno));
        goto out;
    }
    off_t from = lseek(logfd, 0, SEEK_END);
    if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || pipe2(errp, O_CLOEXEC) != 0) {
        rc = co_diag_set(d, CO_EOS, "%s: %s", who, strerror(errno));
        goto out;
    }
    double t0 = co_clock_ms();
    pid_t pid = fork();
    if (pid < 0) {
        rc = co_diag_set(d, CO_EOS, "%s: fork: %s", who, strerror(errno));
        goto out;
    }
    if (pid == 0)
        child(argv, env, logfd, nullfd, errp[1]);
    setpgid(pid, pid); /* also here, so kill(-pid) works before the child ran */
    close(errp[1]);
    errp[1] = -1;
    int cerr = 0;
    ssize_t k;
    while ((k = read(errp[0], &cerr, sizeof cerr)) < 0 && errno == EINTR)
        ;
    if (k == (ssize_t)sizeof cerr) {
        waitpid(pid, NULL, 0);
        r->elapsed_ms = co_clock_ms() - t0;
        log_printf(logfd, "== cannot run '%s': %s\n", argv[0], strerror(cerr));
        rc = co_diag_set(d, CO_EOS, "%s: cannot run '%s': %s", who, argv[0], strerror(cerr));
        goto out;
    }
    r->ran = 1;
    pidfd = pidfd_of(pid);
    int st = 0, reaped = 0, cancelled = 0, killed = 0, lost = 0;
    double term_at = -1;
    for (;;) {
        pid_t w = reaped ? 0 : waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            reaped = 1;
        } else if (w < 0 && errno != EINTR) {
            lost = errno; /* ECHILD: SIGCHLD ignored, the kernel reaped it */
            break;
        }
        double now = co_clock_ms();
        if (term_at < 0) {
            if (!reaped && ctx->stop_flag && *ctx->stop_flag)
                cancelled = 1;
            else if (!reaped && h->timeout_ms > 0 && now - t0 >= h->timeout_ms)
                r->timed_out = 1;
            if (cancelled || r->timed_out) {
                term_at = now;
                kill(-pid, SIGTERM);
            }
        }
        if (reaped && term_at < 0)
            break; /* exited by itself: what it left behind in its group is its business */
        if (term_at >= 0) {
            /* the group must go, including what ignores SIGTERM */
            int alive = kill(-pid, 0) == 0;
            if (reaped && !alive)
                break;
            if (!killed && now - term_at >= HOOK_GRACE_MS) {
                kill(-pid, SIGKILL);
                killed = 1;
            }
            /* zombies of others count as alive until their parent reaps
             * them: give up waiting for them a second after SIGKILL */
            if (reaped && killed && now - term_at >= HOOK_GRACE_MS + 1000)
                break;
        }
        double next = HOOK_POLL_MS;
        if (term_at < 0 && h->timeout_ms > 0)
            next = h->timeout_ms - (now - t0);
        else if (term_at >= 0 && !killed)
            next = HOOK_GRACE_MS - (now - term_at);
        if (reaped)
            next = next > 20 ? 20 : next; /* only the group is left: no pidfd event */
        wait_a_bit(reaped ? -1 : pidfd, next);
    }
    r->elapsed_ms = co_clock_ms() - t0;
    if (WIFEXITED(st))
        r->exit_status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        r->exit_status = 128 + WTERMSIG(st);
    if (r->log_path[0])
        last_line(r->log_path, from, r->last_line, sizeof r->last_line);
    if (lost) {
        kill(-pid, SIGKILL);
        log_printf(logfd, "== lost track of the hook: %s\n", strerror(lost));
        rc = co_diag_set(d, CO_EOS, "%s: waiting for it: %s (is SIGCHLD ignored?)", who,
                         strerror(lost));
    } else if (cancelled) {
        log_printf(logfd, "== stopped after %.0f ms: killed\n", r->elapsed_ms);
        rc = co_diag_set(d, CO_ECANCELED, "%s: stopped after %.0f ms (hook killed)", who,
                         r->elapsed_ms);
    } else if (r->timed_out) {
        log_printf(logfd, "== no exit within %.0f ms: killed\n", h->timeout_ms);
        rc = co_diag_set(d, CO_ETIMEDOUT, "%s: no exit within %.0f ms, killed%s%s%s", who,
                         h->timeout_ms, r->log_path[0] ? " (log " : "", r->log_path,
                         r->log_path[0] ? ")" : "");
    } else {
        log_printf(logfd, "== exit %d after %.0f ms\n", r->exit_status, r->elapsed_ms);
        if (r->exit_status != 0)
            rc = co_diag_set(d, CO_EFAILED, "%s: exit status %d: %s%s%s%s", who,
                             r->exit_status, r->last_line[0] ? r->last_line : "(no output)",
                             r->log_path[0] ? " (log " : "", r->log_path,
                             r->log_path[0] ? ")" : "");
    }
out:
    if (pidfd >= 0)
        close(pidfd);
    if (errp[0] >= 0)
        close(errp[0]);
    if (errp[1] >= 0)
        close(errp[1]);
    if (nullfd >= 0)
        close(nullfd);
    if (logfd >= 0)
        close(logfd);
    co_hook_argv_free(argv);
    free_env(env);
    return rc;
}
