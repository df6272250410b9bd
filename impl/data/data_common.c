/* Shared phantom helpers: coordinates, anti-aliased edges, smooth random
 * fields, filtered-noise textures, smooth phase, item ids; and the mask
 * acceleration. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

static const double PI = 3.14159265358979323846;

double mrb_data_coord_x(size_t i, size_t n)
{
    double half = 0.5 * (double)(n - 1);
    return ((double)i - half) / half;
}

double mrb_data_coord_y(size_t j, size_t n)
{
    double half = 0.5 * (double)(n - 1);
    return (half - (double)j) / half;
}

double mrb_data_coverage(double signed_distance_px)
{
    double w = 0.5 - signed_distance_px;
    return w < 0.0 ? 0.0 : (w > 1.0 ? 1.0 : w);
}

mrb_status mrb_data_smooth_field(mrb_rng *rng, size_t nx, size_t ny, int kmax, double *f, double *gx, double *gy)
{
    MRB_ASSERT(kmax >= 1 && nx >= 2 && ny >= 2);
    size_t nmode_x = (size_t)(2 * kmax + 1);
    double *cx = malloc(nmode_x * nx * sizeof *cx);
    double *sx = malloc(nmode_x * nx * sizeof *sx);
    if (!cx || !sx) {
        free(cx);
        free(sx);
        return mrb_error(MRB_ERR_NOMEM, "data: out of memory for a smooth field %zux%zu", nx, ny);
    }
    for (int p = -kmax; p <= kmax; p++)
        for (size_t i = 0; i < nx; i++) {
            double a = PI * p * mrb_data_coord_x(i, nx);
            cx[(size_t)(p + kmax) * nx + i] = cos(a);
            sx[(size_t)(p + kmax) * nx + i] = sin(a);
        }
    size_t npix = nx * ny;
    memset(f, 0, npix * sizeof *f);
    if (gx) memset(gx, 0, npix * sizeof *gx);
    if (gy) memset(gy, 0, npix * sizeof *gy);
    /* Modes (p, q) with q >= 0 cover every frequency pair once up to sign;
     * amplitudes fall off as a Gaussian in |k| so the field is smooth. */
    for (int q = 0; q <= kmax; q++)
        for (int p = -kmax; p <= kmax; p++) {
            if (q == 0 && p <= 0) continue;
            double k2 = (double)(p * p + q * q);
            double amp = mrb_rng_normal(rng) * exp(-k2 / (double)(kmax * kmax));
            double theta = 2.0 * PI * mrb_rng_uniform(rng);
            const double *cxp = cx + (size_t)(p + kmax) * nx;
            const double *sxp = sx + (size_t)(p + kmax) * nx;
            for (size_t j = 0; j < ny; j++) {
                double b = PI * q * mrb_data_coord_y(j, ny) + theta;
                double cb = amp * cos(b), sb = amp * sin(b);
                double *row = f + j * nx;
                /* cos(a + b) = cos a cos b - sin a sin b */
                for (size_t i = 0; i < nx; i++) row[i] += cxp[i] * cb - sxp[i] * sb;
                if (gx) {
                    double *grow = gx + j * nx;
                    for (size_t i = 0; i < nx; i++) grow[i] -= PI * p * (sxp[i] * cb + cxp[i] * sb);
                }
                if (gy) {
                    double *grow = gy + j * nx;
                    for (size_t i = 0; i < nx; i++) grow[i] -= PI * q * (sxp[i] * cb + cxp[i] * sb);
                }
            }
        }
    free(cx);
    free(sx);
    double mean = 0.0;
    for (size_t k = 0; k < npix; k++) mean += f[k];
    mean /= (double)npix;
    double peak = 0.0;
    for (size_t k = 0; k < npix; k++) {
        f[k] -= mean;
        if (fabs(f[k]) > peak) peak = fabs(f[k]);
    }
    double scale = peak > 0.0 ? 1.0 / peak : 0.0;
    for (size_t k = 0; k < npix; k++) {
        f[k] *= scale;
        if (gx) gx[k] *= scale;
        if (gy) gy[k] *= scale;
    }
    return MRB_OK;
}

static void blur_axis(const double *in, double *out, size_t n0, size_t n1, size_t stride_in, size_t stride_line,
                      const double *kernel, int radius)
{
    /* Blurs lines of length n0 (element stride stride_in), n1 lines apart by
     * stride_line, with periodic wrap. */
    for (size_t l = 0; l < n1; l++)
        for (size_t i = 0; i < n0; i++) {
            double acc = 0.0;
            for (int k = -radius; k <= radius; k++) {
                long idx = ((long)i + k) % (long)n0;
                if (idx < 0) idx += (long)n0;
                acc += kernel[k + radius] * in[l * stride_line + (size_t)idx * stride_in];
            }
            out[l * stride_line + i * stride_in] = acc;
        }
}

