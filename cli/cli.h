/* cli/cli.h: the command-line front end.
 *
 * Owns: the subcommand table, the shared conventions of every command
 * (error lines "cutover CMD: message" on stderr with a sysexits exit code,
 * nothing on stdout on failure, JSON written through jansson only), and the
 * prototypes of each command's entry point (cli/cmd_NAME.c). */
#ifndef CUTOVER_CLI_H
#define CUTOVER_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "util/diag.h"

/* Each command: argv[0] is the command name; returns the process exit code. */
int co_cmd_model(int argc, char **argv);
int co_cmd_tune(int argc, char **argv);
int co_cmd_lab(int argc, char **argv);
int co_cmd_record(int argc, char **argv);
int co_cmd_watch(int argc, char **argv);
int co_cmd_migrate(int argc, char **argv);
int co_cmd_evacuate(int argc, char **argv);
int co_cmd_inventory(int argc, char **argv);
int co_cmd_cycle(int argc, char **argv);
int co_cmd_downtime(int argc, char **argv);
int co_cmd_linkstat(int argc, char **argv);
int co_cmd_simulate(int argc, char **argv);

/* `simulate` with its Monte Carlo step replaced, for the MPI companion
 * (mpi/main.c): the same flags, messages and exit codes as co_cmd_simulate.
 * hook->mc is called instead of co_sim_mc once FILE is loaded; it sets
 * *print to 1 when this process holds the summary and prints it (rank 0),
 * to 0 when it only contributed runs (the command then returns 0 at once,
 * leaving out is untouched). */
struct co_sim_cluster;
struct co_sim_mc_opts;
struct co_sim_summary;
typedef struct co_sim_mc_hook {
    int (*mc)(void *arg, const struct co_sim_cluster *c, const struct co_sim_mc_opts *o,
              struct co_sim_summary *out, int *print, co_diag *d);
    void *arg;
} co_sim_mc_hook;
int co_cmd_simulate_with(int argc, char **argv, const co_sim_mc_hook *hook);

/* Print "cutover CMD: MSG" to stderr and return the exit code for d->code. */
int co_cli_fail(const char *cmd, const co_diag *d);
/* Same, for a usage problem described by a format string (exit 64). */
int co_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write j (stolen reference) to out as indented JSON plus newline.
 * Returns 0 or an exit code (74) on a write error. */
int co_cli_emit_json(FILE *out, json_t *j);
/* Stop signals of the commands that drive migrations (migrate, evacuate):
 * SIGINT, SIGTERM and SIGHUP (an ssh session dropping) all stop the run the
 * same way; none restarts a system call, so a blocked wait sees it; SIGPIPE
 * is ignored. Resets and returns the flags the handler sets: *level counts
 * the signals (0 none, 1 stop and put things back, 2 escalate: only what
 * keeps the guest whole), *signo is the last one's number. The flags are
 * the process's one pair (the globals conventions allow). */
void co_cli_catch_stop_signals(volatile sig_atomic_t **level, volatile sig_atomic_t **signo);
/* "SIGHUP", "SIGINT", "SIGTERM" or "a signal", for messages. */
const char *co_cli_signal_name(int sig);
/* Reset getopt so each command parses its own argv from the start. */
void co_cli_getopt_reset(void);

/* The migration flags `migrate` and `evacuate` share, parsed and checked
 * alike (one message per bad value, naming the flag): --mtu N
 * (CO_LINK_MTU_MIN..MAX), --max-downtime TIME (1ms..10m), --deadline TIME
 * (1s..7d), --allow LIST (engine/policy.h's items, plus the caller's extra
 * items, each a name and the bit it sets; NULL-name-terminated, may be
 * NULL). co_cli_mig_flags_init sets the defaults: MTU 0 (not given),
 * 300 ms, 10 min, nothing allowed. co_cli_mig_flag returns CO_OK or
 * CO_EUSAGE with d set. */
enum co_cli_mig_flag { CO_CLI_MTU, CO_CLI_MAX_DOWNTIME, CO_CLI_DEADLINE, CO_CLI_ALLOW };
typedef struct co_cli_mig_flags {
    int mtu;
    double max_downtime_ms, deadline_ms;
    unsigned allow;
} co_cli_mig_flags;
typedef struct co_cli_allow_item {
    const char *name;
    unsigned bit;
} co_cli_allow_item;
/* evacuate's own --allow items (eject, copy-storage, qemu-monitor: the
 * CO_EVAC_ALLOW_* bits of evacuate/evacuate.h), shared by evacuate and
 * cycle, whose drains are evacuations. */
extern const co_cli_allow_item co_cli_evac_allow[];
void co_cli_mig_flags_init(co_cli_mig_flags *f);
int co_cli_mig_flag(enum co_cli_mig_flag which, const char *arg, const co_cli_allow_item *extra,
                    co_cli_mig_flags *f, co_diag *d);
/* Open an output file for writing; "-" is stdout. On failure fills d
 * (CO_ECANTCREAT) and returns NULL. */
FILE *co_cli_open_out(const char *path, const char *what, co_diag *d);

#endif
