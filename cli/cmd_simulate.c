/* cli/cmd_simulate.c: `cutover simulate`, a Monte Carlo forecast of a
 * rolling patch cycle (sim/, docs/simulate.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gnuplot.h"
#include "cycle/forecast.h"
#include "cycle/history.h"
#include "sim/report.h"
#include "sim/sim.h"
#include "util/units.h"

#define CMD "simulate"

static void help(void)
{
    printf("usage: cutover simulate FILE [--runs N] [--seed S] [--threads T] [--json]\n"
           "                        [--timeline CSV] [--plot-gantt PNG] [--plot-stun PNG]\n"
           "                        [--check] [--history JOURNAL...]\n\n"
           "Forecast a rolling patch cycle of the cluster and plan in FILE (JSON, see\n"
           "docs/simulate.md): window length, per-VM stun, outage of VMs that cannot\n"
           "live-migrate, MTTR of failed hosts, host-hours in maintenance. Migrations\n"
           "share NICs and uplinks max-min fairly; after its exit a host takes its VMs\n"
           "back (plan \"rebalance\": \"return\", the default, or \"duration\").\n\n"
           "  --runs N          Monte Carlo runs, 1 to 10000000 (default 200)\n"
           "  --seed S          seed in [0, 2^63); the same seed gives the same output (default 1)\n"
           "  --threads T       worker threads, 1 to 1024 (default: online CPUs); does not\n"
           "                    change results\n"
           "  --json            print the summary as JSON\n"
           "  --timeline CSV    write the timeline of run 0 (\"-\" = stdout, not with --json)\n"
           "  --plot-gantt PNG  Gantt chart of run 0 (needs gnuplot)\n"
           "  --plot-stun PNG   histogram of per-VM stun over all runs (needs gnuplot)\n"
           "  --check           check invariants after every event (slow; for tests)\n"
           "  --history JOURNAL past cycle journals (`cutover cycle --journal`; repeat the\n"
           "                    flag or list them after FILE): step durations (lognormal or\n"
           "                    Weibull, maximum likelihood), failure rates and the stream\n"
           "                    rate of migrations replace the plan's guesses where a figure\n"
           "                    has 3 samples or more; then, as `cutover cycle --forecast`,\n"
           "                    the evacuations' concurrency and the migration calibration\n"
           "                    (3 completed migrations or more); the output says which\n"
           "                    figures came from history and from how many cycles and\n"
           "                    migrations (docs/forecast.md)\n"
           "  --help            this text\n\n"
           "Exit status: 0 ok; 64 bad flag; 65 bad data in FILE; 66 FILE (or a trace it\n"
           "names) missing; 69 gnuplot missing; 70 invariant violated (--check); 71 out of\n"
           "memory or system error; 73 cannot create an output; 74 read or write error.\n");
}

struct progress {
    int last; /* last percentage drawn (atomic) */
};

static void progress_cb(void *arg, int done, int total)
{
    struct progress *p = arg;
    int pct = (int)(100LL * done / total);
    int prev = __atomic_load_n(&p->last, __ATOMIC_RELAXED);
    if (pct == prev || !__atomic_compare_exchange_n(&p->last, &prev, pct, 0, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED))
        return;
    char bar[41];
    int k = pct * 40 / 100;
    memset(bar, '#', (size_t)k);
    memset(bar + k, ' ', (size_t)(40 - k));
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %d/%d runs", bar, pct, done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* Gantt chart of run 0 (cli/gnuplot.h: no shell, the path never in the
 * script, host names quoted as single-quoted strings). */
