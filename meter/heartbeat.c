/* meter/heartbeat.c: heartbeat gap meter (UDP, one thread). */
#include "meter/heartbeat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"

struct co_hb {
    int fd;
    int port;
    pthread_t thr;
    pthread_mutex_t mu;
    int stop;
    int armed;
    double last_ms;
    double max_gap_ms, gap_end_ms;
    long count;
};

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
        ssize_t n = recv(h->fd, buf, sizeof buf, 0); /* SO_RCVTIMEO bounds it */
        if (n <= 0)
            continue;
        double now = co_clock_ms();
        pthread_mutex_lock(&h->mu);
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

int co_hb_start(int port, co_hb **out, co_diag *d)
{
    *out = NULL;
    if (port < 0 || port > 65535)
        return co_diag_set(d, CO_EUSAGE, "--heartbeat: port %d out of range 0..65535", port);
    co_hb *h = calloc(1, sizeof *h);
    if (!h)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    h->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        free(h);
        return co_diag_set(d, CO_EOS, "--heartbeat: socket: %s", strerror(errno));
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(h->fd);
        free(h);
        return co_diag_set(d, e == EADDRINUSE ? CO_EBUSY : CO_EOS,
                           "--heartbeat: cannot listen on udp port %d: %s", port, strerror(e));
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
