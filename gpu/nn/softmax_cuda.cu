/* Softmax over channels, softmax cross-entropy and the soft Dice loss on the
 * GPU: the CUDA twins of impl/nn/softmax.c with its definitions
 * (mrbench/nn.h; softmax.c line numbers in brackets).
 *
 * softmax [18-32]: per (item, voxel) the float maximum over channels, then
 *   exp((double)(x - max)) summed in double, y = (float)(exp / sum).
 * backward [42-57]: dot = sum_c dy y in double; dx += y (dy - dot).
 * cross-entropy [68-93]: loss = -(1/M) sum over the M = N x spatial voxels of
 *   (x_label - max) - log sum_c exp(x_c - max) (double); logits grad +=
 *   (softmax - onehot) / M with the float softmax.
 * soft Dice [95-125]: per class c in first_class..C-1 over the whole batch:
 *   I = sum p g, P = sum p, G = sum g (g = [label == c], double);
 *   num = 2 I + smooth, den = P + G + smooth; loss = 1 - mean_c num / den;
 *   prob grad -= (2 g den - num) / den^2 / (C - first_class).
 * Labels are validated first [59-66, 72, 101]: the first voxel whose label is not
 * below C is reported and nothing is changed.
 *
 * One thread per voxel for the per-voxel passes (the channel loop strides by
 * the spatial volume, so neighbouring threads read neighbouring values).
 * Loss sums are two-stage and fixed-order: a block count that depends only
 * on the voxel count, a tree per block, then one block adding the blocks'
 * sums. Double products the CPU rounds before adding use the _rn
 * intrinsics (no fused multiply-add). */
#include <math.h>
#include <stdint.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "nn/nn_cuda.h"

/* [N, C, spatial] as the per-voxel kernels see it. */
typedef struct softmax_geom {
    size_t n, c, sp;
    size_t voxels; /* n * sp */
} softmax_geom;

/* Channel stride sp from base = i c sp + k: the float maximum (softmax.c:27:
 * a later value must be strictly greater) and the double sum of exp. */
static __device__ __forceinline__ float channel_max(const float *p, size_t c, size_t sp)
{
    float mx = p[0];
    for (size_t ch = 1; ch < c; ch++) {
        float v = p[ch * sp];
        mx = v > mx ? v : mx;
    }
    return mx;
}

static __device__ __forceinline__ double channel_expsum(const float *p, size_t c, size_t sp, float mx)
{
    double s = 0.0;
    for (size_t ch = 0; ch < c; ch++) s += exp((double)__fsub_rn(p[ch * sp], mx));
    return s;
}

static __device__ __forceinline__ size_t voxel_base(const softmax_geom &g, size_t v)
{
    size_t i = v / g.sp;
    return i * g.c * g.sp + (v - i * g.sp);
}

static __global__ void softmax_forward_kernel(softmax_geom g, const float *x, float *y)
{
    MRB_NN_FOR_EACH(v, g.voxels) {
        size_t base = voxel_base(g, v);
        const float *p = x + base;
        float *q = y + base;
        float mx = channel_max(p, g.c, g.sp);
        double s = channel_expsum(p, g.c, g.sp, mx);
        for (size_t ch = 0; ch < g.c; ch++) q[ch * g.sp] = (float)(exp((double)__fsub_rn(p[ch * g.sp], mx)) / s);
    }
}

static __global__ void softmax_backward_kernel(softmax_geom g, const float *y, const float *dy, float *dx)
{
    MRB_NN_FOR_EACH(v, g.voxels) {
        size_t base = voxel_base(g, v);
        double dot = 0.0;
        for (size_t ch = 0; ch < g.c; ch++) {
            size_t i = base + ch * g.sp;
            dot = __dadd_rn(dot, __dmul_rn((double)dy[i], (double)y[i]));
        }
        for (size_t ch = 0; ch < g.c; ch++) {
            size_t i = base + ch * g.sp;
            dx[i] = __fadd_rn(dx[i], (float)((double)y[i] * ((double)dy[i] - dot)));
        }
    }
}

