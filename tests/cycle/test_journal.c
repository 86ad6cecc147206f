/* tests/cycle/test_journal.c: the cycle journal (cycle/journal.h): round
 * trip, torn tail, the lock against a second cycle (another process), kill
 * -9 in the middle of appends, bad lines named PATH:LINE, modes.
 *
 * Each test works in its own mkdtemp directory, removed in .fini. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cycle/journal.h"
#include "util/error.h"

static char g_dir[64], g_path[128];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)remove(p);
    return 0;
}

static void init(void)
{
    strcpy(g_dir, "/tmp/cojrn-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/cycle.jsonl", g_dir);
}

static void fini(void)
{
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(journal, .init = init, .fini = fini, .timeout = 60);

static json_t *rec(const char *ev, const char *host)
{
    json_t *o = json_object();
    json_object_set_new(o, "ev", json_string(ev));
    if (host)
        json_object_set_new(o, "host", json_string(host));
    return o;
}

static void append_ok(co_jrn *j, const char *ev, const char *host)
{
    co_diag d;
    co_diag_init(&d);
    json_t *r = rec(ev, host);
    cr_assert_eq(co_jrn_append(j, r, &d), CO_OK, "%s", d.msg);
    cr_assert(json_is_integer(json_object_get(r, "seq")), "seq added to the record");
    cr_assert(json_is_integer(json_object_get(r, "t_ms")), "t_ms added to the record");
    json_decref(r);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

Test(journal, round_trip)
{
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 0, &j, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_jrn_next_seq(j), 1);
    long long t0 = (long long)time(NULL) * 1000;
    append_ok(j, "cycle_start", NULL);
    append_ok(j, "step_start", "a");
    json_t *r = rec("step_end", "a");
    json_object_set_new(r, "seq", json_integer(99)); /* replaced, not kept */
    json_object_set_new(r, "duration_ms", json_real(12.5));
    json_object_set_new(r, "note", json_string("quote \" newline \n tab \t"));
    cr_assert_eq(co_jrn_append(j, r, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(json_integer_value(json_object_get(r, "seq")), 3);
    json_decref(r);
    co_jrn_close(j);

    json_t *all;
    int torn = -1;
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(torn, 0);
    cr_assert_eq(json_array_size(all), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *o = json_array_get(all, i);
        cr_assert_eq(json_integer_value(json_object_get(o, "seq")), (json_int_t)i + 1);
        long long t = json_integer_value(json_object_get(o, "t_ms"));
        cr_assert(t >= t0 - 1000 && t <= t0 + 60000, "t_ms %lld is wall-clock ms", t);
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 1), "host")), "a");
    json_t *last = json_array_get(all, 2);
    cr_assert_str_eq(json_string_value(json_object_get(last, "ev")), "step_end");
    cr_assert_str_eq(json_string_value(json_object_get(last, "note")),
                     "quote \" newline \n tab \t");
    cr_assert_float_eq(json_number_value(json_object_get(last, "duration_ms")), 12.5, 1e-9);
    json_decref(all);

    /* one line per record, seq first */
    FILE *f = fopen(g_path, "r");
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        cr_assert(strncmp(line, "{\"seq\":", 7) == 0, "line %d: %s", n, line);
    }
    fclose(f);
    cr_assert_eq(n, 3);

    /* resume continues the numbering */
    cr_assert_eq(co_jrn_open(g_path, 1, &j, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_jrn_next_seq(j), 4);
    cr_assert_eq(co_jrn_torn(j), 0);
    append_ok(j, "resume", NULL);
    co_jrn_close(j);
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(json_array_size(all), 4);
    json_decref(all);
}

Test(journal, no_resume_refuses_a_used_journal)
{
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 0, &j, &d), CO_OK, "%s", d.msg);
    append_ok(j, "cycle_start", NULL);
    co_jrn_close(j);
    co_diag_init(&d);
    cr_assert_eq(co_jrn_open(g_path, 0, &j, &d), CO_EUSAGE);
    cr_assert(strstr(d.msg, g_path) && strstr(d.msg, "--resume"), "%s", d.msg);
    /* the file is untouched */
    json_t *all;
    int torn;
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK);
    cr_assert_eq(json_array_size(all), 1);
    json_decref(all);
    /* an empty existing file is fine without --resume */
    char p2[160];
    snprintf(p2, sizeof p2, "%s/empty.jsonl", g_dir);
    write_file(p2, "");
    co_diag_init(&d);
    cr_assert_eq(co_jrn_open(p2, 0, &j, &d), CO_OK, "%s", d.msg);
    co_jrn_close(j);
}

