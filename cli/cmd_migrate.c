/* cli/cmd_migrate.c: `cutover migrate`, drive one live migration through
 * QEMU's QMP socket (engine/drv_qmp) or libvirt (engine/drv_virt): the same
 * controller and policies either way; optionally measure the outage on the
 * wire with a live capture (engine/pcaplive). */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/controller.h"
#include "drivers/drv_qmp.h"
#include "drivers/drv_virt.h"
#include "engine/lock.h"
#include "meter/pcaplive.h"
#include "model/link.h"
#include "util/error.h"
#include "util/units.h"

#define CMD "migrate"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover migrate --qmp SRC_SOCKET --uri tcp:HOST:PORT [options]\n"
            "       cutover migrate --connect URI --domain NAME --to DEST_URI [--uri tcp:HOST[:PORT]]\n"
            "                       [--tls] [options]\n\n"
            "Drive a live migration of a running QEMU (one cutover did not need to start) and\n"
            "pick the stop-and-copy moment, through QEMU's QMP socket or through libvirt.\n\n"
            "QMP:\n"
            "  --qmp PATH            QMP socket of the source QEMU (unix path or tcp:HOST:PORT)\n"
            "  --uri tcp:HOST:PORT   where the destination QEMU listens (-incoming)\n"
            "  --dest-qmp PATH       QMP socket of the destination: checked before the start\n"
            "                        (inmigrate, listening on the --uri port); needed for\n"
            "                        postcopy, pause, multifd. Without it the destination is\n"
            "                        not checked (the report says so)\n"
            "libvirt (peer-to-peer live migration, virDomainMigrateToURI3):\n"
            "  --connect URI         the source libvirtd, e.g. qemu:///system\n"
            "  --domain NAME         the domain on it (name, UUID or id)\n"
            "  --to URI              the destination libvirtd as the source daemon reaches it,\n"
            "                        e.g. qemu+tcp://HOST/system or qemu+tls://HOST/system\n"
            "  --uri tcp:HOST[:PORT] the data stream's address (a migration network); default:\n"
            "                        what the destination's qemu.conf migration_host says\n"
            "  --tls                 QEMU's migration stream inside TLS (VIR_MIGRATE_TLS)\n"
            "Either:\n"
            "  --max-downtime TIME   most downtime the guest can bear (default 300ms)\n"
            "  --deadline TIME       give up after this long (default 10m)\n"
            "  --bandwidth RATE      max-bandwidth for the migration, e.g. 1Gbit (default: as is)\n"
            "  --channels N          multifd channels / libvirt parallel connections\n"
            "                        (default: as is)\n"
            "  --allow LIST          auto-converge,dirty-limit,postcopy,pause or none (default\n"
            "                        none); dirty-limit needs KVM with a dirty ring (QMP only);\n"
            "                        qemu-monitor (libvirt only): the throttle's cap and its\n"
            "                        live steps through libvirt-qemu's monitor passthrough,\n"
            "                        which libvirt 9.0 has no API for (taints the domain)\n"
            "  --policy NAME         adaptive (default), qemu, nova, ovirt, kubevirt\n"
            "  --heartbeat udp:[ADDR:]PORT[,from=ADDR[:PORT]]...\n"
            "                        measure the guest's heartbeat gaps on this UDP port, bound\n"
            "                        to ADDR only (default 127.0.0.1); datagrams from other\n"
            "                        senders than from= (default 127.0.0.1; required on a\n"
            "                        non-loopback ADDR) are counted as ignored\n"
            "  --measure pcap:IFACE,FILTER\n"
            "                        capture IFACE with the BPF FILTER during the migration and\n"
            "                        report the longest outage of that flow on the wire\n"
            "  --log FILE            JSONL timeline of samples and actions\n"
            "  --poll TIME           statistics period, 50ms..100ms (default 100ms)\n"
            "  --link RATE           line rate of the migration link, e.g. 25Gbit: the stop-and-\n"
            "                        copy runs at it (QEMU lifts max-bandwidth then); default:\n"
            "                        the migration threads' rate on loopback, else unknown and\n"
            "                        assumed no faster than the pre-copy stream\n"
            "  --mtu N               IP MTU of that link, 576..65536 (default 1500)\n"
            "  --dirty-rate-probe    adaptive: measure 1 s of the guest's dirty curve with QEMU's\n"
            "                        calc-dirty-rate when the migration starts (QMP only); the\n"
            "                        first plans then rest on two points instead of one\n"
            "  --json                print the report as JSON\n\n"
            "SIGINT, SIGTERM and SIGHUP cancel the migration, put back what cutover changed and\n"
            "leave the guest running on the source (during post-copy it finishes instead); before\n"
            "the start they stop there. A second signal cuts the cleanup short: cancel, resume\n"
            "the guest, lift a dirty limit, exit.\n"
            "Exit: 0 completed, 1 aborted or failed, 64 usage, 66 no such domain, 69 unavailable,\n"
            "75 cancelled or busy, 77 permission denied.\n");
}

