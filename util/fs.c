/* util/fs.c: see util/fs.h. */
#define _XOPEN_SOURCE 700
#include "util/fs.h"

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include "util/error.h"

/* Remove one entry and go on whatever happens: what cannot go keeps its
 * parent too, which the check at the end sees. */
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    (void)remove(path);
    return 0;
}

int co_fs_rm_tree(const char *dir)
{
    (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return access(dir, F_OK) == 0 ? CO_EOS : CO_OK;
}
