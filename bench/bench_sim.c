/* bench/bench_sim.c: speed and memory of the patch-cycle simulator.
 *
 * Prints, against the targets of issue 6:
 *  - events per second of the event queue alone and of the whole simulator
 *    on one core (target >= 10 M/s);
 *  - one run of a 10,000-host, 200,000-VM cycle (target < 1 s);
 *  - 1,000 runs of a 1,000-host cluster on 2 threads (target < 60 s), with
 *    the 1-thread time in the same process for the speed-up ratio;
 *  - memory per VM;
 *  - how the cost of a run grows with hosts, with VMs per host, and runs;
 *  - issue 15, first: the evacuations of bench/simgrid/gen.py in cutover and
 *    in SimGrid (bench/simgrid/sg_evac, when built), each a child process
 *    whose CPU time and peak RSS are taken from wait4.
 * Clusters are generated here (no input files). BENCH_QUICK=1 shrinks the
 * 1,000-run case to 100 runs; BENCH_SIM_ONLY_SIDE=1 runs only the side by
 * side; BENCH_SIM_10K=1 adds the 10,000-host backbone fleet (about a second of CPU for
 * cutover, plus writing its 200,000-VM file). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "sim/evq.h"
#include "sim/sim.h"
#include "util/error.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: single-core figures are read from it, so other
 * work on a shared machine does not inflate them. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A fleet: hosts of 64 cores / 512 GiB, 25 Gbit NICs, racks of 20 behind a
 * 100 Gbit uplink, 20 failure domains; VMs of 8 profiles round-robin. */
static co_sim_cluster *fleet(int nhosts, int vms_per_host, int in_maint)
{
    co_sim_cluster *c = calloc(1, sizeof *c);
    co_sim_plan_defaults(&c->plan);
    c->nhosts = nhosts;
    c->hosts = calloc((size_t)nhosts, sizeof *c->hosts);
    int nracks = (nhosts + 19) / 20;
    c->nuplinks = nracks;
    c->uplinks = calloc((size_t)nracks, sizeof *c->uplinks);
    for (int u = 0; u < nracks; u++)
        c->uplinks[u].rate_bytes_per_s = 100e9 / 8;
    c->ndomains = 20;
    c->domains = calloc(20, sizeof(char *)); /* unnamed */
    for (int h = 0; h < nhosts; h++) {
        co_sim_host *x = &c->hosts[h];
        /* room for the VMs with a third free: 26 GiB per VM slot */
        x->mem_bytes = 26.0 * (vms_per_host > 0 ? vms_per_host : 1) * (1 << 30);
        x->cores = 64 * (vms_per_host > 20 ? vms_per_host / 20 : 1);
        x->nic_bytes_per_s = 25e9 / 8;
        x->mtu = 9000;
        x->channels = 4;
        x->rack = h / 20;
        x->uplink = h / 20;
        x->domain = (h / 20) % 20;
    }
    c->nprofiles = 8;
    c->profiles = calloc(8, sizeof *c->profiles);
    for (int p = 0; p < 8; p++) {
        co_sim_profile *pf = &c->profiles[p];
        pf->mem_bytes = (double)(4 + 4 * p) * (1 << 30);
        pf->zero_fraction = 0.5;
        co_dirty_uniform(&pf->dirty, pf->mem_bytes / 4096 / 4, 500.0 * (p + 1));
    }
    c->nvms = nhosts * vms_per_host;
    c->vms = calloc((size_t)c->nvms + 1, sizeof *c->vms);
    for (int v = 0; v < c->nvms; v++) {
        co_sim_vm *x = &c->vms[v];
        x->host = v % nhosts;
        x->profile = (v / nhosts) % 8;
        x->mem_bytes = c->profiles[x->profile].mem_bytes;
        x->vcpus = 2 + (v / nhosts) % 4 * 2;
        x->group = -1;
        x->passthrough = v % 997 == 0;
    }
    co_sim_plan *p = &c->plan;
    p->nhosts = nhosts;
    p->hosts = calloc((size_t)nhosts, sizeof(int));
    p->canary = calloc((size_t)nhosts, sizeof(int));
    for (int h = 0; h < nhosts; h++)
        p->hosts[h] = h;
    p->canary[0] = 1;
    p->canary_soak_us = 30 * 60 * CO_SIM_US_PER_S;
    p->max_in_maint = in_maint;
    co_sim_plan_preset(p, "vsphere");
    p->mig.auto_converge = 1;
    p->step[CO_STEP_REBOOT] = (co_sim_dist){CO_DIST_NORMAL, 480e3, 60e3, 0, NULL};
    p->step[CO_STEP_APPLY] = (co_sim_dist){CO_DIST_LOGNORMAL, 360e3, 0.4, 0, NULL};
    p->p_patch_fail = 0.01;
    p->p_no_return = 0.005;
    p->step[CO_STEP_REPAIR] = (co_sim_dist){CO_DIST_WEIBULL, 4 * 3600e3, 1.5, 0, NULL};
    p->p_mig_abort = 0.005;
    co_diag d;
    co_diag_init(&d);
    if (co_sim_cluster_finish(c, &d) != CO_OK) {
        fprintf(stderr, "bench_sim: %s\n", d.msg);
        exit(1);
    }
    return c;
}

