/* tests/linux/pinger.c: ICMP echo requests on a fixed schedule, for the
 * ping-drop run (tests/linux/pingdrop.sh).
 *
 *   pinger NETNS IPV4_ADDR INTERVAL_MS DURATION_MS
 *
 * A command-line front to the tests' sender (co_t_sender of
 * tests/pcap_test_util.h): inside network namespace NETNS, at SCHED_FIFO,
 * one echo request (identifier = this pid, sequence 0, 1, ...) every
 * INTERVAL_MS for DURATION_MS or until SIGINT/SIGTERM. It never reads
 * replies: the capture sees them and `cutover downtime` matches them.
 * Unlike iputils ping, which waits up to 10 ms for an outstanding reply
 * before it sends on (MININTERVAL in its ping_common.c), the schedule does
 * not depend on the target answering, so a slow TCG guest still gets one
 * request per interval. Needs root. Exit 0, 64 on bad arguments, 69 when
 * the sender failed (namespace or socket). */
#include "pcap_test_util.h"

static volatile pid_t sender = -1;

static void forward(int sig)
{
    (void)sig;
    if (sender > 0)
        kill(sender, SIGTERM);
}

int main(int argc, char **argv)
{
    struct in_addr a;
    double interval_ms = argc == 5 ? atof(argv[3]) : 0;
    double duration_ms = argc == 5 ? atof(argv[4]) : 0;
    if (argc != 5 || inet_pton(AF_INET, argv[2], &a) != 1 || !(interval_ms >= 0.1) ||
        !(duration_ms > 0)) {
        fprintf(stderr, "usage: pinger NETNS IPV4_ADDR INTERVAL_MS(>=0.1) DURATION_MS\n");
        return 64;
    }
    struct sigaction sa = {.sa_handler = forward};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sender = co_t_sender(argv[1], argv[2], 0, interval_ms, duration_ms, (uint16_t)getpid());
    if (sender < 0) {
        perror("pinger: fork");
        return 69;
    }
    int st;
    while (waitpid(sender, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 69;
}
