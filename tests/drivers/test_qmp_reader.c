/* tests/drivers/test_qmp_reader.c: the QMP reader and the MigrationInfo
 * parser on transcripts recorded from a real QEMU 7.2.22 (see
 * tests/data/qmp/record.py: complete, cancelled and failed migrations),
 * fed whole, byte by byte and in random splits, and on garbage, bad JSON,
 * unknown shapes and oversized messages. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "drivers/qmp.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run from the source root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Feed buf in chunks (chunk 0: random sizes 1..97) and collect messages. */
static int read_all(const char *buf, size_t len, size_t chunk, co_qmp_msg *out, int max)
{
    co_qmp_reader *r = co_qmp_reader_new(0);
    co_diag d;
    co_diag_init(&d);
    int n = 0;
    unsigned seed = 7;
    for (size_t off = 0; off < len;) {
        size_t c = chunk ? chunk : 1 + (size_t)(rand_r(&seed) % 97);
        if (c > len - off)
            c = len - off;
        cr_assert_eq(co_qmp_reader_feed(r, buf + off, c, &d), CO_OK, "%s", d.msg);
        off += c;
        int rc;
        while ((rc = co_qmp_reader_next(r, &out[n], &d)) == 1) {
            n++;
            cr_assert(n < max);
        }
        cr_assert_eq(rc, 0, "%s", d.msg);
    }
    cr_assert_eq(co_qmp_reader_pending(r), 0);
    co_qmp_reader_free(r);
    return n;
}

#define MAXMSG 256

