/* tests/meter/test_linkstat.c: linkstat on a real QEMU migration stream.
 *
 * Two qemu-system-x86_64 processes migrate (a) on the loopback of a private
 * network namespace whose MTU is 1500 (loopback does GSO, so captured
 * segments are larger than the MTU), or (b) from one namespace to another
 * across a veth pair with MTU 9000 and GSO limited to one segment, so the
 * capture sees wire-sized frames. The source's RAM is a file of 16 MiB
 * random data (the rest zero) so the stream carries real bulk data. The test
 * captures the migration port with meter/pcapio.h (snap length 128, saved
 * to a pcap), migrates through a few QMP lines sent over the unix socket,
 * and checks `cutover linkstat`: the new bytes match query-migrate's
 * ram.transferred plus device state, the SYN MSS gives the MTU, the
 * throughput respects max-bandwidth. */
#include "pcap_test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <poll.h>
#include <sys/un.h>

#include "meter/pcapio.h"
#include "test_util.h"

#define LIMIT_BYTES_PER_S 100000000.0

static char dir[64], ns[64];
static co_nsp nsp;
static pid_t kids[3]; /* source, destination, capture */

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/co-linkstat-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void setup_lo(void)
{
    co_test_need_root("network namespaces, live capture");
    co_test_need_cmd("ip");
    setup();
    snprintf(ns, sizeof ns, "co-pcap-%d-q", (int)getpid());
    cr_assert_eq(co_t_sh("ip netns add %s && ip -n %s link set lo mtu 1500 up", ns, ns), 0);
}

static void setup_veth(void)
{
    co_test_need_root("network namespaces, live capture");
    co_test_need_cmd("ip");
    setup();
    cr_assert_eq(co_nsp_setup(&nsp, 3), 0, "cannot create namespaces");
    cr_assert_eq(co_t_sh("ip -n %s link set %s mtu 9000 gso_max_segs 1 && "
                         "ip -n %s link set %s mtu 9000 gso_max_segs 1",
                         nsp.a, nsp.va, nsp.b, nsp.vb),
                 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++)
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
            kids[i] = 0;
        }
    if (ns[0])
        co_t_sh("ip netns del %s 2>/dev/null", ns);
    co_nsp_teardown(&nsp);
    /* CO_TEST_KEEP=1 keeps the capture and QEMU logs for a look. */
    if (dir[0] && getenv("CO_TEST_KEEP") == NULL)
        co_t_sh("rm -rf '%s'", dir);
}

/* An ephemeral port on addr, picked by the kernel inside namespace in. */
static int free_port_in_ns(const char *in, const char *addr)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        co_t_child_init();
        int port = -1;
        int s = co_t_enter_ns(in) == 0 ? socket(AF_INET, SOCK_STREAM, 0) : -1;
        struct sockaddr_in sa = {.sin_family = AF_INET};
        inet_pton(AF_INET, addr, &sa.sin_addr);
        socklen_t sl = sizeof sa;
        if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            getsockname(s, (struct sockaddr *)&sa, &sl) == 0)
            port = ntohs(sa.sin_port);
        ssize_t w = write(pfd[1], &port, sizeof port);
        _exit(w == sizeof port ? 0 : 1);
    }
    close(pfd[1]);
    int port = -1;
    if (read(pfd[0], &port, sizeof port) != sizeof port)
        port = -1;
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    return port;
}

/* --- a few QMP lines over the unix socket (the full client is engine/qmp) --- */
struct qmp {
    int fd;
    char buf[65536];
    size_t len;
};

static int qmp_connect(struct qmp *q, const char *path, double timeout_ms)
{
    double end = co_t_now_ms() + timeout_ms;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    q->len = 0;
    for (;;) {
        q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(q->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return 0;
        close(q->fd);
        if (co_t_now_ms() > end)
            return -1;
        usleep(20000);
    }
}

/* Next JSON line that is not an event; NULL on timeout or EOF. */
static json_t *qmp_read(struct qmp *q, double timeout_ms)
{
    double end = co_t_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        if (nl) {
            *nl = '\0';
            json_t *j = json_loads(q->buf, 0, NULL);
            size_t used = (size_t)(nl - q->buf) + 1;
            memmove(q->buf, q->buf + used, q->len - used);
            q->len -= used;
            if (j && json_object_get(j, "event")) {
                json_decref(j);
                continue;
            }
            return j;
        }
        double left = end - co_t_now_ms();
        struct pollfd p = {q->fd, POLLIN, 0};
        if (left <= 0 || q->len == sizeof q->buf || poll(&p, 1, (int)left + 1) <= 0)
            return NULL;
        ssize_t n = read(q->fd, q->buf + q->len, sizeof q->buf - q->len);
        if (n <= 0)
            return NULL;
        q->len += (size_t)n;
    }
}

