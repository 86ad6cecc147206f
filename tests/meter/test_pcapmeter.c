/* tests/meter/test_pcapmeter.c: the downtime meter on real traffic.
 *
 * A private namespace pair joined by a veth pair carries a real ping (one
 * echo request per ms) or a UDP heartbeat (one datagram per ms); the test
 * takes the link down for 200 ms and `cutover downtime --iface` (live
 * capture, saved with --write) must find that outage within a few ms. The
 * saved capture is then read back through meter/pcapio.h + pcapmeter.h and
 * must give the same figures. */
#include "pcap_test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <pcap/dlt.h>
#include <poll.h>

#include "meter/pcapio.h"
#include "meter/pcaplive.h"
#include "meter/pcapmeter.h"
#include "test_util.h"

static co_nsp nsp;
static pid_t kids[4];
static char dir[64];

static void setup(void)
{
    co_test_need_root("network namespaces, live capture");
    co_test_need_cmd("ip");
    snprintf(dir, sizeof dir, "/tmp/co-pcapmeter-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(co_nsp_setup(&nsp, 1), 0, "cannot create namespaces %s/%s", nsp.a, nsp.b);
}

static void teardown(void)
{
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++)
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
            kids[i] = 0;
        }
    co_nsp_teardown(&nsp);
    /* CO_TEST_KEEP=1 keeps the captures for a look. */
    if (dir[0] && getenv("CO_TEST_KEEP") == NULL)
        co_t_sh("rm -rf '%s'", dir);
}

static int sink(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    return co_dtm_feed(ctx, pk->ts_ns, pk->dlt, pk->data, pk->caplen, pk->wirelen, d);
}

/* Start the sender in a (ping when udp_port is 0), wait 350 ms, take
 * down_if in down_ns down for 200 ms, bring it back, return 300 ms later
 * with the sender still running (stop_sender; not a fixed send time: on a
 * loaded machine `ip` can take a second). *lo and *hi bound the real
 * outage (see below). */
static int use_v6; /* drive() pings over IPv6 */

static void drive(int udp_port, const char *down_ns, const char *down_if, double *lo, double *hi)
{
    char dst[64];
    if (use_v6)
        snprintf(dst, sizeof dst, "fe80::88:2%%%s", nsp.va);
    else
        snprintf(dst, sizeof dst, "169.254.88.2");
    kids[1] = co_t_sender(nsp.a, dst, udp_port, 1.0, 20000, 0x4242);
    cr_assert_gt(kids[1], 0);
    usleep(350 * 1000);
    /* IPv6: the responder's address goes away instead of the link, since
     * Linux re-creates IPv6 link-local state slowly after a link down. */
    char down[256], up[256];
    if (use_v6) {
        snprintf(down, sizeof down, "ip -n %s -6 addr del fe80::88:2/64 dev %s", down_ns,
                 down_if);
        snprintf(up, sizeof up, "ip -n %s -6 addr add fe80::88:2/64 dev %s nodad", down_ns,
                 down_if);
    } else {
        snprintf(down, sizeof down, "ip -n %s link set %s down", down_ns, down_if);
        /* An admin down flushes even permanent neighbour entries; pin them
         * again so ARP (retried only after 1 s) is not part of the outage. */
        snprintf(up, sizeof up,
                 "ip -n %s link set %s up && ip -n %s neigh replace 169.254.88.%d lladdr "
                 "02:00:00:88:00:0%d dev %s nud permanent",
                 down_ns, down_if, down_ns, down_if == nsp.va ? 2 : 1,
                 down_if == nsp.va ? 2 : 1, down_if);
    }
    double t0 = co_t_now_ms();
    cr_assert_eq(co_t_sh("%s", down), 0);
    double t1 = co_t_now_ms();
    co_t_sleep_until(t1 + 200);
    double t2 = co_t_now_ms();
    cr_assert_eq(co_t_sh("%s", up), 0);
    double t3 = co_t_now_ms();
    /* The outage lies between "down returned .. up issued" and "down issued
     * .. up returned", plus ARP resolution after the link comes back. */
    *lo = t2 - t1 - 3;
    *hi = t3 - t0 + 8;
    usleep(300 * 1000);
}

/* Stop the sender, after the capture: a flow that stops while the capture
 * goes on is an (open) outage. */
static void stop_sender(void)
{
    kill(kids[1], SIGTERM);
    int src = co_t_wait(kids[1], 5000);
    kids[1] = 0;
    cr_assert_eq(src, 0, "sender exited %d", src);
}

/* Run one scenario: `cutover downtime --iface cap_if` in cap_ns with filter
 * while drive() makes the outage. Checks the live JSON and the re-read
 * capture. */
