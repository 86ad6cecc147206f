/* cli/cmd_tune.c: `cutover tune`, the MTU x channels x downtime-limit sweep. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gnuplot.h"
#include "cli/model_args.h"
#include "model/tune.h"
#include "util/units.h"

static json_t *tune_json(const co_model_args *a, const co_tune_grid *g, const co_tune_row *rows,
                         const co_tune_result *t)
{
    json_t *j = json_object();
    json_t *arr = json_array();
    for (int i = 0; i < t->n_rows; i++) {
        const co_tune_row *r = &rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "mtu", json_integer(r->mtu));
        json_object_set_new(o, "channels", json_integer(r->channels));
        json_object_set_new(o, "downtime_limit_ms", json_real(r->downtime_limit_ms));
        json_object_set_new(o, "converged", json_boolean(r->converged));
        json_object_set_new(o, "fits", json_boolean(r->fits));
        json_object_set_new(o, "total_time_ms",
                            r->converged ? json_real(r->total_time_ms) : json_null());
        json_object_set_new(o, "downtime_ms", r->converged ? json_real(r->downtime_ms) : json_null());
        json_object_set_new(o, "transferred_bytes", json_real(r->transferred_bytes));
        json_object_set_new(o, "bandwidth_bps", json_real(r->bandwidth_bps));
        json_object_set_new(o, "bound", json_string(co_link_bound_key(r->bound)));
        json_array_append_new(arr, o);
    }
    json_object_set_new(j, "rows", arr);
    if (t->best >= 0) {
        const co_tune_row *b = &rows[t->best];
        json_t *rec = json_object();
        json_object_set_new(rec, "mtu", json_integer(b->mtu));
        json_object_set_new(rec, "channels", json_integer(b->channels));
        json_object_set_new(rec, "downtime_limit_ms", json_real(b->downtime_limit_ms));
        json_object_set_new(rec, "total_time_ms", json_real(b->total_time_ms));
        json_object_set_new(rec, "downtime_ms", json_real(b->downtime_ms));
        json_object_set_new(rec, "transferred_bytes", json_real(b->transferred_bytes));
        json_object_set_new(j, "recommended", rec);
    } else {
        json_object_set_new(j, "recommended", json_null());
    }
    json_object_set_new(j, "why", json_string(t->why));
    json_object_set_new(j, "max_downtime_ms",
                        a->max_downtime_ms > 0 ? json_real(a->max_downtime_ms) : json_null());
    json_object_set_new(j, "deadline_ms", a->deadline_ms > 0 ? json_real(a->deadline_ms) : json_null());
    (void)g;
    return j;
}

static void print_csv(const co_tune_row *rows, const co_tune_result *t)
{
    printf("mtu,channels,downtime_limit_ms,converged,fits,total_time_ms,downtime_ms,"
           "transferred_bytes,bandwidth_bps,bound\n");
    for (int i = 0; i < t->n_rows; i++) {
        const co_tune_row *r = &rows[i];
        printf("%d,%d,%.0f,%d,%d,%.1f,%.1f,%.0f,%.0f,%s\n", r->mtu, r->channels,
               r->downtime_limit_ms, r->converged, r->fits, r->converged ? r->total_time_ms : NAN,
               r->converged ? r->downtime_ms : NAN, r->transferred_bytes, r->bandwidth_bps,
               co_link_bound_key(r->bound));
    }
}

static void print_text(const co_model_args *a, const co_tune_grid *g, const co_tune_row *rows,
                       const co_tune_result *t)
{
    char b1[64], b2[64], b3[64];
    printf("VM %s, dirty %s, link %s\n", co_fmt_size(a->p.mem_bytes, b1, sizeof b1), a->dirty_spec,
           co_fmt_rate(a->p.link.line_rate_bytes_per_s, b2, sizeof b2));
    printf("budget: downtime %s, deadline %s\n",
           a->max_downtime_ms > 0 ? co_fmt_time(a->max_downtime_ms, b1, sizeof b1) : "none",
           a->deadline_ms > 0 ? co_fmt_time(a->deadline_ms, b2, sizeof b2) : "none");
    printf("\npredicted total time / downtime ('-' = does not converge, '*' = over budget)\n");
    for (int m = 0; m < g->n_mtu; m++) {
        printf("\nMTU %d\n  ch", g->mtu[m]);
        for (int l = 0; l < g->n_limit; l++)
            printf(" | limit %-11s", co_fmt_time(g->downtime_limit_ms[l], b1, sizeof b1));
        printf("\n");
        for (int c = 0; c < g->n_channels; c++) {
            printf("  %2d", g->channels[c]);
            for (int l = 0; l < g->n_limit; l++) {
                int i = (m * g->n_channels + c) * g->n_limit + l;
                const co_tune_row *r = &rows[i];
                if (!r->converged)
                    printf(" | %-17s", "-");
                else {
                    char cell[64];
                    snprintf(cell, sizeof cell, "%s/%s%s%s",
                             co_fmt_time(r->total_time_ms, b1, sizeof b1),
                             co_fmt_time(r->downtime_ms, b2, sizeof b2), r->fits ? "" : "*",
                             i == t->best ? " <" : "");
                    printf(" | %-17s", cell);
                }
            }
            printf("\n");
        }
    }
    printf("\n");
    if (t->best >= 0) {
        const co_tune_row *b = &rows[t->best];
        printf("recommended: --mtu %d --channels %d --downtime-limit %.0fms\n", b->mtu, b->channels,
               b->downtime_limit_ms);
        printf("  total %s, downtime %s, data %s\n", co_fmt_time(b->total_time_ms, b1, sizeof b1),
               co_fmt_time(b->downtime_ms, b2, sizeof b2),
               co_fmt_size(b->transferred_bytes, b3, sizeof b3));
    } else {
        printf("recommended: none fits\n");
    }
    printf("why: %s\n", t->why);
}

/* PNG through gnuplot (cli/gnuplot.h: no shell, the path never in the
 * script): total time against channels, one line per MTU, at the
 * recommended (or the input's) downtime-limit. */
