/* engine/lock.h: one cutover per VM.
 *
 * Owns: an advisory lock (flock) on a file named after the VM's identity, so
 * a second `cutover migrate` on the same VM is refused while the first runs.
 * The key is the driver's vm_id (drivers/driver.h): for QMP the canonical
 * socket path (co_drv_qmp_vm_id, so a relative path, an absolute one and a
 * symlink to the socket are one VM), for libvirt CONN_URI#UUID
 * (co_virt_lock_key). The file is vm-HASH.lock (FNV-1a of the key) in
 * $CUTOVER_LOCK_DIR, else $XDG_RUNTIME_DIR/cutover, else /run/cutover (root),
 * else /tmp/cutover-UID. Rules, because /tmp is shared: the directory is
 * created 0700 and must be ours and writable by nobody else (else refused,
 * CO_ENOPERM); the lock file is opened with O_NOFOLLOW and without O_TRUNC,
 * must be a regular file of ours, and gets our pid only once we hold the
 * lock. The kernel drops the lock when the process dies, so a crash never
 * leaves a VM locked. */
#ifndef CUTOVER_ENGINE_LOCK_H
#define CUTOVER_ENGINE_LOCK_H

#include "util/diag.h"

typedef struct co_lock {
    int fd;            /* -1 when not held */
    char path[512];
} co_lock;

/* Take the lock for vm_id (the driver's identity text) without waiting;
 * l->path is set in every case. CO_OK, CO_EBUSY (held by another process:
 * d names the pid if known), CO_ENOPERM (a directory or file that is not
 * ours, open to others, or a symlink), or CO_EOS / CO_ECANTCREAT. */
int co_lock_take(co_lock *l, const char *vm_id, co_diag *d);
/* Release (idempotent). The file is left for the next user; removing it
 * would race with a process that just opened it. */
void co_lock_release(co_lock *l);

#endif