/* Classic "hold" benchmark of a pending-event set: keep Q events, pop the
 * earliest and schedule its key again a random step later. */
static double evq_rate(int Q, long ops)
{
    co_sim_evq q;
    co_sim_evq_init(&q, (size_t)Q);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < Q; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        co_sim_evq_schedule(&q, (int64_t)(x % 1000000), 0, (uint32_t)i);
    }
    co_sim_event e;
    double t0 = cpu_s();
    for (long i = 0; i < ops; i++) {
        co_sim_evq_pop(&q, &e);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        co_sim_evq_schedule(&q, e.t_us + (int64_t)(x % 1000000), 0, e.key);
    }
    double dt = cpu_s() - t0;
    co_sim_evq_free(&q);
    return ops / dt;
}

struct one {
    double wall, secs, events, window_h, migrations;
    size_t run_bytes;
    long preds, hits;
};

static struct one run_once(const co_sim_cluster *c, uint64_t seed)
{
    struct one o = {0};
    co_sim_run *r = co_sim_run_new(c);
    co_sim_run_result res;
    double t0 = cpu_s(), w0 = now_s();
    if (co_sim_run_once(r, seed, 0, &res) != CO_OK) {
        fprintf(stderr, "bench_sim: run failed\n");
        exit(1);
    }
    o.secs = cpu_s() - t0;
    o.wall = now_s() - w0;
    o.events = (double)res.events;
    o.window_h = res.window_ms / 3.6e6;
    o.migrations = (double)res.migrations;
    o.run_bytes = co_sim_run_bytes(r);
    co_sim_run_cache_stats(r, &o.preds, &o.hits);
    co_sim_run_free(r);
    return o;
}

/* Where the whole simulator's time goes: a second run of the same cycle with
 * per-event timing on (CLOCK_MONOTONIC around each event, so the figures
 * include that clock's own cost and the machine's noise). */
