/* K-SVD, dictionary initialisation and patches (baselines/recon/dl/). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"
#include "mrbench/rng.h"

/* Error may not rise by more than float rounding between iterations. */
#define KSVD_MONOTONE_REL_TOL 1e-6
/* Learning from 3-sparse synthetic data must at least halve the error. */
#define KSVD_MIN_GAIN 0.5
/* Unit-norm and orthogonality of float atoms. */
#define ATOM_TOL 1e-4
/* Patch round trip: extraction then averaging returns the image. */
#define PATCH_TOL 1e-5

/* n x N training signals, each a 3-sparse combination of a random dictionary
 * plus small Gaussian noise. */
static float *sparse_training(size_t n, size_t K, size_t N, uint64_t seed)
{
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    float *D = malloc(n * K * sizeof *D), *Y = calloc(n * N, sizeof *Y);
    for (size_t i = 0; i < n * K; i++) D[i] = (float)mrb_rng_normal(&rng);
    for (size_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t a = 0; a < n; a++) s += (double)D[k * n + a] * D[k * n + a];
        for (size_t a = 0; a < n; a++) D[k * n + a] /= (float)sqrt(s);
    }
    for (size_t j = 0; j < N; j++) {
        for (int q = 0; q < 3; q++) {
            size_t k = (size_t)mrb_rng_below(&rng, K);
            float v = (float)mrb_rng_normal(&rng);
            for (size_t a = 0; a < n; a++) Y[j * n + a] += v * D[k * n + a];
        }
        for (size_t a = 0; a < n; a++) Y[j * n + a] += 0.01f * (float)mrb_rng_normal(&rng);
    }
    free(D);
    return Y;
}

static void check_ksvd_monotone(int power_iters)
{
    const size_t n = 16, K = 32, N = 2000;
    const int iters = 15;
    float *Y = sparse_training(n, K, N, 5);
    float *D = malloc(n * K * sizeof *D);
    cr_assert_eq(mrb_dl_dict_init(D, n, K, Y, N, 6), MRB_OK, "%s", mrb_error_message());
    double err[16];
    mrb_dl_ksvd_opts o = {.iters = iters, .sparsity = 3, .power_iters = power_iters, .nthreads = 2};
    cr_assert_eq(mrb_dl_ksvd(D, n, K, Y, N, &o, err), MRB_OK, "%s", mrb_error_message());
    for (int i = 1; i <= iters; i++)
        cr_assert_leq(err[i], err[i - 1] * (1 + KSVD_MONOTONE_REL_TOL),
                      "power_iters %d: iteration %d raised the error %g -> %g", power_iters, i, err[i - 1], err[i]);
    cr_assert_lt(err[iters], KSVD_MIN_GAIN * err[0], "error %g -> %g", err[0], err[iters]);
    for (size_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t a = 0; a < n; a++) s += (double)D[k * n + a] * D[k * n + a];
        cr_assert_leq(fabs(s - 1), ATOM_TOL, "atom %zu norm^2 %g", k, s);
    }
    free(Y);
    free(D);
}

Test(dl_ksvd, approximate_ksvd_lowers_the_error_every_iteration)
{
    /* property: ||Y - D Gamma||_F never rises and falls by half overall */
    check_ksvd_monotone(1);
}

Test(dl_ksvd, exact_rank_one_updates_lower_the_error_every_iteration)
{
    /* property: the same with the rank-1 SVD (many power steps) */
    check_ksvd_monotone(20);
}

Test(dl_ksvd, pca_initialisation_is_orthonormal_and_ordered)
{
    /* property: with K <= n the atoms are orthonormal principal directions,
     * the first along the axis of largest variance */
    const size_t n = 8, N = 500;
    mrb_rng rng;
    mrb_rng_seed(&rng, 9);
    float *Y = malloc(n * N * sizeof *Y);
    for (size_t j = 0; j < N; j++)
        for (size_t a = 0; a < n; a++) Y[j * n + a] = (float)(mrb_rng_normal(&rng) * (a == 3 ? 5.0 : 1.0));
    float D[8 * 8];
    cr_assert_eq(mrb_dl_dict_init(D, n, n, Y, N, 1), MRB_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++) {
            double s = 0;
            for (size_t a = 0; a < n; a++) s += (double)D[i * n + a] * D[k * n + a];
            cr_assert_leq(fabs(s - (i == k ? 1.0 : 0.0)), ATOM_TOL, "atoms %zu, %zu: %g", i, k, s);
        }
    cr_assert_gt(fabsf(D[3]), 0.99f, "first atom %g along the dominant axis", (double)D[3]);
    /* with K > n the extra atoms are unit-norm training signals */
    float D2[8 * 12];
    cr_assert_eq(mrb_dl_dict_init(D2, n, 12, Y, N, 1), MRB_OK);
    for (size_t k = n; k < 12; k++) {
        double s = 0;
        for (size_t a = 0; a < n; a++) s += (double)D2[k * n + a] * D2[k * n + a];
        cr_assert_leq(fabs(s - 1), ATOM_TOL);
    }
    free(Y);
}

