/* cli/cmd_linkstat.c: `cutover linkstat` (placeholder until its issue lands). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int co_cmd_linkstat(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: cutover linkstat ...\n(not implemented yet in this version)\n");
        return 0;
    }
    fprintf(stderr, "cutover linkstat: not implemented yet in this version\n");
    return 69;
}
