/* drivers/qmp.c: QMP reader (byte-fed framing and classification), the
 * socket connection and the typed wrappers. See drivers/qmp.h. */
#include "drivers/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

/* ================================================================ reader */

struct co_qmp_reader {
    char *buf;
    size_t len, cap;
    size_t start;       /* offset of the current message (or of unscanned input) */
    size_t scan;        /* next byte to scan */
    uint64_t base;      /* stream offset of buf[0], for diagnostics */
    size_t max;
    int in_msg, depth, in_str, esc;
    co_diag err;        /* sticky failure */
};

co_qmp_reader *co_qmp_reader_new(size_t max_msg_bytes)
{
    co_qmp_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->max = max_msg_bytes ? max_msg_bytes : CO_QMP_MAX_MSG_BYTES;
    co_diag_init(&r->err);
    return r;
}

void co_qmp_reader_free(co_qmp_reader *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

size_t co_qmp_reader_pending(const co_qmp_reader *r)
{
    return r->len - r->start;
}

static int reader_fail(co_qmp_reader *r, co_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int reader_fail(co_qmp_reader *r, co_diag *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->err.code = code;
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    return co_diag_set(d, code, "%s", r->err.msg);
}

int co_qmp_reader_feed(co_qmp_reader *r, const void *buf, size_t len, co_diag *d)
{
    if (r->err.code != CO_OK)
        return co_diag_set(d, r->err.code, "%s", r->err.msg);
    /* Unparsed input beyond one maximal message plus a read's worth means
     * the caller is not draining or the peer floods us; refuse to grow. */
    if (r->len - r->start + len > r->max + (r->max / 4) + 65536)
        return reader_fail(r, d, CO_EPROTO,
                           "QMP message larger than %zu bytes at stream offset %" PRIu64,
                           r->max, r->base + r->start);
    /* Drop consumed bytes lazily, here, so next() stays O(message). */
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->scan -= r->start;
        r->base += r->start;
        r->start = 0;
    }
    if (r->len + len > r->cap) {
        size_t ncap = r->cap ? r->cap : 4096;
        while (ncap < r->len + len)
            ncap *= 2;
        char *nb = realloc(r->buf, ncap);
        if (nb == NULL)
            return co_diag_set(d, CO_ENOMEM, "QMP reader: out of memory buffering %zu bytes",
                               r->len + len);
        r->buf = nb;
        r->cap = ncap;
    }
    if (len)
        memcpy(r->buf + r->len, buf, len);
    r->len += len;
    return CO_OK;
}

void co_qmp_msg_clear(co_qmp_msg *m)
{
    if (m->json)
        json_decref(m->json);
    memset(m, 0, sizeof *m);
}

int co_qmp_classify(json_t *j, co_qmp_msg *m, co_diag *d)
{
    memset(m, 0, sizeof *m);
    m->timestamp_s = NAN;
    if (!json_is_object(j)) {
        json_decref(j);
        return co_diag_set(d, CO_EPROTO, "QMP message is not a JSON object");
    }
    m->json = j;
    m->id = json_object_get(j, "id");
    json_t *v;
    if ((v = json_object_get(j, "QMP")) != NULL) {
        if (!json_is_object(v))
            goto bad_shape;
        m->kind = CO_QMP_GREETING;
    } else if ((v = json_object_get(j, "return")) != NULL) {
        m->kind = CO_QMP_RETURN;
        m->ret = v;
    } else if ((v = json_object_get(j, "error")) != NULL) {
        json_t *cl = json_object_get(v, "class"), *de = json_object_get(v, "desc");
        if (!json_is_object(v) || !json_is_string(cl) || !json_is_string(de)) {
            co_qmp_msg_clear(m);
            return co_diag_set(d, CO_EPROTO,
                               "QMP error reply without string fields 'class' and 'desc'");
        }
        m->kind = CO_QMP_ERROR;
        m->err_class = json_string_value(cl);
        m->err_desc = json_string_value(de);
    } else if ((v = json_object_get(j, "event")) != NULL) {
        if (!json_is_string(v)) {
            co_qmp_msg_clear(m);
            return co_diag_set(d, CO_EPROTO, "QMP event whose 'event' field is not a string");
        }
        m->kind = CO_QMP_EVENT;
        m->event = json_string_value(v);
        json_t *data = json_object_get(j, "data");
        if (data != NULL && !json_is_object(data)) {
            co_qmp_msg_clear(m);
            return co_diag_set(d, CO_EPROTO, "QMP event '%s': field 'data' is not an object",
                               json_string_value(v));
        }
        m->data = data;
        json_t *ts = json_object_get(j, "timestamp");
        if (ts != NULL) {
            json_t *s = json_object_get(ts, "seconds"), *us = json_object_get(ts, "microseconds");
            if (!json_is_integer(s) || !json_is_integer(us)) {
                co_qmp_msg_clear(m);
                return co_diag_set(d, CO_EPROTO,
                                   "QMP event '%s': bad 'timestamp' (want integer seconds "
                                   "and microseconds)",
                                   json_string_value(v));
            }
            m->timestamp_s = (double)json_integer_value(s) +
                             (double)json_integer_value(us) / 1e6;
        }
    } else {
        goto bad_shape;
    }
    return CO_OK;
bad_shape:
    co_qmp_msg_clear(m);
    return co_diag_set(d, CO_EPROTO,
                       "QMP message has none of the keys QMP/return/error/event");
}

int co_qmp_reader_next(co_qmp_reader *r, co_qmp_msg *m, co_diag *d)
{
    memset(m, 0, sizeof *m);
    if (r->err.code != CO_OK)
        return co_diag_set(d, r->err.code, "%s", r->err.msg);
    while (r->scan < r->len) {
        unsigned char c = (unsigned char)r->buf[r->scan];
        if (!r->in_msg) {
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                r->start = ++r->scan;
                continue;
            }
            if (c != '{')
                return reader_fail(r, d, CO_EPROTO,
                                   "QMP garbage at stream offset %" PRIu64
                                   ": byte 0x%02x where a JSON object should start",
                                   r->base + r->scan, c);
            r->in_msg = 1;
            r->depth = 1;
            r->in_str = r->esc = 0;
            r->start = r->scan++;
            continue;
        }
        r->scan++;
        if (r->scan - r->start > r->max)
            return reader_fail(r, d, CO_EPROTO,
                               "QMP message at stream offset %" PRIu64
                               " exceeds the %zu-byte cap",
                               r->base + r->start, r->max);
        if (r->in_str) {
            if (r->esc)
                r->esc = 0;
            else if (c == '\\')
                r->esc = 1;
            else if (c == '"')
                r->in_str = 0;
            continue;
        }
        if (c == '"') {
            r->in_str = 1;
        } else if (c == '{' || c == '[') {
            r->depth++;
        } else if (c == '}' || c == ']') {
            if (--r->depth > 0)
                continue;
            /* One complete top-level value in [start, scan). */
            size_t n = r->scan - r->start;
            uint64_t off = r->base + r->start;
            if (n > r->max)
                return reader_fail(r, d, CO_EPROTO,
                                   "QMP message of %zu bytes at stream offset %" PRIu64
                                   " exceeds the %zu-byte cap",
                                   n, off, r->max);
            json_error_t je;
            json_t *j = json_loadb(r->buf + r->start, n, 0, &je);
            r->in_msg = 0;
            r->start = r->scan;
            if (j == NULL)
                return reader_fail(r, d, CO_EPROTO,
                                   "QMP bad JSON in message at stream offset %" PRIu64
                                   " (column %d): %s",
                                   off, je.column, je.text);
            co_diag cd;
            co_diag_init(&cd);
            int rc = co_qmp_classify(j, m, &cd);
            if (rc != CO_OK)
                return reader_fail(r, d, rc, "%s (message at stream offset %" PRIu64 ")",
                                   cd.msg, off);
            m->bytes = n;
            return 1;
        }
    }
    if (!r->in_msg)
        r->start = r->scan;
    return 0;
}

