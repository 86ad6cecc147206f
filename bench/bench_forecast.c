/* bench/bench_forecast.c: how close `cutover cycle --forecast` comes to the
 * cycle it forecasts, on the cluster lab (issue 14, part 3). Run by
 * `make bench-forecast`; under `make bench` it skips itself unless
 * CUTOVER_BENCH_FORECAST is set (15-40 min). Needs root and libvirtd (it
 * says why not and exits 77).
 *
 * Per scenario, on a fresh lab (3 hosts, 64 MiB TCG guests):
 *   1. `cutover lab cluster up DIR ...`; the cycle file is DIR/cluster.json
 *      plus the hooks of tests/cycle/hooks (patch bumps a version file,
 *      validate reports it) and the lab's reboot;
 *   2. BENCH_FC_HISTORY (2) earlier cycles on the same lab, each with its
 *      own journal and --history of the ones before it (the evacuations'
 *      calibration carries over, as in an operator's cycles): the history;
 *   3. `cutover inventory FILE -o inv.json` (timed; what the forecast
 *      starts from: the cycle below takes the same inventory itself);
 *   4. the scored cycle: `cutover cycle FILE --journal J --forecast
 *      --history H... --json`: inventory of the live cluster, the forecast
 *      fitted to the earlier journals only (never J), the real cycle, and
 *      the forecast beside the actual field by field (window, each host's
 *      evacuation, each VM's stun);
 *   5. `cutover lab cluster down DIR`.
 * Every child is build/cutover through fork/exec (no shell), in its own
 * process group, time-bound (BENCH_FC_CYCLE_TIMEOUT, 900 s per cycle):
 * past it SIGTERM (a cycle cancels and journals it), 20 s later SIGKILL.
 * A failed or cancelled cycle is reported as such and the bench goes on.
 *
 * Scenarios (BENCH_FC_SCENARIOS=mix200,mix100,busy400,valfail,valhist):
 *   mix200   6 VMs (idle to medium writers), 200 Mbit/s, MTU 9000
 *   mix100   4 lighter VMs, 100 Mbit/s, MTU 1500
 *   busy400  6 VMs (heavier writers), 400 Mbit/s, MTU 9000: TCG streams,
 *            not the link, bound the migrations here
 *   valfail  as mix200, and h2's validation fails once in the scored cycle
 *            (failure budget 1 host: the cycle goes on); the history never
 *            shows a failure, so the forecast cannot see it coming
 *   valhist  as mix200, and h2's validation fails once in the first history
 *            cycle: the forecast fits the failure rate from the history
 *            (issue 14 part 2) and the scored cycle runs without one
 * Prints one line per run, the table and the issue 14 targets; one JSON
 * object per scenario is appended to BENCH_FC_JSON when set. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BF_MAX_HIST 4
#define BF_OUT_MAX (4 << 20)

static volatile sig_atomic_t g_stop;
static void on_signal(int s)
{
    (void)s;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double load1(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

/* Run argv (argv[0] a path), stdout into *out (malloc'd, NUL-terminated),
 * stderr's last KiB into err. Bounded by timeout_s: SIGTERM to its process
 * group, then SIGKILL after 20 s. Returns the exit status, 128+signal, or
 * -1 (could not start); *timed_out = 1 when it ran over. */