Test(journal, modes_0600_and_dir_0700)
{
    umask(022);
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 0, &j, &d), CO_OK, "%s", d.msg);
    struct stat st;
    cr_assert_eq(stat(g_path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "journal mode %03o", st.st_mode & 0777);
    co_jrn_close(j);
    char dir[256];
    cr_assert_eq(co_jrn_dir(g_path, dir, sizeof dir, &d), CO_OK, "%s", d.msg);
    char want[256];
    snprintf(want, sizeof want, "%s.d", g_path);
    cr_assert_str_eq(dir, want);
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700, "dir mode %03o", st.st_mode & 0777);
    cr_assert_eq(co_jrn_dir(g_path, dir, sizeof dir, &d), CO_OK, "again: %s", d.msg);
    /* a group-writable one is refused */
    chmod(dir, 0770);
    co_diag_init(&d);
    cr_assert_eq(co_jrn_dir(g_path, dir, sizeof dir, &d), CO_ENOPERM);
    cr_assert(strstr(d.msg, "writable"), "%s", d.msg);
}

Test(journal, symlink_refused)
{
    char target[160], link[160];
    snprintf(target, sizeof target, "%s/victim", g_dir);
    snprintf(link, sizeof link, "%s/link.jsonl", g_dir);
    write_file(target, "");
    cr_assert_eq(symlink(target, link), 0);
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(link, 1, &j, &d), CO_ENOPERM);
    cr_assert(strstr(d.msg, "symlink"), "%s", d.msg);
}

Test(journal, torn_tail_dropped_reported_and_cut_on_resume)
{
    write_file(g_path, "{\"seq\":1,\"t_ms\":5,\"ev\":\"cycle_start\"}\n"
                       "{\"seq\":2,\"t_ms\":6,\"ev\":\"step_start\",\"host\":\"a\"}\n"
                       "{\"seq\":3,\"t_ms\":7,\"ev\":\"step_e");
    co_diag d;
    co_diag_init(&d);
    json_t *all;
    int torn = 0;
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(torn, 1);
    cr_assert_eq(json_array_size(all), 2);
    json_decref(all);
    /* a whole record without its newline is torn too: its fsync never returned */
    const char *whole = "{\"seq\":1,\"t_ms\":5,\"ev\":\"cycle_start\"}";
    cr_assert_eq(co_jrn_read_buffer(whole, strlen(whole), "w", &all, &torn, &d), CO_OK);
    cr_assert_eq(torn, 1);
    cr_assert_eq(json_array_size(all), 0);
    json_decref(all);

    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 1, &j, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(co_jrn_torn(j), 1);
    cr_assert_eq(co_jrn_next_seq(j), 3);
    append_ok(j, "resume", NULL);
    co_jrn_close(j);
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(torn, 0);
    cr_assert_eq(json_array_size(all), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 2), "ev")), "resume");
    json_decref(all);
}

static void expect_bad(const char *text, const char *want)
{
    co_diag d;
    co_diag_init(&d);
    json_t *all = (json_t *)1;
    int torn;
    int rc = co_jrn_read_buffer(text, strlen(text), "j.jsonl", &all, &torn, &d);
    cr_assert_eq(rc, CO_EDATA, "rc %d for: %s", rc, text);
    cr_assert_null(all);
    cr_assert(strstr(d.msg, want) != NULL, "message '%s' lacks '%s'", d.msg, want);
}

#define L1 "{\"seq\":1,\"t_ms\":5,\"ev\":\"cycle_start\"}\n"
#define L3 "{\"seq\":3,\"t_ms\":7,\"ev\":\"step_end\"}\n"

Test(journal, bad_lines_named_with_line_numbers)
{
    expect_bad(L1 "{\"seq\":2,\"t_ms\":6,\"ev\":\n" L3, "j.jsonl:2: JSON syntax");
    expect_bad(L1 L3, "j.jsonl:2: seq: 3 where 2 was expected");
    expect_bad(L1 "{\"seq\":2,\"t_ms\":6}\n", "j.jsonl:2: ev: missing");
    expect_bad(L1 "{\"seq\":2,\"ev\":\"x\"}\n", "j.jsonl:2: t_ms: missing");
    expect_bad(L1 "{\"t_ms\":6,\"ev\":\"x\"}\n", "j.jsonl:2: seq: missing");
    expect_bad(L1 "\n" L3, "j.jsonl:2: empty line");
    expect_bad(L1 "[1,2]\n", "j.jsonl:2: expected a JSON object");
    expect_bad("{\"seq\":1,\"seq\":1,\"t_ms\":5,\"ev\":\"x\"}\n", "j.jsonl:1: JSON syntax");
    expect_bad(L1 "{\"seq\":2,\"t_ms\":6,\"ev\":\"x\"} trailing\n", "j.jsonl:2: JSON syntax");
    /* a bad last line WITH its newline is not torn: it was written whole */
    expect_bad(L1 "{\"seq\":2,\"t_ms\":6,\"ev\":\"x\"\n", "j.jsonl:2:");
    /* resume refuses it, naming the line */
    write_file(g_path, L1 L3);
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 1, &j, &d), CO_EDATA);
    char want[200];
    snprintf(want, sizeof want, "%s:2: seq", g_path);
    cr_assert(strstr(d.msg, want), "%s", d.msg);
}

