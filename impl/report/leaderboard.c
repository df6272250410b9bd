/* Challenge-style leaderboards: every method of every submission is an
 * entry; entries are ranked per item and metric and the ranks averaged
 * (rank-then-aggregate, as BraTS ranks teams), or ranked on their mean
 * (aggregate-then-rank); a seeded bootstrap over items says how often each
 * entry keeps its rank. Rules in impl/report/README.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/rng.h"
#include "mrbench/stats.h"
#include "report/report_internal.h"

/* Central interval of bootstrap ranks reported next to the stability. */
#define LB_RANK_INTERVAL 95.0
/* Largest number of entries and metrics in one leaderboard. */
#define LB_MAX_ENTRIES 256
#define LB_MAX_METRICS 16

typedef struct lb_entry {
    const cJSON *results;
    const char *submission, *method;
    char label[256];
} lb_entry;

typedef struct lb_item {
    const char *dataset, *sampling, *id;
} lb_item;

typedef struct lb {
    lb_entry e[LB_MAX_ENTRIES];
    size_t ne;
    lb_item *items;
    size_t ni;
    const char *metric[LB_MAX_METRICS];
    int hib[LB_MAX_METRICS];
    const cJSON *def[LB_MAX_METRICS];
    size_t nm;
    double *v; /* [metric][entry][item] */
} lb;

static int has_method(const lb *b, const cJSON *r, const char *m)
{
    for (size_t i = 0; i < b->ne; i++)
        if (b->e[i].results == r && strcmp(b->e[i].method, m) == 0) return 1;
    return 0;
}

static int item_index(const lb *b, const char *ds, const char *sm, const char *id)
{
    for (size_t i = 0; i < b->ni; i++)
        if (strcmp(b->items[i].dataset, ds) == 0 && strcmp(b->items[i].sampling, sm) == 0 &&
            strcmp(b->items[i].id, id) == 0)
            return (int)i;
    return -1;
}

