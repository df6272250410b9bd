/* Element-wise layers on the GPU: (leaky) ReLU, residual add and channel
 * concatenation, the CUDA twins of impl/nn/elementwise.c with its
 * definitions (mrbench/nn.h). Each output or gradient element is written by
 * one thread, so no reduction and no ordering question arises. Products that
 * the CPU rounds before adding are rounded here too (__fmul_rn: no fused
 * multiply-add), so both sides give the same bits. */
#include <stdint.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "nn/nn_cuda.h"

/* y = x > 0 ? x : leak x (elementwise.c:23); y may equal x. */
static __global__ void leaky_relu_forward_kernel(const float *x, float *y, size_t n, float leak)
{
    MRB_NN_FOR_EACH(i, n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : __fmul_rn(leak, v);
    }
}

/* dx += y > 0 ? dy : leak dy, from the output (elementwise.c:35). */
static __global__ void leaky_relu_backward_kernel(const float *y, const float *dy, float *dx, size_t n, float leak)
{
    MRB_NN_FOR_EACH(i, n) {
        float g = dy[i];
        dx[i] = __fadd_rn(dx[i], y[i] > 0.0f ? g : __fmul_rn(leak, g));
    }
}

static __global__ void add_kernel(const float *a, const float *b, float *y, size_t n)
{
    MRB_NN_FOR_EACH(i, n) y[i] = a[i] + b[i];
}

static __global__ void accumulate_kernel(float *d, const float *g, size_t n)
{
    MRB_NN_FOR_EACH(i, n) d[i] += g[i];
}

/* One input of a concatenation: x is [N, len] (len = its channels times the
 * spatial volume), y rows of ytot floats; x's part of row b starts at off.
 * Forward copies, backward adds y's gradient into x's. */
static __global__ void concat_copy_kernel(const float *x, float *y, size_t batch, size_t len, size_t ytot, size_t off)
{
    MRB_NN_FOR_EACH(i, batch * len) {
        size_t b = i / len, r = i - b * len;
        y[b * ytot + off + r] = x[i];
    }
}

static __global__ void concat_grad_kernel(float *dx, const float *dy, size_t batch, size_t len, size_t ytot, size_t off)
{
    MRB_NN_FOR_EACH(i, batch * len) {
        size_t b = i / len, r = i - b * len;
        dx[i] += dy[b * ytot + off + r];
    }
}

static mrb_status check_same(const mrb_cuda_tensor *a, const char *an, const mrb_cuda_tensor *b, const char *bn,
                             const char *layer)
{
    MRB_TRY(mrb_nn_cuda_check_desc(a, layer, an));
    MRB_TRY(mrb_nn_cuda_check_desc(b, layer, bn));
    if (mrb_nn_cuda_same_shape(a, b)) return MRB_OK;
    char sa[64], sb[64];
    return mrb_error(MRB_ERR_INVALID, "%s: tensor %s (%s) and tensor %s (%s) differ in shape", layer, an,
                     mrb_nn_cuda_shape_str(a, sa, sizeof sa), bn, mrb_nn_cuda_shape_str(b, sb, sizeof sb));
}