static void breakdown(const co_sim_cluster *c, double ev_rate, double q_rate)
{
    co_sim_run *r = co_sim_run_new(c);
    co_sim_run_set_profile(r, 1);
    co_sim_run_result res;
    if (co_sim_run_once(r, 1, 0, &res) != CO_OK) {
        fprintf(stderr, "bench_sim: run failed\n");
        exit(1);
    }
    co_sim_prof p;
    co_sim_run_profile(r, &p);
    co_sim_run_free(r);
    static const char *const kind[3] = {"host step ends", "migration ends", "canary soak ends"};
    double tot = p.ns[0] + p.ns[1] + p.ns[2];
    printf("whole simulator vs event queue alone, 1 core: %.2f M vs %.1f M events/s (ratio %.3f)\n",
           ev_rate / 1e6, q_rate / 1e6, ev_rate / q_rate);
    printf("breakdown of that run (profiled run, %.3f s in events):\n", tot / 1e9);
    for (int k = 0; k < 3; k++)
        if (p.events[k])
            printf("  %-17s %8ld events  %6.2f us/event  %5.1f %% of the time\n", kind[k],
                   p.events[k], p.ns[k] / p.events[k] / 1e3, 100 * p.ns[k] / tot);
    printf("  inside them: %ld migration starts; %ld events swapped one migration for an "
           "equivalent one (no solve); %ld max-min solves of %.1f migrations and %.1f "
           "links on average, %.2f us each (%.1f %%); %ld re-timings (%.2f per event); %ld model "
           "calls (cache misses), %.2f us each (%.1f %%)\n",
           p.starts, p.swaps, p.reshares, p.reshares ? (double)p.reshare_flows / p.reshares : 0,
           p.reshares ? (double)p.reshare_links / p.reshares : 0,
           p.reshares ? p.reshare_ns / p.reshares / 1e3 : 0, 100 * p.reshare_ns / tot, p.retimes,
           (double)p.retimes / (p.events[0] + p.events[1] + p.events[2]), p.model_calls,
           p.model_calls ? p.model_ns / p.model_calls / 1e3 : 0, 100 * p.model_ns / tot);
}

static double proc_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double last_mc_cpu; /* CPU seconds of the last mc_time() call, all threads */

static double mc_time(const co_sim_cluster *c, int runs, int threads, co_sim_summary *keep)
{
    co_sim_mc_opts o = {.runs = runs, .seed = 1, .threads = threads};
    co_sim_summary s;
    co_diag d;
    co_diag_init(&d);
    double t0 = now_s(), c0 = proc_cpu_s();
    if (co_sim_mc(c, &o, &s, &d) != CO_OK) {
        fprintf(stderr, "bench_sim: %s\n", d.msg);
        exit(1);
    }
    double dt = now_s() - t0;
    last_mc_cpu = proc_cpu_s() - c0;
    if (keep)
        *keep = s;
    else
        co_sim_summary_free(&s);
    return dt;
}

static const char *verdict(int ok)
{
    return ok ? "meets target" : "MISSES target";
}

/* ------------------------------------------- issue 15: SimGrid side by side */

struct child {
    int ok;                   /* exited 0 */
    double wall_s, cpu_s;     /* wall clock; user + system CPU of the child */
    long rss_kb;              /* its peak resident set (ru_maxrss) */
};

/* Run argv with stdout to out_path (stderr to err_path), wait for it and
 * take its own rusage (wait4), so each figure is that process's alone. */
static struct child run_child(char *const argv[], const char *out_path, const char *err_path)
{
    struct child c = {0};
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        return c;
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || fe < 0)
            _exit(73);
        dup2(fd, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        return c;
    c.wall_s = now_s() - t0;
    c.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
              ru.ru_stime.tv_usec * 1e-6;
    c.rss_kb = ru.ru_maxrss;
    c.ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    return c;
}

/* cutover's window (max over its one run, s) from its --json output. */
static double cutover_window_s(const char *path)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    double w = json_real_value(json_object_get(json_object_get(j, "window"), "max_s"));
    json_decref(j);
    return w;
}

static double sg_makespan_s(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    double m = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "makespan_s %lf", &m) == 1)
            break;
    if (f)
        fclose(f);
    return m;
}

/* Does run 0 of cutover move each VM where migrations.txt says SimGrid
 * moves it? (gen.py writes cutover's placement; a mismatch would make the
 * comparison unfair.) Returns the VMs that differ, or -1 on a read error. */
