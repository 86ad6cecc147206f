/* cli/model_args.c: shared flag parsing for model and tune. */
#include "cli/model_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/profile.h"
#include "util/units.h"

enum {
    O_MEM = 1000, O_DIRTY, O_LINK, O_MTU, O_CHANNELS, O_DL, O_MAXBW, O_JSON, O_PAGE, O_ZERO,
    O_MODE, O_AC, O_THROTTLE, O_TH_INIT, O_TH_INC, O_SWCOST, O_CHANCAP, O_COMPRESS, O_NOTS,
    O_LOOPBACK, O_MAXDT, O_DEADLINE, O_CSV, O_PLOT, O_HELP, O_TH_TRIGGER,
};

const struct option co_model_options[] = {
    {"mem", required_argument, 0, O_MEM},
    {"dirty", required_argument, 0, O_DIRTY},
    {"link", required_argument, 0, O_LINK},
    {"mtu", required_argument, 0, O_MTU},
    {"channels", required_argument, 0, O_CHANNELS},
    {"downtime-limit", required_argument, 0, O_DL},
    {"max-bandwidth", required_argument, 0, O_MAXBW},
    {"json", no_argument, 0, O_JSON},
    {"page-size", required_argument, 0, O_PAGE},
    {"zero-fraction", required_argument, 0, O_ZERO},
    {"mode", required_argument, 0, O_MODE},
    {"auto-converge", no_argument, 0, O_AC},
    {"throttle", required_argument, 0, O_THROTTLE},
    {"throttle-initial", required_argument, 0, O_TH_INIT},
    {"throttle-increment", required_argument, 0, O_TH_INC},
    {"throttle-trigger", required_argument, 0, O_TH_TRIGGER},
    {"switchover-cost", required_argument, 0, O_SWCOST},
    {"channel-cap", required_argument, 0, O_CHANCAP},
    {"compress", required_argument, 0, O_COMPRESS},
    {"no-tcp-timestamps", no_argument, 0, O_NOTS},
    {"loopback", no_argument, 0, O_LOOPBACK},
    {"max-downtime", required_argument, 0, O_MAXDT},
    {"deadline", required_argument, 0, O_DEADLINE},
    {"csv", no_argument, 0, O_CSV},
    {"plot", required_argument, 0, O_PLOT},
    {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0},
};

const char *co_model_args_help(void)
{
    return "  --mem SIZE             guest RAM (required), e.g. 16GiB\n"
           "  --dirty SPEC           dirty behaviour (default none):\n"
           "                           uniform:wss=SIZE,rate=PAGES_PER_S\n"
           "                           hotcold:hot=SIZE,cold=SIZE,hotfrac=F,rate=PAGES_PER_S\n"
           "                           seq:wss=SIZE,rate=PAGES_PER_S\n"
           "                           table:1s=PAGES,2s=PAGES,...   trace:FILE\n"
           "  --link RATE            line rate (default 10Gbit), e.g. 25Gbit, 1.2GB/s\n"
           "  --mtu N                IP MTU, 576..65536 (default 1500)\n"
           "  --channels N           multifd channels, 1..256 (default 1)\n"
           "  --downtime-limit TIME  QEMU downtime-limit (default 300ms)\n"
           "  --max-bandwidth RATE   QEMU max-bandwidth (default unlimited, as libvirt sets it;\n"
           "                         bare QEMU defaults to 128MiB/s)\n"
           "  --mode MODE            precopy (default), postcopy, hybrid:K, pause:K\n"
           "                         (K = pre-copy passes before switching)\n"
           "  --auto-converge        enable QEMU auto-converge (--throttle-initial 20,\n"
           "                         --throttle-increment 10, --throttle-trigger 50)\n"
           "  --throttle PCT         CPU throttle in force from the start (0..99)\n"
           "  --page-size SIZE       target page size (default 4KiB)\n"
           "  --zero-fraction F      share of RAM that is zero pages (default 0)\n"
           "  --switchover-cost TIME fixed part of downtime (default 10ms, calibrated)\n"
           "  --channel-cap RATE     payload one channel can push (default 17.6Gbit, calibrated)\n"
           "  --compress SPEC        zlib, zstd, or ratio=R,cpu=RATE (per channel)\n"
           "  --no-tcp-timestamps    TCP without the timestamp option\n"
           "  --loopback             no Ethernet framing (migration over lo)\n"
           "  --json                 machine-readable output\n";
}

static int parse_int(const char *v, const char *flag, long lo, long hi, long *out, co_diag *d)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0')
        return co_diag_set(d, CO_EUSAGE, "%s: '%s' is not a whole number", flag, v);
    if (x < lo || x > hi)
        return co_diag_set(d, CO_EUSAGE, "%s: %s is out of range (%ld..%ld)", flag, v, lo, hi);
    *out = x;
    return CO_OK;
}

