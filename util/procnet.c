/* util/procnet.c: LISTEN sockets from /proc/net/tcp{,6} (util/procnet.h). */
#include "util/procnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define TCP_LISTEN 0x0A /* include/net/tcp_states.h */

/* The kernel prints each address as the %08X of its raw 32-bit words, so
 * comparing with in_addr.s_addr read the same way works on any byte order. */
static int scan(const char *file, int v6, int have_want, unsigned want, int port)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char addr[33];
        unsigned p, st;
        if (sscanf(line, " %*d: %32[0-9A-Fa-f]:%x %*s %x", addr, &p, &st) != 3 ||
            st != TCP_LISTEN || (int)p != port)
            continue;
        if (!have_want) {
            found = 1;
        } else if (v6) {
            found = strspn(addr, "0") == 32; /* :: takes IPv4 too unless v6only */
        } else {
            unsigned a = 0;
            sscanf(addr, "%8x", &a);
            found = a == want || a == 0;
        }
    }
    fclose(f);
    return found;
}

int co_procnet_listening(const char *ipv4, int port)
{
    struct in_addr in = {0};
    int have_want = ipv4 != NULL;
    if (have_want && inet_pton(AF_INET, ipv4, &in) != 1)
        return 0;
    unsigned want = (unsigned)in.s_addr;
    return scan("/proc/net/tcp", 0, have_want, want, port) ||
           scan("/proc/net/tcp6", 1, have_want, want, port);
}