static long placement_mismatches(const char *timeline, const char *migs)
{
    FILE *t = fopen(timeline, "r"), *m = fopen(migs, "r");
    long bad = -1;
    if (t && m) {
        size_t cap = 1 << 16, n = 0;
        char (*want)[3][64] = malloc(cap * sizeof *want);
        char a[64], b[64], c[64], line[512];
        long bytes;
        while (want && n < cap && fscanf(m, "%63s %63s %63s %ld", a, b, c, &bytes) == 4) {
            snprintf(want[n][0], 64, "%s", a);
            snprintf(want[n][1], 64, "%s", b);
            snprintf(want[n][2], 64, "%s", c);
            n++;
        }
        bad = 0;
        size_t seen = 0;
        while (want && fgets(line, sizeof line, t)) {
            char kind[32], host[32], what[32], vm[32];
            if (sscanf(line, "%31[^,],%31[^,],%31[^,],%31[^,],", kind, host, what, vm) != 4 ||
                strcmp(kind, "migration") != 0)
                continue;
            seen++;
            int found = 0;
            for (size_t i = 0; i < n && !found; i++)
                found = !strcmp(want[i][0], vm) && !strcmp(want[i][1], host) &&
                        !strcmp(want[i][2], what);
            bad += !found;
        }
        bad += seen != n;
        free(want);
    }
    if (t)
        fclose(t);
    if (m)
        fclose(m);
    return bad;
}

struct side {
    struct child cut, sg;
    double cut_window_s, sg_makespan_s;
};