static int parse_pct(const char *v, const char *flag, double lo, double hi, double *out,
                     co_diag *d)
{
    int rc = co_parse_number(v, flag, out, d);
    if (rc == CO_OK && (*out < lo || *out > hi))
        return co_diag_set(d, CO_EUSAGE, "%s: %s is out of range (%g..%g)", flag, v, lo, hi);
    return rc;
}

static int parse_compress(const char *v, co_link *l, co_diag *d)
{
    if (strcmp(v, "none") == 0) {
        l->compress_ratio = 1.0;
        l->compress_cpu_bytes_per_s = 0;
        return CO_OK;
    }
    /* typical figures for guest memory (docs/model.md, "Compression") */
    if (strcmp(v, "zlib") == 0) {
        l->compress_ratio = 0.45;
        l->compress_cpu_bytes_per_s = 60e6;
        return CO_OK;
    }
    if (strcmp(v, "zstd") == 0) {
        l->compress_ratio = 0.40;
        l->compress_cpu_bytes_per_s = 300e6;
        return CO_OK;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    double ratio = -1, cpu = -1;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int rc = CO_OK;
        if (strncmp(tok, "ratio=", 6) == 0)
            rc = co_parse_number(tok + 6, "--compress ratio", &ratio, d);
        else if (strncmp(tok, "cpu=", 4) == 0)
            rc = co_parse_rate(tok + 4, "--compress cpu", &cpu, d);
        else
            return co_diag_set(d, CO_EUSAGE,
                               "--compress: '%s': expected zlib, zstd, none or ratio=R,cpu=RATE",
                               v);
        if (rc != CO_OK)
            return rc;
    }
    if (!(ratio > 0 && ratio <= 1))
        return co_diag_set(d, CO_EUSAGE, "--compress: '%s': ratio must be within (0, 1]", v);
    if (cpu < 0)
        return co_diag_set(d, CO_EUSAGE, "--compress: '%s': needs cpu=RATE", v);
    l->compress_ratio = ratio;
    l->compress_cpu_bytes_per_s = cpu;
    return CO_OK;
}

