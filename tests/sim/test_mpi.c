/* tests/sim/test_mpi.c: the Monte Carlo split across processes.
 *
 * In process: accumulators merge exactly whatever the split of the runs and
 * the order of the merges, and histogram quantiles stay within the stated
 * 0.5 % of the exact nearest-rank quantiles. End to end: build/cutover-mpi
 * under `mpirun --oversubscribe -np 1, 2, 4` prints the same bytes (JSON and
 * text) as build/cutover simulate; a rank that dies fails the job with a
 * message naming it; bad flags give cutover's message and exit code. The
 * end-to-end tests skip (with the reason) when mpirun or cutover-mpi is
 * absent (cutover-mpi is built only when mpicc exists). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

#define EX "traces/example-cluster.json"

/* ---- in process ---- */

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(mpi, histogram_quantiles_within_half_a_percent)
{
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 42);
    enum { N = 20000 };
    static double v[N];
    co_sim_hist h;
    co_sim_hist_init(&h);
    for (int i = 0; i < N; i++) {
        v[i] = gsl_ran_lognormal(g, log(300), 1.5); /* ms: 1 ms .. minutes */
        co_sim_hist_add(&h, v[i]);
    }
    qsort(v, N, sizeof v[0], cmp_dbl);
    const double qs[] = {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        int r = (int)ceil(qs[k] * N) - 1;
        double exact = v[r], got = co_sim_hist_q(&h, qs[k]);
        cr_assert_leq(fabs(got / exact - 1), 0.005, "q %g: %g vs exact %g", qs[k], got, exact);
    }
    cr_assert_eq(co_sim_hist_q(&h, 1), v[N - 1]); /* max exact */
    cr_assert_eq(h.min, v[0]);
    gsl_rng_free(g);
}

/* Split 60 runs of the example cluster into parts, merge in two orders:
 * the same bytes as all runs at once. */
Test(mpi, accumulators_merge_exactly_whatever_the_split)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file(EX, &c, &d), 0, "%s", d.msg);
    size_t bytes = co_sim_acc_bytes(c->nvms);
    co_sim_acc *all = co_sim_acc_new(c->nvms);
    co_sim_mc_opts o = {.runs = 60, .seed = 4, .threads = 1};
    cr_assert_eq(co_sim_mc_acc(c, &o, all, &d), 0, "%s", d.msg);
    cr_assert_eq(all->runs, 60);
    const int parts = 3;
    co_sim_acc *p[3];
    for (int k = 0; k < parts; k++) {
        p[k] = co_sim_acc_new(c->nvms);
        co_sim_mc_opts ok = o;
        ok.first = k;
        ok.stride = parts;
        ok.threads = 1 + k % 2;
        cr_assert_eq(co_sim_mc_acc(c, &ok, p[k], &d), 0, "%s", d.msg);
    }
    co_sim_acc *fwd = co_sim_acc_new(c->nvms), *back = co_sim_acc_new(c->nvms);
    for (int k = 0; k < parts; k++) {
        cr_assert_eq(co_sim_acc_merge(fwd, p[k]), 0);
        cr_assert_eq(co_sim_acc_merge(back, p[parts - 1 - k]), 0);
    }
    cr_assert_eq(memcmp(fwd, all, bytes), 0, "split 3 ways != all at once");
    cr_assert_eq(memcmp(back, all, bytes), 0, "merge order changed the accumulator");
    /* a layout mismatch is refused, not merged */
    co_sim_acc *other = co_sim_acc_new(c->nvms + 1);
    cr_assert_neq(co_sim_acc_merge(fwd, other), 0);
    cr_assert_eq(memcmp(fwd, all, bytes), 0);
    /* an error carried by a part names the lowest part that had it */
    p[2]->err = CO_ENOMEM;
    p[2]->err_part = 2;
    p[1]->err = CO_ENOMEM;
    p[1]->err_part = 1;
    co_sim_acc *e = co_sim_acc_new(c->nvms);
    co_sim_acc_merge(e, p[2]);
    co_sim_acc_merge(e, p[0]);
    co_sim_acc_merge(e, p[1]);
    co_sim_summary s;
    cr_assert_eq(co_sim_summarize(c, &o, e, &s, &d), CO_ENOMEM);
    cr_assert(strstr(d.msg, "rank 1"), "%s", d.msg);
    free(e);
    free(other);
    free(fwd);
    free(back);
    for (int k = 0; k < parts; k++)
        free(p[k]);
    free(all);
    co_sim_cluster_free(c);
}

