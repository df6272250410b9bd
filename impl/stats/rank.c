/* Rankings for challenge-style leaderboards. */
#include <math.h>
#include <stdlib.h>

#include "mrbench/stats.h"

mrb_status mrb_rank_best_first(const double *x, size_t n, int higher_is_better, double *ranks)
{
    if (n == 0) return MRB_OK;
    double *key = malloc(n * sizeof *key);
    if (!key) return mrb_error(MRB_ERR_NOMEM, "ranks: out of memory");
    /* Ascending key = best first; NaN becomes +inf, after every present value.
     * A present +inf (lower-is-better metric) ties with a missing value. */
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            key[i] = INFINITY;
        else
            key[i] = higher_is_better ? -x[i] : x[i];
    }
    mrb_status st = mrb_rank_average(key, n, ranks);
    free(key);
    return st;
}

mrb_status mrb_rank_then_aggregate(const double *values, size_t nentries, size_t nitems, int higher_is_better,
                                   const double *weights, double *mean_rank)
{
    for (size_t e = 0; e < nentries; e++) mean_rank[e] = 0;
    if (nentries == 0) return MRB_OK;
    double *col = malloc(nentries * sizeof *col), *r = malloc(nentries * sizeof *r);
    if (!col || !r) {
        free(col), free(r);
        return mrb_error(MRB_ERR_NOMEM, "ranks: out of memory");
    }
    double wsum = 0;
    mrb_status st = MRB_OK;
    for (size_t i = 0; i < nitems && st == MRB_OK; i++) {
        double w = weights ? weights[i] : 1.0;
        if (w == 0) continue;
        for (size_t e = 0; e < nentries; e++) col[e] = values[e * nitems + i];
        st = mrb_rank_best_first(col, nentries, higher_is_better, r);
        for (size_t e = 0; e < nentries && st == MRB_OK; e++) mean_rank[e] += w * r[e];
        wsum += w;
    }
    free(col), free(r);
    if (st != MRB_OK) return st;
    for (size_t e = 0; e < nentries; e++) mean_rank[e] = wsum > 0 ? mean_rank[e] / wsum : NAN;
    return MRB_OK;
}
