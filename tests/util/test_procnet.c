/* tests/util/test_procnet.c: the /proc/net/tcp reader (util/procnet.h). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/procnet.h"

/* A TCP socket bound to addr:0 (listening if listen_too); port in *port. */
static int tcp_bound(const char *addr, int listen_too, int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    if (listen_too)
        cr_assert_eq(listen(s, 1), 0);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return s;
}

Test(procnet, listening_bound_and_closed)
{
    int port;
    int s = tcp_bound("127.0.0.1", 1, &port);
    cr_assert_eq(co_procnet_listening("127.0.0.1", port), 1);
    cr_assert_eq(co_procnet_listening(NULL, port), 1);
    cr_assert_eq(co_procnet_listening("127.0.0.2", port), 0, "another address");
    close(s);
    cr_assert_eq(co_procnet_listening("127.0.0.1", port), 0, "closed");
    s = tcp_bound("127.0.0.1", 0, &port);
    cr_assert_eq(co_procnet_listening("127.0.0.1", port), 0, "bound, not listening");
    close(s);
    s = tcp_bound("0.0.0.0", 1, &port);
    cr_assert_eq(co_procnet_listening("127.0.0.1", port), 1, "a wildcard listener counts");
    close(s);
    cr_assert_eq(co_procnet_listening("not-an-address", port), 0);
}