Test(qmp_reader, transcript_complete_migration)
{
    size_t len;
    char *buf = slurp("tests/data/qmp/migration.recv", &len);
    static co_qmp_msg m[MAXMSG];
    int n = read_all(buf, len, len, m, MAXMSG);
    cr_assert_eq(n, 49);
    cr_assert_eq(m[0].kind, CO_QMP_GREETING);
    int ret = 0, err = 0, ev = 0, passes = 0;
    int64_t last_id = 0;
    const char *statuses[8];
    int ns = 0;
    for (int i = 1; i < n; i++) {
        switch (m[i].kind) {
        case CO_QMP_RETURN:
            ret++;
            cr_assert(json_integer_value(m[i].id) > last_id);
            last_id = json_integer_value(m[i].id);
            break;
        case CO_QMP_ERROR:
            err++;
            cr_assert_str_eq(m[i].err_class, "CommandNotFound");
            cr_assert(strstr(m[i].err_desc, "no-such-command"));
            cr_assert_eq(json_integer_value(m[i].id), 4);
            break;
        case CO_QMP_EVENT:
            ev++;
            cr_assert(m[i].timestamp_s > 1.7e9);
            if (strcmp(m[i].event, "MIGRATION") == 0 && ns < 8)
                statuses[ns++] = json_string_value(json_object_get(m[i].data, "status"));
            if (strcmp(m[i].event, "MIGRATION_PASS") == 0)
                cr_assert_eq(json_integer_value(json_object_get(m[i].data, "pass")), ++passes);
            if (strcmp(m[i].event, "STOP") == 0)
                cr_assert_null(m[i].data);
            break;
        default:
            cr_assert_fail("unexpected kind %d", m[i].kind);
        }
    }
    cr_assert_eq(err, 1);
    cr_assert_eq(ev, 8);
    cr_assert_eq(ret, 40 - 1);
    cr_assert_eq(ns, 3);
    cr_assert_str_eq(statuses[0], "setup");
    cr_assert_str_eq(statuses[1], "active");
    cr_assert_str_eq(statuses[2], "completed");
    cr_assert_eq(passes, 4);

    /* The last reply is the completed query-migrate. */
    co_drv_stats st;
    co_diag d;
    co_diag_init(&d);
    st.sampled_at_ms = 42;
    cr_assert_eq(co_qmp_parse_migrate_info(m[n - 1].ret, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.sampled_at_ms, 42);
    cr_assert_eq(st.status, CO_DRV_MIG_COMPLETED);
    cr_assert_eq(st.downtime_ms, 4);
    cr_assert_eq(st.total_time_ms, 6220);
    cr_assert_eq(st.setup_time_ms, 1);
    cr_assert(isnan(st.expected_downtime_ms));
    cr_assert_eq(st.ram_total_bytes, 67641344);
    cr_assert_eq(st.ram_transferred_bytes, 128709028);
    cr_assert_eq(st.ram_remaining_bytes, 0);
    cr_assert_eq(st.ram_duplicate_pages, 323);
    cr_assert_eq(st.ram_skipped_pages, 0);
    cr_assert_eq(st.ram_normal_pages, 31361);
    cr_assert_eq(st.ram_normal_bytes, 128454656);
    cr_assert_eq(st.ram_dirty_sync_count, 4);
    cr_assert_eq(st.ram_page_size_bytes, 4096);
    cr_assert_eq(st.ram_pages_per_second, 4880);
    cr_assert_eq(st.ram_precopy_bytes, 124170004);
    cr_assert_eq(st.ram_downtime_bytes, 4539024);
    cr_assert_eq(st.ram_postcopy_bytes, 0);
    cr_assert_eq(st.ram_multifd_bytes, 0);
    cr_assert_eq(st.ram_postcopy_requests, 0);
    cr_assert_eq(st.ram_dirty_sync_missed_zero_copy, 0);
    cr_assert_eq(st.ram_dirty_pages_rate, 0);
    cr_assert_float_eq(st.ram_mbps, 165.71370831323364, 1e-9);
    cr_assert(isnan(st.cpu_throttle_pct));
    cr_assert_str_eq(st.error_desc, "");

    /* An active sample carries expected-downtime and a remaining count. */
    int found = 0;
    for (int i = 1; i < n && !found; i++) {
        if (m[i].kind != CO_QMP_RETURN || !json_is_object(m[i].ret))
            continue;
        const char *s = json_string_value(json_object_get(m[i].ret, "status"));
        if (s && strcmp(s, "active") == 0) {
            cr_assert_eq(co_qmp_parse_migrate_info(m[i].ret, &st, &d), CO_OK, "%s", d.msg);
            cr_assert_eq(st.status, CO_DRV_MIG_ACTIVE);
            cr_assert_eq(st.expected_downtime_ms, 300);
            cr_assert(st.ram_remaining_bytes > 0);
            cr_assert(isnan(st.downtime_ms));
            found = 1;
        }
    }
    cr_assert(found);
    for (int i = 0; i < n; i++)
        co_qmp_msg_clear(&m[i]);
    free(buf);
}

Test(qmp_reader, any_split_gives_the_same_messages)
{
    size_t len;
    char *buf = slurp("tests/data/qmp/migration.recv", &len);
    static co_qmp_msg a[MAXMSG], b[MAXMSG], c[MAXMSG];
    int na = read_all(buf, len, len, a, MAXMSG);
    int nb = read_all(buf, len, 1, b, MAXMSG);
    int nc = read_all(buf, len, 0, c, MAXMSG);
    cr_assert_eq(na, nb);
    cr_assert_eq(na, nc);
    for (int i = 0; i < na; i++) {
        cr_assert(json_equal(a[i].json, b[i].json), "message %d differs (bytewise)", i);
        cr_assert(json_equal(a[i].json, c[i].json), "message %d differs (random)", i);
        cr_assert_eq(a[i].bytes, b[i].bytes);
        co_qmp_msg_clear(&a[i]);
        co_qmp_msg_clear(&b[i]);
        co_qmp_msg_clear(&c[i]);
    }
    free(buf);
}

Test(qmp_reader, transcript_failed_and_cancelled)
{
    size_t len;
    char *buf = slurp("tests/data/qmp/fail.recv", &len);
    static co_qmp_msg m[MAXMSG];
    int n = read_all(buf, len, 0, m, MAXMSG);
    co_drv_stats st;
    co_diag d;
    co_diag_init(&d);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].kind == CO_QMP_RETURN && json_is_object(m[i].ret) &&
            json_object_get(m[i].ret, "error-desc")) {
            cr_assert_eq(co_qmp_parse_migrate_info(m[i].ret, &st, &d), CO_OK, "%s", d.msg);
            cr_assert_eq(st.status, CO_DRV_MIG_FAILED);
            cr_assert(strstr(st.error_desc, "Connection refused"), "%s", st.error_desc);
            failed++;
        }
        co_qmp_msg_clear(&m[i]);
    }
    cr_assert(failed >= 1);
    free(buf);

    buf = slurp("tests/data/qmp/cancel.recv", &len);
    n = read_all(buf, len, 0, m, MAXMSG);
    const char *want[] = {"setup", "active", "cancelling", "cancelled"};
    int w = 0, stop = 0, resume = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].kind == CO_QMP_EVENT && strcmp(m[i].event, "MIGRATION") == 0) {
            cr_assert(w < 4);
            cr_assert_str_eq(json_string_value(json_object_get(m[i].data, "status")), want[w]);
            w++;
        }
        if (m[i].kind == CO_QMP_EVENT && strcmp(m[i].event, "STOP") == 0)
            stop++;
        if (m[i].kind == CO_QMP_EVENT && strcmp(m[i].event, "RESUME") == 0)
            resume++;
        co_qmp_msg_clear(&m[i]);
    }
    cr_assert_eq(w, 4);
    cr_assert_eq(stop, 1); /* from our stop/cont after the cancel */
    cr_assert_eq(resume, 1);
    free(buf);
}

