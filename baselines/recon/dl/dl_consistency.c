/* Image updates of DLMRI and DLTG.
 *
 * DLMRI (Ravishankar and Bresler 2011, eq. 9): with x_avg the patch average,
 * s = F x_avg keeps its unsampled values and takes (s + nu y) / (1 + nu) on
 * the sampled set, the measured y in the noiseless limit.
 *
 * DLTG (Caballero et al. 2014) adds lambda ||grad_t x||_1. Split Bregman
 * (Goldstein and Osher, SIAM J Imaging Sci 2009) with d = grad_t x:
 *   x <- argmin (1/2)||x - a||^2 + (nu/2)||M F x - y||^2 + (mu/2)||d - grad_t x - b||^2
 *   d <- shrink(grad_t x + b, lambda / mu)
 *   b <- b + grad_t x - d
 * The spatial FFT commutes with grad_t, so in k-space the x step is, for
 * every (kx, ky), the cyclic tridiagonal system along t
 *   (1 + nu m_t) s_t + mu (2 s_t - s_{t+1} - s_{t-1}) = F(a + mu grad_t^T (d - b))_t + nu m_t y_t
 * solved exactly (Sherman-Morrison on the Thomas algorithm, double
 * precision); in the noiseless form the sampled rows become s_t = y_t. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"
#include "mrbench/fft.h"

static mrb_status check_shapes(const char *who, const mrb_array *image, const mrb_array *kspace, const mrb_array *mask)
{
    if (!image || !kspace || !mask) return mrb_error(MRB_ERR_INVALID, "%s: missing image, k-space or mask", who);
    if (image->dtype != MRB_C64 || kspace->dtype != MRB_C64 || mask->dtype != MRB_F32)
        return mrb_error(MRB_ERR_INVALID, "%s: expected image and k-space MRB_C64 and mask MRB_F32, got %s, %s, %s",
                         who, mrb_dtype_name(image->dtype), mrb_dtype_name(kspace->dtype), mrb_dtype_name(mask->dtype));
    size_t vol = image->dims[0] * image->dims[1] * (image->ndim > 2 ? image->dims[2] : 1);
    if (mrb_array_count(image) != vol || mrb_array_count(mask) != vol || mrb_array_count(kspace) != vol) {
        char a[64], b[64], c[64];
        return mrb_error(MRB_ERR_INVALID, "%s: image %s, k-space %s and mask %s must share [nx, ny, nt] (one coil)",
                         who, mrb_array_shape_str(image, a, sizeof a), mrb_array_shape_str(kspace, b, sizeof b),
                         mrb_array_shape_str(mask, c, sizeof c));
    }
    for (int d = 0; d < 2; d++)
        if (kspace->dims[d] != image->dims[d] || mask->dims[d] != image->dims[d])
            return mrb_error(MRB_ERR_INVALID, "%s: k-space and mask must match the image in x, y", who);
    return MRB_OK;
}

mrb_status mrb_dl_data_consistency(mrb_array *image, const mrb_array *kspace, const mrb_array *mask, double nu,
                                   int nthreads)
{
    MRB_TRY(check_shapes("dl data consistency", image, kspace, mask));
    const size_t vol = mrb_array_count(image);
    float complex *s = image->data;
    const float complex *y = kspace->data;
    const float *m = mask->data;
    MRB_TRY(mrb_fft_centered(MRB_FFT_FORWARD, 2, image->ndim, image->dims, image->data, nthreads));
    if (nu <= 0) {
        for (size_t i = 0; i < vol; i++)
            if (m[i] != 0) s[i] = y[i];
    } else {
        const float w = (float)(1 / (1 + nu)), wy = (float)(nu / (1 + nu));
        for (size_t i = 0; i < vol; i++)
            if (m[i] != 0) s[i] = w * s[i] + wy * y[i];
    }
    return mrb_fft_centered(MRB_FFT_INVERSE, 2, image->ndim, image->dims, image->data, nthreads);
}

/* Thomas algorithm: sub a (a[0] unused), diag b, super c (c[n-1] unused). */
static void thomas(size_t n, const double *a, const double *b, const double *c, const double complex *r,
                   double complex *x, double *cp)
{
    double complex prev;
    cp[0] = c[0] / b[0];
    x[0] = r[0] / b[0];
    prev = x[0];
    for (size_t i = 1; i < n; i++) {
        double den = b[i] - a[i] * cp[i - 1];
        cp[i] = c[i] / den;
        x[i] = (r[i] - a[i] * prev) / den;
        prev = x[i];
    }
    for (size_t i = n - 1; i-- > 0;) x[i] -= cp[i] * x[i + 1];
}