static int run(char *const argv[], char **out, char *err, size_t errlen, double timeout_s,
               int *timed_out)
{
    int po[2], pe[2];
    *timed_out = 0;
    if (out)
        *out = NULL;
    if (err)
        err[0] = '\0';
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    close(po[1]);
    close(pe[1]);
    size_t n = 0, cap = 65536, en = 0;
    char *buf = malloc(cap);
    char ebuf[8192];
    double t0 = now_s(), term_at = 0;
    int open_fds = 2, status = -1, reaped = 0;
    struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    while (open_fds > 0 || !reaped) {
        if (!reaped) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid)
                reaped = 1;
        }
        double el = now_s() - t0;
        if (!reaped && !term_at && (el > timeout_s || g_stop)) {
            *timed_out = el > timeout_s;
            kill(-pid, SIGTERM);
            term_at = el;
        } else if (!reaped && term_at && el > term_at + 20)
            kill(-pid, SIGKILL);
        if (open_fds == 0) {
            usleep(100000);
            continue;
        }
        if (poll(p, 2, 200) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[8192];
            ssize_t r = read(p[i].fd, tmp, sizeof tmp);
            if (r <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0 && buf) {
                if (n + (size_t)r + 1 > cap && cap < BF_OUT_MAX) {
                    cap *= 4;
                    char *nb = realloc(buf, cap);
                    if (nb)
                        buf = nb;
                }
                size_t k = n + (size_t)r + 1 <= cap ? (size_t)r : cap - n - 1;
                memcpy(buf + n, tmp, k);
                n += k;
            } else if (i == 1) {
                /* keep the tail */
                if (en + (size_t)r >= sizeof ebuf) {
                    size_t drop = en + (size_t)r - sizeof ebuf + 1;
                    if (drop > en)
                        drop = en;
                    memmove(ebuf, ebuf + drop, en - drop);
                    en -= drop;
                }
                size_t k = (size_t)r < sizeof ebuf - en - 1 ? (size_t)r : sizeof ebuf - en - 1;
                memcpy(ebuf + en, tmp, k);
                en += k;
            }
        }
    }
    if (buf)
        buf[n] = '\0';
    ebuf[en] = '\0';
    if (err) {
        const char *tail = en > errlen - 1 ? ebuf + en - (errlen - 1) : ebuf;
        size_t k = strlen(tail);
        memcpy(err, tail, k + 1);
    }
    if (out)
        *out = buf;
    else
        free(buf);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* The last non-empty line of s, in place (for one-line error reports). */
static const char *last_line(char *s)
{
    size_t l = strlen(s);
    while (l && (s[l - 1] == '\n' || s[l - 1] == ' '))
        s[--l] = '\0';
    char *p = strrchr(s, '\n');
    return p ? p + 1 : s;
}

typedef struct bf_scen {
    const char *name;
    int nvms;
    const char *nic;
    int mtu;
    const char *const *workloads; /* cycled over the VMs */
    int fail_validate;            /* h2 fails validation in the scored cycle */
} bf_scen;

static const char *const MIX[] = {
    "rate=100", "pattern=uniform rate=2000 wss=32M",
    "pattern=hotcold rate=5000 hot=8M cold=48M hotfrac=0.9", "pattern=seq rate=3000 wss=48M",
    "pattern=uniform rate=5000 wss=48M", "rate=500", NULL};
/* for 100 Mbit/s (12 MB/s): every VM converges alone; MIX's sequential
 * writer (3000 pages/s = 12 MB/s over 48 MiB) did not (first run) */
static const char *const LIGHT[] = {
    "rate=100", "pattern=uniform rate=1000 wss=32M",
    "pattern=hotcold rate=2000 hot=8M cold=48M hotfrac=0.9", "rate=500", NULL};
static const char *const BUSY[] = {
    "pattern=uniform rate=8000 wss=48M", "pattern=hotcold rate=10000 hot=16M cold=40M hotfrac=0.9",
    "pattern=seq rate=6000 wss=48M", "pattern=uniform rate=4000 wss=56M", NULL};

static const bf_scen SCEN[] = {
    {"mix200", 6, "200Mbit", 9000, MIX, 0},
    {"mix100", 4, "100Mbit", 1500, LIGHT, 0},
    {"busy400", 6, "400Mbit", 9000, BUSY, 0},
    {"valfail", 6, "200Mbit", 9000, MIX, 1},
    {"valhist", 6, "200Mbit", 9000, MIX, 2},
};
#define NSCEN (int)(sizeof SCEN / sizeof SCEN[0])

typedef struct bf_res {
    int ran;
    double load_start, load_end;
    int up_ok;
    char note[512];
    int nhist, hist_ok;
    double hist_window_s[BF_MAX_HIST];
    char hist_status[BF_MAX_HIST][16];
    double inv_s;
    int inv_ok;
    char status[16];              /* the scored cycle's, or "failed to run" */
    int exit_code;
    double window, p10, p50, p90, werr, host_err, vm_err;
    int inside, have_cmp, hosts_cmp, vms_cmp;
    double cycle_wall_s;
    json_t *cmp;                  /* forecast.beside_actual */
} bf_res;

