/* cli/cmd_downtime.c: `cutover downtime`, outages in a packet capture.
 *
 * Reads a capture file or captures live (meter/pcapio.h), feeds the
 * downtime meter (meter/pcapmeter.h) and renders its result as text or
 * JSON. See docs/downtime.md. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "meter/pcapio.h"
#include "meter/pcapmeter.h"
#include "util/units.h"

static const char *const usage_text =
    "usage: cutover downtime (--iface IF | --pcap FILE) [--filter BPF] [--duration 10s]\n"
    "                        [--gap 5ms] [--mode auto|ping|gap] [--write FILE] [--json]\n"
    "\n"
    "Find outages in a packet flow from capture timestamps: the ping drop of ICMP\n"
    "echo (requests without replies, matched by id and seq), or silences in a\n"
    "one-way flow such as a UDP heartbeat longer than --gap (default 5 x the\n"
    "median inter-arrival). Prints each outage and the longest.\n"
    "\n"
    "  --pcap FILE       read a pcap/pcapng file\n"
    "  --iface IF        capture live on IF (needs CAP_NET_RAW) for --duration\n"
    "  --filter BPF      tcpdump filter selecting the flow (required with --iface)\n"
    "  --duration T      live capture length (default 10s)\n"
    "  --gap T           silence threshold; in ping mode the shortest outage kept\n"
    "  --mode M          auto (ping if there are echo requests), ping or gap\n"
    "  --write FILE      live: also save the captured packets as pcap\n"
    "  --json            JSON: outages[{start,end,duration_ms,...}], longest_outage_ms\n";

/* Set by SIGINT/SIGTERM during a live capture: end it early, keep results. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct feed_ctx {
    co_dtm *m;
};

static int sink(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    struct feed_ctx *fc = ctx;
    return co_dtm_feed(fc->m, pk->ts_ns, pk->dlt, pk->data, pk->caplen, pk->wirelen, d);
}

/* ISO 8601 UTC with microseconds, e.g. 2026-11-22T02:40:01.123456Z. */
static char *fmt_ts(int64_t ns, char *buf, size_t len)
{
    time_t sec = (time_t)(ns / 1000000000);
    long us = (long)((ns % 1000000000) / 1000);
    if (us < 0) {
        us += 1000000;
        sec--;
    }
    struct tm tm;
    char base[40];
    if (gmtime_r(&sec, &tm) == NULL || strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(buf, len, "%lld ns", (long long)ns);
    else
        snprintf(buf, len, "%s.%06ldZ", base, us);
    return buf;
}

static const char *mode_name(int mode) { return mode == CO_DTM_PING ? "ping" : "gap"; }

static json_t *to_json(const co_dtm_result *r, const co_pcap_stats *st, const char *source)
{
    char b[64];
    json_t *o = json_object(), *arr = json_array();
    if (o == NULL || arr == NULL) {
        json_decref(o);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < r->n_outages; i++) {
        const co_outage *u = &r->outages[i];
        json_t *e = json_object();
        json_object_set_new(e, "start", json_string(fmt_ts(u->start_ns, b, sizeof b)));
        json_object_set_new(e, "end", json_string(fmt_ts(u->end_ns, b, sizeof b)));
        json_object_set_new(e, "duration_ms", json_real(u->duration_ms));
        json_object_set_new(e, "start_offset_ms",
                            json_real((double)(u->start_ns - r->first_ns) / 1e6));
        json_object_set_new(e, "end_offset_ms",
                            json_real((double)(u->end_ns - r->first_ns) / 1e6));
        json_object_set_new(e, "lost_packets", json_integer((json_int_t)u->lost_packets));
        json_object_set_new(e, "open", json_boolean(u->open));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "source", json_string(source));
    json_object_set_new(o, "mode", json_string(mode_name(r->mode)));
    json_object_set_new(o, "packets", json_integer((json_int_t)r->packets));
    json_object_set_new(o, "ip_packets", json_integer((json_int_t)r->ip_packets));
    json_object_set_new(o, "cut_packets", json_integer((json_int_t)r->cut_packets));
    if (r->mode == CO_DTM_PING) {
        json_object_set_new(o, "echo_requests", json_integer((json_int_t)r->echo_requests));
        json_object_set_new(o, "echo_replies", json_integer((json_int_t)r->echo_replies));
        json_object_set_new(o, "lost_requests", json_integer((json_int_t)r->lost_requests));
    }
    json_object_set_new(o, "kernel_drops", json_integer((json_int_t)st->kernel_drops));
    json_object_set_new(o, "capture_start", json_string(fmt_ts(r->first_ns, b, sizeof b)));
    json_object_set_new(o, "capture_duration_ms", json_real(r->capture_ms));
    json_object_set_new(o, "median_interval_ms", json_real(r->median_interval_ms));
    json_object_set_new(o, "threshold_ms", json_real(r->threshold_ms));
    json_object_set_new(o, "outages", arr);
    json_object_set_new(o, "longest_outage_ms", json_real(r->longest_outage_ms));
    return o;
}

static int print_text(FILE *out, const co_dtm_result *r, const co_pcap_stats *st,
                      const char *source)
{
    char b1[64], b2[64];
    fprintf(out, "source: %s\n", source);
    if (r->mode == CO_DTM_PING)
        fprintf(out, "mode: ping, %llu echo requests, %llu replies, %llu requests lost\n",
                (unsigned long long)r->echo_requests, (unsigned long long)r->echo_replies,
                (unsigned long long)r->lost_requests);
    else
        fprintf(out, "mode: gap, %llu IP packets\n", (unsigned long long)r->ip_packets);
    fprintf(out, "capture: %s, %.3f s, median interval %.3f ms, threshold %.3f ms\n",
            fmt_ts(r->first_ns, b1, sizeof b1), r->capture_ms / 1e3, r->median_interval_ms,
            r->threshold_ms);
    if (st->kernel_drops)
        fprintf(out, "warning: the kernel dropped %llu packets during the capture\n",
                (unsigned long long)st->kernel_drops);
    if (r->cut_packets)
        fprintf(out, "note: %llu packets had headers cut by the snap length (skipped)\n",
                (unsigned long long)r->cut_packets);
    fprintf(out, "outages: %zu\n", r->n_outages);
    for (size_t i = 0; i < r->n_outages; i++) {
        const co_outage *u = &r->outages[i];
        fprintf(out, "  %zu. %s .. %s  (+%.3f .. +%.3f s)  %.3f ms, %llu lost%s\n", i + 1,
                fmt_ts(u->start_ns, b1, sizeof b1), fmt_ts(u->end_ns, b2, sizeof b2),
                (double)(u->start_ns - r->first_ns) / 1e9,
                (double)(u->end_ns - r->first_ns) / 1e9, u->duration_ms,
                (unsigned long long)u->lost_packets, u->open ? " (capture ended inside)" : "");
    }
    fprintf(out, "longest outage: %.3f ms\n", r->longest_outage_ms);
    return fflush(out) == 0 && !ferror(out) ? 0 : 74;
}

int co_cmd_downtime(int argc, char **argv)
{
    const char *cmd = "downtime";
    const char *iface = NULL, *pcap = NULL, *filter = NULL, *write_path = NULL;
    double duration_ms = 10000, gap_ms = 0;
    int json = 0, mode = CO_DTM_AUTO;
    co_diag d;
    co_diag_init(&d);
    static const struct option opts[] = {
        {"iface", required_argument, NULL, 'i'}, {"pcap", required_argument, NULL, 'r'},
        {"filter", required_argument, NULL, 'f'}, {"duration", required_argument, NULL, 'd'},
        {"gap", required_argument, NULL, 'g'},   {"mode", required_argument, NULL, 'm'},
        {"write", required_argument, NULL, 'w'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': iface = optarg; break;
        case 'r': pcap = optarg; break;
        case 'f': filter = optarg; break;
        case 'w': write_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'd':
            if (co_parse_time(optarg, "--duration", &duration_ms, &d) != CO_OK)
                return co_cli_fail(cmd, &d);
            if (!(duration_ms > 0 && duration_ms <= 86400e3))
                return co_cli_usage(cmd, "--duration '%s': must be above 0 and at most 24h",
                                    optarg);
            break;
        case 'g':
            if (co_parse_time(optarg, "--gap", &gap_ms, &d) != CO_OK)
                return co_cli_fail(cmd, &d);
            if (!(gap_ms > 0 && gap_ms <= 86400e3))
                return co_cli_usage(cmd, "--gap '%s': must be above 0 and at most 24h", optarg);
            break;
        case 'm':
            if (strcmp(optarg, "auto") == 0)
                mode = CO_DTM_AUTO;
            else if (strcmp(optarg, "ping") == 0)
                mode = CO_DTM_PING;
            else if (strcmp(optarg, "gap") == 0)
                mode = CO_DTM_GAP;
            else
                return co_cli_usage(cmd, "--mode '%s': expected auto, ping or gap", optarg);
            break;
        case ':':
            return co_cli_usage(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return co_cli_usage(cmd, "unknown option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return co_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if ((iface == NULL) == (pcap == NULL))
        return co_cli_usage(cmd, "give exactly one of --iface IF or --pcap FILE");
    if (iface && (filter == NULL || *filter == '\0'))
        return co_cli_usage(cmd, "--iface needs --filter to select the flow (e.g. 'icmp')");
    if (write_path && !iface)
        return co_cli_usage(cmd, "--write only applies to a live capture (--iface)");

    co_dtm_opts mo = {mode, gap_ms};
    co_dtm *m = co_dtm_new(&mo);
    if (m == NULL) {
        co_diag_set(&d, CO_ENOMEM, "out of memory");
        return co_cli_fail(cmd, &d);
    }
    struct feed_ctx fc = {m};
    co_pcap_stats st;
    int rc;
    char source[512];
    if (pcap) {
        snprintf(source, sizeof source, "%s", pcap);
        rc = co_pcap_read_file(pcap, filter, sink, &fc, &st, &d);
    } else {
        snprintf(source, sizeof source, "live %s", iface);
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        co_pcap_live_opts lo = {iface, filter, duration_ms, 0, write_path, &stop_flag, NULL, 0};
        rc = co_pcap_read_live(&lo, sink, &fc, &st, &d);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    co_dtm_result r;
    if (rc == CO_OK) {
        co_dtm_set_end(m, st.end_ns);
        rc = co_dtm_finish(m, &r, &d);
        if (rc != CO_OK)
            co_diag_prefix(&d, "%s%s%s", source, filter && *filter ? ", filter " : "",
                           filter && *filter ? filter : "");
    }
    co_dtm_free(m);
    if (rc != CO_OK)
        return co_cli_fail(cmd, &d);
    int ex = json ? co_cli_emit_json(stdout, to_json(&r, &st, source))
                  : print_text(stdout, &r, &st, source);
    co_dtm_result_free(&r);
    return ex;
}
