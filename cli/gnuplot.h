/* cli/gnuplot.h: the one way cutover runs gnuplot (tune --plot, simulate
 * --plot-gantt / --plot-stun).
 *
 * Owns: finding gnuplot, a private data directory, and running gnuplot so
 * that no text from the user or from input files reaches it as code:
 *  - gnuplot starts with fork + execvp, no shell. CUTOVER_GNUPLOT, when set,
 *    is the program, taken whole as argv[0] (never split or quoted for a
 *    shell); else "gnuplot" from PATH.
 *  - the script goes to gnuplot's stdin through a pipe; the caller writes it
 *    without `set output`: gnuplot then writes the image to its stdout, which
 *    is the output file cutover opened itself. The output path never appears
 *    in a script, so quotes, backquotes or `system(...)` in it are just
 *    characters of a file name.
 *  - data files live in a mkdtemp directory cutover creates; their names are
 *    cutover's and reach the script through co_gp_quote.
 *  - any other text a script must show (host names from a cluster file) goes
 *    through co_gp_quote: a single-quoted gnuplot string, where gnuplot
 *    expands neither backquotes nor escapes (a quote is doubled); control
 *    characters are refused.
 * gnuplot's stderr is kept in the private directory and its first line is
 * quoted in the error when it fails. */
#ifndef CUTOVER_CLI_GNUPLOT_H
#define CUTOVER_CLI_GNUPLOT_H

#include <stddef.h>
#include <stdio.h>

#include "util/diag.h"

typedef struct co_gp co_gp;

/* Find the gnuplot program (CUTOVER_GNUPLOT or PATH) without running it, so
 * a command can refuse before doing its work. CO_OK, or CO_EUNAVAIL with d
 * saying "gnuplot not found ..." (and how to install it). */
int co_gp_find(co_diag *d);

/* Make the private data directory. CO_OK and *out (free with co_gp_close),
 * or CO_EUNAVAIL (no gnuplot) / CO_EOS. */
int co_gp_open(co_gp **out, co_diag *d);

/* Create data file NAME ([a-z0-9_.] only) in the private directory: returns
 * a FILE to write (the caller fcloses it) and the file's name as a quoted
 * gnuplot string in quoted (qlen bytes), or NULL with d set. */
FILE *co_gp_data(co_gp *g, const char *name, char *quoted, size_t qlen, co_diag *d);

/* Write text as a single-quoted gnuplot string into buf. CO_OK, CO_EDATA
 * (a control character: d names what) or CO_ERANGE (buf too small). what
 * names the text for the message ("host name"). */
int co_gp_quote(const char *text, const char *what, char *buf, size_t len, co_diag *d);

/* Run gnuplot on script (no `set output`), its image going to out_path
 * (created or truncated by cutover, 0666 less umask; removed again if
 * gnuplot fails). CO_OK, CO_ECANTCREAT (out_path), CO_EUNAVAIL (gnuplot
 * would not start), CO_EIO (gnuplot failed: d quotes its first error
 * line). */
int co_gp_render(co_gp *g, const char *script, const char *out_path, co_diag *d);

/* The colour of a patch-cycle step (CO_STEP_* of sim/sim.h) in both Gantt
 * charts (simulate --plot-gantt, cycle --timeline --plot-gantt): 0xRRGGBB,
 * one distinct colour per step (Paul Tol's muted scheme), so a chart's key
 * names each bar exactly. */
unsigned co_gp_step_rgb(int step);

/* Append to buf (len bytes, NUL-terminated already) the key of a Gantt
 * chart: for each step with used[step] nonzero, a plot clause
 * ", NaN with lines lw W lc rgb '#RRGGBB' title 'name'" (nothing is drawn,
 * the key shows the colour). nsteps is the length of used. CO_OK or
 * CO_ERANGE (buf too small, d says so). */
int co_gp_step_key(char *buf, size_t len, const unsigned char *used, int nsteps, int lw,
                   co_diag *d);

/* Remove the data files and the directory; free g (NULL is fine). */
void co_gp_close(co_gp *g);

#endif
