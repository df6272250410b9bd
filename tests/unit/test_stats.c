/* Statistics: the Wilcoxon signed-rank and Mann-Whitney U tests agree with
 * scipy.stats (golden values in tests/golden/stats/, made by
 * make_stats_golden.py); Benjamini-Hochberg agrees with the step-up formula;
 * average ranks and rank-then-aggregate handle ties and missing values as
 * documented; the bootstrap is deterministic for a seed. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/stats.h"
#include "mrbench/util.h"

#define GOLDEN MRB_SOURCE_DIR "/tests/golden/stats/stats_golden.json"
/* p-values: the exact distributions are sums of integers (exact in double),
 * the approximation differs from scipy only by erfc's rounding. */
#define P_REL_TOL 1e-9
/* Statistics are sums of half-integer ranks: exact. */
#define STAT_TOL 1e-12

static cJSON *golden(void)
{
    char *text = NULL;
    cr_assert_eq(mrb_read_file(GOLDEN, &text, NULL), MRB_OK, "%s", mrb_error_message());
    cJSON *g = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(g, "golden file is not JSON");
    return g;
}

static double *numbers(const cJSON *a, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) v[i++] = x->valuedouble;
    return v;
}

static int close_rel(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(fabs(b), 1e-300);
}

Test(stats, wilcoxon_matches_scipy_statistic_p_and_mode)
{
    cJSON *g = golden();
    size_t checked = 0, exact = 0, approx = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "wilcoxon")) {
        size_t n;
        double *d = numbers(cJSON_GetObjectItem(c, "d"), &n);
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        mrb_test_result r;
        cr_assert_eq(mrb_wilcoxon(d, n, &r), MRB_OK, "%s: %s", name, mrb_error_message());
        const char *mode = cJSON_GetObjectItem(c, "mode")->valuestring;
        cr_expect_eq(r.mode, strcmp(mode, "exact") == 0 ? MRB_TEST_EXACT : MRB_TEST_APPROX, "%s: mode", name);
        cr_expect(fabs(r.statistic - cJSON_GetObjectItem(c, "statistic")->valuedouble) <= STAT_TOL,
                  "%s: statistic %.17g vs scipy %.17g", name, r.statistic,
                  cJSON_GetObjectItem(c, "statistic")->valuedouble);
        cr_expect(close_rel(r.pvalue, cJSON_GetObjectItem(c, "pvalue")->valuedouble, P_REL_TOL),
                  "%s: p %.17g vs scipy %.17g", name, r.pvalue, cJSON_GetObjectItem(c, "pvalue")->valuedouble);
        exact += r.mode == MRB_TEST_EXACT;
        approx += r.mode == MRB_TEST_APPROX;
        checked++;
        free(d);
    }
    cJSON_Delete(g);
    cr_assert_geq(checked, 10, "only %zu golden Wilcoxon cases", checked);
    cr_assert(exact >= 3 && approx >= 3, "both modes must be covered (%zu exact, %zu approx)", exact, approx);
}

Test(stats, wilcoxon_all_zero_differences_give_no_test_and_p_one)
{
    double d[5] = {0, 0, 0, 0, 0};
    mrb_test_result r;
    cr_assert_eq(mrb_wilcoxon(d, 5, &r), MRB_OK);
    cr_expect_eq(r.mode, MRB_TEST_NONE);
    cr_expect_eq(r.pvalue, 1.0);
    cr_expect_eq(r.n_zero, 5);
    double bad[2] = {1.0, NAN};
    cr_expect_eq(mrb_wilcoxon(bad, 2, &r), MRB_ERR_INVALID, "a NaN difference must be refused");
}

Test(stats, wilcoxon_reach_is_two_to_the_one_minus_n_in_exact_mode)
{
    double d[4] = {-0.1, -0.2, -0.3, -0.4};
    mrb_test_result r;
    cr_assert_eq(mrb_wilcoxon(d, 4, &r), MRB_OK);
    cr_expect_eq(r.mode, MRB_TEST_EXACT);
    cr_expect_eq(r.min_pvalue, 0.125);
    cr_expect_eq(r.pvalue, 0.125, "all four differences negative: the most extreme outcome");
}

