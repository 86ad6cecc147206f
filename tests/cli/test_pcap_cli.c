/* tests/cli/test_pcap_cli.c: `cutover downtime` and `cutover linkstat` on
 * bad flags and bad capture files: one clear line on stderr naming what and
 * where, nothing on stdout, the sysexits code. The capture files are written
 * with libpcap's own dumper (pcap_open_dead) into a private temp dir. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_expect.h"
#include "test_util.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/co-pcapcli-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0])
        (void)!system(cmd);
}

TestSuite(pcapcli, .init = setup, .fini = teardown, .timeout = 30);

/* IPv4 ICMP echo in Ethernet: request (reply=0) or reply, 60 bytes. */
static size_t echo_frame(uint8_t *f, int reply, uint16_t seq)
{
    memset(f, 0, 60);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[3] = 40;
    ip[8] = 64;
    ip[9] = 1;
    ip[12] = 10; ip[15] = reply ? 2 : 1;
    ip[16] = 10; ip[19] = reply ? 1 : 2;
    ip[20] = reply ? 0 : 8;
    ip[25] = 9;
    ip[26] = (uint8_t)(seq >> 8);
    ip[27] = (uint8_t)seq;
    return 60;
}

/* A ping capture: seq 0..n-1 every 1 ms, no replies for seq in [lo, hi). */
static void write_ping(const char *path, int dlt, int n, int lo, int hi, int corrupt_pkt)
{
    pcap_t *p = pcap_open_dead_with_tstamp_precision(dlt, 65535, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t *dp = pcap_dump_open(p, path);
    cr_assert_not_null(dp, "%s", pcap_geterr(p));
    int pktno = 0;
    for (int s = 0; s < n; s++) {
        for (int reply = 0; reply < 2; reply++) {
            if (reply && s >= lo && s < hi)
                continue;
            uint8_t f[64];
            size_t len = echo_frame(f, reply, (uint16_t)s);
            if (++pktno == corrupt_pkt)
                f[14] = 0x43; /* IPv4 header length 12 */
            struct pcap_pkthdr h = {{1700000000 + s / 1000, (s % 1000) * 1000000 + reply * 50000},
                                    (bpf_u_int32)len, (bpf_u_int32)len};
            pcap_dump((u_char *)dp, &h, f);
        }
    }
    pcap_dump_close(dp);
    pcap_close(p);
}

Test(pcapcli, downtime_good_capture_text_and_json)
{
    char f[128];
    snprintf(f, sizeof f, "%s/ping.pcap", dir);
    write_ping(f, DLT_EN10MB, 300, 100, 142, 0);
    cr_assert_eq(cli_run("downtime --pcap %s --filter icmp", f), 0, "%s", cli_err);
    cr_assert(strstr(cli_out, "longest outage: 42.000 ms"), "%s", cli_out);
    cr_assert(strstr(cli_out, "outages: 1"), "%s", cli_out);
    cr_assert_eq(cli_run("downtime --pcap %s --json", f), 0, "%s", cli_err);
    json_t *j = json_loads(cli_out, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_float_eq(json_real_value(json_object_get(j, "longest_outage_ms")), 42.0, 1e-9);
    json_t *o = json_array_get(json_object_get(j, "outages"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(o, "start")),
                     "2023-11-14T22:13:20.100000Z");
    cr_assert_str_eq(json_string_value(json_object_get(o, "end")),
                     "2023-11-14T22:13:20.142000Z");
    json_decref(j);
    /* --gap above the outage hides it in ping mode. */
    cr_assert_eq(cli_run("downtime --pcap %s --gap 50ms --json", f), 0, "%s", cli_err);
    j = json_loads(cli_out, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "outages")), 0);
    json_decref(j);
}

Test(pcapcli, downtime_bad_flags)
{
    cli_expect_fail(cli_run("downtime"), 64, "--iface", "--pcap");
    cli_expect_fail(cli_run("downtime --pcap a --iface lo --filter icmp"), 64, "exactly one", NULL);
    cli_expect_fail(cli_run("downtime --iface lo"), 64, "--filter", NULL);
    cli_expect_fail(cli_run("downtime --pcap x --gap 5"), 64, "--gap", NULL);
    cli_expect_fail(cli_run("downtime --pcap x --gap -1ms"), 64, "--gap", NULL);
    cli_expect_fail(cli_run("downtime --pcap x --duration 0s"), 64, "--duration", NULL);
    cli_expect_fail(cli_run("downtime --pcap x --mode both"), 64, "--mode", NULL);
    cli_expect_fail(cli_run("downtime --pcap x --write y"), 64, "--write", NULL);
    cli_expect_fail(cli_run("downtime --pcap x --bogus"), 64, "--bogus", NULL);
    cli_expect_fail(cli_run("downtime --pcap"), 64, "--pcap", "value");
    cli_expect_fail(cli_run("downtime --pcap x extra"), 64, "extra", NULL);
    cr_assert_eq(cli_run("downtime --help"), 0);
    cr_assert(strstr(cli_out, "usage: cutover downtime"));
}

