/* Helpers shared by report, compare and leaderboard. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrbench/util.h"
#include "report/report_internal.h"

/* Acceleration factors that differ by less than this are the same setting
 * (nominal R is a small rational number written with 17 digits). */
#define RP_ACCEL_EPS 1e-9

void rp_printf(rp_buf *b, const char *fmt, ...)
{
    if (b->oom) return;
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
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

mrb_status rp_buf_write(const rp_buf *b, const char *path)
{
    if (b->oom) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory while formatting", path);
    return mrb_write_file_atomic(path, b->s ? b->s : "", b->len);
}

const cJSON *rp_get(const cJSON *o, const char *key)
{
    return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

const cJSON *rp_get2(const cJSON *o, const char *k1, const char *k2)
{
    return rp_get(rp_get(o, k1), k2);
}

const char *rp_str(const cJSON *o, const char *key)
{
    const cJSON *j = rp_get(o, key);
    return cJSON_IsString(j) ? j->valuestring : "";
}

double rp_num(const cJSON *o, const char *key)
{
    const cJSON *j = rp_get(o, key);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

void rp_md_cell(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            rp_printf(b, "\\|");
        else if (*s == '\n')
            rp_printf(b, " ");
        else
            rp_printf(b, "%c", *s);
    }
}

void rp_csv_cell(rp_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        rp_printf(b, "%s", s);
        return;
    }
    rp_printf(b, "\"");
    for (; *s; s++) rp_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    rp_printf(b, "\"");
}

void rp_tex_cell(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
        case '%':
        case '$':
        case '#':
        case '_':
        case '{':
        case '}': rp_printf(b, "\\%c", *s); break;
        case '~': rp_printf(b, "\\textasciitilde{}"); break;
        case '^': rp_printf(b, "\\textasciicircum{}"); break;
        case '\\': rp_printf(b, "\\textbackslash{}"); break;
        default: rp_printf(b, "%c", *s);
        }
    }
}

void rp_html_text(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': rp_printf(b, "&amp;"); break;
        case '<': rp_printf(b, "&lt;"); break;
        case '>': rp_printf(b, "&gt;"); break;
        case '"': rp_printf(b, "&quot;"); break;
        default: rp_printf(b, "%c", *s);
        }
    }
}

void rp_num_text(rp_buf *b, double v, int digits)
{
    if (isnan(v))
        rp_printf(b, "NaN");
    else if (isinf(v))
        rp_printf(b, v > 0 ? "inf" : "-inf");
    else
        rp_printf(b, "%.*g", digits, v);
}

int rp_run_gnuplot(const char *gnuplot, const char *script, const char *log)
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

/* ---------- merged results ---------- */

static int add_unique(const char ***list, size_t *n, const char *v)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], v) == 0) return 0;
    const char **l = realloc(*list, (*n + 1) * sizeof **list);
    if (!l) return -1;
    l[(*n)++] = v;
    *list = l;
    return 0;
}

void rp_set_free(rp_set *set)
{
    free(set->cases);
    free(set->labels);
    free(set->datasets);
    free(set->samplings);
    free(set->metrics);
    memset(set, 0, sizeof *set);
}

mrb_status rp_set_build(rp_set *set, const cJSON *const *results, size_t n)
{
    memset(set, 0, sizeof *set);
    set->results = results;
    set->nresults = n;
    size_t total = 0;
    for (size_t f = 0; f < n; f++) {
        const cJSON *cases = rp_get(results[f], "cases");
        if (!cJSON_IsArray(cases) || !cJSON_IsObject(rp_get(results[f], "suite")))
            return mrb_error(MRB_ERR_INVALID, "results file %zu lacks 'suite' or 'cases'", f + 1);
        total += (size_t)cJSON_GetArraySize(cases);
    }
    set->cases = calloc(total ? total : 1, sizeof *set->cases);
    if (!set->cases) return mrb_error(MRB_ERR_NOMEM, "report: out of memory");
    int bad = 0;
    for (size_t f = 0; f < n; f++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, rp_get(results[f], "cases")) {
            rp_case *rc = &set->cases[set->ncases];
            rc->c = c;
            rc->results = results[f];
            rc->file = f;
            rc->dataset = rp_str(c, "dataset");
            rc->sampling = rp_str(c, "sampling");
            rc->method_id = rp_str(c, "method");
            rc->acceleration = rp_num(c, "acceleration");
            rc->ok = strcmp(rp_str(c, "status"), "ok") == 0;
            snprintf(rc->label, sizeof rc->label, "%s", rc->method_id);
            for (size_t k = 0; k < set->ncases; k++) {
                const rp_case *o = &set->cases[k];
                if (o->file != f && strcmp(o->method_id, rc->method_id) == 0 && strcmp(o->dataset, rc->dataset) == 0 &&
                    strcmp(o->sampling, rc->sampling) == 0) {
                    snprintf(rc->label, sizeof rc->label, "%s (run %zu)", rc->method_id, f + 1);
                    break;
                }
            }
            set->ncases++;
        }
    }
    /* Labels point into the case array: stable once it is filled. */
    for (size_t k = 0; k < set->ncases && !bad; k++) {
        rp_case *rc = &set->cases[k];
        bad |= add_unique(&set->labels, &set->nlabels, rc->label);
        bad |= add_unique(&set->datasets, &set->ndatasets, rc->dataset);
        bad |= add_unique(&set->samplings, &set->nsamplings, rc->sampling);
    }
    for (size_t f = 0; f < n && !bad; f++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, rp_get2(rp_get(results[f], "suite"), "report", "metrics"))
            if (cJSON_IsString(m)) bad |= add_unique(&set->metrics, &set->nmetrics, m->valuestring);
    }
    if (set->nmetrics == 0)
        for (size_t k = 0; k < set->ncases && !bad; k++) {
            const cJSON *m;
            cJSON_ArrayForEach(m, rp_get(set->cases[k].c, "metrics"))
                bad |= add_unique(&set->metrics, &set->nmetrics, m->string);
        }
    if (bad) {
        rp_set_free(set);
        return mrb_error(MRB_ERR_NOMEM, "report: out of memory");
    }
    return MRB_OK;
}