/* ---- end to end ---- */

struct res {
    int rc; /* exit code, 128 + signal, -1 timeout */
    char out[1 << 16], err[1 << 14];
};

static void slurp(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(fd);
}

/* Run argv (no shell) with stdout/stderr captured; env "NAME=VALUE" or NULL
 * is added to the child's environment. Kills the whole process group
 * (mpirun and its ranks) after 300 s. */
static void run(char *const argv[], const char *env, struct res *r)
{
    char of[] = "/tmp/cotest-mpi-out-XXXXXX", ef[] = "/tmp/cotest-mpi-err-XXXXXX";
    int ofd = mkstemp(of), efd = mkstemp(ef);
    cr_assert(ofd >= 0 && efd >= 0);
    unlink(of);
    unlink(ef);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        if (env)
            putenv((char *)env);
        /* Open MPI refuses root without these; harmless otherwise */
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        /* Open MPI's own allocations are not ours to report under ASan */
        setenv("ASAN_OPTIONS", "detect_leaks=0", 0);
        execvp(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    int st = 0;
    r->rc = -1;
    for (int i = 0; i < 3000; i++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r->rc == -1) {
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    kill(-pid, SIGKILL); /* any rank left behind */
    slurp(ofd, r->out, sizeof r->out);
    slurp(efd, r->err, sizeof r->err);
}

static char cutover[4096], cutover_mpi[4096];

static int have_mpirun(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (path == NULL)
        return 0;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char p[4200];
        snprintf(p, sizeof p, "%s/mpirun", dir);
        if (access(p, X_OK) == 0)
            return 1;
    }
    return 0;
}

static void need_mpi(void)
{
    const char *bin = getenv("CUTOVER_BIN");
    snprintf(cutover, sizeof cutover, "%s", bin ? bin : "build/cutover");
    const char *slash = strrchr(cutover, '/');
    snprintf(cutover_mpi, sizeof cutover_mpi, "%.*scutover-mpi",
             slash ? (int)(slash - cutover + 1) : 0, cutover);
    if (!have_mpirun())
        cr_skip_test("mpirun not found in PATH (Debian openmpi-bin; scripts/install-deps.sh "
                     "--bench): cutover-mpi not checked");
    if (access(cutover_mpi, X_OK) != 0)
        cr_skip_test("%s not built (it is built only when mpicc exists: Debian "
                     "libopenmpi-dev)", cutover_mpi);
}

#define MPIRUN "mpirun", "--allow-run-as-root", "--oversubscribe", "-np"

static struct res ref, got; /* large: not on the stack */

Test(mpi, same_bytes_as_cutover_for_1_2_4_ranks, .timeout = 900)
{
    need_mpi();
    for (int json = 0; json < 2; json++) {
        char *rargv[] = {cutover, "simulate", EX, "--runs", "200", "--seed", "5",
                         "--threads", "1", json ? "--json" : NULL, NULL};
        run(rargv, NULL, &ref);
        cr_assert_eq(ref.rc, 0, "cutover: %s", ref.err);
        const char *nps[] = {"1", "2", "4"};
        for (int k = 0; k < 3; k++) {
            /* 2 threads per rank on 2 ranks: threads inside ranks split too */
            const char *thr = k == 1 ? "2" : "1";
            char *margv[] = {MPIRUN, (char *)nps[k], cutover_mpi, "simulate", EX, "--runs", "200",
                             "--seed", "5", "--threads", (char *)thr,
                             json ? "--json" : NULL, NULL};
            run(margv, NULL, &got);
            cr_assert_eq(got.rc, 0, "-np %s: rc %d: %s", nps[k], got.rc, got.err);
            cr_assert_str_eq(got.out, ref.out, "-np %s %s differs from cutover's", nps[k],
                             json ? "JSON" : "text");
        }
    }
}

Test(mpi, a_rank_that_dies_fails_the_job_naming_it, .timeout = 300)
{
    need_mpi();
    char *argv[] = {MPIRUN, "2", cutover_mpi, "simulate", EX, "--runs", "20", "--threads", "1",
                    "--json", NULL};
    run(argv, "CUTOVER_MPI_TEST_DIE_RANK=1", &got);
    cr_assert_neq(got.rc, 0, "job succeeded with a dead rank: %s", got.out);
    cr_assert_neq(got.rc, -1, "job hung after a rank died");
    cr_assert(strstr(got.err, "rank 1"), "stderr does not name rank 1: %s", got.err);
    cr_assert_eq(strstr(got.out, "\"window\""), NULL, "a summary was printed: %s", got.out);
}

/* MPMD: rank 1 is given a file its node does not have; rank 0 is fine. */
Test(mpi, a_rank_that_cannot_start_fails_the_job_naming_it, .timeout = 300)
{
    need_mpi();
    char *argv[] = {MPIRUN, "1", cutover_mpi, "simulate", EX, "--runs", "20", "--threads", "1",
                    ":", "-np", "1", cutover_mpi, "simulate", "/nonexistent/cluster.json",
                    "--runs", "20", "--threads", "1", NULL};
    run(argv, NULL, &got);
    cr_assert_eq(got.rc, 66, "rc %d: %s", got.rc, got.err);
    cr_assert(strstr(got.err, "rank 1 stopped before its runs with exit 66"), "%s", got.err);
    cr_assert(strstr(got.err, "cutover-mpi: rank 1: cutover simulate: cannot open"), "%s",
              got.err);
    cr_assert_str_eq(got.out, "");
}

Test(mpi, bad_arguments_as_cutover, .timeout = 300)
{
    need_mpi();
    const char *bad[][4] = {
        {"--runs", "0", EX, NULL},
        {"--seed", "-3", EX, NULL},
        {"--bogus", EX, NULL, NULL},
        {"/nonexistent/cluster.json", NULL, NULL, NULL},
        {NULL, NULL, NULL, NULL}, /* missing FILE */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *rargv[8] = {cutover, "simulate"}, *margv[12] = {MPIRUN, "2", cutover_mpi,
                                                             "simulate"};
        for (int i = 0; i < 4 && bad[k][i]; i++) {
            rargv[2 + i] = (char *)bad[k][i];
            margv[7 + i] = (char *)bad[k][i];
        }
        run(rargv, NULL, &ref);
        run(margv, NULL, &got);
        cr_assert_neq(ref.rc, 0);
        cr_assert_eq(got.rc, ref.rc, "case %zu: cutover-mpi exit %d, cutover %d (%s)", k, got.rc,
                     ref.rc, got.err);
        /* cutover's one line, once (only rank 0 speaks) */
        const char *at = strstr(got.err, ref.err);
        cr_assert_not_null(at, "case %zu: '%s' not in: %s", k, ref.err, got.err);
        cr_assert_null(strstr(at + 1, ref.err), "case %zu: said twice: %s", k, got.err);
        cr_assert_str_eq(got.out, "");
    }
    char *only[] = {MPIRUN, "1", cutover_mpi, "model", NULL};
    run(only, NULL, &got);
    cr_assert_eq(got.rc, 64, "%s", got.err);
    cr_assert(strstr(got.err, "only `simulate`"), "%s", got.err);
}
