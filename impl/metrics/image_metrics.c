/* Image quality metrics on magnitude images: MSE, MAE, NMSE, PSNR, SSIM.
 *
 * Sums are taken in double over fixed blocks whose partial sums are then
 * added in block order, so results do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mrbench/metrics.h"

/* Elements per partial sum: fixed, so the summation order is the same for
 * every thread count. */
#define IMG_SUM_BLOCK 4096
/* SSIM output rows per running-sum restart: fixed for the same reason. */
#define SSIM_ROW_CHUNK 32
/* Below this many voxels a parallel region costs more than it saves. */
#define IMG_PARALLEL_MIN (1u << 16)

/* scikit-image 0.19 structural_similarity defaults (skimage/metrics/
 * _structural_similarity.py): K1, K2, uniform window 7, sigma 1.5, and
 * truncate 3.5 for the Gaussian filter so that sigma 1.5 gives 11 taps. */
#define SSIM_K1_DEFAULT 0.01
#define SSIM_K2_DEFAULT 0.03
#define SSIM_WIN_DEFAULT 7
#define SSIM_SIGMA_DEFAULT 1.5
#define SSIM_GAUSS_TRUNCATE 3.5
/* Largest sigma accepted: 701 taps, far beyond any image-quality use. */
#define SSIM_SIGMA_MAX 100.0
#define SSIM_GAUSS_TAPS_MAX (2 * (int)(SSIM_GAUSS_TRUNCATE * SSIM_SIGMA_MAX + 0.5) + 1)

void mrb_ssim_opts_default(mrb_ssim_opts *o)
{
    o->win_size = SSIM_WIN_DEFAULT;
    o->gaussian = 0;
    o->sigma = SSIM_SIGMA_DEFAULT;
    o->k1 = SSIM_K1_DEFAULT;
    o->k2 = SSIM_K2_DEFAULT;
    o->data_range = 0.0;
    o->sample_covariance = 1;
}

void mrb_ssim_opts_gaussian(mrb_ssim_opts *o)
{
    mrb_ssim_opts_default(o);
    o->gaussian = 1;
    o->win_size = 0;
    o->sample_covariance = 0;
}

static mrb_status check_pair(const mrb_array *ref, const mrb_array *x, const char *metric)
{
    if (!ref || !x) return mrb_error(MRB_ERR_INVALID, "%s: reference or test image is NULL", metric);
    const mrb_array *both[2] = {ref, x};
    const char *names[2] = {"reference", "test image"};
    for (int k = 0; k < 2; k++) {
        if (both[k]->dtype != MRB_F32)
            return mrb_error(MRB_ERR_INVALID, "%s: %s must be MRB_F32 magnitudes, got %s", metric, names[k],
                             mrb_dtype_name(both[k]->dtype));
        if (both[k]->ndim != 2 && both[k]->ndim != 3)
            return mrb_error(MRB_ERR_INVALID, "%s: %s must be [nx, ny] or [nx, ny, nslices], got %d axes", metric,
                             names[k], both[k]->ndim);
    }
    if (!mrb_array_same_shape(ref, x)) {
        char a[64], b[64];
        return mrb_error(MRB_ERR_INVALID, "%s: shape mismatch, reference %s vs test image %s", metric,
                         mrb_array_shape_str(ref, a, sizeof a), mrb_array_shape_str(x, b, sizeof b));
    }
    if (mrb_array_count(ref) == 0) return mrb_error(MRB_ERR_INVALID, "%s: empty images", metric);
    mrb_status st = mrb_array_check_finite(ref, "reference");
    if (st != MRB_OK) return mrb_error_context(st, "%s", metric);
    st = mrb_array_check_finite(x, "test image");
    if (st != MRB_OK) return mrb_error_context(st, "%s", metric);
    return MRB_OK;
}

typedef enum { SUM_SQDIFF, SUM_ABSDIFF, SUM_SQREF } sum_kind;

