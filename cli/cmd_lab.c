/* cli/cmd_lab.c: `cutover lab`, start a source and a destination QEMU running
 * the test guest (lab/lab.h), print where they are, stay up until
 * SIGINT/SIGTERM or --duration, then tear everything down; and `cutover lab
 * cluster up|reboot|down|status`, the multi-host libvirt lab (lab/cluster.h). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "util/clock.h"
#include "lab/cluster.h"
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
            "                   [--link RATE [--mtu N]] [--duration TIME] [--guest PATH] [--json]\n\n"
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
            "  --link RATE        (root) put the destination in a network namespace behind a\n"
            "                     veth shaped with tbf at RATE both ways (e.g. 400Mbit): the\n"
            "                     migration stream, stop-and-copy included, runs at RATE;\n"
            "                     removed when the lab stops (docs/lab.md)\n"
            "  --mtu N            the link's MTU, 576..65520 (default 1500; with --link)\n"
            "  --duration TIME    stop after TIME (e.g. 30s) instead of waiting for a signal\n"
            "  --guest PATH       the guest kernel (default $CUTOVER_GUEST or build/guest/guest.elf)\n"
            "  --json             print the lab description as JSON\n\n"
            "The guest, its workload keys and its serial protocol: docs/lab.md.\n\n"
            "usage: cutover lab cluster up DIR --hosts N [--vms M] [--nic RATE] [--mtu N]\n"
            "                              [--workloads FILE] [--mem SIZE] [--json]\n"
            "       cutover lab cluster reboot DIR HOST\n"
            "       cutover lab cluster restart-daemon DIR HOST\n"
            "       cutover lab cluster status DIR [--json]\n"
            "       cutover lab cluster exec DIR HOST -- PROGRAM [ARG...]\n"
            "       cutover lab cluster down DIR\n\n"
            "The cluster lab (root): N libvirt hosts h1..hN (2..6), each a libvirtd in its own\n"
            "network, mount and PID namespace, on a bridge with tc-shaped links, and M test\n"
            "guests (libvirt domains) spread over them. Writes DIR/cluster.json (what\n"
            "`cutover simulate` reads, with each host's \"uri\" and \"migration_uri\") and\n"
            "DIR/lab.json (addresses, namespaces, each VM's heartbeat port).\n\n"
            "  --hosts N          libvirt hosts, 2..6\n"
            "  --vms M            guests, 0..64, round-robin over the hosts (default: one per\n"
            "                     line of --workloads, else one per host)\n"
            "  --nic RATE         each host's link rate, both directions (default 1Gbit)\n"
            "  --mtu N            MTU of every link, 1280..9000 (default 9000)\n"
            "  --mem SIZE         guest RAM, whole MiB in 16MiB..1GiB (default 128MiB)\n"
            "  --workloads FILE   one guest command line per line (cycled over the VMs); the\n"
            "                     lab keys host=hK and mem=SIZE may lead it; # comments\n"
            "reboot kills HOST's QEMUs and restarts its libvirtd on the same state (its\n"
            "persistent domains come back shut off); restart-daemon restarts only HOST's\n"
            "libvirtd (its QEMUs keep running); status gives each daemon 5 s; down removes everything, also after a\n"
            "crash. Each host is reachable as qemu+tcp://169.254.S.K/system from this\n"
            "machine and from the other hosts; exec runs PROGRAM (no shell) in HOST's network\n"
            "namespace, as `ip netns exec coclS-hK PROGRAM` does (cluster.json's mtu_probe\n"
            "hook pings through it).\n");
}

static json_t *info_json(const co_lab_info *in)
{
    json_t *j = json_object();
    json_object_set_new(j, "src_qmp", json_string(in->src_qmp));
    json_object_set_new(j, "dst_qmp", in->dst_pid ? json_string(in->dst_qmp) : json_null());
    json_object_set_new(j, "migrate_uri", json_string(in->migrate_uri));
    json_object_set_new(j, "incoming_port", json_integer(in->incoming_port));
    json_object_set_new(j, "heartbeat_udp", json_sprintf("udp:%s:%d", in->hb_addr, in->hb_port));
    if (in->link_netns[0]) {
        json_t *l = json_object();
        json_object_set_new(l, "rate_bits_per_s", json_real(in->link_rate_bits_per_s));
        json_object_set_new(l, "mtu", json_integer(in->link_mtu));
        json_object_set_new(l, "netns", json_string(in->link_netns));
        json_object_set_new(l, "dev", json_string(in->link_dev));
        json_object_set_new(l, "addr", json_string(in->link_root_addr));
        json_object_set_new(l, "dst_addr", json_string(in->link_dst_addr));
        json_object_set_new(j, "link", l);
    } else {
        json_object_set_new(j, "link", json_null());
    }
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
    fprintf(out, "heartbeat        udp:%s:%d\n", in->hb_addr, in->hb_port);
    if (in->link_netns[0])
        fprintf(out, "link             %s (%s) -> %s in netns %s, tbf %.0f Mbit/s both ways, "
                     "MTU %d\n", in->link_dev, in->link_root_addr, in->link_dst_addr,
                in->link_netns, in->link_rate_bits_per_s / 1e6, in->link_mtu);
    fprintf(out, "accel            %s (%s)\n", in->accel, in->accel_reason);
    fprintf(out, "memory           %s\n", co_fmt_size(in->mem_bytes, mem, sizeof mem));
    fprintf(out, "guest            %s\n", in->guest_path);
    fprintf(out, "workload         %s\n", in->workload);
    fprintf(out, "boot             %.0f ms to first heartbeat\n", in->boot_ms);
    fflush(out);
}

static void cluster_text(FILE *out, const co_cluster *c, const co_cluster_dom *doms, int nd)
{
    char rate[32], mem[32], t[32];
    fprintf(out, "cluster   %s (%d hosts, %d VMs, %s)\n", c->dir, c->nhosts, c->nvms, c->accel);
    fprintf(out, "links     %s each way, MTU %d, bridge in netns %s, this machine %s\n",
            co_fmt_rate(c->nic_bytes_per_s, rate, sizeof rate), c->mtu, c->switch_netns,
            c->root_addr);
    for (int k = 0; k < c->nhosts; k++) {
        const co_cluster_host *h = &c->hosts[k];
        fprintf(out, "%-4s %-4s %s  migration %s  netns %s\n", h->name,
                doms ? (h->up ? "up" : "DOWN") : "", h->uri, h->migration_uri, h->netns);
        if (doms) {
            for (int i = 0; i < nd; i++)
                if (doms[i].host == k)
                    fprintf(out, "          %-8s %s\n", doms[i].name, doms[i].state);
        } else {
            for (int i = 0; i < c->nvms; i++)
                if (c->vms[i].host == k)
                    fprintf(out, "          %-6s %s  heartbeat udp:%d  %s  boot %s\n",
                            c->vms[i].name, co_fmt_size(c->vms[i].mem_bytes, mem, sizeof mem),
                            c->vms[i].hb_port, c->vms[i].workload,
                            co_fmt_time(c->vms[i].boot_ms, t, sizeof t));
        }
    }
    if (!doms)
        fprintf(out, "up in %s; simulate: %s/cluster.json\n", co_fmt_time(c->up_ms, t, sizeof t),
                c->dir);
    fflush(out);
}

#define CL "lab cluster"

static int cluster_up(int argc, char **argv)
{
    static const struct option opts[] = {
        {"hosts", required_argument, NULL, 'n'}, {"vms", required_argument, NULL, 'v'},
        {"nic", required_argument, NULL, 'r'},   {"mtu", required_argument, NULL, 'u'},
        {"workloads", required_argument, NULL, 'w'}, {"mem", required_argument, NULL, 'm'},
        {"guest", required_argument, NULL, 'g'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    co_cluster_config cfg = {.hosts = -1, .vms = -1, .watch_fd = -1};
    int json = 0, c;
    co_diag d;
    co_diag_init(&d);
    double x;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 'n':
        case 'v':
        case 'u':
            v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v > 100000)
                return co_cli_usage(CL, "%s: '%s' is not a whole number", argv[optind - 1],
                                    optarg);
            if (c == 'n')
                cfg.hosts = (int)v;
            else if (c == 'v')
                cfg.vms = (int)v;
            else
                cfg.mtu = (int)v;
            if (c == 'u' && (v < 1280 || v > 9000))
                return co_cli_usage(CL, "--mtu: %ld is not in 1280..9000", v);
            if (c == 'v' && v > CO_CLUSTER_MAX_VMS)
                return co_cli_usage(CL, "--vms: %ld is not in 0..%d", v, CO_CLUSTER_MAX_VMS);
            if (c == 'n' && (v < 2 || v > CO_CLUSTER_MAX_HOSTS))
                return co_cli_usage(CL, "--hosts: %ld is not in 2..%d", v, CO_CLUSTER_MAX_HOSTS);
            break;
        case 'r':
            if (co_parse_rate(optarg, "--nic", &x, &d))
                return co_cli_fail(CL, &d);
            if (x < 125e3 || x > 12.5e9)
                return co_cli_usage(CL, "--nic: '%s' is not in 1Mbit..100Gbit", optarg);
            cfg.nic_bytes_per_s = x;
            break;
        case 'm':
            if (co_parse_size(optarg, "--mem", &x, &d))
                return co_cli_fail(CL, &d);
            if (x < 16.0 * 1048576 || x > 1073741824.0 || fmod(x, 1048576.0) != 0)
                return co_cli_usage(CL, "--mem: '%s' is not a whole number of MiB in "
                                        "16MiB..1GiB", optarg);
            cfg.mem_bytes = x;
            break;
        case 'w':
            cfg.workloads_path = optarg;
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
            return co_cli_usage(CL, "%s needs a value", argv[optind - 1]);
        default:
            return co_cli_usage(CL, "unknown option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return co_cli_usage(CL, "up: missing DIR");
    if (optind + 1 < argc)
        return co_cli_usage(CL, "unexpected argument '%s'", argv[optind + 1]);
    if (cfg.hosts < 0)
        return co_cli_usage(CL, "up: --hosts N is required");
    if (cfg.vms < 0 && !cfg.workloads_path)
        cfg.vms = cfg.hosts;
    cfg.dir = argv[optind];
    /* tests tie the cluster to their life: an fd whose EOF tears it down */
    const char *w = getenv("CUTOVER_LAB_WATCH_FD");
    if (w && *w) {
        char *end;
        long fd = strtol(w, &end, 10);
        if (*end != '\0' || fd < 3 || fd > 1024)
            return co_cli_usage(CL, "$CUTOVER_LAB_WATCH_FD: '%s' is not an fd number", w);
        cfg.watch_fd = (int)fd;
    }
    co_cluster *cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        co_diag_set(&d, CO_ENOMEM, "out of memory");
        return co_cli_fail(CL, &d);
    }
    int rc = co_cluster_up(&cfg, cl, &d);
    if (rc) {
        free(cl);
        return co_cli_fail(CL, &d);
    }
    rc = json ? co_cli_emit_json(stdout, co_cluster_json(cl, NULL, 0))
              : (cluster_text(stdout, cl, NULL, 0), 0);
    free(cl);
    return rc;
}