static mrb_status collect(lb *b, const cJSON *const *subs, const char *const *names, size_t n,
                          const mrb_leaderboard_opts *o)
{
    /* Entries. */
    for (size_t s = 0; s < n; s++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, rp_get(subs[s], "cases")) {
            const char *m = rp_str(c, "method");
            if (has_method(b, subs[s], m)) continue;
            if (b->ne == LB_MAX_ENTRIES)
                return mrb_error(MRB_ERR_INVALID, "leaderboard: more than %d entries", LB_MAX_ENTRIES);
            lb_entry *e = &b->e[b->ne++];
            e->results = subs[s];
            e->submission = names[s];
            e->method = m;
        }
    }
    if (b->ne == 0) return mrb_error(MRB_ERR_INVALID, "leaderboard: the submissions hold no cases");
    for (size_t i = 0; i < b->ne; i++) {
        int dup = 0;
        for (size_t j = 0; j < b->ne; j++) dup |= j != i && strcmp(b->e[i].method, b->e[j].method) == 0;
        if (dup)
            snprintf(b->e[i].label, sizeof b->e[i].label, "%s [%s]", b->e[i].method, b->e[i].submission);
        else
            snprintf(b->e[i].label, sizeof b->e[i].label, "%s", b->e[i].method);
    }
    /* The same data set id must hold the same data in every submission. */
    for (size_t s = 0; s < n; s++)
        for (size_t t = s + 1; t < n; t++) {
            const cJSON *a, *d;
            cJSON_ArrayForEach(a, rp_get(subs[s], "datasets"))
                cJSON_ArrayForEach(d, rp_get(subs[t], "datasets")) {
                    if (strcmp(rp_str(a, "id"), rp_str(d, "id")) == 0 &&
                        strcmp(rp_str(a, "data_sha256"), rp_str(d, "data_sha256")) != 0)
                        return mrb_error(MRB_ERR_INVALID,
                                         "leaderboard: %s and %s scored data set '%s' on different data (data_sha256 "
                                         "%.12s vs %.12s)",
                                         names[s], names[t], rp_str(a, "id"), rp_str(a, "data_sha256"),
                                         rp_str(d, "data_sha256"));
                }
        }
    /* Metrics: given, or every metric id that every submission defines. */
    if (o->metrics && o->nmetrics) {
        for (size_t k = 0; k < o->nmetrics; k++) {
            if (b->nm == LB_MAX_METRICS)
                return mrb_error(MRB_ERR_INVALID, "leaderboard: more than %d metrics", LB_MAX_METRICS);
            b->metric[b->nm++] = o->metrics[k];
        }
    } else {
        const cJSON *m;
        cJSON_ArrayForEach(m, rp_get2(subs[0], "suite", "metric_definitions")) {
            int all = 1;
            for (size_t s = 1; s < n; s++)
                all &= rp_get(rp_get2(subs[s], "suite", "metric_definitions"), m->string) != NULL;
            if (all && b->nm < LB_MAX_METRICS) b->metric[b->nm++] = m->string;
        }
    }
    if (b->nm == 0) return mrb_error(MRB_ERR_INVALID, "leaderboard: the submissions share no metric");
    for (size_t k = 0; k < b->nm; k++) {
        for (size_t s = 0; s < n && !b->def[k]; s++) {
            const cJSON *d = rp_get(rp_get2(subs[s], "suite", "metric_definitions"), b->metric[k]);
            if (cJSON_IsObject(d)) b->def[k] = d;
        }
        if (!b->def[k])
            return mrb_error(MRB_ERR_INVALID, "leaderboard: metric '%s' is not defined by any submission",
                             b->metric[k]);
        b->hib[k] = rp_higher_is_better(b->def[k]);
    }
    /* Items: the union over entries of (dataset, sampling, item id). */
    size_t cap = 0;
    for (size_t s = 0; s < n; s++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, rp_get(subs[s], "cases")) cap += (size_t)cJSON_GetArraySize(rp_get(c, "items"));
    }
    b->items = calloc(cap ? cap : 1, sizeof *b->items);
    if (!b->items) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < n; s++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, rp_get(subs[s], "cases")) {
            const cJSON *it;
            cJSON_ArrayForEach(it, rp_get(c, "items")) {
                if (item_index(b, rp_str(c, "dataset"), rp_str(c, "sampling"), rp_str(it, "id")) >= 0) continue;
                b->items[b->ni++] = (lb_item){rp_str(c, "dataset"), rp_str(c, "sampling"), rp_str(it, "id")};
            }
        }
    }
    if (b->ni == 0) return mrb_error(MRB_ERR_INVALID, "leaderboard: the submissions hold no items");
    /* Submissions that share no item were run on different benchmarks: each
     * entry would win the items only it has. */
    unsigned char *has = calloc(n * b->ni, 1);
    if (!has) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    for (size_t s = 0; s < n; s++) {
        const cJSON *c, *it;
        cJSON_ArrayForEach(c, rp_get(subs[s], "cases"))
            cJSON_ArrayForEach(it, rp_get(c, "items"))
                has[s * b->ni + (size_t)item_index(b, rp_str(c, "dataset"), rp_str(c, "sampling"), rp_str(it, "id"))] =
                    1;
    }
    mrb_status st = MRB_OK;
    for (size_t s = 0; s < n && st == MRB_OK; s++)
        for (size_t t = s + 1; t < n && st == MRB_OK; t++) {
            int shared = 0;
            for (size_t i = 0; i < b->ni && !shared; i++) shared = has[s * b->ni + i] && has[t * b->ni + i];
            if (!shared)
                st = mrb_error(MRB_ERR_INVALID,
                               "leaderboard: %s and %s share no item (data set, sampling, item id): they were not run "
                               "on the same benchmark",
                               names[s], names[t]);
        }
    free(has);
    MRB_TRY(st);
    b->v = malloc(b->nm * b->ne * b->ni * sizeof *b->v);
    if (!b->v) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    for (size_t x = 0; x < b->nm * b->ne * b->ni; x++) b->v[x] = NAN;
    for (size_t e = 0; e < b->ne; e++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, rp_get(b->e[e].results, "cases")) {
            if (strcmp(rp_str(c, "method"), b->e[e].method) != 0 || strcmp(rp_str(c, "status"), "ok") != 0) continue;
            const cJSON *it;
            cJSON_ArrayForEach(it, rp_get(c, "items")) {
                int i = item_index(b, rp_str(c, "dataset"), rp_str(c, "sampling"), rp_str(it, "id"));
                for (size_t k = 0; k < b->nm && i >= 0; k++) {
                    const cJSON *val = rp_get2(it, "metrics", b->metric[k]);
                    if (cJSON_IsNumber(val)) b->v[(k * b->ne + e) * b->ni + (size_t)i] = val->valuedouble;
                }
            }
        }
    }
    return MRB_OK;
}

/* Overall rank-then-aggregate score of each entry under item weights:
 * the mean over metrics of the per-metric mean ranks; per_metric[k * ne + e]
 * receives each metric's mean rank. */
