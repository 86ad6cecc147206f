/* cli/cmd_lab.c: `cutover lab`, start a source and a destination QEMU running
 * the test guest (lab/lab.h), print where they are, stay up until
 * SIGINT/SIGTERM or --duration, then tear everything down. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "util/clock.h"
#include "lab/lab.h"
#include "util/units.h"

/* Set by SIGINT/SIGTERM; the only global, as the conventions allow. */
static volatile sig_atomic_t lab_stop_flag;

static void on_signal(int sig)
{
    lab_stop_flag = sig;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover lab [--mem SIZE] [--workload 'KEY=VALUE ...'] [--accel auto|kvm|tcg]\n"
            "                   [--duration TIME] [--guest PATH] [--json]\n\n"
            "Start a source QEMU running cutover's test guest and a destination QEMU waiting\n"
            "with -incoming on 127.0.0.1, print their QMP sockets, the migration URI and the\n"
            "heartbeat UDP port, stay up until SIGINT/SIGTERM (or --duration), then kill both\n"
            "and remove the temp dir.\n\n"
            "  --mem SIZE         guest RAM, whole MiB in 16MiB..3GiB (default 256MiB)\n"
            "  --workload STR     guest command line (default 'rate=1000'), e.g.\n"
            "                     'pattern=uniform rate=20000 wss=64M'\n"
            "                     'pattern=hotcold rate=20000 hot=16M cold=240M hotfrac=0.9'\n"
            "                     'pattern=seq rate=50000 wss=128M'  'phases=5s:1000,5s:50000'\n"
            "  --accel MODE       auto (default: kvm if /dev/kvm is usable and hardware-backed),\n"
            "                     kvm or tcg\n"
            "  --duration TIME    stop after TIME (e.g. 30s) instead of waiting for a signal\n"
            "  --guest PATH       the guest kernel (default $CUTOVER_GUEST or build/guest/guest.elf)\n"
            "  --json             print the lab description as JSON\n\n"
            "The guest, its workload keys and its serial protocol: docs/lab.md.\n");
}

static json_t *info_json(const co_lab_info *in)
{
    json_t *j = json_object();
    json_object_set_new(j, "src_qmp", json_string(in->src_qmp));
    json_object_set_new(j, "dst_qmp", in->dst_pid ? json_string(in->dst_qmp) : json_null());
    json_object_set_new(j, "migrate_uri", json_string(in->migrate_uri));
    json_object_set_new(j, "incoming_port", json_integer(in->incoming_port));
    json_object_set_new(j, "heartbeat_udp", json_sprintf("udp:127.0.0.1:%d", in->hb_port));
    json_object_set_new(j, "heartbeat_port", json_integer(in->hb_port));
    json_object_set_new(j, "accel", json_string(in->accel));
    json_object_set_new(j, "accel_reason", json_string(in->accel_reason));
    json_object_set_new(j, "src_pid", json_integer(in->src_pid));
    json_object_set_new(j, "dst_pid", json_integer(in->dst_pid));
    json_object_set_new(j, "mem_bytes", json_integer((json_int_t)in->mem_bytes));
    json_object_set_new(j, "guest", json_string(in->guest_path));
    json_object_set_new(j, "workload", json_string(in->workload));
    json_object_set_new(j, "dir", json_string(in->dir));
    json_object_set_new(j, "boot_ms", json_real(in->boot_ms));
    return j;
}

static void info_text(FILE *out, const co_lab_info *in)
{
    char mem[32];
    fprintf(out, "source QMP       %s (pid %d)\n", in->src_qmp, (int)in->src_pid);
    if (in->dst_pid)
        fprintf(out, "destination QMP  %s (pid %d)\n", in->dst_qmp, (int)in->dst_pid);
    fprintf(out, "migrate URI      %s\n", in->migrate_uri);
    fprintf(out, "heartbeat        udp:127.0.0.1:%d\n", in->hb_port);
    fprintf(out, "accel            %s (%s)\n", in->accel, in->accel_reason);
    fprintf(out, "memory           %s\n", co_fmt_size(in->mem_bytes, mem, sizeof mem));
    fprintf(out, "guest            %s\n", in->guest_path);
    fprintf(out, "workload         %s\n", in->workload);
    fprintf(out, "boot             %.0f ms to first heartbeat\n", in->boot_ms);
    fflush(out);
}

