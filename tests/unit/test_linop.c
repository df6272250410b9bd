/* Linear operators: adjointness <A x, y> = <x, A^H y> for every operator on
 * random complex data, orthogonality of the wavelet, FFT conventions. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mrbench/linop.h"
#include "mrbench/rng.h"

/* Single-precision dot products over ~1e5 elements: relative error ~1e-6. */
#define ADJOINT_RTOL 1e-5
#define ORTHO_RTOL 1e-5
#define NTHREADS 2
#define LINOP_TEST_PI 3.14159265358979323846

static float *random_complex(size_t n, uint64_t seed)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    float *v = mrb_malloc(n * 2 * sizeof(float));
    cr_assert_not_null(v);
    for (size_t i = 0; i < 2 * n; i++) v[i] = (float)mrb_rng_normal(&rng);
    return v;
}

static double complex dot(const float *a, const float *b, size_t n)
{
    const float complex *x = (const float complex *)a, *y = (const float complex *)b;
    double complex acc = 0;
    for (size_t i = 0; i < n; i++) acc += conj((double complex)x[i]) * (double complex)y[i];
    return acc;
}

static double norm2(const float *a, size_t n)
{
    return sqrt(creal(dot(a, a, n)));
}

/* <A x, y> against <x, A^H y>, and A^H A x against normal(x). */
static void check_adjoint(mrb_linop *op, uint64_t seed)
{
    cr_assert_not_null(op, "%s", mrb_error_message());
    size_t n = mrb_linop_domain_count(op), m = mrb_linop_codomain_count(op);
    float *x = random_complex(n, seed), *y = random_complex(m, seed + 1);
    float *ax = mrb_malloc(m * 2 * sizeof(float)), *ahy = mrb_malloc(n * 2 * sizeof(float));
    float *nx = mrb_malloc(n * 2 * sizeof(float)), *ahax = mrb_malloc(n * 2 * sizeof(float));
    cr_assert_eq(mrb_linop_forward(op, ax, x), MRB_OK);
    cr_assert_eq(mrb_linop_adjoint(op, ahy, y), MRB_OK);
    double complex lhs = dot(ax, y, m), rhs = dot(x, ahy, n);
    double scale = norm2(ax, m) * norm2(y, m);
    cr_assert(cabs(lhs - rhs) <= ADJOINT_RTOL * scale, "%s: <Ax,y> = %g%+gi, <x,A^H y> = %g%+gi", op->name, creal(lhs),
              cimag(lhs), creal(rhs), cimag(rhs));
    /* the normal operator agrees with adjoint(forward) */
    cr_assert_eq(mrb_linop_normal(op, nx, x), MRB_OK);
    cr_assert_eq(mrb_linop_adjoint(op, ahax, ax), MRB_OK);
    double diff = 0;
    for (size_t i = 0; i < 2 * n; i++) diff += (double)(nx[i] - ahax[i]) * (nx[i] - ahax[i]);
    cr_assert(sqrt(diff) <= ADJOINT_RTOL * norm2(ahax, n) + 1e-12, "%s: normal != A^H A", op->name);
    mrb_free(x);
    mrb_free(y);
    mrb_free(ax);
    mrb_free(ahy);
    mrb_free(nx);
    mrb_free(ahax);
    mrb_linop_free(op);
}

Test(linop, mask_adjoint, .description = "mask operator is self-adjoint over coil repeats")
{
    size_t dims[4] = {16, 12, 3, 4};
    size_t cnt = 16 * 12 * 3;
    float *mask = mrb_malloc(cnt * sizeof(float));
    for (size_t i = 0; i < cnt; i++) mask[i] = (float)((i * 7) % 3 == 0);
    check_adjoint(mrb_linop_mask_create(4, dims, mask, cnt, NTHREADS), 11);
    mrb_free(mask);
}

Test(linop, mask_refuses_bad_tiling, .description = "a mask that does not tile the data is refused")
{
    size_t dims[2] = {8, 8};
    float mask[5] = {1, 1, 1, 1, 1};
    cr_assert_null(mrb_linop_mask_create(2, dims, mask, 5, 1));
}

Test(linop, fft2_adjoint, .description = "centred orthonormal 2-D FFT: adjoint is the inverse")
{
    size_t dims[4] = {32, 24, 2, 3};
    check_adjoint(mrb_linop_fft2_create(4, dims, NTHREADS), 21);
}

Test(linop, fft2_odd_adjoint, .description = "2-D FFT adjoint holds for odd sizes")
{
    size_t dims[3] = {15, 9, 2};
    check_adjoint(mrb_linop_fft2_create(3, dims, 1), 22);
}

Test(linop, fftt_adjoint, .description = "temporal FFT over dims[2]: adjoint is the inverse")
{
    size_t dims[4] = {16, 8, 10, 2};
    check_adjoint(mrb_linop_fftt_create(4, dims, NTHREADS), 31);
}

