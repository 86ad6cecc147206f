/* tests/drivers/test_qmp_conn.c: the QMP connection layer against a peer
 * that replays bytes recorded from QEMU 7.2 (greeting, replies) over a
 * socketpair, for what a healthy QEMU will not do on demand: garbage or EOF
 * in the middle of a reply, oversized replies, event floods, replies with
 * foreign ids, a refused handshake, a non-QMP server. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/qmp.h"

/* Recorded from QEMU 7.2.22 (tests/data/qmp/migration.recv). */
static const char GREETING[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
    "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n";

typedef struct peer {
    int fd;
    /* What to do after the greeting and the reply to qmp_capabilities:
     * for each later command, call answer(peer, id). */
    void (*answer)(struct peer *p, long id, const char *cmd);
    int refuse_caps;
    const char *greeting; /* NULL: GREETING */
    pthread_t t;
} peer;

static void say(peer *p, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(p->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client hung up: fine, stop */
        s += w;
        n -= (size_t)w;
    }
}

static void sayf(peer *p, const char *fmt, long id)
{
    char b[1024];
    int n = snprintf(b, sizeof b, fmt, id);
    say(p, b, (size_t)n);
}

/* Read one command line; return its id (or -1 on EOF) and name. */
static long read_cmd(peer *p, char *cmd, size_t len)
{
    char line[4096];
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = recv(p->fd, line + n, 1, 0);
        if (r <= 0)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    json_t *j = json_loads(line, 0, NULL);
    if (j == NULL)
        return -1;
    long id = (long)json_integer_value(json_object_get(j, "id"));
    snprintf(cmd, len, "%s", json_string_value(json_object_get(j, "execute")));
    json_decref(j);
    return id;
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    const char *g = p->greeting ? p->greeting : GREETING;
    say(p, g, strlen(g));
    char cmd[128];
    long id = read_cmd(p, cmd, sizeof cmd);
    if (id < 0)
        return NULL;
    if (p->refuse_caps) {
        sayf(p,
             "{\"id\": %ld, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
             "\"Capabilities negotiation is already complete, command ignored\"}}\r\n",
             id);
        return NULL;
    }
    sayf(p, "{\"return\": {}, \"id\": %ld}\r\n", id);
    while ((id = read_cmd(p, cmd, sizeof cmd)) >= 0 && p->answer)
        p->answer(p, id, cmd);
    return NULL;
}

static peer P;
static co_qmp *q;

static int start_peer(void (*answer)(peer *, long, const char *), co_diag *d)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    P.fd = sv[1];
    P.answer = answer;
    cr_assert_eq(pthread_create(&P.t, NULL, peer_main, &P), 0);
    co_diag_init(d);
    return co_qmp_open_fd(sv[0], "peer", 2000, &q, d);
}

static void fini(void)
{
    co_qmp_close(q); /* closing our end makes the peer's reads/writes fail */
    q = NULL;
    if (P.t)
        pthread_join(P.t, NULL);
    if (P.fd > 0)
        close(P.fd);
    memset(&P, 0, sizeof P);
}

TestSuite(qmp_conn, .fini = fini, .timeout = 30);

static void answer_ok(peer *p, long id, const char *cmd)
{
    /* Recorded reply of query-status. */
    sayf(p, "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, "
            "\"id\": %ld}\r\n",
         id);
}

Test(qmp_conn, handshake_over_fd_and_version)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_ok, &d), CO_OK, "%s", d.msg);
    int ma, mi, mc;
    co_qmp_version(q, &ma, &mi, &mc);
    cr_assert_eq(ma, 7);
    cr_assert_eq(mi, 2);
    cr_assert_eq(mc, 22);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(q, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.running, 1);
}

static void answer_flood(peer *p, long id, const char *cmd)
{
    for (int i = 0; i < 5000; i++) {
        char b[256];
        int n = snprintf(b, sizeof b,
                         "{\"timestamp\": {\"seconds\": 1795315036, \"microseconds\": %d}, "
                         "\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": %d}}\r\n",
                         i, i + 1);
        say(p, b, (size_t)n);
    }
    answer_ok(p, id, cmd);
}

Test(qmp_conn, event_flood_keeps_newest_in_order)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_flood, &d), CO_OK, "%s", d.msg);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(q, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_qmp_events_dropped(q), 5000 - 4096);
    co_qmp_event ev;
    int64_t want = 5000 - 4096 + 1, n = 0;
    while (co_qmp_next_event(q, &ev)) {
        cr_assert_eq(json_integer_value(json_object_get(ev.data, "pass")), want + n);
        n++;
        co_qmp_event_clear(&ev);
    }
    cr_assert_eq(n, 4096);
}

static void answer_garbage(peer *p, long id, const char *cmd)
{
    say(p, "{\"return\": {\"status\": \"act", 27);
    say(p, "\x01\x02 HTTP/1.1 400\r\n", 17);
    say(p, "ive\"}}\r\n", 8);
}

