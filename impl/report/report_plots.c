/* gnuplot plots: metric vs acceleration, time per method (log scale), box
 * plots of per-item metrics, time vs problem size. Each plot is a .dat file
 * and a .gp script that writes a PNG and an SVG; without gnuplot the scripts
 * stay and the report names the missing plots. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mrbench/stats.h"
#include "mrbench/util.h"
#include "report/report_plots.h"

/* Pixel size of the raster plots; the SVG uses the same geometry. */
#define PLOT_WIDTH 900
#define PLOT_HEIGHT 600

const char *mrb_gnuplot_path(void)
{
    static char found[1024];
    const char *env = getenv("MRBENCH_GNUPLOT");
    if (env && env[0]) return access(env, X_OK) == 0 ? env : NULL;
    const char *path = getenv("PATH");
    if (!path) return NULL;
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && len < sizeof found - 16) {
            snprintf(found, sizeof found, "%.*s/gnuplot", (int)len, p);
            struct stat st;
            if (stat(found, &st) == 0 && S_ISREG(st.st_mode) && access(found, X_OK) == 0) return found;
        }
        if (!colon) break;
        p = colon + 1;
    }
    return NULL;
}

typedef struct plot_ctx {
    const rp_set *set;
    const char *out_dir;
    const char *gnuplot;
    mrb_report_outcome *oc;
    rp_buf *md;
} plot_ctx;

/* Names with characters outside [A-Za-z0-9._-] are made safe for file names. */
static void safe_name(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; *src && i + 1 < cap; src++) {
        char ch = *src;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '-' || ch == '_';
        dst[i++] = ok ? ch : '_';
    }
    dst[i] = 0;
}

/* gnuplot single-quoted string: a quote is doubled. */
static void gp_quote(rp_buf *b, const char *s)
{
    rp_printf(b, "'");
    for (; *s; s++) rp_printf(b, *s == '\'' ? "''" : "%c", *s);
    rp_printf(b, "'");
}

/* Writes name.dat and name.gp (PNG then SVG) and runs gnuplot. `body` holds
 * the settings and the plot command; DATA in it stands for the data file. */
static mrb_status emit(plot_ctx *p, const char *name, const char *title, const rp_buf *data, const rp_buf *body)
{
    char dat[MRB_REPORT_PATH], gp[MRB_REPORT_PATH], png[MRB_REPORT_PATH], svg[MRB_REPORT_PATH], log[MRB_REPORT_PATH];
    snprintf(dat, sizeof dat, "%s/%s.dat", p->out_dir, name);
    snprintf(gp, sizeof gp, "%s/%s.gp", p->out_dir, name);
    snprintf(png, sizeof png, "%s/%s.png", p->out_dir, name);
    snprintf(svg, sizeof svg, "%s/%s.svg", p->out_dir, name);
    snprintf(log, sizeof log, "%s/%s.log", p->out_dir, name);
    MRB_TRY(rp_buf_write(data, dat));
    rp_buf s = {0};
    rp_printf(&s, "# %s\nDATA = ", title);
    gp_quote(&s, dat);
    rp_printf(&s, "\nset terminal pngcairo size %d,%d noenhanced\nset output ", PLOT_WIDTH, PLOT_HEIGHT);
    gp_quote(&s, png);
    rp_printf(&s, "\nset title ");
    gp_quote(&s, title);
    rp_printf(&s, "\n%s\nset terminal svg size %d,%d dynamic noenhanced\nset output ", body->s ? body->s : "",
              PLOT_WIDTH, PLOT_HEIGHT);
    gp_quote(&s, svg);
    rp_printf(&s, "\nreplot\nunset output\n");
    mrb_status st = body->oom ? mrb_error(MRB_ERR_NOMEM, "%s: out of memory", gp) : rp_buf_write(&s, gp);
    free(s.s);
    if (st != MRB_OK) return st;
    if (!p->gnuplot) {
        snprintf(p->oc->skipped, sizeof p->oc->skipped,
                 "gnuplot not found on PATH (apt-get install gnuplot-nox); plot scripts left as *.gp");
        rp_printf(p->md, "- plot skipped (gnuplot not found): %s: `%s` (data `%s`)\n", title, gp, dat);
        return MRB_OK;
    }
    int rc = rp_run_gnuplot(p->gnuplot, gp, log);
    if (rc != 0) {
        snprintf(p->oc->skipped, sizeof p->oc->skipped, "gnuplot failed (exit %d), see %.400s", rc, log);
        rp_printf(p->md, "- plot failed (gnuplot exit %d, see `%s`): %s\n", rc, log, title);
        return MRB_OK;
    }
    unlink(log);
    if (p->oc->nplots < MRB_REPORT_MAX_PLOTS)
        snprintf(p->oc->plots[p->oc->nplots++], sizeof p->oc->plots[0], "%s", png);
    rp_printf(p->md, "![%s](%s.png) ([SVG](%s.svg))\n\n", title, name, name);
    return MRB_OK;
}

