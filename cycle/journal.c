/* cycle/journal.c: the cycle's append-only JSONL journal (cycle/journal.h,
 * docs/cycle-journal.md "Guarantees").
 *
 * Durability: each record is one write(2) of a whole line then fsync(2), so
 * after a crash the file holds every record that was returned CO_OK and at
 * most one unfinished line at its end (the torn tail). A write that fails
 * half-way is cut back off (ftruncate to the size before it), so a torn
 * line can never end up in the middle of the file. */
#include "cycle/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* A journal is a few thousand lines; anything this large is not one. */
#define JRN_MAX_BYTES (1u << 30)

struct co_jrn {
    int fd;
    pthread_mutex_t mu;
    long long next_seq;
    off_t size;      /* bytes of whole records in the file */
    int broken;      /* a failed write could not be cut off: refuse more */
    int torn;        /* open() dropped a torn last line */
    char path[4096];
};

/* ------------------------------------------------------------ reading */

static int line_fail(co_diag *d, const char *name, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int line_fail(co_diag *d, const char *name, size_t line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return co_diag_set(d, CO_EDATA, "%s:%zu: %s", name, line, msg);
}

/* Check one line's record: an object with seq (the expected one), t_ms and ev. */
static int check_record(json_t *o, long long want_seq, const char *name, size_t line, co_diag *d)
{
    if (!json_is_object(o))
        return line_fail(d, name, line, "expected a JSON object");
    json_t *seq = json_object_get(o, "seq");
    if (!json_is_integer(seq))
        return line_fail(d, name, line, "seq: missing or not an integer");
    if (json_integer_value(seq) != want_seq)
        return line_fail(d, name, line, "seq: %lld where %lld was expected (a record lost or "
                                         "added)",
                         (long long)json_integer_value(seq), want_seq);
    json_t *t = json_object_get(o, "t_ms");
    if (!json_is_integer(t) || json_integer_value(t) < 0)
        return line_fail(d, name, line, "t_ms: missing or not an integer >= 0");
    json_t *ev = json_object_get(o, "ev");
    if (!json_is_string(ev) || json_string_length(ev) == 0)
        return line_fail(d, name, line, "ev: missing or not a non-empty string");
    return CO_OK;
}

/* Parse text; *valid_len = bytes of whole good lines (where a torn tail
 * starts). */
static int read_buffer(const char *text, size_t len, const char *name, json_t **out, int *torn,
                       size_t *valid_len, co_diag *d)
{
    *out = NULL;
    *torn = 0;
    *valid_len = 0;
    json_t *arr = json_array();
    if (arr == NULL)
        return co_diag_set(d, CO_ENOMEM, "%s: out of memory", name);
    size_t pos = 0, line = 0;
    while (pos < len) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (nl == NULL) {
            /* no newline: the write of this line never finished (the
             * writer's fsync had not returned, so nothing acted on it) */
            *torn = 1;
            break;
        }
        size_t n = (size_t)(nl - (text + pos));
        if (n == 0 || (n == 1 && text[pos] == '\r')) {
            json_decref(arr);
            return line_fail(d, name, line, "empty line");
        }
        json_error_t je;
        json_t *o = json_loadb(text + pos, n, JSON_REJECT_DUPLICATES, &je);
        if (o == NULL) {
            json_decref(arr);
            return line_fail(d, name, line, "JSON syntax at column %d: %s", je.column, je.text);
        }
        int rc = check_record(o, (long long)json_array_size(arr) + 1, name, line, d);
        if (rc != CO_OK || json_array_append_new(arr, o) != 0) {
            if (rc == CO_OK) {
                json_decref(o);
                rc = co_diag_set(d, CO_ENOMEM, "%s: out of memory", name);
            } else {
                json_decref(o);
            }
            json_decref(arr);
            return rc;
        }
        pos += n + 1;
        *valid_len = pos;
    }
    *out = arr;
    return CO_OK;
}

int co_jrn_read_buffer(const char *text, size_t len, const char *name, json_t **out, int *torn,
                       co_diag *d)
{
    size_t valid;
    int t = 0;
    int rc = read_buffer(text, len, name, out, &t, &valid, d);
    if (torn)
        *torn = t;
    return rc;
}