int co_cmd_lab(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mem", required_argument, NULL, 'm'},
        {"workload", required_argument, NULL, 'w'},
        {"accel", required_argument, NULL, 'a'},
        {"duration", required_argument, NULL, 'd'},
        {"guest", required_argument, NULL, 'g'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    co_lab_config cfg = {0};
    cfg.workload = "rate=1000";
    cfg.mem_bytes = 256.0 * 1048576;
    double duration_ms = 0;
    int json = 0;
    co_diag d;
    co_diag_init(&d);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (co_parse_size(optarg, "--mem", &cfg.mem_bytes, &d))
                return co_cli_fail("lab", &d);
            if (cfg.mem_bytes < 16.0 * 1048576 || cfg.mem_bytes > 3.0 * 1073741824 ||
                fmod(cfg.mem_bytes, 1048576.0) != 0)
                return co_cli_usage("lab", "--mem: '%s' is not a whole number of MiB in "
                                           "16MiB..3GiB", optarg);
            break;
        case 'w':
            cfg.workload = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "auto") == 0)
                cfg.accel = CO_LAB_ACCEL_AUTO;
            else if (strcmp(optarg, "kvm") == 0)
                cfg.accel = CO_LAB_ACCEL_KVM;
            else if (strcmp(optarg, "tcg") == 0)
                cfg.accel = CO_LAB_ACCEL_TCG;
            else
                return co_cli_usage("lab", "--accel: '%s' is not auto, kvm or tcg", optarg);
            break;
        case 'd':
            if (co_parse_time(optarg, "--duration", &duration_ms, &d))
                return co_cli_fail("lab", &d);
            if (duration_ms <= 0)
                return co_cli_usage("lab", "--duration: '%s' must be positive", optarg);
            break;
        case 'g':
            cfg.guest_path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return co_cli_usage("lab", "%s needs a value", argv[optind - 1]);
        default:
            return co_cli_usage("lab", "unknown option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return co_cli_usage("lab", "unexpected argument '%s'", argv[optind]);
    /* Check the workload before starting anything. */
    char canon[512];
    if (co_lab_workload_check(cfg.workload, cfg.mem_bytes, canon, sizeof canon, &d))
        return co_cli_fail("lab", &d);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waits wake up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    lab_stop_flag = 0;
    cfg.cancel = &lab_stop_flag;

    co_lab *lab = NULL;
    if (co_lab_start(&cfg, &lab, &d))
        return co_cli_fail("lab", &d); /* nothing left running, also when cancelled */
    const co_lab_info *in = co_lab_get_info(lab);
    int rc = json ? co_cli_emit_json(stdout, info_json(in)) : (info_text(stdout, in), 0);
    if (rc) {
        co_lab_stop(lab);
        return rc;
    }
    double end = duration_ms > 0 ? co_clock_ms() + duration_ms : INFINITY;
    int exit_code = 0;
    while (!lab_stop_flag && co_clock_ms() < end) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        /* The source may legitimately end after a completed migration
         * (someone may quit it); the lab only stops on its own if both
         * are gone. */
        co_diag dd;
        co_diag_init(&dd);
        int src = co_lab_alive(lab, 0, &dd);
        int dst = in->dst_pid ? co_lab_alive(lab, 1, &dd) : 0;
        if (!src && !dst) {
            fprintf(stderr, "cutover lab: both QEMUs are gone (%s)\n", dd.msg);
            exit_code = 69;
            break;
        }
    }
    co_lab_stop(lab);
    return exit_code;
}
