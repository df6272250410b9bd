/* Helpers shared by the dictionary-learning tests: an ellipse phantom that
 * can move over time (a "heart" whose radii pulse with the cardiac phase),
 * Cartesian masks with the deep-cascade line density (specs/data.md), the
 * simulated single-coil k-space and a magnitude PSNR. */
#ifndef MRBENCH_TEST_DL_COMMON_H
#define MRBENCH_TEST_DL_COMMON_H

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/array.h"
#include "mrbench/fft.h"
#include "mrbench/rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct dl_ellipse {
    double cx, cy, ax, ay, angle, value, pulse; /* pulse: relative radius change over the cycle */
} dl_ellipse;

/* Ellipses in [-1, 1]^2 (Shepp-Logan-like head with a pulsing inner object),
 * smooth phase exp(i pi/4 (x + y)), [nx, ny, nt] complex. */
static inline mrb_array *dl_test_phantom(size_t nx, size_t ny, size_t nt)
{
    static const dl_ellipse e[] = {
        {0.0, 0.0, 0.72, 0.92, 0.0, 1.0, 0.0},      {0.0, -0.02, 0.66, 0.86, 0.0, -0.6, 0.0},
        {0.0, 0.05, 0.30, 0.38, 0.3, 0.35, 0.18},   {0.0, 0.05, 0.16, 0.22, 0.3, 0.25, 0.25},
        {-0.35, -0.35, 0.10, 0.18, -0.5, 0.2, 0.0}, {0.38, -0.30, 0.12, 0.08, 0.2, -0.15, 0.0},
        {0.0, -0.62, 0.20, 0.06, 0.0, 0.25, 0.0},   {-0.2, 0.55, 0.05, 0.05, 0.0, 0.3, 0.0},
        {0.25, 0.5, 0.07, 0.04, 0.7, 0.3, 0.1},
    };
    mrb_array *a = mrb_array_create3(MRB_C64, nx, ny, nt);
    if (!a) return NULL;
    float complex *v = a->data;
    for (size_t t = 0; t < nt; t++) {
        double phase = 2 * M_PI * (double)t / (double)(nt > 0 ? nt : 1);
        for (size_t iy = 0; iy < ny; iy++)
            for (size_t ix = 0; ix < nx; ix++) {
                double x = 2.0 * ((double)ix + 0.5) / (double)nx - 1;
                double y = 2.0 * ((double)iy + 0.5) / (double)ny - 1;
                double val = 0;
                for (size_t k = 0; k < sizeof e / sizeof e[0]; k++) {
                    double s = 1 + e[k].pulse * sin(phase);
                    double c = cos(e[k].angle), sn = sin(e[k].angle);
                    double u = ((x - e[k].cx) * c + (y - e[k].cy) * sn) / (e[k].ax * s);
                    double w = (-(x - e[k].cx) * sn + (y - e[k].cy) * c) / (e[k].ay * s);
                    if (u * u + w * w <= 1) val += e[k].value;
                }
                v[(t * ny + iy) * nx + ix] = (float complex)(val * cexp(I * M_PI / 4 * (x + y)));
            }
    }
    return a;
}

/* Cartesian mask along y (phase encoding), constant along x: `centre` lines
 * around k = 0 always, then lines drawn without replacement from a Gaussian
 * density (sigma = ny / 10) plus a floor 1 / (2 R) until ny / R lines, drawn
 * independently per frame. */
