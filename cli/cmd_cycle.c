/* cli/cmd_cycle.c: `cutover cycle`, run a rolling patch cycle over the
 * libvirt hosts of a cluster file (cycle/cycle.h; docs/cycle.md). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cycle/cycle.h"
#include "engine/policy.h"
#include "evacuate/evacuate.h"
#include "sim/sim.h"
#include "util/error.h"
#include "util/units.h"

#define CMD "cycle"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover cycle FILE [--dry-run] [--journal PATH [--resume]] [--forecast]\n"
            "                     [--json] [--max-downtime MS] [--allow LIST]\n"
            "       cutover cycle --timeline JOURNAL [-o CSV]\n\n"
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
            "  --forecast            simulate the file first (300 runs), print forecast\n"
            "                        beside actual at the end\n"
            "  --json                print the report as JSON\n"
            "  --max-downtime TIME   per-VM stun budget (default: plan.stun_budget)\n"
            "  --allow LIST          as evacuate: eject, copy-storage, and migrate's items\n"
            "  --timeline JOURNAL    convert a journal to simulate's timeline CSV and exit\n"
            "  -o CSV                where --timeline writes (default stdout)\n\n"
            "Exit: 0 every host patched and validated (or the plan is fine); 1 a stop rule\n"
            "stopped the cycle or a host failed; 64 usage; 65 bad file; 69 a host does not\n"
            "answer; 75 another cycle holds the journal, or stopped by a signal (resume it).\n");
}

static int parse_allow(const char *text, unsigned *allow, co_diag *d)
{
    char buf[256], rest[256] = "";
    snprintf(buf, sizeof buf, "%s", text);
    *allow = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "eject"))
            *allow |= CO_EVAC_ALLOW_EJECT;
        else if (!strcmp(t, "copy-storage"))
            *allow |= CO_EVAC_ALLOW_COPY_STORAGE;
        else {
            size_t l = strlen(rest);
            snprintf(rest + l, sizeof rest - l, "%s%s", l ? "," : "", t);
        }
    }
    if (rest[0]) {
        unsigned a;
        if (co_pol_parse_allow(rest, &a, d) != CO_OK)
            return d->code;
        *allow |= a;
    }
    return CO_OK;
}

int co_cmd_cycle(int argc, char **argv)
{
    enum { O_DRY = 1, O_JOURNAL, O_RESUME, O_FORECAST, O_JSON, O_MAXDT, O_ALLOW, O_TIMELINE,
           O_HELP };
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, O_DRY},
        {"journal", required_argument, NULL, O_JOURNAL},
        {"resume", no_argument, NULL, O_RESUME},
        {"forecast", no_argument, NULL, O_FORECAST},
        {"json", no_argument, NULL, O_JSON},
        {"max-downtime", required_argument, NULL, O_MAXDT},
        {"allow", required_argument, NULL, O_ALLOW},
        {"timeline", required_argument, NULL, O_TIMELINE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    co_cyc_opts o = {0};
    int json = 0;
    const char *timeline = NULL, *csv = "-";
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
        case 'o': csv = optarg; break;
        case 'h':
        case O_HELP: usage(stdout); return 0;
        case ':': return co_cli_usage(CMD, "%s needs a value", argv[optind - 1]);
        default: return co_cli_usage(CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
        if (rc != CO_OK)
            return co_cli_fail(CMD, &d);
    }
    if (timeline) {
        if (optind < argc)
            return co_cli_usage(CMD, "--timeline takes a journal, not FILE");
        FILE *f = co_cli_open_out(csv, "-o", &d);
        if (!f)
            return co_cli_fail(CMD, &d);
        int rc = co_cyc_journal_timeline(timeline, f, &d);
        if (f != stdout && fclose(f) != 0 && rc == CO_OK)
            rc = co_diag_set(&d, CO_EIO, "-o %s: closing", csv);
        return rc == CO_OK ? 0 : co_cli_fail(CMD, &d);
    }
    if (optind >= argc)
        return co_cli_usage(CMD, "FILE (the cluster-and-plan file) is required");
    if (optind + 1 < argc)
        return co_cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
    o.file = argv[optind];
    if (o.resume && !o.journal_path)
        return co_cli_usage(CMD, "--resume needs --journal PATH");
    if (!o.dry_run && !o.journal_path)
        return co_cli_usage(CMD, "--journal PATH is required to run a cycle (or --dry-run)");
    if (o.dry_run && (o.resume || o.journal_path))
        return co_cli_usage(CMD, "--dry-run writes no journal (drop --journal/--resume)");
    co_sim_cluster *cl = NULL;
    if (co_sim_load_file(o.file, &cl, &d) != CO_OK)
        return co_cli_fail(CMD, &d);
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
        if (json)
            exit_code = co_cli_emit_json(stdout, co_cyc_report_json(y));
        else {
            co_cyc_report_text(y, stdout);
            fflush(stdout);
        }
    }
    if (rc != CO_OK)
        exit_code = co_cli_fail(CMD, &d);
out:
    co_cyc_free(y);
    co_sim_cluster_free(cl);
    return exit_code;
}