/* Sum over all elements of a per-element quantity, in a fixed order. */
static mrb_status block_sum(const float *a, const float *b, size_t n, sum_kind kind, double *out)
{
    size_t nblocks = (n + IMG_SUM_BLOCK - 1) / IMG_SUM_BLOCK;
    double *partial = malloc(nblocks * sizeof *partial);
    if (!partial) return mrb_error(MRB_ERR_NOMEM, "image metric: out of memory");
#pragma omp parallel for schedule(static) if (n >= IMG_PARALLEL_MIN)
    for (size_t blk = 0; blk < nblocks; blk++) {
        size_t i0 = blk * IMG_SUM_BLOCK;
        size_t i1 = i0 + IMG_SUM_BLOCK < n ? i0 + IMG_SUM_BLOCK : n;
        double s = 0.0;
        for (size_t i = i0; i < i1; i++) {
            double d = kind == SUM_SQREF ? (double)a[i] : (double)a[i] - (double)b[i];
            s += kind == SUM_ABSDIFF ? fabs(d) : d * d;
        }
        partial[blk] = s;
    }
    double s = 0.0;
    for (size_t blk = 0; blk < nblocks; blk++) s += partial[blk];
    free(partial);
    *out = s;
    return MRB_OK;
}

static double max_of(const float *a, size_t n)
{
    float m = a[0];
    for (size_t i = 1; i < n; i++)
        if (a[i] > m) m = a[i];
    return m;
}

mrb_status mrb_metric_mse(const mrb_array *ref, const mrb_array *x, double *out)
{
    MRB_TRY(check_pair(ref, x, "mse"));
    size_t n = mrb_array_count(ref);
    double s = 0.0;
    MRB_TRY(block_sum(ref->data, x->data, n, SUM_SQDIFF, &s));
    *out = s / (double)n;
    return MRB_OK;
}

mrb_status mrb_metric_mae(const mrb_array *ref, const mrb_array *x, double *out)
{
    MRB_TRY(check_pair(ref, x, "mae"));
    size_t n = mrb_array_count(ref);
    double s = 0.0;
    MRB_TRY(block_sum(ref->data, x->data, n, SUM_ABSDIFF, &s));
    *out = s / (double)n;
    return MRB_OK;
}

mrb_status mrb_metric_nmse(const mrb_array *ref, const mrb_array *x, double *out)
{
    MRB_TRY(check_pair(ref, x, "nmse"));
    size_t n = mrb_array_count(ref);
    double num = 0.0, den = 0.0;
    MRB_TRY(block_sum(ref->data, x->data, n, SUM_SQDIFF, &num));
    MRB_TRY(block_sum(ref->data, x->data, n, SUM_SQREF, &den));
    if (den == 0.0) return mrb_error(MRB_ERR_INVALID, "nmse: the reference is all zero (||ref||^2 = 0)");
    *out = num / den;
    return MRB_OK;
}

static mrb_status resolve_range(const mrb_array *ref, double data_range, const char *metric, double *range)
{
    if (!isfinite(data_range))
        return mrb_error(MRB_ERR_INVALID, "%s: data_range must be finite, got %g", metric, data_range);
    *range = data_range > 0.0 ? data_range : max_of(ref->data, mrb_array_count(ref));
    if (!(*range > 0.0))
        return mrb_error(MRB_ERR_INVALID, "%s: data range is %g (max of the reference); it must be > 0", metric,
                         *range);
    return MRB_OK;
}

mrb_status mrb_metric_psnr(const mrb_array *ref, const mrb_array *x, double data_range, double *out)
{
    MRB_TRY(check_pair(ref, x, "psnr"));
    double range = 0.0;
    MRB_TRY(resolve_range(ref, data_range, "psnr", &range));
    size_t n = mrb_array_count(ref);
    double s = 0.0;
    MRB_TRY(block_sum(ref->data, x->data, n, SUM_SQDIFF, &s));
    double mse = s / (double)n;
    *out = mse == 0.0 ? INFINITY : 10.0 * log10(range * range / mse);
    return MRB_OK;
}

/* ---------------------------------------------------------------- SSIM -- */

typedef struct ssim_plan {
    size_t nx, ny, nslices;
    int win;        /* window side */
    double *weight; /* Gaussian taps (win), NULL for the uniform window */
    double inv_np;  /* 1 / NP for the uniform window, 1 for Gaussian taps */
    double cov_norm;
    double c1, c2;
} ssim_plan;

/* SSIM at one window position from the five window sums (or weighted means). */
static inline double ssim_at(const ssim_plan *p, const double s[5])
{
    double ux = s[0] * p->inv_np, uy = s[1] * p->inv_np;
    double uxx = s[2] * p->inv_np, uyy = s[3] * p->inv_np, uxy = s[4] * p->inv_np;
    double vx = p->cov_norm * (uxx - ux * ux);
    double vy = p->cov_norm * (uyy - uy * uy);
    double vxy = p->cov_norm * (uxy - ux * uy);
    double a1 = 2.0 * ux * uy + p->c1, a2 = 2.0 * vxy + p->c2;
    double b1 = ux * ux + uy * uy + p->c1, b2 = vx + vy + p->c2;
    return (a1 * a2) / (b1 * b2);
}