static json_t *qmp_cmd(struct qmp *q, const char *line)
{
    size_t n = strlen(line);
    if (write(q->fd, line, n) != (ssize_t)n || write(q->fd, "\n", 1) != 1)
        return NULL;
    return qmp_read(q, 5000);
}

static pid_t start_qemu(const char *in, const char *name, const char *memobj,
                        const char *incoming)
{
    char sock[160], err[128], mem[256];
    snprintf(sock, sizeof sock, "unix:%s/%s.sock,server=on,wait=off", dir, name);
    snprintf(err, sizeof err, "%s/%s.err", dir, name);
    snprintf(mem, sizeof mem, "%s", memobj);
    const char *machine = access("/dev/kvm", R_OK | W_OK) == 0
                              ? "pc,accel=kvm,memory-backend=mem"
                              : "pc,accel=tcg,memory-backend=mem";
    char *argv[] = {"qemu-system-x86_64", "-machine", (char *)machine, "-cpu", "qemu64,pni=off",
                    "-nodefaults", "-display", "none", "-m", "128", "-object", mem, "-qmp", sock,
                    incoming ? "-incoming" : NULL, (char *)incoming, NULL};
    return co_t_spawn_in_ns(in, argv, "/dev/null", err);
}

/* Capture child: stops on SIGUSR1. */
static volatile sig_atomic_t cap_stop;
static void on_usr1(int s)
{
    (void)s;
    cap_stop = 1;
}
static int null_sink(void *ctx, const co_pcap_pkt *pk, co_diag *d) { return CO_OK; }
static void ready(void *ctx) { (void)!write(*(int *)ctx, "r", 1); }

static pid_t start_capture(const char *in, const char *iface, const char *filter,
                           const char *path)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        co_t_child_init();
        close(pfd[0]);
        signal(SIGUSR1, on_usr1);
        if (co_t_enter_ns(in) != 0)
            _exit(2);
        co_pcap_live_opts o = {iface, filter, 30000, 128, path, &cap_stop, ready, 0};
        co_diag d;
        co_diag_init(&d);
        co_pcap_stats st;
        int rc = co_pcap_read_live(&o, null_sink, &pfd[1], &st, &d);
        if (rc != CO_OK)
            fprintf(stderr, "capture: %s\n", d.msg);
        _exit(rc == CO_OK && st.kernel_drops == 0 ? 0 : 3);
    }
    close(pfd[1]);
    char c;
    struct pollfd p = {pfd[0], POLLIN, 0};
    int ok = poll(&p, 1, 5000) == 1 && read(pfd[0], &c, 1) == 1;
    close(pfd[0]);
    return ok ? pid : -1;
}

/* Migrate from src_ns to dst_ns (QEMU listening on dst_addr), capturing on
 * cap_if in src_ns; run `cutover linkstat --json` on the capture and return
 * its parsed output; *transferred gets query-migrate's ram.transferred. */
