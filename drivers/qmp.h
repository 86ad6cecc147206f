/* drivers/qmp.h: our QMP (QEMU Machine Protocol) client.
 *
 * Owns two layers, kept apart so tests can feed bytes without a socket
 * (the split hiredis makes with redisReaderFeed):
 *   co_qmp_reader  a byte-fed parser that frames the JSON stream into whole
 *                  messages (QEMU ends each with CRLF, but framing follows
 *                  the JSON nesting, so any whitespace or none works) and
 *                  classifies them as greeting / return / error / event.
 *   co_qmp         a connection over a unix or tcp socket: greeting, then
 *                  qmp_capabilities; commands carry an id; replies are
 *                  matched by id (late replies to timed-out calls are
 *                  dropped); asynchronous events are queued in arrival
 *                  order; every call has a deadline enforced with poll().
 * Plus typed wrappers for the commands the engine needs, in QEMU 7.2's
 * vocabulary (qapi/migration.json, qapi/misc.json at v7.2.0).
 *
 * Errors: garbage, bad JSON, unknown message shapes and messages larger
 * than the reader's cap are CO_EPROTO; EOF (QEMU exited) is CO_EUNAVAIL;
 * no reply in time is CO_ETIMEDOUT; an error reply from QEMU is CO_EFAILED
 * with QEMU's class and desc in the diagnostic. A protocol error or EOF
 * leaves the connection dead: later calls fail at once with CO_EUNAVAIL.
 *
 * A connection is used by one thread at a time (no locking inside).
 *
 * Tracing: with CUTOVER_QMP_LOG=1 in the environment (read once at
 * connect), every message sent and received is written to stderr as
 * "qmp> ..." / "qmp< ..." lines. */
#ifndef CUTOVER_ENGINE_QMP_H
#define CUTOVER_ENGINE_QMP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/driver.h"
#include "util/diag.h"

/* Default cap on one message: query-migrate is ~1 KiB, the QMP schema
 * ~200 KiB; 16 MiB leaves room while bounding memory against a bad peer. */
#define CO_QMP_MAX_MSG_BYTES (16u << 20)
#define CO_QMP_DEFAULT_TIMEOUT_MS 5000

/* ---------------------------------------------------------------- reader */

enum co_qmp_kind {
    CO_QMP_GREETING = 1, /* {"QMP": {...}} */
    CO_QMP_RETURN,       /* {"return": ..., "id": ...} */
    CO_QMP_ERROR,        /* {"error": {"class", "desc"}, "id": ...} */
    CO_QMP_EVENT,        /* {"event": NAME, "data": {...}, "timestamp": {...}} */
};

/* One classified message. All pointers borrow from json, which the message
 * owns; co_qmp_msg_clear() releases it. */
typedef struct co_qmp_msg {
    int kind;               /* enum co_qmp_kind */
    json_t *json;           /* the whole message (owned reference) */
    json_t *id;             /* "id" if present, else NULL */
    json_t *ret;            /* RETURN: the "return" value */
    const char *err_class;  /* ERROR: e.g. "GenericError", "CommandNotFound" */
    const char *err_desc;   /* ERROR: QEMU's human text */
    const char *event;      /* EVENT: e.g. "MIGRATION" */
    json_t *data;           /* EVENT: "data" object, or NULL if absent */
    double timestamp_s;     /* EVENT: seconds + microseconds/1e6 (host clock); NAN if absent */
    size_t bytes;           /* size of the message text in the stream */
} co_qmp_msg;

typedef struct co_qmp_reader co_qmp_reader;

/* A new reader refusing messages longer than max_msg_bytes (0 = default
 * CO_QMP_MAX_MSG_BYTES). Returns NULL when out of memory. Free with
 * co_qmp_reader_free(). */
co_qmp_reader *co_qmp_reader_new(size_t max_msg_bytes);
void co_qmp_reader_free(co_qmp_reader *r);

/* Append len bytes of the stream. Copies them; never parses. Returns CO_OK,
 * CO_ENOMEM, or the reader's earlier error (errors are sticky). */
int co_qmp_reader_feed(co_qmp_reader *r, const void *buf, size_t len, co_diag *d);

/* Take the next complete message, if any. Returns 1 and fills *m (caller
 * clears it), 0 when more bytes are needed, or a negative CO_E* (CO_EPROTO
 * for garbage, bad JSON, a non-object, an unrecognised shape or an
 * oversized message; the diagnostic names the byte offset in the stream).
 * After an error the reader stays broken. */
int co_qmp_reader_next(co_qmp_reader *r, co_qmp_msg *m, co_diag *d);

/* Bytes buffered but not yet returned as messages (for EOF diagnostics). */
size_t co_qmp_reader_pending(const co_qmp_reader *r);