mrb_status mrb_cuda_nn_leaky_relu_forward(const mrb_cuda_tensor *x, mrb_cuda_tensor *y, float leak)
{
    const char *layer = "cuda relu forward";
    MRB_TRY(check_same(x, "x", y, "y", layer));
    MRB_TRY(mrb_nn_cuda_check_data(x, 0, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    size_t n = mrb_cuda_tensor_count(x);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    leaky_relu_forward_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(x->d_data, y->d_data, n, leak);
    return MRB_CUDA_LAUNCH("leaky_relu_forward_kernel");
}

mrb_status mrb_cuda_nn_leaky_relu_backward(mrb_cuda_tensor *x, const mrb_cuda_tensor *y, float leak)
{
    const char *layer = "cuda relu backward";
    MRB_TRY(check_same(x, "x", y, "y", layer));
    if (!x->d_grad || !y->d_grad) return MRB_OK; /* nothing to propagate, as the CPU */
    MRB_TRY(mrb_nn_cuda_check_data(y, 1, layer, "y"));
    size_t n = mrb_cuda_tensor_count(x);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    leaky_relu_backward_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(y->d_data, y->d_grad, x->d_grad, n, leak);
    return MRB_CUDA_LAUNCH("leaky_relu_backward_kernel");
}

mrb_status mrb_cuda_nn_add_forward(const mrb_cuda_tensor *a, const mrb_cuda_tensor *b, mrb_cuda_tensor *y)
{
    const char *layer = "cuda add forward";
    MRB_TRY(check_same(a, "a", b, "b", layer));
    MRB_TRY(check_same(a, "a", y, "y", layer));
    MRB_TRY(mrb_nn_cuda_check_data(a, 0, layer, "a"));
    MRB_TRY(mrb_nn_cuda_check_data(b, 0, layer, "b"));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    size_t n = mrb_cuda_tensor_count(a);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    add_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(a->d_data, b->d_data, y->d_data, n);
    return MRB_CUDA_LAUNCH("add_kernel");
}

mrb_status mrb_cuda_nn_add_backward(mrb_cuda_tensor *a, mrb_cuda_tensor *b, const mrb_cuda_tensor *y)
{
    const char *layer = "cuda add backward";
    MRB_TRY(check_same(a, "a", b, "b", layer));
    MRB_TRY(check_same(a, "a", y, "y", layer));
    if (!y->d_grad) return MRB_OK;
    size_t n = mrb_cuda_tensor_count(a);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    /* a first, then b: a tensor passed as both (x + x) gets 2 dy, as on the CPU */
    for (int k = 0; k < 2; k++) {
        float *d = k ? b->d_grad : a->d_grad;
        if (!d) continue;
        accumulate_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(d, y->d_grad, n);
        MRB_TRY(MRB_CUDA_LAUNCH("accumulate_kernel"));
    }
    return MRB_OK;
}

/* As concat_check of elementwise.c:64: same rank (>= 2), batch and spatial
 * axes; channels adding up to the output's. *inner: the spatial volume. */
static mrb_status concat_check(const mrb_cuda_tensor *const *xs, size_t n, const mrb_cuda_tensor *y, const char *layer,
                               size_t *inner)
{
    char buf[64], ybuf[64];
    MRB_TRY(mrb_nn_cuda_check_desc(y, layer, "y"));
    if (n > 0 && !xs) return mrb_error(MRB_ERR_INVALID, "%s: the input list is NULL", layer);
    size_t csum = 0;
    for (size_t k = 0; k < n; k++) {
        const mrb_cuda_tensor *x = xs[k];
        if (!x) return mrb_error(MRB_ERR_INVALID, "%s: input %zu is missing (NULL)", layer, k);
        MRB_TRY(mrb_nn_cuda_check_desc(x, layer, "x"));
        if (x->ndim != y->ndim || x->ndim < 2 || x->shape[0] != y->shape[0])
            return mrb_error(MRB_ERR_INVALID, "%s: input %zu (%s) does not match the output y (%s) in rank or batch",
                             layer, k, mrb_nn_cuda_shape_str(x, buf, sizeof buf),
                             mrb_nn_cuda_shape_str(y, ybuf, sizeof ybuf));
        for (int i = 2; i < y->ndim; i++)
            if (x->shape[i] != y->shape[i])
                return mrb_error(
                    MRB_ERR_INVALID, "%s: input %zu (%s) differs from the output y (%s) in spatial axis %d", layer, k,
                    mrb_nn_cuda_shape_str(x, buf, sizeof buf), mrb_nn_cuda_shape_str(y, ybuf, sizeof ybuf), i);
        csum += x->shape[1];
    }
    if (csum != y->shape[1])
        return mrb_error(MRB_ERR_INVALID, "%s: %zu input channels for an output y (%s) of %zu", layer, csum,
                         mrb_nn_cuda_shape_str(y, ybuf, sizeof ybuf), y->shape[1]);
    *inner = 1;
    for (int i = 2; i < y->ndim; i++) *inner *= y->shape[i];
    return MRB_OK;
}

mrb_status mrb_cuda_nn_concat_forward(const mrb_cuda_tensor *const *xs, size_t n, mrb_cuda_tensor *y)
{
    const char *layer = "cuda concat forward";
    size_t inner;
    MRB_TRY(concat_check(xs, n, y, layer, &inner));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    for (size_t k = 0; k < n; k++) MRB_TRY(mrb_nn_cuda_check_data(xs[k], 0, layer, "x"));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    size_t batch = y->shape[0], ytot = y->shape[1] * inner, off = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len = xs[k]->shape[1] * inner;
        concat_copy_kernel<<<mrb_cuda_grid(batch * len), MRB_CUDA_BLOCK, 0, st>>>(xs[k]->d_data, y->d_data, batch, len,
                                                                                  ytot, off);
        MRB_TRY(MRB_CUDA_LAUNCH("concat_copy_kernel"));
        off += len;
    }
    return MRB_OK;
}

mrb_status mrb_cuda_nn_concat_backward(mrb_cuda_tensor *const *xs, size_t n, const mrb_cuda_tensor *y)
{
    const char *layer = "cuda concat backward";
    size_t inner;
    MRB_TRY(concat_check((const mrb_cuda_tensor *const *)xs, n, y, layer, &inner));
    if (!y->d_grad) return MRB_OK;
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    size_t batch = y->shape[0], ytot = y->shape[1] * inner, off = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len = xs[k]->shape[1] * inner;
        if (xs[k]->d_grad) {
            concat_grad_kernel<<<mrb_cuda_grid(batch * len), MRB_CUDA_BLOCK, 0, st>>>(xs[k]->d_grad, y->d_grad, batch,
                                                                                      len, ytot, off);
            MRB_TRY(MRB_CUDA_LAUNCH("concat_grad_kernel"));
        }
        off += len;
    }
    return MRB_OK;
}