static int parse_int(const char *text, const char *flag, int lo, int hi, int *out, co_diag *d)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno || v < lo || v > hi)
        return co_diag_set(d, CO_EUSAGE, "%s '%s': expected an integer in %d..%d", flag, text, lo,
                           hi);
    *out = (int)v;
    return CO_OK;
}

typedef struct mig_args {
    const char *qmp, *uri, *dest, *log_path;
    const char *conn, *domain, *to, *measure;
    int tls;
    double max_dt, deadline, bw, poll, link_rate;
    int mtu, channels, json, hb_on, policy, probe;
    co_hb_opts hb;                 /* --heartbeat */
    unsigned allow;
    char data_uri[512];            /* libvirt --uri as tcp://HOST[:PORT] */
    char iface[64], filter[256];   /* --measure */
} mig_args;

/* Parse argv into a. CO_OK, 1 when --help was printed, or an exit code
 * (> 1) after the message was printed. */
/* --allow: migrate's own item beside the policy's (the policy sees the
 * low byte only) */
#define MIG_ALLOW_QEMU_MONITOR 0x100u
static const co_cli_allow_item mig_allow[] = {
    {"qemu-monitor", MIG_ALLOW_QEMU_MONITOR},
    {NULL, 0},
};

static int parse_args(int argc, char **argv, mig_args *a)
{
    enum { O_QMP = 1, O_URI, O_DEST, O_MAXDT, O_DEADLINE, O_BW, O_CH, O_ALLOW, O_POLICY, O_HB,
           O_LOG, O_JSON, O_HELP, O_POLL, O_LINK, O_MTU, O_CONNECT, O_DOMAIN, O_TO, O_TLS,
           O_MEASURE, O_PROBE };
    static const struct option opts[] = {
        {"qmp", required_argument, NULL, O_QMP},
        {"uri", required_argument, NULL, O_URI},
        {"dest-qmp", required_argument, NULL, O_DEST},
        {"connect", required_argument, NULL, O_CONNECT},
        {"domain", required_argument, NULL, O_DOMAIN},
        {"to", required_argument, NULL, O_TO},
        {"tls", no_argument, NULL, O_TLS},
        {"measure", required_argument, NULL, O_MEASURE},
        {"max-downtime", required_argument, NULL, O_MAXDT},
        {"deadline", required_argument, NULL, O_DEADLINE},
        {"bandwidth", required_argument, NULL, O_BW},
        {"channels", required_argument, NULL, O_CH},
        {"allow", required_argument, NULL, O_ALLOW},
        {"policy", required_argument, NULL, O_POLICY},
        {"heartbeat", required_argument, NULL, O_HB},
        {"log", required_argument, NULL, O_LOG},
        {"json", no_argument, NULL, O_JSON},
        {"poll", required_argument, NULL, O_POLL},
        {"link", required_argument, NULL, O_LINK},
        {"mtu", required_argument, NULL, O_MTU},
        {"dirty-rate-probe", no_argument, NULL, O_PROBE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    co_cli_mig_flags mf;
    co_cli_mig_flags_init(&mf);
    a->max_dt = mf.max_downtime_ms;
    a->deadline = mf.deadline_ms;
    a->poll = 100;
    a->policy = CO_POL_ADAPTIVE;
    co_diag d;
    co_diag_init(&d);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int rc = CO_OK;
        switch (c) {
        case O_QMP: a->qmp = optarg; break;
        case O_URI: a->uri = optarg; break;
        case O_DEST: a->dest = optarg; break;
        case O_CONNECT: a->conn = optarg; break;
        case O_DOMAIN: a->domain = optarg; break;
        case O_TO: a->to = optarg; break;
        case O_TLS: a->tls = 1; break;
        case O_PROBE: a->probe = 1; break;
        case O_MEASURE:
            a->measure = optarg;
            rc = co_dtm_parse_measure(optarg, a->iface, sizeof a->iface, a->filter,
                                      sizeof a->filter, &d);
            break;
        case O_MAXDT:
            rc = co_cli_mig_flag(CO_CLI_MAX_DOWNTIME, optarg, NULL, &mf, &d);
            a->max_dt = mf.max_downtime_ms;
            break;
        case O_DEADLINE:
            rc = co_cli_mig_flag(CO_CLI_DEADLINE, optarg, NULL, &mf, &d);
            a->deadline = mf.deadline_ms;
            break;
        case O_BW:
            rc = co_parse_rate(optarg, "--bandwidth", &a->bw, &d);
            if (rc == CO_OK && !(a->bw >= 1e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--bandwidth '%s': expected at least 8kbit",
                                 optarg);
            break;
        case O_CH: rc = parse_int(optarg, "--channels", 1, 255, &a->channels, &d); break;
        case O_ALLOW:
            rc = co_cli_mig_flag(CO_CLI_ALLOW, optarg, mig_allow, &mf, &d);
            a->allow = mf.allow;
            break;
        case O_POLICY:
            a->policy = co_pol_parse(optarg);
            if (a->policy < 0)
                rc = co_diag_set(&d, CO_EUSAGE, "--policy '%s': expected adaptive, qemu, nova, "
                                                "ovirt or kubevirt", optarg);
            break;
        case O_HB:
            rc = co_hb_parse(optarg, &a->hb, &d);
            a->hb_on = rc == CO_OK;
            break;
        case O_LOG: a->log_path = optarg; break;
        case O_JSON: a->json = 1; break;
        case O_POLL:
            rc = co_parse_time(optarg, "--poll", &a->poll, &d);
            if (rc == CO_OK && !(a->poll >= 50 && a->poll <= 100))
                rc = co_diag_set(&d, CO_EUSAGE, "--poll '%s': expected 50ms..100ms", optarg);
            break;
        case O_LINK:
            rc = co_parse_rate(optarg, "--link", &a->link_rate, &d);
            if (rc == CO_OK && !(a->link_rate >= 1e3 && a->link_rate <= 1e13))
                rc = co_diag_set(&d, CO_EUSAGE, "--link '%s': expected 8kbit..80Tbit", optarg);
            break;
        case O_MTU:
            rc = co_cli_mig_flag(CO_CLI_MTU, optarg, NULL, &mf, &d);
            a->mtu = mf.mtu;
            break;
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
    if (a->qmp && a->conn)
        return co_cli_usage(CMD, "--qmp and --connect are mutually exclusive (drive QEMU "
                                 "through its QMP socket or through libvirt, not both)");
    if (a->conn) {
        if (a->dest)
            return co_cli_usage(CMD, "--dest-qmp is for --qmp; with --connect libvirt drives "
                                     "the destination");
        if (!a->domain)
            return co_cli_usage(CMD, "--connect needs --domain NAME");
        if (!a->to)
            return co_cli_usage(CMD, "--connect needs --to DEST_URI (e.g. "
                                     "qemu+tcp://HOST/system)");
        if (a->uri) {
            /* libvirt takes tcp://HOST[:PORT]; accept QEMU's tcp:HOST[:PORT] too */
            const char *rest = strncmp(a->uri, "tcp://", 6) == 0 ? a->uri + 6
                               : strncmp(a->uri, "tcp:", 4) == 0 ? a->uri + 4 : NULL;
            if (rest == NULL || *rest == '\0' || *rest == ':' || strchr(rest, '/'))
                return co_cli_usage(CMD, "--uri '%s': expected tcp:HOST[:PORT] (the data "
                                         "stream's address)", a->uri);
            snprintf(a->data_uri, sizeof a->data_uri, "tcp://%s", rest);
        }
        return CO_OK;
    }
    if (a->domain || a->to || a->tls || (a->allow & MIG_ALLOW_QEMU_MONITOR))
        return co_cli_usage(CMD, "%s needs --connect URI (libvirt)",
                            a->domain ? "--domain" : a->to ? "--to" : a->tls ? "--tls"
                                                                      : "--allow qemu-monitor");
    if (!a->qmp)
        return co_cli_usage(CMD, "--qmp SRC_SOCKET or --connect URI is required");
    if (!a->uri)
        return co_cli_usage(CMD, "--uri tcp:HOST:PORT is required");
    if (a->channels > 1 && !a->dest)
        return co_cli_usage(CMD, "--channels %d needs --dest-qmp: multifd must be on at both ends",
                            a->channels);
    if (a->dest && strcmp(a->dest, a->qmp) == 0)
        return co_cli_usage(CMD, "--dest-qmp is the same socket as --qmp");
    return CO_OK;
}

/* Open the source (and for QMP the destination) and take the VM's lock.
 * Changes nothing in the VM. CO_OK or an error in d. */
static int open_source(mig_args *a, co_lock *lock, co_drv **src, co_drv **dst, co_diag *d)
{
    if (a->conn) {
        co_virt_opts o = {.conn_uri = a->conn, .domain = a->domain, .dest_uri = a->to,
                          .migrate_uri = a->data_uri[0] ? a->data_uri : NULL, .tls = a->tls,
                          .qemu_monitor = (a->allow & MIG_ALLOW_QEMU_MONITOR) != 0};
        if (co_virt_open(&o, src, d) != CO_OK)
            return d->code;
        char key[1200];
        if (co_virt_lock_key(*src, key, sizeof key) != CO_OK)
            return co_diag_set(d, CO_ESOFTWARE, "lock key of %s too long", a->domain);
        return co_lock_take(lock, key, d);
    }
    char host[256];
    int port;
    if (co_ctl_parse_uri(a->uri, host, sizeof host, &port, d) != CO_OK)
        return d->code;
    /* the lock comes before the connection: QEMU's QMP serves one client
     * at a time, so a second cutover would wait for a greeting instead of
     * being told who holds the VM */
    char key[PATH_MAX + 8];
    co_drv_qmp_vm_id(a->qmp, key, sizeof key);
    if (co_lock_take(lock, key, d) != CO_OK)
        return d->code;
    if (co_drv_qmp_open(a->qmp, 5000, src, d) != CO_OK) {
        co_diag_prefix(d, "--qmp %s", a->qmp);
        return d->code;
    }
    if (strcmp((*src)->ops->vm_id(*src), key) != 0) /* the socket was replaced meanwhile */
        return co_diag_set(d, CO_EBUSY, "--qmp %s: the socket changed while cutover locked it",
                           a->qmp);
    if (a->dest && co_drv_qmp_open(a->dest, 5000, dst, d) != CO_OK) {
        co_diag_prefix(d, "--dest-qmp %s", a->dest);
        return d->code;
    }
    return CO_OK;
}

/* Start the --measure capture; a bad interface or filter is a usage error
 * naming the flag. */
static int measure_start(const mig_args *a, co_dtm_live **live, co_diag *d)
{
    co_dtm_live_opts o = {.iface = a->iface, .filter = a->filter};
    int rc = co_dtm_live_start(&o, live, d);
    if (rc == CO_OK)
        return CO_OK;
    if (rc == CO_ENOINPUT || rc == CO_EUSAGE)
        rc = d->code = CO_EUSAGE;
    co_diag_prefix(d, "--measure '%s'", a->measure);
    return rc;
}

/* Stop the capture and put what it saw into res->measure. */
static void measure_finish(const mig_args *a, co_dtm_live *live, co_ctl_result *res)
{
    co_ctl_measure *m = &res->measure;
    m->on = 1;
    snprintf(m->iface, sizeof m->iface, "%s", a->iface);
    snprintf(m->filter, sizeof m->filter, "%s", a->filter);
    co_dtm_result r;
    co_diag d;
    co_diag_init(&d);
    if (co_dtm_live_stop(live, &r, NULL, &d) != CO_OK) {
        snprintf(m->error, sizeof m->error, "%.250s", d.msg);
        m->packets = (double)r.packets;
        co_dtm_result_free(&r);
        return;
    }
    m->mode = r.mode == CO_DTM_PING ? "ping" : "gap";
    m->packets = (double)r.packets;
    m->outages = (double)r.n_outages;
    m->longest_outage_ms = r.longest_outage_ms;
    co_dtm_result_free(&r);
}

/* After a completed migration the flow resumes on the destination within
 * milliseconds; capture that long before stopping, or the last outage would
 * stay open. */
#define MEASURE_SETTLE_US 500000

int co_cmd_migrate(int argc, char **argv)
{
    mig_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc != CO_OK)
        return prc == 1 ? 0 : prc;
    co_diag d;
    co_diag_init(&d);

    /* Everything below changes nothing until co_ctl_run sends its first
     * command; each failure before it leaves the VM untouched. */
    co_lock lock = {.fd = -1};
    int exit_code = 0;
    co_drv *src = NULL, *dst = NULL;
    co_hb *hb = NULL;
    co_dtm_live *live = NULL;
    FILE *log = NULL;
    co_ctl_result *res = NULL;
    /* from here a signal stops the run; before the migration starts it
     * stops it there (a slow QMP connect waits for its timeout first) */
    volatile sig_atomic_t *stop, *stop_signo;
    co_cli_catch_stop_signals(&stop, &stop_signo);
    if (open_source(&a, &lock, &src, &dst, &d) != CO_OK || *stop) {
        if (*stop) {
            co_diag_init(&d); /* the stop explains a failed wait too */
            co_diag_set(&d, CO_ECANCELED,
                        "stopped by %s before the migration started; the VM is as it was",
                        co_cli_signal_name((int)*stop_signo));
        }
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (a.hb_on && co_hb_start_opts(&a.hb, &hb, &d) != CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (a.log_path && !(log = co_cli_open_out(a.log_path, "--log", &d))) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (!(res = calloc(1, sizeof *res))) {
        co_diag_set(&d, CO_ENOMEM, "out of memory");
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (a.measure && measure_start(&a, &live, &d) != CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }

    /* libvirt switches both ends to post-copy itself; pausing would need
     * the destination resumed by us, which only --dest-qmp offers */
    int virt = a.conn != NULL;
    co_ctl_config cfg = {
        .pol = {.kind = a.policy, .max_downtime_ms = a.max_dt, .deadline_ms = a.deadline,
                .allow = a.allow & 0xffu, .postcopy_ready = virt || dst != NULL,
                .pause_ready = dst != NULL, .link_known = a.link_rate > 0,
                .link_rate_bytes_per_s = a.link_rate, .link_mtu = a.mtu},
        .uri = virt ? a.to : a.uri,
        .bandwidth_bytes_per_s = a.bw,
        .channels = a.channels,
        .poll_ms = (int)a.poll,
        .dst = dst,
        .hb = hb,
        .log = log,
        .progress = isatty(STDERR_FILENO),
        .dirty_rate_probe = a.probe,
        .stop_flag = stop,
        .stop_signo = stop_signo,
    };
    if ((a.allow & CO_ALLOW_PAUSE) && !dst)
        fprintf(stderr, "cutover migrate: note: pause needs --dest-qmp (resuming the "
                        "destination); not used\n");
    if ((a.allow & CO_ALLOW_POSTCOPY) && !cfg.pol.postcopy_ready)
        fprintf(stderr, "cutover migrate: note: postcopy needs --dest-qmp (postcopy-ram on "
                        "both ends); not used\n");
    int rc = co_ctl_run(src, &cfg, res, &d);
    int started = res->n_actions > 0; /* "start" is the first action; none before it */
    if (live) {
        if (rc == CO_OK && !hb)
            usleep(MEASURE_SETTLE_US); /* with --heartbeat the controller waited */
        measure_finish(&a, live, res);
        live = NULL;
    }
    if (started) {
        if (a.json) {
            int jr = co_cli_emit_json(stdout, co_ctl_result_json(res));
            if (jr && rc == CO_OK)
                exit_code = jr;
        } else {
            co_ctl_result_text(res, stdout);
            fflush(stdout);
        }
    }
    if (rc != CO_OK)
        exit_code = co_cli_fail(CMD, &d);
out:
    if (live) {
        co_dtm_result r;
        co_diag ignore;
        co_diag_init(&ignore);
        co_dtm_live_stop(live, &r, NULL, &ignore);
        co_dtm_result_free(&r);
    }
    free(res);
    if (log && log != stdout)
        fclose(log);
    co_hb_stop(hb);
    if (dst)
        dst->ops->close(dst);
    if (src)
        src->ops->close(src);
    co_lock_release(&lock);
    return exit_code;
}