static const rp_case *column_case(const rp_set *set, const char *label, const char *ds, size_t s)
{
    const rp_case *c = rp_set_find(set, label, ds, set->samplings[s]);
    return c && c->ok ? c : NULL;
}

/* Metric vs nominal acceleration, a line per method, mean +/- std. */
static mrb_status plot_metric_vs_acceleration(plot_ctx *p, const char *metric, const char *ds)
{
    const rp_set *set = p->set;
    rp_buf data = {0}, body = {0};
    size_t blocks = 0;
    for (size_t k = 0; k < set->nlabels; k++) {
        rp_printf(&data, "# method %s: acceleration mean std\n", set->labels[k]);
        for (size_t s = 0; s < set->nsamplings; s++) {
            const rp_case *c = column_case(set, set->labels[k], ds, s);
            const cJSON *mj = c ? rp_get2(c->c, "metrics", metric) : NULL;
            if (!mj) continue;
            rp_printf(&data, "%.17g %.17g %.17g\n", c->acceleration, rp_num(mj, "mean"), rp_num(mj, "std"));
            blocks++;
        }
        rp_printf(&data, "\n\n");
    }
    mrb_status st = MRB_OK;
    if (blocks) {
        rp_printf(&body, "set xlabel 'acceleration R'\nset ylabel ");
        gp_quote(&body, metric);
        rp_printf(&body, "\nset grid\nset key outside right\nplot ");
        for (size_t k = 0; k < set->nlabels; k++) {
            rp_printf(&body, "%sDATA index %zu using 1:2:3 with yerrorlines title ", k ? ", " : "", k);
            gp_quote(&body, set->labels[k]);
        }
        char name[400], sm[128], sd[128], title[512];
        safe_name(sm, sizeof sm, metric);
        safe_name(sd, sizeof sd, ds);
        snprintf(name, sizeof name, "plot_%s_%s", sm, sd);
        snprintf(title, sizeof title, "%s: %s vs acceleration (mean +/- std over items)", ds, metric);
        st = emit(p, name, title, &data, &body);
    }
    free(data.s);
    free(body.s);
    return st;
}

/* Median time per method and setting, log scale, error bars q1..q3. */
static mrb_status plot_time(plot_ctx *p, const char *ds)
{
    const rp_set *set = p->set;
    rp_buf data = {0}, body = {0};
    size_t rows = 0;
    double width = 0.8 / (double)(set->nlabels ? set->nlabels : 1);
    for (size_t k = 0; k < set->nlabels; k++) {
        rp_printf(&data, "# method %s: x median q1 q3\n", set->labels[k]);
        for (size_t s = 0; s < set->nsamplings; s++) {
            const rp_case *c = column_case(set, set->labels[k], ds, s);
            const cJSON *t = c ? rp_get2(c->c, "timing", "run_s") : NULL;
            if (!t || !(rp_num(t, "median") > 0)) continue;
            double x = (double)s - 0.4 + width * ((double)k + 0.5);
            rp_printf(&data, "%.6g %.17g %.17g %.17g\n", x, rp_num(t, "median"), rp_num(t, "q1"), rp_num(t, "q3"));
            rows++;
        }
        rp_printf(&data, "\n\n");
    }
    mrb_status st = MRB_OK;
    if (rows) {
        rp_printf(&body,
                  "set logscale y\nset ylabel 'time per reconstruction (s), median [q1, q3]'\nset grid ytics\n"
                  "set key outside right\nset xrange [-0.6:%zu.6]\nset xtics (",
                  set->nsamplings - 1);
        for (size_t s = 0; s < set->nsamplings; s++) {
            rp_printf(&body, "%s", s ? ", " : "");
            gp_quote(&body, set->samplings[s]);
            rp_printf(&body, " %zu", s);
        }
        rp_printf(&body, ")\nplot ");
        for (size_t k = 0; k < set->nlabels; k++) {
            rp_printf(&body, "%sDATA index %zu using 1:2:3:4 with yerrorbars pt 7 title ", k ? ", " : "", k);
            gp_quote(&body, set->labels[k]);
        }
        char name[400], sd[128], title[512];
        safe_name(sd, sizeof sd, ds);
        snprintf(name, sizeof name, "time_%s", sd);
        snprintf(title, sizeof title, "%s: time per method (log scale)", ds);
        st = emit(p, name, title, &data, &body);
    }
    free(data.s);
    free(body.s);
    return st;
}

