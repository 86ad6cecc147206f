/* tests/meter/test_heartbeat.c: the heartbeat listener hears only whom it
 * was told to (meter/heartbeat.h): bound to the address asked, datagrams
 * from other senders counted as ignored, never as heartbeats. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "meter/heartbeat.h"
#include "util/error.h"

/* A UDP socket bound to addr:0; its port in *port. */
static int sender(const char *addr, int *port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq(s, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0, "bind %s", addr);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return s;
}

static void send_n(int s, int port, int n)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        sendto(s, "HB 1\n", 5, 0, (struct sockaddr *)&to, sizeof to);
        usleep(1000);
    }
}

/* Wait until the listener saw want datagrams in all (bounded). */
static void settle(co_hb *h, long want)
{
    for (int i = 0; i < 200; i++) {
        long c = 0;
        co_hb_max_gap_ms(h, NULL, &c);
        if (c + co_hb_ignored(h) >= want)
            return;
        usleep(10000);
    }
}

Test(heartbeat, foreign_port_ignored)
{
    int pa, pb;
    int a = sender("127.0.0.1", &pa), b = sender("127.0.0.1", &pb);
    char spec[96];
    snprintf(spec, sizeof spec, "udp:127.0.0.1:1,from=127.0.0.1:%d", pa);
    co_hb_opts o;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hb_parse(spec, &o, &d), CO_OK, "%s", d.msg);
    o.port = 0; /* an ephemeral port for the test */
    co_hb *h;
    cr_assert_eq(co_hb_start_opts(&o, &h, &d), CO_OK, "%s", d.msg);
    co_hb_arm(h);
    send_n(a, co_hb_port(h), 40);
    send_n(b, co_hb_port(h), 30);
    settle(h, 70);
    long count = 0;
    co_hb_max_gap_ms(h, NULL, &count);
    long ign = co_hb_ignored(h);
    co_hb_stop(h);
    close(a);
    close(b);
    cr_assert_eq(count, 40, "heartbeats from the expected port only: %ld", count);
    cr_assert_eq(ign, 30, "the other port's counted as ignored: %ld", ign);
}

Test(heartbeat, foreign_address_ignored_by_default)
{
    int pa, pb;
    int a = sender("127.0.0.1", &pa), b = sender("127.0.0.2", &pb);
    co_hb *h;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hb_start(0, &h, &d), CO_OK, "%s", d.msg);
    co_hb_arm(h);
    send_n(b, co_hb_port(h), 25);
    send_n(a, co_hb_port(h), 20);
    settle(h, 45);
    long count = 0;
    co_hb_max_gap_ms(h, NULL, &count);
    long ign = co_hb_ignored(h);
    co_hb_stop(h);
    close(a);
    close(b);
    cr_assert_eq(count, 20, "%ld", count);
    cr_assert_eq(ign, 25, "127.0.0.2 is not 127.0.0.1: %ld", ign);
}

/* Bound to the address asked, not 0.0.0.0: the same port on another
 * loopback address is still free. */
Test(heartbeat, binds_only_the_address_asked)
{
    co_hb *h;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hb_start(0, &h, &d), CO_OK, "%s", d.msg);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)co_hb_port(h))};
    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    int rc = bind(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    co_hb_stop(h);
    cr_assert_eq(rc, 0, "127.0.0.2 on the same port is free: the listener is not on 0.0.0.0");
}

Test(heartbeat, parse)
{
    co_hb_opts o;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_hb_parse("udp:5000", &o, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(o.port, 5000);
    cr_assert_eq(o.bind.s_addr, htonl(INADDR_LOOPBACK));
    cr_assert_eq(o.n_from, 1);
    cr_assert_eq(o.from[0].addr.s_addr, htonl(INADDR_LOOPBACK));
    cr_assert_eq(o.from[0].port, 0);
    co_diag_init(&d);
    cr_assert_eq(co_hb_parse("udp:10.0.0.1:5000,from=10.0.0.2,from=10.0.0.3:4555", &o, &d), CO_OK,
                 "%s", d.msg);
    cr_assert_eq(o.n_from, 2);
    cr_assert_eq(o.from[1].port, 4555);
    const char *bad[] = {"5000", "udp:", "udp:0", "udp:70000", "udp:x:5000", "udp:10.0.0.1:5000",
                         "udp:5000,from=", "udp:5000,form=1.2.3.4", "udp:5000,from=1.2.3.4:0",
                         "udp:5000,from=host"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        co_diag_init(&d);
        cr_assert_eq(co_hb_parse(bad[i], &o, &d), CO_EUSAGE, "'%s' accepted", bad[i]);
        cr_assert(strstr(d.msg, "--heartbeat") != NULL, "%s", d.msg);
    }
}
