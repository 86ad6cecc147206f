/* tests/evacuate/test_evacuate_input.c: `cutover evacuate` refuses bad input
 * with one line and a sysexits code, without a cluster (default suite; the
 * drains on the cluster lab are in test_evacuate.c, CUTOVER_SLOW=1). Port 9
 * on 127.0.0.1 has no libvirtd: the connection is refused at once. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>

#include "cli_expect.h"

Test(evacuate_input, missing_flags_are_usage_errors)
{
    cli_expect_fail(cli_run("evacuate --to qemu+tcp://127.0.0.1:9/system"), 64, "--connect",
                    NULL);
    cli_expect_fail(cli_run("evacuate --connect qemu+tcp://127.0.0.1:9/system"), 64, "--to",
                    NULL);
    cli_expect_fail(cli_run("evacuate --connect qemu+tcp://127.0.0.1:9/system "
                            "--to qemu+tcp://127.0.0.1:9/system --concurrency 0"),
                    64, "--concurrency", NULL);
    cli_expect_fail(cli_run("evacuate --connect qemu+tcp://127.0.0.1:9/system "
                            "--to qemu+tcp://127.0.0.1:9/system --unmovable maybe"),
                    64, "--unmovable", NULL);
}

Test(evacuate_input, source_as_destination_and_unreachable_source)
{
    cli_expect_fail(cli_run("evacuate --connect qemu+tcp://127.0.0.1:9/system "
                            "--to qemu+tcp://127.0.0.1:9/system --dry-run"),
                    64, "source itself", NULL);
    cli_expect_fail(cli_run("evacuate --connect qemu+tcp://127.0.0.1:9/system "
                            "--to qemu+tcp://127.0.0.2:9/system --dry-run"),
                    69, "127.0.0.1:9", NULL);
}

/* The shared migration flags (cli/common.c) give evacuate and migrate the
 * same messages; evacuate's own --allow items and --call-timeout. */
Test(evacuate_input, shared_migration_flags_and_time_limit)
{
    const char *base = "evacuate --connect qemu+tcp://127.0.0.1:9/system "
                       "--to qemu+tcp://127.0.0.2:9/system --dry-run ";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s--mtu 70000", base);
    cli_expect_fail(cli_run("%s", cmd), 64, "--mtu '70000'", NULL);
    cli_expect_fail(cli_run("migrate --qmp /nonexistent --uri tcp:127.0.0.1:1 --mtu 70000"), 64,
                    "--mtu '70000'", NULL);
    snprintf(cmd, sizeof cmd, "%s--max-downtime 0ms", base);
    cli_expect_fail(cli_run("%s", cmd), 64, "--max-downtime", NULL);
    snprintf(cmd, sizeof cmd, "%s--deadline 10ms", base);
    cli_expect_fail(cli_run("%s", cmd), 64, "--deadline", NULL);
    snprintf(cmd, sizeof cmd, "%s--allow eject,teleport", base);
    cli_expect_fail(cli_run("%s", cmd), 64, "teleport", NULL);
    snprintf(cmd, sizeof cmd, "%s--call-timeout 0s", base);
    cli_expect_fail(cli_run("%s", cmd), 64, "--call-timeout", NULL);
    /* valid flags reach the connection: 69 naming the source */
    snprintf(cmd, sizeof cmd, "%s--allow eject,copy-storage,postcopy --call-timeout 20s "
             "--mtu 9000 --max-downtime 100ms --deadline 1m", base);
    cli_expect_fail(cli_run("%s", cmd), 69, "127.0.0.1:9", NULL);
}

/* --log DIR is checked before any host is contacted: a file in the way or a
 * directory that cannot be made is 73 naming it (a dry run does not check it). */
Test(evacuate_input, log_dir_not_writable)
{
    char dir[] = "/tmp/co-evlog-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char file[64], cmd[512];
    snprintf(file, sizeof file, "%s/f", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    const char *base = "evacuate --connect qemu+tcp://127.0.0.1:9/system "
                       "--to qemu+tcp://127.0.0.2:9/system ";
    snprintf(cmd, sizeof cmd, "%s--log %s", base, file);
    cli_expect_fail(cli_run("%s", cmd), 73, "not a directory", NULL);
    snprintf(cmd, sizeof cmd, "%s--log %s/no/such", base, dir);
    cli_expect_fail(cli_run("%s", cmd), 73, "cannot create", NULL);
    /* a good one: the connection is next (69) and the directory was made */
    snprintf(cmd, sizeof cmd, "%s--log %s/logs", base, dir);
    cli_expect_fail(cli_run("%s", cmd), 69, "127.0.0.1:9", NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
