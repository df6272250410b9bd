#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double mrb_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0) return NAN;
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

void mrb_summarize(const double *x, size_t n, mrb_summary *out)
{
    memset(out, 0, sizeof *out);
    double *v = malloc((n ? n : 1) * sizeof *v);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            out->n_nan++;
        else if (v)
            v[m++] = x[i];
    }
    out->n = m;
    if (m == 0 || !v) {
        out->mean = out->std = out->median = out->min = out->max = out->q1 = out->q3 = NAN;
        free(v);
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < m; i++) sum += v[i];
    out->mean = sum / (double)m;
    double ss = 0;
    for (size_t i = 0; i < m; i++) ss += (v[i] - out->mean) * (v[i] - out->mean);
    out->std = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
    qsort(v, m, sizeof *v, cmp_double);
    out->min = v[0];
    out->max = v[m - 1];
    out->median = mrb_percentile_sorted(v, m, 50);
    out->q1 = mrb_percentile_sorted(v, m, 25);
    out->q3 = mrb_percentile_sorted(v, m, 75);
    free(v);
}