/* Codes that reproduce every extracted patch exactly with the identity
 * dictionary: coefficient a = value at element a. */
static void identity_codes(const float *patches, size_t n, size_t N, mrb_dl_codes *c)
{
    for (size_t j = 0; j < N; j++) {
        c->count[j] = (int32_t)n;
        for (size_t a = 0; a < n; a++) {
            c->atoms[j * n + a] = (int32_t)a;
            c->coefs[j * n + a] = patches[j * n + a];
        }
    }
}

static void check_round_trip(const size_t dims[3], const size_t size[3], const size_t stride[3])
{
    mrb_dl_patches g;
    cr_assert_eq(mrb_dl_patches_init(&g, dims, size, stride), MRB_OK, "%s", mrb_error_message());
    size_t vol = dims[0] * dims[1] * dims[2], n = mrb_dl_patches_length(&g), N = mrb_dl_patches_total(&g);
    float *img = malloc(vol * sizeof *img), *out = malloc(vol * sizeof *out);
    float *P = malloc(n * N * sizeof *P), *means = malloc(N * sizeof *means);
    float *I = calloc(n * n, sizeof *I);
    for (size_t a = 0; a < n; a++) I[a * n + a] = 1;
    mrb_rng rng;
    mrb_rng_seed(&rng, 3);
    for (size_t i = 0; i < vol; i++) img[i] = (float)mrb_rng_normal(&rng);
    mrb_dl_patches_extract(&g, img, 0, N, P, means);
    for (size_t j = 0; j < N; j++) { /* means removed */
        double s = 0;
        for (size_t a = 0; a < n; a++) s += P[j * n + a];
        cr_assert_leq(fabs(s) / (double)n, PATCH_TOL, "patch %zu mean %g", j, s / (double)n);
    }
    mrb_dl_codes *c = mrb_dl_codes_create(N, (int)n);
    identity_codes(P, n, N, c);
    cr_assert_eq(mrb_dl_patches_average(&g, I, n, c, means, out, 2), MRB_OK);
    for (size_t i = 0; i < vol; i++)
        cr_assert_leq(fabsf(out[i] - img[i]), PATCH_TOL * 10, "voxel %zu: %g vs %g", i, (double)out[i], (double)img[i]);
    mrb_dl_codes_free(c);
    free(img);
    free(out);
    free(P);
    free(means);
    free(I);
}

Test(dl_patches, extraction_then_averaging_returns_the_image)
{
    /* property: exact patches averaged back give the image (periodic grid,
     * strides that do and do not divide the size, 2D and 2D+t) */
    check_round_trip((size_t[3]){12, 10, 1}, (size_t[3]){6, 6, 1}, (size_t[3]){1, 1, 1});
    check_round_trip((size_t[3]){13, 10, 1}, (size_t[3]){4, 4, 1}, (size_t[3]){3, 2, 1});
    check_round_trip((size_t[3]){8, 9, 6}, (size_t[3]){4, 4, 4}, (size_t[3]){1, 1, 1});
    check_round_trip((size_t[3]){8, 8, 7}, (size_t[3]){3, 4, 3}, (size_t[3]){2, 2, 2});
}

Test(dl_patches, periodic_patches_wrap_around)
{
    /* property: the last patch along x reads the first column after the last */
    mrb_dl_patches g;
    cr_assert_eq(mrb_dl_patches_init(&g, (size_t[3]){4, 1, 1}, (size_t[3]){3, 1, 1}, (size_t[3]){1, 1, 1}), MRB_OK);
    float img[4] = {1, 2, 3, 4}, p[3];
    cr_assert_eq(mrb_dl_patches_total(&g), 4);
    mrb_dl_patches_extract(&g, img, 3, 1, p, NULL);
    cr_assert(p[0] == 4 && p[1] == 1 && p[2] == 2, "patch 3 = %g %g %g", (double)p[0], (double)p[1], (double)p[2]);
}

Test(dl_patches, rejects_patches_larger_than_the_image)
{
    /* property: a 6x6 patch on a 4x4 image, or stride beyond the patch, is an error */
    mrb_dl_patches g;
    cr_assert_eq(mrb_dl_patches_init(&g, (size_t[3]){4, 4, 1}, (size_t[3]){6, 6, 1}, (size_t[3]){1, 1, 1}),
                 MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "exceeds"));
    cr_assert_eq(mrb_dl_patches_init(&g, (size_t[3]){8, 8, 1}, (size_t[3]){2, 2, 1}, (size_t[3]){3, 1, 1}),
                 MRB_ERR_INVALID);
}
