/* Percentile bootstrap of a mean with a seeded, machine-independent stream. */
#include <math.h>
#include <stdlib.h>

#include "mrbench/rng.h"
#include "mrbench/stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

mrb_status mrb_bootstrap_mean_ci(const double *x, size_t n, size_t resamples, double level, uint64_t seed, double *lo,
                                 double *hi)
{
    *lo = *hi = NAN;
    if (!(level > 0 && level < 1)) return mrb_error(MRB_ERR_INVALID, "bootstrap: level %g not in (0, 1)", level);
    if (resamples == 0) return mrb_error(MRB_ERR_INVALID, "bootstrap: zero resamples");
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) return mrb_error(MRB_ERR_INVALID, "bootstrap: value %zu is NaN", i);
    if (n == 0) return MRB_OK;
    double *means = malloc(resamples * sizeof *means);
    if (!means) return mrb_error(MRB_ERR_NOMEM, "bootstrap: out of memory");
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    for (size_t b = 0; b < resamples; b++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += x[mrb_rng_below(&rng, n)];
        means[b] = sum / (double)n;
    }
    qsort(means, resamples, sizeof *means, cmp_double);
    double tail = (1 - level) / 2 * 100;
    *lo = mrb_percentile_sorted(means, resamples, tail);
    *hi = mrb_percentile_sorted(means, resamples, 100 - tail);
    free(means);
    return MRB_OK;
}
