/* cli/model_args.h: the flags `cutover model` and `cutover tune` share.
 *
 * Owns: turning --mem, --dirty, --link, --mtu, --channels, --downtime-limit,
 * --max-bandwidth and the other model flags into a co_mig_params, with one
 * clear message (flag and value) per mistake. */
#ifndef CUTOVER_CLI_MODEL_ARGS_H
#define CUTOVER_CLI_MODEL_ARGS_H

#include <getopt.h>

#include "model/migration.h"
#include "util/diag.h"

typedef struct co_model_args {
    co_mig_params p;
    const char *dirty_spec;  /* kept for the report */
    const char *mem_text;
    int json;
    int csv;
    const char *plot;
    double max_downtime_ms;  /* tune */
    double deadline_ms;      /* tune; 0 = none */
    int help;
} co_model_args;

/* Options understood by co_model_args_apply(); extra options of a command
 * are appended by the caller. Ends with a zero entry. */
extern const struct option co_model_options[];
#define CO_MODEL_OPTIONS_N 26

/* Parse argv into a. Returns CO_OK or CO_EUSAGE/CO_ENOINPUT/CO_EDATA with d
 * filled ("--mem: ..."). */
int co_model_args_parse(int argc, char **argv, int is_tune, co_model_args *a, co_diag *d);
/* Usage text of the shared flags. */
const char *co_model_args_help(void);

#endif