/* Feed text whole and return the code of the first failure (or the number
 * of messages if none); the diagnostic goes to d. */
static int feed_text(const char *text, size_t max, co_diag *d, int *nmsg)
{
    co_qmp_reader *r = co_qmp_reader_new(max);
    co_diag_init(d);
    *nmsg = 0;
    int rc = co_qmp_reader_feed(r, text, strlen(text), d);
    co_qmp_msg m;
    while (rc == CO_OK && (rc = co_qmp_reader_next(r, &m, d)) == 1) {
        (*nmsg)++;
        co_qmp_msg_clear(&m);
        rc = CO_OK;
    }
    co_qmp_reader_free(r);
    return rc;
}

Test(qmp_reader, garbage_names_offset)
{
    co_diag d;
    int n;
    cr_assert_eq(feed_text("hello\n", 0, &d, &n), CO_EPROTO);
    cr_assert(strstr(d.msg, "garbage") && strstr(d.msg, "offset 0"), "%s", d.msg);
    cr_assert_eq(feed_text("{\"return\": {}}\r\nHTTP/1.1 200 OK\r\n", 0, &d, &n), CO_EPROTO);
    cr_assert_eq(n, 1);
    cr_assert(strstr(d.msg, "offset 16"), "%s", d.msg);
    cr_assert_eq(feed_text("[1,2]", 0, &d, &n), CO_EPROTO);
    cr_assert_eq(feed_text("\x00\x01", 0, &d, &n), 0); /* strlen: nothing fed */
}

Test(qmp_reader, bad_json_and_shapes)
{
    co_diag d;
    int n;
    cr_assert_eq(feed_text("{\"return\": {,}}", 0, &d, &n), CO_EPROTO);
    cr_assert(strstr(d.msg, "bad JSON"), "%s", d.msg);
    cr_assert_eq(feed_text("{\"return\": tru}", 0, &d, &n), CO_EPROTO);
    cr_assert_eq(feed_text("{\"foo\": 1}", 0, &d, &n), CO_EPROTO);
    cr_assert(strstr(d.msg, "none of the keys"), "%s", d.msg);
    cr_assert_eq(feed_text("{\"error\": {\"class\": \"X\"}}", 0, &d, &n), CO_EPROTO);
    cr_assert(strstr(d.msg, "desc"), "%s", d.msg);
    cr_assert_eq(feed_text("{\"event\": 5}", 0, &d, &n), CO_EPROTO);
    cr_assert_eq(feed_text("{\"event\": \"STOP\", \"data\": []}", 0, &d, &n), CO_EPROTO);
    cr_assert_eq(feed_text("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": \"1\"}}", 0, &d, &n),
                 CO_EPROTO);
    cr_assert(strstr(d.msg, "timestamp"), "%s", d.msg);
    cr_assert_eq(feed_text("{\"QMP\": 1}", 0, &d, &n), CO_EPROTO);
    /* Mismatched brackets balance in depth but jansson refuses them. */
    cr_assert_eq(feed_text("{\"return\": [}]", 0, &d, &n), CO_EPROTO);
    /* \u0000 inside a string is refused (jansson without JSON_ALLOW_NUL). */
    cr_assert_eq(feed_text("{\"return\": \"a\\u0000b\"}", 0, &d, &n), CO_EPROTO);
    /* Deep nesting within the size cap ends in an error, not a crash. */
    char *deep = malloc(200012);
    deep[0] = '{';
    memcpy(deep + 1, "\"return\":", 9);
    memset(deep + 10, '[', 100000);
    memset(deep + 100010, ']', 100000);
    strcpy(deep + 200010, "}");
    cr_assert_eq(feed_text(deep, 0, &d, &n), CO_EPROTO);
    free(deep);
}

