/* mpi/main.c: `cutover-mpi`, the Monte Carlo of `cutover simulate` split
 * across MPI ranks (docs/simulate.md, "Monte Carlo over MPI").
 *
 * Owns: MPI start-up and shutdown, the split of the runs (rank r of N runs
 * the indices r, r + N, r + 2N, ...; run i's RNG stream depends on (seed, i)
 * only), the reduction of the ranks' accumulators (co_sim_acc, one flat
 * block merged exactly by a user MPI_Op) onto rank 0, and keeping every rank
 * but 0 quiet. Everything else (flags, messages, exit codes, loading,
 * rendering) is cutover's own `simulate` (cli/cmd_simulate.c), so the output
 * is the same bytes as `cutover simulate` for any number of ranks.
 *
 * A companion binary, not a flag of cutover: linking cutover to libmpi would
 * make every user's binary depend on an MPI runtime (and start it), for a
 * feature that only fleets too large for one machine need. */
#include <fcntl.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sim/sim.h"
#include "util/error.h"

struct mpi_ctx {
    int rank, size;
    int saved_out, saved_err; /* ranks > 0: the real stdout/stderr while quiet */
    FILE *said;               /* ranks > 0: what they said while quiet */
    int reached;              /* this rank got to its runs (the hook ran) */
};

/* The start-up check, collective: every rank says -1 when it got to its
 * runs, or its exit code when `simulate` stopped before (bad flag, file
 * unreadable on its node). Fills codes[size]; MPI_SUCCESS or an MPI error. */
static int startup_codes(const struct mpi_ctx *m, int mine, int *codes)
{
    return MPI_Allgather(&mine, 1, MPI_INT, codes, 1, MPI_INT, MPI_COMM_WORLD);
}

static int err_of_exit(int code)
{
    return code == 64 ? CO_EUSAGE : code == 65 ? CO_EDATA : code == 66 ? CO_ENOINPUT : CO_EOS;
}

/* The user MPI_Op: inout += in, element by element. Elements are whole
 * accumulators (a contiguous type of co_sim_acc_bytes(nvms) bytes); MPI's
 * buffers need not be 16-byte aligned, so unaligned ones are copied. */
static void acc_merge_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    int64_t b64; /* the first field, read without assuming alignment */
    memcpy(&b64, in, sizeof b64);
    size_t bytes = (size_t)b64;
    for (int i = 0; i < *len; i++) {
        char *src = (char *)in + (size_t)i * bytes, *dst = (char *)inout + (size_t)i * bytes;
        co_sim_acc *s = (co_sim_acc *)(void *)src, *d = (co_sim_acc *)(void *)dst;
        co_sim_acc *sa = NULL, *da = NULL;
        if ((uintptr_t)src % 16 || (uintptr_t)dst % 16) {
            sa = aligned_alloc(16, (bytes + 15) / 16 * 16);
            da = aligned_alloc(16, (bytes + 15) / 16 * 16);
            if (sa == NULL || da == NULL)
                abort(); /* no way to report from inside MPI; mpirun names the rank */
            memcpy(sa, src, bytes);
            memcpy(da, dst, bytes);
            s = sa;
            d = da;
        }
        if (co_sim_acc_merge(d, s) != CO_OK) {
            d->err = CO_ESOFTWARE; /* layouts differ: ranks run different builds */
            d->err_part = -1;
        }
        if (da) {
            memcpy(dst, da, bytes);
            free(sa);
            free(da);
        }
    }
}

static void speak(struct mpi_ctx *m)
{
    if (m->saved_err >= 0) {
        fflush(stderr);
        dup2(m->saved_err, STDERR_FILENO);
        close(m->saved_err);
        m->saved_err = -1;
    }
}

static int mpi_fail(co_diag *d, const char *what, int err)
{
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    MPI_Error_string(err, s, &n);
    return co_diag_set(d, CO_EOS, "%s: %.*s", what, n, s);
}