/* Release m->json and zero m. Safe on a zeroed or already cleared m. */
void co_qmp_msg_clear(co_qmp_msg *m);

/* Classify an already parsed message (steals j on success and failure:
 * on failure j is released). The reader uses this; exposed for tests. */
int co_qmp_classify(json_t *j, co_qmp_msg *m, co_diag *d);

/* ------------------------------------------------------------ connection */

typedef struct co_qmp co_qmp;

/* A queued asynchronous event. */
typedef struct co_qmp_event {
    char name[64];         /* "MIGRATION", "MIGRATION_PASS", "STOP", ... */
    json_t *data;          /* owned; NULL if the event had none */
    double timestamp_s;    /* QEMU's timestamp (wall clock), NAN if absent */
    double received_ms;    /* CLOCK_MONOTONIC when we read it */
} co_qmp_event;
/* Release ev->data. */
void co_qmp_event_clear(co_qmp_event *ev);

/* Connect to addr and complete the handshake (greeting, qmp_capabilities)
 * within timeout_ms; the same timeout then bounds every later call (change
 * it with co_qmp_set_timeout). addr is "unix:PATH", "tcp:HOST:PORT", a
 * path (contains '/', or has no ':'), or "HOST:PORT".
 * Returns CO_OK and *out (free with co_qmp_close), or CO_EUSAGE (bad addr),
 * CO_EUNAVAIL (nobody listening, refused, EOF), CO_ETIMEDOUT, CO_EPROTO
 * (not a QMP server), CO_EFAILED (qmp_capabilities refused). */
int co_qmp_connect(const char *addr, int timeout_ms, co_qmp **out, co_diag *d);
/* co_qmp_connect, retried every 20 ms while the socket is not there yet
 * (missing, refused: QEMU still starting; its socket file exists from
 * bind(), before listen()), for at most appear_ms. Other failures return
 * at once. For launchers that just started QEMU. */
int co_qmp_connect_wait(const char *addr, int timeout_ms, int appear_ms, co_qmp **out,
                        co_diag *d);
/* The same handshake over an already connected stream socket fd (e.g. one
 * handed over by a parent process, or a socketpair in tests). Takes
 * ownership of fd (closed by co_qmp_close, or here on failure). name is
 * used in messages. */
int co_qmp_open_fd(int fd, const char *name, int timeout_ms, co_qmp **out, co_diag *d);
/* Close the socket and free everything, including queued events. NULL ok. */
void co_qmp_close(co_qmp *q);
void co_qmp_set_timeout(co_qmp *q, int timeout_ms);
/* The address as given to co_qmp_connect. */
const char *co_qmp_addr(const co_qmp *q);
/* QEMU's version from the greeting (e.g. 7, 2, 22). */
void co_qmp_version(const co_qmp *q, int *major, int *minor, int *micro);

/* Execute cmd with args (stolen; NULL for none). On CO_OK and ret != NULL,
 * *ret is a new reference to QEMU's "return" value (caller json_decref).
 * An error reply returns CO_EFAILED with "QEMU refused CMD: DESC (CLASS)";
 * its class stays readable with co_qmp_last_error_class() until the next
 * call. Events read while waiting are queued. */
int co_qmp_call(co_qmp *q, const char *cmd, json_t *args, json_t **ret, co_diag *d);
/* Class of the last error reply ("" if the last call did not get one). */
const char *co_qmp_last_error_class(const co_qmp *q);

/* Read what the socket has, waiting at most timeout_ms (0: do not wait)
 * for the first bytes; queue events. Returns CO_OK (also on timeout) or an
 * error (EOF, protocol). */
int co_qmp_pump(co_qmp *q, int timeout_ms, co_diag *d);
/* Pop the oldest queued event into *ev (caller clears it). Returns 1, or
 * 0 if the queue is empty. Never reads the socket. */
int co_qmp_next_event(co_qmp *q, co_qmp_event *ev);
/* Wait up to timeout_ms for an event. Returns 1 (filled *ev), 0 (timeout)
 * or a negative CO_E*. */
int co_qmp_wait_event(co_qmp *q, int timeout_ms, co_qmp_event *ev, co_diag *d);
/* Events dropped because the queue (4096 entries) was full. */
uint64_t co_qmp_events_dropped(const co_qmp *q);

/* ---------------------------------------------------------- typed calls */

/* query-migrate into *st (co_drv_stats of drivers/driver.h; sampled_at_ms is
 * stamped on arrival). */
