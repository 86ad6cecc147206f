/* cli/gnuplot.c: run gnuplot without a shell, the output path out of the
 * script (cli/gnuplot.h). */
#define _GNU_SOURCE /* pipe2 */
#include "cli/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim.h"
#include "util/error.h"

#define GP_MAX_FILES 8

struct co_gp {
    char dir[64];                 /* mkdtemp, ours */
    char files[GP_MAX_FILES][32]; /* data files made in it */
    int n_files;
};

/* The program to exec: CUTOVER_GNUPLOT whole, else "gnuplot" (PATH). */
static const char *gp_program(void)
{
    const char *g = getenv("CUTOVER_GNUPLOT");
    return g && *g ? g : "gnuplot";
}

int co_gp_find(co_diag *d)
{
    const char *g = getenv("CUTOVER_GNUPLOT");
    if (g && *g) {
        if (access(g, X_OK) != 0)
            return co_diag_set(d, CO_EUNAVAIL, "gnuplot not found: CUTOVER_GNUPLOT=%s is not an "
                                               "executable file", g);
        return CO_OK;
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *e = strchr(path, ':');
        size_t n = e ? (size_t)(e - path) : strlen(path);
        char buf[4096];
        if (n > 0 && snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, path) < (int)sizeof buf &&
            access(buf, X_OK) == 0)
            return CO_OK;
        path += n + (e ? 1 : 0);
    }
    return co_diag_set(d, CO_EUNAVAIL, "gnuplot not found in PATH (install it: apt-get install "
                                       "gnuplot-nox)");
}

int co_gp_open(co_gp **out, co_diag *d)
{
    *out = NULL;
    int rc = co_gp_find(d);
    if (rc != CO_OK)
        return rc;
    co_gp *g = calloc(1, sizeof *g);
    if (g == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    /* /tmp, not $TMPDIR: the names stay ours from end to end */
    snprintf(g->dir, sizeof g->dir, "/tmp/cutover-gp-XXXXXX");
    if (mkdtemp(g->dir) == NULL) {
        int e = errno;
        free(g);
        return co_diag_set(d, CO_EOS, "gnuplot data directory: mkdtemp: %s", strerror(e));
    }
    *out = g;
    return CO_OK;
}

int co_gp_quote(const char *text, const char *what, char *buf, size_t len, co_diag *d)
{
    size_t k = 0;
    if (len < 3)
        return co_diag_set(d, CO_ERANGE, "%s too long for a plot", what);
    buf[k++] = '\'';
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return co_diag_set(d, CO_EDATA, "%s '%.60s' holds a control character: refused in "
                                            "a plot", what, text);
        size_t need = *p == '\'' ? 2 : 1;
        if (k + need + 2 > len)
            return co_diag_set(d, CO_ERANGE, "%s '%.60s...' too long for a plot", what, text);
        if (*p == '\'')
            buf[k++] = '\''; /* '' is one quote inside a single-quoted string */
        buf[k++] = (char)*p;
    }
    buf[k++] = '\'';
    buf[k] = '\0';
    return CO_OK;
}

FILE *co_gp_data(co_gp *g, const char *name, char *quoted, size_t qlen, co_diag *d)
{
    if (g->n_files >= GP_MAX_FILES || strlen(name) >= sizeof g->files[0] ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(name) || name[0] == '.') {
        co_diag_set(d, CO_ESOFTWARE, "gnuplot data file '%s': bad name or too many", name);
        return NULL;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g->dir, name);
    if (co_gp_quote(path, "data file", quoted, qlen, d) != CO_OK)
        return NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        co_diag_set(d, CO_EOS, "gnuplot data file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    snprintf(g->files[g->n_files++], sizeof g->files[0], "%s", name);
    return f;
}

/* Write all of buf to fd; 0 or -1 (errno set). */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The first line of gnuplot's stderr, for the error message. */
static void first_error_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* gnuplot echoes the offending line and a caret first */
        if (strstr(line, "line ") || strstr(line, "rror") || strstr(line, "warning")) {
            snprintf(buf, len, "%s", line + strspn(line, " \t"));
            break;
        }
        if (!buf[0])
            snprintf(buf, len, "%s", line + strspn(line, " \t"));
    }
    fclose(f);
}

