/* cli/cmd_evacuate.c: `cutover evacuate`, empty one libvirt host: inventory,
 * blockers, placement and schedule (evacuate/), then the migrations, each
 * under the adaptive controller. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/policy.h"
#include "evacuate/evacuate.h"
#include "model/link.h"
#include "sim/sim.h"
#include "util/error.h"
#include "util/units.h"

#define CMD "evacuate"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover evacuate --connect URI --to URI[,URI...] [options]\n\n"
            "Live-migrate every VM off one libvirt host. cutover takes the inventory (each\n"
            "domain's memory, vCPUs, blockers; each destination's free memory, CPUs and CPU\n"
            "compatibility), measures each VM's dirty rate (1 s, all at once), places the VMs\n"
            "(memory, vCPUs at the allocation ratio, anti-affinity, CPU) and picks the order and\n"
            "how many migrate at once so the model predicts the whole drain done soonest with\n"
            "every VM within --max-downtime; then drives each migration with the adaptive\n"
            "controller, one thread per migration in flight. See docs/evacuate.md.\n\n"
            "  --connect URI         the host to empty (its libvirtd), e.g. qemu+tcp://h1/system\n"
            "  --to URI[,URI...]     destination libvirtds, as the source daemon reaches them\n"
            "                        (default with --cluster: every other host of the file)\n"
            "  --cluster FILE        a cluster file (cutover lab cluster's cluster.json): NIC\n"
            "                        rates, MTU and migration addresses of the hosts by \"uri\"\n"
            "  --nic RATE            the source NIC's rate, e.g. 10Gbit (default: --cluster's,\n"
            "                        else 1Gbit assumed; the report says which)\n"
            "  --mtu N               the links' IP MTU (default: --cluster's, else 1500)\n"
            "  --max-downtime TIME   each VM's downtime budget (default 300ms)\n"
            "  --deadline TIME       each migration gives up after this long (default 10m)\n"
            "  --allow LIST          as migrate (auto-converge,postcopy,dirty-limit,pause) plus\n"
            "                        eject (CD-ROM/floppy media ejected first), copy-storage\n"
            "                        (local disks copied along, VIR_MIGRATE_NON_SHARED_DISK) and\n"
            "                        qemu-monitor (as migrate)\n"
            "  --concurrency auto|N  migrations at once (default auto: 1..8, the model picks;\n"
            "                        the next VM starts its set-up while one ends its transfer;\n"
            "                        one at a time, later VMs wait at 1 MiB/s for the transfer\n"
            "                        before them to end)\n"
            "  --no-early-start      auto concurrency without that overlap: a VM starts only\n"
            "                        when a migration has ended (no set-up ahead, no hold)\n"
            "  --order auto|name|given\n"
            "                        start order (default auto: the model picks among dirty\n"
            "                        rate per bandwidth first, longest first, by name); name\n"
            "                        and given (inventory order, by name) fix it\n"
            "  --alloc-ratio R       vCPUs per destination CPU (default 16, Nova's initial\n"
            "                        cpu_allocation_ratio)\n"
            "  --groups SPEC|FILE    anti-affinity: NAME=vm,vm[;NAME=vm,...] or a file with one\n"
            "                        NAME=vm,vm per line: no two members on one destination\n"
            "                        (members may be VMs already running on a destination)\n"
            "  --unmovable fail|shutdown|leave\n"
            "                        a VM that cannot move (blocker, no room): fail (default:\n"
            "                        nothing moves), shut it down after the others moved, or\n"
            "                        leave it running on the source\n"
            "  --dirty-rate RATE     skip the measurement and assume this many MiB/s per VM\n"
            "                        (default: measured for KVM guests, 0 assumed for TCG)\n"
            "  --stream-rate RATE    what one migration stream can carry (default: the\n"
            "                        model's; ~90 Mbit/s for TCG guests; learnt from each\n"
            "                        migration that completes)\n"
            "  --measure-dirty       measure TCG guests too (QEMU 7.2 under TCG can hang in\n"
            "                        calc-dirty-rate on a guest that migrated in)\n"
            "  --dirty-curves DIR    recorded dirty traces instead of the measurement: DIR/NAME.json\n"
            "                        per VM (`cutover record` writes them); a VM without one\n"
            "                        keeps the assumed rate (--dirty-rate, else 0)\n"
            "  --calibration FILE    what the last drain learnt (--save-calibration wrote it):\n"
            "                        one stream's ceiling, the source's rate per number in\n"
            "                        flight, libvirt's per-VM set-up, the guests' real dirty\n"
            "                        rates (each VM seen by name, the others by the write\n"
            "                        ceiling), how far each VM's CPU throttle went (libvirt's\n"
            "                        ramp starts near there), the most at once whose\n"
            "                        switchovers kept the budget (one more is tried, unless\n"
            "                        that went over again lately: then not for 1, 2, 4 ... 8\n"
            "                        drains; and none that went over often lately: the\n"
            "                        switchover tally), and the last eight\n"
            "                        drains' times (each number at once, and the predicted\n"
            "                        total, scaled by what its drains took over the model's\n"
            "                        time); the plan and the report say it was used\n"
            "  --save-calibration FILE\n"
            "                        write what this drain learnt there (also in --json as\n"
            "                        \"learned\")\n"
            "  --call-timeout TIME   a migration's time limit for one libvirt call and for no\n"
            "                        progress (default 60s): then it is cancelled, its job\n"
            "                        aborted, and given up 2 x 5 s later, reported failed with\n"
            "                        where the VM runs (resumed on the source if left paused)\n"
            "  --log DIR             each migration's timeline (QEMU's figures at every poll,\n"
            "                        the policy's actions; the JSONL of migrate --log) in\n"
            "                        DIR/NAME.jsonl, appended; the run loop's starts, ends\n"
            "                        and changes of k in DIR/evacuate.jsonl; DIR is created\n"
            "                        if missing\n"
            "  --dry-run             print the plan and blockers; move nothing\n"
            "  --json                print the report as JSON\n\n"
            "SIGINT, SIGTERM and SIGHUP cancel the migrations in flight (each VM stays on the\n"
            "source, running) and start no more.\n"
            "Exit: 0 every VM moved (or shut down as asked); 1 some VM failed, was aborted or\n"
            "left; 64 usage (unknown option, bad URI); 65 a blocker with --unmovable fail;\n"
            "69 a host unreachable or no capacity anywhere; 73 --log DIR not writable; 75 stopped\n"
            "by a signal.\n");
}

typedef struct evac_args {
    const char *conn, *to, *cluster, *groups, *curves, *calib, *save_calib, *log_dir;
    co_cli_mig_flags mig;        /* --mtu, --max-downtime, --deadline, --allow */
    double nic, ratio, dirty_rate, stream, call_timeout;
    int concurrency, order, unmovable, dry_run, json, dirty_given, measure_all, no_early;
} evac_args;