/* Lowers *bad to the first voxel whose label is not below c. */
static __device__ __forceinline__ int label_ok(const uint8_t *labels, size_t v, size_t c, unsigned long long *bad)
{
    if ((size_t)labels[v] < c) return 1;
    atomicMin(bad, (unsigned long long)v);
    return 0;
}

/* Cross-entropy stage 1 (gridDim.x fixed by the voxel count): partial[block]
 * = sum over the block's voxels of (x_label - max) - log(sum exp). */
static __global__ void ce_partials_kernel(softmax_geom g, const float *x, const uint8_t *labels, double *partial,
                                          unsigned long long *bad)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    double acc = 0.0;
    MRB_NN_FOR_EACH(v, g.voxels) {
        if (!label_ok(labels, v, g.c, bad)) continue;
        const float *p = x + voxel_base(g, v);
        float mx = channel_max(p, g.c, g.sp);
        double z = channel_expsum(p, g.c, g.sp, mx);
        acc += (double)__fsub_rn(p[(size_t)labels[v] * g.sp], mx) - log(z);
    }
    double sum = mrb_nn_block_sum(acc, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

/* out[0] = sum of partial[0..n-1] in a fixed order (one block). */
static __global__ void sum_partials_kernel(const double *partial, size_t n, double *out)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    double acc = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) acc += partial[i];
    double sum = mrb_nn_block_sum(acc, sh);
    if (threadIdx.x == 0) out[0] = sum;
}

/* logits grad += ((double)softmax - onehot) / M (softmax.c:86-88). */
static __global__ void ce_grad_kernel(softmax_geom g, const float *x, const uint8_t *labels, float *dx)
{
    double m = (double)g.voxels;
    MRB_NN_FOR_EACH(v, g.voxels) {
        size_t base = voxel_base(g, v), lab = labels[v];
        const float *p = x + base;
        float mx = channel_max(p, g.c, g.sp);
        double s = channel_expsum(p, g.c, g.sp, mx);
        for (size_t ch = 0; ch < g.c; ch++) {
            float prob = (float)(exp((double)__fsub_rn(p[ch * g.sp], mx)) / s);
            size_t i = base + ch * g.sp;
            dx[i] = __fadd_rn(dx[i], (float)(((double)prob - (ch == lab ? 1.0 : 0.0)) / m));
        }
    }
}

/* Dice stage 1: task (class j = ch - first, chunk b) writes
 * partial[3 task .. 3 task + 2] = (sum p g, sum p, sum g) over the chunk's
 * voxels. Class 0's tasks also check the labels. */
typedef struct dice_geom {
    softmax_geom s;
    size_t first, nc;         /* first class, classes counted */
    size_t chunks, chunk_len; /* of the voxel range */
} dice_geom;

static __global__ void dice_partials_kernel(dice_geom g, const float *prob, const uint8_t *labels, double *partial,
                                            unsigned long long *bad)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    size_t tasks = g.nc * g.chunks, sp = g.s.sp, c = g.s.c;
    for (size_t task = blockIdx.x; task < tasks; task += gridDim.x) {
        size_t j = task / g.chunks, b = task - j * g.chunks, ch = g.first + j;
        size_t lo = b * g.chunk_len, hi = lo + g.chunk_len < g.s.voxels ? lo + g.chunk_len : g.s.voxels;
        double inter = 0.0, psum = 0.0, gsum = 0.0;
        for (size_t v = lo + threadIdx.x; v < hi; v += blockDim.x) {
            if (j == 0) label_ok(labels, v, c, bad);
            size_t i = v / sp;
            double pv = prob[(i * c + ch) * sp + (v - i * sp)], gv = labels[v] == ch ? 1.0 : 0.0;
            inter = __dadd_rn(inter, __dmul_rn(pv, gv));
            psum += pv;
            gsum += gv;
        }
        double s_inter = mrb_nn_block_sum(inter, sh);
        double s_p = mrb_nn_block_sum(psum, sh);
        double s_g = mrb_nn_block_sum(gsum, sh);
        if (threadIdx.x == 0) {
            partial[3 * task] = s_inter;
            partial[3 * task + 1] = s_p;
            partial[3 * task + 2] = s_g;
        }
    }
}