static json_t *migrate_and_measure(const char *src_ns, const char *dst_ns, const char *dst_addr,
                                   const char *cap_if, double *transferred_out, int *port_out)
{
    char ram[128], srcmem[256], cap[128], sock[160];
    snprintf(ram, sizeof ram, "%s/ram.bin", dir);
    cr_assert_eq(co_t_sh("head -c 16M /dev/urandom > %s && truncate -s 128M %s", ram, ram), 0);
    snprintf(srcmem, sizeof srcmem,
             "memory-backend-file,id=mem,size=128M,mem-path=%s,share=off", ram);
    int port = free_port_in_ns(dst_ns, dst_addr);
    cr_assert_gt(port, 0);
    *port_out = port;
    char incoming[64];
    snprintf(incoming, sizeof incoming, "tcp:%s:%d", dst_addr, port);
    kids[0] = start_qemu(src_ns, "src", srcmem, NULL);
    kids[1] = start_qemu(dst_ns, "dst", "memory-backend-ram,id=mem,size=128M", incoming);
    cr_assert(kids[0] > 0 && kids[1] > 0);

    /* The destination listens once its main loop runs: the greeting comes
     * from the monitor thread earlier, but commands are dispatched by the
     * main loop, so a "inmigrate" answer to query-status means ready. */
    struct qmp q;
    snprintf(sock, sizeof sock, "%s/dst.sock", dir);
    cr_assert_eq(qmp_connect(&q, sock, 10000), 0, "no QMP socket %s", sock);
    json_t *g = qmp_read(&q, 5000);
    cr_assert(g && json_object_get(g, "QMP"), "destination QEMU did not greet");
    json_decref(g);
    g = qmp_cmd(&q, "{\"execute\":\"qmp_capabilities\"}");
    cr_assert(g && json_object_get(g, "return"));
    json_decref(g);
    g = qmp_cmd(&q, "{\"execute\":\"query-status\"}");
    const char *st = json_string_value(json_object_get(json_object_get(g, "return"), "status"));
    cr_assert(st && strcmp(st, "inmigrate") == 0, "destination status %s", st ? st : "?");
    json_decref(g);
    close(q.fd);
    snprintf(sock, sizeof sock, "%s/src.sock", dir);
    cr_assert_eq(qmp_connect(&q, sock, 10000), 0, "no QMP socket %s", sock);
    json_t *j = qmp_read(&q, 5000); /* greeting */
    cr_assert(j && json_object_get(j, "QMP"));
    json_decref(j);
    j = qmp_cmd(&q, "{\"execute\":\"qmp_capabilities\"}");
    cr_assert(j && json_object_get(j, "return"));
    json_decref(j);
    char line[256];
    snprintf(line, sizeof line,
             "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":%.0f}}",
             LIMIT_BYTES_PER_S);
    j = qmp_cmd(&q, line);
    cr_assert(j && json_object_get(j, "return"));
    json_decref(j);

    char filter[64];
    snprintf(filter, sizeof filter, "tcp port %d", port);
    snprintf(cap, sizeof cap, "%s/mig.pcap", dir);
    kids[2] = start_capture(src_ns, cap_if, filter, cap);
    cr_assert_gt(kids[2], 0, "capture did not start");

    snprintf(line, sizeof line, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"%s\"}}",
             incoming);
    j = qmp_cmd(&q, line);
    cr_assert(j && json_object_get(j, "return"), "migrate refused");
    json_decref(j);
    double transferred = -1, end = co_t_now_ms() + 30000;
    char fail_why[256] = "";
    const char *status = "";
    while (co_t_now_ms() < end) {
        j = qmp_cmd(&q, "{\"execute\":\"query-migrate\"}");
        cr_assert_not_null(j);
        json_t *ret = json_object_get(j, "return");
        status = json_string_value(json_object_get(ret, "status"));
        if (status && strcmp(status, "failed") == 0) {
            const char *why = json_string_value(json_object_get(ret, "error-desc"));
            snprintf(fail_why, sizeof fail_why, "%s", why ? why : "?");
        }
        if (status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0)) {
            transferred = (double)json_integer_value(
                json_object_get(json_object_get(ret, "ram"), "transferred"));
            status = strcmp(status, "completed") == 0 ? "completed" : "failed";
            json_decref(j);
            break;
        }
        json_decref(j);
        usleep(20000);
    }
    close(q.fd);
    cr_assert_str_eq(status, "completed", "migration failed: %s", fail_why);
    usleep(200 * 1000); /* the close handshake */
    kill(kids[2], SIGUSR1);
    cr_assert_eq(co_t_wait(kids[2], 5000), 0, "capture failed or dropped packets");
    kids[2] = 0;

    static char out[1 << 20], err[4096];
    char args[512];
    snprintf(args, sizeof args, "linkstat --pcap %s --port %d --json", cap, port);
    int rc = co_test_run(args, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "linkstat exited %d: %s", rc, err);
    json_error_t je;
    json_t *r = json_loads(out, 0, &je);
    cr_assert_not_null(r, "bad JSON: %s", je.text);
    *transferred_out = transferred;

    /* CSV: a header and one line per interval. */
    double bins = (double)json_array_size(json_object_get(r, "throughput"));
    snprintf(args, sizeof args, "linkstat --pcap %s --port %d --csv", cap, port);
    cr_assert_eq(co_test_run(args, out, sizeof out, err, sizeof err), 0);
    size_t lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    cr_assert_eq((double)lines, bins + 1);
    cr_assert(strncmp(out, "start_ms,new_bytes,", 19) == 0);
    return r;
}

#define GI(k) ((double)json_integer_value(json_object_get(r, k)))
#define GR(k) json_real_value(json_object_get(r, k))

