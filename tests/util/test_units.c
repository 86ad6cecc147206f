/* Unit parsing: the vocabulary users type, and the mistakes they make. */
#include <criterion/criterion.h>

#include "util/units.h"

Test(units, sizes)
{
    double v;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("16GiB", "--mem", &v, &d), CO_OK);
    cr_assert_float_eq(v, 17179869184.0, 0.5);
    cr_assert_eq(co_parse_size("4GB", "--mem", &v, &d), CO_OK);
    cr_assert_float_eq(v, 4e9, 0.5);
    cr_assert_eq(co_parse_size("512M", "--mem", &v, &d), CO_OK);
    cr_assert_float_eq(v, 536870912.0, 0.5);
    cr_assert_eq(co_parse_size("1.5KiB", "--mem", &v, &d), CO_OK);
    cr_assert_float_eq(v, 1536.0, 1e-9);
    cr_assert_eq(co_parse_size("100", "--mem", &v, &d), CO_OK);
    cr_assert_float_eq(v, 100.0, 1e-9);
}

Test(units, rates_bits_and_bytes)
{
    double v;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_parse_rate("10Gbit", "--link", &v, &d), CO_OK);
    cr_assert_float_eq(v, 1.25e9, 1e-3);
    cr_assert_eq(co_parse_rate("800Mbit/s", "--link", &v, &d), CO_OK);
    cr_assert_float_eq(v, 1e8, 1e-3);
    cr_assert_eq(co_parse_rate("120MB/s", "--link", &v, &d), CO_OK);
    cr_assert_float_eq(v, 1.2e8, 1e-3);
    cr_assert_eq(co_parse_rate("1GiB/s", "--link", &v, &d), CO_OK);
    cr_assert_float_eq(v, 1073741824.0, 1e-3);
}

Test(units, times)
{
    double v;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_parse_time("300ms", "t", &v, &d), CO_OK);
    cr_assert_float_eq(v, 300, 1e-9);
    cr_assert_eq(co_parse_time("10s", "t", &v, &d), CO_OK);
    cr_assert_float_eq(v, 10000, 1e-9);
    cr_assert_eq(co_parse_time("5m", "t", &v, &d), CO_OK);
    cr_assert_float_eq(v, 300000, 1e-9);
    cr_assert_eq(co_parse_time("1h", "t", &v, &d), CO_OK);
    cr_assert_float_eq(v, 3600000, 1e-9);
}

Test(units, mistakes_name_the_flag_and_value)
{
    double v;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("16GiX", "--mem", &v, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "--mem") && strstr(d.msg, "GiX"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("-4GiB", "--mem", &v, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "negative"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_parse_rate("10Gbps", "--link", &v, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "ambiguous"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_parse_time("300", "--downtime-limit", &v, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "no unit"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("nan", "--mem", &v, &d), CO_EUSAGE);
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("inf", "--mem", &v, &d), CO_EUSAGE);
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("1e400GiB", "--mem", &v, &d), CO_EUSAGE);
    co_diag_init(&d);
    /* finite number times finite unit, infinite product (found by fuzz_units) */
    cr_assert_eq(co_parse_size("1e308TiB", "--mem", &v, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "too large"), "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_parse_size("", "--mem", &v, &d), CO_EUSAGE);
}
