/* meter/heartbeat.c: heartbeat gap meter (UDP, one thread). */
#include "meter/heartbeat.h"
#include "util/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

struct co_hb {
    int fd;
    int port;
    co_hb_opts opts;      /* where we listen and whom we hear */
    pthread_t thr;
    pthread_mutex_t mu;
    int stop;
    int armed;
    double last_ms;
    double max_gap_ms, gap_end_ms;
    long count;
    long ignored;         /* datagrams from anyone else, since armed */
};

/* Is this datagram's sender one we expect (opts.from: address, and port
 * when given)? Anyone on the network may send to a UDP port. */
static int from_expected(const co_hb_opts *o, const struct sockaddr_in *sa)
{
    for (int i = 0; i < o->n_from; i++)
        if (sa->sin_addr.s_addr == o->from[i].addr.s_addr &&
            (o->from[i].port == 0 || ntohs(sa->sin_port) == o->from[i].port))
            return 1;
    return 0;
}

static void *hb_main(void *arg)
{
    co_hb *h = arg;
    char buf[512];
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        /* SO_RCVTIMEO bounds it */
        ssize_t n = recvfrom(h->fd, buf, sizeof buf, 0, (struct sockaddr *)&sa, &sl);
        if (n <= 0)
            continue;
        double now = co_clock_ms();
        pthread_mutex_lock(&h->mu);
        if (sl != sizeof sa || sa.sin_family != AF_INET || !from_expected(&h->opts, &sa)) {
            h->ignored++;
            pthread_mutex_unlock(&h->mu);
            continue;
        }
        if (h->armed) {
            if (h->last_ms > 0 && now - h->last_ms > h->max_gap_ms) {
                h->max_gap_ms = now - h->last_ms;
                h->gap_end_ms = now;
            }
            h->count++;
        }
        h->last_ms = now;
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

/* "A.B.C.D" or "A.B.C.D:PORT" into addr/port (port 0 if absent). */
static int parse_addr_port(const char *text, size_t len, struct in_addr *addr, int *port)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    *port = 0;
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || errno || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return inet_pton(AF_INET, buf, addr) == 1 ? 0 : -1;
}

int co_hb_parse(const char *spec, co_hb_opts *o, co_diag *d)
{
    memset(o, 0, sizeof *o);
    if (strncmp(spec, "udp:", 4) != 0)
        return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': expected udp:[ADDR:]PORT[,from=ADDR"
                                         "[:PORT]]...", spec);
    const char *p = spec + 4;
    size_t n = strcspn(p, ",");
    /* [ADDR:]PORT: the last colon splits; without one, loopback */
    char head[64];
    if (n == 0 || n >= sizeof head)
        return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': missing or too long ADDR:PORT", spec);
    memcpy(head, p, n);
    head[n] = '\0';
    char *colon = strrchr(head, ':');
    const char *port_text = colon ? colon + 1 : head;
    if (colon) {
        *colon = '\0';
        if (inet_pton(AF_INET, head, &o->bind) != 1)
            return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': '%s' is not an IPv4 address",
                               spec, head);
    } else {
        o->bind.s_addr = htonl(INADDR_LOOPBACK);
    }
    char *end;
    errno = 0;
    long port = strtol(port_text, &end, 10);
    if (*port_text == '\0' || *end != '\0' || errno || port < 1 || port > 65535)
        return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': port '%s' is not a number in "
                                         "1..65535", spec, port_text);
    o->port = (int)port;
    for (p += n; *p == ','; p += n) {
        p++;
        n = strcspn(p, ",");
        if (strncmp(p, "from=", 5) != 0 || n <= 5)
            return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': '%.*s': expected from=ADDR"
                                             "[:PORT]", spec, (int)n, p);
        if (o->n_from >= CO_HB_MAX_FROM)
            return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': at most %d from=", spec,
                               CO_HB_MAX_FROM);
        if (parse_addr_port(p + 5, n - 5, &o->from[o->n_from].addr,
                            &o->from[o->n_from].port) != 0)
            return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': '%.*s' is not an IPv4 ADDR"
                                             "[:PORT]", spec, (int)(n - 5), p + 5);
        o->n_from++;
    }
    if (o->n_from == 0) {
        if ((ntohl(o->bind.s_addr) >> 24) != 127)
            return co_diag_set(d, CO_EUSAGE, "--heartbeat '%s': on a non-loopback address, say "
                                             "who sends: from=ADDR (the source's and the "
                                             "destination's QEMU hosts)", spec);
        o->from[0].addr.s_addr = htonl(INADDR_LOOPBACK);
        o->n_from = 1;
    }
    return CO_OK;
}

int co_hb_start(int port, co_hb **out, co_diag *d)
{
    co_hb_opts o = {.port = port, .n_from = 1};
    o.bind.s_addr = htonl(INADDR_LOOPBACK);
    o.from[0].addr.s_addr = htonl(INADDR_LOOPBACK);
    return co_hb_start_opts(&o, out, d);
}

int co_hb_start_opts(const co_hb_opts *opts, co_hb **out, co_diag *d)
{
    *out = NULL;
    int port = opts->port;
    if (port < 0 || port > 65535)
        return co_diag_set(d, CO_EUSAGE, "--heartbeat: port %d out of range 0..65535", port);
    co_hb *h = calloc(1, sizeof *h);
    if (!h)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    h->opts = *opts;
    h->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        free(h);
        return co_diag_set(d, CO_EOS, "--heartbeat: socket: %s", strerror(errno));
    }
    /* the address asked only, never every interface */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr = opts->bind};
    if (bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        char ab[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &opts->bind, ab, sizeof ab);
        close(h->fd);
        free(h);
        return co_diag_set(d, e == EADDRINUSE ? CO_EBUSY : CO_EOS,
                           "--heartbeat: cannot listen on udp %s:%d: %s", ab, port, strerror(e));
    }
    socklen_t al = sizeof a;
    getsockname(h->fd, (struct sockaddr *)&a, &al);
    h->port = ntohs(a.sin_port);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_mutex_init(&h->mu, NULL);
    if (pthread_create(&h->thr, NULL, hb_main, h) != 0) {
        close(h->fd);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return co_diag_set(d, CO_EOS, "--heartbeat: cannot start the receiver thread");
    }
    *out = h;
    return CO_OK;
}

int co_hb_port(const co_hb *h)
{
    return h->port;
}

void co_hb_arm(co_hb *h)
{
    pthread_mutex_lock(&h->mu);
    h->armed = 1;
    h->max_gap_ms = 0;
    h->gap_end_ms = 0;
    h->count = 0;
    h->ignored = 0;
    pthread_mutex_unlock(&h->mu);
}

double co_hb_max_gap_ms(co_hb *h, double *ended_at_ms, long *count)
{
    pthread_mutex_lock(&h->mu);
    double g = h->max_gap_ms;
    if (ended_at_ms)
        *ended_at_ms = h->gap_end_ms;
    if (count)
        *count = h->count;
    pthread_mutex_unlock(&h->mu);
    return g;
}

long co_hb_ignored(co_hb *h)
{
    pthread_mutex_lock(&h->mu);
    long n = h->ignored;
    pthread_mutex_unlock(&h->mu);
    return n;
}

double co_hb_last_ms(co_hb *h)
{
    pthread_mutex_lock(&h->mu);
    double t = h->last_ms;
    pthread_mutex_unlock(&h->mu);
    return t;
}

void co_hb_stop(co_hb *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thr, NULL);
    close(h->fd);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