Test(pcapcli, downtime_bad_files)
{
    char f[160];
    cli_expect_fail(cli_run("downtime --pcap %s/missing.pcap", dir), 66, "missing.pcap", NULL);
    cli_expect_fail(cli_run("downtime --pcap %s", dir), 66, "directory", NULL);
    snprintf(f, sizeof f, "%s/empty.pcap", dir);
    fclose(fopen(f, "w"));
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "empty.pcap", NULL);
    snprintf(f, sizeof f, "%s/text.pcap", dir);
    FILE *t = fopen(f, "w");
    fputs("this is not a capture file at all, just text\n", t);
    fclose(t);
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "text.pcap", "not a readable capture");

    /* A good file cut in the middle of packet 7's data. */
    snprintf(f, sizeof f, "%s/trunc.pcap", dir);
    write_ping(f, DLT_EN10MB, 10, 0, 0, 0);
    cr_assert_eq(truncate(f, 24 + 6 * (16 + 60) + 16 + 30), 0);
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "packet 7", "truncated");
    /* ... and in the middle of packet 7's record header. */
    cr_assert_eq(truncate(f, 24 + 6 * (16 + 60) + 5), 0);
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "packet 7", NULL);
    /* Only the file header: no packets. */
    cr_assert_eq(truncate(f, 24), 0);
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "no packets", NULL);

    snprintf(f, sizeof f, "%s/badip.pcap", dir);
    write_ping(f, DLT_EN10MB, 10, 0, 0, 4);
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "packet 4", "ihl");

    snprintf(f, sizeof f, "%s/wifi.pcap", dir);
    write_ping(f, 105 /* DLT_IEEE802_11 */, 3, 0, 0, 0);
    cli_expect_fail(cli_run("downtime --pcap %s", f), 65, "link type", NULL);

    snprintf(f, sizeof f, "%s/ok.pcap", dir);
    write_ping(f, DLT_EN10MB, 10, 0, 0, 0);
    cli_expect_fail(cli_run("downtime --pcap %s --filter 'tcp port'", f), 64, "--filter", NULL);
    cli_expect_fail(cli_run("downtime --pcap %s --filter udp", f), 65, "no packets", "udp");
}

Test(pcapcli, downtime_live_bad_interface_permission_and_write)
{
    co_test_need_root("live capture on lo");
    co_test_need_cmd("setpriv");
    cli_expect_fail(cli_run("downtime --iface co-no-such0 --filter icmp --duration 100ms"), 66,
                    "co-no-such0", NULL);
    cli_expect_fail(cli_run("downtime --iface lo --filter 'icmp and' --duration 100ms"), 64,
                    "--filter", NULL);
    cli_expect_fail(
        cli_run("downtime --iface lo --filter icmp --duration 100ms --write %s/no/dir/x.pcap", dir),
        73, "--write", NULL);
    /* Without CAP_NET_RAW (dropped from the bounding set, so even root lacks it). */
    {
        const char *bin = getenv("CUTOVER_BIN") ? getenv("CUTOVER_BIN") : "build/cutover";
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "setpriv --bounding-set -net_raw %s downtime --iface lo --filter icmp "
                 "--duration 100ms 2>&1",
                 bin);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char line[512] = "";
        (void)!fgets(line, sizeof line, p);
        int st = pclose(p);
        cr_assert_eq(WEXITSTATUS(st), 77, "exit %d: %s", WEXITSTATUS(st), line);
        cr_assert(strstr(line, "CAP_NET_RAW"), "%s", line);
    }
}

Test(pcapcli, linkstat_bad_flags_and_files)
{
    char f[160];
    snprintf(f, sizeof f, "%s/ping.pcap", dir);
    write_ping(f, DLT_EN10MB, 10, 0, 0, 0);
    cli_expect_fail(cli_run("linkstat --pcap %s", f), 64, "--port", NULL);
    cli_expect_fail(cli_run("linkstat --port 4444"), 64, "--pcap", NULL);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 0", f), 64, "--port", NULL);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 70000", f), 64, "--port", NULL);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 44x", f), 64, "--port", NULL);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 1 --json --csv", f), 64, "--csv", NULL);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 1 --interval 0ms", f), 64, "--interval",
                    NULL);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 4444", f), 65, "no TCP packets", "4444");
    cli_expect_fail(cli_run("linkstat --pcap %s/none --port 4444", dir), 66, "none", NULL);
    cr_assert_eq(truncate(f, 24 + 3 * (16 + 60) + 20), 0);
    cli_expect_fail(cli_run("linkstat --pcap %s --port 4444", f), 65, "packet 4", NULL);
    cr_assert_eq(cli_run("linkstat --help"), 0);
}
