/* Descriptive statistics over samples (timings, per-case metrics). */
#ifndef MRBENCH_STATS_H
#define MRBENCH_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrb_summary {
    size_t n;      /* finite values used */
    size_t n_nan;  /* NaN values excluded (e.g. undefined metrics) */
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

#ifdef __cplusplus
}
#endif
#endif