int co_model_args_parse(int argc, char **argv, int is_tune, co_model_args *a, co_diag *d)
{
    memset(a, 0, sizeof *a);
    co_mig_defaults(&a->p);
    a->max_downtime_ms = 0;
    const char *dirty = "none";
    int rc = CO_OK;
    int c;
    long iv;
    double v;
    while ((c = getopt_long(argc, argv, ":h", co_model_options, NULL)) != -1) {
        const char *arg = optarg;
        switch (c) {
        case O_MEM:
            rc = co_parse_size(arg, "--mem", &v, d);
            if (rc == CO_OK && (v < 1048576.0 || v > 64.0 * 1099511627776.0))
                rc = co_diag_set(d, CO_EUSAGE, "--mem: %s is out of range (1MiB..64TiB)", arg);
            a->p.mem_bytes = v;
            a->mem_text = arg;
            break;
        case O_DIRTY:
            dirty = arg;
            break;
        case O_LINK:
            rc = co_parse_rate(arg, "--link", &v, d);
            if (rc == CO_OK && (v < 1e3 || v > 1e13))
                rc = co_diag_set(d, CO_EUSAGE, "--link: %s is out of range (8kbit..80Tbit)", arg);
            a->p.link.line_rate_bytes_per_s = v;
            break;
        case O_MTU:
            rc = parse_int(arg, "--mtu", CO_LINK_MTU_MIN, CO_LINK_MTU_MAX, &iv, d);
            a->p.link.mtu = (int)iv;
            break;
        case O_CHANNELS:
            rc = parse_int(arg, "--channels", 1, 256, &iv, d);
            a->p.link.channels = (int)iv;
            break;
        case O_DL:
            rc = co_parse_time(arg, "--downtime-limit", &v, d);
            if (rc == CO_OK && (v < 1 || v > 2000000))
                rc = co_diag_set(d, CO_EUSAGE,
                                 "--downtime-limit: %s is out of range (1ms..2000s, as QEMU)", arg);
            a->p.downtime_limit_ms = v;
            break;
        case O_MAXBW:
            rc = co_parse_rate(arg, "--max-bandwidth", &v, d);
            if (rc == CO_OK && (v < 1e3 || v > 1e13))
                rc = co_diag_set(d, CO_EUSAGE, "--max-bandwidth: %s is out of range", arg);
            a->p.link.max_bandwidth_bytes_per_s = v;
            break;
        case O_JSON:
            a->json = 1;
            break;
        case O_CSV:
            a->csv = 1;
            break;
        case O_PLOT:
            a->plot = arg;
            break;
        case O_PAGE:
            rc = co_parse_size(arg, "--page-size", &v, d);
            if (rc == CO_OK && (v < 512 || v > 1073741824.0))
                rc = co_diag_set(d, CO_EUSAGE, "--page-size: %s is out of range (512B..1GiB)", arg);
            a->p.page_size_bytes = v;
            break;
        case O_ZERO:
            rc = parse_pct(arg, "--zero-fraction", 0, 1, &a->p.zero_fraction, d);
            break;
        case O_MODE: {
            char *colon = strchr(arg, ':');
            size_t nl = colon ? (size_t)(colon - arg) : strlen(arg);
            long k = 1;
            if (colon && (rc = parse_int(colon + 1, "--mode passes", 0, 100000, &k, d)) != CO_OK)
                break;
            if (nl == 7 && strncmp(arg, "precopy", 7) == 0 && !colon)
                a->p.mode = CO_MODE_PRECOPY;
            else if (nl == 8 && strncmp(arg, "postcopy", 8) == 0 && !colon)
                a->p.mode = CO_MODE_POSTCOPY;
            else if (nl == 6 && strncmp(arg, "hybrid", 6) == 0)
                a->p.mode = CO_MODE_HYBRID;
            else if (nl == 5 && strncmp(arg, "pause", 5) == 0)
                a->p.mode = CO_MODE_PAUSE;
            else
                rc = co_diag_set(d, CO_EUSAGE,
                                 "--mode: '%s': expected precopy, postcopy, hybrid:K or pause:K", arg);
            a->p.hybrid_passes = (int)k;
            break;
        }
        case O_AC:
            a->p.auto_converge = 1;
            break;
        case O_THROTTLE:
            rc = parse_pct(arg, "--throttle", 0, 99, &a->p.throttle_pct, d);
            break;
        case O_TH_INIT:
            rc = parse_pct(arg, "--throttle-initial", 1, 99, &a->p.throttle_initial_pct, d);
            break;
        case O_TH_INC:
            rc = parse_pct(arg, "--throttle-increment", 1, 99, &a->p.throttle_increment_pct, d);
            break;
        case O_TH_TRIGGER:
            rc = parse_pct(arg, "--throttle-trigger", 1, 100, &a->p.throttle_trigger_pct, d);
            break;
        case O_SWCOST:
            rc = co_parse_time(arg, "--switchover-cost", &a->p.switchover_cost_ms, d);
            if (rc == CO_OK && a->p.switchover_cost_ms > 600e3)
                rc = co_diag_set(d, CO_EUSAGE, "--switchover-cost: %s is absurd", arg);
            break;
        case O_CHANCAP:
            rc = co_parse_rate(arg, "--channel-cap", &v, d);
            if (rc == CO_OK && !(v >= 1e3))
                rc = co_diag_set(d, CO_EUSAGE, "--channel-cap: %s is too small", arg);
            a->p.link.channel_cap_bytes_per_s = v;
            break;
        case O_COMPRESS:
            rc = parse_compress(arg, &a->p.link, d);
            break;
        case O_NOTS:
            a->p.link.tcp_timestamps = 0;
            break;
        case O_LOOPBACK:
            a->p.link.ethernet = 0;
            break;
        case O_MAXDT:
            if (!is_tune)
                goto unknown;
            rc = co_parse_time(arg, "--max-downtime", &a->max_downtime_ms, d);
            if (rc == CO_OK && !(a->max_downtime_ms >= 1))
                rc = co_diag_set(d, CO_EUSAGE, "--max-downtime: %s is too small", arg);
            break;
        case O_DEADLINE:
            rc = co_parse_time(arg, "--deadline", &a->deadline_ms, d);
            if (rc == CO_OK && !(a->deadline_ms >= 1))
                rc = co_diag_set(d, CO_EUSAGE, "--deadline: %s is too small", arg);
            if (rc == CO_OK)
                a->p.deadline_ms = a->deadline_ms;
            break;
        case O_HELP:
        case 'h':
            a->help = 1;
            return CO_OK;
        case ':':
            return co_diag_set(d, CO_EUSAGE, "%s needs a value", argv[optind - 1]);
        default:
        unknown:
            return co_diag_set(d, CO_EUSAGE, "unknown option '%s' (see --help)",
                               argv[optind - 1]);
        }
        if (rc != CO_OK)
            return rc;
    }
    if (optind < argc)
        return co_diag_set(d, CO_EUSAGE, "unexpected argument '%s'", argv[optind]);
    if (!is_tune && (a->csv || a->plot))
        return co_diag_set(d, CO_EUSAGE, "--csv and --plot belong to `cutover tune`");
    if (a->p.mem_bytes == 0)
        return co_diag_set(d, CO_EUSAGE, "--mem is required (e.g. --mem 16GiB)");
    a->dirty_spec = dirty;
    rc = co_profile_parse(dirty, a->p.mem_bytes, a->p.page_size_bytes, "--dirty", &a->p.dirty, d);
    if (rc != CO_OK)
        return rc;
    const char *field;
    if (co_mig_check(&a->p, &field) != CO_OK)
        return co_diag_set(d, CO_EUSAGE, "inputs out of range (%s)", field);
    return CO_OK;
}