/* Read the whole of fd from offset 0. *buf is malloc'd (NUL-terminated). */
static int slurp_fd(int fd, const char *path, char **buf, size_t *len, co_diag *d)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return co_diag_set(d, CO_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return co_diag_set(d, CO_EDATA, "%s: not a regular file", path);
    if ((uint64_t)st.st_size > JRN_MAX_BYTES)
        return co_diag_set(d, CO_EDATA, "%s: larger than %u MiB: not a journal", path,
                           JRN_MAX_BYTES >> 20);
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = malloc(cap);
    if (b == NULL)
        return co_diag_set(d, CO_ENOMEM, "%s: out of memory", path);
    while (n < cap - 1) {
        ssize_t k = pread(fd, b + n, cap - 1 - n, (off_t)n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            free(b);
            return co_diag_set(d, CO_EIO, "reading %s: %s", path, strerror(e));
        }
        if (k == 0)
            break; /* shrank meanwhile: read what is there */
        n += (size_t)k;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return CO_OK;
}

int co_jrn_read(const char *path, json_t **out, int *torn, co_diag *d)
{
    *out = NULL;
    if (torn)
        *torn = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return co_diag_set(d, errno == ENOENT || errno == EACCES ? CO_ENOINPUT : CO_EIO,
                           "cannot open journal %s: %s", path, strerror(errno));
    char *buf;
    size_t len;
    int rc = slurp_fd(fd, path, &buf, &len, d);
    close(fd);
    if (rc != CO_OK)
        return rc;
    rc = co_jrn_read_buffer(buf, len, path, out, torn, d);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ the lock */

/* The PID holding a flock on (dev, ino), from /proc/locks; 0 if unknown. */
static long lock_holder_proc(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL)
        return 0;
    char line[256];
    long pid = 0;
    while (pid == 0 && fgets(line, sizeof line, f)) {
        /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; "->" lines are waiters */
        char kind[16], adv[16], mode[16];
        long p;
        unsigned maj, min;
        unsigned long long in;
        if (strstr(line, "->") != NULL)
            continue;
        if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", kind, adv, mode, &p, &maj, &min,
                   &in) == 7 &&
            strcmp(kind, "FLOCK") == 0 && maj == major(dev) && min == minor(dev) &&
            in == (unsigned long long)ino)
            pid = p;
    }
    fclose(f);
    return pid;
}

/* The last "pid" any record of the journal names (cycle_start, resume); 0
 * if none. A fallback where /proc/locks is not readable. */
static long lock_holder_journal(int fd, const char *path)
{
    char *buf;
    size_t len;
    co_diag d;
    co_diag_init(&d);
    if (slurp_fd(fd, path, &buf, &len, &d) != CO_OK)
        return 0;
    json_t *arr = NULL;
    int torn;
    size_t valid;
    long pid = 0;
    if (read_buffer(buf, len, path, &arr, &torn, &valid, &d) == CO_OK) {
        for (size_t i = json_array_size(arr); i-- > 0 && pid == 0;) {
            json_t *p = json_object_get(json_array_get(arr, i), "pid");
            if (json_is_integer(p))
                pid = (long)json_integer_value(p);
        }
    }
    json_decref(arr);
    free(buf);
    return pid;
}

/* ------------------------------------------------------------ writing */

/* Make a new file's directory entry durable too (the record is useless if
 * the file itself vanishes with the crash). */
static void fsync_parent(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    int dfd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
}

int co_jrn_open(const char *path, int resume, co_jrn **out, co_diag *d)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return co_diag_set(d, CO_EUSAGE, "journal: no path given");
    if (strlen(path) >= sizeof((co_jrn *)0)->path)
        return co_diag_set(d, CO_EUSAGE, "journal path too long");
    /* O_CLOEXEC: a hook's child must never inherit the fd, or it would keep
     * the lock after we die and block --resume. O_NOFOLLOW: a symlink in a
     * shared directory could point at any file we can write. */
    int created = 0;
    int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        created = fd >= 0;
        if (fd < 0 && errno == EEXIST) /* raced with another creator: open theirs */
            fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        return co_diag_set(d,
                           e == EACCES || e == EPERM || e == ELOOP ? CO_ENOPERM
                           : e == ENOENT || e == ENOTDIR           ? CO_ECANTCREAT
                                                                   : CO_EOS,
                           "journal %s: %s%s", path, strerror(e),
                           e == ELOOP ? " (a symlink: refused)" : "");
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        return co_diag_set(d, CO_ENOPERM, "journal %s is not a regular file of ours: refused",
                           path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            long pid = lock_holder_proc(st.st_dev, st.st_ino);
            if (pid == 0)
                pid = lock_holder_journal(fd, path);
            close(fd);
            if (pid > 0)
                return co_diag_set(d, CO_EBUSY,
                                   "journal %s is held by another cycle (pid %ld): refused "
                                   "while it runs",
                                   path, pid);
            return co_diag_set(d, CO_EBUSY,
                               "journal %s is held by another cycle (pid unknown): refused "
                               "while it runs",
                               path);
        }
        close(fd);
        return co_diag_set(d, CO_EOS, "journal %s: flock: %s", path, strerror(e));
    }
    /* ours from here: read what it holds (after the lock, so no writer is
     * half-way through a line other than one that died) */
    char *buf = NULL;
    size_t len = 0;
    int rc = slurp_fd(fd, path, &buf, &len, d);
    if (rc != CO_OK) {
        close(fd);
        return rc;
    }
    if (len > 0 && !resume) {
        free(buf);
        close(fd);
        return co_diag_set(d, CO_EUSAGE,
                           "journal %s is not empty (a cycle ran with it): continue it with "
                           "--resume, or give another --journal",
                           path);
    }
    json_t *arr = NULL;
    int torn = 0;
    size_t valid = 0;
    rc = read_buffer(buf, len, path, &arr, &torn, &valid, d);
    free(buf);
    if (rc != CO_OK) {
        close(fd);
        return rc;
    }
    long long nrec = (long long)json_array_size(arr);
    json_decref(arr);
    if (torn) {
        /* cut the torn line off, or the next record would follow it on the
         * same line and the file would hold a bad line in its middle */
        if (ftruncate(fd, (off_t)valid) != 0 || fsync(fd) != 0) {
            int e = errno;
            close(fd);
            return co_diag_set(d, CO_EIO, "journal %s: cutting off its torn last line: %s",
                               path, strerror(e));
        }
    }
    co_jrn *j = calloc(1, sizeof *j);
    if (j == NULL) {
        close(fd);
        return co_diag_set(d, CO_ENOMEM, "journal %s: out of memory", path);
    }
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        close(fd);
        return co_diag_set(d, CO_EOS, "journal %s: mutex", path);
    }
    j->fd = fd;
    j->next_seq = nrec + 1;
    j->size = (off_t)valid;
    j->torn = torn;
    snprintf(j->path, sizeof j->path, "%s", path);
    if (created)
        fsync_parent(path);
    *out = j;
    return CO_OK;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The line to write: seq, t_ms first (readable with head/cut), then rec's
 * fields in their order. */