static int parse_args(int argc, char **argv, evac_args *a)
{
    enum { O_CONNECT = 1, O_TO, O_CLUSTER, O_NIC, O_MTU, O_MAXDT, O_DEADLINE, O_ALLOW, O_CONC,
           O_ORDER, O_RATIO, O_GROUPS, O_UNMOV, O_DIRTY, O_DRY, O_JSON, O_HELP, O_MEASURE, O_STREAM,
           O_CALLTMO, O_CURVES, O_CALIB, O_SAVECALIB, O_NOEARLY, O_LOG };
    static const struct option opts[] = {
        {"connect", required_argument, NULL, O_CONNECT},
        {"to", required_argument, NULL, O_TO},
        {"cluster", required_argument, NULL, O_CLUSTER},
        {"nic", required_argument, NULL, O_NIC},
        {"mtu", required_argument, NULL, O_MTU},
        {"max-downtime", required_argument, NULL, O_MAXDT},
        {"deadline", required_argument, NULL, O_DEADLINE},
        {"allow", required_argument, NULL, O_ALLOW},
        {"concurrency", required_argument, NULL, O_CONC},
        {"order", required_argument, NULL, O_ORDER},
        {"alloc-ratio", required_argument, NULL, O_RATIO},
        {"groups", required_argument, NULL, O_GROUPS},
        {"unmovable", required_argument, NULL, O_UNMOV},
        {"dirty-rate", required_argument, NULL, O_DIRTY},
        {"dry-run", no_argument, NULL, O_DRY},
        {"measure-dirty", no_argument, NULL, O_MEASURE},
        {"stream-rate", required_argument, NULL, O_STREAM},
        {"json", no_argument, NULL, O_JSON},
        {"call-timeout", required_argument, NULL, O_CALLTMO},
        {"dirty-curves", required_argument, NULL, O_CURVES},
        {"calibration", required_argument, NULL, O_CALIB},
        {"save-calibration", required_argument, NULL, O_SAVECALIB},
        {"no-early-start", no_argument, NULL, O_NOEARLY},
        {"log", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    co_cli_mig_flags_init(&a->mig);
    a->ratio = 16.0;
    co_diag d;
    co_diag_init(&d);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int rc = CO_OK;
        char *end;
        switch (c) {
        case O_CONNECT: a->conn = optarg; break;
        case O_TO: a->to = optarg; break;
        case O_CLUSTER: a->cluster = optarg; break;
        case O_GROUPS: a->groups = optarg; break;
        case O_NIC:
            rc = co_parse_rate(optarg, "--nic", &a->nic, &d);
            if (rc == CO_OK && !(a->nic >= 1e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--nic '%s': expected at least 8kbit", optarg);
            break;
        case O_MTU: rc = co_cli_mig_flag(CO_CLI_MTU, optarg, NULL, &a->mig, &d); break;
        case O_MAXDT: rc = co_cli_mig_flag(CO_CLI_MAX_DOWNTIME, optarg, NULL, &a->mig, &d); break;
        case O_DEADLINE: rc = co_cli_mig_flag(CO_CLI_DEADLINE, optarg, NULL, &a->mig, &d); break;
        case O_ALLOW: rc = co_cli_mig_flag(CO_CLI_ALLOW, optarg, co_cli_evac_allow, &a->mig, &d); break;
        case O_CALLTMO:
            rc = co_parse_time(optarg, "--call-timeout", &a->call_timeout, &d);
            if (rc == CO_OK && !(a->call_timeout >= 1000 && a->call_timeout <= 3600e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--call-timeout '%s': expected 1s..1h", optarg);
            break;
        case O_CURVES: a->curves = optarg; break;
        case O_CONC:
            if (!strcmp(optarg, "auto")) {
                a->concurrency = 0;
                break;
            }
            errno = 0;
            a->concurrency = (int)strtol(optarg, &end, 10);
            if (*end || errno || a->concurrency < 1 || a->concurrency > CO_EVAC_MAX_K)
                rc = co_diag_set(&d, CO_EUSAGE, "--concurrency '%s': expected auto or 1..%d",
                                 optarg, CO_EVAC_MAX_K);
            break;
        case O_NOEARLY:
            a->no_early = 1;
            break;
        case O_ORDER:
            a->order = !strcmp(optarg, "auto") ? CO_EVAC_ORDER_AUTO
                       : !strcmp(optarg, "name") ? CO_EVAC_ORDER_NAME
                       : !strcmp(optarg, "given") ? CO_EVAC_ORDER_GIVEN : -1;
            if (a->order < 0)
                rc = co_diag_set(&d, CO_EUSAGE, "--order '%s': expected auto, name or given",
                                 optarg);
            break;
        case O_RATIO:
            errno = 0;
            a->ratio = strtod(optarg, &end);
            if (*end || errno || !(a->ratio > 0 && a->ratio <= 64))
                rc = co_diag_set(&d, CO_EUSAGE, "--alloc-ratio '%s': expected a number in "
                                 "(0, 64]", optarg);
            break;
        case O_UNMOV:
            a->unmovable = !strcmp(optarg, "fail") ? CO_EVAC_FAIL
                           : !strcmp(optarg, "shutdown") ? CO_EVAC_SHUTDOWN
                           : !strcmp(optarg, "leave") ? CO_EVAC_LEAVE : -1;
            if (a->unmovable < 0)
                rc = co_diag_set(&d, CO_EUSAGE, "--unmovable '%s': expected fail, shutdown or "
                                 "leave", optarg);
            break;
        case O_DIRTY:
            errno = 0;
            a->dirty_rate = strtod(optarg, &end);
            if (*end && strcmp(end, "MiB/s"))
                rc = co_diag_set(&d, CO_EUSAGE, "--dirty-rate '%s': expected MiB/s, e.g. 20",
                                 optarg);
            else if (!(a->dirty_rate >= 0 && a->dirty_rate < 1e6))
                rc = co_diag_set(&d, CO_EUSAGE, "--dirty-rate '%s': expected 0..1e6 MiB/s",
                                 optarg);
            a->dirty_given = 1;
            break;
        case O_DRY: a->dry_run = 1; break;
        case O_CALIB: a->calib = optarg; break;
        case O_LOG: a->log_dir = optarg; break;
        case O_SAVECALIB: a->save_calib = optarg; break;
        case O_MEASURE: a->measure_all = 1; break;
        case O_STREAM:
            rc = co_parse_rate(optarg, "--stream-rate", &a->stream, &d);
            if (rc == CO_OK && !(a->stream >= 1e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--stream-rate '%s': expected at least 8kbit",
                                 optarg);
            break;
        case O_JSON: a->json = 1; break;
        case 'h':
        case O_HELP: usage(stdout); return 1;
        case ':': return co_cli_usage(CMD, "%s needs a value", argv[optind - 1]);
        default: return co_cli_usage(CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
        if (rc != CO_OK)
            return co_cli_fail(CMD, &d);
    }
    if (optind < argc)
        return co_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (!a->conn)
        return co_cli_usage(CMD, "--connect URI (the host to empty) is required");
    if (!a->to && !a->cluster)
        return co_cli_usage(CMD, "--to URI[,URI...] (or --cluster FILE) is required");
    return CO_OK;
}

/* Destinations from --to, or every host of the cluster but the source;
 * NIC, MTU and migration addresses from the cluster file. */
static int setup_hosts(const evac_args *a, co_evac *e, co_diag *d)
{
    co_sim_cluster *cl = NULL;
    if (a->cluster && co_sim_load_file(a->cluster, &cl, d) != CO_OK) {
        co_diag_prefix(d, "--cluster");
        return d->code == CO_ENOINPUT ? CO_EUSAGE : d->code;
    }
    int rc = CO_OK, src = -1;
    if (cl) {
        for (int h = 0; h < cl->nhosts; h++)
            if (cl->hosts[h].uri && !strcmp(cl->hosts[h].uri, a->conn))
                src = h;
        if (src < 0) {
            rc = co_diag_set(d, CO_EUSAGE, "--connect %s: no host of %s has that \"uri\"",
                             a->conn, a->cluster);
            goto out;
        }
    }
    if (a->to) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", a->to);
        for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (e->ndests >= CO_EVAC_MAX_DEST) {
                rc = co_diag_set(d, CO_EUSAGE, "--to: at most %d destinations", CO_EVAC_MAX_DEST);
                goto out;
            }
            if (strlen(t) >= sizeof e->dests[0].uri || !strstr(t, "://")) {
                rc = co_diag_set(d, CO_EUSAGE, "--to '%.200s': expected a libvirt URI, e.g. "
                                 "qemu+tcp://HOST/system", t);
                goto out;
            }
            for (int i = 0; i < e->ndests; i++)
                if (!strcmp(e->dests[i].uri, t)) {
                    rc = co_diag_set(d, CO_EUSAGE, "--to %s given twice", t);
                    goto out;
                }
            snprintf(e->dests[e->ndests++].uri, sizeof e->dests[0].uri, "%s", t);
        }
    } else {
        for (int h = 0; h < cl->nhosts; h++)
            if (h != src && cl->hosts[h].uri && e->ndests < CO_EVAC_MAX_DEST)
                snprintf(e->dests[e->ndests++].uri, sizeof e->dests[0].uri, "%s",
                         cl->hosts[h].uri);
    }
    if (e->ndests == 0) {
        rc = co_diag_set(d, CO_EUSAGE, "no destination given");
        goto out;
    }
    if (cl) {
        e->nic_bytes_per_s = cl->hosts[src].nic_bytes_per_s;
        e->mtu = cl->hosts[src].mtu;
        snprintf(e->nic_source, sizeof e->nic_source, "cluster file");
        for (int i = 0; i < e->ndests; i++) {
            int found = 0;
            for (int h = 0; h < cl->nhosts; h++)
                if (cl->hosts[h].uri && !strcmp(cl->hosts[h].uri, e->dests[i].uri)) {
                    e->dests[i].nic_bytes_per_s = cl->hosts[h].nic_bytes_per_s;
                    if (cl->hosts[h].migration_uri)
                        snprintf(e->dests[i].migration_uri, sizeof e->dests[i].migration_uri,
                                 "%s", cl->hosts[h].migration_uri);
                    found = 1;
                }
            if (!found) {
                rc = co_diag_set(d, CO_EUSAGE, "--to %s: unknown host (no host of %s has that "
                                 "\"uri\")", e->dests[i].uri, a->cluster);
                goto out;
            }
        }
    }
    if (a->nic > 0) {
        e->nic_bytes_per_s = a->nic;
        snprintf(e->nic_source, sizeof e->nic_source, "--nic");
    }
    if (a->mig.mtu)
        e->mtu = a->mig.mtu;
out:
    co_sim_cluster_free(cl);
    return rc;
}

static int emit(const evac_args *a, const co_evac *e, const co_evac_result *r)
{
    if (a->json)
        return co_cli_emit_json(stdout, co_evac_result_json(e, r));
    co_evac_result_text(e, r, stdout);
    fflush(stdout);
    return 0;
}

int co_cmd_evacuate(int argc, char **argv)
{
    evac_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc != CO_OK)
        return prc == 1 ? 0 : prc;
    co_diag d;
    co_diag_init(&d);
    co_evac *e = malloc(sizeof *e);
    if (!e) {
        co_diag_set(&d, CO_ENOMEM, "out of memory");
        return co_cli_fail(CMD, &d);
    }
    co_evac_init(e);
    e->max_downtime_ms = a.mig.max_downtime_ms;
    e->deadline_ms = a.mig.deadline_ms;
    e->cpu_ratio = a.ratio;
    e->concurrency = a.concurrency;
    e->order_kind = a.order;
    e->no_early_start = a.no_early;
    e->default_dirty_mib_per_s = a.dirty_rate;
    e->stream_cap_bytes_per_s = a.stream;
    if (a.stream > 0)
        snprintf(e->stream_cap_source, sizeof e->stream_cap_source, "--stream-rate");
    int exit_code = 0;
    co_evac_result r = {.total_time_ms = NAN, .dry_run = a.dry_run};
    volatile sig_atomic_t *stop, *stop_signo;
    co_cli_catch_stop_signals(&stop, &stop_signo);
    co_evac_opts o = {.src_uri = a.conn, .allow = a.mig.allow,
                      .call_timeout_ms = (int)a.call_timeout,
                      .measure_dirty = a.dirty_given || a.curves ? 0 : a.measure_all ? 2 : 1,
                      .unmovable = a.unmovable, .progress = isatty(STDERR_FILENO) && !a.dry_run,
                      .stop_flag = stop, .stop_signo = stop_signo, .log_dir = a.log_dir};
    if ((a.log_dir && !a.dry_run && co_evac_check_log_dir(a.log_dir, &d) != CO_OK) ||
        setup_hosts(&a, e, &d) != CO_OK || co_evac_inventory(e, &o, &d) != CO_OK ||
        (a.curves && co_evac_load_curves(e, a.curves, &d) != CO_OK) ||
        (a.groups && co_evac_parse_groups(e, a.groups, &d) != CO_OK) ||
        (a.calib && co_evac_calib_apply(e, a.calib, &d) != CO_OK)) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (*stop) {
        co_diag_set(&d, CO_ECANCELED, "stopped by a signal before any VM moved");
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    int prc2 = co_evac_plan(e, &d);
    int blocked = 0;
    for (int i = 0; i < e->nvms; i++)
        blocked += e->vms[i].blocker[0] != '\0';
    if (a.dry_run || prc2 != CO_OK || (blocked && a.unmovable == CO_EVAC_FAIL)) {
        snprintf(r.status, sizeof r.status, "%s", a.dry_run ? "planned" : "failed");
        int jr = emit(&a, e, &r);
        if (prc2 != CO_OK)
            exit_code = co_cli_fail(CMD, &d);
        else if (blocked && a.unmovable == CO_EVAC_FAIL && !a.dry_run) {
            co_diag_set(&d, CO_EDATA, "%d VM(s) cannot move (see blockers); nothing moved "
                        "(--unmovable shutdown or leave to move the others)", blocked);
            exit_code = co_cli_fail(CMD, &d);
        } else
            exit_code = jr;
        goto out;
    }
    int rc = co_evac_run(e, &o, &r, &d);
    emit(&a, e, &r);
    if (rc != CO_OK)
        exit_code = co_cli_fail(CMD, &d);
    co_diag ds;
    co_diag_init(&ds);
    if (a.save_calib && co_evac_calib_save(e, a.save_calib, &ds) != CO_OK) {
        int x = co_cli_fail(CMD, &ds);
        if (rc == CO_OK)
            exit_code = x;
    }
out:
    free(e);
    return exit_code;
}