/* ============================================================ connection */

#define EVQ_CAP 4096
#define READ_CHUNK 65536

struct co_qmp {
    int fd;
    char addr[256];
    int timeout_ms;
    int log;              /* CUTOVER_QMP_LOG */
    int dead;
    char dead_msg[512];
    co_qmp_reader *rd;
    int64_t next_id;
    co_qmp_event *evq;    /* ring */
    size_t evq_head, evq_len, evq_cap;
    uint64_t dropped;
    char last_err_class[64];
    int ver_major, ver_minor, ver_micro;
};

static int remaining_ms(double deadline)
{
    double r = deadline - co_clock_ms();
    if (r <= 0)
        return 0;
    return r > 1e9 ? 1000000000 : (int)ceil(r);
}

void co_qmp_event_clear(co_qmp_event *ev)
{
    if (ev->data)
        json_decref(ev->data);
    ev->data = NULL;
}

static void trace(co_qmp *q, const char *dir, const char *text, size_t len)
{
    if (!q->log)
        return;
    fprintf(stderr, "qmp %s %.3f %s %.*s\n", q->addr, co_clock_ms() / 1e3, dir, (int)len, text);
}

/* Mark the connection dead with a message later calls repeat. */
static int kill_conn(co_qmp *q, co_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int kill_conn(co_qmp *q, co_diag *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->dead_msg, sizeof q->dead_msg, fmt, ap);
    va_end(ap);
    q->dead = 1;
    return co_diag_set(d, code, "%s", q->dead_msg);
}

static void enqueue_event(co_qmp *q, const co_qmp_msg *m)
{
    if (q->evq_len == q->evq_cap) {
        if (q->evq_cap >= EVQ_CAP) {
            /* Full: drop the oldest; the count tells callers it happened. */
            co_qmp_event_clear(&q->evq[q->evq_head]);
            q->evq_head = (q->evq_head + 1) % q->evq_cap;
            q->evq_len--;
            q->dropped++;
        } else {
            size_t ncap = q->evq_cap ? q->evq_cap * 2 : 16;
            co_qmp_event *n = malloc(ncap * sizeof *n);
            if (n == NULL) {
                q->dropped++;
                return;
            }
            for (size_t i = 0; i < q->evq_len; i++)
                n[i] = q->evq[(q->evq_head + i) % q->evq_cap];
            free(q->evq);
            q->evq = n;
            q->evq_cap = ncap;
            q->evq_head = 0;
        }
    }
    co_qmp_event *ev = &q->evq[(q->evq_head + q->evq_len) % q->evq_cap];
    snprintf(ev->name, sizeof ev->name, "%s", m->event);
    ev->data = m->data ? json_incref(m->data) : NULL;
    ev->timestamp_s = m->timestamp_s;
    ev->received_ms = co_clock_ms();
    q->evq_len++;
}

int co_qmp_next_event(co_qmp *q, co_qmp_event *ev)
{
    if (q->evq_len == 0)
        return 0;
    *ev = q->evq[q->evq_head];
    q->evq[q->evq_head].data = NULL;
    q->evq_head = (q->evq_head + 1) % q->evq_cap;
    q->evq_len--;
    return 1;
}

uint64_t co_qmp_events_dropped(const co_qmp *q)
{
    return q->dropped;
}

/* Pull complete messages out of the reader: events are queued; a reply
 * whose id equals want_id (>0) is moved to *reply and 1 is returned; a
 * greeting is moved to *reply when want_id is 0. Other replies are late
 * answers to calls that timed out: dropped. */
