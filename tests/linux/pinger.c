/* tests/linux/pinger.c: ICMP echo requests on a fixed schedule.
 *
 *   pinger ADDR INTERVAL_US [COUNT]
 *
 * Sends an echo request (identifier = pid, sequence 0, 1, ...) to the IPv4
 * address ADDR every INTERVAL_US microseconds of CLOCK_MONOTONIC (absolute
 * deadlines: a late wake-up is not carried into the next interval), until
 * COUNT requests (0 = no limit) or SIGINT/SIGTERM. It never reads replies:
 * the capture sees them and `cutover downtime` matches them. Unlike iputils
 * ping, which waits up to 10 ms for an outstanding reply before it sends on
 * (MININTERVAL in ping_common.c), the schedule does not depend on the
 * target answering, so a slow TCG guest still gets one request per
 * interval. Needs CAP_NET_RAW. Prints "sent N" on exit; exit 0, or 64 on
 * bad arguments, 69 when the socket cannot be made. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint16_t checksum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        sum += (uint32_t)b[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

int main(int argc, char **argv)
{
    struct sockaddr_in to = {.sin_family = AF_INET};
    char *end = NULL;
    long interval_us = argc >= 3 ? strtol(argv[2], &end, 10) : 0;
    long long count = argc >= 4 ? atoll(argv[3]) : 0;
    if (argc < 3 || argc > 4 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 ||
        *end != '\0' || interval_us < 100 || interval_us > 10000000 || count < 0) {
        fprintf(stderr, "usage: pinger IPV4_ADDR INTERVAL_US(100..10000000) [COUNT]\n");
        return 64;
    }
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) {
        fprintf(stderr, "pinger: raw ICMP socket: %s\n", strerror(errno));
        return 69;
    }
    int small = 4096; /* replies are never read: keep few */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint8_t pkt[64];
    uint16_t id = (uint16_t)getpid();
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long long sent = 0;
    for (uint16_t seq = 0; !stop && (count == 0 || sent < count); seq++) {
        memset(pkt, 0, sizeof pkt);
        struct icmphdr *h = (struct icmphdr *)pkt;
        h->type = ICMP_ECHO;
        h->un.echo.id = htons(id);
        h->un.echo.sequence = htons(seq);
        memcpy(pkt + sizeof *h, &next, sizeof next);
        h->checksum = checksum(pkt, sizeof pkt);
        if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof pkt)
            sent++;
        next.tv_nsec += interval_us * 1000;
        while (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now; /* late: send the next one now, no burst */
        else
            while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                ;
    }
    printf("sent %lld\n", sent);
    close(fd);
    return 0;
}
