/* Helpers of the compressed-sensing tests: an ellipse phantom, synthetic
 * coil maps and masks, running a registered method, PSNR. */
#ifndef MRBENCH_TEST_CS_UTIL_H
#define MRBENCH_TEST_CS_UTIL_H

#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/registry.h"
#include "mrbench/rng.h"

#define CS_TEST_PI 3.14159265358979323846

/* Modified Shepp-Logan ellipses (Toft 1996): intensity, semi-axes a, b,
 * centre x0, y0, angle in degrees. */
static const double CS_TEST_ELLIPSES[10][6] = {
    {1.0, 0.69, 0.92, 0.0, 0.0, 0},       {-0.8, 0.6624, 0.874, 0.0, -0.0184, 0}, {-0.2, 0.11, 0.31, 0.22, 0.0, -18},
    {-0.2, 0.16, 0.41, -0.22, 0.0, 18},   {0.1, 0.21, 0.25, 0.0, 0.35, 0},        {0.1, 0.046, 0.046, 0.0, 0.1, 0},
    {0.1, 0.046, 0.046, 0.0, -0.1, 0},    {0.1, 0.046, 0.023, -0.08, -0.605, 0},  {0.1, 0.023, 0.023, 0.0, -0.606, 0},
    {0.1, 0.023, 0.046, 0.06, -0.605, 0},
};

/* Phantom frame at time fraction `phase` in [0, 1): the two small ellipses
 * at the centre pulsate (a synthetic "cine"). */
static inline void cs_test_phantom(float complex *img, size_t nx, size_t ny, double phase)
{
    for (size_t j = 0; j < ny; j++)
        for (size_t i = 0; i < nx; i++) {
            double x = (2.0 * (double)i - (double)nx) / (double)nx;
            double y = (2.0 * (double)j - (double)ny) / (double)ny;
            double v = 0;
            for (int e = 0; e < 10; e++) {
                const double *p = CS_TEST_ELLIPSES[e];
                double a = p[1], b = p[2];
                if (e == 4 || e == 5) {
                    double f = 1.0 + 0.35 * sin(2 * CS_TEST_PI * phase);
                    a *= f;
                    b *= f;
                }
                double th = p[5] * CS_TEST_PI / 180;
                double xr = (x - p[3]) * cos(th) + (y - p[4]) * sin(th);
                double yr = -(x - p[3]) * sin(th) + (y - p[4]) * cos(th);
                if (xr * xr / (a * a) + yr * yr / (b * b) <= 1) v += p[0];
            }
            img[j * nx + i] = (float)v;
        }
}

/* Smooth Gaussian coil profiles around the image, with a linear phase. */
static inline void cs_test_coils(float complex *sens, size_t nx, size_t ny, size_t nc)
{
    for (size_t c = 0; c < nc; c++) {
        double ang = 2 * CS_TEST_PI * (double)c / (double)nc;
        double cx = 0.7 * cos(ang), cy = 0.7 * sin(ang);
        for (size_t j = 0; j < ny; j++)
            for (size_t i = 0; i < nx; i++) {
                double x = (2.0 * (double)i - (double)nx) / (double)nx;
                double y = (2.0 * (double)j - (double)ny) / (double)ny;
                double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                double mag = exp(-r2 / 0.8);
                double ph = 0.5 * (double)c + 0.8 * x;
                sens[c * nx * ny + j * nx + i] = (float)mag * cexpf((float)ph * I);
            }
    }
}

/* Variable-density random mask: a fully sampled centre block of `centre`
 * and elsewhere Bernoulli with probability ~ (1 - r)^3, scaled by bisection
 * to about nx*ny/accel samples. `lines` != 0 samples whole phase-encode
 * lines (constant along dims[0]). */
static inline void cs_test_mask(float *mask, size_t nx, size_t ny, double accel, size_t centre, int lines,
                                uint64_t seed)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    double target = (double)(nx * ny) / accel;
    double lo = 0, hi = 1e3;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi), sum = 0;
        for (size_t j = 0; j < ny; j++)
            for (size_t i = 0; i < nx; i++) {
                double x = lines ? 0 : (2.0 * (double)i - (double)nx) / (double)nx;
                double y = (2.0 * (double)j - (double)ny) / (double)ny;
                double r = sqrt((x * x + y * y) / 2);
                double p = mid * pow(1 - r, 3);
                sum += p > 1 ? 1 : p;
            }
        if (sum > target)
            hi = mid;
        else
            lo = mid;
    }
    size_t x0 = (nx - centre) / 2, y0 = (ny - centre) / 2;
    for (size_t j = 0; j < ny; j++) {
        double u = mrb_rng_uniform(&rng);
        for (size_t i = 0; i < nx; i++) {
            double x = lines ? 0 : (2.0 * (double)i - (double)nx) / (double)nx;
            double y = (2.0 * (double)j - (double)ny) / (double)ny;
            double r = sqrt((x * x + y * y) / 2);
            double p = lo * pow(1 - r, 3);
            double draw = lines ? u : mrb_rng_uniform(&rng);
            int centre_hit = (j >= y0 && j < y0 + centre) && (lines || (i >= x0 && i < x0 + centre));
            mask[j * nx + i] = (centre_hit || draw < p) ? 1.0f : 0.0f;
        }
    }
}

/* k-space [nx, ny, nt, nc] = F (S_c x) of images [nx, ny, nt] (sens NULL: one coil). */
static inline mrb_array *cs_test_kspace(const mrb_array *img, const float complex *sens, size_t nc)
{
    size_t nx = img->dims[0], ny = img->dims[1], nt = img->dims[2], frame = nx * ny;
    size_t dims[4] = {nx, ny, nt, nc};
    mrb_array *k = mrb_array_create(MRB_C64, 4, dims);
    cr_assert_not_null(k);
    float complex *kv = k->data;
    const float complex *x = img->data;
    for (size_t c = 0; c < nc; c++)
        for (size_t t = 0; t < nt; t++)
            for (size_t i = 0; i < frame; i++)
                kv[(c * nt + t) * frame + i] = (sens ? sens[c * frame + i] : 1.0f) * x[t * frame + i];
    cr_assert_eq(mrb_fft_array(MRB_FFT_FORWARD, 2, k, 1), MRB_OK);
    return k;
}

/* Runs a registered method with "key=value" parameter pairs (NULL-terminated). */
static inline mrb_status cs_test_run(const char *method, const mrb_recon_input *in, mrb_array *out, ...)
{
    const mrb_method_desc *d = mrb_method_find(method);
    cr_assert_not_null(d, "method %s is not registered", method);
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    va_list ap;
    va_start(ap, out);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        cr_assert_eq(mrb_params_set_text(&p, d->params, d->nparams, key, val, method), MRB_OK, "%s",
                     mrb_error_message());
    }
    va_end(ap);
    void *state = NULL;
    mrb_status st = d->setup(&p, in, &state);
    if (st != MRB_OK) return st;
    st = d->run(state, in, out);
    d->teardown(state);
    return st;
}

/* PSNR of magnitudes with the reference's maximum as data range (fastMRI). */
static inline double cs_test_psnr(const mrb_array *ref, const mrb_array *test)
{
    size_t n = mrb_array_count(ref);
    const float complex *r = ref->data, *t = test->data;
    double mse = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        double a = cabsf(r[i]), b = cabsf(t[i]);
        mse += (a - b) * (a - b);
        if (a > peak) peak = a;
    }
    mse /= (double)n;
    return 10 * log10(peak * peak / mse);
}

#endif
