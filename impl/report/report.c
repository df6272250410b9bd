/* Markdown tables and gnuplot plots from a results.json tree. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrbench/report.h"
#include "mrbench/util.h"

#define MAX_ROWS 64
#define MAX_COLS 64

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) ? j->valuestring : "";
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* Distinct values in order of first appearance. */
static size_t add_unique(const char **list, size_t n, size_t max, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], v) == 0) return n;
    if (n < max) list[n++] = v;
    return n;
}

static const cJSON *find_case(const cJSON *cases, const char *ds, const char *sm, const char *me)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        if (strcmp(str_of(c, "dataset"), ds) == 0 && strcmp(str_of(c, "sampling"), sm) == 0 &&
            strcmp(str_of(c, "method"), me) == 0)
            return c;
    }
    return NULL;
}

static int case_ok(const cJSON *c)
{
    return c && strcmp(str_of(c, "status"), "ok") == 0;
}

const char *mrb_gnuplot_path(void)
{
    static char found[1024];
    const char *env = getenv("MRBENCH_GNUPLOT");
    if (env && env[0]) {
        if (access(env, X_OK) == 0) return env;
        return NULL;
    }
    const char *path = getenv("PATH");
    if (!path) return NULL;
    const char *p = path;
    while (*p) {
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

static int run_gnuplot(const char *gnuplot, const char *script, const char *log)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(gnuplot, "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One plot per dataset: metric vs nominal acceleration, a line per method
 * with mean +/- std error bars. */
static mrb_status write_plots(const cJSON *results, const char *out_dir, const char *metric,
                              const char **datasets, size_t nds, const char **samplings, size_t nsm,
                              const char **methods, size_t nme, mrb_report_outcome *oc, buf *md)
{
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(results, "cases");
    const char *gnuplot = mrb_gnuplot_path();
    for (size_t d = 0; d < nds; d++) {
        char dat[1100], gp[1100], png[1100], log[1100];
        snprintf(dat, sizeof dat, "%s/plot_%s_%s.dat", out_dir, metric, datasets[d]);
        snprintf(gp, sizeof gp, "%s/plot_%s_%s.gp", out_dir, metric, datasets[d]);
        snprintf(png, sizeof png, "%s/plot_%s_%s.png", out_dir, metric, datasets[d]);
        snprintf(log, sizeof log, "%s/plot_%s_%s.log", out_dir, metric, datasets[d]);
        buf data = {0}, script = {0};
        size_t blocks = 0;
        for (size_t k = 0; k < nme; k++) {
            bprintf(&data, "# method %s: acceleration mean std\n", methods[k]);
            size_t rows = 0;
            for (size_t m = 0; m < nsm; m++) {
                const cJSON *c = find_case(cases, datasets[d], samplings[m], methods[k]);
                if (!case_ok(c)) continue;
                const cJSON *mj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "metrics"), metric);
                if (!mj) continue;
                bprintf(&data, "%.6g %.10g %.10g\n", num_of(c, "acceleration"), num_of(mj, "mean"), num_of(mj, "std"));
                rows++;
            }
            bprintf(&data, "\n\n");
            if (rows) blocks++;
        }
        if (!blocks) {
            free(data.s);
            continue;
        }
        mrb_status st = mrb_write_file_atomic(dat, data.s, data.len);
        free(data.s);
        if (st != MRB_OK) {
            free(script.s);
            return st;
        }
        bprintf(&script, "set terminal pngcairo size 900,600 noenhanced\nset output '%s'\n", png);
        bprintf(&script, "set title '%s: %s vs acceleration (mean +/- std over cases)'\n", datasets[d], metric);
        bprintf(&script, "set xlabel 'acceleration R'\nset ylabel '%s'\nset grid\nset key outside right\n", metric);
        bprintf(&script, "plot ");
        for (size_t k = 0; k < nme; k++)
            bprintf(&script, "%s'%s' index %zu using 1:2:3 with yerrorlines title '%s'", k ? ", " : "", dat, k,
                    methods[k]);
        bprintf(&script, "\n");
        st = mrb_write_file_atomic(gp, script.s, script.len);
        free(script.s);
        if (st != MRB_OK) return st;
        if (!gnuplot) {
            snprintf(oc->skipped, sizeof oc->skipped,
                     "gnuplot not found on PATH (apt-get install gnuplot-nox); plot scripts left as *.gp");
            bprintf(md, "- plot skipped (gnuplot not found): `%s` (data `%s`)\n", gp, dat);
            continue;
        }
        int rc = run_gnuplot(gnuplot, gp, log);
        if (rc != 0) {
            snprintf(oc->skipped, sizeof oc->skipped, "gnuplot failed (exit %d), see %.400s", rc, log);
            bprintf(md, "- plot failed (gnuplot exit %d, see `%s`)\n", rc, log);
            continue;
        }
        unlink(log);
        if (oc->nplots < MRB_REPORT_MAX_PLOTS) snprintf(oc->plots[oc->nplots++], sizeof oc->plots[0], "%s", png);
        const char *base = strrchr(png, '/');
        bprintf(md, "![%s vs acceleration, %s](%s)\n", metric, datasets[d], base ? base + 1 : png);
    }
    return MRB_OK;
}

mrb_status mrb_report_write(const cJSON *results, const char *out_dir, mrb_report_outcome *outcome)
{
    mrb_report_outcome local;
    mrb_report_outcome *oc = outcome ? outcome : &local;
    memset(oc, 0, sizeof *oc);
    const cJSON *suite = cJSON_GetObjectItemCaseSensitive(results, "suite");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(results, "cases");
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(results, "context");
    if (!cJSON_IsArray(cases) || !cJSON_IsObject(suite))
        return mrb_error(MRB_ERR_INVALID, "results lack 'suite' or 'cases'");

    const char *datasets[MAX_COLS], *samplings[MAX_COLS], *methods[MAX_ROWS];
    size_t nds = 0, nsm = 0, nme = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        nds = add_unique(datasets, nds, MAX_COLS, str_of(c, "dataset"));
        nsm = add_unique(samplings, nsm, MAX_COLS, str_of(c, "sampling"));
        nme = add_unique(methods, nme, MAX_ROWS, str_of(c, "method"));
    }
    const cJSON *report = cJSON_GetObjectItemCaseSensitive(suite, "report");
    const cJSON *rmetrics = cJSON_GetObjectItemCaseSensitive(report, "metrics");
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(suite, "metric_definitions");

    buf md = {0};
    bprintf(&md, "# mrbench report: %s\n\n", str_of(suite, "name"));
    if (str_of(suite, "description")[0]) bprintf(&md, "%s\n\n", str_of(suite, "description"));
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(ctx, "build");
    const cJSON *machine = cJSON_GetObjectItemCaseSensitive(ctx, "machine");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(ctx, "run");
    bprintf(&md, "Suite `%s` (SHA-256 %.12s), seed %.0f. mrbench %s (commit %.12s%s), %s, %s. Run %s to %s on %s, %.0f thread(s).\n\n",
            str_of(suite, "file"), str_of(suite, "sha256"), num_of(suite, "seed"), str_of(build, "mrbench_version"),
            str_of(build, "git_commit"), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(build, "git_dirty")) ? ", dirty" : "",
            str_of(build, "build_type"), str_of(machine, "cpu_model"), str_of(ctx, "started"), str_of(ctx, "finished"),
            str_of(run, "device"), num_of(run, "threads"));
    const cJSON *warnings = cJSON_GetObjectItemCaseSensitive(ctx, "warnings");
    const cJSON *w;
    cJSON_ArrayForEach(w, warnings) bprintf(&md, "> warning: %s\n", cJSON_IsString(w) ? w->valuestring : "");
    if (cJSON_GetArraySize(warnings) > 0) bprintf(&md, "\n");

    /* Column headers: dataset and sampling with its nominal acceleration. */
    const cJSON *rm;
    cJSON_ArrayForEach(rm, rmetrics)
    {
        if (!cJSON_IsString(rm)) continue;
        const char *metric = rm->valuestring;
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(defs, metric);
        bprintf(&md, "## %s%s%s%s, mean (std) over cases\n\n", metric, str_of(def, "unit")[0] ? " (" : "",
                str_of(def, "unit"), str_of(def, "unit")[0] ? ")" : "");
        if (def) bprintf(&md, "%s; %s is better.\n\n", str_of(def, "definition"),
                         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(def, "higher_is_better")) ? "higher" : "lower");
        bprintf(&md, "| method |");
        for (size_t d = 0; d < nds; d++)
            for (size_t m = 0; m < nsm; m++) {
                const cJSON *any = NULL;
                for (size_t k = 0; k < nme && !any; k++) any = find_case(cases, datasets[d], samplings[m], methods[k]);
                if (any) bprintf(&md, " %s R=%g (%s) |", datasets[d], num_of(any, "acceleration"), samplings[m]);
            }
        bprintf(&md, "\n|---|");
        for (size_t d = 0; d < nds; d++)
            for (size_t m = 0; m < nsm; m++) {
                const cJSON *any = NULL;
                for (size_t k = 0; k < nme && !any; k++) any = find_case(cases, datasets[d], samplings[m], methods[k]);
                if (any) bprintf(&md, "---:|");
            }
        bprintf(&md, "\n");
        for (size_t k = 0; k < nme; k++) {
            bprintf(&md, "| %s |", methods[k]);
            for (size_t d = 0; d < nds; d++)
                for (size_t m = 0; m < nsm; m++) {
                    int exists = 0;
                    for (size_t q = 0; q < nme && !exists; q++) exists = find_case(cases, datasets[d], samplings[m], methods[q]) != NULL;
                    if (!exists) continue;
                    const cJSON *cc = find_case(cases, datasets[d], samplings[m], methods[k]);
                    if (!cc) bprintf(&md, " |");
                    else if (!case_ok(cc)) bprintf(&md, " failed |");
                    else {
                        const cJSON *mj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cc, "metrics"), metric);
                        double nn = num_of(mj, "n_nan");
                        if (nn > 0) bprintf(&md, " %.4g (%.3g) [%g NaN] |", num_of(mj, "mean"), num_of(mj, "std"), nn);
                        else bprintf(&md, " %.4g (%.3g) |", num_of(mj, "mean"), num_of(mj, "std"));
                    }
                }
            bprintf(&md, "\n");
        }
        bprintf(&md, "\n");
    }

    bprintf(&md, "## Time per reconstruction (s): median [q1, q3] over items x repeats, warm-up excluded\n\n| method |");
    for (size_t d = 0; d < nds; d++)
        for (size_t m = 0; m < nsm; m++) bprintf(&md, " %s %s |", datasets[d], samplings[m]);
    bprintf(&md, "\n|---|");
    for (size_t d = 0; d < nds * nsm; d++) bprintf(&md, "---:|");
    bprintf(&md, "\n");
    for (size_t k = 0; k < nme; k++) {
        bprintf(&md, "| %s |", methods[k]);
        for (size_t d = 0; d < nds; d++)
            for (size_t m = 0; m < nsm; m++) {
                const cJSON *cc = find_case(cases, datasets[d], samplings[m], methods[k]);
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cc, "timing"), "run_s");
                if (!case_ok(cc) || !t) bprintf(&md, " |");
                else bprintf(&md, " %.3g [%.3g, %.3g] |", num_of(t, "median"), num_of(t, "q1"), num_of(t, "q3"));
            }
        bprintf(&md, "\n");
    }
    bprintf(&md, "\n");

    size_t failed = 0;
    cJSON_ArrayForEach(c, cases) if (!case_ok(c)) failed++;
    if (failed) {
        bprintf(&md, "## Failed cases\n\n");
        cJSON_ArrayForEach(c, cases) if (!case_ok(c)) bprintf(&md, "- `%s`: %s\n", str_of(c, "key"), str_of(c, "error"));
        bprintf(&md, "\n");
    }

    const char *plot_metric = str_of(report, "plot");
    mrb_status st = MRB_OK;
    if (plot_metric[0]) {
        bprintf(&md, "## Plots\n\n");
        st = write_plots(results, out_dir, plot_metric, datasets, nds, samplings, nsm, methods, nme, oc, &md);
    }
    if (st == MRB_OK) {
        snprintf(oc->markdown, sizeof oc->markdown, "%s/report.md", out_dir);
        st = md.s ? mrb_write_file_atomic(oc->markdown, md.s, md.len) : mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    free(md.s);
    return st;
}