/* What every migration stream must show. */
static void common_checks(json_t *r, double transferred)
{
    double newb = GI("new_bytes");
    cr_log_info("linkstat: new %.0f bytes, query-migrate ram.transferred %.0f (+%.0f), "
                "mss %.0f, mtu %.0f, max seg %.0f, max ip %.0f, retrans %.0f, uncaptured %.0f, "
                "mean %.0f B/s, "
                "peak %.0f B/s, offload %d",
                newb, transferred, newb - transferred, GI("syn_mss_bytes"),
                GI("mtu_estimate_bytes"), GI("max_segment_bytes"), GI("max_ip_packet_bytes"),
                GI("retrans_bytes"), GI("uncaptured_bytes"), GR("mean_bytes_per_s"), GR("peak_bytes_per_s"),
                json_is_true(json_object_get(r, "offload_suspected")));
    /* The stream carries the RAM section plus headers and device state. */
    cr_assert_geq(newb, transferred,
                  "stream %.0f < ram.transferred %.0f bytes (payload %.0f, retrans %.0f, "
                  "uncaptured %.0f, packets %.0f, syn mss %.0f)",
                  newb, transferred, GI("payload_bytes"), GI("retrans_bytes"),
                  GI("uncaptured_bytes"), GI("packets"), GI("syn_mss_bytes"));
    cr_assert_lt(newb - transferred, 1048576.0);
    /* 16 MiB of random data from the backing file, less what the BIOS
     * clears: 16.69 MB under TCG (no KVM, 2026-12-05) */
    cr_assert_gt(transferred, 15.0 * 1048576);
    cr_assert_eq(GI("connections"), 1);
    /* veth queues drop under load (netdev_max_backlog): TCP repairs it.
     * Usually 0 - 18 KB of 17.7 MB here; once over 5 % in a CI run on this
     * 2-core machine under the suite's other QEMUs (2026-12-05): the bound
     * says the stream was repaired, not how idle the machine was. */
    cr_assert_leq(GI("retrans_bytes"), 0.25 * newb, "retransmitted %.0f of %.0f bytes",
                  GI("retrans_bytes"), newb);
    cr_assert_geq(GI("payload_bytes"), newb);
    cr_assert_gt(GR("duration_ms"), 0);
    /* QEMU's limiter meters 100 ms windows that our bins straddle. */
    cr_assert_leq(GR("peak_bytes_per_s"), 2.1 * LIMIT_BYTES_PER_S);
    json_t *bins = json_object_get(r, "throughput");
    cr_assert_gt(json_array_size(bins), 1);
    double sum = 0;
    for (size_t i = 0; i < json_array_size(bins); i++)
        sum += (double)json_integer_value(json_object_get(json_array_get(bins, i), "new_bytes"));
    cr_assert_eq(sum, newb, "intervals sum to %.0f, total %.0f", sum, newb);
}

/* Loopback, MTU 1500: the SYN tells the MTU, GSO makes segments larger. */
Test(linkstat, qemu_migration_on_loopback, .init = setup_lo, .fini = teardown, .timeout = 60)
{
    double transferred;
    int port;
    json_t *r = migrate_and_measure(ns, ns, "127.0.0.1", "lo", &transferred, &port);
    common_checks(r, transferred);
    cr_assert_eq(GI("syn_mss_bytes"), 1460);
    cr_assert_eq(GI("mtu_estimate_bytes"), 1500);
    cr_assert_geq(GI("max_segment_bytes"), 1448);
    json_decref(r);
}

/* veth, MTU 9000, one segment per GSO packet: the capture sees frames of
 * exactly the MTU (20 IP + 32 TCP with timestamps + 8948 payload). */
Test(linkstat, qemu_migration_over_jumbo_veth, .init = setup_veth, .fini = teardown,
     .timeout = 60)
{
    double transferred;
    int port;
    json_t *r = migrate_and_measure(nsp.a, nsp.b, "169.254.88.2", nsp.va, &transferred, &port);
    common_checks(r, transferred);
    cr_assert_eq(GI("syn_mss_bytes"), 8960);
    cr_assert_eq(GI("mtu_estimate_bytes"), 9000);
    cr_assert_eq(GI("max_ip_packet_bytes"), 9000);
    cr_assert_eq(GI("max_segment_bytes"), 8948);
    cr_assert_gt(GI("full_size_segments"), 1000);
    cr_assert(json_is_false(json_object_get(r, "offload_suspected")));
    json_decref(r);
}