static int cluster_simple(const char *sub, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j' && strcmp(sub, "status") == 0) {
            json = 1;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            return co_cli_usage(CL, "%s: unknown option '%s' (try --help)", sub,
                                argv[optind - 1]);
        }
    }
    int want = strcmp(sub, "reboot") == 0 || strcmp(sub, "restart-daemon") == 0 ? 2 : 1;
    if (argc - optind != want)
        return co_cli_usage(CL, "%s: expected %s", sub, want == 2 ? "DIR HOST" : "DIR");
    const char *dir = argv[optind];
    co_diag d;
    co_diag_init(&d);
    if (strcmp(sub, "down") == 0)
        return co_cluster_down(dir, &d) ? co_cli_fail(CL, &d) : 0;
    if (strcmp(sub, "reboot") == 0)
        return co_cluster_reboot(dir, argv[optind + 1], &d) ? co_cli_fail(CL, &d) : 0;
    if (strcmp(sub, "restart-daemon") == 0)
        return co_cluster_restart_daemon(dir, argv[optind + 1], &d) ? co_cli_fail(CL, &d) : 0;
    co_cluster *cl = calloc(1, sizeof *cl);
    co_cluster_dom *doms = calloc(CO_CLUSTER_MAX_VMS * CO_CLUSTER_MAX_HOSTS, sizeof *doms);
    int nd = 0, rc = 0;
    if (cl == NULL || doms == NULL)
        co_diag_set(&d, CO_ENOMEM, "out of memory");
    if (cl == NULL || doms == NULL || co_cluster_load(dir, cl, &d) ||
        co_cluster_status(cl, doms, CO_CLUSTER_MAX_VMS * CO_CLUSTER_MAX_HOSTS, &nd, &d))
        rc = co_cli_fail(CL, &d);
    else if (json)
        rc = co_cli_emit_json(stdout, co_cluster_json(cl, doms, nd));
    else
        cluster_text(stdout, cl, doms, nd);
    free(cl);
    free(doms);
    return rc;
}

