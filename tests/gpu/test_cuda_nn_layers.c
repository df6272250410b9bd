/* The nn layers of gpu/nn/ against their CPU references in impl/nn/: leaky
 * ReLU, residual add and concatenation (elementwise.c), max and average
 * pooling and nearest upsampling (pool.c), batch and instance normalisation
 * (norm.c), softmax, softmax cross-entropy and soft Dice (softmax.c). Each
 * test runs the CPU function and the GPU function on the same random data
 * and compares the output and every gradient; gradients start from random
 * values, so that both sides are seen to ADD into them. 2D and 3D shapes,
 * odd sizes, batches > 1. Argument checks run without a device. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_test_util.h"
#include "mrb_cuda.h"
#include "mrbench/nn.h"

/* Elementwise layers and pooling are the CPU's float operations in the CPU's
 * order (no reduction): they agree to the last bit or nearly; the task-wide
 * bound for them is 1e-5 (relative L2). */
#define ELEMENTWISE_REL_TOL 1e-5
#define POOL_REL_TOL 1e-5
/* Normalisation, softmax and the losses reduce in double in another order
 * (trees on the GPU, loops on the CPU) and call exp/log of another library:
 * they agree to ~1e-7; the task-wide bound is 1e-4. */
#define NORM_REL_TOL 1e-4
#define SOFTMAX_REL_TOL 1e-4
#define LOSS_REL_TOL 1e-4

/* ---------------------------------------------------------------- helpers */

/* A host tensor with uniform data in [-scale, scale) + offset and, when
 * with_grad, a uniform gradient in [-1, 1) (the value backward adds to). */
static mrb_tensor *host_tensor(int ndim, const size_t *shape, int with_grad, uint64_t seed, float scale, float offset)
{
    mrb_tensor *t = mrb_tensor_create(ndim, shape, with_grad);
    cr_assert_not_null(t, "%s", mrb_error_message());
    size_t n = mrb_tensor_count(t);
    fill_uniform(t->data, n, seed);
    for (size_t i = 0; i < n; i++) t->data[i] = scale * t->data[i] + offset;
    if (with_grad) fill_uniform(t->grad, n, seed + 7919);
    return t;
}

/* A device tensor with h's shape, data and (when h has one) gradient. */
static mrb_cuda_tensor *device_copy(const mrb_tensor *h)
{
    mrb_cuda_tensor *d = NULL;
    int with_grad = h->grad != NULL;
    cr_assert_eq(mrb_cuda_tensor_create(h->ndim, h->shape, with_grad, &d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_tensor_upload(d, h, with_grad), MRB_OK, "%s", mrb_error_message());
    return d;
}

/* Relative L2 error of the device tensor's data (or gradient) against the
 * host tensor's. */
static double data_error(const mrb_cuda_tensor *d, const mrb_tensor *ref)
{
    size_t n = mrb_tensor_count(ref);
    float *h = to_host(d->d_data, n);
    double e = rel_l2_error(h, ref->data, n);
    free(h);
    return e;
}

static double grad_error(const mrb_cuda_tensor *d, const mrb_tensor *ref)
{
    size_t n = mrb_tensor_count(ref);
    cr_assert_not_null(d->d_grad, "device tensor without gradient");
    float *h = to_host(d->d_grad, n);
    double e = rel_l2_error(h, ref->grad, n);
    free(h);
    return e;
}

/* Largest |device - host| over the gradient (0 when bit-identical). */
static double grad_max_abs_diff(const mrb_cuda_tensor *d, const mrb_tensor *ref)
{
    size_t n = mrb_tensor_count(ref);
    float *h = to_host(d->d_grad, n);
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)h[i] - (double)ref->grad[i]);
        if (e > m) m = e;
    }
    free(h);
    return m;
}

static uint8_t *device_labels(const uint8_t *h, size_t n)
{
    void *d = NULL;
    cr_assert_eq(mrb_cuda_alloc(n, &d), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_upload(d, h, n), MRB_OK, "%s", mrb_error_message());
    return d;
}

/* Labels in 0..classes-1 from a fixed seed. */
static uint8_t *random_labels(size_t n, size_t classes, uint64_t seed)
{
    float *u = alloc_floats(n);
    fill_uniform(u, n, seed);
    uint8_t *l = malloc(n ? n : 1);
    cr_assert_not_null(l);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)((u[i] + 1.0f) * 0.5f * (float)classes);
        l[i] = (uint8_t)(k < classes ? k : classes - 1);
    }
    free(u);
    return l;
}

static const size_t SHAPE_2D[4] = {2, 3, 7, 5};
static const size_t SHAPE_3D[5] = {2, 2, 3, 5, 7};

/* ------------------------------------------------------------ elementwise */

