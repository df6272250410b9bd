/* mrbench compare: is NEW different from BASE? Accuracy by paired per-item
 * differences (Wilcoxon signed-rank, Benjamini-Hochberg, bootstrap interval
 * of the mean difference, tolerances); timing by the ratio of medians with a
 * Mann-Whitney U test on the raw samples and a minimum practical effect.
 * The rules are in impl/report/README.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/rng.h"
#include "mrbench/stats.h"
#include "report/report_internal.h"

/* A tolerance never falls below this fraction of |base mean|: floating-point
 * noise (e.g. another thread count changing a summation order) is SAME. */
#define COMPARE_REL_FLOOR 1e-9

typedef struct tol_entry {
    const char *metric;
    double tol;
} tol_entry;

/* Defaults, in each metric's unit: half the last digit papers and challenge
 * leaderboards print (PSNR to 0.1 dB as in Schlemper et al. 2017; SSIM and
 * Dice to 3 decimals as on the fastMRI and BraTS leaderboards; NMSE to 4
 * decimals as on the fastMRI leaderboard; distances to 0.1 mm). */
static const tol_entry default_tolerances[] = {
    {"psnr", 0.05}, {"ssim", 0.0005}, {"nmse", 0.00005}, {"dice", 0.0005},  {"nsd", 0.0005},
    {"hd", 0.05},   {"hd95", 0.05},   {"assd", 0.05},    {"voldiff", 0.05},
};

double mrb_compare_default_tolerance(const char *metric)
{
    for (size_t i = 0; i < sizeof default_tolerances / sizeof *default_tolerances; i++)
        if (strcmp(default_tolerances[i].metric, metric) == 0) return default_tolerances[i].tol;
    return 0.0;
}

typedef struct acc_row {
    const cJSON *bc, *nc; /* cases */
    const char *key, *metric;
    int hib;
    size_t n, n_nan;
    size_t base_values, new_values; /* items with a value, over BASE's items */
    double mean_base, mean_new, mean_diff, median_diff, lo, hi, tol;
    mrb_test_result w;
    double q;
    int all_beyond; /* every pair moved the same way by more than tol */
    int dir;        /* +1 better, -1 worse, 0 none */
    const char *verdict, *reason;
} acc_row;

typedef struct time_row {
    const char *key;
    size_t nb, nn;
    double med_base, med_new, ratio;
    mrb_test_result u;
    double q;
    const char *verdict;
} time_row;

static const char *mode_name(mrb_test_mode m)
{
    return m == MRB_TEST_EXACT ? "exact" : m == MRB_TEST_APPROX ? "normal approximation" : "none";
}

static double tolerance_for(const mrb_compare_opts *o, const char *id, const char *name)
{
    for (size_t i = 0; i < o->ntol; i++)
        if (strcmp(o->tol_metric[i], id) == 0) return o->tol_value[i];
    for (size_t i = 0; i < o->ntol; i++)
        if (strcmp(o->tol_metric[i], name) == 0) return o->tol_value[i];
    return mrb_compare_default_tolerance(name);
}

static const cJSON *find_case(const cJSON *results, const char *key)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, rp_get(results, "cases"))
        if (strcmp(rp_str(c, "key"), key) == 0) return c;
    return NULL;
}

static const cJSON *find_item(const cJSON *c, const char *id)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, rp_get(c, "items"))
        if (strcmp(rp_str(it, "id"), id) == 0) return it;
    return NULL;
}

static double *number_array(const cJSON *a, size_t *n)
{
    *n = 0;
    size_t cap = (size_t)cJSON_GetArraySize(a);
    double *v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v) return NULL;
    const cJSON *x;
    cJSON_ArrayForEach(x, a)
        if (cJSON_IsNumber(x) && !isnan(x->valuedouble)) v[(*n)++] = x->valuedouble;
    return v;
}