Test(qmp_conn, garbage_mid_reply_is_protocol_error)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_garbage, &d), CO_OK, "%s", d.msg);
    co_drv_stats ms;
    cr_assert_eq(co_qmp_query_migrate(q, &ms, &d), CO_EPROTO, "%s", d.msg);
    cr_assert(strstr(d.msg, "bad JSON") || strstr(d.msg, "garbage"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_qmp_query_migrate(q, &ms, &d), CO_EUNAVAIL);
    cr_assert(strstr(d.msg, "query-migrate"), "%s", d.msg);
}

static void answer_half_then_eof(peer *p, long id, const char *cmd)
{
    say(p, "{\"return\": {\"status\": \"act", 27);
    shutdown(p->fd, SHUT_RDWR);
}

Test(qmp_conn, eof_mid_message)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_half_then_eof, &d), CO_OK, "%s", d.msg);
    co_drv_stats ms;
    cr_assert_eq(co_qmp_query_migrate(q, &ms, &d), CO_EUNAVAIL, "%s", d.msg);
    cr_assert(strstr(d.msg, "middle of a message"), "%s", d.msg);
    cr_assert(strstr(d.msg, "query-migrate"), "%s", d.msg);
}

static void answer_huge(peer *p, long id, const char *cmd)
{
    /* A reply over the 16 MiB cap, sent in 1 MiB pieces. */
    say(p, "{\"return\": \"", 12);
    char *b = malloc(1 << 20);
    memset(b, 'a', 1 << 20);
    for (int i = 0; i < 18; i++)
        say(p, b, 1 << 20);
    free(b);
    sayf(p, "\", \"id\": %ld}\r\n", id);
}

Test(qmp_conn, oversized_reply)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_huge, &d), CO_OK, "%s", d.msg);
    co_qmp_set_timeout(q, 10000);
    co_drv_stats ms;
    cr_assert_eq(co_qmp_query_migrate(q, &ms, &d), CO_EPROTO, "%s", d.msg);
    cr_assert(strstr(d.msg, "16777216-byte cap"), "%s", d.msg);
}

static void answer_foreign_ids(peer *p, long id, const char *cmd)
{
    sayf(p, "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": %ld}\r\n",
         id + 1000);
    const char *noid = "{\"return\": {\"status\": \"paused\", \"running\": false}}\r\n";
    say(p, noid, strlen(noid));
    sayf(p, "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": \"x%ld\"}\r\n", id);
    answer_ok(p, id, cmd);
}

Test(qmp_conn, replies_with_other_ids_are_dropped)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_foreign_ids, &d), CO_OK, "%s", d.msg);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(q, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_str_eq(st.status, "running");
}

static void answer_nothing(peer *p, long id, const char *cmd)
{
}

Test(qmp_conn, silent_peer_times_out)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_nothing, &d), CO_OK, "%s", d.msg);
    co_qmp_set_timeout(q, 200);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(q, &st, &d), CO_ETIMEDOUT);
    cr_assert(strstr(d.msg, "no reply to 'query-status' within 200 ms"), "%s", d.msg);
}

Test(qmp_conn, refused_capabilities)
{
    P.refuse_caps = 1;
    co_diag d;
    cr_assert_eq(start_peer(NULL, &d), CO_EFAILED);
    cr_assert_null(q);
    cr_assert(strstr(d.msg, "qmp_capabilities"), "%s", d.msg);
}

Test(qmp_conn, not_a_qmp_server)
{
    /* What an HMP (human monitor) socket prints first. */
    P.greeting = "QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ";
    co_diag d;
    cr_assert_eq(start_peer(NULL, &d), CO_EPROTO);
    cr_assert(strstr(d.msg, "garbage") && strstr(d.msg, "offset 0"), "%s", d.msg);
}

Test(qmp_conn, trace_goes_to_stderr)
{
    char path[] = "/tmp/coqmp-trace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    setenv("CUTOVER_QMP_LOG", "1", 1);
    co_diag d;
    int rc = start_peer(answer_ok, &d);
    co_qmp_status st;
    if (rc == CO_OK)
        rc = co_qmp_query_status(q, &st, &d);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    unsetenv("CUTOVER_QMP_LOG");
    cr_assert_eq(rc, CO_OK, "%s", d.msg);
    char buf[4096] = {0};
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    cr_assert(n > 0);
    cr_assert(strstr(buf, "qmp peer") && strstr(buf, " > {\"execute\":\"query-status\""), "%s",
              buf);
    cr_assert(strstr(buf, " < {\"QMP\""), "%s", buf);
}

static void answer_error_without_id(peer *p, long id, const char *cmd)
{
    /* What QEMU 7.2 says to a line it cannot parse as JSON. */
    const char *e = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, "
                    "invalid keyword 'x'\"}}\r\n";
    say(p, e, strlen(e));
}

Test(qmp_conn, error_without_id_answers_the_call)
{
    co_diag d;
    cr_assert_eq(start_peer(answer_error_without_id, &d), CO_OK, "%s", d.msg);
    co_qmp_set_timeout(q, 3000);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    co_qmp_status st;
    cr_assert_eq(co_qmp_query_status(q, &st, &d), CO_EFAILED, "%s", d.msg);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert(b.tv_sec - a.tv_sec < 2, "waited for a timeout");
    cr_assert(strstr(d.msg, "JSON parse error"), "%s", d.msg);
    cr_assert_str_eq(co_qmp_last_error_class(q), "GenericError");
}
