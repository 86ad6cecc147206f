/* Dirty traces and --dirty specs: good inputs, and bad ones named precisely. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "traces/dirty_trace.h"
#include "traces/profile.h"
#include "util/jsonpos.h"

Test(dirty_trace, reads_good_trace)
{
    co_dirty_trace t;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load("tests/data/trace-good.json", &t, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(t.n, 3);
    cr_assert_float_eq(t.window_ms[2], 4000, 1e-9);
    cr_assert_str_eq(t.qemu_version, "7.2.22");
    co_dirty c;
    cr_assert_eq(co_dirty_trace_curve(&t, &c), CO_OK);
    cr_assert_float_eq(co_dirty_pages(&c, 2.0), 30000, 1e-6);
}

Test(dirty_trace, round_trip)
{
    co_dirty_trace t, u;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load("tests/data/trace-good.json", &t, &d), CO_OK);
    char path[] = "/tmp/cotrace-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    cr_assert_eq(co_dirty_trace_save(path, &t, &d), CO_OK);
    cr_assert_eq(co_dirty_trace_load(path, &u, &d), CO_OK, "%s", d.msg);
    unlink(path);
    cr_assert_eq(u.n, t.n);
    cr_assert_float_eq(u.dirty_pages[1], t.dirty_pages[1], 1e-9);
}

Test(dirty_trace, errors_name_file_line_field)
{
    co_dirty_trace t;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load("tests/data/trace-decreasing.json", &t, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "trace-decreasing.json:9: points[1].dirty_pages"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load("tests/data/trace-format.json", &t, &d), CO_EDATA);
    cr_assert(strstr(d.msg, ":2: format"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load("tests/data/trace-truncated.json", &t, &d), CO_EDATA);
    cr_assert(strstr(d.msg, "not valid JSON"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_dirty_trace_load("tests/data/no-such-file.json", &t, &d), CO_ENOINPUT);
}

Test(jsonpos, finds_lines)
{
    const char *s = "{\n \"a\": [\n  {\"b\": 1},\n  {\"b\": 2}\n ],\n \"c\": \"x\"\n}";
    cr_assert_eq(co_json_line_of(s, strlen(s), "a[1].b"), 4);
    cr_assert_eq(co_json_line_of(s, strlen(s), "c"), 6);
    cr_assert_eq(co_json_line_of(s, strlen(s), "zz"), 0);
    cr_assert_eq(co_json_line_of("{\"a\":", 5, "a"), 0);
}

Test(profile, forms)
{
    co_dirty c;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_profile_parse("uniform:wss=4GiB,rate=20000", 16.0 * (1 << 30), 4096, "--dirty",
                                  &c, &d),
                 CO_OK, "%s", d.msg);
    cr_assert_eq(c.kind, CO_DIRTY_UNIFORM);
    cr_assert_float_eq(c.wss_pages, 1048576, 1e-6);
    cr_assert_eq(co_profile_parse("hotcold:hot=1GiB,cold=3GiB,hotfrac=0.9,rate=5000",
                                  16.0 * (1 << 30), 4096, "--dirty", &c, &d),
                 CO_OK, "%s", d.msg);
    cr_assert_eq(co_profile_parse("seq:wss=1GiB,rate=100", 16.0 * (1 << 30), 4096, "--dirty", &c,
                                  &d),
                 CO_OK);
    cr_assert_eq(co_profile_parse("table:1s=100,2s=150", 16.0 * (1 << 30), 4096, "--dirty", &c, &d),
                 CO_OK, "%s", d.msg);
    cr_assert_eq(co_profile_parse("trace:tests/data/trace-good.json", 16.0 * (1 << 30), 4096,
                                  "--dirty", &c, &d),
                 CO_OK, "%s", d.msg);
    cr_assert_eq(co_profile_parse("none", 1 << 30, 4096, "--dirty", &c, &d), CO_OK);
}

Test(profile, mistakes)
{
    co_dirty c;
    co_diag d;
    const char *bad[] = {"uniform", "uniform:wss=4GiB", "uniform:wss=4GiB,rate=x",
                         "uniform:wss=4GiB,rate=5,foo=1", "uniform:wss=40GiB,rate=5",
                         "hotcold:hot=1GiB,cold=1GiB,hotfrac=1.5,rate=5", "blah:x=1",
                         "table:1s=100,1s=50", "uniform:wss=4Gx,rate=5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        co_diag_init(&d);
        cr_assert_eq(co_profile_parse(bad[i], 16.0 * (1 << 30), 4096, "--dirty", &c, &d),
                     CO_EUSAGE, "'%s' accepted", bad[i]);
        cr_assert(strstr(d.msg, "--dirty"), "%s", d.msg);
    }
}
