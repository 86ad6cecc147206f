/* cli/cmd_cycle.c: `cutover cycle`, run a rolling patch cycle over the
 * libvirt hosts of a cluster file (cycle/cycle.h; docs/cycle.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gnuplot.h"
#include "cycle/cycle.h"
#include "cycle/forecast.h"
#include "cycle/journal.h"
#include "engine/policy.h"
#include "evacuate/evacuate.h"
#include "sim/sim.h"
#include "util/error.h"
#include "util/units.h"

#define CMD "cycle"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover cycle FILE [--dry-run] [--journal PATH [--resume]]\n"
            "                     [--forecast] [--history JOURNAL...] [--json]\n"
            "                     [--max-downtime MS] [--allow LIST]\n"
            "       cutover cycle --timeline JOURNAL [-o CSV] [--plot-gantt PNG]\n\n"
            "Run a rolling patch cycle over the libvirt hosts of FILE, the cluster-and-plan\n"
            "file `cutover simulate` reads (each host with \"uri\"; hooks in \"hooks\"; stop\n"
            "rules in plan.execution). Hosts go canaries first, then failure domain by\n"
            "failure domain; per host: preflight, stage, enter maintenance, evacuate (the\n"
            "evacuate scheduler), patch, reboot and wait for the host, firmware and its\n"
            "reboot (when configured), validate, exit maintenance, rebalance. Every\n"
            "transition is journaled (fsync'd); --resume continues after a crash. See\n"
            "docs/cycle.md.\n\n"
            "  --dry-run             check every host and VM, print the plan; change nothing\n"
            "  --journal PATH        the journal (required to run; must not exist unless\n"
            "                        --resume); hook logs go to PATH.d/\n"
            "  --resume              continue the journal's cycle (reconciles with libvirt)\n"
            "  --forecast            before the cycle, forecast it on the live cluster\n"
            "                        (cutover inventory of FILE's hosts, FILE's plan and\n"
            "                        hooks; 300 simulate runs): window, each host's\n"
            "                        evacuation, each VM's stun (p10/p50/p90); at the end\n"
            "                        the forecast beside the actual, field by field\n"
            "  --history JOURNAL     past cycle journals (repeat, or list after FILE): the\n"
            "                        newest calibration in them seeds the evacuations\n"
            "                        (dirty rates, send rates, set-up learnt); with\n"
            "                        --forecast they also fit the plan's step durations,\n"
            "                        failure rates and stream rate (as simulate --history)\n"
            "  --json                print the report as JSON\n"
            "  --max-downtime TIME   per-VM stun budget (default: plan.stun_budget)\n"
            "  --allow LIST          as evacuate: eject, copy-storage, qemu-monitor, and migrate's\n"
            "                        items\n"
            "  --timeline JOURNAL    convert a journal to simulate's timeline CSV and exit\n"
            "  -o CSV                where --timeline writes (default stdout)\n"
            "  --plot-gantt PNG      with --timeline: the journal as simulate's Gantt chart\n"
            "                        (host steps and migrations against time; gnuplot)\n\n"
            "Exit: 0 every host patched and validated (or the plan is fine); 1 a stop rule\n"
            "stopped the cycle or a host failed; 64 usage; 65 bad file; 69 a host does not\n"
            "answer; 75 another cycle holds the journal, or stopped by a signal (resume it).\n"
            "With --timeline: 65 not a cycle journal; 69 gnuplot missing; 73 cannot create\n"
            "an output.\n");
}

/* --allow: evacuate's items and the policy's, parsed as evacuate does */
static int parse_allow(const char *text, unsigned *allow, co_diag *d)
{
    co_cli_mig_flags f;
    co_cli_mig_flags_init(&f);
    int rc = co_cli_mig_flag(CO_CLI_ALLOW, text, co_cli_evac_allow, &f, d);
    if (rc == CO_OK)
        *allow = f.allow;
    return rc;
}

/* The journal as simulate's Gantt chart (cli/gnuplot.h: no shell, the
 * output path never in the script, host names quoted): one row per host in
 * the cycle's order, a thick bar per step coloured by step, a thin line per
 * migration from its source's row (red when aborted). */
