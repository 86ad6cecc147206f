/* engine/lock.c: flock-based per-VM lock. */
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

static int lock_dir(char *buf, size_t len)
{
    const char *env = getenv("CUTOVER_LOCK_DIR");
    if (env && env[0]) {
        snprintf(buf, len, "%s", env);
    } else if ((env = getenv("XDG_RUNTIME_DIR")) && env[0]) {
        snprintf(buf, len, "%s/cutover", env);
    } else if (geteuid() == 0) {
        snprintf(buf, len, "/run/cutover");
    } else {
        snprintf(buf, len, "/tmp/cutover-%u", (unsigned)geteuid());
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
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
    char dir[400];
    int rc = lock_dir(dir, sizeof dir);
    if (rc < 0)
        return co_diag_set(d, CO_ECANTCREAT, "lock directory %s: %s", dir, strerror(-rc));
    struct stat st;
    if (vm_id[0] == '/' && stat(vm_id, &st) == 0)
        snprintf(l->path, sizeof l->path, "%s/vm-%llx-%llx.lock", dir,
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    else
        snprintf(l->path, sizeof l->path, "%s/vm-%016llx.lock", dir, fnv(vm_id));
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return co_diag_set(d, CO_ECANTCREAT, "lock file %s: %s", l->path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
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