/* Generate scenario KIND with H hosts in dir and run both simulators. */
static struct side side_by_side(const char *build, const char *dir, const char *kind, int H,
                                int with_sg, int check_placement)
{
    struct side s = {0};
    char hs[16], cl[512], plat[512], migs[512], out[512], err[512], tl[512], cut[512], sg[512];
    snprintf(hs, sizeof hs, "%d", H);
    snprintf(cl, sizeof cl, "%s/cluster.json", dir);
    snprintf(plat, sizeof plat, "%s/platform.xml", dir);
    snprintf(migs, sizeof migs, "%s/migrations.txt", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    snprintf(tl, sizeof tl, "%s/timeline.csv", dir);
    snprintf(cut, sizeof cut, "%s/cutover", build);
    snprintf(sg, sizeof sg, "%s/bench/sg_evac", build);
    char *gen[] = {"/usr/bin/env", "python3", "bench/simgrid/gen.py", (char *)kind, hs, (char *)dir, NULL};
    struct child g = run_child(gen, out, err);
    if (!g.ok) {
        fprintf(stderr, "bench_sim: bench/simgrid/gen.py %s %d failed (see %s)\n", kind, H, err);
        exit(1);
    }
    char *c1[] = {cut, "simulate", cl, "--runs", "1", "--threads", "1", "--json", NULL};
    s.cut = run_child(c1, out, err);
    s.cut_window_s = s.cut.ok ? cutover_window_s(out) : -1;
    if (check_placement) {
        char *c2[] = {cut, "simulate", cl, "--runs", "1", "--threads", "1", "--timeline", tl, NULL};
        if (run_child(c2, out, err).ok) {
            long bad = placement_mismatches(tl, migs);
            if (bad != 0)
                printf("  WARNING: %ld migrations of cutover's run 0 differ from SimGrid's list\n", bad);
        }
    }
    if (with_sg) {
        char *c3[] = {sg, plat, migs, "--cfg=network/model:CM02", "--cfg=network/crosstraffic:0",
                      "--log=root.thres:warning", NULL};
        s.sg = run_child(c3, out, err);
        s.sg_makespan_s = s.sg.ok ? sg_makespan_s(out) : -1;
    }
    return s;
}

static void side_by_side_all(void)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char sg[512];
    snprintf(sg, sizeof sg, "%s/bench/sg_evac", build);
    int with_sg = access(sg, X_OK) == 0;
    printf("\nissue 15: the same evacuations in cutover and SimGrid 3.32 (bench/simgrid/gen.py: "
           "H hosts x 20 VMs, 25 Gbit/s NICs, the first half emptied at once, no concurrency "
           "limit; backbone = H/2 x 25 Gbit/s / 4 crossed by every migration; VMs write no "
           "memory so both move each VM's memory once)\n");
    if (!with_sg)
        printf("SimGrid: %s not built (libsimgrid-dev absent: pkg-config simgrid fails); "
               "cutover's figures only\n", sg);
    else
        printf("SimGrid: %s, s4u + live-migration plugin (sg_vm_migrate), network/model CM02 "
               "(plain max-min, no TCP factors), crosstraffic 0\n", sg);
    printf("  %-9s %6s %6s | %8s %8s %8s %10s | %8s %8s %8s %10s | %7s %7s %9s\n", "scenario", "hosts",
           "VMs", "cut wall", "cut CPU", "cut RSS", "cut span", "sg wall", "sg CPU", "sg RSS",
           "sg span", "CPU x", "RSS /", "span dev");
    static const char *const kinds[] = {"nic", "backbone", "mixed"};
    for (int k = 0; k < 3; k++)
        for (int H = 100; H <= 1000; H *= 10) {
            char tmpl[] = "/tmp/cutover-bench-sim-XXXXXX";
            char *dir = mkdtemp(tmpl);
            if (dir == NULL) {
                perror("bench_sim: mkdtemp");
                exit(1);
            }
            struct side s = side_by_side(build, dir, kinds[k], H, with_sg, H == 100);
            printf("  %-9s %6d %6d | %7.2fs %7.2fs %6.0fMB %9.2fs |", kinds[k], H, H * 20,
                   s.cut.wall_s, s.cut.cpu_s, s.cut.rss_kb / 1024.0, s.cut_window_s);
            if (with_sg)
                printf(" %7.2fs %7.2fs %6.0fMB %9.2fs | %6.1fx %6.1fx %+8.2f%%\n", s.sg.wall_s,
                       s.sg.cpu_s, s.sg.rss_kb / 1024.0, s.sg_makespan_s, s.sg.cpu_s / s.cut.cpu_s,
                       (double)s.sg.rss_kb / s.cut.rss_kb,
                       100 * (s.cut_window_s / s.sg_makespan_s - 1));
            else
                printf(" %8s %8s %8s %10s |\n", "-", "-", "-", "-");
            char *rm[] = {"/bin/rm", "-rf", dir, NULL};
            run_child(rm, "/dev/null", "/dev/null");
        }
    printf("  (CPU x: SimGrid's CPU time over cutover's, target >= 10; RSS /: SimGrid's peak RSS "
           "over cutover's, target >= 10; span dev: cutover's makespan against SimGrid's)\n");
    printf("  where the models differ: cutover times each migration with its model (QEMU's "
           "pre-copy passes, page and TCP/IP framing at MTU 1500: about 6 %% more bytes on the "
           "wire than the memory), SimGrid's plugin sends the RAM as one payload at the max-min "
           "share; neither re-sends pages here (no dirtying). cutover's figures include reading "
           "the JSON cluster, SimGrid's the XML platform.\n");
    /* the 10,000-host fleet behind one backbone: cutover only, and only
     * with BENCH_SIM_10K=1 (see docs/simulate.md, "Fleet scale") */
    if (getenv("BENCH_SIM_10K") == NULL) {
        printf("backbone, 10,000 hosts / 200,000 VMs: skipped (BENCH_SIM_10K=1 runs it)\n");
        return;
    }
    char tmpl[] = "/tmp/cutover-bench-sim-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (dir != NULL) {
        struct side s = side_by_side(build, dir, "backbone", 10000, 0, 0);
        printf("backbone, 10,000 hosts / 200,000 VMs, one run, cutover: %.2f s wall, %.2f s CPU "
               "(target < 5 s: %s), %.0f MB, makespan %.1f s\n", s.cut.wall_s, s.cut.cpu_s,
               verdict(s.cut.cpu_s < 5), s.cut.rss_kb / 1024.0, s.cut_window_s);
        char *rm[] = {"/bin/rm", "-rf", dir, NULL};
        run_child(rm, "/dev/null", "/dev/null");
    }
}