static void check_leaky_relu(int ndim, const size_t *shape, float leak)
{
    mrb_tensor *x = host_tensor(ndim, shape, 1, 11, 1.0f, 0.0f), *y = host_tensor(ndim, shape, 1, 12, 1.0f, 0.0f);
    mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
    cr_assert_eq(mrb_nn_leaky_relu_forward(x, y, leak), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_leaky_relu_forward(dx, dy, leak), MRB_OK, "%s", mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, ELEMENTWISE_REL_TOL, "leaky relu (leak %g, rank %d) forward: error %.3g", leak, ndim - 2, ey);

    cr_assert_eq(mrb_nn_leaky_relu_backward(x, y, leak), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_leaky_relu_backward(dx, dy, leak), MRB_OK, "%s", mrb_error_message());
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, ELEMENTWISE_REL_TOL, "leaky relu (leak %g, rank %d) dx: error %.3g", leak, ndim - 2, ex);

    /* in place (y = x) gives the out-of-place output */
    cr_assert_eq(mrb_cuda_tensor_upload(dx, x, 0), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_leaky_relu_forward(dx, dx, leak), MRB_OK, "%s", mrb_error_message());
    double ei = data_error(dx, y);
    cr_expect_leq(ei, ELEMENTWISE_REL_TOL, "leaky relu in place: error %.3g", ei);

    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

Test(cuda_nn_layers, leaky_relu_forward_backward_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    check_leaky_relu(4, SHAPE_2D, 0.0f);
    check_leaky_relu(4, SHAPE_2D, 0.1f);
    check_leaky_relu(5, SHAPE_3D, 0.01f);
}