static int plot_journal(const char *journal, const char *png, co_diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    int rc = co_cyc_journal_timeline(journal, mem, d);
    fclose(mem);
    if (rc != CO_OK) {
        free(buf);
        return rc;
    }
    co_gp *gp = NULL;
    char *s = NULL;
    FILE *fs = NULL, *fm = NULL;
    if ((rc = co_gp_open(&gp, d)) != CO_OK)
        goto out;
    char dsteps[160], dmigs[160];
    if (!(fs = co_gp_data(gp, "steps.dat", dsteps, sizeof dsteps, d)) ||
        !(fm = co_gp_data(gp, "migs.dat", dmigs, sizeof dmigs, d))) {
        rc = d->code;
        goto out;
    }
    /* hosts in order of first appearance (the cycle's order); CSV fields
     * are names the journal holds, without commas (docs/timeline.md) */
    enum { MAXH = 200 };
    char *hosts[MAXH];
    int nh = 0;
    double tmax = 0;
    unsigned char used[CO_STEP_N] = {0};
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[7], *p = line;
        int n = 0;
        /* strsep keeps empty fields (vm of a step row) */
        while (n < 7 && (f[n] = strsep(&p, ",")) != NULL)
            n++;
        if (n < 7 || !strcmp(f[0], "kind"))
            continue;
        int h = -1;
        for (int k = 0; k < nh; k++)
            if (!strcmp(hosts[k], f[1]))
                h = k;
        if (h < 0 && nh < MAXH) {
            hosts[nh] = f[1];
            h = nh++;
        }
        if (h < 0)
            continue;
        double a = atof(f[4]), b = atof(f[5]);
        tmax = b > tmax ? b : tmax;
        if (!strcmp(f[0], "step")) {
            int st = 0; /* preflight and hooks of the cycle: health_check's colour */
            for (int k = 0; k < CO_STEP_N; k++)
                if (!strcmp(co_sim_step_name(k), f[2]))
                    st = k;
            used[st] = 1;
            fprintf(fs, "%d %.3f %.3f %u\n", h, a, b - a, co_gp_step_rgb(st));
        } else if (!strcmp(f[0], "migration") || !strcmp(f[0], "outage"))
            fprintf(fm, "%.3f %.3f %.3f %d\n", h + 0.3, a, b - a,
                    strcmp(f[2], "aborted") && strcmp(f[0], "outage") ? 0 : 1);
    }
    if (nh == 0)
        fprintf(fs, "0 0 0 0\n");
    fprintf(fm, "-5 0 0 0\n"); /* never empty: gnuplot refuses an empty file */
    int e1 = fclose(fs), e2 = fclose(fm);
    fs = fm = NULL;
    if (e1 || e2) {
        rc = co_diag_set(d, CO_EIO, "gnuplot data file: %s", strerror(errno));
        goto out;
    }
    /* seconds for a short cycle (the lab's), minutes beyond 20 min */
    double unit = tmax > 1200 ? 60 : 1;
    size_t cap = 8192;
    for (int h = 0; h < nh; h++)
        cap += 2 * strlen(hosts[h]) + 32;
    if ((s = malloc(cap)) == NULL) {
        rc = co_diag_set(d, CO_ENOMEM, "out of memory");
        goto out;
    }
    int l = snprintf(s, cap,
                     "set terminal pngcairo noenhanced size 1200,%d\n"
                     "set title 'patch cycle from its journal (bars: steps; thin: migrations "
                     "out, red = aborted or outage)'\n"
                     "set xlabel '%s since cycle_start'\nset yrange [-1:%d]\nset ytics (",
                     260 + 40 * nh, unit > 1 ? "minutes" : "seconds", nh);
    for (int h = 0; h < nh; h++) {
        l += snprintf(s + l, cap - (size_t)l, "%s", h ? ", " : "");
        if ((rc = co_gp_quote(hosts[h], "host name", s + l, cap - (size_t)l, d)) != CO_OK)
            goto out;
        l += (int)strlen(s + l);
        l += snprintf(s + l, cap - (size_t)l, " %d", h);
    }
    snprintf(s + l, cap - (size_t)l,
             ")\nset key outside bottom center horizontal\n"
             "plot %s using ($2/%g):1:($3/%g):(0):4 with vectors nohead lw 12 lc rgb variable "
             "notitle, \\\n  %s using ($2/%g):1:($3/%g):(0):($4 > 0 ? 0xcc3311 : 0x333333) "
             "with vectors nohead lw 2 lc rgb variable notitle, \\\n"
             "  NaN with lines lw 2 lc rgb '#333333' title 'migration', \\\n"
             "  NaN with lines lw 2 lc rgb '#cc3311' title 'aborted/outage'",
             dsteps, unit, unit, dmigs, unit, unit);
    if ((rc = co_gp_step_key(s, cap - 2, used, CO_STEP_N, 12, d)) != CO_OK)
        goto out;
    strcat(s, "\n");
    rc = co_gp_render(gp, s, png, d);