static int plot(const char *png, const co_tune_grid *g, const co_tune_row *rows,
                double limit_ms, co_diag *d)
{
    co_gp *gp = NULL;
    int rc = co_gp_open(&gp, d);
    if (rc != CO_OK)
        return rc;
    char dat[160];
    FILE *f = co_gp_data(gp, "tune.dat", dat, sizeof dat, d);
    if (f == NULL) {
        co_gp_close(gp);
        return d->code;
    }
    for (int m = 0; m < g->n_mtu; m++) {
        fprintf(f, "# MTU %d\n", g->mtu[m]);
        for (int c = 0; c < g->n_channels; c++)
            for (int l = 0; l < g->n_limit; l++) {
                const co_tune_row *r = &rows[(m * g->n_channels + c) * g->n_limit + l];
                if (r->downtime_limit_ms == limit_ms)
                    fprintf(f, "%d %g\n", r->channels,
                            r->converged ? r->total_time_ms / 1000.0 : NAN);
            }
        fprintf(f, "\n\n");
    }
    if (fclose(f) != 0) {
        co_gp_close(gp);
        return co_diag_set(d, CO_EIO, "gnuplot data file: %s", strerror(errno));
    }
    char script[4096];
    int len = snprintf(script, sizeof script,
                       "set terminal pngcairo size 800,500 noenhanced\n"
                       "set title 'cutover tune: predicted total time (downtime-limit %.0f ms)'\n"
                       "set xlabel 'multifd channels'\nset ylabel 'total time (s)'\nset grid\n"
                       "plot ",
                       limit_ms);
    for (int m = 0; m < g->n_mtu && len < (int)sizeof script; m++)
        len += snprintf(script + len, sizeof script - (size_t)len,
                        "%s%s index %d with linespoints title 'MTU %d'", m ? ", " : "", dat, m,
                        g->mtu[m]);
    if (len < (int)sizeof script - 1)
        snprintf(script + len, sizeof script - (size_t)len, "\n");
    rc = co_gp_render(gp, script, png, d);
    co_gp_close(gp);
    return rc;
}

int co_cmd_tune(int argc, char **argv)
{
    co_model_args a;
    co_diag d;
    co_diag_init(&d);
    if (co_model_args_parse(argc, argv, 1, &a, &d) != CO_OK)
        return co_cli_fail("tune", &d);
    if (a.help) {
        printf("usage: cutover tune --mem SIZE [--dirty SPEC] [--link RATE] [--max-downtime TIME]\n"
               "                    [--deadline TIME] [model options] [--csv | --json]\n"
               "                    [--plot FILE.png]\n\n"
               "Sweep MTU (1500, 9000) x multifd channels (1..16) x downtime-limit (50 ms to\n"
               "1 s, up to --max-downtime) with the model, print the predicted total time,\n"
               "downtime and data for each, and recommend the fastest setting that converges\n"
               "within --max-downtime and --deadline, saying why.\n\n"
               "  --max-downtime TIME    downtime budget (default: none)\n"
               "  --deadline TIME        total-time budget (default: none)\n"
               "  --csv                  the whole grid as CSV\n"
               "  --plot FILE.png        total time against channels, per MTU (gnuplot)\n\n%s",
               co_model_args_help());
        return 0;
    }
    if (a.csv && a.json)
        return co_cli_usage("tune", "--csv and --json: choose one");
    co_tune_grid g;
    co_tune_default_grid(&g, a.max_downtime_ms, a.p.downtime_limit_ms);
    size_t n = (size_t)g.n_mtu * g.n_channels * g.n_limit;
    co_tune_row *rows = calloc(n, sizeof *rows);
    if (rows == NULL)
        return 71;
    co_tune_result t;
    if (co_tune_run(&a.p, &g, a.max_downtime_ms, a.deadline_ms, rows, &t) != CO_OK) {
        free(rows);
        co_diag_set(&d, CO_EUSAGE, "inputs out of range");
        return co_cli_fail("tune", &d);
    }
    int rc = 0;
    if (a.plot) {
        double lim = t.best >= 0 ? rows[t.best].downtime_limit_ms : a.p.downtime_limit_ms;
        if (plot(a.plot, &g, rows, lim, &d) != CO_OK) {
            free(rows);
            co_diag_prefix(&d, "--plot");
            return co_cli_fail("tune", &d);
        }
    }
    if (a.json)
        rc = co_cli_emit_json(stdout, tune_json(&a, &g, rows, &t));
    else if (a.csv)
        print_csv(rows, &t);
    else
        print_text(&a, &g, rows, &t);
    free(rows);
    return rc;
}
