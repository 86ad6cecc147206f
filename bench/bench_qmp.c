/* bench/bench_qmp.c: speed of the QMP client.
 *  1. reader throughput on the recorded QEMU 7.2 transcript of a whole
 *     migration, fed in 64 KiB reads (as the connection does) and 1-byte
 *     feeds (worst case), in MB/s and messages/s;
 *  2. co_qmp_parse_migrate_info on a recorded completed reply, per call;
 *  3. round trips against a real QEMU (BIOS-only, KVM if available):
 *     query-status and query-migrate latency, median and p99, in us.
 * Target: a query-migrate round trip well under the controller's 50 ms
 * poll period (we aim for < 1 ms median on this machine), so sampling does
 * not distort what it measures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/qmp.h"
#include "tests/qemu_proc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Feed buf reps times in chunk-sized pieces; returns messages read. */
static long feed_reps(const char *buf, size_t len, int reps, size_t chunk)
{
    co_qmp_reader *r = co_qmp_reader_new(0);
    co_diag d;
    co_diag_init(&d);
    long msgs = 0;
    for (int i = 0; i < reps; i++) {
        for (size_t off = 0; off < len; off += chunk) {
            size_t c = chunk < len - off ? chunk : len - off;
            if (co_qmp_reader_feed(r, buf + off, c, &d) != CO_OK) {
                fprintf(stderr, "bench_qmp: %s\n", d.msg);
                exit(1);
            }
            co_qmp_msg m;
            while (co_qmp_reader_next(r, &m, &d) == 1) {
                msgs++;
                co_qmp_msg_clear(&m);
            }
        }
    }
    co_qmp_reader_free(r);
    return msgs;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency(co_qmp *q, const char *what, int n)
{
    double *t = malloc(sizeof(double) * (size_t)n);
    co_diag d;
    co_diag_init(&d);
    for (int i = 0; i < n; i++) {
        double t0 = now_s();
        int rc;
        if (strcmp(what, "query-status") == 0) {
            co_qmp_status st;
            rc = co_qmp_query_status(q, &st, &d);
        } else {
            co_drv_stats ms;
            rc = co_qmp_query_migrate(q, &ms, &d);
        }
        if (rc != CO_OK) {
            fprintf(stderr, "bench_qmp: %s\n", d.msg);
            exit(1);
        }
        t[i] = (now_s() - t0) * 1e6;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    printf("  %-14s round trip: median %7.1f us   p99 %7.1f us   max %7.1f us   (n=%d)\n", what,
           t[n / 2], t[(int)(n * 0.99)], t[n - 1], n);
    free(t);
}

int main(void)
{
    size_t len;
    char *buf = slurp("tests/data/qmp/migration.recv", &len);
    if (buf == NULL) {
        fprintf(stderr, "bench_qmp: cannot read tests/data/qmp/migration.recv (run from the "
                        "source root)\n");
        return 66;
    }
    printf("QMP reader (recorded QEMU 7.2 migration transcript, %zu bytes):\n", len);
    int reps = 2000;
    double t0 = now_s();
    long msgs = feed_reps(buf, len, reps, 65536);
    double el = now_s() - t0;
    printf("  64 KiB feeds : %8.1f MB/s  %10.0f messages/s\n", len * (double)reps / el / 1e6,
           msgs / el);
    reps = 100;
    t0 = now_s();
    msgs = feed_reps(buf, len, reps, 1);
    el = now_s() - t0;
    printf("  1-byte feeds : %8.1f MB/s  %10.0f messages/s\n", len * (double)reps / el / 1e6,
           msgs / el);

    /* The last line of the transcript is a completed query-migrate reply. */
    co_qmp_reader *r = co_qmp_reader_new(0);
    co_diag d;
    co_diag_init(&d);
    co_qmp_reader_feed(r, buf, len, &d);
    co_qmp_msg m, last = {0};
    while (co_qmp_reader_next(r, &m, &d) == 1) {
        co_qmp_msg_clear(&last);
        last = m;
    }
    int n = 200000;
    co_drv_stats st;
    t0 = now_s();
    for (int i = 0; i < n; i++)
        co_qmp_parse_migrate_info(last.ret, &st, &d);
    el = now_s() - t0;
    printf("  parse query-migrate reply: %.2f us/call\n", el / n * 1e6);
    co_qmp_msg_clear(&last);
    co_qmp_reader_free(r);
    free(buf);

    char dir[64];
    tq_qemu qemu;
    if (tq_mkdir(dir) != 0 || tq_start(&qemu, dir, "bench", 32, NULL, 0) != 0) {
        printf("QMP round trips: skipped (QEMU did not start)\n");
        tq_rmdir(dir);
        return 0;
    }
    co_qmp *q = NULL;
    if (co_qmp_connect(qemu.qmp, 5000, &q, &d) != CO_OK) {
        fprintf(stderr, "bench_qmp: %s\n", d.msg);
        tq_stop(&qemu);
        tq_rmdir(dir);
        return 69;
    }
    printf("QMP round trips on a real QEMU %s (unix socket):\n",
           access("/dev/kvm", R_OK | W_OK) == 0 ? "(KVM)" : "(TCG)");
    latency(q, "query-status", 2000);
    latency(q, "query-migrate", 2000);
    co_qmp_close(q);
    tq_stop(&qemu);
    tq_rmdir(dir);
    return 0;
}
