/* tests/evacuate/test_evacuate_input.c: `cutover evacuate` refuses bad input
 * with one line and a sysexits code, without a cluster (default suite; the
 * drains on the cluster lab are in test_evacuate.c, CUTOVER_SLOW=1). Port 9
 * on 127.0.0.1 has no libvirtd: the connection is refused at once. */
#include <criterion/criterion.h>

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
