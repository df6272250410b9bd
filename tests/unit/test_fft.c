/* Centred orthonormal FFT: matches a direct evaluation of
 * fftshift(dft(ifftshift(x)))/sqrt(N) for even and odd sizes, round-trips,
 * preserves energy (Parseval) and works batched. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/rng.h"

#define TOL_DIRECT 2e-5 /* float32 FFT vs double direct DFT, relative to max |X| */
#define TOL_ROUNDTRIP 1e-5
#define TOL_PARSEVAL 1e-5

static void fill_random(float complex *x, size_t n, uint64_t seed)
{
    mrb_rng r;
    mrb_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)mrb_rng_normal(&r) + I * (float)mrb_rng_normal(&r);
}

/* Direct centred DFT in double: X[k] = sum_n x[n] exp(-2 pi i (k - c)(n - c) / N) / sqrt(N),
 * c = floor(N/2), over both axes. */
static void direct_2d(const float complex *x, double complex *X, size_t nx, size_t ny, int sign)
{
    const double pi = 3.14159265358979323846;
    double cx = (double)(nx / 2), cy = (double)(ny / 2);
    for (size_t ky = 0; ky < ny; ky++)
        for (size_t kx = 0; kx < nx; kx++) {
            double complex acc = 0;
            for (size_t y = 0; y < ny; y++)
                for (size_t xx = 0; xx < nx; xx++) {
                    double ph = sign * 2 * pi *
                                (((double)kx - cx) * ((double)xx - cx) / (double)nx +
                                 ((double)ky - cy) * ((double)y - cy) / (double)ny);
                    acc += x[y * nx + xx] * cexp(I * ph);
                }
            X[ky * nx + kx] = acc / sqrt((double)(nx * ny));
        }
}

static void check_against_direct(size_t nx, size_t ny, mrb_fft_dir dir)
{
    size_t n = nx * ny;
    float complex *x = mrb_malloc(n * sizeof *x);
    double complex *X = malloc(n * sizeof *X);
    fill_random(x, n, nx * 131 + ny);
    direct_2d(x, X, nx, ny, dir == MRB_FFT_FORWARD ? -1 : 1);
    size_t dims[2] = {nx, ny};
    cr_assert_eq(mrb_fft_centered(dir, 2, 2, dims, (float *)x, 1), MRB_OK);
    double maxabs = 0, maxerr = 0;
    for (size_t i = 0; i < n; i++) {
        maxabs = fmax(maxabs, cabs(X[i]));
        maxerr = fmax(maxerr, cabs(X[i] - x[i]));
    }
    cr_expect_leq(maxerr / maxabs, TOL_DIRECT, "%zux%zu dir %d: rel err %g", nx, ny, dir, maxerr / maxabs);
    mrb_free(x);
    free(X);
}

Test(fft, matches_direct_centred_dft_even_and_odd)
{
    check_against_direct(16, 8, MRB_FFT_FORWARD);
    check_against_direct(16, 8, MRB_FFT_INVERSE);
    check_against_direct(15, 9, MRB_FFT_FORWARD);
    check_against_direct(12, 7, MRB_FFT_INVERSE);
    check_against_direct(6, 10, MRB_FFT_FORWARD); /* N/2 odd: sign term matters */
}

Test(fft, round_trip_and_parseval_batched)
{
    size_t dims[4] = {64, 48, 3, 2};
    size_t n = 64 * 48 * 3 * 2;
    float complex *x = mrb_malloc(n * sizeof *x), *orig = mrb_malloc(n * sizeof *x);
    fill_random(x, n, 5);
    double e0 = 0;
    for (size_t i = 0; i < n; i++) {
        orig[i] = x[i];
        e0 += creal(x[i] * conj(x[i]));
    }
    cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, 2, 4, dims, (float *)x, 2), MRB_OK);
    double e1 = 0;
    for (size_t i = 0; i < n; i++) e1 += creal(x[i] * conj(x[i]));
    cr_expect_leq(fabs(e1 - e0) / e0, TOL_PARSEVAL, "Parseval: %g vs %g", e1, e0);
    cr_assert_eq(mrb_fft_centered(MRB_FFT_INVERSE, 2, 4, dims, (float *)x, 2), MRB_OK);
    double err = 0, ref = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, cabs(x[i] - orig[i]));
        ref = fmax(ref, cabs(orig[i]));
    }
    cr_expect_leq(err / ref, TOL_ROUNDTRIP);
    mrb_free(x);
    mrb_free(orig);
}

Test(fft, batched_equals_one_by_one)
{
    size_t dims[3] = {32, 32, 4};
    size_t frame = 32 * 32, n = frame * 4;
    float complex *a = mrb_malloc(n * sizeof *a), *b = mrb_malloc(n * sizeof *b);
    fill_random(a, n, 9);
    for (size_t i = 0; i < n; i++) b[i] = a[i];
    cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, (float *)a, 1), MRB_OK);
    for (size_t t = 0; t < 4; t++)
        cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, 2, 2, dims, (float *)(b + t * frame), 1), MRB_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(a[i], b[i], "element %zu differs", i);
    mrb_free(a);
    mrb_free(b);
}

Test(fft, threads_give_the_one_thread_result,
     .description = "threaded transforms (FFTW on OpenMP's threads) are bit-identical to 1-thread "
                    "ones, above and below the threading threshold, batched 1-D and 2-D")
{
    /* 256 x 256 is above FFT_PARALLEL_MIN, 64 x 64 below; 255 x 129 takes the odd-size path */
    const size_t shapes[][2] = {{256, 256}, {64, 64}, {255, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int rank = 1; rank <= 2; rank++) {
            size_t dims[2] = {shapes[s][0], shapes[s][1]}, n = dims[0] * dims[1];
            float complex *a = mrb_malloc(n * sizeof *a), *b = mrb_malloc(n * sizeof *b);
            fill_random(a, n, 17 + s);
            for (size_t i = 0; i < n; i++) b[i] = a[i];
            cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, rank, 2, dims, (float *)a, 1), MRB_OK);
            cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, rank, 2, dims, (float *)b, 4), MRB_OK);
            cr_assert(memcmp(a, b, n * sizeof *a) == 0, "%zux%zu rank %d: 4 threads differ", dims[0], dims[1], rank);
            mrb_free(a);
            mrb_free(b);
        }
}

Test(fft, dc_of_constant_image_is_centred)
{
    /* A constant image of ones has all its energy at k = (N/2, N/2) with value sqrt(N). */
    size_t dims[2] = {8, 8};
    float complex x[64] __attribute__((aligned(64)));
    for (int i = 0; i < 64; i++) x[i] = 1;
    cr_assert_eq(mrb_fft_centered(MRB_FFT_FORWARD, 2, 2, dims, (float *)x, 1), MRB_OK);
    for (int i = 0; i < 64; i++) {
        double want = (i == 4 * 8 + 4) ? 8.0 : 0.0;
        cr_expect_leq(cabs(x[i] - want), 1e-5, "k %d: %g%+gi", i, crealf(x[i]), cimagf(x[i]));
    }
}

Test(fft, rejects_bad_rank)
{
    size_t dims[2] = {4, 4};
    float complex x[16];
    cr_expect_eq(mrb_fft_centered(MRB_FFT_FORWARD, 3, 2, dims, (float *)x, 1), MRB_ERR_INVALID);
}
