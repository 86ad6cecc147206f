/* engine/lock.h: one cutover per VM.
 *
 * Owns: an advisory lock (flock) on a file named after the VM, so a second
 * `cutover migrate` on the same VM is refused while the first runs. The key
 * is the device and inode of the QMP socket when it is a local path (two
 * paths to one socket are one VM), else the VM id text. The lock files live
 * in $CUTOVER_LOCK_DIR, else $XDG_RUNTIME_DIR/cutover, else /run/cutover
 * (root), else /tmp/cutover-UID. The kernel drops the lock when the process
 * dies, so a crash never leaves a VM locked. */
#ifndef CUTOVER_ENGINE_LOCK_H
#define CUTOVER_ENGINE_LOCK_H

#include "util/diag.h"

typedef struct co_lock {
    int fd;            /* -1 when not held */
    char path[512];
} co_lock;

/* Take the lock for vm_id (a socket path or any id) without waiting.
 * CO_OK, CO_EBUSY (held by another process: d names the pid if known), or
 * CO_EOS / CO_ECANTCREAT when the lock directory is unusable. */
int co_lock_take(co_lock *l, const char *vm_id, co_diag *d);
/* Release (idempotent). The file is left for the next user; removing it
 * would race with a process that just opened it. */
void co_lock_release(co_lock *l);

#endif
