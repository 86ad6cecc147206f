/* cli/cmd_inventory.c: `cutover inventory`, the live cluster as a
 * simulate/cycle file (inventory/inventory.h, docs/forecast.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "inventory/inventory.h"
#include "util/units.h"

#define CMD "inventory"

static void help(void)
{
    printf("usage: cutover inventory FILE -o OUT [options]\n"
           "       cutover inventory --connect URI[,URI...] -o OUT [options]\n\n"
           "Export the live cluster to a cluster file that `cutover simulate` (and\n"
           "`cutover cycle`) read: each host's cores and memory (libvirt node info), NIC\n"
           "rate and MTU (given, else measured from libvirt's interface list, else 1 Gbit/s\n"
           "and 1500), each running or paused VM's vCPUs, memory, used memory (when the\n"
           "balloon reports it) and dirty curve (measured with libvirt's dirty-rate\n"
           "calculation and written as a trace beside OUT, else FILE's, else assumed).\n"
           "FILE names the hosts (\"hosts\": name, uri, optional nic_rate, mtu,\n"
           "migration_uri, ...), e.g. the cluster.json of `cutover lab cluster up`; its\n"
           "plan is carried over. OUT's \"source\" lists what was measured, given and\n"
           "defaulted. Nothing is changed on the hosts.\n\n"
           "  -o, --output OUT       the cluster file to write (required); traces go to\n"
           "                         OUT's directory, STEM.traces/VM.json\n"
           "  --connect URI,...     hosts by libvirt URI (named h1, h2, ...) instead of FILE\n"
           "  --nic RATE             every host's NIC rate (e.g. 25Gbit); beats FILE's\n"
           "  --mtu N                every host's MTU (576..65536); beats FILE's\n"
           "  --measure-dirty MODE   kvm (default): KVM guests only; all: TCG guests too\n"
           "                         (QEMU 7.2 under TCG hangs its monitor in the\n"
           "                         calculation: do not on guests that matter); no\n"
           "  --dirty-rate MIB_S     assumed for VMs not measured and not in FILE\n"
           "                         (uniform over the VM's memory; default: none)\n"
           "  --timeout TIME         per-host connection bound (default 5s)\n"
           "  --json                 print the summary as JSON\n"
           "  --help                 this text\n\n"
           "Exit status: 0 ok; 64 bad flag; 65 bad FILE (FILE:LINE: field); 66 FILE missing;\n"
           "69 a host does not answer (named) or built without libvirt; 73 cannot create\n"
           "OUT; 74 write error; 75 a VM is on two hosts (migration in flight).\n");
}

static json_t *summary(const co_inv *inv, const char *out)
{
    json_t *j = json_object(), *hs = json_array();
    json_object_set_new(j, "output", json_string(out));
    for (int i = 0; i < inv->nhosts; i++) {
        const co_inv_host *h = &inv->hosts[i];
        int nv = 0;
        for (int k = 0; k < inv->nvms; k++)
            nv += inv->vms[k].host == i;
        json_array_append_new(hs, json_pack("{s:s, s:s, s:i, s:I, s:f, s:s, s:i, s:s, s:i}",
                                            "name", h->name, "uri", h->uri, "cores", h->cores,
                                            "mem_bytes", (json_int_t)h->mem_bytes,
                                            "nic_bytes_per_s", h->nic_bytes_per_s, "nic_how",
                                            h->nic_how, "mtu", h->mtu, "mtu_how", h->mtu_how,
                                            "vms", nv));
    }
    json_object_set_new(j, "hosts", hs);
    json_t *vs = json_array();
    for (int k = 0; k < inv->nvms; k++) {
        const co_inv_vm *v = &inv->vms[k];
        json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:s, s:s}", "name", v->name, "host",
                              inv->hosts[v->host].name, "vcpus", v->vcpus, "mem_bytes",
                              (json_int_t)v->mem_bytes, "mem_used_how", v->mem_used_how,
                              "dirty_how", v->dirty_how);
        if (v->dirty_measured)
            json_object_set_new(o, "trace", json_string(v->trace_rel));
        json_array_append_new(vs, o);
    }
    json_object_set_new(j, "vms", vs);
    return j;
}

static void text(const co_inv *inv, const char *out)
{
    printf("inventory of %d host%s, %d VM%s -> %s\n", inv->nhosts, inv->nhosts == 1 ? "" : "s",
           inv->nvms, inv->nvms == 1 ? "" : "s", out);
    for (int i = 0; i < inv->nhosts; i++) {
        const co_inv_host *h = &inv->hosts[i];
        int nv = 0;
        for (int k = 0; k < inv->nvms; k++)
            nv += inv->vms[k].host == i;
        printf("  %-6s %s: %d cores, %.1f GiB, QEMU %s, %d VM%s\n", h->name, h->uri, h->cores,
               h->mem_bytes / 1073741824.0, h->qemu_version[0] ? h->qemu_version : "?", nv,
               nv == 1 ? "" : "s");
        printf("         nic %.0f Mbit/s (%s)\n         mtu %d (%s)\n",
               h->nic_bytes_per_s * 8 / 1e6, h->nic_how, h->mtu, h->mtu_how);
    }
    for (int k = 0; k < inv->nvms; k++) {
        const co_inv_vm *v = &inv->vms[k];
        printf("  %-6s on %s: %d vCPU, %.0f MiB; dirty %s%s%s\n", v->name,
               inv->hosts[v->host].name, v->vcpus, v->mem_bytes / 1048576.0, v->dirty_how,
               v->blocker[0] ? "; blocked: " : "", v->blocker);
    }
}

int co_cmd_inventory(int argc, char **argv)
{
    enum { O_CONNECT = 256, O_NIC, O_MTU, O_MEASURE, O_DIRTY, O_TIMEOUT, O_JSON };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},   {"connect", required_argument, NULL, O_CONNECT},
        {"nic", required_argument, NULL, O_NIC},     {"mtu", required_argument, NULL, O_MTU},
        {"measure-dirty", required_argument, NULL, O_MEASURE},
        {"dirty-rate", required_argument, NULL, O_DIRTY},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    co_inv_opts o = {.measure_dirty = 1, .timeout_ms = 5000};
    const char *out = NULL, *connect = NULL;
    int json = 0, ch;
    co_diag d;
    co_diag_init(&d);
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'o':
            out = optarg;
            break;
        case O_CONNECT:
            connect = optarg;
            break;
        case O_NIC:
            if (co_parse_rate(optarg, "--nic", &o.nic_bytes_per_s, &d) != CO_OK)
                return co_cli_usage(CMD, "%s", d.msg);
            break;
        case O_MTU: {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 576 || v > 65536)
                return co_cli_usage(CMD, "--mtu '%s': expected an integer in 576..65536", optarg);
            o.mtu = (int)v;
            break;
        }
        case O_MEASURE:
            if (!strcmp(optarg, "no"))
                o.measure_dirty = 0;
            else if (!strcmp(optarg, "kvm"))
                o.measure_dirty = 1;
            else if (!strcmp(optarg, "all"))
                o.measure_dirty = 2;
            else
                return co_cli_usage(CMD, "--measure-dirty '%s': expected kvm, all or no", optarg);
            break;
        case O_DIRTY:
            errno = 0;
            o.dirty_mib_per_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o.dirty_mib_per_s >= 0) ||
                o.dirty_mib_per_s > 1e6)
                return co_cli_usage(CMD, "--dirty-rate '%s': expected MiB/s in 0..1e6", optarg);
            break;
        case O_TIMEOUT: {
            double ms;
            if (co_parse_time(optarg, "--timeout", &ms, &d) != CO_OK)
                return co_cli_usage(CMD, "%s", d.msg);
            if (!(ms >= 1000 && ms <= 600000))
                return co_cli_usage(CMD, "--timeout '%s': expected 1s..10min", optarg);
            o.timeout_ms = (int)ms;
            break;
        }
        case O_JSON:
            json = 1;
            break;
        case 'h':
            help();
            return 0;
        default:
            return co_cli_usage(CMD, "unknown or incomplete option '%s' (try --help)",
                                argv[optind - 1]);
        }
    }
    const char *file = optind < argc ? argv[optind] : NULL;
    if (optind + 1 < argc)
        return co_cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
    if (!file == !connect)
        return co_cli_usage(CMD, file ? "FILE and --connect: give one of them"
                                      : "missing FILE (a cluster file naming the hosts' URIs) "
                                        "or --connect URI,...");
    if (out == NULL)
        return co_cli_usage(CMD, "missing -o OUT (the cluster file to write)");

    co_inv *inv = malloc(sizeof *inv);
    if (inv == NULL) {
        fprintf(stderr, "cutover %s: out of memory\n", CMD);
        return 71;
    }
    co_inv_init(inv);
    size_t n = (size_t)snprintf(inv->command, sizeof inv->command, "cutover");
    for (int i = 0; i < argc && n < sizeof inv->command; i++)
        n += (size_t)snprintf(inv->command + n, sizeof inv->command - n, " %s", argv[i]);
    int rc = file ? co_inv_from_file(inv, file, &d) : co_inv_from_uris(inv, connect, &d);
    if (rc == CO_OK)
        rc = co_inv_collect(inv, &o, &d);
    if (rc == CO_OK)
        rc = co_inv_save(inv, out, &d);
    int exit_code = 0;
    if (rc != CO_OK) {
        exit_code = co_cli_fail(CMD, &d);
    } else if (json) {
        exit_code = co_cli_emit_json(stdout, summary(inv, out));
    } else {
        text(inv, out);
        if (fflush(stdout) != 0)
            exit_code = 74;
    }
    co_inv_free(inv);
    free(inv);
    return exit_code;
}
