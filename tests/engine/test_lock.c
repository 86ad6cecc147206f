/* tests/engine/test_lock.c: the per-VM lock's rules (engine/lock.h).
 *
 * Each test points CUTOVER_LOCK_DIR at a fresh directory under a private
 * mkdtemp one, so tests neither see nor touch a real cutover's locks. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "drivers/drv_qmp.h"
#include "engine/lock.h"
#include "util/error.h"

static char g_top[64], g_locks[128];

static void init(void)
{
    strcpy(g_top, "/tmp/colock-XXXXXX");
    cr_assert_not_null(mkdtemp(g_top));
    snprintf(g_locks, sizeof g_locks, "%s/locks", g_top);
    setenv("CUTOVER_LOCK_DIR", g_locks, 1);
}

static void fini(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", g_top);
    if (system(cmd) != 0) {
        /* best effort */
    }
}

TestSuite(lock, .init = init, .fini = fini, .timeout = 30);

Test(lock, created_0700_and_second_taker_refused)
{
    co_lock a = {.fd = -1}, b = {.fd = -1};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/some/vm.qmp", &d), CO_OK, "%s", d.msg);
    struct stat st;
    cr_assert_eq(stat(g_locks, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "mode %03o", st.st_mode & 0777);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&b, "qmp:/some/vm.qmp", &d), CO_EBUSY);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    cr_assert(strstr(d.msg, pid) != NULL, "names the holder: %s", d.msg);
    co_lock_release(&a);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&b, "qmp:/some/vm.qmp", &d), CO_OK, "free again: %s", d.msg);
    co_lock_release(&b);
}

/* A relative path, the absolute one and a symlink to one QMP socket are one
 * VM: the key is the driver's vm_id. */
Test(lock, two_spellings_of_one_socket_collide)
{
    char sock[100], link[128], cwd[PATH_MAX];
    snprintf(sock, sizeof sock, "%.80s/vm.qmp", g_top);
    snprintf(link, sizeof link, "%s/alias.qmp", g_top);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(symlink(sock, link), 0);
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(g_top), 0);
    char k_rel[PATH_MAX + 8], k_abs[PATH_MAX + 8], k_link[PATH_MAX + 8], k_unix[PATH_MAX + 16];
    char unix_addr[160];
    co_drv_qmp_vm_id("vm.qmp", k_rel, sizeof k_rel);
    co_drv_qmp_vm_id(sock, k_abs, sizeof k_abs);
    co_drv_qmp_vm_id("./alias.qmp", k_link, sizeof k_link);
    snprintf(unix_addr, sizeof unix_addr, "unix:%s", link);
    co_drv_qmp_vm_id(unix_addr, k_unix, sizeof k_unix);
    cr_assert_eq(chdir(cwd), 0);
    close(s);
    cr_assert_str_eq(k_rel, k_abs);
    cr_assert_str_eq(k_link, k_abs);
    cr_assert_str_eq(k_unix, k_abs);
    co_lock a = {.fd = -1}, b = {.fd = -1};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, k_rel, &d), CO_OK, "%s", d.msg);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&b, k_link, &d), CO_EBUSY, "the symlink's spelling collides");
    co_lock_release(&a);
}

/* A symlink planted at the lock file's name is refused and its target left
 * alone (no truncation, no pid written). */
Test(lock, symlinked_lock_file_refused)
{
    co_lock a = {.fd = -1};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "libvirt:qemu:///system#uuid", &d), CO_OK, "%s", d.msg);
    co_lock_release(&a);
    char victim[128];
    snprintf(victim, sizeof victim, "%s/victim", g_top);
    FILE *f = fopen(victim, "w");
    cr_assert_not_null(f);
    fputs("precious\n", f);
    fclose(f);
    cr_assert_eq(unlink(a.path), 0);
    cr_assert_eq(symlink(victim, a.path), 0);
    co_diag_init(&d);
    int rc = co_lock_take(&a, "libvirt:qemu:///system#uuid", &d);
    cr_assert_eq(rc, CO_ENOPERM, "rc %d: %s", rc, d.msg);
    cr_assert(strstr(d.msg, "symlink") != NULL, "%s", d.msg);
    char buf[64] = "";
    f = fopen(victim, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_assert_str_eq(buf, "precious\n", "target untouched");
}

/* Another's file of the same name is neither truncated nor taken. */
Test(lock, foreign_lock_file_refused)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to give a file to another uid");
    co_lock a = {.fd = -1};
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/x.qmp", &d), CO_OK, "%s", d.msg);
    co_lock_release(&a);
    cr_assert_eq(chown(a.path, 4242, 4242), 0);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/x.qmp", &d), CO_ENOPERM, "%s", d.msg);
    struct stat st;
    cr_assert_eq(stat(a.path, &st), 0);
    cr_assert_gt(st.st_size, 0, "not truncated");
}

Test(lock, foreign_or_open_directory_refused)
{
    co_lock a = {.fd = -1};
    co_diag d;
    cr_assert_eq(mkdir(g_locks, 0700), 0);
    cr_assert_eq(chmod(g_locks, 0777), 0);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/x.qmp", &d), CO_ENOPERM, "0777 dir: %s", d.msg);
    cr_assert(strstr(d.msg, "writable by everyone") != NULL, "%s", d.msg);
    cr_assert_eq(chmod(g_locks, 0770), 0);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/x.qmp", &d), CO_ENOPERM, "0770 dir: %s", d.msg);
    cr_assert_eq(chmod(g_locks, 0700), 0);
    /* a symlink to a good directory is not the directory */
    char alias[160];
    snprintf(alias, sizeof alias, "%s/alias", g_top);
    cr_assert_eq(symlink(g_locks, alias), 0);
    setenv("CUTOVER_LOCK_DIR", alias, 1);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/x.qmp", &d), CO_ENOPERM, "symlinked dir: %s", d.msg);
    setenv("CUTOVER_LOCK_DIR", g_locks, 1);
    if (geteuid() != 0)
        cr_skip_test("needs root to give the directory to another uid (the mode checks ran)");
    cr_assert_eq(chown(g_locks, 4242, 4242), 0);
    co_diag_init(&d);
    cr_assert_eq(co_lock_take(&a, "qmp:/x.qmp", &d), CO_ENOPERM, "foreign dir: %s", d.msg);
    cr_assert(strstr(d.msg, "owned by uid 4242") != NULL, "%s", d.msg);
    cr_assert_eq(a.fd, -1);
}
