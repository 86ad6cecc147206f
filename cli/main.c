/* cli/main.c: `cutover` entry point and subcommand dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <getopt.h>
#include <errno.h>

#include "cli/cli.h"

struct co_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct co_cmd commands[] = {
    {"model", co_cmd_model, "predict one migration: total time, downtime, data sent"},
    {"tune", co_cmd_tune, "sweep MTU x channels x downtime-limit and recommend a setting"},
    {"simulate", co_cmd_simulate, "forecast a rolling patch cycle of a cluster (Monte Carlo)"},
    {"migrate", co_cmd_migrate, "drive a live migration and pick the stop-and-copy moment"},
    {"inventory", co_cmd_inventory, "export the live cluster (libvirt) to a simulate/cycle file"},
    {"evacuate", co_cmd_evacuate, "empty a libvirt host: plan order and concurrency, migrate every VM"},
    {"cycle", co_cmd_cycle, "run a rolling patch cycle over libvirt hosts (journaled, resumable)"},
    {"lab", co_cmd_lab, "start a source and destination QEMU running the test guest"},
    {"record", co_cmd_record, "record a running VM's dirty-page curve to a trace"},
    {"watch", co_cmd_watch, "sample query-migrate during someone else's migration"},
    {"downtime", co_cmd_downtime, "find outages in a packet capture (ping drop, heartbeat gaps)"},
    {"linkstat", co_cmd_linkstat, "throughput, segment sizes and retransmits of a migration stream"},
};
#define NCMD (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover [--version] [--help] COMMAND [ARGS]\n\n"
            "Forecast, tune and drive live migrations of QEMU/KVM virtual machines\n"
            "through hypervisor patch cycles.\n\ncommands:\n");
    for (size_t i = 0; i < NCMD; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`cutover COMMAND --help` describes each command; see also cutover(1).\n"
                 "Exit codes follow sysexits(3): 64 usage, 65 bad data, 66 no input,\n"
                 "69 unavailable, 70 internal, 74 I/O, 75 temporary failure, 76 protocol.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 64;
    }
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        if (strcmp(c, "help") == 0 && argc > 2) {
            char *hv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < NCMD; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].fn(2, hv);
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0 || strcmp(c, "version") == 0) {
        printf("cutover %s (%s)\n", CUTOVER_VERSION, CUTOVER_REV);
        return 0;
    }
    for (size_t i = 0; i < NCMD; i++) {
        if (strcmp(c, commands[i].name) == 0) {
            co_cli_getopt_reset();
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "cutover: unknown command '%s' (try `cutover --help`)\n", c);
    return 64;
}