typedef struct bf_env {
    char bin[512], hooks[512];
    int nhist;
    double cycle_timeout_s;
    FILE *json;
} bf_env;

static int enabled(const char *list, const char *name)
{
    if (!list || !*list)
        return 1;
    char buf[256], key[64];
    snprintf(buf, sizeof buf, ",%s,", list);
    snprintf(key, sizeof key, ",%s,", name);
    return strstr(buf, key) != NULL;
}

/* The cycle file: the lab's cluster.json, the test hooks, h1 the canary. */
static int write_cycle_file(const char *dir, const char *state, const bf_env *env,
                            const bf_scen *sc, char *path, size_t len)
{
    char p[600];
    snprintf(p, sizeof p, "%s/cluster.json", dir);
    json_t *c = json_load_file(p, 0, NULL);
    if (!c)
        return -1;
    char patch[600], validate[600];
    snprintf(patch, sizeof patch, "%s/patch.sh", env->hooks);
    snprintf(validate, sizeof validate, "%s/validate.sh", env->hooks);
    json_object_set_new(c, "hooks", json_pack("{s:[s,s,s], s:[s,s,s], s:[s,s,s,s,s,s]}", "patch",
                                              patch, state, "{host}", "validate", validate, state,
                                              "{host}", "reboot", env->bin, "lab", "cluster",
                                              "reboot", dir, "{host}"));
    json_t *plan = json_object_get(c, "plan");
    if (!json_is_object(plan)) {
        plan = json_object();
        json_object_set_new(c, "plan", plan);
    }
    json_object_set_new(plan, "canary", json_pack("[s]", "h1"));
    json_object_set_new(plan, "execution",
                        json_pack("{s:s, s:{s:i}}", "return_timeout", "120s", "failure_budget",
                                  "hosts", sc->fail_validate ? 1 : 0));
    snprintf(path, len, "%s/cycle.json", state);
    int rc = json_dump_file(c, path, JSON_INDENT(1));
    json_decref(c);
    return rc;
}

static void lab_down(const bf_env *env, const char *dir)
{
    char *a[] = {(char *)env->bin, "lab", "cluster", "down", (char *)dir, NULL};
    char err[512];
    int to;
    int rc = run(a, NULL, err, sizeof err, 180, &to);
    if (rc != 0)
        fprintf(stderr, "bench_forecast: lab cluster down %s: exit %d: %s\n", dir, rc,
                last_line(err));
}

/* h2's validation fails while STATE/fail-h2 exists (tests/cycle/hooks/
 * validate.sh): on = 1 creates it, 0 removes it. */
static void fail_h2(const char *state, int on)
{
    char fp[300];
    snprintf(fp, sizeof fp, "%s/fail-h2", state);
    if (!on) {
        unlink(fp);
        return;
    }
    FILE *ff = fopen(fp, "w");
    if (ff)
        fclose(ff);
}