static int plot_gantt(const co_sim_cluster *c, const co_sim_span *sp, size_t n, const char *png,
                      co_diag *d)
{
    co_gp *gp = NULL;
    int rc = co_gp_open(&gp, d);
    if (rc != CO_OK)
        return rc;
    char dat[160];
    char *s = NULL;
    FILE *f = co_gp_data(gp, "steps.dat", dat, sizeof dat, d);
    if (f == NULL) {
        rc = d->code;
        goto out;
    }
    /* y = host index; one line per host step, x in hours, its colour */
    unsigned char used[CO_STEP_N] = {0};
    for (size_t i = 0; i < n; i++)
        if (sp[i].kind == 0) {
            fprintf(f, "%d %.6f %.6f %u\n", sp[i].host, sp[i].start_us / 3.6e9,
                    (sp[i].end_us - sp[i].start_us) / 3.6e9, co_gp_step_rgb(sp[i].other));
            if (sp[i].other >= 0 && sp[i].other < CO_STEP_N)
                used[sp[i].other] = 1;
        }
    if (fclose(f) != 0) {
        rc = co_diag_set(d, CO_EIO, "gnuplot data file: %s", strerror(errno));
        goto out;
    }
    int shown = c->nhosts < 200 ? c->nhosts : 200;
    /* a host name quoted may double in length, plus quotes and the index */
    size_t cap = 8192;
    for (int h = 0; h < shown; h++)
        cap += 2 * strlen(c->hosts[h].name) + 32;
    s = malloc(cap);
    if (s == NULL) {
        rc = co_diag_set(d, CO_ENOMEM, "out of memory");
        goto out;
    }
    int len = snprintf(s, cap,
                       "set terminal pngcairo noenhanced size 1200,%d\n"
                       "set title 'patch cycle, run 0'\nset xlabel 'hours'\n"
                       "set yrange [-1:%d]\nset ytics (",
                       260 + 18 * shown, c->nhosts);
    for (int h = 0; h < shown; h++) {
        len += snprintf(s + len, cap - (size_t)len, "%s", h ? ", " : "");
        rc = co_gp_quote(c->hosts[h].name, "host name", s + len, cap - (size_t)len, d);
        if (rc != CO_OK)
            goto out;
        len += (int)strlen(s + len);
        len += snprintf(s + len, cap - (size_t)len, " %d", h);
    }
    snprintf(s + len, cap - (size_t)len,
             ")\nset key outside bottom center horizontal\n"
             "plot %s using 2:1:3:(0):4 with vectors nohead lw 8 lc rgb variable notitle", dat);
    if ((rc = co_gp_step_key(s, cap - 2, used, CO_STEP_N, 8, d)) != CO_OK)
        goto out;
    strcat(s, "\n");
    rc = co_gp_render(gp, s, png, d);
out:
    free(s);
    co_gp_close(gp);
    return rc;
}

/* Histogram of per-VM stun over all runs, the budget as a red line. */
static int plot_stun(const co_sim_summary *sm, const char *png, co_diag *d)
{
    co_gp *gp = NULL;
    int rc = co_gp_open(&gp, d);
    if (rc != CO_OK)
        return rc;
    char dat[160];
    FILE *f = co_gp_data(gp, "stun.dat", dat, sizeof dat, d);
    if (f == NULL) {
        rc = d->code;
        goto out;
    }
    int any = 0;
    for (int b = 0; b < CO_SIM_HIST_BINS; b++)
        if (sm->stun_hist[b] > 0) {
            fprintf(f, "%.6g %ld\n", co_sim_hist_mid_ms(b), sm->stun_hist[b]);
            any = 1;
        }
    if (!any)
        fprintf(f, "1 0\n");
    if (fclose(f) != 0) {
        rc = co_diag_set(d, CO_EIO, "gnuplot data file: %s", strerror(errno));
        goto out;
    }
    char s[2048];
    snprintf(s, sizeof s,
             "set terminal pngcairo noenhanced size 900,500\n"
             "set title 'stun per VM, summed over its migrations (%d runs)'\n"
             "set xlabel 'stun (ms, log scale)'\nset ylabel 'VM-runs'\nset logscale x\n"
             "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb 'red'\n"
             "plot %s using 1:2 with impulses lw 3 title 'VM-runs'\n",
             sm->runs, sm->stun_budget_ms, sm->stun_budget_ms, dat);
    rc = co_gp_render(gp, s, png, d);
out:
    co_gp_close(gp);
    return rc;
}