/* Refuses runs of different suites or data unless forced; warnings otherwise. */
static mrb_status check_same(const cJSON *base, const cJSON *now, int force, cJSON *warnings)
{
    const cJSON *bs = rp_get(base, "suite"), *ns = rp_get(now, "suite");
    char msg[1024];
    if (strcmp(rp_str(bs, "name"), rp_str(ns, "name")) != 0 ||
        strcmp(rp_str(bs, "sha256"), rp_str(ns, "sha256")) != 0) {
        snprintf(msg, sizeof msg, "runs of different suites: BASE '%s' (SHA-256 %.12s), NEW '%s' (SHA-256 %.12s)",
                 rp_str(bs, "name"), rp_str(bs, "sha256"), rp_str(ns, "name"), rp_str(ns, "sha256"));
        if (!force) return mrb_error(MRB_ERR_INVALID, "%s; use --force to compare anyway", msg);
        cJSON_AddItemToArray(warnings, cJSON_CreateString(msg));
    }
    const cJSON *bd;
    cJSON_ArrayForEach(bd, rp_get(base, "datasets")) {
        const cJSON *nd;
        cJSON_ArrayForEach(nd, rp_get(now, "datasets")) {
            if (strcmp(rp_str(bd, "id"), rp_str(nd, "id")) != 0) continue;
            if (strcmp(rp_str(bd, "data_sha256"), rp_str(nd, "data_sha256")) != 0) {
                snprintf(msg, sizeof msg, "data set '%s' differs: data_sha256 %.12s in BASE, %.12s in NEW",
                         rp_str(bd, "id"), rp_str(bd, "data_sha256"), rp_str(nd, "data_sha256"));
                if (!force) return mrb_error(MRB_ERR_INVALID, "%s; use --force to compare anyway", msg);
                cJSON_AddItemToArray(warnings, cJSON_CreateString(msg));
            }
        }
    }
    return MRB_OK;
}

static mrb_status accuracy_row(const mrb_compare_opts *o, acc_row *r)
{
    size_t cap = (size_t)cJSON_GetArraySize(rp_get(r->bc, "items"));
    double *d = malloc((cap ? cap : 1) * sizeof *d), *bv = malloc((cap ? cap : 1) * sizeof *bv),
           *nv = malloc((cap ? cap : 1) * sizeof *nv);
    if (!d || !bv || !nv) {
        free(d), free(bv), free(nv);
        return mrb_error(MRB_ERR_NOMEM, "compare: out of memory");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, rp_get(r->bc, "items")) {
        const cJSON *jt = find_item(r->nc, rp_str(it, "id"));
        const cJSON *a = rp_get2(it, "metrics", r->metric), *b = rp_get2(jt, "metrics", r->metric);
        if (!a) continue;
        double x = cJSON_IsNumber(a) ? a->valuedouble : NAN, y = cJSON_IsNumber(b) ? b->valuedouble : NAN;
        r->base_values += !isnan(x);
        r->new_values += !isnan(y);
        if (!jt) continue;
        if (isnan(x) || isnan(y)) {
            r->n_nan++;
            continue;
        }
        bv[r->n] = x;
        nv[r->n] = y;
        d[r->n] = x == y ? 0.0 : y - x; /* equal infinities are no change */
        r->n++;
    }
    mrb_summary sb, sn, sd;
    mrb_summarize(bv, r->n, &sb);
    mrb_summarize(nv, r->n, &sn);
    mrb_summarize(d, r->n, &sd);
    r->mean_base = sb.mean;
    r->mean_new = sn.mean;
    r->mean_diff = sd.mean;
    r->median_diff = sd.median;
    r->tol = fmax(r->tol, COMPARE_REL_FLOOR * fabs(sb.mean));
    mrb_status st = mrb_wilcoxon(d, r->n, &r->w);
    char tag[512];
    snprintf(tag, sizeof tag, "%s|%s", r->key, r->metric);
    if (st == MRB_OK)
        st = mrb_bootstrap_mean_ci(d, r->n, o->resamples ? o->resamples : MRB_COMPARE_RESAMPLES, MRB_COMPARE_CI_LEVEL,
                                   mrb_seed_derive(o->seed, tag, 0), &r->lo, &r->hi);
    size_t worse = 0, better = 0;
    for (size_t i = 0; i < r->n; i++) {
        int good = r->hib ? d[i] > 0 : d[i] < 0;
        if (fabs(d[i]) > r->tol) {
            if (good)
                better++;
            else
                worse++;
        }
    }
    r->all_beyond = r->n > 0 && (worse == r->n || better == r->n);
    free(d), free(bv), free(nv);
    if (isnan(r->mean_diff) || r->mean_diff == 0)
        r->dir = 0;
    else
        r->dir = (r->hib ? r->mean_diff > 0 : r->mean_diff < 0) ? 1 : -1;
    return st;
}