static int cluster_cmd(int argc, char **argv)
{
    if (argc < 2)
        return co_cli_usage(CL, "expected up, reboot, restart-daemon, status, exec or down (try "
                                "--help)");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "up") == 0)
        return cluster_up(argc - 1, argv + 1);
    if (strcmp(sub, "exec") == 0) {
        /* exec DIR HOST [--] PROGRAM [ARG...]: no option parsing past HOST */
        int a = 2;
        if (argc - a < 3 || (argc - a == 3 && strcmp(argv[a + 2], "--") == 0))
            return co_cli_usage(CL, "exec: expected DIR HOST -- PROGRAM [ARG...]");
        char **prog = argv + a + 2;
        if (strcmp(prog[0], "--") == 0)
            prog++;
        co_diag d;
        co_diag_init(&d);
        co_cluster_exec(argv[a], argv[a + 1], prog, &d);
        return co_cli_fail(CL, &d);
    }
    if (strcmp(sub, "down") == 0 || strcmp(sub, "reboot") == 0 || strcmp(sub, "status") == 0 ||
        strcmp(sub, "restart-daemon") == 0)
        return cluster_simple(sub, argc - 1, argv + 1);
    return co_cli_usage(CL, "unknown subcommand '%s' (up, reboot, restart-daemon, status, exec, "
                        "down)", sub);
}

