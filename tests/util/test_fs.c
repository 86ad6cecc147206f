/* tests/util/test_fs.c: co_fs_rm_tree (util/fs.h).
 *   rm_tree        files, a subdirectory and a symbolic link to a directory
 *                  outside: all gone, the link's target untouched
 *   missing        a directory that does not exist: CO_OK */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fs.h"

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("x\n", f);
    fclose(f);
}

Test(fs, rm_tree)
{
    char top[] = "/tmp/cofs-XXXXXX", out[] = "/tmp/cofs-out-XXXXXX", p[256];
    cr_assert_not_null(mkdtemp(top));
    cr_assert_not_null(mkdtemp(out));
    snprintf(p, sizeof p, "%s/keep", out);
    touch(p);
    snprintf(p, sizeof p, "%s/a", top);
    touch(p);
    snprintf(p, sizeof p, "%s/sub", top);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/sub/b", top);
    touch(p);
    snprintf(p, sizeof p, "%s/sub/link", top);
    cr_assert_eq(symlink(out, p), 0);
    cr_assert_eq(co_fs_rm_tree(top), CO_OK);
    cr_assert_neq(access(top, F_OK), 0, "%s is still there", top);
    snprintf(p, sizeof p, "%s/keep", out);
    cr_assert_eq(access(p, F_OK), 0, "the link's target lost %s", p);
    unlink(p);
    rmdir(out);
}

Test(fs, missing)
{
    cr_assert_eq(co_fs_rm_tree("/tmp/cofs-does-not-exist-here"), CO_OK);
}
