/* Link arithmetic against hand-computed cases. */
#include <criterion/criterion.h>
#include <math.h>

#include "model/link.h"
#include "util/error.h"

Test(link, payload_1500_with_timestamps)
{
    co_link l;
    co_link_defaults(&l);
    co_link_eval e;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_OK);
    /* 1500 - 20 IP - 20 TCP - 12 timestamps = 1448 of 1500 + 38 = 1538 on the wire */
    cr_assert_float_eq(e.payload_per_frame_bytes, 1448.0, 1e-9);
    cr_assert_float_eq(e.wire_per_frame_bytes, 1538.0, 1e-9);
    cr_assert_float_eq(e.efficiency, 1448.0 / 1538.0, 1e-12);
    cr_assert_float_eq(e.payload_bytes_per_s, 1.25e9 * 1448.0 / 1538.0, 1e-3);
}

Test(link, jumbo_and_no_timestamps)
{
    co_link l;
    co_link_defaults(&l);
    l.mtu = 9000;
    l.tcp_timestamps = 0;
    co_link_eval e;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_OK);
    cr_assert_float_eq(e.efficiency, 8960.0 / 9038.0, 1e-12);
}

Test(link, loopback_has_no_ethernet_framing)
{
    co_link l;
    co_link_defaults(&l);
    l.mtu = 65536;
    l.ethernet = 0;
    co_link_eval e;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_OK);
    cr_assert_float_eq(e.efficiency, (65536.0 - 52) / 65536.0, 1e-12);
}

Test(link, channels_cap_and_max_bandwidth)
{
    co_link l;
    co_link_defaults(&l);
    l.line_rate_bytes_per_s = 100e9 / 8;
    l.channel_cap_bytes_per_s = 1e9;
    l.channels = 4;
    co_link_eval e;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_OK);
    cr_assert_float_eq(e.payload_bytes_per_s, 4e9, 1e-3);
    cr_assert_eq(e.bound, CO_LINK_BOUND_CHANNELS);
    l.max_bandwidth_bytes_per_s = 1e8;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_OK);
    cr_assert_float_eq(e.iter_bytes_per_s, 1e8, 1e-6);
    cr_assert_float_eq(e.stop_bytes_per_s, 4e9, 1e-3); /* lifted at completion */
    cr_assert_eq(e.bound, CO_LINK_BOUND_MAX_BANDWIDTH);
}

Test(link, compression)
{
    co_link l;
    co_link_defaults(&l);
    l.compress_ratio = 0.5;
    l.compress_cpu_bytes_per_s = 100e6;
    l.channels = 2;
    co_link_eval e;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_OK);
    cr_assert_float_eq(e.raw_iter_bytes_per_s, 200e6, 1e-3);
    cr_assert_eq(e.bound, CO_LINK_BOUND_COMPRESSION);
}

Test(link, rejects_out_of_range)
{
    co_link l;
    co_link_eval e;
    co_link_defaults(&l);
    l.mtu = 575;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_ERANGE);
    co_link_defaults(&l);
    l.mtu = 65537;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_ERANGE);
    co_link_defaults(&l);
    l.channels = 0;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_ERANGE);
    co_link_defaults(&l);
    l.line_rate_bytes_per_s = -1;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_ERANGE);
    co_link_defaults(&l);
    l.compress_ratio = 1.5;
    cr_assert_eq(co_link_evaluate(&l, &e), CO_ERANGE);
}