/* Dice stage 2 (one block): nd[2 j] = num, nd[2 j + 1] = den per class;
 * out[0] = sum_j num / den in class order (softmax.c:113-114). */
static __global__ void dice_finish_kernel(dice_geom g, const double *partial, double smooth, double *nd, double *out)
{
    for (size_t j = threadIdx.x; j < g.nc; j += blockDim.x) {
        double inter = 0.0, psum = 0.0, gsum = 0.0;
        for (size_t b = 0; b < g.chunks; b++) {
            const double *q = partial + 3 * (j * g.chunks + b);
            inter += q[0];
            psum += q[1];
            gsum += q[2];
        }
        nd[2 * j] = __dadd_rn(__dmul_rn(2.0, inter), smooth);
        nd[2 * j + 1] = psum + gsum + smooth;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (size_t j = 0; j < g.nc; j++) total += nd[2 * j] / nd[2 * j + 1];
        out[0] = total;
    }
}

/* prob grad -= (2 g den - num) / den^2 / nc for classes first..C-1
 * (softmax.c:115-121). */
static __global__ void dice_grad_kernel(dice_geom g, const uint8_t *labels, const double *nd, float *dp)
{
    size_t sp = g.s.sp, c = g.s.c;
    MRB_NN_FOR_EACH(idx, g.s.n * c * sp) {
        size_t plane = idx / sp, ch = plane % c;
        if (ch < g.first) continue;
        size_t i = plane / c, j = ch - g.first;
        double gv = labels[i * sp + (idx - plane * sp)] == ch ? 1.0 : 0.0;
        double num = nd[2 * j], den = nd[2 * j + 1];
        double d = __dsub_rn(__dmul_rn(__dmul_rn(2.0, gv), den), num) / __dmul_rn(den, den) / (double)g.nc;
        dp[idx] = __fsub_rn(dp[idx], (float)d);
    }
}

/* ------------------------------------------------------------- host side */

static softmax_geom geometry(const mrb_cuda_tensor *x)
{
    softmax_geom g;
    g.n = x->shape[0];
    g.c = x->shape[1];
    g.sp = mrb_cuda_tensor_count(x) / (g.n * g.c);
    g.voxels = g.n * g.sp;
    return g;
}

