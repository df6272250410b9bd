/* Helpers shared by the GPU tests: skipping without a device, random data,
 * error norms. */
#ifndef MRB_CUDA_TEST_UTIL_H
#define MRB_CUDA_TEST_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mrb_cuda.h"
#include "mrbench/backend.h"

/* Skips the calling test, with the reason, when no usable CUDA device exists. */
#define MRB_SKIP_WITHOUT_GPU()                                                                                         \
    do {                                                                                                               \
        char why_[512];                                                                                                \
        if (mrb_gpu_available(why_, sizeof why_) != MRB_OK) cr_skip_test("no CUDA device: %s", why_);                  \
    } while (0)

/* Uniform values in [-1, 1) from a fixed-seed xorshift, so failures repeat. */
static inline void fill_uniform(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

/* ||a - ref||_2 / ||ref||_2 over n floats (absolute error when ref is 0). */
static inline double rel_l2_error(const float *a, const float *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static inline float *alloc_floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    cr_assert_not_null(p, "out of host memory for %zu floats", n);
    return p;
}

/* A device copy of n host floats (zeroed when h is NULL); the test fails on
 * an allocation or copy error. */
static inline float *to_device(const float *h, size_t nfloats)
{
    void *d = NULL;
    cr_assert_eq(mrb_cuda_alloc(nfloats * sizeof(float), &d), MRB_OK, "%s", mrb_error_message());
    if (h) cr_assert_eq(mrb_cuda_upload(d, h, nfloats * sizeof(float)), MRB_OK, "%s", mrb_error_message());
    return d;
}

/* A host copy (calloc'ed, caller frees) of n device floats. */
static inline float *to_host(const float *d, size_t nfloats)
{
    float *h = alloc_floats(nfloats);
    cr_assert_eq(mrb_cuda_download(h, d, nfloats * sizeof(float)), MRB_OK, "%s", mrb_error_message());
    return h;
}

#endif