const rp_case *rp_set_find(const rp_set *set, const char *label, const char *dataset, const char *sampling)
{
    for (size_t k = 0; k < set->ncases; k++) {
        const rp_case *c = &set->cases[k];
        if (strcmp(c->label, label) == 0 && strcmp(c->dataset, dataset) == 0 && strcmp(c->sampling, sampling) == 0)
            return c;
    }
    return NULL;
}

const rp_case *rp_set_any(const rp_set *set, const char *dataset, const char *sampling)
{
    for (size_t k = 0; k < set->ncases; k++) {
        const rp_case *c = &set->cases[k];
        if (strcmp(c->dataset, dataset) == 0 && strcmp(c->sampling, sampling) == 0) return c;
    }
    return NULL;
}

const cJSON *rp_set_metric_def(const rp_set *set, const char *metric)
{
    for (size_t f = 0; f < set->nresults; f++) {
        const cJSON *d = rp_get(rp_get2(set->results[f], "suite", "metric_definitions"), metric);
        if (cJSON_IsObject(d)) return d;
    }
    return NULL;
}

const cJSON *rp_case_dataset(const rp_case *c)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, rp_get(c->results, "datasets"))
        if (strcmp(rp_str(d, "id"), c->dataset) == 0) return d;
    return NULL;
}

double rp_case_size(const rp_case *c)
{
    const cJSON *shape = rp_get(rp_case_dataset(c), "shape");
    if (cJSON_IsString(shape)) { /* "256x256x1" */
        double p = 1;
        const char *s = shape->valuestring;
        while (*s) {
            char *end;
            double v = strtod(s, &end);
            if (end == s || !(v > 0)) return NAN;
            p *= v;
            s = *end == 'x' ? end + 1 : end;
            if (*end && *end != 'x') return NAN;
        }
        return p;
    }
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) == 0) return NAN;
    double p = 1;
    const cJSON *s;
    cJSON_ArrayForEach(s, shape) {
        if (!cJSON_IsNumber(s)) return NAN;
        p *= s->valuedouble;
    }
    return p;
}

int rp_higher_is_better(const cJSON *def)
{
    const cJSON *h = rp_get(def, "higher_is_better");
    return cJSON_IsBool(h) ? cJSON_IsTrue(h) : 1;
}

/* ---------- published reference rows ---------- */

static int json_scalar_equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a) && cJSON_IsString(b)) return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsBool(a) && cJSON_IsBool(b)) return cJSON_IsTrue(a) == cJSON_IsTrue(b);
    return 0;
}

static int dataset_matches(const cJSON *names, const rp_case *column)
{
    const cJSON *ds = rp_case_dataset(column);
    const char *generator = rp_str(ds, "generator"), *manifest = rp_str(ds, "manifest");
    const char *slash = strrchr(manifest, '/');
    char base[256];
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : manifest);
    size_t blen = strlen(base);
    char stem[256];
    snprintf(stem, sizeof stem, "%.*s", (int)(blen > 5 && strcmp(base + blen - 5, ".json") == 0 ? blen - 5 : blen),
             base);
    const cJSON *n;
    cJSON_ArrayForEach(n, names) {
        if (!cJSON_IsString(n)) continue;
        const char *v = n->valuestring;
        if (strcmp(v, "*") == 0 || (generator[0] && strcmp(v, generator) == 0) ||
            (base[0] && (strcmp(v, base) == 0 || strcmp(v, stem) == 0)))
            return 1;
    }
    return 0;
}

size_t rp_published_match(const cJSON *published, const rp_case *column, const cJSON *metric_def, const char *metric_id,
                          const cJSON **out, size_t max)
{
    size_t n = 0;
    const char *metric_name = metric_def ? rp_str(metric_def, "metric") : metric_id;
    if (!metric_name[0]) metric_name = metric_id;
    const cJSON *e;
    cJSON_ArrayForEach(e, published) {
        if (n >= max) break;
        if (strcmp(rp_str(e, "metric"), metric_name) != 0) continue;
        double acc = rp_num(e, "acceleration");
        if (!isnan(acc) && !(fabs(acc - column->acceleration) <= RP_ACCEL_EPS)) continue;
        const cJSON *match = rp_get(e, "match");
        if (!dataset_matches(rp_get(match, "datasets"), column)) continue;
        int ok = 1;
        const cJSON *p;
        cJSON_ArrayForEach(p, rp_get(match, "metric_params"))
            if (!json_scalar_equal(p, rp_get2(metric_def, "params", p->string))) ok = 0;
        if (ok) out[n++] = e;
    }
    return n;
}