Test(linop, fftt_matches_dft, .description = "temporal FFT equals the centred orthonormal DFT")
{
    enum { NX = 3, NY = 2, NT = 6 };
    size_t dims[3] = {NX, NY, NT};
    mrb_linop *op = mrb_linop_fftt_create(3, dims, 1);
    cr_assert_not_null(op);
    float *x = random_complex(NX * NY * NT, 5);
    float *y = mrb_malloc(NX * NY * NT * 2 * sizeof(float));
    cr_assert_eq(mrb_linop_forward(op, y, x), MRB_OK);
    const float complex *xc = (const float complex *)x, *yc = (const float complex *)y;
    for (int p = 0; p < NX * NY; p++)
        for (int k = 0; k < NT; k++) {
            /* centred: frequencies and times indexed from -NT/2 */
            double complex acc = 0;
            for (int t = 0; t < NT; t++)
                acc += xc[t * NX * NY + p] * cexp(-2 * LINOP_TEST_PI * I * (double)((k - NT / 2) * (t - NT / 2)) / NT);
            acc /= sqrt(NT);
            cr_assert(cabs(acc - yc[k * NX * NY + p]) < 1e-5 * (1 + cabs(acc)), "p %d k %d", p, k);
        }
    mrb_free(x);
    mrb_free(y);
    mrb_linop_free(op);
}

Test(linop, sense_adjoint, .description = "SENSE expand/combine are adjoint")
{
    enum { NX = 16, NY = 12, NT = 3, NC = 4 };
    float *s = random_complex(NX * NY * NC, 41);
    check_adjoint(mrb_linop_sense_create(NX, NY, NT, NC, s, NTHREADS), 42);
    mrb_free(s);
}

Test(linop, chain_adjoint, .description = "chain M F S (the multi-coil forward model) is adjoint")
{
    enum { NX = 32, NY = 16, NT = 2, NC = 3 };
    float *s = random_complex(NX * NY * NC, 51);
    size_t kdims[4] = {NX, NY, NT, NC};
    float *mask = mrb_malloc(NX * NY * NT * sizeof(float));
    for (size_t i = 0; i < NX * NY * NT; i++) mask[i] = (float)(i % 3 != 0);
    mrb_linop *e = mrb_linop_chain_create(mrb_linop_chain_create(mrb_linop_sense_create(NX, NY, NT, NC, s, NTHREADS),
                                                                 mrb_linop_fft2_create(4, kdims, NTHREADS)),
                                          mrb_linop_mask_create(4, kdims, mask, NX * NY * NT, NTHREADS));
    check_adjoint(e, 52);
    mrb_free(s);
    mrb_free(mask);
}

Test(linop, chain_refuses_mismatch, .description = "chaining mismatched shapes is refused")
{
    size_t a[2] = {8, 8}, b[2] = {8, 4};
    cr_assert_null(mrb_linop_chain_create(mrb_linop_fft2_create(2, a, 1), mrb_linop_fft2_create(2, b, 1)));
}

Test(linop, fdiff_adjoint, .description = "periodic finite differences are adjoint")
{
    size_t dims[3] = {16, 12, 5};
    check_adjoint(mrb_linop_fdiff_create(3, dims, 0x3, NTHREADS), 61);
    check_adjoint(mrb_linop_fdiff_create(3, dims, 0x7, NTHREADS), 62);
    check_adjoint(mrb_linop_fdiff_create(3, dims, 0x4, NTHREADS), 63);
}

Test(linop, fdiff_values, .description = "finite differences of a ramp are constant but at the wrap")
{
    size_t dims[2] = {5, 1};
    mrb_linop *d = mrb_linop_fdiff_create(2, dims, 0x1, 1);
    cr_assert_not_null(d);
    float complex x[5] = {0, 1, 2, 3, 4}, y[5];
    cr_assert_eq(mrb_linop_forward(d, (float *)y, (const float *)x), MRB_OK);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(crealf(y[i]), 1.0f, 1e-6);
    cr_assert_float_eq(crealf(y[4]), -4.0f, 1e-6);
    mrb_linop_free(d);
}

static void check_wavelet_orthogonal(size_t nx, size_t ny, size_t nb, size_t sx, size_t sy)
{
    size_t dims[3] = {nx, ny, nb};
    mrb_linop *w = mrb_linop_wavelet_create(3, dims, 16, NTHREADS);
    cr_assert_not_null(w);
    cr_assert_eq(mrb_linop_wavelet_set_shift(w, sx, sy), MRB_OK);
    size_t n = nx * ny * nb;
    float *x = random_complex(n, 71 + sx), *c = mrb_malloc(n * 2 * sizeof(float));
    float *r = mrb_malloc(n * 2 * sizeof(float));
    cr_assert_eq(mrb_linop_forward(w, c, x), MRB_OK);
    /* Parseval: ||W x|| = ||x|| */
    cr_assert(fabs(norm2(c, n) - norm2(x, n)) <= ORTHO_RTOL * norm2(x, n));
    /* W^H W = I */
    cr_assert_eq(mrb_linop_adjoint(w, r, c), MRB_OK);
    double diff = 0;
    for (size_t i = 0; i < 2 * n; i++) diff += (double)(r[i] - x[i]) * (r[i] - x[i]);
    cr_assert(sqrt(diff) <= ORTHO_RTOL * norm2(x, n), "||W^H W x - x|| = %g", sqrt(diff));
    mrb_free(x);
    mrb_free(c);
    mrb_free(r);
    mrb_linop_free(w);
}