static void one(const bf_env *env, const bf_scen *sc, bf_res *r)
{
    memset(r, 0, sizeof *r);
    r->ran = 1;
    r->werr = r->host_err = r->vm_err = NAN;
    snprintf(r->status, sizeof r->status, "not run");
    r->load_start = load1();
    char dir[128], state[128];
    snprintf(dir, sizeof dir, "/tmp/cobf-%s-XXXXXX", sc->name);
    snprintf(state, sizeof state, "/tmp/cobf-st-%s-XXXXXX", sc->name);
    if (!mkdtemp(dir) || !mkdtemp(state)) {
        snprintf(r->note, sizeof r->note, "mkdtemp: %s", strerror(errno));
        return;
    }
    rmdir(dir); /* the lab makes it */
    char wl[300];
    snprintf(wl, sizeof wl, "%s/workloads", state);
    FILE *f = fopen(wl, "w");
    if (!f) {
        snprintf(r->note, sizeof r->note, "%s: %s", wl, strerror(errno));
        return;
    }
    for (int i = 0; sc->workloads[i]; i++)
        fprintf(f, "%s\n", sc->workloads[i]);
    fclose(f);
    char nv[8], mtu[8];
    snprintf(nv, sizeof nv, "%d", sc->nvms);
    snprintf(mtu, sizeof mtu, "%d", sc->mtu);
    char *up[] = {(char *)env->bin, "lab", "cluster", "up", dir, "--hosts", "3", "--vms", nv,
                  "--mem", "64MiB", "--nic", (char *)sc->nic, "--mtu", mtu, "--workloads", wl,
                  NULL};
    char err[1024];
    int to;
    double t0 = now_s();
    int rc = run(up, NULL, err, sizeof err, 420, &to);
    fprintf(stderr, "[%s] lab up: exit %d in %.0f s (load %.1f)\n", sc->name, rc, now_s() - t0,
            load1());
    if (rc != 0) {
        snprintf(r->note, sizeof r->note, "lab up failed (exit %d%s): %s", rc,
                 to ? ", timed out" : "", last_line(err));
        lab_down(env, dir);
        return;
    }
    r->up_ok = 1;
    char cfile[300];
    if (write_cycle_file(dir, state, env, sc, cfile, sizeof cfile) != 0) {
        snprintf(r->note, sizeof r->note, "cannot write the cycle file from %s/cluster.json",
                 dir);
        lab_down(env, dir);
        return;
    }
    /* the history: earlier cycles on the same lab */
    char hist[BF_MAX_HIST][300];
    char *cyc_argv[32];
    for (int k = 0; k < env->nhist && !g_stop; k++) {
        snprintf(hist[k], sizeof hist[k], "%s/history-%d.jsonl", state, k + 1);
        if (sc->fail_validate == 2 && k == 0) /* valhist: h2 fails once, here */
            fail_h2(state, 1);
        /* each cycle learns from the ones before it, as an operator's would
         * (the evacuations' calibration: cycle --history) */
        char *a[8 + 2 * BF_MAX_HIST] = {(char *)env->bin, "cycle", cfile, "--journal", hist[k],
                                        "--json"};
        int na = 6;
        for (int i = 0; i < k; i++) {
            a[na++] = "--history";
            a[na++] = hist[i];
        }
        a[na] = NULL;
        char *out = NULL;
        t0 = now_s();
        rc = run(a, &out, err, sizeof err, env->cycle_timeout_s, &to);
        json_t *j = out ? json_loads(out, 0, NULL) : NULL;
        const char *st = json_string_value(json_object_get(j, "status"));
        snprintf(r->hist_status[k], sizeof r->hist_status[k], "%s",
                 to ? "timed out" : st ? st : "no report");
        r->hist_window_s[k] = json_number_value(json_object_get(j, "window_s"));
        fprintf(stderr, "[%s] history cycle %d: exit %d, %s, window %.1f s, wall %.0f s "
                "(load %.1f)%s%s\n", sc->name, k + 1, rc, r->hist_status[k], r->hist_window_s[k],
                now_s() - t0, load1(), rc ? ": " : "", rc ? last_line(err) : "");
        json_decref(j);
        free(out);
        if (sc->fail_validate == 2 && k == 0) /* once: the next cycles validate */
            fail_h2(state, 0);
        r->nhist++;
        /* a journal that exists is history, whatever its status (a failed
         * cycle's steps still count: simulate --history reads what ended) */
        struct stat sb;
        if (stat(hist[k], &sb) != 0) {
            r->nhist--;
            break;
        }
        r->hist_ok += rc == 0;
    }
    /* the inventory, timed (the scored cycle takes the same one itself) */
    char inv[300];
    snprintf(inv, sizeof inv, "%s/inventory.json", state);
    char *ia[] = {(char *)env->bin, "inventory", cfile, "-o", inv, NULL};
    t0 = now_s();
    rc = run(ia, NULL, err, sizeof err, 300, &to);
    r->inv_s = now_s() - t0;
    r->inv_ok = rc == 0;
    fprintf(stderr, "[%s] inventory: exit %d in %.1f s\n", sc->name, rc, r->inv_s);
    if (sc->fail_validate == 1)
        fail_h2(state, 1);
    /* the scored cycle, forecast first with the history only */
    char jpath[300];
    snprintf(jpath, sizeof jpath, "%s/scored.jsonl", state);
    int n = 0;
    cyc_argv[n++] = (char *)env->bin;
    cyc_argv[n++] = "cycle";
    cyc_argv[n++] = cfile;
    cyc_argv[n++] = "--journal";
    cyc_argv[n++] = jpath;
    cyc_argv[n++] = "--forecast";
    cyc_argv[n++] = "--json";
    for (int k = 0; k < r->nhist; k++) {
        cyc_argv[n++] = "--history";
        cyc_argv[n++] = hist[k];
    }
    cyc_argv[n] = NULL;
    char *out = NULL;
    t0 = now_s();
    rc = run(cyc_argv, &out, err, sizeof err, env->cycle_timeout_s, &to);
    r->cycle_wall_s = now_s() - t0;
    r->exit_code = rc;
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    const char *st = json_string_value(json_object_get(j, "status"));
    snprintf(r->status, sizeof r->status, "%s", to ? "timed out" : st ? st : "no report");
    json_t *cmp = json_object_get(json_object_get(j, "forecast"), "beside_actual");
    if (cmp) {
        r->cmp = json_incref(cmp);
        r->have_cmp = 1;
        json_t *w = json_object_get(cmp, "window_s"), *s = json_object_get(cmp, "summary");
        r->window = json_number_value(json_object_get(w, "actual"));
        r->p10 = json_number_value(json_object_get(w, "p10"));
        r->p50 = json_number_value(json_object_get(w, "p50"));
        r->p90 = json_number_value(json_object_get(w, "p90"));
        json_t *e = json_object_get(w, "error_pct");
        r->werr = json_is_number(e) ? json_number_value(e) : NAN;
        r->inside = json_is_true(json_object_get(w, "inside"));
        e = json_object_get(s, "host_evacuate_median_abs_error_pct");
        r->host_err = json_is_number(e) ? json_number_value(e) : NAN;
        e = json_object_get(s, "vm_stun_median_abs_error_pct");
        r->vm_err = json_is_number(e) ? json_number_value(e) : NAN;
        r->hosts_cmp = (int)json_integer_value(json_object_get(s, "hosts_compared"));
        r->vms_cmp = (int)json_integer_value(json_object_get(s, "vms_compared"));
    }
    if (rc != 0 && !r->note[0])
        snprintf(r->note, sizeof r->note, "scored cycle exit %d%s: %s", rc,
                 to ? " (timed out)" : "", last_line(err));
    fprintf(stderr, "[%s] scored cycle: exit %d, %s, window %.1f s vs p50 %.1f s, wall %.0f s "
            "(load %.1f)\n", sc->name, rc, r->status, r->window, r->p50, r->cycle_wall_s,
            load1());
    if (env->json && j) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:f, s:O?, s:O?}", "scenario", sc->name,
                              "nic", sc->nic, "mtu", sc->mtu, "vms", sc->nvms, "load1",
                              load1(), "report", j, "note",
                              r->note[0] ? json_string(r->note) : NULL);
        json_dumpf(o, env->json, JSON_COMPACT);
        fputc('\n', env->json);
        fflush(env->json);
        json_decref(o);
    }
    json_decref(j);
    r->load_end = load1();
    lab_down(env, dir);
    /* the state directory holds the journals: kept when asked */
    if (!getenv("BENCH_FC_KEEP")) {
        char *rm[] = {"/bin/rm", "-rf", state, NULL};
        run(rm, NULL, NULL, 0, 60, &to);
    } else
        fprintf(stderr, "[%s] journals kept in %s\n", sc->name, state);
}

