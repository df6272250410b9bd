/* Reports from one or several results trees: Markdown, CSV and LaTeX tables
 * (report.md, report.csv, report.tex) and, through report_plots.c, gnuplot
 * plots. Formats are described in impl/report/README.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/util.h"
#include "report/report_internal.h"
#include "report/report_plots.h"

/* Significant digits in tables meant for reading (CSV keeps 17). */
#define RP_MEAN_DIGITS 4
#define RP_STD_DIGITS 3
/* Reference rows per column of one table. */
#define RP_MAX_REFS 32
/* A method's phases are disjoint parts of its run (results/README.md), so
 * their medians add up to about the run's median at most; summed over
 * items that differ they may exceed it a little. Beyond this they overlap
 * (thread or CPU seconds, or several views of one time), and shares of
 * their sum would mislead. */
#define RP_PHASES_OVER_RUN_RTOL 0.1

typedef struct report_ctx {
    const rp_set *set;
    const mrb_report_opts *opts;
    rp_buf md, csv, tex;
    /* columns: (dataset, sampling) pairs that hold at least one case */
    const rp_case **cols;
    size_t ncols;
} report_ctx;

static void csv_row_start(report_ctx *x, const char *table, const char *source, const char *method, const rp_case *col,
                          const char *item, const char *metric)
{
    rp_csv_cell(&x->csv, table);
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, source);
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, method);
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, col ? col->dataset : "");
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, col ? col->sampling : "");
    rp_printf(&x->csv, ",");
    if (col) rp_num_text(&x->csv, col->acceleration, 17);
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, item);
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, metric);
}

/* n,n_nan,mean,std,median,q1,q3,min,max,speedup,citation */
static void csv_summary(report_ctx *x, const cJSON *s, double speedup, const char *citation)
{
    static const char *keys[] = {"n", "n_nan", "mean", "std", "median", "q1", "q3", "min", "max"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        rp_printf(&x->csv, ",");
        double v = rp_num(s, keys[i]);
        if (!isnan(v) || rp_get(s, keys[i])) rp_num_text(&x->csv, v, 17);
    }
    rp_printf(&x->csv, ",");
    if (!isnan(speedup)) rp_num_text(&x->csv, speedup, 17);
    rp_printf(&x->csv, ",");
    rp_csv_cell(&x->csv, citation);
    rp_printf(&x->csv, "\n");
}

static void column_heading(rp_buf *b, const rp_case *col, int tex)
{
    if (tex) {
        rp_tex_cell(b, col->dataset);
        rp_printf(b, " $R=%g$ (", col->acceleration);
        rp_tex_cell(b, col->sampling);
        rp_printf(b, ")");
    } else {
        rp_md_cell(b, col->dataset);
        rp_printf(b, " R=%g (", col->acceleration);
        rp_md_cell(b, col->sampling);
        rp_printf(b, ")");
    }
}

/* Reference entries of a table: distinct rows (citation + method) and, per
 * column, the entry to show. */
typedef struct ref_rows {
    const cJSON *row[RP_MAX_REFS]; /* first entry of each row */
    size_t nrows;
    const cJSON **cell; /* nrows x ncols */
} ref_rows;

static int same_ref_row(const cJSON *a, const cJSON *b)
{
    return strcmp(rp_str(a, "citation"), rp_str(b, "citation")) == 0 &&
           strcmp(rp_str(a, "method"), rp_str(b, "method")) == 0;
}

static void refs_collect(report_ctx *x, const cJSON *def, const char *metric, ref_rows *rr)
{
    memset(rr, 0, sizeof *rr);
    if (!x->opts->published || x->ncols == 0) return;
    rr->cell = calloc(RP_MAX_REFS * x->ncols, sizeof *rr->cell);
    if (!rr->cell) return;
    for (size_t c = 0; c < x->ncols; c++) {
        const cJSON *m[RP_MAX_REFS];
        size_t nm = rp_published_match(x->opts->published, x->cols[c], def, metric, m, RP_MAX_REFS);
        for (size_t i = 0; i < nm; i++) {
            size_t r = 0;
            while (r < rr->nrows && !same_ref_row(rr->row[r], m[i])) r++;
            if (r == rr->nrows) {
                if (rr->nrows == RP_MAX_REFS) continue;
                rr->row[rr->nrows++] = m[i];
            }
            if (!rr->cell[r * x->ncols + c]) rr->cell[r * x->ncols + c] = m[i];
        }
    }
}

