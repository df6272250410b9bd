/* The cuFFT twin (gpu/fft/fft_cuda.cu) against the CPU reference
 * (impl/fft/fft.c): same centred orthonormal transform for even, odd and
 * mixed lengths, ranks 1 to 3, batched, both directions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/fft.h"

/* Single-precision FFTs of these sizes agree to a few 1e-7 relative (both
 * O(eps log N)); 1e-4 leaves room for any cuFFT algorithm choice. */
#define FFT_REL_TOL 1e-4
/* Two plans of one shape on one device run the same algorithm. */
#define SAME_PLAN_REL_TOL 1e-6

typedef struct fft_case {
    int rank, ndim;
    size_t dims[4];
} fft_case;

static const fft_case cases[] = {
    {1, 2, {32, 4}},        /* 1D even, batched */
    {1, 1, {31}},           /* 1D odd */
    {2, 3, {64, 48, 3}},    /* 2D even, batched: the modulation path */
    {2, 2, {30, 34}},       /* 2D even with N/2 odd on both axes: sign folding */
    {2, 3, {15, 9, 2}},     /* 2D odd, batched: the shift path */
    {2, 3, {16, 9, 2}},     /* mixed parity */
    {3, 4, {8, 6, 4, 2}},   /* 3D even, batched */
    {3, 3, {5, 7, 3}},      /* 3D odd */
    {2, 4, {12, 10, 3, 2}}, /* 2D over frames and coils */
};

static size_t case_count(const fft_case *c)
{
    size_t n = 1;
    for (int a = 0; a < c->ndim; a++) n *= c->dims[a];
    return n;
}

static void shape_str(const fft_case *c, char *buf, size_t len)
{
    size_t pos = 0;
    for (int a = 0; a < c->ndim && pos < len; a++)
        pos += (size_t)snprintf(buf + pos, len - pos, a ? "x%zu" : "%zu", c->dims[a]);
}

static void check_direction(mrb_fft_dir dir)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const fft_case *c = &cases[k];
        size_t n = 2 * case_count(c);
        float *ref = alloc_floats(n), *gpu = alloc_floats(n);
        fill_uniform(ref, n, 100 + k);
        memcpy(gpu, ref, n * sizeof *gpu);
        char shape[64];
        shape_str(c, shape, sizeof shape);
        cr_assert_eq(mrb_fft_centered(dir, c->rank, c->ndim, c->dims, ref, 1), MRB_OK, "cpu %s: %s", shape,
                     mrb_error_message());
        cr_assert_eq(mrb_cuda_fft_centered_host(dir, c->rank, c->ndim, c->dims, gpu), MRB_OK, "cuda %s: %s", shape,
                     mrb_error_message());
        double err = rel_l2_error(gpu, ref, n);
        cr_expect_leq(err, FFT_REL_TOL, "%s rank %d %s: relative error %.3g > %.1g",
                      dir == MRB_FFT_FORWARD ? "forward" : "inverse", c->rank, shape, err, FFT_REL_TOL);
        free(ref);
        free(gpu);
    }
}

Test(cuda_fft, forward_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_direction(MRB_FFT_FORWARD);
}

Test(cuda_fft, inverse_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_direction(MRB_FFT_INVERSE);
}

/* Orthonormality on the device: inverse(forward(x)) = x with no rescaling. */
Test(cuda_fft, round_trip_is_identity_on_device)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t dims[3] = {48, 40, 2};
    const size_t n = 2 * 48 * 40 * 2;
    float *x = alloc_floats(n), *back = alloc_floats(n);
    fill_uniform(x, n, 7);
    void *d = NULL;
    cr_assert_eq(mrb_cuda_alloc(n * sizeof(float), &d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_upload(d, x, n * sizeof(float)), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_fft_centered(MRB_FFT_INVERSE, 2, 3, dims, d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_download(back, d, n * sizeof(float)), MRB_OK, "%s", mrb_error_message());
    mrb_cuda_free(d);
    double err = rel_l2_error(back, x, n);
    cr_expect_leq(err, FFT_REL_TOL, "round trip relative error %.3g", err);
    free(x);
    free(back);
}

/* An explicit plan and the cached path run the same transform. */
Test(cuda_fft, explicit_plan_matches_cached)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t dims[3] = {20, 15, 3};
    const size_t n = 2 * 20 * 15 * 3;
    float *a = alloc_floats(n), *b = alloc_floats(n);
    fill_uniform(a, n, 11);
    memcpy(b, a, n * sizeof *a);
    mrb_cuda_fft_plan *plan = NULL;
    cr_assert_eq(mrb_cuda_fft_plan_create(2, 3, dims, &plan), MRB_OK, "%s", mrb_error_message());
    void *d = NULL;
    cr_assert_eq(mrb_cuda_alloc(n * sizeof(float), &d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_upload(d, a, n * sizeof(float)), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_fft_exec(plan, MRB_FFT_FORWARD, d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_download(a, d, n * sizeof(float)), MRB_OK, "%s", mrb_error_message());
    mrb_cuda_free(d);
    mrb_cuda_fft_plan_free(plan);
    cr_assert_eq(mrb_cuda_fft_centered_host(MRB_FFT_FORWARD, 2, 3, dims, b), MRB_OK, "%s", mrb_error_message());
    double err = rel_l2_error(a, b, n);
    cr_expect_leq(err, SAME_PLAN_REL_TOL, "explicit and cached plans differ by %.3g", err);
    free(a);
    free(b);
    mrb_cuda_fft_cleanup();
}

/* Bad ranks are refused before any device work, with or without a GPU. */
Test(cuda_fft, rejects_bad_rank_without_device_work)
{
    const size_t dims[2] = {8, 8};
    static int sentinel;
    mrb_cuda_fft_plan *plan = (mrb_cuda_fft_plan *)&sentinel;
    cr_expect_eq(mrb_cuda_fft_plan_create(0, 2, dims, &plan), MRB_ERR_INVALID);
    cr_expect_null(plan, "a failed create leaves *out NULL");
    cr_expect_eq(mrb_cuda_fft_plan_create(3, 2, dims, &plan), MRB_ERR_INVALID);
    cr_expect_eq(mrb_cuda_fft_centered(MRB_FFT_FORWARD, 4, 2, dims, NULL), MRB_ERR_INVALID);
    mrb_cuda_fft_plan_free(NULL); /* no-op */
}
