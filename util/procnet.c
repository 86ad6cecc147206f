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

/* dir: "/proc" (this namespace) or "/proc/PID" (that process's). */
static int listening_in(const char *dir, const char *ipv4, int port)
{
    struct in_addr in = {0};
    int have_want = ipv4 != NULL;
    if (have_want && inet_pton(AF_INET, ipv4, &in) != 1)
        return 0;
    unsigned want = (unsigned)in.s_addr;
    char f4[64], f6[64];
    snprintf(f4, sizeof f4, "%s/net/tcp", dir);
    snprintf(f6, sizeof f6, "%s/net/tcp6", dir);
    return scan(f4, 0, have_want, want, port) || scan(f6, 1, have_want, want, port);
}

int co_procnet_listening(const char *ipv4, int port)
{
    return listening_in("/proc", ipv4, port);
}

int co_procnet_listening_pid(int pid, const char *ipv4, int port)
{
    if (pid <= 0)
        return 0;
    char dir[32];
    snprintf(dir, sizeof dir, "/proc/%d", pid);
    return listening_in(dir, ipv4, port);
}