out:
    if (fs)
        fclose(fs);
    if (fm)
        fclose(fm);
    free(s);
    co_gp_close(gp);
    free(buf);
    return rc;
}

int co_cmd_cycle(int argc, char **argv)
{
    enum { O_DRY = 1, O_JOURNAL, O_RESUME, O_FORECAST, O_JSON, O_MAXDT, O_ALLOW, O_TIMELINE,
           O_HISTORY, O_GANTT, O_HELP };
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, O_DRY},
        {"journal", required_argument, NULL, O_JOURNAL},
        {"resume", no_argument, NULL, O_RESUME},
        {"forecast", no_argument, NULL, O_FORECAST},
        {"json", no_argument, NULL, O_JSON},
        {"max-downtime", required_argument, NULL, O_MAXDT},
        {"allow", required_argument, NULL, O_ALLOW},
        {"timeline", required_argument, NULL, O_TIMELINE},
        {"history", required_argument, NULL, O_HISTORY},
        {"plot-gantt", required_argument, NULL, O_GANTT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    co_cyc_opts o = {0};
    int json = 0;
    const char *timeline = NULL, *csv = NULL, *gantt = NULL;
    /* on the stack: no early return has to free it */
    const char *journals[argc + 1];
    int njournals = 0, history = 0;
    co_diag d;
    co_diag_init(&d);
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        int rc = CO_OK;
        switch (c) {
        case O_DRY: o.dry_run = 1; break;
        case O_JOURNAL: o.journal_path = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_FORECAST: o.forecast = 1; break;
        case O_JSON: json = 1; break;
        case O_MAXDT:
            rc = co_parse_time(optarg, "--max-downtime", &o.max_downtime_ms, &d);
            if (rc == CO_OK && !(o.max_downtime_ms >= 1 && o.max_downtime_ms <= 600e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--max-downtime '%s': expected 1ms..10m", optarg);
            break;
        case O_ALLOW: rc = parse_allow(optarg, &o.allow, &d); break;
        case O_TIMELINE: timeline = optarg; break;
        case O_HISTORY:
            journals[njournals++] = optarg;
            history = 1;
            break;
        case O_GANTT: gantt = optarg; break;
        case 'o': csv = optarg; break;
        case 'h':
        case O_HELP: usage(stdout); return 0;
        case ':': return co_cli_usage(CMD, "%s needs a value", argv[optind - 1]);
        default: return co_cli_usage(CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
        if (rc != CO_OK)
            return co_cli_fail(CMD, &d);
    }
    if (gantt && !timeline)
        return co_cli_usage(CMD, "--plot-gantt goes with --timeline JOURNAL");
    if (timeline) {
        if (optind < argc)
            return co_cli_usage(CMD, "--timeline takes a journal, not FILE");
        if (history || o.forecast)
            return co_cli_usage(CMD, "--timeline converts a journal: no --forecast/--history");
        int rc = CO_OK;
        if (csv || !gantt) {
            FILE *f = co_cli_open_out(csv ? csv : "-", "-o", &d);
            if (!f)
                return co_cli_fail(CMD, &d);
            rc = co_cyc_journal_timeline(timeline, f, &d);
            if (f != stdout && fclose(f) != 0 && rc == CO_OK)
                rc = co_diag_set(&d, CO_EIO, "-o %s: closing", csv);
        }
        if (rc == CO_OK && gantt && (rc = plot_journal(timeline, gantt, &d)) != CO_OK)
            co_diag_prefix(&d, "--plot-gantt");
        return rc == CO_OK ? 0 : co_cli_fail(CMD, &d);
    }
    if (optind >= argc)
        return co_cli_usage(CMD, "FILE (the cluster-and-plan file) is required");
    if (optind + 1 < argc && !history)
        return co_cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
    for (int i = optind + 1; i < argc; i++) /* --history J1 J2 ...: the rest are journals */
        journals[njournals++] = argv[i];
    /* without --forecast the history still seeds the evacuations'
     * calibration (its newest "calibration" record) */
    for (int i = 0; i < njournals; i++)
        if (access(journals[i], R_OK) != 0) {
            co_diag_set(&d, CO_ENOINPUT, "--history %s: cannot read", journals[i]);
            return co_cli_fail(CMD, &d);
        }
    o.history = journals;
    o.nhistory = njournals;
    if (o.forecast && o.resume)
        return co_cli_usage(CMD, "--forecast with --resume: the cluster is mid-cycle; "
                                 "forecast before a cycle starts");
    o.file = argv[optind];
    for (int i = 0; i < njournals; i++)
        if (o.journal_path && !strcmp(journals[i], o.journal_path))
            return co_cli_usage(CMD, "--history %s is the journal this cycle writes: a "
                                     "forecast learns from past cycles only", journals[i]);
    if (o.resume && !o.journal_path)
        return co_cli_usage(CMD, "--resume needs --journal PATH");
    if (!o.dry_run && !o.journal_path)
        return co_cli_usage(CMD, "--journal PATH is required to run a cycle (or --dry-run)");
    if (o.dry_run && (o.resume || o.journal_path))
        return co_cli_usage(CMD, "--dry-run writes no journal (drop --journal/--resume)");
    co_sim_cluster *cl = NULL;
    if (co_sim_load_file(o.file, &cl, &d) != CO_OK)
        return co_cli_fail(CMD, &d);
    /* the forecast is made here, before the cycle, on the live state (the
     * cycle's own --forecast ran the file as written) */
    int want_fc = o.forecast;
    o.forecast = 0;
    json_t *fc = NULL;
    if (want_fc) {
        char keep[600];
        co_diag fd;
        co_diag_init(&fd);
        int keep_ok = o.journal_path && !o.dry_run &&
                      co_jrn_dir(o.journal_path, keep, sizeof keep, &fd) == CO_OK;
        co_cyc_fc_opts fo = {.file = o.file, .history = journals, .nhistory = njournals,
                             .runs = 300, .seed = 1, .live = 1, .keep_dir = keep_ok ? keep : NULL,
                             .max_downtime_ms = o.max_downtime_ms};
        if (co_cyc_forecast(&fo, &fc, &fd) != CO_OK) {
            co_sim_cluster_free(cl);
            return co_cli_fail(CMD, &fd);
        }
        if (!json) {
            co_cyc_forecast_text(fc, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
    }
    volatile sig_atomic_t *stop, *signo;
    co_cli_catch_stop_signals(&stop, &signo);
    o.stop_flag = stop;
    o.stop_signo = signo;
    o.progress = isatty(STDERR_FILENO);
    co_cyc *y = NULL;
    int exit_code = 0;
    if (co_cyc_new(cl, &o, &y, &d) != CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    int rc = co_cyc_run(y, &d);
    int report = !(rc == CO_EBUSY || (rc == CO_EUSAGE && !o.dry_run) || rc == CO_EDATA ||
                   rc == CO_ENOPERM || (rc == CO_EUNAVAIL && !o.dry_run && !o.resume));
    if (report) {
        json_t *j = co_cyc_report_json(y), *cmp = NULL;
        if (fc && j && !o.dry_run) {
            cmp = co_cyc_forecast_compare(fc, j);
            json_object_set(fc, "beside_actual", cmp);
        }
        if (json) {
            if (j && fc)
                json_object_set(j, "forecast", fc);
            exit_code = co_cli_emit_json(stdout, j);
        } else {
            json_decref(j);
            co_cyc_report_text(y, stdout);
            if (cmp)
                co_cyc_compare_text(cmp, stdout);
            fflush(stdout);
        }
        json_decref(cmp);
    }
    if (rc != CO_OK)
        exit_code = co_cli_fail(CMD, &d);
out:
    json_decref(fc);
    co_cyc_free(y);
    co_sim_cluster_free(cl);
    return exit_code;
}