Test(qmp_reader, strings_with_braces_and_escapes)
{
    const char *t = "{\"return\": \"a}\\\"{b]\\\\\", \"id\": 3}{\"event\":\"X\",\"data\":{\"k\":\"}\"}}";
    co_qmp_reader *r = co_qmp_reader_new(0);
    co_diag d;
    co_diag_init(&d);
    co_qmp_msg m;
    /* Byte by byte, so the escape state crosses feeds. */
    int got = 0;
    for (size_t i = 0; i < strlen(t); i++) {
        cr_assert_eq(co_qmp_reader_feed(r, t + i, 1, &d), CO_OK);
        int rc;
        while ((rc = co_qmp_reader_next(r, &m, &d)) == 1) {
            if (got == 0) {
                cr_assert_eq(m.kind, CO_QMP_RETURN);
                cr_assert_str_eq(json_string_value(m.ret), "a}\"{b]\\");
                cr_assert_eq(json_integer_value(m.id), 3);
            } else {
                cr_assert_eq(m.kind, CO_QMP_EVENT);
                cr_assert(isnan(m.timestamp_s));
                cr_assert_str_eq(json_string_value(json_object_get(m.data, "k")), "}");
            }
            got++;
            co_qmp_msg_clear(&m);
        }
        cr_assert_eq(rc, 0, "%s", d.msg);
    }
    cr_assert_eq(got, 2);
    co_qmp_reader_free(r);
}

Test(qmp_reader, oversized_complete_and_incomplete)
{
    co_diag d;
    int n;
    char big[3000];
    snprintf(big, sizeof big, "{\"return\": \"%02000d\"}", 0);
    cr_assert_eq(feed_text(big, 1024, &d, &n), CO_EPROTO);
    cr_assert(strstr(d.msg, "1024-byte cap"), "%s", d.msg);
    cr_assert_eq(feed_text(big, 4096, &d, &n), 0);
    cr_assert_eq(n, 1);

    /* An unterminated message is refused once it passes the cap, even
     * though it never completes, and the error is sticky. */
    co_qmp_reader *r = co_qmp_reader_new(1024);
    co_diag_init(&d);
    cr_assert_eq(co_qmp_reader_feed(r, "{\"return\": \"", 12, &d), CO_OK);
    co_qmp_msg m;
    cr_assert_eq(co_qmp_reader_next(r, &m, &d), 0);
    char x[512];
    memset(x, 'x', sizeof x);
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        cr_assert_eq(co_qmp_reader_feed(r, x, sizeof x, &d), CO_OK, "%s", d.msg);
        rc = co_qmp_reader_next(r, &m, &d);
    }
    cr_assert_eq(rc, CO_EPROTO);
    cr_assert(strstr(d.msg, "cap"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_qmp_reader_feed(r, "{}", 2, &d), CO_EPROTO);
    co_diag_init(&d);
    cr_assert_eq(co_qmp_reader_next(r, &m, &d), CO_EPROTO);
    co_qmp_reader_free(r);

    /* Feeding without draining is bounded too. */
    r = co_qmp_reader_new(1024);
    co_diag_init(&d);
    rc = CO_OK;
    for (int i = 0; i < 200 && rc == CO_OK; i++)
        rc = co_qmp_reader_feed(r, x, sizeof x, &d);
    cr_assert_eq(rc, CO_EPROTO);
    co_qmp_reader_free(r);
}