mrb_status mrb_data_noise_texture(mrb_rng *rng, size_t nx, size_t ny, double sigma_px, double *tex)
{
    size_t npix = nx * ny;
    int radius = (int)ceil(3.0 * sigma_px);
    if (radius < 1) radius = 1;
    double *tmp = malloc(npix * sizeof *tmp);
    double *kernel = malloc((size_t)(2 * radius + 1) * sizeof *kernel);
    if (!tmp || !kernel) {
        free(tmp);
        free(kernel);
        return mrb_error(MRB_ERR_NOMEM, "data: out of memory for a texture %zux%zu", nx, ny);
    }
    double ksum = 0.0;
    for (int k = -radius; k <= radius; k++) {
        kernel[k + radius] = exp(-0.5 * (double)(k * k) / (sigma_px * sigma_px));
        ksum += kernel[k + radius];
    }
    for (int k = 0; k <= 2 * radius; k++) kernel[k] /= ksum;
    for (size_t k = 0; k < npix; k++) tex[k] = mrb_rng_normal(rng);
    blur_axis(tex, tmp, nx, ny, 1, nx, kernel, radius);
    blur_axis(tmp, tex, ny, nx, nx, 1, kernel, radius);
    free(tmp);
    free(kernel);
    double mean = 0.0, var = 0.0;
    for (size_t k = 0; k < npix; k++) mean += tex[k];
    mean /= (double)npix;
    for (size_t k = 0; k < npix; k++) var += (tex[k] - mean) * (tex[k] - mean);
    double sd = sqrt(var / (double)npix);
    double scale = sd > 0.0 ? 1.0 / sd : 0.0;
    for (size_t k = 0; k < npix; k++) tex[k] = (tex[k] - mean) * scale;
    return MRB_OK;
}

mrb_status mrb_data_apply_smooth_phase(mrb_array *image, uint64_t seed, int kmax, double peak_rad)
{
    MRB_ASSERT(image && image->dtype == MRB_C64 && image->ndim >= 2);
    size_t nx = image->dims[0], ny = image->dims[1];
    size_t npix = nx * ny;
    size_t nframes = mrb_array_count(image) / npix;
    double *phi = malloc(npix * sizeof *phi);
    if (!phi) return mrb_error(MRB_ERR_NOMEM, "data: out of memory for a phase map %zux%zu", nx, ny);
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    mrb_status st = mrb_data_smooth_field(&rng, nx, ny, kmax, phi, NULL, NULL);
    if (st != MRB_OK) {
        free(phi);
        return st;
    }
    float complex *img = image->data;
    for (size_t k = 0; k < npix; k++) {
        float complex rot = (float complex)cexp(I * peak_rad * phi[k]);
        for (size_t t = 0; t < nframes; t++) img[t * npix + k] *= rot;
    }
    free(phi);
    return MRB_OK;
}

mrb_status mrb_data_attach_coils(mrb_item *item, size_t ncoils, uint64_t seed)
{
    if (ncoils <= 1) return MRB_OK;
    return mrb_coil_maps(item->image->dims[0], item->image->dims[1], ncoils, seed, &item->sens);
}

void mrb_data_item_id(mrb_item *item, const char *name, size_t index)
{
    snprintf(item->id, sizeof item->id, "%s-%04zu", name, index);
}

size_t mrb_data_count_cases(const mrb_params *p)
{
    return (size_t)mrb_params_int(p, "cases");
}

mrb_status mrb_data_check_mask_shape(const char *name, size_t nx, size_t ny, size_t nt, mrb_array **mask)
{
    if (!mask) return mrb_error(MRB_ERR_INVALID, "sampler %s: no output mask pointer", name);
    *mask = NULL;
    if (nx < 2 || ny < 2 || nt < 1)
        return mrb_error(MRB_ERR_INVALID, "sampler %s: mask shape %zux%zux%zu (need nx, ny >= 2, nt >= 1)", name, nx,
                         ny, nt);
    return MRB_OK;
}

double mrb_mask_acceleration(const mrb_array *mask)
{
    if (!mask || mask->dtype != MRB_F32) return NAN;
    size_t n = mrb_array_count(mask), sampled = 0;
    const float *m = mask->data;
    for (size_t k = 0; k < n; k++) sampled += m[k] != 0.0f;
    if (sampled == 0) return INFINITY;
    return (double)n / (double)sampled;
}