/* Full path of prog in PATH into out, or 0. */
static int in_path(const char *prog, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *save, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/%s", dir, prog);
        if (access(out, X_OK) == 0)
            return 1;
    }
    return 0;
}

/* Sum of the "N runs in T s" and the largest T over the ranks' lines that
 * cutover-mpi prints with CUTOVER_MPI_STATS set; the accumulator size. */
static void mpi_stats(const char *err_path, double *t_max, long *bytes)
{
    *t_max = 0;
    *bytes = 0;
    FILE *f = fopen(err_path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        int rank, size;
        long n;
        double t;
        long long b;
        if (sscanf(line, "cutover-mpi: rank %d of %d: %ld runs in %lf s, accumulator %lld bytes",
                   &rank, &size, &n, &t, &b) == 5) {
            if (t > *t_max)
                *t_max = t;
            *bytes = (long)b;
        }
    }
    if (f)
        fclose(f);
}

static int same_file(const char *a, const char *b)
{
    FILE *x = fopen(a, "r"), *y = fopen(b, "r");
    int same = x && y;
    while (same) {
        int cx = fgetc(x), cy = fgetc(y);
        if (cx != cy)
            same = 0;
        if (cx == EOF || cy == EOF)
            break;
    }
    if (x)
        fclose(x);
    if (y)
        fclose(y);
    return same;
}

/* issue 15 part 3: cutover-mpi on 1 and 2 ranks, against cutover. */
static void mpi_speedup(void)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    const char *ex = "traces/example-cluster.json";
    char mpi[512], cut[512], mpirun[4200];
    snprintf(mpi, sizeof mpi, "%s/cutover-mpi", build);
    snprintf(cut, sizeof cut, "%s/cutover", build);
    printf("\nissue 15: Monte Carlo over MPI (%s under mpirun; %s, 4,000 runs, 1 thread per rank)\n",
           mpi, ex);
    if (access(mpi, X_OK) != 0 || !in_path("mpirun", mpirun, sizeof mpirun)) {
        printf("  skipped: %s\n", access(mpi, X_OK) != 0
                                      ? "cutover-mpi not built (mpicc absent: libopenmpi-dev)"
                                      : "mpirun not in PATH (openmpi-bin)");
        return;
    }
    setenv("CUTOVER_MPI_STATS", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    const char *ref = "/tmp/cutover-bench-mpi-ref.json", *err = "/tmp/cutover-bench-mpi.err";
    char *cargv[] = {cut, "simulate", (char *)ex, "--runs", "4000", "--threads", "1", "--json",
                     NULL};
    struct child c0 = run_child(cargv, ref, err);
    printf("  cutover simulate (one process): %.2f s wall, %.2f s CPU, %.0f MB\n", c0.wall_s,
           c0.cpu_s, c0.rss_kb / 1024.0);
    double wall[3] = {0}, runs_t[3] = {0};
    long bytes = 0;
    for (int np = 1; np <= 2; np++) {
        char npb[8], out[128];
        snprintf(npb, sizeof npb, "%d", np);
        snprintf(out, sizeof out, "/tmp/cutover-bench-mpi-%d.json", np);
        char *argv[] = {mpirun, "--oversubscribe", "-np", npb, mpi, "simulate", (char *)ex,
                        "--runs", "4000", "--threads", "1", "--json", NULL};
        struct child c = run_child(argv, out, err);
        mpi_stats(err, &runs_t[np], &bytes);
        wall[np] = c.wall_s;
        printf("  mpirun -np %d: %s, %.2f s wall (mpirun and MPI start-up included), slowest "
               "rank's runs %.2f s; same bytes as cutover: %s\n", np, c.ok ? "ok" : "FAILED",
               c.wall_s, runs_t[np], c.ok && same_file(out, ref) ? "yes" : "NO");
        unlink(out);
    }
    printf("  speed-up 1 -> 2 ranks: %.2fx wall, %.2fx in the runs (2 cores shared with other "
           "work; 2x is the ceiling)\n", wall[1] / wall[2], runs_t[1] / runs_t[2]);
    printf("  sent per rank: one accumulator of %ld bytes (%.1f KiB: 3 histograms of %d buckets, "
           "%d per-VM counters, counters and sums), once, in MPI_Reduce; independent of the "
           "runs\n", bytes, bytes / 1024.0, CO_SIM_HIST_BINS,
           (int)((bytes - (long)co_sim_acc_bytes(0)) / 8));
    unlink(ref);
    unlink(err);
    unsetenv("CUTOVER_MPI_STATS");
}

