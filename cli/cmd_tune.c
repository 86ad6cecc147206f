/* cli/cmd_tune.c: `cutover tune` (placeholder). */
#include <stdio.h>
#include "cli/cli.h"
int co_cmd_tune(int argc, char **argv) { fprintf(stderr, "cutover tune: not implemented yet\n"); return 69; }
