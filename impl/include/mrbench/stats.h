/* Statistics over samples (timings, per-item metrics): descriptive
 * summaries, rank tests that follow scipy.stats' conventions, percentile
 * bootstrap intervals and the Benjamini-Hochberg adjustment.
 * impl/report/README.md says how compare and leaderboard use them. */
#ifndef MRBENCH_STATS_H
#define MRBENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrb_summary {
    size_t n;     /* finite values used */
    size_t n_nan; /* NaN values excluded (e.g. undefined metrics) */
    double mean;
    double std;    /* sample standard deviation (n - 1), 0 for n < 2 */
    double median; /* linear interpolation between order statistics (numpy default) */
    double min, max;
    double q1, q3; /* 25th and 75th percentiles, same interpolation */
} mrb_summary;

/* Summarises x[0..n); NaNs are counted and excluded. Infinite values are
 * kept (so a mean may be inf). Deterministic: sums in index order. */
void mrb_summarize(const double *x, size_t n, mrb_summary *out);
/* Percentile p in [0, 100] of sorted[0..n) with linear interpolation. */
double mrb_percentile_sorted(const double *sorted, size_t n, double p);

/* Upper tail of the standard normal distribution, P(Z > z). */
double mrb_normal_sf(double z);

/* 1-based ranks of x[0..n) with ties given the average of the ranks they
 * span (scipy.stats.rankdata(method='average')). NaNs are not allowed. */
mrb_status mrb_rank_average(const double *x, size_t n, double *ranks);

typedef enum mrb_test_mode {
    MRB_TEST_NONE = 0, /* no test possible (no data or all differences zero): p = 1 */
    MRB_TEST_EXACT,    /* exact null distribution */
    MRB_TEST_APPROX    /* normal approximation with tie and continuity correction */
} mrb_test_mode;

typedef struct mrb_test_result {
    double statistic;  /* Wilcoxon: min(W+, W-); Mann-Whitney: U of the first sample */
    double pvalue;     /* two-sided */
    double z;          /* standardised statistic of the approximation, NaN in exact mode */
    double min_pvalue; /* smallest two-sided p this sample size can give (the test's reach) */
    size_t n;          /* Wilcoxon: non-zero differences used; Mann-Whitney: n1 + n2 */
    size_t n_zero;     /* Wilcoxon: zero differences dropped */
    mrb_test_mode mode;
} mrb_test_result;

/* Largest number of non-zero differences for which the Wilcoxon test uses the
 * exact distribution; scipy.stats.wilcoxon(method='auto') uses the same bound. */
#define MRB_WILCOXON_EXACT_MAX_N 50
/* Mann-Whitney uses its exact distribution when one sample has at most this
 * many values and no value is tied (scipy.stats.mannwhitneyu, method='auto'). */
#define MRB_MANNWHITNEY_EXACT_MAX_N 8

/* Wilcoxon signed-rank test, two-sided, of the paired differences d[0..n).
 * Zero differences are dropped (scipy zero_method='wilcox'). With at most
 * MRB_WILCOXON_EXACT_MAX_N remaining differences and no tied |d| the p-value
 * is exact (scipy method='exact'); otherwise the normal approximation with
 * tie correction and continuity correction (scipy method='approx',
 * correction=True). All differences zero or n == 0: mode NONE, p = 1,
 * statistic 0. NaN differences are an error (MRB_ERR_INVALID). */
mrb_status mrb_wilcoxon(const double *d, size_t n, mrb_test_result *out);

/* Mann-Whitney U test, two-sided, of x[0..nx) against y[0..ny): exact when
 * min(nx, ny) <= MRB_MANNWHITNEY_EXACT_MAX_N and no ties, otherwise the
 * normal approximation with tie and continuity correction
 * (scipy.stats.mannwhitneyu defaults). Either sample empty: mode NONE, p = 1. */
mrb_status mrb_mannwhitney(const double *x, size_t nx, const double *y, size_t ny, mrb_test_result *out);

/* Benjamini-Hochberg adjusted p-values (q-values) of p[0..n); NaN entries
 * are left out of the family and stay NaN in q. q may alias p. */
mrb_status mrb_bh_adjust(const double *p, size_t n, double *q);

/* Percentile bootstrap confidence interval at `level` (e.g. 0.95) of the
 * mean of x[0..n) from `resamples` resamples drawn with replacement by the
 * mrb_rng stream of `seed`: the same seed gives the same interval on every
 * machine. Percentiles interpolate linearly (numpy's default). NaNs are an
 * error; n == 0 gives NaN bounds. */
mrb_status mrb_bootstrap_mean_ci(const double *x, size_t n, size_t resamples, double level, uint64_t seed, double *lo,
                                 double *hi);

/* Ranks of n entries on one value each, 1 = best: ties share the average
 * of the ranks they span; missing values (NaN) rank below every present
 * value, tied with each other (BraTS ranks a missing case last). */
mrb_status mrb_rank_best_first(const double *x, size_t n, int higher_is_better, double *ranks);

/* Rank-then-aggregate (BraTS): values[e * nitems + i] is entry e's value on
 * item i. Entries are ranked on each item (mrb_rank_best_first) and the
 * ranks averaged over items into mean_rank[e]. When `weights` is given,
 * item i counts weights[i] times (a bootstrap resample); NULL counts each
 * item once. */
mrb_status mrb_rank_then_aggregate(const double *values, size_t nentries, size_t nitems, int higher_is_better,
                                   const double *weights, double *mean_rank);

#ifdef __cplusplus
}
#endif
#endif