int co_qmp_query_migrate(co_qmp *q, co_drv_stats *st, co_diag *d);
/* Parse a MigrationInfo object (the "return" of query-migrate) into *st.
 * Fields absent in info are NAN / -1; a field with the wrong JSON type is
 * CO_EPROTO naming the field. Does not touch sampled_at_ms. */
int co_qmp_parse_migrate_info(const json_t *info, co_drv_stats *st, co_diag *d);

/* migrate uri (e.g. "tcp:127.0.0.1:4444"). Returns once QEMU accepted it;
 * connection errors surface later as status "failed" with error-desc. */
int co_qmp_migrate(co_qmp *q, const char *uri, co_diag *d);
/* migrate-set-parameters with params (stolen), a JSON object in QEMU's
 * names, e.g. {"downtime-limit": 300, "max-bandwidth": 20000000}. */
int co_qmp_set_parameters(co_qmp *q, json_t *params, co_diag *d);
/* One integer parameter (downtime-limit in ms, max-bandwidth in bytes/s,
 * cpu-throttle-initial in percent, multifd-channels, ...). */
int co_qmp_set_parameter_int(co_qmp *q, const char *name, int64_t value, co_diag *d);
/* query-migrate-parameters: *out is a new reference to the object. */
int co_qmp_query_parameters(co_qmp *q, json_t **out, co_diag *d);
/* migrate-set-capabilities for one capability ("events", "auto-converge",
 * "postcopy-ram", "multifd", ...). QEMU refuses while migrating. */
int co_qmp_set_capability(co_qmp *q, const char *name, int state, co_diag *d);
/* query-migrate-capabilities, looking up one capability. *state is 0/1;
 * CO_EDATA if this QEMU does not know the capability. */
int co_qmp_get_capability(co_qmp *q, const char *name, int *state, co_diag *d);
/* The same lookup in an array co_qmp_query_capabilities returned (one
 * query for several capabilities). */
int co_qmp_capability_in(const co_qmp *q, const json_t *caps, const char *name, int *state,
                         co_diag *d);
/* query-migrate-capabilities: *out is a new reference to the array. */
int co_qmp_query_capabilities(co_qmp *q, json_t **out, co_diag *d);
int co_qmp_start_postcopy(co_qmp *q, co_diag *d);
int co_qmp_migrate_cancel(co_qmp *q, co_diag *d);
int co_qmp_stop(co_qmp *q, co_diag *d);
int co_qmp_cont(co_qmp *q, co_diag *d);

/* query-status: RunState name ("running", "paused", "postmigrate",
 * "inmigrate", "finish-migrate", ...) and QEMU's running flag. */
typedef struct co_qmp_status {
    char status[32];
    int running;
} co_qmp_status;
int co_qmp_query_status(co_qmp *q, co_qmp_status *st, co_diag *d);

/* query-version. */
typedef struct co_qmp_ver {
    int major, minor, micro;
    char package[128];
} co_qmp_ver;
int co_qmp_query_version(co_qmp *q, co_qmp_ver *v, co_diag *d);

/* query-kvm: *enabled 1 if the guest runs under KVM, 0 under TCG (or a
 * reply without "enabled"). QEMU 7.2 under TCG exits on calc-dirty-rate in
 * dirty-bitmap or dirty-ring mode, so ask before either. */
int co_qmp_query_kvm(co_qmp *q, int *enabled, co_diag *d);

/* calc-dirty-rate (QEMU 7.2: calc-time in whole seconds, 1..60; mode
 * "page-sampling" (default), "dirty-bitmap" or "dirty-ring"; sample_pages
 * per GiB for page-sampling, <0 for QEMU's default 512). The measurement
 * runs in QEMU for calc_time_s; poll co_qmp_query_dirty_rate until
 * status is "measured". mode may be NULL. */
int co_qmp_calc_dirty_rate(co_qmp *q, int calc_time_s, const char *mode, int sample_pages,
                           co_diag *d);
/* query-dirty-rate (DirtyRateInfo). Absent values are -1. */
typedef struct co_qmp_dirty_rate {
    char status[16];              /* "unstarted", "measuring", "measured" */
    char mode[16];                /* "page-sampling", "dirty-bitmap", "dirty-ring" */
    int64_t dirty_rate_mib_per_s; /* QEMU's "dirty-rate", MiB/s; -1 until measured */
    int64_t start_time_s;         /* QEMU's start-time (seconds since its boot) */
    int64_t calc_time_s;
    int64_t sample_pages;
    int n_vcpu;                   /* entries of vcpu_rate_mib_per_s used (dirty-ring) */
    int64_t vcpu_rate_mib_per_s[64];
} co_qmp_dirty_rate;
int co_qmp_query_dirty_rate(co_qmp *q, co_qmp_dirty_rate *out, co_diag *d);

#endif