Test(journal, missing_file_is_noinput)
{
    co_diag d;
    co_diag_init(&d);
    json_t *all;
    int torn;
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_ENOINPUT);
    cr_assert(strstr(d.msg, g_path), "%s", d.msg);
}

/* A child that opens the journal, says so on a pipe, then waits to be killed. */
static pid_t holder(int resume)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        co_diag d;
        co_diag_init(&d);
        co_jrn *j;
        char c = co_jrn_open(g_path, resume, &j, &d) == CO_OK ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    cr_assert_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    if (c != 'y') {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cr_assert_fail("the child could not open the journal");
    }
    return pid;
}

Test(journal, second_cycle_refused_while_held)
{
    pid_t pid = holder(0);
    co_diag d;
    co_diag_init(&d);
    co_jrn *j = NULL;
    int rc = co_jrn_open(g_path, 1, &j, &d);
    char want[32];
    snprintf(want, sizeof want, "pid %ld", (long)pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(rc, CO_EBUSY, "rc %d: %s", rc, d.msg);
    cr_assert_null(j);
    cr_assert(strstr(d.msg, want) && strstr(d.msg, g_path), "names holder and path: %s", d.msg);
    /* the holder died: the lock went with it */
    co_diag_init(&d);
    cr_assert_eq(co_jrn_open(g_path, 1, &j, &d), CO_OK, "%s", d.msg);
    /* and in one process, a second open of the same journal is refused too */
    co_jrn *k = NULL;
    co_diag_init(&d);
    cr_assert_eq(co_jrn_open(g_path, 1, &k, &d), CO_EBUSY, "%s", d.msg);
    co_jrn_close(j);
}

/* kill -9 of a writer at random points of a loop of appends, again and
 * again: the journal always reads back, seqs consecutive, and the next
 * writer continues it. */
Test(journal, kill_9_in_a_loop_of_appends_leaves_a_readable_journal)
{
    srand((unsigned)getpid());
    long long last = 0;
    for (int round = 0; round < 8; round++) {
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            co_diag d;
            co_diag_init(&d);
            co_jrn *j;
            if (co_jrn_open(g_path, 1, &j, &d) != CO_OK)
                _exit(3);
            char c = 'y';
            if (write(p[1], &c, 1) != 1)
                _exit(2);
            for (int i = 0;; i++) {
                json_t *r = json_object();
                json_object_set_new(r, "ev", json_string("mig_end"));
                json_object_set_new(r, "vm", json_string("vm-with-a-longer-name-0123456789"));
                json_object_set_new(r, "round", json_integer(round));
                json_object_set_new(r, "i", json_integer(i));
                if (co_jrn_append(j, r, &d) != CO_OK)
                    _exit(4);
                json_decref(r);
            }
        }
        close(p[1]);
        char c = 0;
        ssize_t k = read(p[0], &c, 1);
        close(p[0]);
        struct timespec ts = {0, (long)(2 + rand() % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        cr_assert_eq(k, 1, "round %d: the writer could not open (status %d)", round, st);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "round %d: writer exited %d",
                  round, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        co_diag d;
        co_diag_init(&d);
        json_t *all;
        int torn;
        cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK, "round %d: %s", round, d.msg);
        long long n = (long long)json_array_size(all);
        cr_assert(n >= last, "round %d: %lld records, had %lld", round, n, last);
        last = n;
        json_decref(all);
    }
    cr_assert(last > 0, "some records were written");
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 1, &j, &d), CO_OK, "%s", d.msg);
    cr_assert(co_jrn_next_seq(j) == last + 1);
    co_jrn_close(j);
}

static void *appender(void *arg)
{
    co_jrn *j = arg;
    for (int i = 0; i < 100; i++) {
        json_t *r = rec("step_start", "t");
        co_diag d;
        co_diag_init(&d);
        if (co_jrn_append(j, r, &d) != CO_OK)
            return (void *)1;
        json_decref(r);
    }
    return NULL;
}

Test(journal, appends_from_threads_stay_whole_and_in_order)
{
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 0, &j, &d), CO_OK, "%s", d.msg);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, appender, j);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r);
    }
    co_jrn_close(j);
    json_t *all;
    int torn;
    cr_assert_eq(co_jrn_read(g_path, &all, &torn, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(json_array_size(all), 300);
    json_decref(all);
}

Test(journal, record_without_ev_refused)
{
    co_diag d;
    co_diag_init(&d);
    co_jrn *j;
    cr_assert_eq(co_jrn_open(g_path, 0, &j, &d), CO_OK, "%s", d.msg);
    json_t *r = json_object();
    cr_assert_eq(co_jrn_append(j, r, &d), CO_ESOFTWARE);
    json_decref(r);
    cr_assert_eq(co_jrn_next_seq(j), 1);
    co_jrn_close(j);
}