Test(linop, wavelet_orthogonal, .description = "db2 wavelet: W^H W = I and Parseval, with shifts")
{
    check_wavelet_orthogonal(128, 128, 1, 0, 0);
    check_wavelet_orthogonal(128, 64, 2, 5, 3);
    check_wavelet_orthogonal(96, 80, 1, 17, 9);
}

Test(linop, wavelet_adjoint, .description = "shifted wavelet passes the adjoint test")
{
    size_t dims[3] = {64, 64, 2};
    mrb_linop *w = mrb_linop_wavelet_create(3, dims, 16, NTHREADS);
    cr_assert_not_null(w);
    cr_assert_eq(mrb_linop_wavelet_set_shift(w, 3, 7), MRB_OK);
    check_adjoint(w, 81);
}

Test(linop, wavelet_levels, .description = "decomposition stops at bands of 16 as BART's minsize")
{
    size_t d256[2] = {256, 256}, d128[2] = {128, 96}, d16[2] = {16, 16};
    mrb_linop *a = mrb_linop_wavelet_create(2, d256, 16, 1);
    mrb_linop *b = mrb_linop_wavelet_create(2, d128, 16, 1);
    mrb_linop *c = mrb_linop_wavelet_create(2, d16, 16, 1);
    cr_assert_eq(mrb_linop_wavelet_levels(a), 4);
    cr_assert_eq(mrb_linop_wavelet_levels(b), 2); /* 96 -> 48 -> 24 (-> 12 < 16) */
    cr_assert_eq(mrb_linop_wavelet_levels(c), 0);
    mrb_linop_free(a);
    mrb_linop_free(b);
    mrb_linop_free(c);
}

Test(linop, wavelet_sparsifies_constant, .description = "a constant image has only coarse coefficients")
{
    enum { N = 64 };
    size_t dims[2] = {N, N};
    mrb_linop *w = mrb_linop_wavelet_create(2, dims, 16, 1);
    cr_assert_not_null(w);
    float complex *x = mrb_malloc(N * N * sizeof *x), *c = mrb_malloc(N * N * sizeof *c);
    for (int i = 0; i < N * N; i++) x[i] = 1.0f + 2.0f * I;
    cr_assert_eq(mrb_linop_forward(w, (float *)c, (const float *)x), MRB_OK);
    int levels = mrb_linop_wavelet_levels(w);
    int coarse = N >> levels;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++)
            if (i >= coarse || j >= coarse)
                cr_assert(cabsf(c[j * N + i]) < 1e-5f, "detail (%d,%d) = %g", i, j, (double)cabsf(c[j * N + i]));
    mrb_free(x);
    mrb_free(c);
    mrb_linop_free(w);
}

Test(linop, wavelet_set_shift_refuses_other_ops, .description = "set_shift on a non-wavelet is refused")
{
    size_t dims[2] = {8, 8};
    mrb_linop *f = mrb_linop_fft2_create(2, dims, 1);
    cr_assert_eq(mrb_linop_wavelet_set_shift(f, 1, 1), MRB_ERR_INVALID);
    mrb_linop_free(f);
}

/* PyWavelets (float64) against mrbench (float32) on unit-variance data */
#define GOLDEN_ATOL 1e-4

Test(linop, wavelet_matches_pywavelets,
     .description = "2-level db2 coefficients equal PyWavelets' periodization transform "
                    "(tests/golden/linop/make_wavelet_golden.py)")
{
    enum { N = 64 };
    const char *path = MRB_SOURCE_DIR "/tests/golden/linop/wavelet_db2_64x64.bin";
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    float *x = mrb_malloc(N * N * 2 * sizeof(float)), *ref = mrb_malloc(N * N * 2 * sizeof(float));
    float *c = mrb_malloc(N * N * 2 * sizeof(float));
    cr_assert_eq(fread(x, sizeof(float), N * N * 2, f), (size_t)N * N * 2);
    cr_assert_eq(fread(ref, sizeof(float), N * N * 2, f), (size_t)N * N * 2);
    fclose(f);
    size_t dims[2] = {N, N};
    mrb_linop *w = mrb_linop_wavelet_create(2, dims, 16, 1);
    cr_assert_eq(mrb_linop_wavelet_levels(w), 2);
    cr_assert_eq(mrb_linop_forward(w, c, x), MRB_OK);
    double maxerr = 0;
    for (size_t i = 0; i < (size_t)N * N * 2; i++) maxerr = fmax(maxerr, fabs((double)c[i] - ref[i]));
    cr_assert(maxerr < GOLDEN_ATOL, "max |mrbench - pywt| = %g", maxerr);
    mrb_free(x);
    mrb_free(ref);
    mrb_free(c);
    mrb_linop_free(w);
}