Test(stats, mann_whitney_matches_scipy)
{
    cJSON *g = golden();
    size_t checked = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "mannwhitney")) {
        size_t nx, ny;
        double *x = numbers(cJSON_GetObjectItem(c, "x"), &nx), *y = numbers(cJSON_GetObjectItem(c, "y"), &ny);
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        mrb_test_result r;
        cr_assert_eq(mrb_mannwhitney(x, nx, y, ny, &r), MRB_OK, "%s", name);
        cr_expect(fabs(r.statistic - cJSON_GetObjectItem(c, "statistic")->valuedouble) <= STAT_TOL, "%s: U %.17g", name,
                  r.statistic);
        cr_expect(close_rel(r.pvalue, cJSON_GetObjectItem(c, "pvalue")->valuedouble, P_REL_TOL), "%s: p %.17g vs %.17g",
                  name, r.pvalue, cJSON_GetObjectItem(c, "pvalue")->valuedouble);
        free(x), free(y);
        checked++;
    }
    cJSON_Delete(g);
    cr_assert_geq(checked, 5);
}

Test(stats, benjamini_hochberg_matches_step_up_formula_and_skips_nan)
{
    cJSON *g = golden();
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "bh"), 0);
    size_t n, nq;
    double *p = numbers(cJSON_GetObjectItem(c, "p"), &n), *want = numbers(cJSON_GetObjectItem(c, "q"), &nq);
    double q[16];
    cr_assert_eq(mrb_bh_adjust(p, n, q), MRB_OK);
    for (size_t i = 0; i < n; i++)
        cr_expect(close_rel(q[i], want[i], 1e-12), "q[%zu] = %.17g, want %.17g", i, q[i], want[i]);
    double with_nan[3] = {0.01, NAN, 0.04}, q2[3];
    cr_assert_eq(mrb_bh_adjust(with_nan, 3, q2), MRB_OK);
    cr_expect(isnan(q2[1]), "NaN stays NaN");
    cr_expect(close_rel(q2[0], 0.02, 1e-12) && close_rel(q2[2], 0.04, 1e-12), "family of two: q = %g, %g", q2[0],
              q2[2]);
    free(p), free(want);
    cJSON_Delete(g);
}

Test(stats, average_ranks_share_ties)
{
    /* scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5]) */
    double x[9] = {3, 1, 4, 1, 5, 9, 2, 6, 5}, r[9];
    double want[9] = {4, 1.5, 5, 1.5, 6.5, 9, 3, 8, 6.5};
    cr_assert_eq(mrb_rank_average(x, 9, r), MRB_OK);
    for (size_t i = 0; i < 9; i++) cr_expect_eq(r[i], want[i], "rank[%zu] = %g, want %g", i, r[i], want[i]);
}

/* Worked example (impl/report/README.md): four entries A-D on three items,
 * higher is better; D misses item 2.
 *   item 0: A 0.9, B 0.8, C 0.8, D 0.7 -> ranks 1, 2.5, 2.5, 4
 *   item 1: A 0.5, B 0.9, C 0.9, D 0.9 -> ranks 4, 2, 2, 2
 *   item 2: A 0.6, B 0.7, C 0.5, D  -  -> ranks 2, 1, 3, 4 (missing ranks last)
 * mean ranks: A 7/3, B 5.5/3, C 7.5/3, D 10/3. */