int co_gp_render(co_gp *g, const char *script, const char *out_path, co_diag *d)
{
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (out < 0)
        return co_diag_set(d, CO_ECANTCREAT, "cannot create '%s': %s", out_path, strerror(errno));
    char errpath[128];
    snprintf(errpath, sizeof errpath, "%s/stderr", g->dir);
    int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int pfd[2] = {-1, -1};
    if (err < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
        int e = errno;
        if (err >= 0)
            close(err);
        close(out);
        unlink(out_path);
        return co_diag_set(d, CO_EOS, "gnuplot: %s", strerror(e));
    }
    const char *prog = gp_program();
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: stdin the script, stdout the image, stderr kept */
        if (dup2(pfd[0], 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(127);
        char *const argv[] = {(char *)prog, NULL};
        execvp(prog, argv);
        _exit(127);
    }
    int fork_errno = errno;
    close(pfd[0]);
    close(out);
    close(err);
    if (pid < 0) {
        close(pfd[1]);
        unlink(out_path);
        return co_diag_set(d, CO_EOS, "cannot start gnuplot: fork: %s", strerror(fork_errno));
    }
    /* a gnuplot that dies early must not kill us with SIGPIPE */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    int wrc = write_all(pfd[1], script, strlen(script));
    close(pfd[1]);
    sigaction(SIGPIPE, &old, NULL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    char why[200];
    first_error_line(errpath, why, sizeof why);
    unlink(errpath);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        unlink(out_path);
        return co_diag_set(d, CO_EUNAVAIL, "cannot run gnuplot ('%s')", prog);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || wrc != 0) {
        unlink(out_path);
        return co_diag_set(d, CO_EIO, "gnuplot failed (%s %d)%s%s",
                           WIFEXITED(st) ? "exit status" : "signal",
                           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), why[0] ? ": " : "",
                           why);
    }
    struct stat sb;
    if (stat(out_path, &sb) != 0 || sb.st_size == 0) {
        unlink(out_path);
        return co_diag_set(d, CO_EIO, "gnuplot wrote nothing to '%s'", out_path);
    }
    return CO_OK;
}

void co_gp_close(co_gp *g)
{
    if (g == NULL)
        return;
    char path[128];
    for (int i = 0; i < g->n_files; i++) {
        snprintf(path, sizeof path, "%s/%s", g->dir, g->files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/stderr", g->dir);
    unlink(path);
    rmdir(g->dir);
    free(g);
}

/* Paul Tol's "muted" qualitative scheme (9) plus 4 of his "bright" ones:
 * thirteen steps, each its own colour. */
static const unsigned step_rgb[CO_STEP_N] = {
    0x332288, 0x88ccee, 0x44aa99, 0x117733, 0x999933, 0xddcc77, 0xcc6677,
    0x882255, 0xaa4499, 0x4477aa, 0x66ccee, 0xee6677, 0x000000,
};

unsigned co_gp_step_rgb(int step)
{
    return step >= 0 && step < CO_STEP_N ? step_rgb[step] : 0x888888;
}

int co_gp_step_key(char *buf, size_t len, const unsigned char *used, int nsteps, int lw,
                   co_diag *d)
{
    size_t l = strlen(buf);
    for (int k = 0; k < nsteps; k++) {
        if (!used[k])
            continue;
        /* step names are cutover's own ([a-z_]), never user text */
        int n = snprintf(buf + l, len - l, ", \\\n  NaN with lines lw %d lc rgb '#%06x' title '%s'",
                         lw, co_gp_step_rgb(k), co_sim_step_name(k));
        if (n < 0 || (size_t)n >= len - l)
            return co_diag_set(d, CO_ERANGE, "plot script too long");
        l += (size_t)n;
    }
    return CO_OK;
}