static void ref_label(rp_buf *b, const cJSON *e, int tex)
{
    char text[512];
    snprintf(text, sizeof text, "%s [%s]", rp_str(e, "method"), rp_str(e, "short"));
    if (tex) {
        rp_printf(b, "\\textit{");
        rp_tex_cell(b, text);
        rp_printf(b, "}$^\\dagger$");
    } else {
        rp_printf(b, "*");
        rp_md_cell(b, text);
        rp_printf(b, "* (published, not measured here)");
    }
}

static void ref_value(rp_buf *b, const cJSON *e, int tex)
{
    double v = rp_num(e, "value"), s = rp_num(e, "std");
    if (tex)
        rp_printf(b, "\\textit{");
    else
        rp_printf(b, "*");
    rp_num_text(b, v, RP_MEAN_DIGITS);
    if (!isnan(s)) {
        rp_printf(b, " (");
        rp_num_text(b, s, RP_STD_DIGITS);
        rp_printf(b, ")");
    }
    if (tex)
        rp_printf(b, "}");
    else
        rp_printf(b, "*");
}

static void refs_footnotes(report_ctx *x, const ref_rows *rr)
{
    if (rr->nrows == 0) return;
    rp_printf(&x->md,
              "\nReference rows (italic) are published numbers, not measured here; they are shown where the "
              "suite's data set, acceleration and metric match the publication's setting (impl/report/README.md):\n");
    for (size_t r = 0; r < rr->nrows; r++) {
        const cJSON *e = rr->row[r];
        rp_printf(&x->md, "- %s [%s]: %s, %s; ", rp_str(e, "method"), rp_str(e, "short"), rp_str(e, "citation"),
                  rp_str(e, "table"));
        /* The settings of the entries shown in this row, each once. */
        for (size_t c = 0, shown = 0; c < x->ncols; c++) {
            const cJSON *ce = rr->cell[r * x->ncols + c];
            int seen = !ce;
            for (size_t k = 0; k < c && !seen; k++) {
                const cJSON *pe = rr->cell[r * x->ncols + k];
                seen = pe && strcmp(rp_str(pe, "setting"), rp_str(ce, "setting")) == 0;
            }
            if (!seen) rp_printf(&x->md, "%s%s", shown++ ? " / " : "", rp_str(ce, "setting"));
        }
        rp_printf(&x->md, ". ");
        if (!isnan(rp_num(e, "n"))) rp_printf(&x->md, "n = %g. ", rp_num(e, "n"));
        rp_printf(&x->md, "%s\n", rp_str(e, "notes"));
    }
}

static void refs_csv(report_ctx *x, const ref_rows *rr, const char *table, const char *metric)
{
    for (size_t r = 0; r < rr->nrows; r++)
        for (size_t c = 0; c < x->ncols; c++) {
            const cJSON *e = rr->cell[r * x->ncols + c];
            if (!e) continue;
            char label[512];
            snprintf(label, sizeof label, "%s [%s]", rp_str(e, "method"), rp_str(e, "short"));
            csv_row_start(x, table, "published", label, x->cols[c], "", metric);
            rp_printf(&x->csv, ",");
            rp_num_text(&x->csv, rp_num(e, "n"), 17);
            rp_printf(&x->csv, ",,");
            rp_num_text(&x->csv, rp_num(e, "value"), 17);
            rp_printf(&x->csv, ",");
            if (!isnan(rp_num(e, "std"))) rp_num_text(&x->csv, rp_num(e, "std"), 17);
            rp_printf(&x->csv, ",,,,,,,");
            rp_csv_cell(&x->csv, rp_str(e, "citation"));
            rp_printf(&x->csv, "\n");
        }
}

/* Closes a measured table: the published reference rows (Markdown and
 * LaTeX, marked as not measured here), the LaTeX footer, their CSV rows and
 * footnotes; frees rr. */