static int drain(co_qmp *q, int64_t want_id, co_qmp_msg *reply, co_diag *d)
{
    for (;;) {
        co_qmp_msg m;
        co_diag rd;
        co_diag_init(&rd);
        int rc = co_qmp_reader_next(q->rd, &m, &rd);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return kill_conn(q, d, rc, "QMP %s: %s", q->addr, rd.msg);
        if (q->log) {
            char *t = json_dumps(m.json, JSON_COMPACT);
            if (t)
                trace(q, "<", t, strlen(t));
            free(t);
        }
        if (m.kind == CO_QMP_EVENT) {
            enqueue_event(q, &m);
            co_qmp_msg_clear(&m);
            continue;
        }
        if (m.kind == CO_QMP_GREETING) {
            if (want_id == 0) {
                *reply = m;
                return 1;
            }
            co_qmp_msg_clear(&m);
            continue;
        }
        if (want_id > 0 && json_is_integer(m.id) && json_integer_value(m.id) == want_id) {
            *reply = m;
            return 1;
        }
        /* QEMU answers a command it could not parse (so could not read the
         * id of) with an error without id; calls are one at a time, so it
         * is ours. Waiting for an id would only end in a timeout. */
        if (want_id > 0 && m.kind == CO_QMP_ERROR && m.id == NULL) {
            *reply = m;
            return 1;
        }
        co_qmp_msg_clear(&m);
    }
}

/* Wait until deadline for bytes; feed them. Returns 1 if bytes were read,
 * 0 on timeout, or a negative code (EOF and I/O errors kill the
 * connection). `what` says what we were waiting for, for the message. */
static int read_some(co_qmp *q, double deadline, const char *what, co_diag *d)
{
    for (;;) {
        struct pollfd p = {.fd = q->fd, .events = POLLIN};
        int n = poll(&p, 1, remaining_ms(deadline));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return kill_conn(q, d, CO_EOS, "QMP %s: poll: %s", q->addr, strerror(errno));
        }
        if (n == 0)
            return 0;
        char buf[READ_CHUNK];
        ssize_t got = recv(q->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            if (errno == ECONNRESET || errno == EPIPE)
                return kill_conn(q, d, CO_EUNAVAIL,
                                 "QMP %s: QEMU closed the connection (reset) while %s (did QEMU exit?)",
                                 q->addr, what);
            return kill_conn(q, d, CO_EIO, "QMP %s: read while %s: %s", q->addr, what,
                             strerror(errno));
        }
        if (got == 0) {
            size_t pend = co_qmp_reader_pending(q->rd);
            if (pend)
                return kill_conn(q, d, CO_EUNAVAIL,
                                 "QMP %s: QEMU closed the connection while %s, in the middle "
                                 "of a message (%zu bytes unterminated; did QEMU exit?)",
                                 q->addr, what, pend);
            return kill_conn(q, d, CO_EUNAVAIL,
                             "QMP %s: QEMU closed the connection while %s (did QEMU exit?)",
                             q->addr, what);
        }
        co_diag fd;
        co_diag_init(&fd);
        int rc = co_qmp_reader_feed(q->rd, buf, (size_t)got, &fd);
        if (rc != CO_OK)
            return kill_conn(q, d, rc, "QMP %s: %s", q->addr, fd.msg);
        return 1;
    }
}

static int send_all(co_qmp *q, const char *buf, size_t len, double deadline, const char *cmd,
                    co_diag *d)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(q->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = q->fd, .events = POLLOUT};
            int r = poll(&p, 1, remaining_ms(deadline));
            if (r == 0)
                return co_diag_set(d, CO_ETIMEDOUT,
                                   "QMP %s: could not send '%s' within %d ms (QEMU not reading)",
                                   q->addr, cmd, q->timeout_ms);
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return kill_conn(q, d, CO_EUNAVAIL,
                             "QMP %s: QEMU closed the connection while sending '%s' "
                             "(did QEMU exit?)",
                             q->addr, cmd);
        return kill_conn(q, d, CO_EIO, "QMP %s: sending '%s': %s", q->addr, cmd,
                         strerror(errno));
    }
    return CO_OK;
}

int co_qmp_call(co_qmp *q, const char *cmd, json_t *args, json_t **ret, co_diag *d)
{
    q->last_err_class[0] = '\0';
    if (ret)
        *ret = NULL;
    if (q->dead) {
        if (args)
            json_decref(args);
        return co_diag_set(d, CO_EUNAVAIL, "%s (cannot run '%s')", q->dead_msg, cmd);
    }
    int64_t id = ++q->next_id;
    json_t *msg = json_pack("{s:s, s:I}", "execute", cmd, "id", (json_int_t)id);
    if (msg == NULL || (args && json_object_set_new(msg, "arguments", args) != 0)) {
        json_decref(msg);
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory building '%s'", cmd);
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text == NULL)
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory encoding '%s'", cmd);
    trace(q, ">", text, strlen(text));
    size_t tl = strlen(text);
    text[tl] = '\n'; /* replaces the NUL; we send exactly tl+1 bytes */
    double deadline = co_clock_ms() + q->timeout_ms;
    int rc = send_all(q, text, tl + 1, deadline, cmd, d);
    free(text);
    if (rc != CO_OK)
        return rc;

    char what[128];
    snprintf(what, sizeof what, "waiting for the reply to '%s'", cmd);
    co_qmp_msg m = {0};
    for (;;) {
        rc = drain(q, id, &m, d);
        if (rc < 0)
            return rc;
        if (rc == 1)
            break;
        rc = read_some(q, deadline, what, d);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return co_diag_set(d, CO_ETIMEDOUT, "QMP %s: no reply to '%s' within %d ms",
                               q->addr, cmd, q->timeout_ms);
    }
    if (m.kind == CO_QMP_ERROR) {
        snprintf(q->last_err_class, sizeof q->last_err_class, "%s", m.err_class);
        rc = co_diag_set(d, CO_EFAILED, "QEMU refused '%s': %s (%s)", cmd, m.err_desc,
                         m.err_class);
        co_qmp_msg_clear(&m);
        return rc;
    }
    if (ret)
        *ret = json_incref(m.ret);
    co_qmp_msg_clear(&m);
    /* Queue events that came in the same read after the reply, so
     * co_qmp_next_event sees them without another read. A protocol error
     * here kills the connection for the next call; this one succeeded. */
    co_qmp_msg none = {0};
    drain(q, -1, &none, NULL);
    return CO_OK;
}

