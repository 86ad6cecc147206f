/* fuzz/fuzz_qmp_reader.c: libFuzzer target for the QMP reader and the
 * MigrationInfo parser (drivers/qmp.h). The first input byte picks the feed
 * chunk size so the fuzzer also explores messages split across feeds; a
 * small cap (64 KiB) makes the oversize paths reachable. Every return value
 * that is an object also goes through co_qmp_parse_migrate_info. Seeds:
 * the .recv files of tests/data/qmp (recorded from QEMU 7.2), copied to
 * fuzz/corpus/qmp_reader. Build and run: make fuzz-qmp_reader-run. */
#include <stddef.h>
#include <stdint.h>

#include "drivers/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 64) + 1;
    if (data[0] >= 192)
        chunk = size; /* a quarter of the runs feed everything at once */
    data++;
    size--;
    co_qmp_reader *r = co_qmp_reader_new(64 * 1024);
    if (r == NULL)
        return 0;
    for (size_t off = 0; off < size;) {
        size_t c = chunk < size - off ? chunk : size - off;
        co_diag d;
        co_diag_init(&d);
        if (co_qmp_reader_feed(r, data + off, c, &d) != CO_OK)
            break;
        off += c;
        co_qmp_msg m;
        int rc;
        while ((rc = co_qmp_reader_next(r, &m, &d)) == 1) {
            if (m.kind == CO_QMP_RETURN && json_is_object(m.ret)) {
                co_drv_stats st;
                co_diag pd;
                co_diag_init(&pd);
                co_qmp_parse_migrate_info(m.ret, &st, &pd);
            }
            co_qmp_msg_clear(&m);
        }
        if (rc < 0)
            break;
    }
    co_qmp_reader_free(r);
    return 0;
}