static void refs_finish_table(report_ctx *x, ref_rows *rr, const char *table, const char *metric)
{
    if (rr->nrows) rp_printf(&x->tex, "\\midrule\n");
    for (size_t r = 0; r < rr->nrows; r++) {
        rp_printf(&x->md, "| ");
        ref_label(&x->md, rr->row[r], 0);
        rp_printf(&x->md, " |");
        ref_label(&x->tex, rr->row[r], 1);
        for (size_t c = 0; c < x->ncols; c++) {
            const cJSON *e = rr->cell[r * x->ncols + c];
            rp_printf(&x->md, " ");
            rp_printf(&x->tex, " & ");
            if (e) {
                ref_value(&x->md, e, 0);
                ref_value(&x->tex, e, 1);
            }
            rp_printf(&x->md, " |");
        }
        rp_printf(&x->md, "\n");
        rp_printf(&x->tex, " \\\\\n");
    }
    rp_printf(&x->tex, "\\bottomrule\n\\end{tabular}\n\\end{table}\n\n");
    refs_csv(x, rr, table, metric);
    refs_footnotes(x, rr);
    rp_printf(&x->md, "\n");
    free(rr->cell);
    rr->cell = NULL;
}

static void metric_table(report_ctx *x, const char *metric)
{
    const rp_set *set = x->set;
    const cJSON *def = rp_set_metric_def(set, metric);
    const char *unit = rp_str(def, "unit");
    rp_printf(&x->md, "## %s%s%s%s, mean (std) over items\n\n", metric, unit[0] ? " (" : "", unit, unit[0] ? ")" : "");
    if (def)
        rp_printf(&x->md, "%s; %s is better.\n\n", rp_str(def, "definition"),
                  rp_higher_is_better(def) ? "higher" : "lower");
    ref_rows rr;
    refs_collect(x, def, metric, &rr);

    rp_printf(&x->md, "| method |");
    for (size_t c = 0; c < x->ncols; c++) {
        rp_printf(&x->md, " ");
        column_heading(&x->md, x->cols[c], 0);
        rp_printf(&x->md, " |");
    }
    rp_printf(&x->md, "\n|---|");
    for (size_t c = 0; c < x->ncols; c++) rp_printf(&x->md, "---:|");
    rp_printf(&x->md, "\n");

    rp_printf(&x->tex, "\\begin{table}[ht]\n\\centering\n\\caption{");
    rp_tex_cell(&x->tex, metric);
    if (unit[0]) {
        rp_printf(&x->tex, " (");
        rp_tex_cell(&x->tex, unit);
        rp_printf(&x->tex, ")");
    }
    rp_printf(&x->tex, ", mean (std) over items%s}\n\\begin{tabular}{l",
              rr.nrows ? "; $^\\dagger$ published, not measured here" : "");
    for (size_t c = 0; c < x->ncols; c++) rp_printf(&x->tex, "r");
    rp_printf(&x->tex, "}\n\\toprule\nmethod");
    for (size_t c = 0; c < x->ncols; c++) {
        rp_printf(&x->tex, " & ");
        column_heading(&x->tex, x->cols[c], 1);
    }
    rp_printf(&x->tex, " \\\\\n\\midrule\n");

    for (size_t k = 0; k < set->nlabels; k++) {
        const char *label = set->labels[k];
        rp_printf(&x->md, "| ");
        rp_md_cell(&x->md, label);
        rp_printf(&x->md, " |");
        rp_tex_cell(&x->tex, label);
        for (size_t c = 0; c < x->ncols; c++) {
            const rp_case *rc = rp_set_find(set, label, x->cols[c]->dataset, x->cols[c]->sampling);
            const cJSON *mj = rc ? rp_get2(rc->c, "metrics", metric) : NULL;
            rp_printf(&x->tex, " & ");
            if (!rc) {
                rp_printf(&x->md, " |");
                continue;
            }
            if (!rc->ok) {
                rp_printf(&x->md, " failed |");
                rp_printf(&x->tex, "failed");
                continue;
            }
            if (!mj) {
                rp_printf(&x->md, " |");
                continue;
            }
            rp_printf(&x->md, " ");
            rp_num_text(&x->md, rp_num(mj, "mean"), RP_MEAN_DIGITS);
            rp_printf(&x->md, " (");
            rp_num_text(&x->md, rp_num(mj, "std"), RP_STD_DIGITS);
            rp_printf(&x->md, ")");
            rp_num_text(&x->tex, rp_num(mj, "mean"), RP_MEAN_DIGITS);
            rp_printf(&x->tex, " (");
            rp_num_text(&x->tex, rp_num(mj, "std"), RP_STD_DIGITS);
            rp_printf(&x->tex, ")");
            double nn = rp_num(mj, "n_nan");
            if (nn > 0) {
                rp_printf(&x->md, " [%g NaN]", nn);
                rp_printf(&x->tex, " [%g NaN]", nn);
            }
            rp_printf(&x->md, " |");
            csv_row_start(x, "metric", "measured", label, rc, "", metric);
            csv_summary(x, mj, NAN, "");
        }
        rp_printf(&x->md, "\n");
        rp_printf(&x->tex, " \\\\\n");
    }
    refs_finish_table(x, &rr, "metric", metric);
}