static void scenario(const char *cap_ns, const char *cap_if, const char *filter, int udp_port,
                     const char *down_ns, const char *down_if, const char *want_mode)
{
    char out[256], err[256], cap[256];
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    snprintf(cap, sizeof cap, "%s/cap.pcap", dir);
    char *argv[] = {(char *)co_t_bin(), "downtime", "--iface", (char *)cap_if, "--filter",
                    (char *)filter, "--duration", "30s", "--json", "--write", cap, NULL};
    kids[0] = co_t_spawn_in_ns(cap_ns, argv, out, err);
    cr_assert_gt(kids[0], 0);
    /* --write creates the file once the capture is active and filtered;
     * on a loaded machine that can take far longer than a fixed sleep. */
    double until = co_t_now_ms() + 10000;
    while (access(cap, F_OK) != 0 && co_t_now_ms() < until)
        usleep(5000);
    cr_assert_eq(access(cap, F_OK), 0, "the capture did not start");
    double lo, hi;
    drive(udp_port, down_ns, down_if, &lo, &hi);
    usleep(50 * 1000);
    kill(kids[0], SIGINT); /* ends the capture; it still reports */
    int rc = co_t_wait(kids[0], 10000);
    kids[0] = 0;
    stop_sender();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cat %s >&2", err);
    if (rc != 0)
        system(cmd);
    cr_assert_eq(rc, 0, "cutover downtime exited %d", rc);

    json_error_t je;
    json_t *j = json_load_file(out, 0, &je);
    cr_assert_not_null(j, "bad JSON: %s", je.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "mode")), want_mode);
    json_t *outs = json_object_get(j, "outages");
    cr_assert(json_is_array(outs));
    double longest = json_real_value(json_object_get(j, "longest_outage_ms"));
    cr_log_info("%s: longest outage %.3f ms, expected %.1f..%.1f, %zu outages", want_mode,
                longest, lo, hi, json_array_size(outs));
    cr_assert(longest >= lo && longest <= hi, "%s: longest outage %.3f ms not in [%.1f, %.1f] (%s)",
              filter, longest, lo, hi, out);
    cr_assert_geq(json_array_size(outs), 1, "no outage found");
    json_t *o0 = json_array_get(outs, 0);
    cr_assert(json_is_string(json_object_get(o0, "start")));
    cr_assert(json_is_string(json_object_get(o0, "end")));
    cr_assert(json_is_number(json_object_get(o0, "duration_ms")));
    cr_assert_eq(json_integer_value(json_object_get(j, "kernel_drops")), 0, "kernel drops");
    cr_assert_gt(json_integer_value(json_object_get(j, "packets")), 400, "%lld packets",
                 (long long)json_integer_value(json_object_get(j, "packets")));

    /* The saved capture, read back, gives the same answer. */
    co_dtm *m = co_dtm_new(NULL);
    co_diag d;
    co_diag_init(&d);
    co_pcap_stats st;
    cr_assert_eq(co_pcap_read_file(cap, filter, sink, m, &st, &d), CO_OK, "%s", d.msg);
    co_dtm_result r;
    cr_assert_eq(co_dtm_finish(m, &r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(r.n_outages, json_array_size(outs), "re-read: %zu outages, live %zu",
                 r.n_outages, json_array_size(outs));
    cr_assert_float_eq(r.longest_outage_ms, longest, 1e-3, "re-read: longest %.3f, live %.3f",
                       r.longest_outage_ms, longest);
    cr_assert_eq((json_int_t)r.packets, json_integer_value(json_object_get(j, "packets")),
                 "re-read: %llu packets", (unsigned long long)r.packets);
    co_dtm_result_free(&r);
    co_dtm_free(m);
    json_decref(j);
}

TestSuite(pcapmeter, .init = setup, .fini = teardown, .timeout = 30);

/* Ping from a to b, capture on a's veth; b's end goes down: the requests
 * still leave a (or show as a seq jump) but no replies come back. */
Test(pcapmeter, ping_drop_over_veth)
{
    scenario(nsp.a, nsp.va, "icmp", 0, nsp.b, nsp.vb, "ping");
}

/* ICMPv6 echo between link-local addresses; the responder's address is
 * removed for 200 ms. */
Test(pcapmeter, ping6_drop_over_veth)
{
    use_v6 = 1;
    scenario(nsp.a, nsp.va, "icmp6", 0, nsp.b, nsp.vb, "ping");
}

/* UDP heartbeat from a to b, capture on b's veth; a's end goes down, so b
 * sees a silence. */
Test(pcapmeter, udp_heartbeat_gap_over_veth)
{
    scenario(nsp.b, nsp.vb, "udp dst port 7777", 7777, nsp.a, nsp.va, "gap");
}

/* In-process capture on "any" as Linux cooked v2 (SLL2), saved to a file
 * that meter/pcapio.h reads back. */
static volatile sig_atomic_t cap_stop;
static void on_usr1(int sig)
{
    (void)sig;
    cap_stop = 1;
}
static int null_sink(void *ctx, const co_pcap_pkt *pk, co_diag *d) { return CO_OK; }
static void ready(void *ctx) { (void)!write(*(int *)ctx, "r", 1); }

Test(pcapmeter, ping_drop_sll2_on_any)
{
    char cap[256];
    snprintf(cap, sizeof cap, "%s/any.pcap", dir);
    int pfd[2];
    cr_assert_eq(pipe(pfd), 0);
    kids[0] = fork();
    if (kids[0] == 0) {
        co_t_child_init();
        signal(SIGUSR1, on_usr1);
        close(pfd[0]);
        if (co_t_enter_ns(nsp.a) != 0)
            _exit(2);
        co_pcap_live_opts o = {"any", "icmp", 10000, 256, cap, &cap_stop, ready,
                               DLT_LINUX_SLL2};
        co_diag d;
        co_diag_init(&d);
        int rc = co_pcap_read_live(&o, null_sink, &pfd[1], NULL, &d);
        if (rc != CO_OK)
            fprintf(stderr, "capture: %s\n", d.msg);
        _exit(rc == CO_OK ? 0 : 3);
    }
    close(pfd[1]);
    char c;
    struct pollfd pp = {pfd[0], POLLIN, 0};
    cr_assert(poll(&pp, 1, 5000) == 1 && read(pfd[0], &c, 1) == 1, "capture did not start");
    close(pfd[0]);
    double lo, hi;
    drive(0, nsp.b, nsp.vb, &lo, &hi);
    usleep(50 * 1000);
    kill(kids[0], SIGUSR1);
    cr_assert_eq(co_t_wait(kids[0], 5000), 0, "capture failed");
    kids[0] = 0;
    stop_sender();

    co_dtm *m = co_dtm_new(NULL);
    co_diag d;
    co_diag_init(&d);
    co_pcap_stats st;
    cr_assert_eq(co_pcap_read_file(cap, NULL, sink, m, &st, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(st.dlt, DLT_LINUX_SLL2);
    co_dtm_result r;
    cr_assert_eq(co_dtm_finish(m, &r, &d), CO_OK, "%s", d.msg);
    cr_log_info("sll2: longest outage %.3f ms, expected %.1f..%.1f", r.longest_outage_ms, lo, hi);
    cr_assert_eq(r.mode, CO_DTM_PING);
    cr_assert(r.longest_outage_ms >= lo && r.longest_outage_ms <= hi,
              "longest outage %.3f ms not in [%.1f, %.1f]", r.longest_outage_ms, lo, hi);
    cr_assert_gt(r.echo_replies, 400);
    co_dtm_result_free(&r);
    co_dtm_free(m);
}

/* The background measurement `cutover migrate --measure pcap:IF,FILTER`
 * uses: start, let something else happen, stop and analyse. */
Test(pcapmeter, live_measurement_in_background)
{
    cr_assert_eq(co_t_enter_ns(nsp.a), 0); /* this test process only */
    char iface[32], filter[64];
    co_diag d;
    co_diag_init(&d);
    char spec[96];
    snprintf(spec, sizeof spec, "pcap:%s,icmp and host 169.254.88.2", nsp.va);
    cr_assert_eq(co_dtm_parse_measure(spec, iface, sizeof iface, filter, sizeof filter, &d),
                 CO_OK, "%s", d.msg);
    co_dtm_live_opts o = {iface, filter, {CO_DTM_AUTO, 0}, 10000, NULL};
    co_dtm_live *l;
    cr_assert_eq(co_dtm_live_start(&o, &l, &d), CO_OK, "%s", d.msg);
    double lo, hi;
    drive(0, nsp.b, nsp.vb, &lo, &hi);
    co_dtm_result r;
    unsigned long long drops = 1;
    cr_assert_eq(co_dtm_live_stop(l, &r, &drops, &d), CO_OK, "%s", d.msg);
    stop_sender();
    cr_log_info("background: longest outage %.3f ms, expected %.1f..%.1f", r.longest_outage_ms,
                lo, hi);
    cr_assert_eq(drops, 0);
    cr_assert_eq(r.n_outages, 1);
    cr_assert(r.longest_outage_ms >= lo && r.longest_outage_ms <= hi,
              "longest outage %.3f ms not in [%.1f, %.1f]", r.longest_outage_ms, lo, hi);
    co_dtm_result_free(&r);

    /* Errors come back from start, and nothing keeps running. */
    co_dtm_live_opts bad = {"co-no-such0", "icmp", {CO_DTM_AUTO, 0}, 1000, NULL};
    co_diag_init(&d);
    cr_assert_eq(co_dtm_live_start(&bad, &l, &d), CO_ENOINPUT);
    cr_assert(strstr(d.msg, "co-no-such0"), "%s", d.msg);
    co_dtm_live_opts badf = {nsp.va, "icmp and and", {CO_DTM_AUTO, 0}, 1000, NULL};
    co_diag_init(&d);
    cr_assert_eq(co_dtm_live_start(&badf, &l, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, "--filter"), "%s", d.msg);
}