int main(void)
{
    int quick = getenv("BENCH_QUICK") != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench_sim: patch-cycle simulator (issue 6 and 15 targets)\n\n");
    /* first, while this process is small: a child's ru_maxrss counts the
     * pages it shared with its parent between fork and exec */
    if (getenv("BENCH_SIM_ONLY_MPI") == NULL)
        side_by_side_all();
    mpi_speedup();
    if (getenv("BENCH_SIM_ONLY_SIDE") || getenv("BENCH_SIM_ONLY_MPI"))
        return 0;
    printf("\n");

    /* 1. event rate */
    double q1 = evq_rate(1000, 20000000);
    double q2 = evq_rate(100000, 10000000);
    printf("event queue alone, 1 core: %.1f M events/s (1,000 pending), %.1f M events/s "
           "(100,000 pending)\n", q1 / 1e6, q2 / 1e6);

    /* the event loop without migrations: 100,000 empty hosts, steps only */
    co_sim_cluster *bare = fleet(100000, 0, 1000);
    struct one e = run_once(bare, 1);
    printf("event loop with host steps only (100,000 hosts, no VMs), 1 core: %.2f M events/s "
           "(%s, ratio %.2f)\n", e.events / e.secs / 1e6, verdict(e.events / e.secs >= 10e6),
           e.events / e.secs / 10e6);
    co_sim_cluster_free(bare);

    /* 2. the big cycle */
    co_sim_cluster *big = fleet(10000, 20, 50);
    struct one b = run_once(big, 1);
    double ev_rate = b.events / b.secs;
    printf("10,000 hosts, 200,000 VMs, one run: %.3f s CPU, %.3f s wall (target < 1 s: %s, "
           "ratio %.2f); %.0f events, %.0f live migrations, window %.1f h simulated\n",
           b.secs, b.wall, verdict(b.secs < 1.0), b.secs / 1.0, b.events, b.migrations, b.window_h);
    printf("whole simulator, 1 core: %.2f M events/s (target >= 10 M/s: %s, ratio %.2f); "
           "model predictions %ld, %.1f %% from the cache\n",
           ev_rate / 1e6, verdict(ev_rate >= 10e6), ev_rate / 10e6, b.preds,
           b.preds ? 100.0 * b.hits / b.preds : 0);
    printf("event queue alone vs 10 M/s: ratio %.2f (%s); inside that run the queue did %.2f M "
           "operations/s (events taken plus migrations re-timed)\n",
           q1 / 10e6, verdict(q1 >= 10e6), (b.events + b.preds) / b.secs / 1e6);
    size_t static_per_vm = sizeof(co_sim_vm);
    printf("memory per VM: %.0f B of run state per thread (%zu B per run for 200,000 VMs incl. "
           "hosts, cache, queue) + %zu B of cluster description + %zu B for its own profile when "
           "read from JSON (the bench shares 8 profiles) + its name\n",
           (double)b.run_bytes / big->nvms, b.run_bytes, static_per_vm, sizeof(co_sim_profile));
    breakdown(big, ev_rate, q1);
    /* the same cycle exactly (every share change re-times), and with the
     * old duration-only rebalance (fewer migrations) for comparison */
    big->plan.share_tolerance = 0;
    struct one bx = run_once(big, 1);
    printf("same run with share_tolerance 0 (every change re-timed): %.3f s CPU, %.2f M events/s, "
           "%ld re-timings\n", bx.secs, bx.events / bx.secs / 1e6, bx.preds);
    big->plan.share_tolerance = 0.02;
    big->plan.rebalance = CO_REBAL_DURATION;
    struct one bd = run_once(big, 1);
    printf("same run with rebalance \"duration\" (no VM moves back): %.3f s CPU, %.0f events, "
           "%.0f live migrations, %.2f M events/s\n", bd.secs, bd.events, bd.migrations,
           bd.events / bd.secs / 1e6);
    big->plan.rebalance = CO_REBAL_RETURN;
    co_sim_cluster_free(big);

    /* 3. 1,000 runs of a 1,000-host cluster */
    int runs = quick ? 100 : 1000;
    co_sim_cluster *mid = fleet(1000, 20, 10);
    /* the same runs on one thread, measured (not extrapolated) */
    co_sim_summary s, s1;
    double t1 = mc_time(mid, runs, 1, &s1), c1 = last_mc_cpu;
    double t2 = mc_time(mid, runs, 2, &s);
    printf("%d runs of 1,000 hosts / 20,000 VMs on 2 threads: %.2f s wall, %.2f s CPU (target "
           "< 60 s for 1,000: %s, ratio %.2f); the same %d runs on 1 thread: %.2f s wall, %.2f s "
           "CPU; speed-up %.2fx (same summary: %s); window p50 %.1f h p99 %.1f h\n",
           runs, t2, last_mc_cpu, verdict(t2 * 1000 / runs < 60), t2 * 1000 / runs / 60, runs,
           t1, c1, t1 / t2,
           s.window.mean == s1.window.mean && memcmp(s.hist, s1.hist, sizeof s.hist) == 0 &&
                   memcmp(s.stun_hist, s1.stun_hist, sizeof s.stun_hist) == 0
               ? "yes"
               : "NO",
           s.window.p50 / 3.6e6, s.window.p99 / 3.6e6);
    co_sim_summary_free(&s);
    co_sim_summary_free(&s1);
    co_sim_cluster_free(mid);

    /* 4. growth */
    printf("\ngrowth of one run (20 VMs per host, 10 hosts in maintenance):\n");
    double base = 0;
    for (int h = 1000; h <= 16000; h *= 2) {
        co_sim_cluster *c = fleet(h, 20, 10);
        struct one o = run_once(c, 1);
        if (h == 1000)
            base = o.secs;
        printf("  hosts %6d  VMs %7d  %.4f s CPU  %.0f events  x%.2f vs 1,000 hosts (hosts x%d)\n", h,
               c->nvms, o.secs, o.events, o.secs / base, h / 1000);
        co_sim_cluster_free(c);
    }
    printf("growth with VMs per host (1,000 hosts):\n");
    for (int vph = 10; vph <= 80; vph *= 2) {
        co_sim_cluster *c = fleet(1000, vph, 10);
        struct one o = run_once(c, 1);
        if (vph == 10)
            base = o.secs;
        printf("  VMs/host %3d  VMs %6d  %.4f s CPU  %.0f events  x%.2f vs 10 per host\n", vph, c->nvms,
               o.secs, o.events, o.secs / base);
        co_sim_cluster_free(c);
    }
    printf("growth with runs (1,000 hosts, 2 threads):\n");
    co_sim_cluster *c = fleet(1000, 20, 10);
    for (int n = 10; n <= (quick ? 40 : 160); n *= 4) {
        double t = mc_time(c, n, 2, NULL);
        if (n == 10)
            base = t;
        printf("  runs %4d  %.3f s  x%.2f vs 10 runs\n", n, t, t / base);
    }
    co_sim_cluster_free(c);
    return 0;
}