const char *co_qmp_last_error_class(const co_qmp *q)
{
    return q->last_err_class;
}

int co_qmp_pump(co_qmp *q, int timeout_ms, co_diag *d)
{
    if (q->dead)
        return co_diag_set(d, CO_EUNAVAIL, "%s", q->dead_msg);
    co_qmp_msg none = {0};
    int rc = drain(q, -1, &none, d);
    if (rc < 0)
        return rc;
    double deadline = co_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    /* Wait for the first bytes, then take whatever else is already there
     * (bounded, so a flood cannot keep us here). */
    for (int i = 0; i < 64; i++) {
        rc = read_some(q, i == 0 ? deadline : 0, "reading events", d);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        rc = drain(q, -1, &none, d);
        if (rc < 0)
            return rc;
    }
    return CO_OK;
}

int co_qmp_wait_event(co_qmp *q, int timeout_ms, co_qmp_event *ev, co_diag *d)
{
    double deadline = co_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (co_qmp_next_event(q, ev))
            return 1;
        if (q->dead)
            return co_diag_set(d, CO_EUNAVAIL, "%s", q->dead_msg);
        co_qmp_msg none = {0};
        int rc = drain(q, -1, &none, d);
        if (rc < 0)
            return rc;
        if (co_qmp_next_event(q, ev))
            return 1;
        rc = read_some(q, deadline, "waiting for an event", d);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            rc = drain(q, -1, &none, d);
            if (rc < 0)
                return rc;
            return co_qmp_next_event(q, ev);
        }
    }
}

/* Parse addr into a connected, non-blocking socket. */
static int open_socket(co_qmp *q, const char *addr, double deadline, co_diag *d)
{
    int is_unix;
    const char *rest = addr;
    if (strncmp(addr, "unix:", 5) == 0) {
        is_unix = 1;
        rest = addr + 5;
    } else if (strncmp(addr, "tcp:", 4) == 0) {
        is_unix = 0;
        rest = addr + 4;
    } else {
        is_unix = strchr(addr, '/') != NULL || strchr(addr, ':') == NULL;
    }
    if (*rest == '\0')
        return co_diag_set(d, CO_EUSAGE, "QMP address '%s' is empty", addr);

    if (is_unix) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(rest) >= sizeof sa.sun_path)
            return co_diag_set(d, CO_EUSAGE,
                               "QMP socket path '%s' is too long (max %zu bytes)", rest,
                               sizeof sa.sun_path - 1);
        memcpy(sa.sun_path, rest, strlen(rest) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return co_diag_set(d, CO_EOS, "QMP %s: socket: %s", addr, strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS &&
            errno != EAGAIN) {
            int e = errno;
            close(fd);
            if (e == ENOENT)
                return co_diag_set(d, CO_EUNAVAIL,
                                   "QMP %s: no such socket (is QEMU running with -qmp "
                                   "unix:%s,server=on?)",
                                   addr, rest);
            if (e == ECONNREFUSED)
                return co_diag_set(d, CO_EUNAVAIL,
                                   "QMP %s: connection refused (no QEMU listening; stale "
                                   "socket?)",
                                   addr);
            if (e == EACCES || e == EPERM)
                return co_diag_set(d, CO_ENOPERM, "QMP %s: permission denied", addr);
            return co_diag_set(d, CO_EUNAVAIL, "QMP %s: connect: %s", addr, strerror(e));
        }
        q->fd = fd;
        /* A unix connect either completes or fails at once; EAGAIN (full
         * backlog) is caught by the greeting timeout. */
        return CO_OK;
    }

    /* tcp: HOST:PORT, HOST may be [v6]. */
    char host[256], port[32];
    const char *colon = strrchr(rest, ':');
    if (colon == NULL || colon == rest || colon[1] == '\0')
        return co_diag_set(d, CO_EUSAGE, "QMP address '%s': want tcp:HOST:PORT", addr);
    size_t hl = (size_t)(colon - rest);
    if (rest[0] == '[' && hl >= 2 && rest[hl - 1] == ']') {
        rest++;
        hl -= 2;
    }
    if (hl >= sizeof host || strlen(colon + 1) >= sizeof port)
        return co_diag_set(d, CO_EUSAGE, "QMP address '%s' is too long", addr);
    memcpy(host, rest, hl);
    host[hl] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    char *end;
    long pn = strtol(port, &end, 10);
    if (*end != '\0' || pn <= 0 || pn > 65535)
        return co_diag_set(d, CO_EUSAGE, "QMP address '%s': port '%s' is not 1..65535", addr,
                           port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return co_diag_set(d, CO_EUNAVAIL, "QMP %s: cannot resolve '%s': %s", addr, host,
                           gai_strerror(gai));
    int last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last = errno;
                close(fd);
                continue;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n;
            do
                n = poll(&p, 1, remaining_ms(deadline));
            while (n < 0 && errno == EINTR);
            if (n == 0) {
                close(fd);
                freeaddrinfo(res);
                return co_diag_set(d, CO_ETIMEDOUT, "QMP %s: connect timed out after %d ms",
                                   addr, q->timeout_ms);
            }
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err != 0) {
                last = err;
                close(fd);
                continue;
            }
        }
        freeaddrinfo(res);
        q->fd = fd;
        return CO_OK;
    }
    freeaddrinfo(res);
    return co_diag_set(d, CO_EUNAVAIL, "QMP %s: connect: %s", addr, strerror(last));
}

