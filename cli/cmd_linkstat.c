/* cli/cmd_linkstat.c: `cutover linkstat`, a migration stream's link figures.
 *
 * Reads a capture (meter/pcapio.h), feeds meter/linkstat.h with the TCP
 * packets of one port and renders the result as text, JSON or CSV (the CSV
 * is the throughput time series). See docs/downtime.md. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "meter/linkstat.h"
#include "meter/pcapio.h"
#include "util/units.h"

static const char *const usage_text =
    "usage: cutover linkstat --pcap FILE --port P [--interval 100ms] [--json | --csv]\n"
    "\n"
    "Throughput over time, segment sizes (largest payload = path MSS as captured,\n"
    "hence the MTU), retransmissions, payload and duration of the TCP stream(s)\n"
    "to or from port P (QEMU's migration port) in a capture.\n"
    "\n"
    "  --pcap FILE       pcap/pcapng capture (tcpdump -s 128 is enough)\n"
    "  --port P          the migration port (1..65535)\n"
    "  --interval T      throughput interval (default 100ms)\n"
    "  --json            the whole result as JSON\n"
    "  --csv             the throughput series: start_ms,new_bytes,retrans_bytes,\n"
    "                    segments,bytes_per_s\n";

static int sink(void *ctx, const co_pcap_pkt *pk, co_diag *d)
{
    return co_ls_feed(ctx, pk->ts_ns, pk->dlt, pk->data, pk->caplen, pk->wirelen, d);
}

static json_t *to_json(const co_ls_result *r, const char *path)
{
    json_t *o = json_object(), *bins = json_array();
    if (o == NULL || bins == NULL) {
        json_decref(o);
        json_decref(bins);
        return NULL;
    }
    for (size_t i = 0; i < r->n_bins; i++) {
        const co_ls_bin *b = &r->bins[i];
        json_t *e = json_object();
        json_object_set_new(e, "start_ms", json_real(b->start_ms));
        json_object_set_new(e, "new_bytes", json_integer((json_int_t)b->new_bytes));
        json_object_set_new(e, "retrans_bytes", json_integer((json_int_t)b->retrans_bytes));
        json_object_set_new(e, "segments", json_integer((json_int_t)b->segments));
        json_object_set_new(e, "bytes_per_s", json_real(b->bytes_per_s));
        json_array_append_new(bins, e);
    }
#define I(k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
#define R(k, v) json_object_set_new(o, k, json_real(v))
    json_object_set_new(o, "source", json_string(path));
    I("port", r->port);
    json_object_set_new(o, "src", json_string(r->src));
    json_object_set_new(o, "dst", json_string(r->dst));
    I("connections", r->connections);
    R("duration_ms", r->duration_ms);
    I("packets", r->packets);
    I("data_segments", r->data_segments);
    I("payload_bytes", r->payload_bytes);
    I("new_bytes", r->new_bytes);
    I("retrans_segments", r->retrans_segments);
    I("retrans_bytes", r->retrans_bytes);
    I("uncaptured_bytes", r->uncaptured_bytes);
    I("reverse_payload_bytes", r->reverse_payload_bytes);
    I("min_segment_bytes", r->min_segment_bytes);
    I("max_segment_bytes", r->max_segment_bytes);
    R("mean_segment_bytes", r->mean_segment_bytes);
    I("full_size_segments", r->full_size_segments);
    I("max_ip_packet_bytes", r->max_ip_packet_bytes);
    I("syn_mss_bytes", r->syn_mss_bytes);
    I("mtu_estimate_bytes", r->mtu_estimate_bytes);
    json_object_set_new(o, "offload_suspected", json_boolean(r->offload_suspected));
    R("mean_bytes_per_s", r->mean_bytes_per_s);
    R("peak_bytes_per_s", r->peak_bytes_per_s);
    I("cut_packets", r->cut_packets);
    R("interval_ms", r->interval_ms);
    json_object_set_new(o, "throughput", bins);
#undef I
#undef R
    return o;
}

static int print_csv(FILE *out, const co_ls_result *r)
{
    fprintf(out, "start_ms,new_bytes,retrans_bytes,segments,bytes_per_s\n");
    for (size_t i = 0; i < r->n_bins; i++) {
        const co_ls_bin *b = &r->bins[i];
        fprintf(out, "%.3f,%llu,%llu,%llu,%.1f\n", b->start_ms,
                (unsigned long long)b->new_bytes, (unsigned long long)b->retrans_bytes,
                (unsigned long long)b->segments, b->bytes_per_s);
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : 74;
}

static int print_text(FILE *out, const co_ls_result *r, const char *path)
{
    char a[64], b[64], c[64];
    fprintf(out, "stream: %s -> %s port %u (%u connection%s) in %s\n", r->src, r->dst, r->port,
            r->connections, r->connections == 1 ? "" : "s", path);
    fprintf(out, "duration: %s, %llu packets, %llu data segments\n",
            co_fmt_time(r->duration_ms, a, sizeof a), (unsigned long long)r->packets,
            (unsigned long long)r->data_segments);
    fprintf(out, "payload: %llu bytes (%s) new, %llu captured, %llu sent back\n",
            (unsigned long long)r->new_bytes, co_fmt_size((double)r->new_bytes, a, sizeof a),
            (unsigned long long)r->payload_bytes, (unsigned long long)r->reverse_payload_bytes);
    fprintf(out, "retransmissions: %llu segments, %llu bytes (%.3f%%)\n",
            (unsigned long long)r->retrans_segments, (unsigned long long)r->retrans_bytes,
            r->payload_bytes ? 100.0 * (double)r->retrans_bytes / (double)r->payload_bytes
                             : 0.0);
    if (r->uncaptured_bytes)
        fprintf(out, "warning: %llu bytes of the sequence space were never captured\n",
                (unsigned long long)r->uncaptured_bytes);
    fprintf(out, "throughput: mean %s, peak %s per %.0f ms interval\n",
            co_fmt_rate(r->mean_bytes_per_s, b, sizeof b),
            co_fmt_rate(r->peak_bytes_per_s, c, sizeof c), r->interval_ms);
    fprintf(out, "segments: payload %u..%u bytes, mean %.0f, %llu at the maximum\n",
            r->min_segment_bytes, r->max_segment_bytes, r->mean_segment_bytes,
            (unsigned long long)r->full_size_segments);
    if (r->syn_mss_bytes)
        fprintf(out, "path: SYN MSS %u bytes => MTU %u bytes; largest IP packet %u bytes\n",
                r->syn_mss_bytes, r->mtu_estimate_bytes, r->max_ip_packet_bytes);
    else
        fprintf(out, "path: no SYN captured; largest IP packet %u bytes => MTU >= %u\n",
                r->max_ip_packet_bytes, r->mtu_estimate_bytes);
    if (r->offload_suspected)
        fprintf(out, "note: segments exceed the MSS: the capture saw them before segmentation "
                     "(GSO/TSO) or after coalescing (GRO); see docs/downtime.md\n");
    if (r->cut_packets)
        fprintf(out, "note: %llu packets had headers cut by the snap length (skipped)\n",
                (unsigned long long)r->cut_packets);
    fprintf(out, "%10s %14s %12s %9s\n", "start_ms", "rate", "new_bytes", "retrans");
    for (size_t i = 0; i < r->n_bins; i++)
        fprintf(out, "%10.0f %14s %12llu %9llu\n", r->bins[i].start_ms,
                co_fmt_rate(r->bins[i].bytes_per_s, a, sizeof a),
                (unsigned long long)r->bins[i].new_bytes,
                (unsigned long long)r->bins[i].retrans_bytes);
    return fflush(out) == 0 && !ferror(out) ? 0 : 74;
}

int co_cmd_linkstat(int argc, char **argv)
{
    const char *cmd = "linkstat";
    const char *pcap = NULL;
    long port = -1;
    double interval_ms = 100;
    int json = 0, csv = 0;
    co_diag d;
    co_diag_init(&d);
    static const struct option opts[] = {
        {"pcap", required_argument, NULL, 'r'}, {"port", required_argument, NULL, 'p'},
        {"interval", required_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'c'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': pcap = optarg; break;
        case 'j': json = 1; break;
        case 'c': csv = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'p': {
            char *end;
            port = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || port < 1 || port > 65535)
                return co_cli_usage(cmd, "--port '%s': expected a port number 1..65535",
                                    optarg);
            break;
        }
        case 'n':
            if (co_parse_time(optarg, "--interval", &interval_ms, &d) != CO_OK)
                return co_cli_fail(cmd, &d);
            if (!(interval_ms >= 0.001 && interval_ms <= 3600e3))
                return co_cli_usage(cmd, "--interval '%s': must be between 1us and 1h", optarg);
            break;
        case ':':
            return co_cli_usage(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return co_cli_usage(cmd, "unknown option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return co_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (pcap == NULL)
        return co_cli_usage(cmd, "--pcap FILE is required");
    if (port < 0)
        return co_cli_usage(cmd, "--port P is required (the migration port)");
    if (json && csv)
        return co_cli_usage(cmd, "--json and --csv exclude each other");

    co_ls_opts lo = {(uint16_t)port, interval_ms};
    co_ls *s = co_ls_new(&lo);
    if (s == NULL) {
        co_diag_set(&d, CO_ENOMEM, "out of memory");
        return co_cli_fail(cmd, &d);
    }
    co_pcap_stats st;
    /* The kernel-side filter keeps the sink's work to the one port. */
    char filter[64];
    snprintf(filter, sizeof filter, "tcp port %ld", port);
    int rc = co_pcap_read_file(pcap, filter, sink, s, &st, &d);
    co_ls_result r;
    if (rc == CO_OK) {
        rc = co_ls_finish(s, &r, &d);
        if (rc != CO_OK)
            co_diag_prefix(&d, "%s", pcap);
    }
    co_ls_free(s);
    if (rc != CO_OK)
        return co_cli_fail(cmd, &d);
    int ex = json ? co_cli_emit_json(stdout, to_json(&r, pcap))
             : csv ? print_csv(stdout, &r)
                   : print_text(stdout, &r, pcap);
    co_ls_result_free(&r);
    return ex;
}