/* Values in BASE and none in NEW (null, i.e. NaN or infinite, or absent). */
static int row_lost(const acc_row *r)
{
    return r->base_values > 0 && r->new_values == 0;
}

static void verdict_accuracy(acc_row *r, double alpha)
{
    if (row_lost(r)) {
        r->verdict = "LOST";
        r->reason = "values in BASE, none in NEW (null or absent)";
    } else if (r->n == 0) {
        r->verdict = "NO DATA";
        r->reason = "no item with a value in both runs";
    } else if (r->w.mode == MRB_TEST_NONE) {
        r->verdict = "IDENTICAL";
        r->reason = "every paired difference is zero";
    } else if (!(fabs(r->mean_diff) > r->tol)) {
        r->verdict = "SAME";
        r->reason = "mean difference within tolerance";
    } else if (r->q < alpha) {
        r->verdict = r->dir > 0 ? "BETTER" : "WORSE";
        r->reason = "beyond tolerance and significant (Wilcoxon, BH-adjusted)";
    } else if (r->w.min_pvalue >= alpha && r->all_beyond) {
        r->verdict = r->dir > 0 ? "BETTER" : "WORSE";
        r->reason =
            "too few items for the test to reach significance; every item changed the same way beyond tolerance";
    } else {
        r->verdict = "AMBIGUOUS";
        r->reason = "beyond tolerance but not significant";
    }
}

static void verdict_timing(time_row *t, double thr, double alpha)
{
    if (t->nb == 0 || t->nn == 0 || !(t->med_base > 0))
        t->verdict = "NO DATA";
    else if (t->ratio <= 1 + thr && t->ratio >= 1 / (1 + thr))
        t->verdict = "SAME";
    else if (t->q < alpha)
        t->verdict = t->ratio > 1 ? "SLOWER" : "FASTER";
    else
        t->verdict = "AMBIGUOUS";
}

static void run_info(rp_buf *md, const char *which, const cJSON *r)
{
    const cJSON *ctx = rp_get(r, "context"), *build = rp_get(ctx, "build");
    rp_printf(md, "- %s: suite `%s` (SHA-256 %.12s), run %s on %s, mrbench %s commit %.12s%s, %s\n", which,
              rp_str(rp_get(r, "suite"), "name"), rp_str(rp_get(r, "suite"), "sha256"), rp_str(ctx, "started"),
              rp_str(ctx, "host"), rp_str(build, "mrbench_version"), rp_str(build, "git_commit"),
              cJSON_IsTrue(rp_get(build, "git_dirty")) ? " (dirty)" : "", rp_str(rp_get(ctx, "machine"), "cpu_model"));
}

/* A case that was ok in BASE and is not usable in NEW: a regression. */
static void add_lost(cJSON *lost, const char *key, const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "case", key);
    cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddItemToArray(lost, o);
}

/* After the rows [first, last) of one case: a metric that had values in
 * BASE and has none in NEW loses the case. */