static const char *why_not(void)
{
    if (geteuid() != 0)
        return "the cluster lab needs root (network, mount and PID namespaces, tc)";
    if (access("/usr/sbin/libvirtd", X_OK) != 0 || access("/usr/sbin/virtlogd", X_OK) != 0)
        return "libvirtd or virtlogd is not installed";
    if (access("/usr/sbin/tc", X_OK) != 0 && access("/sbin/tc", X_OK) != 0)
        return "tc (iproute2) is not installed";
    return NULL;
}

static double med(double *v, int n)
{
    if (n == 0)
        return NAN;
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
            double t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
    if (!getenv("CUTOVER_BENCH_FORECAST")) {
        printf("bench_forecast: skipped (15-40 min on the cluster lab; `make bench-forecast` "
               "runs it)\n");
        return 0;
    }
    const char *no = why_not();
    if (no) {
        fprintf(stderr, "bench_forecast: cannot run: %s\n", no);
        return 77;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
    bf_env env = {.nhist = 2, .cycle_timeout_s = 900};
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char rel[300];
    snprintf(rel, sizeof rel, "%s/cutover", build);
    if (!realpath(rel, env.bin)) {
        fprintf(stderr, "bench_forecast: %s: %s (make first)\n", rel, strerror(errno));
        return 66;
    }
    if (!realpath("tests/cycle/hooks", env.hooks)) {
        fprintf(stderr, "bench_forecast: tests/cycle/hooks: %s (run from the source tree)\n",
                strerror(errno));
        return 66;
    }
    if (!getenv("CUTOVER_LAB_CACHE")) {
        char cwd[256], cache[400];
        if (getcwd(cwd, sizeof cwd)) {
            snprintf(cache, sizeof cache, "%s/%s/tests/libvirt/cache", cwd, build);
            setenv("CUTOVER_LAB_CACHE", cache, 1);
        }
    }
    const char *h = getenv("BENCH_FC_HISTORY");
    if (h && *h && ((env.nhist = atoi(h)) < 1 || env.nhist > BF_MAX_HIST)) {
        fprintf(stderr, "bench_forecast: BENCH_FC_HISTORY '%s': expected 1..%d\n", h,
                BF_MAX_HIST);
        return 64;
    }
    const char *t = getenv("BENCH_FC_CYCLE_TIMEOUT");
    if (t && *t && (env.cycle_timeout_s = atof(t)) < 30) {
        fprintf(stderr, "bench_forecast: BENCH_FC_CYCLE_TIMEOUT '%s': seconds, >= 30\n", t);
        return 64;
    }
    const char *jp = getenv("BENCH_FC_JSON");
    if (jp && *jp && !(env.json = fopen(jp, "a"))) {
        fprintf(stderr, "bench_forecast: %s: %s\n", jp, strerror(errno));
        return 73;
    }
    const char *only = getenv("BENCH_FC_SCENARIOS");
    struct utsname u;
    uname(&u);
    char ver[128] = "?";
    {
        char *va[] = {env.bin, "--version", NULL}, *o = NULL;
        int to;
        if (run(va, &o, NULL, 0, 30, &to) == 0 && o)
            snprintf(ver, sizeof ver, "%s", last_line(o));
        free(o);
    }
    printf("# bench-forecast: %s, %s %s, %ld CPUs, load %.1f at start, %d history cycle(s) "
           "per scenario\n\n", ver, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), load1(),
           env.nhist);
    fflush(stdout);
    static bf_res res[NSCEN];
    for (int i = 0; i < NSCEN && !g_stop; i++)
        if (enabled(only, SCEN[i].name))
            one(&env, &SCEN[i], &res[i]);

    printf("| scenario | VMs | NIC, MTU | load | history | cycle | window s | forecast p10 / "
           "p50 / p90 s | error | inside | host evac median abs err | VM stun median abs err |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    int nsc = 0, within10 = 0, inside = 0;
    double herr[NSCEN], verr[NSCEN];
    int nhe = 0, nve = 0;
    for (int i = 0; i < NSCEN; i++) {
        bf_res *r = &res[i];
        if (!r->ran)
            continue;
        char hs[96] = "";
        for (int k = 0; k < r->nhist; k++)
            snprintf(hs + strlen(hs), sizeof hs - strlen(hs), "%s%s %.0f s", k ? ", " : "",
                     r->hist_status[k], r->hist_window_s[k]);
        if (!r->have_cmp) {
            printf("| %s | %d | %s, %d | %.1f | %s | %s | - | - | - | - | - | - |\n",
                   SCEN[i].name, SCEN[i].nvms, SCEN[i].nic, SCEN[i].mtu, r->load_start,
                   r->nhist ? hs : "-", r->up_ok ? r->status : "lab up failed");
            continue;
        }
        nsc++;
        within10 += fabs(r->werr) <= 10;
        inside += r->inside;
        if (isfinite(r->host_err))
            herr[nhe++] = r->host_err;
        if (isfinite(r->vm_err))
            verr[nve++] = r->vm_err;
        printf("| %s | %d | %s, %d | %.1f-%.1f | %s | %s | %.1f | %.1f / %.1f / %.1f | %+.0f%% "
               "| %s | %.0f%% (%d hosts) | %.0f%% (%d VMs) |\n",
               SCEN[i].name, SCEN[i].nvms, SCEN[i].nic, SCEN[i].mtu, r->load_start, r->load_end,
               hs, r->status, r->window, r->p10, r->p50, r->p90, r->werr,
               r->inside ? "yes" : "no", r->host_err, r->hosts_cmp, r->vm_err, r->vms_cmp);
    }
    for (int i = 0; i < NSCEN; i++)
        if (res[i].ran && res[i].note[0])
            printf("\n- %s: %s", SCEN[i].name, res[i].note);
    /* field by field, per scenario */
    for (int i = 0; i < NSCEN; i++) {
        if (!res[i].have_cmp)
            continue;
        printf("\n\n%s, field by field (forecast p10 / p50 / p90 vs actual):\n\n", SCEN[i].name);
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(res[i].cmp, "hosts"), k, x) {
            json_t *f = json_object_get(x, "evacuate_s");
            char a[32] = "      -";
            if (json_is_number(json_object_get(f, "actual")))
                snprintf(a, sizeof a, "%7.1f", json_number_value(json_object_get(f, "actual")));
            printf("    evacuate %-6s %7.1f %7.1f %7.1f  actual %s s\n",
                   json_string_value(json_object_get(x, "name")),
                   json_number_value(json_object_get(f, "p10")),
                   json_number_value(json_object_get(f, "p50")),
                   json_number_value(json_object_get(f, "p90")), a);
        }
        json_array_foreach(json_object_get(res[i].cmp, "vms"), k, x) {
            json_t *f = json_object_get(x, "stun_ms");
            char a[32] = "      -";
            if (json_is_number(json_object_get(f, "actual")))
                snprintf(a, sizeof a, "%7.0f", json_number_value(json_object_get(f, "actual")));
            printf("    stun     %-6s %7.0f %7.0f %7.0f  actual %s ms\n",
                   json_string_value(json_object_get(x, "name")),
                   json_number_value(json_object_get(f, "p10")),
                   json_number_value(json_object_get(f, "p50")),
                   json_number_value(json_object_get(f, "p90")), a);
        }
        json_decref(res[i].cmp);
    }
    double mh = med(herr, nhe), mv = med(verr, nve);
    printf("\n\nTargets (issue 14), over %d scored scenario(s):\n", nsc);
    printf("- window within 10%% of p50 in >= 80%% of scenarios: %d of %d -> %s\n", within10,
           nsc, nsc && within10 >= 0.8 * nsc ? "met" : "NOT met");
    printf("- window inside p10-p90 in >= 80%% of scenarios: %d of %d -> %s\n", inside, nsc,
           nsc && inside >= 0.8 * nsc ? "met" : "NOT met");
    printf("- host evacuation median abs error <= 15%%: %.0f%% (median over scenarios) -> %s\n",
           mh, isfinite(mh) && mh <= 15 ? "met" : "NOT met");
    printf("- VM stun median abs error <= 25%%: %.0f%% (median over scenarios) -> %s\n", mv,
           isfinite(mv) && mv <= 25 ? "met" : "NOT met");
    printf("load at the end: %.1f\n", load1());
    if (env.json)
        fclose(env.json);
    return 0;
}
