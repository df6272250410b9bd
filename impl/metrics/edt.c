/* Exact squared Euclidean distance transform with per-axis spacing.
 *
 * P. F. Felzenszwalb and D. P. Huttenlocher, "Distance Transforms of
 * Sampled Functions", Theory of Computing 8 (2012) 415-428: the squared EDT
 * separates into 1D transforms along each axis, each the lower envelope of
 * parabolas, linear in the line length. Axis 0 (binary input) is a two-scan
 * nearest-feature pass; axes 1 and 2 run the lower envelope. Lines are
 * independent, so OpenMP splits them and the result does not depend on the
 * thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "edt_internal.h"
#include "mrbench/metrics.h"

/* Below this many voxels a parallel region costs more than it saves. */
#define EDT_PARALLEL_MIN_VOXELS (1u << 16)

/* 1D squared distance along a binary line to the nearest feature, in mm^2. */
static void edt_line_binary(const uint8_t *feat, size_t n, double step2, double *out)
{
    /* Forward scan: distance in samples to the last feature at or before i. */
    size_t last = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (feat[i]) last = i;
        out[i] = last == SIZE_MAX ? INFINITY : (double)(i - last);
    }
    size_t next = SIZE_MAX;
    for (size_t i = n; i-- > 0;) {
        if (feat[i]) next = i;
        double d = out[i];
        if (next != SIZE_MAX && (double)(next - i) < d) d = (double)(next - i);
        out[i] = isinf(d) ? INFINITY : d * d * step2;
    }
}

/* Lower envelope of the parabolas step2 (p - q)^2 + f[q] over the finite f[q].
 * Workspaces: v (n) parabola apexes, h (n) their f[v] + step2 v^2, z (n + 1)
 * the boundaries between envelope pieces. The test of a new parabola against
 * the last boundary is done by multiplication (the denominator is positive),
 * keeping the division off the dependency chain: one division per push. */
static void edt_line_envelope(const double *f, size_t n, double step2, double *d, size_t *v, double *h, double *z)
{
    long k = -1;
    for (size_t q = 0; q < n; q++) {
        if (isinf(f[q])) continue;
        double hq = f[q] + step2 * (double)q * (double)q;
        while (k >= 0 && hq - h[k] <= z[k] * (2.0 * step2 * (double)(q - v[k]))) k--;
        k++;
        if (k > 0) {
            z[k] = (hq - h[k - 1]) / (2.0 * step2 * (double)(q - v[k - 1]));
        } else {
            z[0] = -INFINITY;
        }
        v[k] = q;
        h[k] = hq;
        z[k + 1] = INFINITY;
    }
    if (k < 0) {
        for (size_t p = 0; p < n; p++) d[p] = INFINITY;
        return;
    }
    long j = 0;
    for (size_t p = 0; p < n; p++) {
        while (z[j + 1] < (double)p) j++;
        double dp = (double)p - (double)v[j];
        d[p] = step2 * dp * dp + f[v[j]];
    }
}

/* Envelope pass along an axis of extent n with element stride `stride`;
 * lines are enumerated by (inner, outer) with inner < stride. */
static mrb_status edt_pass(double *data, size_t n, size_t stride, size_t nouter, size_t outer_stride, double step2,
                           int nthreads, const uint8_t *query)
{
    size_t nlines = stride * nouter;
    int failed = 0;
#pragma omp parallel num_threads(nthreads) if (n * nlines >= EDT_PARALLEL_MIN_VOXELS)
    {
        double *f = malloc(n * sizeof *f);
        double *d = malloc(n * sizeof *d);
        double *z = malloc((n + 1) * sizeof *z);
        double *h = malloc(n * sizeof *h);
        size_t *v = malloc(n * sizeof *v);
        int ok = f && d && z && h && v;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (size_t line = 0; line < nlines; line++) {
            if (!ok) continue;
            size_t inner = line % stride, outer = line / stride;
            double *base = data + outer * outer_stride + inner;
            if (query) {
                const uint8_t *qline = query + outer * outer_stride + inner;
                int wanted = 0;
                for (size_t i = 0; i < n && !wanted; i++) wanted = qline[i * stride];
                if (!wanted) continue;
            }
            int any = 0;
            for (size_t i = 0; i < n; i++) {
                f[i] = base[i * stride];
                any |= !isinf(f[i]);
            }
            if (!any) continue; /* all infinite stays infinite */
            edt_line_envelope(f, n, step2, d, v, h, z);
            for (size_t i = 0; i < n; i++) base[i * stride] = d[i];
        }
        free(f);
        free(d);
        free(z);
        free(h);
        free(v);
    }
    return failed ? mrb_error(MRB_ERR_NOMEM, "edt: out of memory for line buffers") : MRB_OK;
}

mrb_status mrb_edt_squared(const uint8_t *feature, int ndim, const size_t *dims, const double *spacing, int nthreads,
                           double *out_sq)
{
    return mrb_edt_squared_query(feature, NULL, ndim, dims, spacing, nthreads, out_sq);
}

mrb_status mrb_edt_squared_query(const uint8_t *feature, const uint8_t *query, int ndim, const size_t *dims,
                                 const double *spacing, int nthreads, double *out_sq)
{
    if (ndim < 1 || ndim > 3) return mrb_error(MRB_ERR_INVALID, "edt: ndim must be 1..3, got %d", ndim);
    size_t n[3] = {1, 1, 1};
    double s[3] = {1.0, 1.0, 1.0};
    for (int d = 0; d < ndim; d++) {
        n[d] = dims[d];
        if (n[d] == 0) return mrb_error(MRB_ERR_INVALID, "edt: axis %d has extent 0", d);
        if (spacing) s[d] = spacing[d];
        if (!(s[d] > 0.0) || !isfinite(s[d]))
            return mrb_error(MRB_ERR_INVALID, "edt: spacing along axis %d must be > 0, got %g", d, s[d]);
    }
    int nt = nthreads > 0 ? nthreads : omp_get_max_threads();
    size_t nrows = n[1] * n[2];
#pragma omp parallel for schedule(static) num_threads(nt) if (nrows * n[0] >= EDT_PARALLEL_MIN_VOXELS)
    for (size_t row = 0; row < nrows; row++)
        edt_line_binary(feature + row * n[0], n[0], s[0] * s[0], out_sq + row * n[0]);
    /* The query mask restricts the last pass to the lines that hold a query voxel. */
    int last = n[2] > 1 ? 2 : n[1] > 1 ? 1 : 0;
    if (n[1] > 1) MRB_TRY(edt_pass(out_sq, n[1], n[0], n[2], n[0] * n[1], s[1] * s[1], nt, last == 1 ? query : NULL));
    if (n[2] > 1) MRB_TRY(edt_pass(out_sq, n[2], n[0] * n[1], 1, 0, s[2] * s[2], nt, query));
    return MRB_OK;
}
