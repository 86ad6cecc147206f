/* cli/cmd_migrate.c: `cutover migrate`, drive one live migration. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/controller.h"
#include "engine/drv_qmp.h"
#include "engine/lock.h"
#include "model/link.h"
#include "util/error.h"
#include "util/units.h"

#define CMD "migrate"

/* Signal flag (the one global conventions allow): 1 = cancel asked. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop == 0)
        g_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover migrate --qmp SRC_SOCKET --uri tcp:HOST:PORT [options]\n\n"
            "Drive a live migration of a running QEMU (one cutover did not need to start) and\n"
            "pick the stop-and-copy moment.\n\n"
            "  --qmp PATH            QMP socket of the source QEMU (unix path or tcp:HOST:PORT)\n"
            "  --uri tcp:HOST:PORT   where the destination QEMU listens (-incoming)\n"
            "  --dest-qmp PATH       QMP socket of the destination (needed for postcopy, pause,\n"
            "                        multifd)\n"
            "  --max-downtime TIME   most downtime the guest can bear (default 300ms)\n"
            "  --deadline TIME       give up after this long (default 10m)\n"
            "  --bandwidth RATE      max-bandwidth for the migration, e.g. 1Gbit (default: as is)\n"
            "  --channels N          multifd channels (default: as is)\n"
            "  --allow LIST          auto-converge,dirty-limit,postcopy,pause or none (default\n"
            "                        none); dirty-limit needs KVM with a dirty ring\n"
            "  --policy NAME         adaptive (default), qemu, nova, ovirt, kubevirt\n"
            "  --heartbeat udp:PORT  measure the guest's heartbeat gaps on this UDP port\n"
            "  --log FILE            JSONL timeline of samples and actions\n"
            "  --poll TIME           query-migrate period, 50ms..100ms (default 100ms)\n"
            "  --link RATE           line rate of the migration link, e.g. 25Gbit: the stop-and-\n"
            "                        copy runs at it (QEMU lifts max-bandwidth then); default:\n"
            "                        the migration threads' rate on loopback, else unknown and\n"
            "                        assumed no faster than the pre-copy stream\n"
            "  --mtu N               IP MTU of that link, 576..65536 (default 1500)\n"
            "  --json                print the report as JSON\n\n"
            "SIGINT/SIGTERM cancel the migration; the guest keeps running on the source.\n"
            "Exit: 0 completed, 1 aborted or failed, 64 usage, 69 unavailable, 75 cancelled or busy.\n");
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

int co_cmd_migrate(int argc, char **argv)
{
    enum { O_QMP = 1, O_URI, O_DEST, O_MAXDT, O_DEADLINE, O_BW, O_CH, O_ALLOW, O_POLICY, O_HB,
           O_LOG, O_JSON, O_HELP, O_POLL, O_LINK, O_MTU };
    static const struct option opts[] = {
        {"qmp", required_argument, NULL, O_QMP},
        {"uri", required_argument, NULL, O_URI},
        {"dest-qmp", required_argument, NULL, O_DEST},
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
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *qmp = NULL, *uri = NULL, *dest = NULL, *log_path = NULL;
    double max_dt = 300, deadline = 600e3, bw = 0, poll = 100, link_rate = 0;
    int mtu = 0, channels = 0, json = 0, hb_port = -1, policy = CO_POL_ADAPTIVE;
    unsigned allow = 0;
    co_diag d;
    co_diag_init(&d);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int rc = CO_OK;
        switch (c) {
        case O_QMP: qmp = optarg; break;
        case O_URI: uri = optarg; break;
        case O_DEST: dest = optarg; break;
        case O_MAXDT:
            rc = co_parse_time(optarg, "--max-downtime", &max_dt, &d);
            if (rc == CO_OK && !(max_dt >= 1 && max_dt <= 600e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--max-downtime '%s': expected 1ms..10m", optarg);
            break;
        case O_DEADLINE:
            rc = co_parse_time(optarg, "--deadline", &deadline, &d);
            if (rc == CO_OK && !(deadline >= 1000 && deadline <= 7 * 86400e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--deadline '%s': expected 1s..7d", optarg);
            break;
        case O_BW:
            rc = co_parse_rate(optarg, "--bandwidth", &bw, &d);
            if (rc == CO_OK && !(bw >= 1e3))
                rc = co_diag_set(&d, CO_EUSAGE, "--bandwidth '%s': expected at least 8kbit",
                                 optarg);
            break;
        case O_CH: rc = parse_int(optarg, "--channels", 1, 255, &channels, &d); break;
        case O_ALLOW: rc = co_policy_parse_allow(optarg, &allow, &d); break;
        case O_POLICY:
            policy = co_policy_parse(optarg);
            if (policy < 0)
                rc = co_diag_set(&d, CO_EUSAGE, "--policy '%s': expected adaptive, qemu, nova, "
                                                "ovirt or kubevirt", optarg);
            break;
        case O_HB:
            if (strncmp(optarg, "udp:", 4) != 0)
                rc = co_diag_set(&d, CO_EUSAGE, "--heartbeat '%s': expected udp:PORT", optarg);
            else
                rc = parse_int(optarg + 4, "--heartbeat udp:PORT", 1, 65535, &hb_port, &d);
            break;
        case O_LOG: log_path = optarg; break;
        case O_JSON: json = 1; break;
        case O_POLL:
            rc = co_parse_time(optarg, "--poll", &poll, &d);
            if (rc == CO_OK && !(poll >= 50 && poll <= 100))
                rc = co_diag_set(&d, CO_EUSAGE, "--poll '%s': expected 50ms..100ms", optarg);
            break;
        case O_LINK:
            rc = co_parse_rate(optarg, "--link", &link_rate, &d);
            if (rc == CO_OK && !(link_rate >= 1e3 && link_rate <= 1e13))
                rc = co_diag_set(&d, CO_EUSAGE, "--link '%s': expected 8kbit..80Tbit", optarg);
            break;
        case O_MTU: rc = parse_int(optarg, "--mtu", CO_LINK_MTU_MIN, CO_LINK_MTU_MAX, &mtu, &d); break;
        case 'h':
        case O_HELP: usage(stdout); return 0;
        case ':': return co_cli_usage(CMD, "%s needs a value", argv[optind - 1]);
        default: return co_cli_usage(CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
        if (rc != CO_OK)
            return co_cli_fail(CMD, &d);
    }
    if (optind < argc)
        return co_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    if (!qmp)
        return co_cli_usage(CMD, "--qmp SRC_SOCKET is required");
    if (!uri)
        return co_cli_usage(CMD, "--uri tcp:HOST:PORT is required");
    char host[256];
    int port;
    if (co_ctl_parse_uri(uri, host, sizeof host, &port, &d) != CO_OK)
        return co_cli_fail(CMD, &d);
    if (channels > 1 && !dest)
        return co_cli_usage(CMD, "--channels %d needs --dest-qmp: multifd must be on at both ends",
                            channels);
    if (dest && strcmp(dest, qmp) == 0)
        return co_cli_usage(CMD, "--dest-qmp is the same socket as --qmp");

    /* Everything below changes nothing until co_ctl_run sends its first
     * command; each failure before it leaves the VM untouched. */
    co_lock lock = {.fd = -1};
    if (co_lock_take(&lock, qmp, &d) != CO_OK)
        return co_cli_fail(CMD, &d);
    int exit_code = 0;
    co_driver *src = NULL, *dst = NULL;
    co_hb *hb = NULL;
    FILE *log = NULL;
    if (co_drv_qmp_open(qmp, 5000, &src, &d) != CO_OK) {
        co_diag_prefix(&d, "--qmp %s", qmp);
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (co_ctl_check_dest(host, port, &d) != CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (dest && co_drv_qmp_open(dest, 5000, &dst, &d) != CO_OK) {
        co_diag_prefix(&d, "--dest-qmp %s", dest);
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (hb_port > 0 && co_hb_start(hb_port, &hb, &d) != CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    if (log_path && !(log = co_cli_open_out(log_path, "--log", &d))) {
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    co_ctl_config cfg = {
        .pol = {.kind = policy, .max_downtime_ms = max_dt, .deadline_ms = deadline,
                .allow = allow, .postcopy_ready = dst != NULL, .pause_ready = dst != NULL,
                .link_known = link_rate > 0, .link_rate_bytes_per_s = link_rate,
                .link_mtu = mtu},
        .uri = uri,
        .bandwidth_bytes_per_s = bw,
        .channels = channels,
        .poll_ms = (int)poll,
        .dst = dst,
        .hb = hb,
        .log = log,
        .progress = isatty(STDERR_FILENO),
        .stop_flag = &g_stop,
    };
    if ((allow & (CO_ALLOW_POSTCOPY | CO_ALLOW_PAUSE)) && !dst)
        fprintf(stderr, "cutover migrate: note: postcopy and pause need --dest-qmp (postcopy-ram "
                        "on both ends, resuming the destination); not used\n");
    co_ctl_result *res = calloc(1, sizeof *res);
    if (!res) {
        co_diag_set(&d, CO_ENOMEM, "out of memory");
        exit_code = co_cli_fail(CMD, &d);
        goto out;
    }
    int rc = co_ctl_run(src, &cfg, res, &d);
    int started = res->n_actions > 0; /* "start" is the first action */
    if (started) {
        if (json) {
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
    free(res);
out:
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