/* Cyclic tridiagonal solve (Numerical Recipes, section 2.7): corner terms
 * alpha = A[n-1][0], beta = A[0][n-1]; n >= 3. ws holds 3 n doubles and
 * 2 n complex values. */
static void cyclic_solve(size_t n, const double *a, const double *b, const double *c, double alpha, double beta,
                         const double complex *r, double complex *x, double *wsd, double complex *wsc)
{
    double *bb = wsd, *cp = wsd + n, *u = wsd + 2 * n;
    double complex *z = wsc, *uc = wsc + n;
    if (alpha == 0 && beta == 0) { /* no wrap-around coupling: plain tridiagonal */
        thomas(n, a, b, c, r, x, cp);
        return;
    }
    double gamma = -b[0];
    memcpy(bb, b, n * sizeof *bb);
    bb[0] = b[0] - gamma;
    bb[n - 1] = b[n - 1] - alpha * beta / gamma;
    thomas(n, a, bb, c, r, x, cp);
    for (size_t i = 0; i < n; i++) u[i] = 0;
    u[0] = gamma;
    u[n - 1] = alpha;
    for (size_t i = 0; i < n; i++) uc[i] = u[i];
    thomas(n, a, bb, c, uc, z, cp);
    double complex fact = (x[0] + beta * x[n - 1] / gamma) / (1 + z[0] + beta * z[n - 1] / gamma);
    for (size_t i = 0; i < n; i++) x[i] -= fact * z[i];
}

/* Solves the x step in k-space for every (kx, ky); s holds the right-hand
 * side F(a + mu grad^T(d - b)) on entry (the data term is added here). */
static mrb_status solve_kspace(float complex *s, const float complex *y, const float *m, size_t plane, size_t nt,
                               double mu, double nu, int nthreads)
{
    int failed = 0;
#pragma omp parallel num_threads(nthreads)
    {
        double *co = malloc(6 * nt * sizeof *co);
        double complex *cx = malloc(4 * nt * sizeof *cx);
        if (!co || !cx) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (size_t k = 0; k < plane; k++) {
            if (!co || !cx) continue;
            double *a = co, *b = co + nt, *c = co + 2 * nt, *wsd = co + 3 * nt;
            double complex *r = cx, *x = cx + nt, *wsc = cx + 2 * nt;
            double alpha = 0, beta = 0;
            for (size_t t = 0; t < nt; t++) {
                size_t i = t * plane + k;
                int sampled = m[i] != 0;
                r[t] = s[i];
                if (sampled && nu <= 0) { /* noiseless: s_t = y_t */
                    a[t] = c[t] = 0;
                    b[t] = 1;
                    r[t] = y[i];
                    continue;
                }
                b[t] = 1 + 2 * mu + (sampled ? nu : 0);
                if (sampled) r[t] += nu * (double complex)y[i];
                a[t] = c[t] = -mu;
            }
            if (nt == 1) {
                /* no temporal neighbours: grad_t x = 0 */
                double bb = m[k] != 0 && nu <= 0 ? 1 : 1 + (m[k] != 0 ? nu : 0);
                s[k] = (float complex)(r[0] / bb);
                continue;
            }
            if (nt == 2) {
                /* both neighbours are the other frame: off-diagonal -2 mu */
                double a01 = 2 * a[0], a10 = 2 * a[1];
                double det = b[0] * b[1] - a01 * a10;
                x[0] = (r[0] * b[1] - a01 * r[1]) / det;
                x[1] = (b[0] * r[1] - a10 * r[0]) / det;
            } else {
                beta = a[0];       /* row 0 couples to s_{nt-1} */
                alpha = c[nt - 1]; /* row nt-1 couples to s_0 */
                cyclic_solve(nt, a, b, c, alpha, beta, r, x, wsd, wsc);
            }
            for (size_t t = 0; t < nt; t++) s[t * plane + k] = (float complex)x[t];
        }
        free(co);
        free(cx);
    }
    if (failed) return mrb_error(MRB_ERR_NOMEM, "dl tg: out of memory for thread workspaces");
    return MRB_OK;
}