static int parse_count(const char *s, const char *what, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return co_cli_usage(CMD, "%s: '%s' is not an integer in [%ld, %ld]", what, s, lo, hi);
    *out = v;
    return 0;
}

int co_cmd_simulate(int argc, char **argv)
{
    return co_cmd_simulate_with(argc, argv, NULL);
}

int co_cmd_simulate_with(int argc, char **argv, const co_sim_mc_hook *hook)
{
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'n'},     {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},  {"json", no_argument, NULL, 'j'},
        {"timeline", required_argument, NULL, 'T'}, {"plot-gantt", required_argument, NULL, 'g'},
        {"plot-stun", required_argument, NULL, 'p'}, {"check", no_argument, NULL, 'c'},
        {"history", required_argument, NULL, 'H'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    long runs = 200, threads = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned long long seed = 1;
    int json = 0, check = 0;
    const char *timeline = NULL, *gantt = NULL, *stunpng = NULL;
    /* on the stack: every early return below would otherwise have to free it */
    const char *journals[argc + 1];
    int njournals = 0, history = 0;
    if (threads < 1)
        threads = 1;
    int ch, rc;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if ((rc = parse_count(optarg, "--runs", 1, 10000000, &runs)))
                return rc;
            break;
        case 's': {
            char *end;
            errno = 0;
            seed = strtoull(optarg, &end, 0);
            /* JSON integers are signed 64-bit: keep the seed printable as given */
            if (errno || end == optarg || *end || optarg[0] == '-' || seed > INT64_MAX)
                return co_cli_usage(CMD, "--seed: '%s' is not an integer in [0, 2^63)", optarg);
            break;
        }
        case 't':
            if ((rc = parse_count(optarg, "--threads", 1, 1024, &threads)))
                return rc;
            break;
        case 'j':
            json = 1;
            break;
        case 'T':
            timeline = optarg;
            break;
        case 'g':
            gantt = optarg;
            break;
        case 'p':
            stunpng = optarg;
            break;
        case 'c':
            check = 1;
            break;
        case 'H':
            journals[njournals++] = optarg;
            history = 1;
            break;
        case 'h':
            help();
            return 0;
        default:
            return co_cli_usage(CMD, "unknown or incomplete option '%s' (try --help)",
                                argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        return co_cli_usage(CMD, "missing FILE (a cluster-and-plan JSON, e.g. "
                                 "traces/example-cluster.json)");
    }
    if (optind + 1 < argc && !history) {
        return co_cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
    }
    for (int i = optind + 1; i < argc; i++) /* --history J1 J2 ...: the rest are journals */
        journals[njournals++] = argv[i];
    const char *file = argv[optind];
    if (timeline && json && strcmp(timeline, "-") == 0)
        return co_cli_usage(CMD, "--timeline - and --json would both write to stdout");
    if (gantt || stunpng) {
        /* before the runs: say it now rather than after minutes of work */
        co_diag gd;
        co_diag_init(&gd);
        if (co_gp_find(&gd) != CO_OK) {
            co_diag_prefix(&gd, "%s", gantt ? "--plot-gantt" : "--plot-stun");
            return co_cli_fail(CMD, &gd);
        }
    }

    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c = NULL;
    if (co_sim_load_file(file, &c, &d) != CO_OK) {
        return co_cli_fail(CMD, &d);
    }
    /* the fit of `cutover cycle --forecast`, the same one (cycle/forecast.h) */
    json_t *hj = NULL, *cal = NULL, *assumed = NULL;
    if (history) {
        co_cyc_fit fit;
        if ((assumed = json_array()) == NULL) {
            co_diag_set(&d, CO_ENOMEM, "out of memory");
        } else if (co_cyc_fit_history(c, journals, njournals, assumed, &fit, &d) == CO_OK) {
            hj = fit.history;
            cal = fit.calibration;
        }
        if (d.code != CO_OK) {
            json_decref(assumed);
            co_sim_cluster_free(c);
            return co_cli_fail(CMD, &d);
        }
    }

    struct progress pr = {-1};
    co_sim_mc_opts mo = {.runs = (int)runs, .seed = seed, .threads = (int)threads,
                         .check = check};
    if (isatty(STDERR_FILENO) && runs >= 20) {
        mo.progress = progress_cb;
        mo.progress_arg = &pr;
    }
    co_sim_summary sm;
    int exit_code = 0, print = 1;
    if ((hook ? hook->mc(hook->arg, c, &mo, &sm, &print, &d) : co_sim_mc(c, &mo, &sm, &d)) !=
        CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
        co_sim_cluster_free(c);
        json_decref(hj);
        json_decref(cal);
        json_decref(assumed);
        return exit_code;
    }
    if (!print) { /* an MPI rank other than 0: its runs went into the reduction */
        co_sim_cluster_free(c);
        json_decref(hj);
        json_decref(cal);
        json_decref(assumed);
        return 0;
    }
    if (check && sm.violations > 0) {
        co_diag_set(&d, CO_ESOFTWARE, "%ld invariant violations (capacity, placement)",
                    sm.violations);
        exit_code = co_cli_fail(CMD, &d);
        goto done;
    }

    /* Run 0 again with recording on for the timeline and the Gantt chart:
     * the same (seed, 0) stream gives the same run as in the Monte Carlo. */
    if (timeline || gantt) {
        co_sim_run *r = co_sim_run_new(c);
        co_sim_run_result rr;
        if (r == NULL) {
            co_diag_set(&d, CO_ENOMEM, "out of memory");
            exit_code = co_cli_fail(CMD, &d);
            goto done;
        }
        co_sim_run_set_record(r, 1);
        if (co_sim_run_once(r, seed, 0, &rr) != CO_OK)
            co_diag_set(&d, CO_ENOMEM, "out of memory recording the timeline");
        size_t n;
        const co_sim_span *sp = co_sim_run_spans(r, &n);
        if (d.code == CO_OK && timeline) {
            FILE *f = co_cli_open_out(timeline, "--timeline", &d);
            if (f) {
                if (co_sim_timeline_csv(f, c, sp, n) != CO_OK)
                    co_diag_set(&d, CO_EIO, "--timeline: writing '%s': %s", timeline,
                                strerror(errno));
                if (f != stdout && fclose(f) != 0)
                    co_diag_set(&d, CO_EIO, "--timeline: closing '%s': %s", timeline,
                                strerror(errno));
            }
        }
        if (d.code == CO_OK && gantt && plot_gantt(c, sp, n, gantt, &d) != CO_OK)
            co_diag_prefix(&d, "--plot-gantt");
        co_sim_run_free(r);
        if (d.code != CO_OK) {
            exit_code = co_cli_fail(CMD, &d);
            goto done;
        }
    }
    if (stunpng && plot_stun(&sm, stunpng, &d) != CO_OK) {
        co_diag_prefix(&d, "--plot-stun");
        exit_code = co_cli_fail(CMD, &d);
        goto done;
    }
    json_t *j = co_sim_summary_json(c, &sm);
    if (j && hj) {
        json_object_set(j, "history", hj);
        if (cal)
            json_object_set(j, "calibration", cal);
        json_object_set(j, "assumed", assumed);
    }
    if (timeline && strcmp(timeline, "-") == 0) {
        json_decref(j); /* stdout holds the CSV */
    } else if (json) {
        exit_code = co_cli_emit_json(stdout, j);
    } else if (j == NULL) {
        exit_code = 71;
    } else {
        if ((hj && (co_history_text(stdout, hj) != CO_OK ||
                    co_cyc_fit_text(stdout, cal, assumed) != CO_OK)) ||
            co_sim_summary_text(stdout, j) != CO_OK) {
            fprintf(stderr, "cutover %s: writing the summary: %s\n", CMD, strerror(errno));
            exit_code = 74;
        }
        json_decref(j);
    }
done:
    json_decref(hj);
    json_decref(cal);
    json_decref(assumed);
    co_sim_summary_free(&sm);
    co_sim_cluster_free(c);
    return exit_code;
}