static inline void load5(const float *a, const float *b, size_t i, double v[5])
{
    double x = a[i], y = b[i];
    v[0] = x;
    v[1] = y;
    v[2] = x * x;
    v[3] = y * y;
    v[4] = x * y;
}

/* Sum of the SSIM map over output rows [j0, j1) of one slice, uniform window:
 * running column sums down y, running window sums along x. col holds 5*nx. */
static void ssim_rows_uniform(const ssim_plan *p, const float *a, const float *b, size_t j0, size_t j1, double *col,
                              double *row_sum)
{
    size_t nx = p->nx, w = (size_t)p->win, nvx = nx - w + 1;
    double v[5];
    for (size_t i = 0; i < 5 * nx; i++) col[i] = 0.0;
    for (size_t y = j0; y < j0 + w; y++)
        for (size_t xi = 0; xi < nx; xi++) {
            load5(a, b, y * nx + xi, v);
            for (int c = 0; c < 5; c++) col[c * nx + xi] += v[c];
        }
    for (size_t j = j0; j < j1; j++) {
        if (j > j0) {
            double u[5];
            for (size_t xi = 0; xi < nx; xi++) {
                load5(a, b, (j + w - 1) * nx + xi, v);
                load5(a, b, (j - 1) * nx + xi, u);
                for (int c = 0; c < 5; c++) col[c * nx + xi] += v[c] - u[c];
            }
        }
        double s[5] = {0, 0, 0, 0, 0};
        for (size_t xi = 0; xi < w; xi++)
            for (int c = 0; c < 5; c++) s[c] += col[c * nx + xi];
        double acc = ssim_at(p, s);
        for (size_t i = 1; i < nvx; i++) {
            for (int c = 0; c < 5; c++) s[c] += col[c * nx + i + w - 1] - col[c * nx + i - 1];
            acc += ssim_at(p, s);
        }
        row_sum[j] = acc;
    }
}

/* As above with separable Gaussian weights (O(win) per pixel and pass). */
static void ssim_rows_gauss(const ssim_plan *p, const float *a, const float *b, size_t j0, size_t j1, double *col,
                            double *row_sum)
{
    size_t nx = p->nx, w = (size_t)p->win, nvx = nx - w + 1;
    const double *g = p->weight;
    double v[5];
    for (size_t j = j0; j < j1; j++) {
        for (size_t i = 0; i < 5 * nx; i++) col[i] = 0.0;
        for (size_t k = 0; k < w; k++)
            for (size_t xi = 0; xi < nx; xi++) {
                load5(a, b, (j + k) * nx + xi, v);
                for (int c = 0; c < 5; c++) col[c * nx + xi] += g[k] * v[c];
            }
        double acc = 0.0;
        for (size_t i = 0; i < nvx; i++) {
            double s[5] = {0, 0, 0, 0, 0};
            for (size_t k = 0; k < w; k++)
                for (int c = 0; c < 5; c++) s[c] += g[k] * col[c * nx + i + k];
            acc += ssim_at(p, s);
        }
        row_sum[j] = acc;
    }
}

mrb_status mrb_ssim_window(const mrb_ssim_opts *o, int *win)
{
    if (o->gaussian) {
        if (!(o->sigma > 0.0) || !(o->sigma <= SSIM_SIGMA_MAX))
            return mrb_error(MRB_ERR_INVALID, "ssim: sigma must be in (0, %g], got %g", SSIM_SIGMA_MAX, o->sigma);
        /* scipy.ndimage radius: int(truncate * sigma + 0.5). */
        int r = (int)(SSIM_GAUSS_TRUNCATE * o->sigma + 0.5);
        if (o->win_size != 0 && o->win_size != 2 * r + 1)
            return mrb_error(MRB_ERR_INVALID,
                             "ssim: the Gaussian window for sigma %g has %d taps; window %d "
                             "would need border padding (use 0 or %d)",
                             o->sigma, 2 * r + 1, o->win_size, 2 * r + 1);
        *win = 2 * r + 1;
    } else {
        if (o->win_size < 3 || o->win_size % 2 == 0)
            return mrb_error(MRB_ERR_INVALID, "ssim: window must be odd and >= 3, got %d", o->win_size);
        *win = o->win_size;
    }
    return MRB_OK;
}