static co_qmp *conn_new(const char *addr, int timeout_ms)
{
    co_qmp *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->fd = -1;
    q->timeout_ms = timeout_ms > 0 ? timeout_ms : CO_QMP_DEFAULT_TIMEOUT_MS;
    snprintf(q->addr, sizeof q->addr, "%s", addr);
    const char *lg = getenv("CUTOVER_QMP_LOG");
    q->log = lg != NULL && *lg != '\0' && strcmp(lg, "0") != 0;
    q->rd = co_qmp_reader_new(0);
    if (q->rd == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

static int handshake(co_qmp *q, double deadline, co_qmp **out, co_diag *d);

int co_qmp_connect(const char *addr, int timeout_ms, co_qmp **out, co_diag *d)
{
    *out = NULL;
    if (addr == NULL || *addr == '\0')
        return co_diag_set(d, CO_EUSAGE, "QMP address is empty");
    co_qmp *q = conn_new(addr, timeout_ms);
    if (q == NULL)
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory");
    double deadline = co_clock_ms() + q->timeout_ms;
    int rc = open_socket(q, addr, deadline, d);
    if (rc != CO_OK) {
        co_qmp_close(q);
        return rc;
    }
    return handshake(q, deadline, out, d);
}

int co_qmp_connect_wait(const char *addr, int timeout_ms, int appear_ms, co_qmp **out,
                        co_diag *d)
{
    double until = co_clock_ms() + (appear_ms > 0 ? appear_ms : 0);
    for (;;) {
        co_diag tmp;
        co_diag_init(&tmp);
        int rc = co_qmp_connect(addr, timeout_ms, out, &tmp);
        if (rc == CO_OK)
            return CO_OK;
        if (rc != CO_EUNAVAIL || co_clock_ms() >= until)
            return co_diag_set(d, rc, "%s", tmp.msg);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int co_qmp_open_fd(int fd, const char *name, int timeout_ms, co_qmp **out, co_diag *d)
{
    *out = NULL;
    co_qmp *q = conn_new(name ? name : "fd", timeout_ms);
    if (q == NULL) {
        close(fd);
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory");
    }
    q->fd = fd;
    return handshake(q, co_clock_ms() + q->timeout_ms, out, d);
}

/* Greeting, then qmp_capabilities; frees q on failure. */
static int handshake(co_qmp *q, double deadline, co_qmp **out, co_diag *d)
{
    int rc;
    const char *addr = q->addr;
    int timeout_ms = q->timeout_ms;
    co_qmp_msg m = {0};
    for (;;) {
        rc = drain(q, 0, &m, d);
        if (rc < 0)
            goto fail;
        if (rc == 1)
            break;
        rc = read_some(q, deadline, "waiting for the QMP greeting", d);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            rc = co_diag_set(d, CO_ETIMEDOUT,
                             "QMP %s: no greeting within %d ms (QEMU's monitor serves one "
                             "client at a time: is another client connected?)",
                             addr, timeout_ms);
            goto fail;
        }
    }
    json_t *qemu = json_object_get(json_object_get(json_object_get(m.json, "QMP"), "version"),
                                   "qemu");
    q->ver_major = (int)json_integer_value(json_object_get(qemu, "major"));
    q->ver_minor = (int)json_integer_value(json_object_get(qemu, "minor"));
    q->ver_micro = (int)json_integer_value(json_object_get(qemu, "micro"));
    co_qmp_msg_clear(&m);
    rc = co_qmp_call(q, "qmp_capabilities", NULL, NULL, d);
    if (rc != CO_OK)
        goto fail;
    *out = q;
    return CO_OK;
fail:
    co_qmp_close(q);
    return rc;
}

void co_qmp_close(co_qmp *q)
{
    if (q == NULL)
        return;
    if (q->fd >= 0)
        close(q->fd);
    co_qmp_event ev;
    while (co_qmp_next_event(q, &ev))
        co_qmp_event_clear(&ev);
    free(q->evq);
    co_qmp_reader_free(q->rd);
    free(q);
}

void co_qmp_set_timeout(co_qmp *q, int timeout_ms)
{
    q->timeout_ms = timeout_ms > 0 ? timeout_ms : CO_QMP_DEFAULT_TIMEOUT_MS;
}

const char *co_qmp_addr(const co_qmp *q)
{
    return q->addr;
}

void co_qmp_version(const co_qmp *q, int *major, int *minor, int *micro)
{
    if (major)
        *major = q->ver_major;
    if (minor)
        *minor = q->ver_minor;
    if (micro)
        *micro = q->ver_micro;
}

/* ========================================================== typed calls */

/* Read number field key of obj into *out (left alone if absent). where is
 * the path prefix for messages ("ram."). */
static int get_num(const json_t *obj, const char *where, const char *key, double *out,
                   co_diag *d)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return CO_OK;
    if (!json_is_number(v))
        return co_diag_set(d, CO_EPROTO, "query-migrate: field '%s%s' is not a number", where,
                           key);
    *out = json_number_value(v);
    return CO_OK;
}

/* Parse one numeric field or return its error from the enclosing function. */
#define NUM(obj, where, key, out, d)                                                          \
    do {                                                                                      \
        int num_rc_ = get_num(obj, where, key, out, d);                                       \
        if (num_rc_ != CO_OK)                                                                 \
            return num_rc_;                                                                   \
    } while (0)

static int get_obj(const json_t *info, const char *key, json_t **out, co_diag *d)
{
    json_t *v = json_object_get(info, key);
    *out = NULL;
    if (v == NULL)
        return CO_OK;
    if (!json_is_object(v))
        return co_diag_set(d, CO_EPROTO, "query-migrate: field '%s' is not an object", key);
    *out = v;
    return CO_OK;
}

int co_qmp_parse_migrate_info(const json_t *info, co_drv_stats *st, co_diag *d)
{
    double sampled = st->sampled_at_ms;
    co_drv_stats_init(st);
    st->sampled_at_ms = sampled;
    if (!json_is_object(info))
        return co_diag_set(d, CO_EPROTO, "query-migrate: reply is not an object");
    json_t *s = json_object_get(info, "status");
    if (s != NULL) {
        if (!json_is_string(s))
            return co_diag_set(d, CO_EPROTO, "query-migrate: field 'status' is not a string");
        st->status = co_drv_status_parse(json_string_value(s));
    }
    int rc = CO_OK;
    NUM(info, "", "total-time", &st->total_time_ms, d);
    NUM(info, "", "setup-time", &st->setup_time_ms, d);
    NUM(info, "", "downtime", &st->downtime_ms, d);
    NUM(info, "", "expected-downtime", &st->expected_downtime_ms, d);
    NUM(info, "", "cpu-throttle-percentage", &st->cpu_throttle_pct, d);
    NUM(info, "", "postcopy-blocktime", &st->postcopy_blocktime_ms, d);

    json_t *o;
    if ((rc = get_obj(info, "ram", &o, d)) != CO_OK)
        return rc;
    if (o) {
        double sync = NAN;
        NUM(o, "ram.", "transferred", &st->ram_transferred_bytes, d);
        NUM(o, "ram.", "remaining", &st->ram_remaining_bytes, d);
        NUM(o, "ram.", "total", &st->ram_total_bytes, d);
        NUM(o, "ram.", "duplicate", &st->ram_duplicate_pages, d);
        NUM(o, "ram.", "skipped", &st->ram_skipped_pages, d);
        NUM(o, "ram.", "normal", &st->ram_normal_pages, d);
        NUM(o, "ram.", "normal-bytes", &st->ram_normal_bytes, d);
        NUM(o, "ram.", "dirty-pages-rate", &st->ram_dirty_pages_rate, d);
        NUM(o, "ram.", "mbps", &st->ram_mbps, d);
        NUM(o, "ram.", "dirty-sync-count", &sync, d);
        NUM(o, "ram.", "postcopy-requests", &st->ram_postcopy_requests, d);
        NUM(o, "ram.", "page-size", &st->ram_page_size_bytes, d);
        NUM(o, "ram.", "multifd-bytes", &st->ram_multifd_bytes, d);
        NUM(o, "ram.", "pages-per-second", &st->ram_pages_per_second, d);
        NUM(o, "ram.", "precopy-bytes", &st->ram_precopy_bytes, d);
        NUM(o, "ram.", "downtime-bytes", &st->ram_downtime_bytes, d);
        NUM(o, "ram.", "postcopy-bytes", &st->ram_postcopy_bytes, d);
        NUM(o, "ram.", "dirty-sync-missed-zero-copy",
                      &st->ram_dirty_sync_missed_zero_copy, d);
        if (!isnan(sync))
            st->ram_dirty_sync_count = (int64_t)sync;
    }
    if ((rc = get_obj(info, "disk", &o, d)) != CO_OK)
        return rc;
    if (o) {
        NUM(o, "disk.", "transferred", &st->disk_transferred_bytes, d);
        NUM(o, "disk.", "remaining", &st->disk_remaining_bytes, d);
        NUM(o, "disk.", "total", &st->disk_total_bytes, d);
    }
    if ((rc = get_obj(info, "vfio", &o, d)) != CO_OK)
        return rc;
    if (o && (rc = get_num(o, "vfio.", "transferred", &st->vfio_transferred_bytes, d)) != CO_OK)
        return rc;
    if ((rc = get_obj(info, "xbzrle-cache", &o, d)) != CO_OK)
        return rc;
    if (o) {
        NUM(o, "xbzrle-cache.", "cache-size", &st->xbzrle_cache_size_bytes, d);
        NUM(o, "xbzrle-cache.", "bytes", &st->xbzrle_bytes, d);
        NUM(o, "xbzrle-cache.", "pages", &st->xbzrle_pages, d);
        NUM(o, "xbzrle-cache.", "cache-miss", &st->xbzrle_cache_miss, d);
        NUM(o, "xbzrle-cache.", "cache-miss-rate", &st->xbzrle_cache_miss_rate, d);
        NUM(o, "xbzrle-cache.", "encoding-rate", &st->xbzrle_encoding_rate, d);
        NUM(o, "xbzrle-cache.", "overflow", &st->xbzrle_overflow, d);
    }
    if ((rc = get_obj(info, "compression", &o, d)) != CO_OK)
        return rc;
    if (o) {
        NUM(o, "compression.", "pages", &st->compression_pages, d);
        NUM(o, "compression.", "busy", &st->compression_busy, d);
        NUM(o, "compression.", "busy-rate", &st->compression_busy_rate, d);
        NUM(o, "compression.", "compressed-size",
                      &st->compression_compressed_size_bytes, d);
        NUM(o, "compression.", "compression-rate", &st->compression_rate, d);
    }
    json_t *v = json_object_get(info, "error-desc");
    if (v != NULL) {
        if (!json_is_string(v))
            return co_diag_set(d, CO_EPROTO, "query-migrate: field 'error-desc' is not a string");
        snprintf(st->error_desc, sizeof st->error_desc, "%s", json_string_value(v));
    }
    v = json_object_get(info, "blocked-reasons");
    if (v != NULL) {
        if (!json_is_array(v))
            return co_diag_set(d, CO_EPROTO,
                               "query-migrate: field 'blocked-reasons' is not an array");
        size_t i, used = 0;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e))
                return co_diag_set(d, CO_EPROTO,
                                   "query-migrate: blocked-reasons[%zu] is not a string", i);
            int n = snprintf(st->blocked_reasons + used, sizeof st->blocked_reasons - used,
                             "%s%s", used ? "; " : "", json_string_value(e));
            if (n < 0 || (size_t)n >= sizeof st->blocked_reasons - used)
                break; /* truncated: keep what fits */
            used += (size_t)n;
        }
    }
    v = json_object_get(info, "postcopy-vcpu-blocktime");
    if (v != NULL) {
        if (!json_is_array(v))
            return co_diag_set(d, CO_EPROTO,
                               "query-migrate: field 'postcopy-vcpu-blocktime' is not an array");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_number(e))
                return co_diag_set(d, CO_EPROTO,
                                   "query-migrate: postcopy-vcpu-blocktime[%zu] is not a number",
                                   i);
            double x = json_number_value(e);
            if (isnan(st->postcopy_vcpu_blocktime_max_ms) || x > st->postcopy_vcpu_blocktime_max_ms)
                st->postcopy_vcpu_blocktime_max_ms = x;
        }
    }
    v = json_object_get(info, "socket-address");
    if (v != NULL) {
        if (!json_is_array(v))
            return co_diag_set(d, CO_EPROTO,
                               "query-migrate: field 'socket-address' is not an array");
        json_t *a = json_array_get(v, 0);
        if (a != NULL) {
            /* SocketAddress: {"type": "inet", "host", "port"} or
             * {"type": "unix", "path"}; others summarised by type. */
            const char *type = json_string_value(json_object_get(a, "type"));
            const char *host = json_string_value(json_object_get(a, "host"));
            const char *port = json_string_value(json_object_get(a, "port"));
            const char *path = json_string_value(json_object_get(a, "path"));
            if (type && strcmp(type, "inet") == 0 && host && port)
                snprintf(st->socket_address, sizeof st->socket_address, "tcp:%s:%s", host, port);
            else if (type && strcmp(type, "unix") == 0 && path)
                snprintf(st->socket_address, sizeof st->socket_address, "unix:%s", path);
            else if (type)
                snprintf(st->socket_address, sizeof st->socket_address, "%s", type);
        }
    }
    return CO_OK;
}

