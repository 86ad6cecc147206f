/* cli/cmd_model.c: `cutover model` (placeholder). */
#include <stdio.h>
#include "cli/cli.h"
int co_cmd_model(int argc, char **argv) { fprintf(stderr, "cutover model: not implemented yet\n"); return 69; }