mrb_status mrb_metric_ssim_slices(const mrb_array *ref, const mrb_array *x, const mrb_ssim_opts *opts,
                                  double *per_slice, double *out)
{
    MRB_TRY(check_pair(ref, x, "ssim"));
    mrb_ssim_opts o;
    if (opts)
        o = *opts;
    else
        mrb_ssim_opts_default(&o);
    if (!(o.k1 >= 0.0) || !(o.k2 >= 0.0) || !isfinite(o.k1) || !isfinite(o.k2))
        return mrb_error(MRB_ERR_INVALID, "ssim: k1 and k2 must be finite and >= 0, got %g, %g", o.k1, o.k2);
    ssim_plan p = {0};
    p.nx = ref->dims[0];
    p.ny = ref->dims[1];
    p.nslices = ref->ndim == 3 ? ref->dims[2] : 1;
    MRB_TRY(mrb_ssim_window(&o, &p.win));
    if (p.nx < (size_t)p.win || p.ny < (size_t)p.win)
        return mrb_error(MRB_ERR_INVALID, "ssim: slices of %zux%zu are smaller than the %dx%d window", p.nx, p.ny,
                         p.win, p.win);
    double range = 0.0;
    MRB_TRY(resolve_range(ref, o.data_range, "ssim", &range));
    double np2 = (double)p.win * (double)p.win;
    p.cov_norm = o.sample_covariance ? np2 / (np2 - 1.0) : 1.0;
    p.c1 = (o.k1 * range) * (o.k1 * range);
    p.c2 = (o.k2 * range) * (o.k2 * range);
    double gauss[SSIM_GAUSS_TAPS_MAX];
    if (o.gaussian) {
        /* scipy.ndimage._gaussian_kernel1d: exp(-x^2 / (2 sigma^2)), normalised. */
        int r = p.win / 2;
        double sum = 0.0;
        for (int k = -r; k <= r; k++) {
            gauss[k + r] = exp(-0.5 / (o.sigma * o.sigma) * (double)k * (double)k);
            sum += gauss[k + r];
        }
        for (int k = 0; k < p.win; k++) gauss[k] /= sum;
        p.weight = gauss;
        p.inv_np = 1.0;
    } else {
        p.inv_np = 1.0 / np2;
    }

    size_t nvy = p.ny - (size_t)p.win + 1, nvx = p.nx - (size_t)p.win + 1;
    size_t nchunks = (nvy + SSIM_ROW_CHUNK - 1) / SSIM_ROW_CHUNK;
    size_t ntasks = nchunks * p.nslices;
    double *row_sum = malloc(nvy * p.nslices * sizeof *row_sum);
    if (!row_sum) return mrb_error(MRB_ERR_NOMEM, "ssim: out of memory");
    int failed = 0;
#pragma omp parallel if (p.nx * p.ny * p.nslices >= IMG_PARALLEL_MIN)
    {
        double *col = malloc(5 * p.nx * sizeof *col);
        if (!col) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < ntasks; t++) {
            if (!col) continue;
            size_t slice = t / nchunks, chunk = t % nchunks;
            size_t j0 = chunk * SSIM_ROW_CHUNK;
            size_t j1 = j0 + SSIM_ROW_CHUNK < nvy ? j0 + SSIM_ROW_CHUNK : nvy;
            const float *a = (const float *)ref->data + slice * p.nx * p.ny;
            const float *b = (const float *)x->data + slice * p.nx * p.ny;
            if (p.weight)
                ssim_rows_gauss(&p, a, b, j0, j1, col, row_sum + slice * nvy);
            else
                ssim_rows_uniform(&p, a, b, j0, j1, col, row_sum + slice * nvy);
        }
        free(col);
    }
    if (failed) {
        free(row_sum);
        return mrb_error(MRB_ERR_NOMEM, "ssim: out of memory");
    }
    double total = 0.0;
    for (size_t s = 0; s < p.nslices; s++) {
        double acc = 0.0;
        for (size_t j = 0; j < nvy; j++) acc += row_sum[s * nvy + j];
        double mean = acc / ((double)nvx * (double)nvy);
        if (per_slice) per_slice[s] = mean;
        total += mean;
    }
    free(row_sum);
    if (out) *out = total / (double)p.nslices;
    return MRB_OK;
}

mrb_status mrb_metric_ssim(const mrb_array *ref, const mrb_array *x, const mrb_ssim_opts *opts, double *out)
{
    return mrb_metric_ssim_slices(ref, x, opts, NULL, out);
}