int co_qmp_query_migrate(co_qmp *q, co_drv_stats *st, co_diag *d)
{
    json_t *r = NULL;
    int rc = co_qmp_call(q, "query-migrate", NULL, &r, d);
    if (rc != CO_OK) {
        co_drv_stats_init(st);
        return rc;
    }
    st->sampled_at_ms = co_clock_ms();
    rc = co_qmp_parse_migrate_info(r, st, d);
    json_decref(r);
    return rc;
}

static int call_void(co_qmp *q, const char *cmd, json_t *args, co_diag *d)
{
    return co_qmp_call(q, cmd, args, NULL, d);
}

int co_qmp_migrate(co_qmp *q, const char *uri, co_diag *d)
{
    if (uri == NULL || *uri == '\0')
        return co_diag_set(d, CO_EUSAGE, "migrate: empty URI");
    return call_void(q, "migrate", json_pack("{s:s}", "uri", uri), d);
}

int co_qmp_set_parameters(co_qmp *q, json_t *params, co_diag *d)
{
    if (!json_is_object(params)) {
        json_decref(params);
        return co_diag_set(d, CO_ESOFTWARE, "migrate-set-parameters: parameters not an object");
    }
    return call_void(q, "migrate-set-parameters", params, d);
}

int co_qmp_set_parameter_int(co_qmp *q, const char *name, int64_t value, co_diag *d)
{
    json_t *p = json_object();
    if (p == NULL || json_object_set_new(p, name, json_integer((json_int_t)value)) != 0) {
        json_decref(p);
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory");
    }
    return co_qmp_set_parameters(q, p, d);
}