/* Box plots of per-item values: one box per (setting, method). */
static mrb_status plot_boxes(plot_ctx *p, const char *metric, const char *ds)
{
    const rp_set *set = p->set;
    rp_buf data = {0}, body = {0};
    size_t nblocks = 0, nwritten = 0;
    double width = 0.8 / (double)(set->nlabels ? set->nlabels : 1);
    rp_printf(&body,
              "set style fill solid 0.3 border -1\nset style boxplot outliers pointtype 7\nset style data boxplot\n"
              "set boxwidth %.4g\nset ylabel ",
              width * 0.8);
    gp_quote(&body, metric);
    rp_printf(&body, "\nset grid ytics\nset key outside right\nset xrange [-0.6:%zu.6]\nset xtics (",
              set->nsamplings - 1);
    for (size_t s = 0; s < set->nsamplings; s++) {
        rp_printf(&body, "%s", s ? ", " : "");
        gp_quote(&body, set->samplings[s]);
        rp_printf(&body, " %zu", s);
    }
    rp_printf(&body, ")\nplot ");
    for (size_t k = 0; k < set->nlabels; k++) {
        int titled = 0;
        for (size_t s = 0; s < set->nsamplings; s++) {
            const rp_case *c = column_case(set, set->labels[k], ds, s);
            if (!c) continue;
            size_t nv = 0;
            const cJSON *it;
            rp_printf(&data, "# %s %s\n", set->labels[k], set->samplings[s]);
            cJSON_ArrayForEach(it, rp_get(c->c, "items")) {
                const cJSON *v = rp_get2(it, "metrics", metric);
                if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
                    rp_printf(&data, "%.17g\n", v->valuedouble);
                    nv++;
                }
            }
            rp_printf(&data, "\n\n");
            size_t blockno = nwritten++; /* an empty block still counts as an index */
            if (!nv) continue;
            double x = (double)s - 0.4 + width * ((double)k + 0.5);
            rp_printf(&body, "%sDATA index %zu using (%.6g):1 lc %zu ", nblocks ? ", " : "", blockno, x, k + 1);
            if (titled)
                rp_printf(&body, "notitle");
            else {
                rp_printf(&body, "title ");
                gp_quote(&body, set->labels[k]);
            }
            titled = 1;
            nblocks++;
        }
    }
    mrb_status st = MRB_OK;
    if (nblocks) {
        char name[400], sm[128], sd[128], title[512];
        safe_name(sm, sizeof sm, metric);
        safe_name(sd, sizeof sd, ds);
        snprintf(name, sizeof name, "box_%s_%s", sm, sd);
        snprintf(title, sizeof title, "%s: %s per item (box plots)", ds, metric);
        st = emit(p, name, title, &data, &body);
    }
    free(data.s);
    free(body.s);
    return st;
}

/* Median time vs problem size (pixels per item), log-log, a line per method:
 * only when the data sets differ in size. */
static mrb_status plot_scaling(plot_ctx *p)
{
    const rp_set *set = p->set;
    double first = NAN;
    int differ = 0;
    for (size_t k = 0; k < set->ncases; k++) {
        double sz = rp_case_size(&set->cases[k]);
        if (isnan(sz)) continue;
        if (isnan(first))
            first = sz;
        else if (sz != first)
            differ = 1;
    }
    if (!differ) return MRB_OK;
    rp_buf data = {0}, body = {0};
    for (size_t k = 0; k < set->nlabels; k++) {
        rp_printf(&data, "# method %s: pixels median_time_s (median over its settings)\n", set->labels[k]);
        for (size_t d = 0; d < set->ndatasets; d++) {
            double med[256];
            size_t n = 0;
            double sz = NAN;
            for (size_t s = 0; s < set->nsamplings && n < 256; s++) {
                const rp_case *c = column_case(set, set->labels[k], set->datasets[d], s);
                const cJSON *t = c ? rp_get2(c->c, "timing", "run_s") : NULL;
                if (!t) continue;
                sz = rp_case_size(c);
                med[n++] = rp_num(t, "median");
            }
            if (!n || isnan(sz)) continue;
            mrb_summary sm;
            mrb_summarize(med, n, &sm);
            rp_printf(&data, "%.17g %.17g\n", sz, sm.median);
        }
        rp_printf(&data, "\n\n");
    }
    rp_printf(&body, "set logscale xy\nset xlabel 'problem size (pixels per item)'\nset ylabel 'median time (s)'\n"
                     "set grid\nset key outside right\nplot ");
    for (size_t k = 0; k < set->nlabels; k++) {
        rp_printf(&body, "%sDATA index %zu using 1:2 with linespoints pt 7 title ", k ? ", " : "", k);
        gp_quote(&body, set->labels[k]);
    }
    mrb_status st = emit(p, "scaling", "time vs problem size", &data, &body);
    free(data.s);
    free(body.s);
    return st;
}

mrb_status rp_plots_write(const rp_set *set, const char *out_dir, mrb_report_outcome *oc, rp_buf *md)
{
    plot_ctx p = {.set = set, .out_dir = out_dir, .gnuplot = mrb_gnuplot_path(), .oc = oc, .md = md};
    const char *metric = "";
    for (size_t f = 0; f < set->nresults && !metric[0]; f++) {
        const cJSON *pl = rp_get2(rp_get(set->results[f], "suite"), "report", "plot");
        if (cJSON_IsString(pl)) metric = pl->valuestring;
    }
    for (size_t d = 0; d < set->ndatasets; d++) {
        if (metric[0]) {
            MRB_TRY(plot_metric_vs_acceleration(&p, metric, set->datasets[d]));
            MRB_TRY(plot_boxes(&p, metric, set->datasets[d]));
        }
        MRB_TRY(plot_time(&p, set->datasets[d]));
    }
    return plot_scaling(&p);
}
