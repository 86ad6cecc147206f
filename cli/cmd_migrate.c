/* cli/cmd_migrate.c: `cutover migrate` (placeholder until its issue lands). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int co_cmd_migrate(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: cutover migrate ...\n(not implemented yet in this version)\n");
        return 0;
    }
    fprintf(stderr, "cutover migrate: not implemented yet in this version\n");
    return 69;
}
