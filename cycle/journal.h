/* cycle/journal.h: the cycle's append-only JSONL journal.
 *
 * Owns: the file (--journal PATH): one JSON object per line, each with
 * "seq" (1, 2, ...), "t_ms" (wall clock, ms since the epoch) and "ev" (the
 * record kind; docs/cycle-journal.md lists the kinds);
 * fsync after every record, so a record that was returned CO_OK survives a
 * crash or kill -9; the exclusive lock (flock on the journal, held while a
 * cycle runs, so a second cycle on the same journal is refused); reading it
 * back, where a torn last line (a crash mid-write) is dropped and reported,
 * and any other bad line is CO_EDATA "PATH:LINE: ...". No globals. */
#ifndef CUTOVER_CYCLE_JOURNAL_H
#define CUTOVER_CYCLE_JOURNAL_H

#include <jansson.h>

#include "util/diag.h"

typedef struct co_jrn co_jrn;

/* Open PATH for appending (created 0600 if missing; with resume = 0 it must
 * be missing or empty, so a finished cycle is never overwritten) and take
 * its lock. CO_EBUSY when another process holds it (d names the PID from
 * the lock record when known), CO_ENOPERM / CO_EOS otherwise. The next seq
 * continues after the last valid record.
 * Also: CO_EUSAGE when resume = 0 and the journal is not empty; CO_EDATA
 * ("PATH:LINE: ...") when resuming a journal with a bad line; a torn last
 * line is cut off the file (co_jrn_torn() says so afterwards). Symlinks and
 * files not owned by us are refused (CO_ENOPERM). The fd is close-on-exec,
 * so hooks never inherit the lock. */
int co_jrn_open(const char *path, int resume, co_jrn **out, co_diag *d);

/* 1 when co_jrn_open dropped a torn last line (for the "resume" record). */
int co_jrn_torn(const co_jrn *j);
/* The seq the next record will get (1 for a new journal). */
long long co_jrn_next_seq(const co_jrn *j);

/* Append rec (borrowed; "seq" and "t_ms" are added to it), write one line,
 * fsync. CO_OK or CO_EIO. Thread-safe.
 * (CO_ESOFTWARE when rec has no "ev" string; after CO_EIO the partial line
 * is cut off again, so the file stays readable.) */
int co_jrn_append(co_jrn *j, json_t *rec, co_diag *d);

/* Close (releases the lock). NULL is fine. */
void co_jrn_close(co_jrn *j);

/* Read a journal whole: *out is a JSON array of the records in order
 * (caller owns it); *torn = 1 when a torn last line was dropped. CO_OK,
 * CO_ENOINPUT, CO_EDATA "PATH:LINE: ...". Does not take the lock. */
int co_jrn_read(const char *path, json_t **out, int *torn, co_diag *d);

/* Same over a buffer (fuzz target, tests); name is used in messages. */
int co_jrn_read_buffer(const char *text, size_t len, const char *name, json_t **out, int *torn,
                       co_diag *d);

/* The directory beside the journal for hook logs: "PATH.d" (created 0700).
 * An existing one must be a directory of ours that only we can write
 * (CO_ENOPERM otherwise). */
int co_jrn_dir(const char *path, char *out, size_t len, co_diag *d);

#endif