/* One table per (metric, column): a row per item, a column per method. */
static void per_case_tables(report_ctx *x, const char *metric)
{
    const rp_set *set = x->set;
    for (size_t c = 0; c < x->ncols; c++) {
        const rp_case *col = x->cols[c];
        rp_printf(&x->md, "### %s per item: %s R=%g (%s)\n\n| item |", metric, col->dataset, col->acceleration,
                  col->sampling);
        const rp_case *present[256];
        size_t np = 0;
        for (size_t k = 0; k < set->nlabels && np < 256; k++) {
            const rp_case *rc = rp_set_find(set, set->labels[k], col->dataset, col->sampling);
            if (rc && rc->ok) {
                present[np++] = rc;
                rp_printf(&x->md, " ");
                rp_md_cell(&x->md, rc->label);
                rp_printf(&x->md, " |");
            }
        }
        rp_printf(&x->md, "\n|---|");
        for (size_t k = 0; k < np; k++) rp_printf(&x->md, "---:|");
        rp_printf(&x->md, "\n");
        /* Items in the order of the first present case. */
        const cJSON *it;
        if (np)
            cJSON_ArrayForEach(it, rp_get(present[0]->c, "items")) {
                const char *id = rp_str(it, "id");
                rp_printf(&x->md, "| ");
                rp_md_cell(&x->md, id);
                rp_printf(&x->md, " |");
                for (size_t k = 0; k < np; k++) {
                    const cJSON *jt, *found = NULL;
                    cJSON_ArrayForEach(jt, rp_get(present[k]->c, "items"))
                        if (strcmp(rp_str(jt, "id"), id) == 0) found = jt;
                    const cJSON *v = rp_get2(found, "metrics", metric);
                    rp_printf(&x->md, " ");
                    if (v) rp_num_text(&x->md, cJSON_IsNumber(v) ? v->valuedouble : NAN, RP_MEAN_DIGITS + 2);
                    rp_printf(&x->md, " |");
                    if (v) {
                        csv_row_start(x, "per_item", "measured", present[k]->label, col, id, metric);
                        rp_printf(&x->csv, ",1,%d,", cJSON_IsNumber(v) ? 0 : 1);
                        rp_num_text(&x->csv, cJSON_IsNumber(v) ? v->valuedouble : NAN, 17);
                        rp_printf(&x->csv, ",,,,,,,,\n");
                    }
                }
                rp_printf(&x->md, "\n");
            }
        rp_printf(&x->md, "\n");
    }
}

/* The methods' own time splits (timing.phases_s), one row per case that has
 * one: median seconds per phase and its share of the phases' total; no
 * shares, and a note, when the phases add up to more than the run. */
