/* meter/pcaplive.c: background live downtime measurement (see pcaplive.h). */
#include "meter/pcaplive.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meter/pcapio.h"

struct co_dtm_live {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready, done;           /* under mu */
    volatile sig_atomic_t stop; /* written with __atomic_store_n */
    co_dtm *m;
    char *iface, *filter, *save;
    double max_ms;
    int rc;
    co_diag d;
    co_pcap_stats st;
};

static int sink(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    co_dtm_live *l = ctx;
    return co_dtm_feed(l->m, pk->ts_ns, pk->dlt, pk->data, pk->caplen, pk->wirelen, d);
}

static void on_ready(void *ctx)
{
    co_dtm_live *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->ready = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void *run(void *arg)
{
    co_dtm_live *l = arg;
    co_pcap_live_opts o = {l->iface, l->filter, l->max_ms, 256, l->save, &l->stop, on_ready, 0};
    int rc = co_pcap_read_live(&o, sink, l, &l->st, &l->d);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->done = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void destroy(co_dtm_live *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    co_dtm_free(l->m);
    free(l->iface);
    free(l->filter);
    free(l->save);
    free(l);
}

int co_dtm_live_start(const co_dtm_live_opts *o, co_dtm_live **out, co_diag *d)
{
    *out = NULL;
    if (o->iface == NULL || o->filter == NULL || *o->filter == '\0')
        return co_diag_set(d, CO_EUSAGE, "a live measurement needs an interface and a filter");
    co_dtm_live *l = calloc(1, sizeof *l);
    if (l == NULL)
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    co_diag_init(&l->d);
    l->m = co_dtm_new(&o->meter);
    l->iface = strdup(o->iface);
    l->filter = strdup(o->filter);
    l->save = o->save_path ? strdup(o->save_path) : NULL;
    l->max_ms = o->max_duration_ms > 0 ? o->max_duration_ms : 3600e3;
    if (l->m == NULL || l->iface == NULL || l->filter == NULL || (o->save_path && !l->save)) {
        destroy(l);
        return co_diag_set(d, CO_ENOMEM, "out of memory");
    }
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        destroy(l);
        return co_diag_set(d, CO_EOS, "cannot start the capture thread");
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&l->mu);
    while (!l->ready && !l->done)
        if (pthread_cond_timedwait(&l->cv, &l->mu, &until) != 0)
            break;
    int ready = l->ready, done = l->done;
    pthread_mutex_unlock(&l->mu);
    if (!ready || done) {
        __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
        pthread_join(l->thread, NULL);
        int rc = l->rc != CO_OK ? l->rc : CO_ETIMEDOUT;
        if (l->rc != CO_OK)
            co_diag_set(d, rc, "%s", l->d.msg);
        else
            co_diag_set(d, rc, "--iface %s: the capture did not start within 5 s", o->iface);
        destroy(l);
        return rc;
    }
    *out = l;
    return CO_OK;
}

int co_dtm_live_stop(co_dtm_live *l, co_dtm_result *r, unsigned long long *kernel_drops,
                     co_diag *d)
{
    memset(r, 0, sizeof *r);
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    pthread_join(l->thread, NULL);
    int rc = l->rc;
    if (rc != CO_OK)
        co_diag_set(d, rc, "%s", l->d.msg);
    else {
        co_dtm_set_end(l->m, l->st.end_ns);
        rc = co_dtm_finish(l->m, r, d);
    }
    if (kernel_drops)
        *kernel_drops = l->st.kernel_drops;
    destroy(l);
    return rc;
}

int co_dtm_parse_measure(const char *spec, char *iface, size_t iface_len, char *filter,
                         size_t filter_len, co_diag *d)
{
    const char *comma = spec ? strchr(spec, ',') : NULL;
    if (spec == NULL || strncmp(spec, "pcap:", 5) != 0 || comma == NULL || comma == spec + 5 ||
        comma[1] == '\0')
        return co_diag_set(d, CO_EUSAGE, "--measure '%s': expected pcap:IFACE,FILTER",
                           spec ? spec : "");
    size_t n = (size_t)(comma - (spec + 5));
    if (n >= iface_len || strlen(comma + 1) >= filter_len)
        return co_diag_set(d, CO_EUSAGE, "--measure '%s': interface or filter too long", spec);
    memcpy(iface, spec + 5, n);
    iface[n] = '\0';
    strcpy(filter, comma + 1);
    return CO_OK;
}
