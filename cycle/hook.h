/* cycle/hook.h: run one hook of a patch cycle (the file's "hooks" object,
 * sim/sim.h co_sim_hook) as a child process, bounded in time.
 *
 * Owns: argv expansion (an element equal to a placeholder is replaced by
 * the value whole; nothing else is touched, no shell ever runs), the child's
 * environment (CUTOVER_HOST, CUTOVER_URI, CUTOVER_MIGRATION_URI,
 * CUTOVER_STEP added to ours), its process group (killed, SIGTERM then
 * SIGKILL after 5 s, when the timeout passes or the stop flag rises), and
 * its output: stdout and stderr appended to one log file beside the journal
 * (DIR/hooks/STEP-HOST.log), with the last line kept for the report.
 * Units: ms. No globals; safe to call from several threads at once. */
#ifndef CUTOVER_CYCLE_HOOK_H
#define CUTOVER_CYCLE_HOOK_H

#include <signal.h>

#include "sim/sim.h"
#include "util/diag.h"

/* The values placeholders take; NULL fields expand to "". */
typedef struct co_hook_ctx {
    const char *host;           /* {host}: the host's name in the file */
    const char *uri;            /* {uri}: its libvirt URI */
    const char *migration_uri;  /* {migration_uri} */
    const char *step;           /* {step}: the hook's key, e.g. "patch" */
    const char *journal_dir;    /* {journal_dir}: where logs go (must exist) */
    volatile sig_atomic_t *stop_flag; /* may be NULL; nonzero kills the hook */
} co_hook_ctx;

typedef struct co_hook_result {
    int ran;                    /* 0: not configured (nothing ran, CO_OK) */
    int exit_status;            /* the child's exit code, or 128 + signal */
    int timed_out;
    double elapsed_ms;
    char log_path[512];         /* the log it appended to */
    char last_line[256];        /* last non-empty output line, for reports */
} co_hook_result;

/* Run hook h with ctx. CO_OK when it is not configured or exited 0;
 * CO_ETIMEDOUT past h->timeout_ms; CO_ECANCELED when the stop flag rose;
 * CO_EFAILED (non-zero exit, d names the step, host, status and last line);
 * CO_EOS when it cannot start (d names argv[0] and errno).
 * A stop flag already up when it is called: CO_ECANCELED, nothing started
 * (r->ran = 0). Without journal_dir the output is discarded (log_path "").
 * timeout_ms <= 0: no timeout. What a hook that exited by itself left
 * running in its group is left alone (a reboot hook may start a daemon). */
int co_hook_run(const co_sim_hook *h, const co_hook_ctx *ctx, co_hook_result *r, co_diag *d);

/* Expand argv (for --dry-run and tests): out[i] are malloc'd strings,
 * out[argc] NULL; co_hook_argv_free releases them. CO_OK or CO_ENOMEM. */
int co_hook_expand(const co_sim_hook *h, const co_hook_ctx *ctx, char ***out);
void co_hook_argv_free(char **argv);

#endif
