/* engine/lock.c: flock-based per-VM lock in a directory only we can write. */
#include "engine/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

/* Where the lock files live (header). */
static void lock_dir_path(char *buf, size_t len)
{
    const char *env = getenv("CUTOVER_LOCK_DIR");
    if (env && env[0])
        snprintf(buf, len, "%s", env);
    else if ((env = getenv("XDG_RUNTIME_DIR")) && env[0])
        snprintf(buf, len, "%s/cutover", env);
    else if (geteuid() == 0)
        snprintf(buf, len, "/run/cutover");
    else
        snprintf(buf, len, "/tmp/cutover-%u", (unsigned)geteuid());
}

/* Create the directory 0700 if missing, then open it without following a
 * symlink and check it is ours and nobody else can write it: in /tmp anyone
 * may have made it first, to plant files or read our pids. Returns an fd of
 * the directory or a negative CO_E* with d set. */
static int open_lock_dir(const char *dir, co_diag *d)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return co_diag_set(d, CO_ECANTCREAT, "lock directory %s: %s", dir, strerror(errno));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return co_diag_set(d, errno == ELOOP || errno == ENOTDIR ? CO_ENOPERM : CO_ECANTCREAT,
                           "lock directory %s: %s%s", dir, strerror(errno),
                           errno == ELOOP ? " (a symlink: refused)" : "");
    struct stat st;
    if (fstat(dfd, &st) != 0) {
        int e = errno;
        close(dfd);
        return co_diag_set(d, CO_EOS, "lock directory %s: %s", dir, strerror(e));
    }
    if (st.st_uid != geteuid()) {
        close(dfd);
        return co_diag_set(d, CO_ENOPERM,
                           "lock directory %s is owned by uid %u, not by us (uid %u): refused; "
                           "remove it or set CUTOVER_LOCK_DIR",
                           dir, (unsigned)st.st_uid, (unsigned)geteuid());
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        close(dfd);
        return co_diag_set(d, CO_ENOPERM,
                           "lock directory %s is writable by %s (mode %03o): refused; chmod 700 "
                           "it",
                           dir, st.st_mode & S_IWOTH ? "everyone" : "its group",
                           (unsigned)(st.st_mode & 0777));
    }
    return dfd;
}

/* FNV-1a: the id text can be long or hold slashes; the name must not */
static unsigned long long fnv(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int co_lock_take(co_lock *l, const char *vm_id, co_diag *d)
{
    l->fd = -1;
    char dir[400], name[64];
    lock_dir_path(dir, sizeof dir);
    snprintf(name, sizeof name, "vm-%016llx.lock", fnv(vm_id));
    snprintf(l->path, sizeof l->path, "%s/%s", dir, name);
    int dfd = open_lock_dir(dir, d);
    if (dfd < 0)
        return dfd;
    /* no O_TRUNC: the file may be another cutover's, holding its pid; no
     * symlink: it could point at any file we can write */
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int e = errno;
    close(dfd);
    if (fd < 0)
        return co_diag_set(d, e == ELOOP ? CO_ENOPERM : CO_ECANTCREAT, "lock file %s: %s%s",
                           l->path, strerror(e), e == ELOOP ? " (a symlink: refused)" : "");
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        return co_diag_set(d, CO_ENOPERM, "lock file %s is not a regular file of ours: refused",
                           l->path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        char owner[32] = "";
        ssize_t n = pread(fd, owner, sizeof owner - 1, 0);
        owner[n > 0 ? n : 0] = '\0';
        owner[strcspn(owner, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return co_diag_set(d, CO_EBUSY,
                               "another cutover (pid %s) is already driving VM %s (lock %s)",
                               owner[0] ? owner : "?", vm_id, l->path);
        return co_diag_set(d, CO_EOS, "lock file %s: %s", l->path, strerror(e));
    }
    /* ours now (we hold the lock): replace the last holder's pid */
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) < 0) {
        /* the pid is only a courtesy for the refusal message */
    }
    l->fd = fd;
    return CO_OK;
}

void co_lock_release(co_lock *l)
{
    if (l->fd >= 0) {
        flock(l->fd, LOCK_UN);
        close(l->fd);
        l->fd = -1;
    }
}