static void phases_table(report_ctx *x)
{
    const rp_set *set = x->set;
    int any = 0;
    for (size_t k = 0; k < set->ncases; k++) {
        const rp_case *rc = &set->cases[k];
        const cJSON *ph = rc->ok ? rp_get2(rc->c, "timing", "phases_s") : NULL;
        if (!cJSON_IsObject(ph) || !ph->child) continue;
        if (!any) {
            rp_printf(&x->md, "## Time split reported by the methods (s, median over items; share of the split)\n\n"
                              "| method | dataset | sampling | phases |\n|---|---|---|---|\n");
            any = 1;
        }
        double total = 0;
        for (const cJSON *p = ph->child; p; p = p->next) {
            double v = rp_num(p, "median");
            if (v == v) total += v;
        }
        const double run = rp_num(rp_get2(rc->c, "timing", "run_s"), "median");
        const int overlap = run > 0 && total > run * (1 + RP_PHASES_OVER_RUN_RTOL);
        rp_printf(&x->md, "| ");
        rp_md_cell(&x->md, rc->label);
        rp_printf(&x->md, " | ");
        rp_md_cell(&x->md, rc->dataset);
        rp_printf(&x->md, " | ");
        rp_md_cell(&x->md, rc->sampling);
        rp_printf(&x->md, " |");
        for (const cJSON *p = ph->child; p; p = p->next) {
            double v = rp_num(p, "median");
            rp_printf(&x->md, " ");
            rp_md_cell(&x->md, p->string);
            if (total > 0 && !overlap)
                rp_printf(&x->md, " %.3g (%.0f%%);", v, 100.0 * v / total);
            else
                rp_printf(&x->md, " %.3g;", v);
        }
        if (overlap)
            rp_printf(&x->md, " overlapping phases: %.3g s in all, more than the run's %.3g s, so no shares;", total,
                      run);
        rp_printf(&x->md, " |\n");
        for (const cJSON *p = ph->child; p; p = p->next) {
            csv_row_start(x, "time_split_s", "measured", rc->label, rc, "", p->string);
            csv_summary(x, p, NAN, "");
        }
    }
    if (any) rp_printf(&x->md, "\n");
}

static const cJSON *run_summary(const rp_case *rc)
{
    return rc && rc->ok ? rp_get2(rc->c, "timing", "run_s") : NULL;
}