static char *render(json_t *rec, long long seq, long long t)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "seq", json_integer(seq));
    json_object_set_new(o, "t_ms", json_integer(t));
    const char *k;
    json_t *v;
    json_object_foreach(rec, k, v)
        if (strcmp(k, "seq") != 0 && strcmp(k, "t_ms") != 0)
            json_object_set(o, k, v);
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return s;
}

int co_jrn_append(co_jrn *j, json_t *rec, co_diag *d)
{
    json_t *ev = json_object_get(rec, "ev");
    if (!json_is_string(ev) || json_string_length(ev) == 0)
        return co_diag_set(d, CO_ESOFTWARE, "journal %s: a record without \"ev\"", j->path);
    pthread_mutex_lock(&j->mu);
    int rc = CO_OK;
    if (j->broken) {
        rc = co_diag_set(d, CO_EIO, "journal %s: an earlier write failed and could not be "
                                    "undone: no more records",
                         j->path);
        goto out;
    }
    long long t = wall_ms();
    char *line = render(rec, j->next_seq, t);
    size_t n = line ? strlen(line) : 0;
    char *full = line ? realloc(line, n + 2) : NULL;
    if (full == NULL) {
        free(line);
        rc = co_diag_set(d, CO_ENOMEM, "journal %s: out of memory", j->path);
        goto out;
    }
    full[n] = '\n';
    full[n + 1] = '\0';
    n++;
    size_t done = 0;
    int e = 0;
    while (done < n) {
        ssize_t k = write(j->fd, full + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            e = k < 0 ? errno : EIO;
            break;
        }
        done += (size_t)k;
    }
    free(full);
    if (e == 0 && fsync(j->fd) != 0)
        e = errno;
    if (e != 0) {
        /* undo a partial line; if that fails too, stop writing: a record
         * after it would make the torn line a bad line in the middle */
        if (ftruncate(j->fd, j->size) != 0)
            j->broken = 1;
        rc = co_diag_set(d, CO_EIO, "journal %s: writing record %lld: %s", j->path,
                         j->next_seq, strerror(e));
        goto out;
    }
    j->size += (off_t)n;
    json_object_set_new(rec, "seq", json_integer(j->next_seq));
    json_object_set_new(rec, "t_ms", json_integer(t));
    j->next_seq++;
out:
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void co_jrn_close(co_jrn *j)
{
    if (j == NULL)
        return;
    flock(j->fd, LOCK_UN);
    close(j->fd);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

int co_jrn_torn(const co_jrn *j)
{
    return j ? j->torn : 0;
}

long long co_jrn_next_seq(const co_jrn *j)
{
    return j ? j->next_seq : 0;
}

int co_jrn_dir(const char *path, char *out, size_t len, co_diag *d)
{
    if (snprintf(out, len, "%s.d", path) >= (int)len)
        return co_diag_set(d, CO_EUSAGE, "journal path %s too long", path);
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return co_diag_set(d, errno == EACCES ? CO_ENOPERM : CO_ECANTCREAT, "%s: %s", out,
                           strerror(errno));
    /* it may have existed: it must be our directory, not a symlink, and
     * nobody else may write to it (hook logs land there) */
    struct stat st;
    if (lstat(out, &st) != 0)
        return co_diag_set(d, CO_EOS, "%s: %s", out, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return co_diag_set(d, CO_ENOPERM, "%s is not a directory (%s): refused", out,
                           S_ISLNK(st.st_mode) ? "a symlink" : "another kind of file");
    if (st.st_uid != geteuid())
        return co_diag_set(d, CO_ENOPERM, "%s is owned by uid %u, not by us: refused", out,
                           (unsigned)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return co_diag_set(d, CO_ENOPERM, "%s is writable by %s (mode %03o): refused", out,
                           st.st_mode & S_IWOTH ? "everyone" : "its group",
                           (unsigned)(st.st_mode & 0777));
    return CO_OK;
}