Test(stats, rank_then_aggregate_worked_example_with_ties_and_a_missing_value)
{
    double v[4 * 3] = {0.9, 0.5, 0.6, 0.8, 0.9, 0.7, 0.8, 0.9, 0.5, 0.7, 0.9, NAN};
    double mean[4];
    cr_assert_eq(mrb_rank_then_aggregate(v, 4, 3, 1, NULL, mean), MRB_OK);
    double want[4] = {7.0 / 3, 5.5 / 3, 7.5 / 3, 10.0 / 3};
    for (size_t e = 0; e < 4; e++)
        cr_expect(fabs(mean[e] - want[e]) < 1e-12, "entry %zu: %.17g, want %.17g", e, mean[e], want[e]);
    double final_rank[4];
    cr_assert_eq(mrb_rank_best_first(mean, 4, 0, final_rank), MRB_OK);
    double want_rank[4] = {2, 1, 3, 4};
    for (size_t e = 0; e < 4; e++) cr_expect_eq(final_rank[e], want_rank[e], "final rank of entry %zu", e);
    /* Weights: item 1 counted twice, item 2 dropped (a bootstrap resample). */
    double w[3] = {1, 2, 0};
    cr_assert_eq(mrb_rank_then_aggregate(v, 4, 3, 1, w, mean), MRB_OK);
    double want_w[4] = {(1 + 8) / 3.0, (2.5 + 4) / 3.0, (2.5 + 4) / 3.0, (4 + 4) / 3.0};
    for (size_t e = 0; e < 4; e++)
        cr_expect(fabs(mean[e] - want_w[e]) < 1e-12, "weighted entry %zu: %.17g", e, mean[e]);
    /* Lower is better reverses the order of present values, missing still last. */
    double x[3] = {1.0, NAN, 0.5}, r[3];
    cr_assert_eq(mrb_rank_best_first(x, 3, 0, r), MRB_OK);
    cr_expect(r[2] == 1 && r[0] == 2 && r[1] == 3, "lower-is-better ranks %g %g %g", r[0], r[1], r[2]);
}

Test(stats, bootstrap_interval_is_deterministic_for_a_seed)
{
    double x[12] = {0.1, -0.3, 0.25, 0.7, -0.05, 0.4, 0.33, -0.2, 0.15, 0.05, 0.6, -0.1};
    double lo1, hi1, lo2, hi2, lo3, hi3;
    cr_assert_eq(mrb_bootstrap_mean_ci(x, 12, 2000, 0.95, 7, &lo1, &hi1), MRB_OK);
    cr_assert_eq(mrb_bootstrap_mean_ci(x, 12, 2000, 0.95, 7, &lo2, &hi2), MRB_OK);
    cr_assert_eq(mrb_bootstrap_mean_ci(x, 12, 2000, 0.95, 8, &lo3, &hi3), MRB_OK);
    cr_expect(lo1 == lo2 && hi1 == hi2, "same seed, same interval");
    cr_expect(lo1 != lo3 || hi1 != hi3, "another seed draws other resamples");
    mrb_summary s;
    mrb_summarize(x, 12, &s);
    cr_expect(lo1 < s.mean && s.mean < hi1, "interval [%g, %g] holds the mean %g", lo1, hi1, s.mean);
    double c[5] = {-0.5, -0.5, -0.5, -0.5, -0.5};
    cr_assert_eq(mrb_bootstrap_mean_ci(c, 5, 100, 0.95, 1, &lo1, &hi1), MRB_OK);
    cr_expect(lo1 == -0.5 && hi1 == -0.5, "constant data: degenerate interval");
    cr_expect_eq(mrb_bootstrap_mean_ci(c, 5, 100, 1.5, 1, &lo1, &hi1), MRB_ERR_INVALID, "level outside (0, 1)");
}

Test(stats, summary_uses_sample_std_and_linear_percentiles)
{
    double x[5] = {1, 2, 3, 4, NAN};
    mrb_summary s;
    mrb_summarize(x, 5, &s);
    cr_expect_eq(s.n, 4);
    cr_expect_eq(s.n_nan, 1);
    cr_expect_eq(s.mean, 2.5);
    cr_expect(fabs(s.std - sqrt(5.0 / 3.0)) < 1e-15);
    cr_expect_eq(s.median, 2.5);
    cr_expect_eq(s.q1, 1.75);
    cr_expect_eq(s.q3, 3.25);
}