static void timing_tables(report_ctx *x)
{
    const rp_set *set = x->set;
    const char *base = x->opts->baseline;
    rp_printf(&x->md,
              "## Time per reconstruction (s): median [q1, q3] over items x repeats, warm-up excluded\n\n| method |");
    for (size_t c = 0; c < x->ncols; c++) {
        rp_printf(&x->md, " ");
        column_heading(&x->md, x->cols[c], 0);
        rp_printf(&x->md, " |");
    }
    rp_printf(&x->md, "\n|---|");
    for (size_t c = 0; c < x->ncols; c++) rp_printf(&x->md, "---:|");
    rp_printf(&x->md, "\n");
    rp_printf(
        &x->tex,
        "\\begin{table}[ht]\n\\centering\n\\caption{Time per reconstruction (s), median [q1, q3]}\n\\begin{tabular}{l");
    for (size_t c = 0; c < x->ncols; c++) rp_printf(&x->tex, "r");
    rp_printf(&x->tex, "}\n\\toprule\nmethod");
    for (size_t c = 0; c < x->ncols; c++) {
        rp_printf(&x->tex, " & ");
        column_heading(&x->tex, x->cols[c], 1);
    }
    rp_printf(&x->tex, " \\\\\n\\midrule\n");
    for (size_t k = 0; k < set->nlabels; k++) {
        rp_printf(&x->md, "| ");
        rp_md_cell(&x->md, set->labels[k]);
        rp_printf(&x->md, " |");
        rp_tex_cell(&x->tex, set->labels[k]);
        for (size_t c = 0; c < x->ncols; c++) {
            const rp_case *rc = rp_set_find(set, set->labels[k], x->cols[c]->dataset, x->cols[c]->sampling);
            const cJSON *t = run_summary(rc);
            rp_printf(&x->tex, " & ");
            if (!t) {
                rp_printf(&x->md, " |");
                continue;
            }
            rp_printf(&x->md, " %.3g [%.3g, %.3g] |", rp_num(t, "median"), rp_num(t, "q1"), rp_num(t, "q3"));
            rp_printf(&x->tex, "%.3g [%.3g, %.3g]", rp_num(t, "median"), rp_num(t, "q1"), rp_num(t, "q3"));
            double speedup = NAN;
            const cJSON *bt =
                base ? run_summary(rp_set_find(set, base, x->cols[c]->dataset, x->cols[c]->sampling)) : NULL;
            if (bt) speedup = rp_num(bt, "median") / rp_num(t, "median");
            csv_row_start(x, "time_s", "measured", set->labels[k], rc, "", "time_s");
            csv_summary(x, t, speedup, "");
        }
        rp_printf(&x->md, "\n");
        rp_printf(&x->tex, " \\\\\n");
    }
    ref_rows rr;
    refs_collect(x, NULL, "time_s", &rr);
    refs_finish_table(x, &rr, "time_s", "time_s");

    if (!base) return;
    int found = 0;
    for (size_t k = 0; k < set->nlabels; k++) found |= strcmp(set->labels[k], base) == 0;
    if (!found) {
        rp_printf(&x->md, "> speed-up: baseline method `%s` is not in these results.\n\n", base);
        return;
    }
    rp_printf(&x->md,
              "## Speed-up against `%s`: its median time / the method's median time (> 1 is faster)\n\n| method |",
              base);
    for (size_t c = 0; c < x->ncols; c++) {
        rp_printf(&x->md, " ");
        column_heading(&x->md, x->cols[c], 0);
        rp_printf(&x->md, " |");
    }
    rp_printf(&x->md, "\n|---|");
    for (size_t c = 0; c < x->ncols; c++) rp_printf(&x->md, "---:|");
    rp_printf(&x->md, "\n");
    for (size_t k = 0; k < set->nlabels; k++) {
        rp_printf(&x->md, "| ");
        rp_md_cell(&x->md, set->labels[k]);
        rp_printf(&x->md, " |");
        for (size_t c = 0; c < x->ncols; c++) {
            const cJSON *t = run_summary(rp_set_find(set, set->labels[k], x->cols[c]->dataset, x->cols[c]->sampling));
            const cJSON *bt = run_summary(rp_set_find(set, base, x->cols[c]->dataset, x->cols[c]->sampling));
            if (t && bt)
                rp_printf(&x->md, " %.3gx |", rp_num(bt, "median") / rp_num(t, "median"));
            else
                rp_printf(&x->md, " |");
        }
        rp_printf(&x->md, "\n");
    }
    rp_printf(&x->md, "\n");
}

static void provenance(report_ctx *x)
{
    for (size_t f = 0; f < x->set->nresults; f++) {
        const cJSON *r = x->set->results[f];
        const cJSON *suite = rp_get(r, "suite"), *ctx = rp_get(r, "context");
        const cJSON *build = rp_get(ctx, "build"), *machine = rp_get(ctx, "machine"), *run = rp_get(ctx, "run");
        if (x->set->nresults > 1) rp_printf(&x->md, "Run %zu: ", f + 1);
        rp_printf(
            &x->md,
            "Suite `%s` (SHA-256 %.12s), seed %.0f. mrbench %s (commit %.12s%s), %s, %s. Run %s to %s on %s, %.0f "
            "thread(s).\n\n",
            rp_str(suite, "file"), rp_str(suite, "sha256"), rp_num(suite, "seed"), rp_str(build, "mrbench_version"),
            rp_str(build, "git_commit"), cJSON_IsTrue(rp_get(build, "git_dirty")) ? ", dirty" : "",
            rp_str(build, "build_type"), rp_str(machine, "cpu_model"), rp_str(ctx, "started"), rp_str(ctx, "finished"),
            rp_str(run, "device"), rp_num(run, "threads"));
        const cJSON *w;
        cJSON_ArrayForEach(w, rp_get(ctx, "warnings"))
            rp_printf(&x->md, "> warning: %s\n", cJSON_IsString(w) ? w->valuestring : "");
        if (cJSON_GetArraySize(rp_get(ctx, "warnings")) > 0) rp_printf(&x->md, "\n");
    }
}