static inline mrb_array *dl_test_mask(size_t nx, size_t ny, size_t nt, double R, size_t centre, uint64_t seed)
{
    mrb_array *m = mrb_array_create3(MRB_F32, nx, ny, nt);
    if (!m) return NULL;
    float *mv = m->data;
    double *pdf = malloc(ny * sizeof *pdf);
    unsigned char *take = malloc(ny);
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    size_t lines = (size_t)((double)ny / R);
    for (size_t t = 0; t < nt; t++) {
        memset(take, 0, ny);
        size_t got = 0;
        for (size_t k = 0; k < ny; k++) {
            double d = (double)k - (double)(ny / 2);
            pdf[k] = exp(-d * d / (2 * (ny / 10.0) * (ny / 10.0))) + 1 / (2 * R);
            if (k + centre / 2 >= ny / 2 && k < ny / 2 - centre / 2 + centre) {
                take[k] = 1;
                got++;
            }
        }
        while (got < lines) {
            double total = 0;
            for (size_t k = 0; k < ny; k++) total += take[k] ? 0 : pdf[k];
            double u = mrb_rng_uniform(&rng) * total;
            size_t k = 0;
            for (; k < ny; k++) {
                if (take[k]) continue;
                if (u < pdf[k]) break;
                u -= pdf[k];
            }
            if (k == ny)
                for (k = ny; k-- > 0;)
                    if (!take[k]) break;
            take[k] = 1;
            got++;
        }
        for (size_t y = 0; y < ny; y++)
            for (size_t x = 0; x < nx; x++) mv[(t * ny + y) * nx + x] = take[y] ? 1.0f : 0.0f;
    }
    free(pdf);
    free(take);
    return m;
}

/* 2D variable-density random mask, the sampling DLMRI was shown with:
 * each location sampled with probability min(1, (1 - r)^5 + c), r the radius
 * normalised to 1 at the corners (Lustig's genPDF, specs/recon.md), c found by
 * bisection for an expected ny nx / R samples; a centre disc of radius
 * 0.05 always sampled. Drawn independently per frame. */
static inline mrb_array *dl_test_mask_2d(size_t nx, size_t ny, size_t nt, double R, uint64_t seed)
{
    mrb_array *m = mrb_array_create3(MRB_F32, nx, ny, nt);
    if (!m) return NULL;
    float *mv = m->data;
    double *pdf = malloc(nx * ny * sizeof *pdf);
    double lo = -1, hi = 1, target = (double)(nx * ny) / R;
    for (int it = 0; it < 60; it++) {
        double c = 0.5 * (lo + hi), total = 0;
        for (size_t y = 0; y < ny; y++)
            for (size_t x = 0; x < nx; x++) {
                double u = ((double)x - (double)(nx / 2)) / (double)(nx / 2);
                double v = ((double)y - (double)(ny / 2)) / (double)(ny / 2);
                double r = sqrt(u * u + v * v) / sqrt(2.0);
                double p = pow(1 - r, 5) + c;
                p = r < 0.05 ? 1 : (p < 0 ? 0 : (p > 1 ? 1 : p));
                pdf[y * nx + x] = p;
                total += p;
            }
        if (total > target)
            hi = c;
        else
            lo = c;
    }
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    for (size_t t = 0; t < nt; t++)
        for (size_t i = 0; i < nx * ny; i++) mv[t * nx * ny + i] = mrb_rng_uniform(&rng) < pdf[i] ? 1.0f : 0.0f;
    free(pdf);
    return m;
}

/* y = M F x as MRB_C64 [nx, ny, nt, 1]. */
static inline mrb_array *dl_test_kspace(const mrb_array *img, const mrb_array *mask)
{
    size_t dims[4] = {img->dims[0], img->dims[1], img->dims[2], 1};
    mrb_array *k = mrb_array_create(MRB_C64, 4, dims);
    if (!k) return NULL;
    memcpy(k->data, img->data, mrb_array_bytes(img));
    if (mrb_fft_centered(MRB_FFT_FORWARD, 2, 4, k->dims, k->data, 1) != MRB_OK) {
        mrb_array_free(k);
        return NULL;
    }
    float complex *kv = k->data;
    const float *m = mask->data;
    for (size_t i = 0; i < mrb_array_count(mask); i++) kv[i] *= m[i];
    return k;
}

/* PSNR of magnitudes, peak = max |ref| over the whole volume (fastMRI). */
static inline double dl_test_psnr(const mrb_array *ref, const mrb_array *test)
{
    const float complex *r = ref->data, *x = test->data;
    size_t n = mrb_array_count(ref);
    double peak = 0, mse = 0;
    for (size_t i = 0; i < n; i++) {
        double a = cabsf(r[i]), b = cabsf(x[i]);
        if (a > peak) peak = a;
        mse += (a - b) * (a - b);
    }
    mse /= (double)n;
    return 10 * log10(peak * peak / mse);
}

#endif