Test(cuda_nn_layers, add_forward_backward_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    /* b without a gradient: only a's gets the output gradient */
    for (int with_b_grad = 0; with_b_grad < 2; with_b_grad++) {
        mrb_tensor *a = host_tensor(5, SHAPE_3D, 1, 21, 1.0f, 0.0f);
        mrb_tensor *b = host_tensor(5, SHAPE_3D, with_b_grad, 22, 1.0f, 0.0f);
        mrb_tensor *y = host_tensor(5, SHAPE_3D, 1, 23, 1.0f, 0.0f);
        mrb_cuda_tensor *da = device_copy(a), *db = device_copy(b), *dy = device_copy(y);
        cr_assert_eq(mrb_nn_add_forward(a, b, y), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(mrb_cuda_nn_add_forward(da, db, dy), MRB_OK, "%s", mrb_error_message());
        double ey = data_error(dy, y);
        cr_expect_leq(ey, ELEMENTWISE_REL_TOL, "add forward: error %.3g", ey);
        cr_assert_eq(mrb_nn_add_backward(a, b, y), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(mrb_cuda_nn_add_backward(da, db, dy), MRB_OK, "%s", mrb_error_message());
        double ea = grad_error(da, a);
        cr_expect_leq(ea, ELEMENTWISE_REL_TOL, "add da: error %.3g", ea);
        if (with_b_grad) {
            double eb = grad_error(db, b);
            cr_expect_leq(eb, ELEMENTWISE_REL_TOL, "add db: error %.3g", eb);
        }
        mrb_cuda_tensor_free(da);
        mrb_cuda_tensor_free(db);
        mrb_cuda_tensor_free(dy);
        mrb_tensor_free(a);
        mrb_tensor_free(b);
        mrb_tensor_free(y);
    }
}

Test(cuda_nn_layers, concat_forward_backward_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    /* 3 inputs of 1, 3 and 2 channels, the middle one without a gradient */
    size_t ch[3] = {1, 3, 2}, ys[5] = {2, 6, 3, 5, 7};
    mrb_tensor *xs[3];
    mrb_cuda_tensor *dxs[3];
    for (int k = 0; k < 3; k++) {
        size_t s[5] = {2, ch[k], 3, 5, 7};
        xs[k] = host_tensor(5, s, k != 1, 31 + (uint64_t)k, 1.0f, 0.0f);
        dxs[k] = device_copy(xs[k]);
    }
    mrb_tensor *y = host_tensor(5, ys, 1, 35, 1.0f, 0.0f);
    mrb_cuda_tensor *dy = device_copy(y);
    cr_assert_eq(mrb_nn_concat_forward((const mrb_tensor *const *)xs, 3, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_concat_forward((const mrb_cuda_tensor *const *)dxs, 3, dy), MRB_OK, "%s",
                 mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, ELEMENTWISE_REL_TOL, "concat forward: error %.3g", ey);
    cr_assert_eq(mrb_nn_concat_backward(xs, 3, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_concat_backward(dxs, 3, dy), MRB_OK, "%s", mrb_error_message());
    for (int k = 0; k < 3; k += 2) {
        double e = grad_error(dxs[k], xs[k]);
        cr_expect_leq(e, ELEMENTWISE_REL_TOL, "concat dx[%d]: error %.3g", k, e);
    }
    for (int k = 0; k < 3; k++) {
        mrb_cuda_tensor_free(dxs[k]);
        mrb_tensor_free(xs[k]);
    }
    mrb_cuda_tensor_free(dy);
    mrb_tensor_free(y);
}

/* ---------------------------------------------------------------- pooling */

/* Pooling forward and backward on one shape. ties: values quantised to
 * steps of 0.5, so most windows hold several equal maxima; the gradients
 * must then be identical (the first maximum gets it on both sides, and the
 * gathered sums add the same floats in the same order). */
static void check_pool(mrb_pool_kind kind, int ndim, const size_t *shape, size_t k, size_t s, int ties)
{
    const char *name = kind == MRB_POOL_MAX ? "max pool" : "avg pool";
    mrb_tensor *x = host_tensor(ndim, shape, 1, 41 + k * 10 + s, 1.0f, 0.0f);
    if (ties)
        for (size_t i = 0; i < mrb_tensor_count(x); i++) x->data[i] = floorf(x->data[i] * 2.0f) * 0.5f;
    size_t ys[MRB_NN_MAX_DIMS], gys[MRB_NN_MAX_DIMS];
    cr_assert_eq(mrb_nn_pool_out_shape(x, k, s, ys), MRB_OK, "%s", mrb_error_message());
    mrb_tensor *y = host_tensor(ndim, ys, 1, 43, 1.0f, 0.0f);
    mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
    cr_assert_eq(mrb_cuda_nn_pool_out_shape(dx, k, s, gys), MRB_OK, "%s", mrb_error_message());
    for (int i = 0; i < ndim; i++)
        cr_expect_eq(gys[i], ys[i], "%s output shape axis %d: %zu vs %zu", name, i, gys[i], ys[i]);

    cr_assert_eq(mrb_nn_pool_forward(kind, x, k, s, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_pool_forward(kind, dx, k, s, dy), MRB_OK, "%s", mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, POOL_REL_TOL, "%s k %zu s %zu rank %d forward: error %.3g", name, k, s, ndim - 2, ey);

    cr_assert_eq(mrb_nn_pool_backward(kind, x, k, s, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_pool_backward(kind, dx, k, s, dy), MRB_OK, "%s", mrb_error_message());
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, POOL_REL_TOL, "%s k %zu s %zu rank %d dx: error %.3g", name, k, s, ndim - 2, ex);
    if (ties) {
        double m = grad_max_abs_diff(dx, x);
        cr_expect_eq(m, 0.0, "%s with ties k %zu s %zu: gradients differ by up to %g", name, k, s, m);
    }
    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

Test(cuda_nn_layers, max_and_avg_pool_2d_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t odd[4] = {2, 3, 9, 7};
    for (int kind = 0; kind < 2; kind++) {
        mrb_pool_kind pk = kind ? MRB_POOL_AVG : MRB_POOL_MAX;
        check_pool(pk, 4, odd, 2, 2, 0); /* trailing row and column in no window */
        check_pool(pk, 4, odd, 3, 1, 0); /* overlapping windows */
        check_pool(pk, 4, odd, 3, 2, 0);
        check_pool(pk, 4, odd, 2, 3, 0); /* gaps between windows */
    }
}

Test(cuda_nn_layers, max_and_avg_pool_3d_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t odd[5] = {2, 2, 5, 7, 6};
    for (int kind = 0; kind < 2; kind++) {
        mrb_pool_kind pk = kind ? MRB_POOL_AVG : MRB_POOL_MAX;
        check_pool(pk, 5, odd, 2, 2, 0);
        check_pool(pk, 5, odd, 3, 1, 0);
        check_pool(pk, 5, odd, 2, 1, 0);
    }
}

Test(cuda_nn_layers, max_pool_ties_route_like_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {2, 3, 9, 7};
    const size_t s3[5] = {2, 2, 5, 7, 6};
    check_pool(MRB_POOL_MAX, 4, s2, 2, 2, 1);
    check_pool(MRB_POOL_MAX, 4, s2, 3, 1, 1);
    check_pool(MRB_POOL_MAX, 5, s3, 2, 2, 1);
    check_pool(MRB_POOL_MAX, 5, s3, 3, 1, 1);

    /* all values equal: each window's gradient lands on its first element */
    mrb_tensor *x = mrb_tensor_create4(1, 1, 4, 6, 1), *y = mrb_tensor_create4(1, 1, 2, 3, 1);
    cr_assert(x && y);
    for (size_t i = 0; i < 24; i++) x->data[i] = 0.25f;
    for (size_t i = 0; i < 6; i++) y->grad[i] = (float)(i + 1);
    mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
    cr_assert_eq(mrb_cuda_nn_pool_backward(MRB_POOL_MAX, dx, 2, 2, dy), MRB_OK, "%s", mrb_error_message());
    float *g = to_host(dx->d_grad, 24);
    for (size_t h = 0; h < 4; h++)
        for (size_t w = 0; w < 6; w++) {
            float want = h % 2 == 0 && w % 2 == 0 ? (float)((h / 2) * 3 + w / 2 + 1) : 0.0f;
            cr_expect_eq(g[h * 6 + w], want, "constant input: dx[%zu][%zu] = %g, want %g", h, w, g[h * 6 + w], want);
        }
    free(g);
    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

static void check_upsample(int ndim, const size_t *shape, size_t f)
{
    size_t ys[MRB_NN_MAX_DIMS];
    ys[0] = shape[0];
    ys[1] = shape[1];
    for (int i = 2; i < ndim; i++) ys[i] = shape[i] * f;
    mrb_tensor *x = host_tensor(ndim, shape, 1, 51, 1.0f, 0.0f), *y = host_tensor(ndim, ys, 1, 52, 1.0f, 0.0f);
    mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
    cr_assert_eq(mrb_nn_upsample_forward(x, f, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_upsample_forward(dx, f, dy), MRB_OK, "%s", mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, POOL_REL_TOL, "upsample x%zu rank %d forward: error %.3g", f, ndim - 2, ey);
    cr_assert_eq(mrb_nn_upsample_backward(x, f, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_upsample_backward(dx, f, dy), MRB_OK, "%s", mrb_error_message());
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, POOL_REL_TOL, "upsample x%zu rank %d dx: error %.3g", f, ndim - 2, ex);
    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

Test(cuda_nn_layers, upsample_forward_backward_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {2, 3, 5, 4};
    const size_t s3[5] = {2, 2, 3, 4, 5};
    check_upsample(4, s2, 2);
    check_upsample(4, s2, 3);
    check_upsample(4, s2, 1);
    check_upsample(5, s3, 2);
}

/* ---------------------------------------------------------- normalisation */

/* A CPU layer with random gamma in [0.5, 1.5), beta, running statistics
 * (variance in [0.5, 1.5)) and random parameter gradients. */
static mrb_norm *cpu_norm(size_t c, int instance, uint64_t seed)
{
    mrb_norm *b = NULL;
    cr_assert_eq(mrb_norm_create(c, instance, &b), MRB_OK, "%s", mrb_error_message());
    fill_uniform(b->gamma->data, c, seed);
    fill_uniform(b->beta->data, c, seed + 1);
    fill_uniform(b->gamma->grad, c, seed + 2);
    fill_uniform(b->beta->grad, c, seed + 3);
    fill_uniform(b->running_mean, c, seed + 4);
    fill_uniform(b->running_var, c, seed + 5);
    for (size_t i = 0; i < c; i++) {
        b->gamma->data[i] = 1.0f + 0.5f * b->gamma->data[i];
        b->running_var[i] = 1.0f + 0.5f * b->running_var[i];
    }
    return b;
}

/* The GPU layer's parameters, gradients and running statistics against the
 * CPU layer's. */
static void expect_norm_state(const mrb_cuda_norm *g, const mrb_norm *ref, const char *what)
{
    mrb_norm *got = NULL;
    cr_assert_eq(mrb_norm_create(ref->channels, ref->instance, &got), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_norm_download(g, got, 1), MRB_OK, "%s", mrb_error_message());
    size_t c = ref->channels;
    double e[6] = {
        rel_l2_error(got->gamma->grad, ref->gamma->grad, c),   rel_l2_error(got->beta->grad, ref->beta->grad, c),
        rel_l2_error(got->running_mean, ref->running_mean, c), rel_l2_error(got->running_var, ref->running_var, c),
        rel_l2_error(got->gamma->data, ref->gamma->data, c),   rel_l2_error(got->beta->data, ref->beta->data, c)};
    const char *names[6] = {"dgamma", "dbeta", "running mean", "running var", "gamma", "beta"};
    for (int i = 0; i < 6; i++) cr_expect_leq(e[i], NORM_REL_TOL, "%s %s: error %.3g", what, names[i], e[i]);
    mrb_norm_free(got);
}

/* One forward (train or not) and backward on a shape; x has a non-zero mean
 * and a spread != 1 so that the normalisation does something. */
static void check_norm(int instance, int train, int ndim, const size_t *shape)
{
    char what[96];
    snprintf(what, sizeof what, "%s norm %s rank %d %zux%zu", instance ? "instance" : "batch", train ? "train" : "eval",
             ndim - 2, shape[0], shape[1]);
    mrb_norm *b = cpu_norm(shape[1], instance, 61);
    mrb_cuda_norm *g = NULL;
    cr_assert_eq(mrb_cuda_norm_create(b, &g), MRB_OK, "%s", mrb_error_message());
    mrb_tensor *x = host_tensor(ndim, shape, 1, 62, 2.0f, 0.3f), *y = host_tensor(ndim, shape, 1, 63, 1.0f, 0.0f);
    mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);

    cr_assert_eq(mrb_norm_forward(b, x, train, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_norm_forward(g, dx, train, dy), MRB_OK, "%s", mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, NORM_REL_TOL, "%s forward: error %.3g", what, ey);

    cr_assert_eq(mrb_norm_backward(b, x, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_norm_backward(g, dx, dy), MRB_OK, "%s", mrb_error_message());
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, NORM_REL_TOL, "%s dx: error %.3g", what, ex);
    expect_norm_state(g, b, what);

    mrb_cuda_norm_free(g);
    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_norm_free(b);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

Test(cuda_nn_layers, batch_norm_train_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {3, 4, 7, 5}, s3[5] = {2, 3, 3, 5, 7};
    /* 4800 values per channel: more than one chunk in the reductions */
    const size_t big[4] = {2, 3, 40, 60};
    check_norm(0, 1, 4, s2);
    check_norm(0, 1, 5, s3);
    check_norm(0, 1, 4, big);
}

static void expect_invalid(mrb_status st, const char *needle, const char *what);

/* One value per channel (batch norm, training) or per item and channel
 * (instance norm): both engines refuse, as PyTorch does. */
Test(cuda_nn_layers, norm_refuses_statistics_of_one_value_like_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t one[4] = {1, 2, 1, 1};
    for (int instance = 0; instance < 2; instance++) {
        mrb_norm *b = cpu_norm(2, instance, 71);
        mrb_cuda_norm *g = NULL;
        cr_assert_eq(mrb_cuda_norm_create(b, &g), MRB_OK, "%s", mrb_error_message());
        mrb_tensor *x = host_tensor(4, one, 1, 72, 1.0f, 0.0f), *y = host_tensor(4, one, 1, 73, 1.0f, 0.0f);
        mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
        cr_expect_eq(mrb_norm_forward(b, x, 1, y), MRB_ERR_INVALID, "CPU %s norm", instance ? "instance" : "batch");
        expect_invalid(mrb_cuda_norm_forward(g, dx, 1, dy), "one value per", instance ? "instance" : "batch");
        mrb_cuda_norm_free(g);
        mrb_cuda_tensor_free(dx);
        mrb_cuda_tensor_free(dy);
        mrb_norm_free(b);
        mrb_tensor_free(x);
        mrb_tensor_free(y);
    }
}

Test(cuda_nn_layers, batch_norm_eval_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {3, 4, 7, 5}, s3[5] = {2, 3, 3, 5, 7};
    check_norm(0, 0, 4, s2);
    check_norm(0, 0, 5, s3);
}

Test(cuda_nn_layers, instance_norm_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {3, 4, 7, 5}, s3[5] = {2, 3, 3, 5, 7};
    const size_t big[5] = {2, 2, 9, 23, 25}; /* 5175 values per group: two chunks */
    /* instance norm uses its own statistics in both modes and leaves the
     * running ones alone: expect_norm_state compares them with the CPU's */
    check_norm(1, 1, 4, s2);
    check_norm(1, 0, 4, s2);
    check_norm(1, 1, 5, s3);
    check_norm(1, 1, 5, big);
}

Test(cuda_nn_layers, batch_norm_running_statistics_after_two_steps_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t shape[5] = {3, 4, 3, 5, 7};
    mrb_norm *b = cpu_norm(4, 0, 71);
    mrb_cuda_norm *g = NULL;
    cr_assert_eq(mrb_cuda_norm_create(b, &g), MRB_OK, "%s", mrb_error_message());
    mrb_tensor *y = host_tensor(5, shape, 1, 72, 1.0f, 0.0f);
    mrb_cuda_tensor *dy = device_copy(y);
    for (int step = 0; step < 2; step++) {
        mrb_tensor *x = host_tensor(5, shape, 1, 73 + (uint64_t)step, 1.5f + (float)step, 0.2f - 0.5f * (float)step);
        mrb_cuda_tensor *dx = device_copy(x);
        cr_assert_eq(mrb_norm_forward(b, x, 1, y), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(mrb_cuda_norm_forward(g, dx, 1, dy), MRB_OK, "%s", mrb_error_message());
        mrb_cuda_tensor_free(dx);
        mrb_tensor_free(x);
    }
    expect_norm_state(g, b, "batch norm after two training steps");

    /* evaluation then uses the updated running statistics */
    mrb_tensor *x = host_tensor(5, shape, 1, 75, 1.0f, 0.1f);
    mrb_cuda_tensor *dx = device_copy(x);
    cr_assert_eq(mrb_norm_forward(b, x, 0, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_norm_forward(g, dx, 0, dy), MRB_OK, "%s", mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, NORM_REL_TOL, "eval forward after two steps: error %.3g", ey);
    cr_assert_eq(mrb_norm_backward(b, x, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_norm_backward(g, dx, dy), MRB_OK, "%s", mrb_error_message());
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, NORM_REL_TOL, "eval dx after two steps: error %.3g", ex);
    expect_norm_state(g, b, "batch norm eval backward after two steps");

    mrb_cuda_norm_free(g);
    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_norm_free(b);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

Test(cuda_nn_layers, norm_results_repeat_bit_for_bit)
{
    MRB_SKIP_WITHOUT_GPU();
    /* the reductions have a fixed order: two backward passes from the same
     * state give the same bits */
    const size_t shape[4] = {2, 3, 40, 60};
    mrb_norm *b = cpu_norm(3, 0, 81);
    mrb_tensor *x = host_tensor(4, shape, 1, 82, 2.0f, 0.3f), *y = host_tensor(4, shape, 1, 83, 1.0f, 0.0f);
    size_t n = mrb_tensor_count(x);
    float *first = NULL;
    for (int run = 0; run < 2; run++) {
        mrb_cuda_norm *g = NULL;
        cr_assert_eq(mrb_cuda_norm_create(b, &g), MRB_OK, "%s", mrb_error_message());
        mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
        cr_assert_eq(mrb_cuda_norm_forward(g, dx, 1, dy), MRB_OK, "%s", mrb_error_message());
        cr_assert_eq(mrb_cuda_norm_backward(g, dx, dy), MRB_OK, "%s", mrb_error_message());
        float *got = to_host(dx->d_grad, n);
        if (run == 0) {
            first = got;
        } else {
            cr_expect_eq(memcmp(first, got, n * sizeof(float)), 0, "two runs of batch norm backward differ");
            free(got);
        }
        mrb_cuda_norm_free(g);
        mrb_cuda_tensor_free(dx);
        mrb_cuda_tensor_free(dy);
    }
    free(first);
    mrb_norm_free(b);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

/* ------------------------------------------------------- softmax and losses */

static void check_softmax(int ndim, const size_t *shape)
{
    mrb_tensor *x = host_tensor(ndim, shape, 1, 91, 3.0f, 0.0f), *y = host_tensor(ndim, shape, 1, 92, 1.0f, 0.0f);
    mrb_cuda_tensor *dx = device_copy(x), *dy = device_copy(y);
    cr_assert_eq(mrb_nn_softmax_forward(x, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_softmax_forward(dx, dy), MRB_OK, "%s", mrb_error_message());
    double ey = data_error(dy, y);
    cr_expect_leq(ey, SOFTMAX_REL_TOL, "softmax rank %d C %zu forward: error %.3g", ndim - 2, shape[1], ey);
    cr_assert_eq(mrb_nn_softmax_backward(x, y), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_softmax_backward(dx, dy), MRB_OK, "%s", mrb_error_message());
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, SOFTMAX_REL_TOL, "softmax rank %d C %zu dx: error %.3g", ndim - 2, shape[1], ex);
    mrb_cuda_tensor_free(dx);
    mrb_cuda_tensor_free(dy);
    mrb_tensor_free(x);
    mrb_tensor_free(y);
}

Test(cuda_nn_layers, softmax_forward_backward_match_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {2, 4, 7, 5}, s3[5] = {2, 3, 3, 5, 7}, one[4] = {3, 1, 4, 5};
    check_softmax(4, s2);
    check_softmax(5, s3);
    check_softmax(4, one); /* one class: probability 1, gradient 0 */
}

static double rel_diff(double a, double ref)
{
    return ref != 0.0 ? fabs(a - ref) / fabs(ref) : fabs(a);
}

static void check_cross_entropy(int ndim, const size_t *shape)
{
    mrb_tensor *x = host_tensor(ndim, shape, 1, 101, 3.0f, 0.0f);
    size_t voxels = mrb_tensor_count(x) / shape[1];
    uint8_t *labels = random_labels(voxels, shape[1], 102), *d_labels = device_labels(labels, voxels);
    mrb_cuda_tensor *dx = device_copy(x);
    double ref = 0.0, got = 0.0;
    cr_assert_eq(mrb_nn_softmax_cross_entropy(x, labels, &ref), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_softmax_cross_entropy(dx, d_labels, &got), MRB_OK, "%s", mrb_error_message());
    double el = rel_diff(got, ref);
    cr_expect_leq(el, LOSS_REL_TOL, "cross-entropy rank %d: loss %.9g vs CPU %.9g", ndim - 2, got, ref);
    double ex = grad_error(dx, x);
    cr_expect_leq(ex, LOSS_REL_TOL, "cross-entropy rank %d dlogits: error %.3g", ndim - 2, ex);
    mrb_cuda_free(d_labels);
    free(labels);
    mrb_cuda_tensor_free(dx);
    mrb_tensor_free(x);
}

Test(cuda_nn_layers, softmax_cross_entropy_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {2, 4, 7, 5}, s3[5] = {2, 3, 3, 5, 7};
    const size_t big[4] = {2, 3, 64, 80}; /* 10240 voxels: several reduction blocks */
    check_cross_entropy(4, s2);
    check_cross_entropy(5, s3);
    check_cross_entropy(4, big);
}

Test(cuda_nn_layers, cross_entropy_refuses_bad_label_and_changes_nothing)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t shape[4] = {2, 3, 5, 6};
    mrb_tensor *x = host_tensor(4, shape, 1, 111, 1.0f, 0.0f);
    size_t voxels = 60;
    uint8_t *labels = random_labels(voxels, 3, 112);
    labels[41] = 3;
    labels[17] = 200;
    uint8_t *d_labels = device_labels(labels, voxels);
    mrb_cuda_tensor *dx = device_copy(x);
    double loss = 0.0;
    cr_expect_eq(mrb_cuda_nn_softmax_cross_entropy(dx, d_labels, &loss), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "voxel 17"), "message names the first bad voxel: %s",
                       mrb_error_message());
    cr_expect_eq(grad_max_abs_diff(dx, x), 0.0, "the gradient changed on a refused call");
    cr_expect_eq(mrb_cuda_nn_soft_dice_loss(dx, d_labels, 1, 1.0, &loss), MRB_ERR_INVALID);
    cr_expect_not_null(strstr(mrb_error_message(), "label 200"), "message names the bad label: %s",
                       mrb_error_message());
    cr_expect_eq(grad_max_abs_diff(dx, x), 0.0, "the gradient changed on a refused call");
    mrb_cuda_free(d_labels);
    free(labels);
    mrb_cuda_tensor_free(dx);
    mrb_tensor_free(x);
}

static void check_dice(int ndim, const size_t *shape, size_t first_class, double smooth)
{
    /* probabilities: the CPU softmax of random logits */
    mrb_tensor *logits = host_tensor(ndim, shape, 0, 121, 3.0f, 0.0f),
               *p = host_tensor(ndim, shape, 1, 122, 1.0f, 0.0f);
    cr_assert_eq(mrb_nn_softmax_forward(logits, p), MRB_OK, "%s", mrb_error_message());
    size_t voxels = mrb_tensor_count(p) / shape[1];
    uint8_t *labels = random_labels(voxels, shape[1], 123), *d_labels = device_labels(labels, voxels);
    mrb_cuda_tensor *dp = device_copy(p);
    double ref = 0.0, got = 0.0;
    cr_assert_eq(mrb_nn_soft_dice_loss(p, labels, first_class, smooth, &ref), MRB_OK, "%s", mrb_error_message());
    cr_assert_eq(mrb_cuda_nn_soft_dice_loss(dp, d_labels, first_class, smooth, &got), MRB_OK, "%s",
                 mrb_error_message());
    double el = rel_diff(got, ref);
    cr_expect_leq(el, LOSS_REL_TOL, "dice rank %d first %zu smooth %g: loss %.9g vs CPU %.9g", ndim - 2, first_class,
                  smooth, got, ref);
    double ep = grad_error(dp, p);
    cr_expect_leq(ep, LOSS_REL_TOL, "dice rank %d first %zu smooth %g dprob: error %.3g", ndim - 2, first_class, smooth,
                  ep);
    mrb_cuda_free(d_labels);
    free(labels);
    mrb_cuda_tensor_free(dp);
    mrb_tensor_free(logits);
    mrb_tensor_free(p);
}

Test(cuda_nn_layers, soft_dice_loss_matches_cpu)
{
    MRB_SKIP_WITHOUT_GPU();
    const size_t s2[4] = {2, 4, 7, 5}, s3[5] = {2, 3, 3, 5, 7};
    const size_t big[4] = {2, 3, 64, 80};
    check_dice(4, s2, 1, 1.0);  /* background left out */
    check_dice(4, s2, 0, 1e-5); /* every class, almost no smoothing */
    check_dice(5, s3, 1, 1.0);
    check_dice(4, big, 1, 1.0);
}

/* ----------------------------------------------- argument checks (no device) */

/* A tensor description with no buffers. */
static mrb_cuda_tensor desc(int ndim, size_t a, size_t b, size_t c, size_t d, size_t e)
{
    mrb_cuda_tensor t;
    memset(&t, 0, sizeof t);
    size_t s[5] = {a, b, c, d, e};
    t.ndim = ndim;
    memcpy(t.shape, s, (size_t)ndim * sizeof *s);
    return t;
}

static void expect_invalid(mrb_status st, const char *needle, const char *what)
{
    cr_expect_eq(st, MRB_ERR_INVALID, "%s: status %d (%s)", what, (int)st, mrb_error_message());
    cr_expect_not_null(strstr(mrb_error_message(), needle), "%s: message '%s' does not say '%s'", what,
                       mrb_error_message(), needle);
}

Test(cuda_nn_layers, norm_refuses_bad_shapes_before_touching_the_device)
{
    mrb_cuda_norm b;
    memset(&b, 0, sizeof b);
    b.channels = 3;
    mrb_cuda_tensor x = desc(4, 2, 4, 5, 5, 0), y = desc(4, 2, 4, 5, 5, 0);
    expect_invalid(mrb_cuda_norm_forward(&b, &x, 1, &y), "4 channels, the layer 3", "wrong channels");
    x = desc(2, 2, 3, 0, 0, 0);
    y = x;
    expect_invalid(mrb_cuda_norm_forward(&b, &x, 1, &y), "input x (2x3)", "no spatial axis");
    x = desc(4, 2, 3, 5, 5, 0);
    y = desc(4, 2, 3, 5, 4, 0);
    expect_invalid(mrb_cuda_norm_forward(&b, &x, 1, &y), "output y (2x3x5x4)", "output shape");
    y = x;
    expect_invalid(mrb_cuda_norm_forward(&b, &x, 1, &y), "no device parameters", "hand-made layer");
    expect_invalid(mrb_cuda_norm_backward(&b, &x, &y), "output y has no gradient", "no output gradient");
    float dummy = 0.0f; /* never dereferenced: the call fails before */
    y.d_grad = &dummy;
    expect_invalid(mrb_cuda_norm_backward(&b, &x, &y), "backward before forward", "backward first");
    mrb_cuda_norm *made = NULL;
    expect_invalid(mrb_cuda_norm_create(NULL, &made), "missing", "no CPU layer");
    cr_expect_null(made, "a refused create returns no layer");
}

Test(cuda_nn_layers, pool_and_upsample_refuse_bad_shapes_before_touching_the_device)
{
    mrb_cuda_tensor x = desc(4, 2, 3, 9, 7, 0), y = desc(4, 2, 3, 4, 4, 0);
    size_t shape[MRB_NN_MAX_DIMS];
    cr_assert_eq(mrb_cuda_nn_pool_out_shape(&x, 2, 2, shape), MRB_OK, "%s", mrb_error_message());
    cr_expect(shape[0] == 2 && shape[1] == 3 && shape[2] == 4 && shape[3] == 3, "pool 9x7 by 2: %zux%zu", shape[2],
              shape[3]);
    expect_invalid(mrb_cuda_nn_pool_forward(MRB_POOL_MAX, &x, 2, 2, &y), "output y (2x3x4x4) has the wrong shape",
                   "pool output");
    expect_invalid(mrb_cuda_nn_pool_backward(MRB_POOL_AVG, &x, 2, 2, &y), "wrong shape", "pool backward output");
    expect_invalid(mrb_cuda_nn_pool_forward(MRB_POOL_MAX, &x, 0, 2, &y), "window (0)", "zero window");
    expect_invalid(mrb_cuda_nn_pool_forward(MRB_POOL_MAX, &x, 8, 1, &y), "smaller than the window",
                   "window larger than the input");
    mrb_cuda_tensor x3 = desc(3, 2, 3, 9, 0, 0);
    expect_invalid(mrb_cuda_nn_pool_forward(MRB_POOL_MAX, &x3, 2, 2, &y), "not NCHW or NCDHW", "rank 1 input");
    y = desc(4, 2, 3, 4, 3, 0);
    expect_invalid(mrb_cuda_nn_pool_forward(MRB_POOL_MAX, &x, 2, 2, &y), "has no device data", "no buffers");

    mrb_cuda_tensor u = desc(5, 2, 2, 3, 4, 5), v = desc(5, 2, 2, 6, 8, 9);
    expect_invalid(mrb_cuda_nn_upsample_forward(&u, 2, &v), "is not input x (2x2x3x4x5) upsampled by 2",
                   "upsample output");
    expect_invalid(mrb_cuda_nn_upsample_backward(&u, 2, &v), "upsampled", "upsample backward output");
    expect_invalid(mrb_cuda_nn_upsample_forward(&u, 0, &v), "factor", "zero factor");
}

Test(cuda_nn_layers, softmax_and_losses_refuse_bad_arguments_before_touching_the_device)
{
    mrb_cuda_tensor x = desc(4, 2, 3, 5, 5, 0), y = desc(4, 2, 4, 5, 5, 0);
    expect_invalid(mrb_cuda_nn_softmax_forward(&x, &y), "output y (2x4x5x5) differs", "softmax shapes");
    expect_invalid(mrb_cuda_nn_softmax_backward(&x, &y), "differs", "softmax backward shapes");
    mrb_cuda_tensor flat = desc(1, 10, 0, 0, 0, 0);
    double loss = 0.0;
    uint8_t dummy = 0; /* never dereferenced: the calls fail before */
    expect_invalid(mrb_cuda_nn_softmax_cross_entropy(&flat, &dummy, &loss), "need [N, C, ...]", "flat logits");
    expect_invalid(mrb_cuda_nn_softmax_cross_entropy(&x, NULL, &loss), "labels are missing", "no labels");
    expect_invalid(mrb_cuda_nn_softmax_cross_entropy(&x, &dummy, NULL), "no place for the loss", "no loss");
    expect_invalid(mrb_cuda_nn_soft_dice_loss(&x, &dummy, 3, 1.0, &loss), "first class 3 of 3", "dice first class");
    expect_invalid(mrb_cuda_nn_soft_dice_loss(&x, &dummy, 1, 1.0, &loss), "has no device data", "no buffers");
}

Test(cuda_nn_layers, elementwise_layers_refuse_bad_shapes_before_touching_the_device)
{
    mrb_cuda_tensor a = desc(4, 2, 3, 5, 5, 0), b = desc(4, 2, 3, 5, 4, 0);
    expect_invalid(mrb_cuda_nn_leaky_relu_forward(&a, &b, 0.0f), "differ in shape", "relu shapes");
    expect_invalid(mrb_cuda_nn_leaky_relu_backward(&a, &b, 0.0f), "differ in shape", "relu backward shapes");
    expect_invalid(mrb_cuda_nn_add_forward(&a, &a, &b), "tensor y (2x3x5x4)", "add output");
    expect_invalid(mrb_cuda_nn_add_backward(&a, &b, &a), "tensor b (2x3x5x4)", "add input");
    expect_invalid(mrb_cuda_nn_leaky_relu_forward(&a, &a, 0.0f), "has no device data", "no buffers");
    mrb_cuda_tensor x0 = desc(4, 2, 1, 5, 5, 0), x1 = desc(4, 2, 2, 5, 5, 0), y = desc(4, 2, 4, 5, 5, 0);
    const mrb_cuda_tensor *xs[2] = {&x0, &x1};
    expect_invalid(mrb_cuda_nn_concat_forward(xs, 2, &y), "3 input channels for an output y", "concat channels");
    x1 = desc(4, 2, 3, 5, 6, 0);
    expect_invalid(mrb_cuda_nn_concat_forward(xs, 2, &y), "input 1 (2x3x5x6) differs", "concat spatial");
    mrb_cuda_tensor bad = desc(4, 2, 0, 5, 5, 0);
    expect_invalid(mrb_cuda_nn_leaky_relu_forward(&bad, &bad, 0.0f), "empty or too large axis 1", "empty axis");
}