static mrb_status scores(const lb *b, const double *w, double *per_metric, double *overall)
{
    for (size_t e = 0; e < b->ne; e++) overall[e] = 0;
    for (size_t k = 0; k < b->nm; k++) {
        MRB_TRY(mrb_rank_then_aggregate(b->v + k * b->ne * b->ni, b->ne, b->ni, b->hib[k], w, per_metric + k * b->ne));
        for (size_t e = 0; e < b->ne; e++) overall[e] += per_metric[k * b->ne + e] / (double)b->nm;
    }
    return MRB_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static cJSON *num(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

mrb_status mrb_leaderboard(const cJSON *const *subs, const char *const *names, size_t n, const mrb_leaderboard_opts *o,
                           cJSON **board)
{
    *board = NULL;
    mrb_leaderboard_opts defaults = {0};
    if (!o) o = &defaults;
    if (n == 0) return mrb_error(MRB_ERR_INVALID, "leaderboard: no submissions");
    lb *b = calloc(1, sizeof *b);
    if (!b) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    mrb_status st = collect(b, subs, names, n, o);
    size_t ne = b->ne, nm = b->nm, ni = b->ni, B = o->resamples ? o->resamples : MRB_LEADERBOARD_RESAMPLES;
    /* Per metric and overall ("metric" nm): scores, ranks, aggregate-then-rank. */
    size_t nscope = nm + 1;
    double *score = NULL, *rank = NULL, *mean = NULL, *atr_rank = NULL, *atr_score = NULL, *kept = NULL, *boot = NULL,
           *w = NULL, *tmp = NULL, *missing = NULL;
    if (st == MRB_OK) {
        score = calloc(nscope * ne, sizeof *score);
        rank = calloc(nscope * ne, sizeof *rank);
        mean = calloc(nscope * ne, sizeof *mean);
        atr_rank = calloc(nscope * ne, sizeof *atr_rank);
        atr_score = calloc(nscope * ne, sizeof *atr_score);
        kept = calloc(nscope * ne, sizeof *kept);
        boot = calloc(nscope * ne * B, sizeof *boot);
        w = calloc(ni, sizeof *w);
        tmp = calloc(nscope * ne, sizeof *tmp);
        missing = calloc(ne, sizeof *missing);
        if (!score || !rank || !mean || !atr_rank || !atr_score || !kept || !boot || !w || !tmp || !missing)
            st = mrb_error(MRB_ERR_NOMEM, "leaderboard: out of memory (%zu resamples)", B);
    }
    if (st == MRB_OK) st = scores(b, NULL, score, score + nm * ne);
    for (size_t k = 0; k < nscope && st == MRB_OK; k++) st = mrb_rank_best_first(score + k * ne, ne, 0, rank + k * ne);
    /* Aggregate-then-rank: mean over the items an entry has (NaN excluded). */
    for (size_t k = 0; k < nm && st == MRB_OK; k++) {
        for (size_t e = 0; e < ne; e++) {
            mrb_summary s;
            mrb_summarize(b->v + (k * ne + e) * ni, ni, &s);
            mean[k * ne + e] = s.mean;
            atr_score[k * ne + e] = s.mean;
            if (k == 0) missing[e] = (double)s.n_nan;
        }
        st = mrb_rank_best_first(mean + k * ne, ne, b->hib[k], atr_rank + k * ne);
        for (size_t e = 0; e < ne; e++) atr_score[nm * ne + e] += atr_rank[k * ne + e] / (double)nm;
    }
    if (st == MRB_OK) st = mrb_rank_best_first(atr_score + nm * ne, ne, 0, atr_rank + nm * ne);
    /* Bootstrap over items: how often each entry keeps its rank. */
    mrb_rng rng;
    mrb_rng_seed(&rng, o->seed);
    for (size_t r = 0; r < B && st == MRB_OK; r++) {
        for (size_t i = 0; i < ni; i++) w[i] = 0;
        for (size_t i = 0; i < ni; i++) w[mrb_rng_below(&rng, ni)] += 1;
        st = scores(b, w, tmp, tmp + nm * ne);
        for (size_t k = 0; k < nscope && st == MRB_OK; k++) {
            double rr[LB_MAX_ENTRIES];
            st = mrb_rank_best_first(tmp + k * ne, ne, 0, rr);
            for (size_t e = 0; e < ne; e++) {
                boot[(k * ne + e) * B + r] = rr[e];
                if (rr[e] == rank[k * ne + e]) kept[k * ne + e] += 1; /* a count: divided once at the end */
            }
        }
    }

    cJSON *out = NULL;
    if (st == MRB_OK) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "kind", "mrbench-leaderboard");
        cJSON_AddNumberToObject(out, "version", 1);
        cJSON_AddStringToObject(out, "title", o->title ? o->title : "mrbench leaderboard");
        cJSON_AddNumberToObject(out, "seed", (double)o->seed);
        cJSON_AddNumberToObject(out, "resamples", (double)B);
        cJSON_AddNumberToObject(out, "items", (double)ni);
        cJSON *sj = cJSON_AddArrayToObject(out, "submissions");
        for (size_t s = 0; s < n; s++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "name", names[s]);
            cJSON_AddStringToObject(x, "suite", rp_str(rp_get(subs[s], "suite"), "name"));
            cJSON_AddStringToObject(x, "suite_sha256", rp_str(rp_get(subs[s], "suite"), "sha256"));
            cJSON_AddStringToObject(x, "started", rp_str(rp_get(subs[s], "context"), "started"));
            cJSON_AddItemToArray(sj, x);
        }
        cJSON *mj = cJSON_AddArrayToObject(out, "metrics");
        for (size_t k = 0; k < nm; k++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "id", b->metric[k]);
            cJSON_AddStringToObject(x, "unit", rp_str(b->def[k], "unit"));
            cJSON_AddBoolToObject(x, "higher_is_better", b->hib[k]);
            cJSON_AddItemToArray(mj, x);
        }
        /* Entries in order of their overall rank (ties: input order). */
        size_t order[LB_MAX_ENTRIES];
        for (size_t e = 0; e < ne; e++) order[e] = e;
        for (size_t a = 1; a < ne; a++)
            for (size_t c = a; c > 0 && rank[nm * ne + order[c]] < rank[nm * ne + order[c - 1]]; c--) {
                size_t t = order[c];
                order[c] = order[c - 1];
                order[c - 1] = t;
            }
        cJSON *ej = cJSON_AddArrayToObject(out, "entries");
        for (size_t oi = 0; oi < ne; oi++) {
            size_t e = order[oi];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "label", b->e[e].label);
            cJSON_AddStringToObject(x, "submission", b->e[e].submission);
            cJSON_AddStringToObject(x, "method", b->e[e].method);
            cJSON_AddNumberToObject(x, "missing_items", missing[e]);
            cJSON *scopes = cJSON_AddObjectToObject(x, "scores");
            for (size_t k = 0; k < nscope; k++) {
                cJSON *y = cJSON_AddObjectToObject(scopes, k < nm ? b->metric[k] : "overall");
                if (k < nm) cJSON_AddItemToObject(y, "mean", num(mean[k * ne + e]));
                cJSON_AddItemToObject(y, "mean_rank", num(score[k * ne + e]));
                cJSON_AddItemToObject(y, "rank", num(rank[k * ne + e]));
                if (k == nm) cJSON_AddItemToObject(y, "aggregate_then_rank_score", num(atr_score[k * ne + e]));
                cJSON_AddItemToObject(y, "aggregate_then_rank", num(atr_rank[k * ne + e]));
                cJSON_AddItemToObject(y, "stability", num(kept[k * ne + e] / (double)B));
                double *bs = boot + (k * ne + e) * B;
                mrb_summary s;
                mrb_summarize(bs, B, &s);
                double *sorted = malloc(B * sizeof *sorted);
                if (sorted) {
                    memcpy(sorted, bs, B * sizeof *sorted);
                    qsort(sorted, B, sizeof *sorted, cmp_double);
                    cJSON_AddItemToObject(y, "bootstrap_rank_low",
                                          num(mrb_percentile_sorted(sorted, B, (100 - LB_RANK_INTERVAL) / 2)));
                    cJSON_AddItemToObject(y, "bootstrap_rank_high",
                                          num(mrb_percentile_sorted(sorted, B, 100 - (100 - LB_RANK_INTERVAL) / 2)));
                    free(sorted);
                }
                cJSON_AddItemToObject(y, "bootstrap_rank_mean", num(s.mean));
            }
            cJSON_AddItemToArray(ej, x);
        }
    }
    free(score), free(rank), free(mean), free(atr_rank), free(atr_score), free(kept), free(boot), free(w), free(tmp),
        free(missing);
    free(b->items);
    free(b->v);
    free(b);
    if (st != MRB_OK) {
        cJSON_Delete(out);
        return st;
    }
    *board = out;
    return MRB_OK;
}