/* As check_same of softmax.c:8: [N, C, ...] (at least two axes), same shapes. */
static mrb_status check_same(const mrb_cuda_tensor *x, const mrb_cuda_tensor *y, const char *layer)
{
    MRB_TRY(mrb_nn_cuda_check_desc(x, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_desc(y, layer, "y"));
    char xs[64], ys[64];
    if (x->ndim < 2)
        return mrb_error(MRB_ERR_INVALID, "%s: input x (%s) is not [N, C, ...]", layer,
                         mrb_nn_cuda_shape_str(x, xs, sizeof xs));
    if (!mrb_nn_cuda_same_shape(x, y))
        return mrb_error(MRB_ERR_INVALID, "%s: output y (%s) differs from input x (%s)", layer,
                         mrb_nn_cuda_shape_str(y, ys, sizeof ys), mrb_nn_cuda_shape_str(x, xs, sizeof xs));
    return MRB_OK;
}

mrb_status mrb_cuda_nn_softmax_forward(const mrb_cuda_tensor *x, mrb_cuda_tensor *y)
{
    const char *layer = "cuda softmax forward";
    MRB_TRY(check_same(x, y, layer));
    MRB_TRY(mrb_nn_cuda_check_data(x, 0, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    softmax_geom g = geometry(x);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    softmax_forward_kernel<<<mrb_cuda_grid(g.voxels), MRB_CUDA_BLOCK, 0, st>>>(g, x->d_data, y->d_data);
    return MRB_CUDA_LAUNCH("softmax_forward_kernel");
}

mrb_status mrb_cuda_nn_softmax_backward(mrb_cuda_tensor *x, const mrb_cuda_tensor *y)
{
    const char *layer = "cuda softmax backward";
    MRB_TRY(check_same(x, y, layer));
    if (!x->d_grad || !y->d_grad) return MRB_OK; /* softmax.c:45 */
    MRB_TRY(mrb_nn_cuda_check_data(y, 1, layer, "y"));
    softmax_geom g = geometry(x);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    softmax_backward_kernel<<<mrb_cuda_grid(g.voxels), MRB_CUDA_BLOCK, 0, st>>>(g, y->d_data, y->d_grad, x->d_grad);
    return MRB_CUDA_LAUNCH("softmax_backward_kernel");
}

/* A loss's tensor ([N, C, ...]), labels and result pointer. */
static mrb_status check_loss(const mrb_cuda_tensor *t, const char *name, const uint8_t *d_labels, const double *loss,
                             const char *layer)
{
    MRB_TRY(mrb_nn_cuda_check_desc(t, layer, name));
    if (t->ndim < 2) {
        char buf[64];
        return mrb_error(MRB_ERR_INVALID, "%s: %s (%s) need [N, C, ...]", layer, name,
                         mrb_nn_cuda_shape_str(t, buf, sizeof buf));
    }
    if (!loss) return mrb_error(MRB_ERR_INVALID, "%s: no place for the loss (NULL)", layer);
    if (!d_labels) return mrb_error(MRB_ERR_INVALID, "%s: the labels are missing (NULL)", layer);
    return MRB_OK;
}

/* Stream-ordered scratch of `doubles` doubles followed by the bad-label
 * index (set to "none"). */
typedef struct loss_scratch {
    double *d;
    unsigned long long *bad;
} loss_scratch;

static mrb_status scratch_alloc(size_t doubles, cudaStream_t st, loss_scratch *s)
{
    s->d = NULL;
    s->bad = NULL;
    void *p = NULL;
    MRB_TRY(MRB_CUDA_CALL(cudaMallocAsync(&p, (doubles + 1) * sizeof(double), st)));
    s->d = (double *)p;
    s->bad = (unsigned long long *)(s->d + doubles);
    return MRB_CUDA_CALL(cudaMemsetAsync(s->bad, 0xFF, sizeof *s->bad, st));
}

/* Queues the scratch's release after the work queued so far; returns rc, or
 * the release's error when rc is MRB_OK. */
static mrb_status scratch_free(loss_scratch *s, cudaStream_t st, mrb_status rc)
{
    if (!s->d) return rc;
    if (rc != MRB_OK) {
        cudaFreeAsync(s->d, st); /* the first error is the one reported */
        return rc;
    }
    return MRB_CUDA_CALL(cudaFreeAsync(s->d, st));
}

/* *sum from d_sum and the label check's result (synchronises): MRB_OK, or
 * MRB_ERR_INVALID naming the first voxel with a label not below c. */
static mrb_status read_result(const loss_scratch *s, const double *d_sum, const uint8_t *d_labels, size_t c,
                              cudaStream_t st, const char *layer, double *sum)
{
    unsigned long long bad = MRB_NN_NO_BAD_LABEL;
    MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(sum, d_sum, sizeof *sum, cudaMemcpyDeviceToHost, st)));
    MRB_TRY(MRB_CUDA_CALL(cudaMemcpyAsync(&bad, s->bad, sizeof bad, cudaMemcpyDeviceToHost, st)));
    MRB_TRY(MRB_CUDA_CALL(cudaStreamSynchronize(st)));
    if (bad == MRB_NN_NO_BAD_LABEL) return MRB_OK;
    uint8_t label = 0;
    MRB_TRY(mrb_cuda_download(&label, d_labels + bad, 1));
    return mrb_error(MRB_ERR_INVALID, "%s: label %u at voxel %llu is not below the %zu classes", layer, (unsigned)label,
                     bad, c);
}

mrb_status mrb_cuda_nn_softmax_cross_entropy(mrb_cuda_tensor *logits, const uint8_t *d_labels, double *loss)
{
    const char *layer = "cuda cross-entropy";
    MRB_TRY(check_loss(logits, "logits", d_labels, loss, layer));
    MRB_TRY(mrb_nn_cuda_check_data(logits, 0, layer, "logits"));
    softmax_geom g = geometry(logits);
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    unsigned blocks = mrb_nn_reduce_blocks(g.voxels);
    loss_scratch s;
    double sum = 0.0;
    mrb_status rc = scratch_alloc((size_t)blocks + 1, st, &s);
    if (rc == MRB_OK) {
        ce_partials_kernel<<<blocks, MRB_CUDA_BLOCK, 0, st>>>(g, logits->d_data, d_labels, s.d, s.bad);
        rc = MRB_CUDA_LAUNCH("ce_partials_kernel");
    }
    if (rc == MRB_OK) {
        sum_partials_kernel<<<1, MRB_CUDA_BLOCK, 0, st>>>(s.d, blocks, s.d + blocks);
        rc = MRB_CUDA_LAUNCH("sum_partials_kernel");
    }
    if (rc == MRB_OK) rc = read_result(&s, s.d + blocks, d_labels, g.c, st, layer, &sum);
    if (rc == MRB_OK) {
        *loss = -sum / (double)g.voxels; /* s -= term, loss = s / M (softmax.c:85, 91) */
        if (logits->d_grad) {
            ce_grad_kernel<<<mrb_cuda_grid(g.voxels), MRB_CUDA_BLOCK, 0, st>>>(g, logits->d_data, d_labels,
                                                                               logits->d_grad);
            rc = MRB_CUDA_LAUNCH("ce_grad_kernel");
        }
    }
    return scratch_free(&s, st, rc);
}

mrb_status mrb_cuda_nn_soft_dice_loss(mrb_cuda_tensor *prob, const uint8_t *d_labels, size_t first_class, double smooth,
                                      double *loss)
{
    const char *layer = "cuda dice";
    MRB_TRY(check_loss(prob, "probabilities", d_labels, loss, layer));
    if (first_class >= prob->shape[1])
        return mrb_error(MRB_ERR_INVALID, "%s: first class %zu of %zu classes", layer, first_class, prob->shape[1]);
    MRB_TRY(mrb_nn_cuda_check_data(prob, 0, layer, "probabilities"));
    dice_geom g;
    g.s = geometry(prob);
    g.first = first_class;
    g.nc = g.s.c - first_class;
    g.chunks = mrb_nn_reduce_blocks(g.s.voxels);
    g.chunk_len = (g.s.voxels + g.chunks - 1) / g.chunks;
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    /* scratch: stage-1 partials, (num, den) per class, the sum of num / den */
    size_t npartial = 3 * g.nc * g.chunks;
    loss_scratch s;
    double sum = 0.0;
    mrb_status rc = scratch_alloc(npartial + 2 * g.nc + 1, st, &s);
    double *partial = s.d, *nd = s.d ? s.d + npartial : NULL, *total = nd ? nd + 2 * g.nc : NULL;
    if (rc == MRB_OK) {
        dice_partials_kernel<<<mrb_nn_task_grid(g.nc * g.chunks), MRB_CUDA_BLOCK, 0, st>>>(g, prob->d_data, d_labels,
                                                                                           partial, s.bad);
        rc = MRB_CUDA_LAUNCH("dice_partials_kernel");
    }
    if (rc == MRB_OK) {
        dice_finish_kernel<<<1, MRB_CUDA_BLOCK, 0, st>>>(g, partial, smooth, nd, total);
        rc = MRB_CUDA_LAUNCH("dice_finish_kernel");
    }
    if (rc == MRB_OK) rc = read_result(&s, total, d_labels, g.s.c, st, layer, &sum);
    if (rc == MRB_OK && !isfinite(sum)) /* a 0/0 class: as softmax.c, refused */
        rc = mrb_error(MRB_ERR_INVALID,
                       "%s: a class's ratio is not finite (NaN probabilities, or a class in "
                       "neither the labels nor the prediction with smooth %g)",
                       layer, smooth);
    if (rc == MRB_OK) {
        *loss = 1.0 - sum / (double)g.nc; /* softmax.c:123 */
        if (prob->d_grad) {
            dice_grad_kernel<<<mrb_cuda_grid(mrb_cuda_tensor_count(prob)), MRB_CUDA_BLOCK, 0, st>>>(g, d_labels, nd,
                                                                                                    prob->d_grad);
            rc = MRB_CUDA_LAUNCH("dice_grad_kernel");
        }
    }
    return scratch_free(&s, st, rc); /* queued after the gradient kernel that reads nd */
}