/* A query without arguments whose reply must be of type want (JSON_OBJECT
 * or JSON_ARRAY): anything else is a protocol error naming the command. */
static int query_typed(co_qmp *q, const char *cmd, json_type want, json_t **out, co_diag *d)
{
    int rc = co_qmp_call(q, cmd, NULL, out, d);
    if (rc == CO_OK && json_typeof(*out) != want) {
        json_decref(*out);
        *out = NULL;
        return co_diag_set(d, CO_EPROTO, "%s: reply is not an %s", cmd,
                           want == JSON_ARRAY ? "array" : "object");
    }
    return rc;
}

int co_qmp_query_parameters(co_qmp *q, json_t **out, co_diag *d)
{
    return query_typed(q, "query-migrate-parameters", JSON_OBJECT, out, d);
}

int co_qmp_set_capability(co_qmp *q, const char *name, int state, co_diag *d)
{
    json_t *a = json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", name, "state",
                          state ? 1 : 0);
    if (a == NULL)
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory");
    return call_void(q, "migrate-set-capabilities", a, d);
}

int co_qmp_query_capabilities(co_qmp *q, json_t **out, co_diag *d)
{
    return query_typed(q, "query-migrate-capabilities", JSON_ARRAY, out, d);
}

int co_qmp_capability_in(const co_qmp *q, const json_t *caps, const char *name, int *state,
                         co_diag *d)
{
    size_t i;
    json_t *e;
    json_array_foreach(caps, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "capability"));
        json_t *s = json_object_get(e, "state");
        if (n && strcmp(n, name) == 0 && json_is_boolean(s)) {
            *state = json_is_true(s);
            return CO_OK;
        }
    }
    return co_diag_set(d, CO_EDATA, "QEMU %s has no migration capability '%s'", q->addr, name);
}