Test(qmp_reader, migrate_info_all_optional_members)
{
    /* Members QEMU 7.2 returns only with some features (auto-converge,
     * xbzrle, compression, postcopy, blocked migration, socket URIs). */
    const char *t =
        "{\"status\": \"postcopy-active\", \"cpu-throttle-percentage\": 30,"
        " \"postcopy-blocktime\": 12, \"postcopy-vcpu-blocktime\": [3, 9, 1],"
        " \"xbzrle-cache\": {\"cache-size\": 67108864, \"bytes\": 10, \"pages\": 2,"
        "   \"cache-miss\": 5, \"cache-miss-rate\": 0.5, \"encoding-rate\": 1.5, \"overflow\": 1},"
        " \"compression\": {\"pages\": 7, \"busy\": 1, \"busy-rate\": 0.25,"
        "   \"compressed-size\": 4096, \"compression-rate\": 3.5},"
        " \"disk\": {\"transferred\": 1, \"remaining\": 2, \"total\": 3},"
        " \"vfio\": {\"transferred\": 99},"
        " \"blocked-reasons\": [\"a\", \"b\"],"
        " \"socket-address\": [{\"type\": \"inet\", \"host\": \"127.0.0.1\", \"port\": \"4444\"}]}";
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    co_drv_stats st;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_qmp_parse_migrate_info(j, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.status, CO_DRV_MIG_POSTCOPY_ACTIVE);
    cr_assert_eq(st.cpu_throttle_pct, 30);
    cr_assert_eq(st.postcopy_blocktime_ms, 12);
    cr_assert_eq(st.postcopy_vcpu_blocktime_max_ms, 9);
    cr_assert_eq(st.xbzrle_cache_size_bytes, 67108864);
    cr_assert_eq(st.xbzrle_cache_miss_rate, 0.5);
    cr_assert_eq(st.xbzrle_overflow, 1);
    cr_assert_eq(st.compression_compressed_size_bytes, 4096);
    cr_assert_eq(st.compression_rate, 3.5);
    cr_assert_eq(st.disk_total_bytes, 3);
    cr_assert_eq(st.vfio_transferred_bytes, 99);
    cr_assert_str_eq(st.blocked_reasons, "a; b");
    cr_assert_str_eq(st.socket_address, "tcp:127.0.0.1:4444");
    cr_assert(isnan(st.ram_total_bytes));
    cr_assert_eq(st.ram_dirty_sync_count, -1);
    json_decref(j);
}

Test(qmp_reader, migrate_info_wrong_types_name_the_field)
{
    const char *bad[][2] = {
        {"{\"ram\": {\"total\": \"x\"}}", "ram.total"},
        {"{\"status\": 3}", "status"},
        {"{\"ram\": []}", "ram"},
        {"{\"total-time\": true}", "total-time"},
        {"{\"error-desc\": 1}", "error-desc"},
        {"{\"blocked-reasons\": [1]}", "blocked-reasons"},
        {"{\"xbzrle-cache\": {\"cache-miss-rate\": null}}", "xbzrle-cache.cache-miss-rate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i][0], 0, NULL);
        cr_assert_not_null(j);
        co_drv_stats st;
        co_diag d;
        co_diag_init(&d);
        cr_assert_eq(co_qmp_parse_migrate_info(j, &st, &d), CO_EPROTO, "%s", bad[i][0]);
        cr_assert(strstr(d.msg, bad[i][1]), "%s: %s", bad[i][0], d.msg);
        json_decref(j);
    }
    co_drv_stats st;
    co_diag d;
    co_diag_init(&d);
    json_t *arr = json_array();
    cr_assert_eq(co_qmp_parse_migrate_info(arr, &st, &d), CO_EPROTO);
    json_decref(arr);
    /* Unknown status names (a newer QEMU) map to none, not an error. */
    json_t *j = json_loads("{\"status\": \"brand-new\"}", 0, NULL);
    cr_assert_eq(co_qmp_parse_migrate_info(j, &st, &d), CO_OK);
    cr_assert_eq(st.status, CO_DRV_MIG_NONE);
    json_decref(j);
}

Test(qmp_reader, status_names_round_trip)
{
    for (int s = CO_DRV_MIG_NONE; s <= CO_DRV_MIG_WAIT_UNPLUG; s++)
        cr_assert_eq(co_drv_status_parse(co_drv_status_name(s)), s);
    cr_assert_str_eq(co_drv_status_name(-3), "none");
    cr_assert_str_eq(co_drv_status_name(999), "none");
    cr_assert_eq(co_drv_status_parse(NULL), CO_DRV_MIG_NONE);
}