mrb_status mrb_report_write(const cJSON *results, const char *out_dir, mrb_report_outcome *outcome)
{
    mrb_report_opts opts = {0};
    return mrb_report_write_many(&results, 1, out_dir, &opts, outcome);
}

mrb_status mrb_report_write_many(const cJSON *const *results, size_t nresults, const char *out_dir,
                                 const mrb_report_opts *opts, mrb_report_outcome *outcome)
{
    mrb_report_outcome local;
    mrb_report_outcome *oc = outcome ? outcome : &local;
    memset(oc, 0, sizeof *oc);
    mrb_report_opts defaults = {0};
    if (!opts) opts = &defaults;
    if (nresults == 0) return mrb_error(MRB_ERR_INVALID, "report: no results");
    rp_set set;
    MRB_TRY(rp_set_build(&set, results, nresults));
    report_ctx x = {.set = &set, .opts = opts};
    x.cols = calloc(set.ndatasets * set.nsamplings + 1, sizeof *x.cols);
    if (!x.cols) {
        rp_set_free(&set);
        return mrb_error(MRB_ERR_NOMEM, "report: out of memory");
    }
    for (size_t d = 0; d < set.ndatasets; d++)
        for (size_t s = 0; s < set.nsamplings; s++) {
            const rp_case *any = rp_set_any(&set, set.datasets[d], set.samplings[s]);
            if (any) x.cols[x.ncols++] = any;
        }

    const cJSON *suite0 = rp_get(results[0], "suite");
    rp_printf(&x.md, "# mrbench report: %s", rp_str(suite0, "name"));
    for (size_t f = 1; f < nresults; f++) rp_printf(&x.md, " + %s", rp_str(rp_get(results[f], "suite"), "name"));
    rp_printf(&x.md, "\n\n");
    if (rp_str(suite0, "description")[0]) rp_printf(&x.md, "%s\n\n", rp_str(suite0, "description"));
    provenance(&x);
    rp_printf(&x.csv,
              "table,source,method,dataset,sampling,acceleration,item,metric,n,n_nan,mean,std,median,q1,q3,min,max,"
              "speedup,citation\n");
    rp_printf(&x.tex, "%% mrbench report tables; needs \\usepackage{booktabs}\n");
    for (size_t m = 0; m < set.nmetrics; m++) metric_table(&x, set.metrics[m]);
    timing_tables(&x);
    phases_table(&x);
    if (opts->per_case) {
        rp_printf(&x.md, "## Per-item values\n\n");
        for (size_t m = 0; m < set.nmetrics; m++) per_case_tables(&x, set.metrics[m]);
    }
    size_t failed = 0;
    for (size_t k = 0; k < set.ncases; k++) failed += !set.cases[k].ok;
    if (failed) {
        rp_printf(&x.md, "## Failed cases\n\n");
        for (size_t k = 0; k < set.ncases; k++)
            if (!set.cases[k].ok)
                rp_printf(&x.md, "- `%s` (%s): %s\n", rp_str(set.cases[k].c, "key"), set.cases[k].label,
                          rp_str(set.cases[k].c, "error"));
        rp_printf(&x.md, "\n");
    }

    mrb_status st = MRB_OK;
    if (!opts->no_plots) {
        rp_printf(&x.md, "## Plots\n\n");
        st = rp_plots_write(&set, out_dir, oc, &x.md);
    }
    if (st == MRB_OK) {
        snprintf(oc->markdown, sizeof oc->markdown, "%s/report.md", out_dir);
        snprintf(oc->csv, sizeof oc->csv, "%s/report.csv", out_dir);
        snprintf(oc->latex, sizeof oc->latex, "%s/report.tex", out_dir);
        st = rp_buf_write(&x.md, oc->markdown);
        if (st == MRB_OK) st = rp_buf_write(&x.csv, oc->csv);
        if (st == MRB_OK) st = rp_buf_write(&x.tex, oc->latex);
    }
    free(x.md.s);
    free(x.csv.s);
    free(x.tex.s);
    free(x.cols);
    rp_set_free(&set);
    return st;
}
