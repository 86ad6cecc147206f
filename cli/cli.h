/* cli/cli.h: the command-line front end.
 *
 * Owns: the subcommand table, the shared conventions of every command
 * (error lines "cutover CMD: message" on stderr with a sysexits exit code,
 * nothing on stdout on failure, JSON written through jansson only), and the
 * prototypes of each command's entry point (cli/cmd_NAME.c). */
#ifndef CUTOVER_CLI_H
#define CUTOVER_CLI_H

#include <jansson.h>
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
int co_cmd_downtime(int argc, char **argv);
int co_cmd_linkstat(int argc, char **argv);
int co_cmd_simulate(int argc, char **argv);

/* Print "cutover CMD: MSG" to stderr and return the exit code for d->code. */
int co_cli_fail(const char *cmd, const co_diag *d);
/* Same, for a usage problem described by a format string (exit 64). */
int co_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write j (stolen reference) to out as indented JSON plus newline.
 * Returns 0 or an exit code (74) on a write error. */
int co_cli_emit_json(FILE *out, json_t *j);
/* Reset getopt so each command parses its own argv from the start. */
void co_cli_getopt_reset(void);
/* Open an output file for writing; "-" is stdout. On failure fills d
 * (CO_ECANTCREAT) and returns NULL. */
FILE *co_cli_open_out(const char *path, const char *what, co_diag *d);

#endif