int co_cmd_lab(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "cluster") == 0)
        return cluster_cmd(argc - 1, argv + 1);

    static const struct option opts[] = {
        {"mem", required_argument, NULL, 'm'},
        {"workload", required_argument, NULL, 'w'},
        {"accel", required_argument, NULL, 'a'},
        {"duration", required_argument, NULL, 'd'},
        {"guest", required_argument, NULL, 'g'},
        {"json", no_argument, NULL, 'j'},
        {"link", required_argument, NULL, 'L'},
        {"mtu", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    co_lab_config cfg = {0};
    double link_bytes = 0, mtu = 0;
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
        case 'L':
            if (co_parse_rate(optarg, "--link", &link_bytes, &d))
                return co_cli_fail("lab", &d);
            if (!(link_bytes >= 1e3 && link_bytes <= 1.25e11))
                return co_cli_usage("lab", "--link: '%s' is not in 8kbit..1Tbit", optarg);
            break;
        case 'M':
            if (co_parse_number(optarg, "--mtu", &mtu, &d))
                return co_cli_fail("lab", &d);
            if (mtu != floor(mtu) || mtu < 576 || mtu > 65520)
                return co_cli_usage("lab", "--mtu: '%s' is not a whole number in 576..65520",
                                    optarg);
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
    if (mtu > 0 && link_bytes <= 0)
        return co_cli_usage("lab", "--mtu is the shaped link's: give --link RATE too");
    cfg.link.rate_bits_per_s = link_bytes * 8;
    cfg.link.mtu = (int)mtu;
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