static void check_lost_values(const acc_row *rows, size_t first, size_t last, const char *key, cJSON *lost)
{
    size_t with_values = 0, nlost = 0, pos = 0;
    char names[400] = "";
    for (size_t i = first; i < last; i++) {
        with_values += rows[i].base_values > 0;
        if (!row_lost(&rows[i])) continue;
        nlost++;
        if (pos < sizeof names)
            pos += (size_t)snprintf(names + pos, sizeof names - pos, "%s%s", pos ? ", " : "", rows[i].metric);
    }
    if (!nlost) return;
    char reason[512];
    if (nlost == with_values)
        snprintf(reason, sizeof reason, "ok in BASE, no metric values in NEW (%s: all null or absent)", names);
    else
        snprintf(reason, sizeof reason, "ok in BASE, no values in NEW for %s (all null or absent)", names);
    add_lost(lost, key, reason);
}

static cJSON *test_json(const mrb_test_result *t, double q)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "statistic", t->statistic);
    cJSON_AddNumberToObject(o, "p", t->pvalue);
    cJSON_AddNumberToObject(o, "q", q);
    cJSON_AddStringToObject(o, "mode", mode_name(t->mode));
    if (!isnan(t->z)) cJSON_AddNumberToObject(o, "z", t->z);
    cJSON_AddNumberToObject(o, "min_p", t->min_pvalue);
    cJSON_AddNumberToObject(o, "n", (double)t->n);
    return o;
}