int co_qmp_get_capability(co_qmp *q, const char *name, int *state, co_diag *d)
{
    json_t *caps = NULL;
    int rc = co_qmp_query_capabilities(q, &caps, d);
    if (rc != CO_OK)
        return rc;
    rc = co_qmp_capability_in(q, caps, name, state, d);
    json_decref(caps);
    return rc;
}

int co_qmp_start_postcopy(co_qmp *q, co_diag *d)
{
    return call_void(q, "migrate-start-postcopy", NULL, d);
}

int co_qmp_migrate_cancel(co_qmp *q, co_diag *d)
{
    return call_void(q, "migrate_cancel", NULL, d);
}

int co_qmp_stop(co_qmp *q, co_diag *d)
{
    return call_void(q, "stop", NULL, d);
}

int co_qmp_cont(co_qmp *q, co_diag *d)
{
    return call_void(q, "cont", NULL, d);
}

int co_qmp_query_status(co_qmp *q, co_qmp_status *st, co_diag *d)
{
    json_t *r = NULL;
    memset(st, 0, sizeof *st);
    int rc = co_qmp_call(q, "query-status", NULL, &r, d);
    if (rc != CO_OK)
        return rc;
    json_t *s = json_object_get(r, "status"), *run = json_object_get(r, "running");
    if (!json_is_string(s) || !json_is_boolean(run)) {
        json_decref(r);
        return co_diag_set(d, CO_EPROTO,
                           "query-status: reply lacks string 'status' or boolean 'running'");
    }
    snprintf(st->status, sizeof st->status, "%s", json_string_value(s));
    st->running = json_is_true(run);
    json_decref(r);
    return CO_OK;
}

int co_qmp_query_kvm(co_qmp *q, int *enabled, co_diag *d)
{
    json_t *r = NULL;
    *enabled = 0;
    int rc = co_qmp_call(q, "query-kvm", NULL, &r, d);
    if (rc != CO_OK)
        return rc;
    *enabled = json_is_true(json_object_get(r, "enabled"));
    json_decref(r);
    return CO_OK;
}

int co_qmp_query_version(co_qmp *q, co_qmp_ver *v, co_diag *d)
{
    json_t *r = NULL;
    memset(v, 0, sizeof *v);
    int rc = co_qmp_call(q, "query-version", NULL, &r, d);
    if (rc != CO_OK)
        return rc;
    json_t *qe = json_object_get(r, "qemu");
    json_t *ma = json_object_get(qe, "major"), *mi = json_object_get(qe, "minor"),
           *mc = json_object_get(qe, "micro");
    if (!json_is_integer(ma) || !json_is_integer(mi) || !json_is_integer(mc)) {
        json_decref(r);
        return co_diag_set(d, CO_EPROTO, "query-version: reply lacks qemu.major/minor/micro");
    }
    v->major = (int)json_integer_value(ma);
    v->minor = (int)json_integer_value(mi);
    v->micro = (int)json_integer_value(mc);
    const char *pkg = json_string_value(json_object_get(r, "package"));
    snprintf(v->package, sizeof v->package, "%s", pkg ? pkg : "");
    json_decref(r);
    return CO_OK;
}

int co_qmp_calc_dirty_rate(co_qmp *q, int calc_time_s, const char *mode, int sample_pages,
                           co_diag *d)
{
    /* QEMU 7.2 checks calc-time is 1..60 s; say so before asking it. */
    if (calc_time_s < 1 || calc_time_s > 60)
        return co_diag_set(d, CO_ERANGE, "calc-dirty-rate: calc-time %d s is outside 1..60",
                           calc_time_s);
    json_t *a = json_pack("{s:i}", "calc-time", calc_time_s);
    if (a == NULL)
        return co_diag_set(d, CO_ENOMEM, "QMP: out of memory");
    if (mode)
        json_object_set_new(a, "mode", json_string(mode));
    if (sample_pages >= 0)
        json_object_set_new(a, "sample-pages", json_integer(sample_pages));
    return call_void(q, "calc-dirty-rate", a, d);
}

static int64_t int_or(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int co_qmp_query_dirty_rate(co_qmp *q, co_qmp_dirty_rate *out, co_diag *d)
{
    json_t *r = NULL;
    memset(out, 0, sizeof *out);
    int rc = co_qmp_call(q, "query-dirty-rate", NULL, &r, d);
    if (rc != CO_OK)
        return rc;
    const char *st = json_string_value(json_object_get(r, "status"));
    if (st == NULL) {
        json_decref(r);
        return co_diag_set(d, CO_EPROTO, "query-dirty-rate: reply lacks string 'status'");
    }
    snprintf(out->status, sizeof out->status, "%s", st);
    const char *mode = json_string_value(json_object_get(r, "mode"));
    snprintf(out->mode, sizeof out->mode, "%s", mode ? mode : "");
    out->dirty_rate_mib_per_s = int_or(r, "dirty-rate", -1);
    out->start_time_s = int_or(r, "start-time", -1);
    out->calc_time_s = int_or(r, "calc-time", -1);
    out->sample_pages = int_or(r, "sample-pages", -1);
    json_t *vc = json_object_get(r, "vcpu-dirty-rate");
    if (json_is_array(vc)) {
        size_t i;
        json_t *e;
        json_array_foreach(vc, i, e)
        {
            if (out->n_vcpu >= (int)(sizeof out->vcpu_rate_mib_per_s /
                                     sizeof out->vcpu_rate_mib_per_s[0]))
                break;
            out->vcpu_rate_mib_per_s[out->n_vcpu++] = int_or(e, "dirty-rate", -1);
        }
    }
    json_decref(r);
    return CO_OK;
}