static int mc_mpi(void *arg, const co_sim_cluster *c, const co_sim_mc_opts *o,
                  co_sim_summary *out, int *print, co_diag *d)
{
    struct mpi_ctx *m = arg;
    m->reached = 1;
    speak(m); /* from here on a rank's own failure is worth its line */
    *print = m->rank == 0;
    int *codes = calloc((size_t)m->size, sizeof(int));
    if (codes == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int e0 = startup_codes(m, -1, codes);
    if (e0 != MPI_SUCCESS) {
        free(codes);
        return mpi_fail(d, "MPI_Allgather", e0);
    }
    for (int j = 0; j < m->size; j++)
        if (codes[j] >= 0) { /* rank j stopped before its runs: nobody runs */
            int code = codes[j];
            free(codes);
            if (m->rank != 0)
                return CO_OK; /* *print = 0: rank 0 says it */
            return co_diag_set(d, err_of_exit(code),
                               "rank %d stopped before its runs with exit %d (see its own "
                               "line)", j, code);
        }
    free(codes);
    co_sim_mc_opts mine = *o;
    mine.first = m->rank;
    mine.stride = m->size;
    if (m->size > 1) {
        mine.progress = NULL; /* one rank's share would read as the whole */
    }
    co_sim_acc *acc = co_sim_acc_new(c->nvms);
    co_sim_acc *all = m->rank == 0 ? co_sim_acc_new(c->nvms) : NULL;
    if (acc == NULL || (m->rank == 0 && all == NULL)) {
        free(acc);
        free(all);
        /* cannot take part in the reduction: stop the job rather than hang it */
        fprintf(stderr, "cutover-mpi simulate: rank %d: out of memory for the accumulator\n",
                m->rank);
        MPI_Abort(MPI_COMM_WORLD, 71);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    double t0 = MPI_Wtime();
    co_diag local;
    co_diag_init(&local);
    int rc = co_sim_mc_acc(c, &mine, acc, &local);
    if (rc != CO_OK) { /* carried to rank 0 in the reduction */
        acc->err = rc;
        acc->err_part = m->rank;
        if (m->rank != 0)
            fprintf(stderr, "cutover-mpi simulate: rank %d: %s\n", m->rank, local.msg);
    }
    double t_runs = MPI_Wtime() - t0;
    const char *die = getenv("CUTOVER_MPI_TEST_DIE_RANK");
    if (die && *die && atoi(die) == m->rank) {
        fprintf(stderr, "cutover-mpi simulate: rank %d: CUTOVER_MPI_TEST_DIE_RANK=%s, "
                        "aborting before the reduction (test)\n", m->rank, die);
        abort();
    }
    MPI_Datatype type;
    MPI_Op op;
    int e = MPI_Type_contiguous((int)acc->bytes, MPI_BYTE, &type);
    if (e == MPI_SUCCESS)
        e = MPI_Type_commit(&type);
    if (e == MPI_SUCCESS)
        e = MPI_Op_create(acc_merge_op, 1, &op);
    if (e == MPI_SUCCESS)
        e = MPI_Reduce(acc, all, 1, type, op, 0, MPI_COMM_WORLD);
    if (getenv("CUTOVER_MPI_STATS"))
        fprintf(stderr, "cutover-mpi: rank %d of %d: %ld runs in %.3f s, accumulator %lld bytes "
                        "(sent once in the reduction)\n", m->rank, m->size,
                (long)(mine.first < o->runs ? (o->runs - mine.first + m->size - 1) / m->size : 0),
                t_runs, (long long)acc->bytes);
    free(acc);
    if (e != MPI_SUCCESS) {
        free(all);
        return mpi_fail(d, "MPI_Reduce", e);
    }
    MPI_Op_free(&op);
    MPI_Type_free(&type);
    if (m->rank != 0)
        return CO_OK;
    rc = co_sim_summarize(c, o, all, out, d);
    free(all);
    return rc;
}

int main(int argc, char **argv)
{
    struct mpi_ctx m = {.saved_out = -1, .saved_err = -1};
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "cutover-mpi: MPI_Init failed (run it under mpirun or srun)\n");
        return 71;
    }
    /* errors come back as codes, reported as messages, instead of killing
     * the job from inside the library */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &m.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m.size);
    int code;
    if (argc < 2 || strcmp(argv[1], "simulate") != 0) {
        if (m.rank == 0)
            fprintf(stderr, "usage: mpirun -np N cutover-mpi simulate FILE [--runs N] [--seed S] "
                            "[--threads T] [--json] ...\n(only `simulate` runs under MPI; the "
                            "flags are those of `cutover simulate --help`)\n");
        code = 64;
    } else {
        if (m.rank != 0) {
            /* every rank parses the same flags and loads the same file, so
             * rank 0 alone says what is wrong; the others keep quiet until
             * their runs start */
            int null = open("/dev/null", O_WRONLY);
            m.said = tmpfile();
            if (null >= 0 && m.said != NULL) {
                fflush(stdout);
                fflush(stderr);
                m.saved_out = dup(STDOUT_FILENO);
                m.saved_err = dup(STDERR_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(fileno(m.said), STDERR_FILENO);
            }
            if (null >= 0)
                close(null);
        }
        co_sim_mc_hook hook = {mc_mpi, &m};
        code = co_cmd_simulate_with(argc - 1, argv + 1, &hook);
        if (!m.reached) {
            /* stopped before the runs: meet the ranks that got there */
            int *codes = calloc((size_t)m.size, sizeof(int));
            int rank0_runs = codes && startup_codes(&m, code, codes) == MPI_SUCCESS &&
                             codes[0] < 0;
            free(codes);
            speak(&m);
            if (m.rank != 0 && rank0_runs && m.said) {
                /* rank 0 got further: this rank's problem is its own (a
                 * file missing on its node), so say it, naming the rank */
                char line[1024];
                rewind(m.said);
                while (fgets(line, sizeof line, m.said))
                    fprintf(stderr, "cutover-mpi: rank %d: %s", m.rank, line);
            }
        }
        speak(&m);
        if (m.said)
            fclose(m.said);
        if (m.saved_out >= 0)
            close(m.saved_out);
    }
    fflush(stdout);
    MPI_Finalize();
    return code;
}