mrb_status mrb_dl_tg_update(mrb_array *image, const mrb_array *kspace, const mrb_array *mask,
                            const mrb_dl_tg_opts *opts, mrb_array *d, mrb_array *b)
{
    MRB_TRY(check_shapes("dl tg", image, kspace, mask));
    if (!opts || !d || !b || d->dtype != MRB_C64 || b->dtype != MRB_C64 ||
        mrb_array_count(d) != mrb_array_count(image) || mrb_array_count(b) != mrb_array_count(image))
        return mrb_error(MRB_ERR_INVALID, "dl tg: needs options and MRB_C64 d, b of the image size");
    if (!(opts->lambda >= 0) || !(opts->mu > 0) || opts->iters < 1)
        return mrb_error(MRB_ERR_INVALID, "dl tg: lambda %g (>= 0), mu %g (> 0), iterations %d (>= 1)", opts->lambda,
                         opts->mu, opts->iters);
    const size_t plane = image->dims[0] * image->dims[1];
    const size_t vol = mrb_array_count(image), nt = vol / plane;
    const int nthreads = opts->nthreads > 0 ? opts->nthreads : 1;
    const double mu = opts->mu, tau = opts->lambda / opts->mu;
    float complex *x = image->data, *dd = d->data, *bb = b->data;
    const float complex *y = kspace->data;
    const float *m = mask->data;
    float complex *avg = mrb_malloc(vol * sizeof *avg);
    if (!avg) return mrb_error(MRB_ERR_NOMEM, "dl tg: out of memory for %zu voxels", vol);
    memcpy(avg, x, vol * sizeof *avg);
    mrb_status st = MRB_OK;
    for (int it = 0; it < opts->iters && st == MRB_OK; it++) {
        /* right-hand side a + mu grad^T (d - b), grad^T z (t) = z(t-1) - z(t) */
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t t = 0; t < nt; t++) {
            size_t c0 = t * plane, p0 = ((t + nt - 1) % nt) * plane;
            for (size_t k = 0; k < plane; k++) {
                float complex zc = dd[c0 + k] - bb[c0 + k], zp = dd[p0 + k] - bb[p0 + k];
                x[c0 + k] = avg[c0 + k] + (float)mu * (zp - zc);
            }
        }
        st = mrb_fft_centered(MRB_FFT_FORWARD, 2, image->ndim, image->dims, image->data, nthreads);
        if (st != MRB_OK) break;
        st = solve_kspace(x, y, m, plane, nt, mu, opts->nu, nthreads);
        if (st != MRB_OK) break;
        st = mrb_fft_centered(MRB_FFT_INVERSE, 2, image->ndim, image->dims, image->data, nthreads);
        if (st != MRB_OK) break;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t t = 0; t < nt; t++) {
            size_t c0 = t * plane, n0 = ((t + 1) % nt) * plane;
            for (size_t k = 0; k < plane; k++) {
                size_t i = c0 + k;
                float complex v = x[n0 + k] - x[i] + bb[i];
                /* |v| without hypotf's overflow guards: values are O(1) here */
                float mag = sqrtf(crealf(v) * crealf(v) + cimagf(v) * cimagf(v));
                float complex dn = mag > tau ? v * (float)((mag - tau) / mag) : 0;
                dd[i] = dn;
                bb[i] = v - dn;
            }
        }
    }
    mrb_free(avg);
    return st;
}
