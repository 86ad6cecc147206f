/* util/fs.h: file-system chores shared by modules.
 *
 * Owns: removing a temporary directory tree of ours (a dry run's probe
 * logs, a forecast's inventory copy). No globals. */
#ifndef CUTOVER_UTIL_FS_H
#define CUTOVER_UTIL_FS_H

/* rm -r DIR: every file and directory below it, then DIR itself, depth
 * first; symbolic links are removed, never followed (FTW_PHYS). For
 * directories cutover created itself (mkdtemp). CO_OK, or CO_EOS when
 * something could not be removed (the rest still is). */
int co_fs_rm_tree(const char *dir);

#endif