mrb_status mrb_compare(const cJSON *base, const cJSON *now, const mrb_compare_opts *opts, cJSON **json, char **markdown,
                       mrb_compare_outcome *outcome)
{
    *json = NULL;
    *markdown = NULL;
    mrb_compare_outcome oc0;
    mrb_compare_outcome *oc = outcome ? outcome : &oc0;
    memset(oc, 0, sizeof *oc);
    mrb_compare_opts o = *opts;
    if (!(o.alpha > 0)) o.alpha = MRB_COMPARE_ALPHA;
    if (!(o.time_threshold > 0)) o.time_threshold = MRB_COMPARE_TIME_THRESHOLD;
    if (!(o.time_alpha > 0)) o.time_alpha = MRB_COMPARE_TIME_ALPHA;
    if (!o.resamples) o.resamples = MRB_COMPARE_RESAMPLES;

    cJSON *out = cJSON_CreateObject();
    if (!out) return mrb_error(MRB_ERR_NOMEM, "out of memory");
    cJSON *warnings = cJSON_CreateArray();
    mrb_status st = check_same(base, now, o.force, warnings);
    if (st != MRB_OK) {
        cJSON_Delete(warnings);
        cJSON_Delete(out);
        return st;
    }

    /* Collect rows: cases ok in both, each metric of BASE; cases ok in BASE
     * and not usable in NEW are lost. */
    size_t nb = (size_t)cJSON_GetArraySize(rp_get(base, "cases"));
    size_t maxrows = 1;
    const cJSON *bc;
    cJSON_ArrayForEach(bc, rp_get(base, "cases")) maxrows += (size_t)cJSON_GetArraySize(rp_get(bc, "metrics"));
    acc_row *rows = calloc(maxrows, sizeof *rows);
    time_row *trows = calloc(nb + 1, sizeof *trows);
    cJSON *only_base = cJSON_CreateArray(), *only_new = cJSON_CreateArray(), *not_ok = cJSON_CreateArray(),
          *both_failed = cJSON_CreateArray(), *lost = cJSON_CreateArray();
    if (!rows || !trows) {
        free(rows), free(trows);
        cJSON_Delete(out), cJSON_Delete(warnings), cJSON_Delete(only_base), cJSON_Delete(only_new),
            cJSON_Delete(not_ok), cJSON_Delete(both_failed), cJSON_Delete(lost);
        return mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    size_t nrows = 0, ntrows = 0;
    const cJSON *bdefs = rp_get2(base, "suite", "metric_definitions");
    cJSON_ArrayForEach(bc, rp_get(base, "cases")) {
        const char *key = rp_str(bc, "key");
        const cJSON *nc = find_case(now, key);
        int base_ok = strcmp(rp_str(bc, "status"), "ok") == 0;
        if (!nc) {
            cJSON_AddItemToArray(only_base, cJSON_CreateString(key));
            if (base_ok) add_lost(lost, key, "ok in BASE, missing from NEW");
            continue;
        }
        int new_ok = strcmp(rp_str(nc, "status"), "ok") == 0;
        if (!base_ok && !new_ok) {
            cJSON_AddItemToArray(both_failed, cJSON_CreateString(key));
            continue;
        }
        if (!base_ok || !new_ok) {
            cJSON_AddItemToArray(not_ok, cJSON_CreateString(key));
            if (base_ok) {
                char reason[512];
                const char *err = rp_str(nc, "error");
                snprintf(reason, sizeof reason, "ok in BASE, %s in NEW%s%.400s",
                         rp_str(nc, "status")[0] ? rp_str(nc, "status") : "no status", err[0] ? ": " : "", err);
                add_lost(lost, key, reason);
            }
            continue;
        }
        oc->cases++;
        size_t first_row = nrows;
        const cJSON *m;
        cJSON_ArrayForEach(m, rp_get(bc, "metrics")) {
            if (st != MRB_OK) continue;
            const cJSON *def = rp_get(bdefs, m->string);
            const char *name = rp_str(def, "metric")[0] ? rp_str(def, "metric") : m->string;
            acc_row *r = &rows[nrows++];
            r->bc = bc;
            r->nc = nc;
            r->key = key;
            r->metric = m->string;
            r->hib = rp_higher_is_better(def);
            r->tol = tolerance_for(&o, m->string, name);
            st = accuracy_row(&o, r);
        }
        check_lost_values(rows, first_row, nrows, key, lost);
        time_row *t = &trows[ntrows++];
        t->key = key;
        double *sb = number_array(rp_get2(bc, "timing", "samples_s"), &t->nb);
        double *sn = number_array(rp_get2(nc, "timing", "samples_s"), &t->nn);
        if (!sb || !sn) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
        if (st == MRB_OK) {
            mrb_summary s1, s2;
            mrb_summarize(sb, t->nb, &s1);
            mrb_summarize(sn, t->nn, &s2);
            t->med_base = s1.median;
            t->med_new = s2.median;
            t->ratio = s2.median / s1.median;
            st = mrb_mannwhitney(sn, t->nn, sb, t->nb, &t->u);
        }
        free(sb), free(sn);
    }
    cJSON *nc;
    cJSON_ArrayForEach(nc, rp_get(now, "cases"))
        if (!find_case(base, rp_str(nc, "key"))) cJSON_AddItemToArray(only_new, cJSON_CreateString(rp_str(nc, "key")));

    /* Benjamini-Hochberg within each family: accuracy tests, timing tests. */
    double *p = malloc((nrows + ntrows + 1) * sizeof *p), *q = malloc((nrows + ntrows + 1) * sizeof *q);
    if ((!p || !q) && st == MRB_OK) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    if (st == MRB_OK) {
        for (size_t i = 0; i < nrows; i++) p[i] = rows[i].w.mode == MRB_TEST_NONE ? NAN : rows[i].w.pvalue;
        st = mrb_bh_adjust(p, nrows, q);
        for (size_t i = 0; i < nrows; i++) {
            rows[i].q = isnan(q[i]) ? 1.0 : q[i];
            verdict_accuracy(&rows[i], o.alpha);
        }
    }
    if (st == MRB_OK) {
        for (size_t i = 0; i < ntrows; i++) p[i] = trows[i].u.mode == MRB_TEST_NONE ? NAN : trows[i].u.pvalue;
        st = mrb_bh_adjust(p, ntrows, q);
        for (size_t i = 0; i < ntrows; i++) {
            trows[i].q = isnan(q[i]) ? 1.0 : q[i];
            verdict_timing(&trows[i], o.time_threshold, o.time_alpha);
        }
    }
    free(p), free(q);

    rp_buf md = {0};
    if (st == MRB_OK) {
        size_t ntests = 0;
        for (size_t i = 0; i < nrows; i++) ntests += rows[i].w.mode != MRB_TEST_NONE;
        oc->tests = nrows;
        for (size_t i = 0; i < nrows; i++) {
            const char *v = rows[i].verdict;
            if (strcmp(v, "WORSE") == 0)
                oc->worse++;
            else if (strcmp(v, "BETTER") == 0)
                oc->better++;
            else if (strcmp(v, "AMBIGUOUS") == 0)
                oc->ambiguous++;
            else if (strcmp(v, "LOST") != 0)
                oc->same++;
        }
        for (size_t i = 0; i < ntrows; i++) {
            const char *v = trows[i].verdict;
            if (strcmp(v, "SLOWER") == 0)
                oc->slower++;
            else if (strcmp(v, "FASTER") == 0)
                oc->faster++;
            else if (strcmp(v, "AMBIGUOUS") == 0)
                oc->time_ambiguous++;
        }
        oc->lost = (size_t)cJSON_GetArraySize(lost);
        oc->regressions = oc->worse + oc->lost + (o.time_gate ? oc->slower : 0);

        rp_printf(&md, "# mrbench compare\n\n");
        run_info(&md, "BASE", base);
        run_info(&md, "NEW", now);
        rp_printf(&md, "\n");
        const cJSON *w;
        cJSON_ArrayForEach(w, warnings) rp_printf(&md, "> warning (--force): %s\n", w->valuestring);
        if (cJSON_GetArraySize(warnings)) rp_printf(&md, "\n");
        rp_printf(
            &md,
            "**%s**: %zu case(s) compared; %zu case(s) lost (ok in BASE; failed, missing or without values in NEW); "
            "accuracy: %zu worse, %zu better, %zu ambiguous, %zu same or identical "
            "(%zu comparisons, %zu with a test, Benjamini-Hochberg at FDR %g); timing: %zu slower, %zu faster, %zu "
            "ambiguous (threshold %g%%, Mann-Whitney BH q < %g)%s.\n\n",
            oc->regressions ? "REGRESSION" : "no regression", oc->cases, oc->lost, oc->worse, oc->better, oc->ambiguous,
            oc->same, nrows, ntests, o.alpha, oc->slower, oc->faster, oc->time_ambiguous, o.time_threshold * 100,
            o.time_alpha, o.time_gate ? "; timing slow-downs count as regressions (--time-gate)" : "");
        const cJSON *k;
        if (oc->lost) {
            rp_printf(&md, "## Lost cases (regressions)\n\n");
            cJSON_ArrayForEach(k, lost) rp_printf(&md, "- `%s`: %s\n", rp_str(k, "case"), rp_str(k, "reason"));
            rp_printf(&md, "\n");
        }
        rp_printf(&md,
                  "## Accuracy: NEW - BASE per item, paired by case key and item id\n\n"
                  "| case | metric | n | BASE mean | NEW mean | mean diff [%g%% bootstrap CI] | tolerance | Wilcoxon p "
                  "(mode) | BH q | verdict |\n"
                  "|---|---|---:|---:|---:|---|---:|---|---:|---|\n",
                  MRB_COMPARE_CI_LEVEL * 100);
        for (size_t i = 0; i < nrows; i++) {
            acc_row *r = &rows[i];
            rp_printf(&md,
                      "| %s | %s%s | %zu%s | %.6g | %.6g | %+.4g [%+.4g, %+.4g] | %.3g | %.3g (%s) | %.3g | **%s** |\n",
                      r->key, r->metric, r->hib ? " (higher better)" : " (lower better)", r->n,
                      r->n_nan ? " (+NaN)" : "", r->mean_base, r->mean_new, r->mean_diff, r->lo, r->hi, r->tol,
                      r->w.pvalue, mode_name(r->w.mode), r->q, r->verdict);
        }
        rp_printf(&md, "\n## Timing: ratio of medians NEW / BASE over raw samples\n\n"
                       "| case | BASE median (s) | NEW median (s) | ratio | Mann-Whitney p (mode) | BH q | verdict |\n"
                       "|---|---:|---:|---:|---|---:|---|\n");
        for (size_t i = 0; i < ntrows; i++) {
            time_row *t = &trows[i];
            rp_printf(&md, "| %s | %.4g (n=%zu) | %.4g (n=%zu) | %.3f | %.3g (%s) | %.3g | **%s** |\n", t->key,
                      t->med_base, t->nb, t->med_new, t->nn, t->ratio, t->u.pvalue, mode_name(t->u.mode), t->q,
                      t->verdict);
        }
        if (cJSON_GetArraySize(only_base) || cJSON_GetArraySize(only_new) || cJSON_GetArraySize(not_ok) ||
            cJSON_GetArraySize(both_failed)) {
            rp_printf(&md, "\n## Not compared\n\n");
            cJSON_ArrayForEach(k, only_base) rp_printf(&md, "- `%s`: only in BASE\n", k->valuestring);
            cJSON_ArrayForEach(k, only_new) rp_printf(&md, "- `%s`: only in NEW\n", k->valuestring);
            cJSON_ArrayForEach(k, not_ok) {
                const cJSON *bk = find_case(base, k->valuestring);
                rp_printf(&md, "- `%s`: failed in %s only\n", k->valuestring,
                          strcmp(rp_str(bk, "status"), "ok") == 0 ? "NEW" : "BASE");
            }
            cJSON_ArrayForEach(k, both_failed) rp_printf(&md, "- `%s`: failed in both runs\n", k->valuestring);
        }
        rp_printf(&md, "\nVerdicts and statistics: impl/report/README.md (mrbench compare).\n");

        cJSON_AddStringToObject(out, "kind", "mrbench-compare");
        cJSON_AddNumberToObject(out, "version", 1);
        cJSON *runs = cJSON_AddObjectToObject(out, "runs");
        for (int side = 0; side < 2; side++) {
            const cJSON *r = side ? now : base;
            cJSON *o2 = cJSON_AddObjectToObject(runs, side ? "new" : "base");
            cJSON_AddStringToObject(o2, "suite", rp_str(rp_get(r, "suite"), "name"));
            cJSON_AddStringToObject(o2, "suite_sha256", rp_str(rp_get(r, "suite"), "sha256"));
            cJSON_AddStringToObject(o2, "started", rp_str(rp_get(r, "context"), "started"));
            cJSON_AddStringToObject(o2, "git_commit", rp_str(rp_get2(r, "context", "build"), "git_commit"));
        }
        cJSON *set = cJSON_AddObjectToObject(out, "settings");
        cJSON_AddNumberToObject(set, "alpha", o.alpha);
        cJSON_AddNumberToObject(set, "time_threshold", o.time_threshold);
        cJSON_AddNumberToObject(set, "time_alpha", o.time_alpha);
        cJSON_AddNumberToObject(set, "resamples", (double)o.resamples);
        cJSON_AddNumberToObject(set, "ci_level", MRB_COMPARE_CI_LEVEL);
        cJSON_AddNumberToObject(set, "seed", (double)o.seed);
        cJSON_AddBoolToObject(set, "force", o.force);
        cJSON_AddBoolToObject(set, "time_gate", o.time_gate);
        cJSON_AddItemToObject(out, "warnings", warnings);
        warnings = NULL;
        cJSON *acc = cJSON_AddArrayToObject(out, "accuracy");
        for (size_t i = 0; i < nrows; i++) {
            acc_row *r = &rows[i];
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "case", r->key);
            cJSON_AddStringToObject(a, "metric", r->metric);
            cJSON_AddBoolToObject(a, "higher_is_better", r->hib);
            cJSON_AddNumberToObject(a, "n", (double)r->n);
            cJSON_AddNumberToObject(a, "n_nan_pairs", (double)r->n_nan);
            cJSON_AddNumberToObject(a, "mean_base", r->mean_base);
            cJSON_AddNumberToObject(a, "mean_new", r->mean_new);
            cJSON_AddNumberToObject(a, "mean_diff", r->mean_diff);
            cJSON_AddNumberToObject(a, "median_diff", r->median_diff);
            cJSON_AddNumberToObject(a, "ci_low", r->lo);
            cJSON_AddNumberToObject(a, "ci_high", r->hi);
            cJSON_AddNumberToObject(a, "tolerance", r->tol);
            cJSON_AddItemToObject(a, "wilcoxon", test_json(&r->w, r->q));
            cJSON_AddStringToObject(a, "verdict", r->verdict);
            cJSON_AddStringToObject(a, "reason", r->reason);
            cJSON_AddItemToArray(acc, a);
        }
        cJSON *tim = cJSON_AddArrayToObject(out, "timing");
        for (size_t i = 0; i < ntrows; i++) {
            time_row *t = &trows[i];
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "case", t->key);
            cJSON_AddNumberToObject(a, "n_base", (double)t->nb);
            cJSON_AddNumberToObject(a, "n_new", (double)t->nn);
            cJSON_AddNumberToObject(a, "median_base", t->med_base);
            cJSON_AddNumberToObject(a, "median_new", t->med_new);
            cJSON_AddNumberToObject(a, "ratio", t->ratio);
            cJSON_AddItemToObject(a, "mann_whitney", test_json(&t->u, t->q));
            cJSON_AddStringToObject(a, "verdict", t->verdict);
            cJSON_AddItemToArray(tim, a);
        }
        cJSON_AddItemToObject(out, "only_in_base", only_base);
        cJSON_AddItemToObject(out, "only_in_new", only_new);
        cJSON_AddItemToObject(out, "failed_in_one", not_ok);
        cJSON_AddItemToObject(out, "failed_in_both", both_failed);
        cJSON_AddItemToObject(out, "lost", lost);
        only_base = only_new = not_ok = both_failed = lost = NULL;
        cJSON *sum = cJSON_AddObjectToObject(out, "summary");
        cJSON_AddNumberToObject(sum, "cases", (double)oc->cases);
        cJSON_AddNumberToObject(sum, "comparisons", (double)nrows);
        cJSON_AddNumberToObject(sum, "lost", (double)oc->lost);
        cJSON_AddNumberToObject(sum, "worse", (double)oc->worse);
        cJSON_AddNumberToObject(sum, "better", (double)oc->better);
        cJSON_AddNumberToObject(sum, "ambiguous", (double)oc->ambiguous);
        cJSON_AddNumberToObject(sum, "same", (double)oc->same);
        cJSON_AddNumberToObject(sum, "slower", (double)oc->slower);
        cJSON_AddNumberToObject(sum, "faster", (double)oc->faster);
        cJSON_AddNumberToObject(sum, "time_ambiguous", (double)oc->time_ambiguous);
        cJSON_AddNumberToObject(sum, "regressions", (double)oc->regressions);
        if (md.oom) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(warnings), cJSON_Delete(only_base), cJSON_Delete(only_new), cJSON_Delete(not_ok),
        cJSON_Delete(both_failed), cJSON_Delete(lost);
    free(rows), free(trows);
    if (st != MRB_OK) {
        free(md.s);
        cJSON_Delete(out);
        return st;
    }
    *json = out;
    *markdown = md.s;
    return MRB_OK;
}
