/* Batch and instance normalisation on the GPU: the CUDA twin of
 * impl/nn/norm.c with its definitions (mrbench/nn.h).
 *
 * A group is the set of values that share statistics: per channel over N and
 * space (batch norm), per item and channel over space (instance norm). With
 * m values in a group (norm.c, line numbers in brackets):
 *   batch statistics (training; instance norm always [72]): the mean and the
 *   BIASED variance sum (x - mean)^2 / m, two passes in double [80-92];
 *   batch norm in training also updates the running statistics with the
 *   UNBIASED variance (m / (m - 1), the biased one when m = 1) and
 *   momentum 0.1 [93-97]; instance norm never touches them;
 *   evaluation (batch norm): the running statistics [98-101];
 *   invstd = 1 / sqrt(var + eps) (eps 1e-5) in double, rounded to float; the
 *   mean rounded to float; y = (x - mean) invstd gamma + beta in float [102-110].
 * Backward [115-166]: per group sdy = sum dy and sdyx = sum dy (x - mean)
 * invstd (float products, double sums); gamma grad += sdyx, beta grad += sdy
 * (per group in group order, rounded to float each time); dx += gamma invstd
 * (dy - sdy / m - xh sdyx / m) after batch statistics, gamma invstd dy
 * after running ones.
 *
 * The sums are two-stage: a group is split into chunks (a function of m
 * alone); one block reduces a chunk in a fixed tree; a second kernel adds a
 * group's chunk sums in chunk order. Float products and sums the CPU rounds
 * separately use the _rn intrinsics (no fused multiply-add). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "nn/nn_cuda.h"

typedef struct norm_geom {
    size_t n, c, sp;  /* items, channels, spatial volume */
    size_t count;     /* n * c * sp */
    size_t groups;    /* c (batch norm) or n * c (instance norm) */
    size_t per_group; /* values per group: n * sp or sp */
    size_t chunks;    /* chunks per group in the first reduction stage */
    size_t chunk_len; /* values per chunk (the last may hold fewer) */
    double m;         /* per_group as a double */
    int instance;
} norm_geom;

/* Channel and first item of group grp (norm.c:77-78). */
static __device__ __forceinline__ void group_of(const norm_geom &g, size_t grp, size_t *ch, size_t *first)
{
    *ch = g.instance ? grp % g.c : grp;
    *first = g.instance ? grp / g.c : 0;
}

/* Index in x of value e (0..per_group-1) of a group: item first + e / sp,
 * spatial position e % sp. */
static __device__ __forceinline__ size_t group_index(const norm_geom &g, size_t ch, size_t first, size_t e)
{
    size_t di = e / g.sp;
    return ((first + di) * g.c + ch) * g.sp + (e - di * g.sp);
}

/* Stage 1 of the mean (center NULL) and of the variance sum (center: the
 * groups' means): partial[grp * chunks + b] = sum over chunk b of x, or of
 * (x - center)^2, in double. */
static __global__ void norm_moment_partials_kernel(norm_geom g, const float *x, const double *center, double *partial)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    size_t tasks = g.groups * g.chunks;
    for (size_t task = blockIdx.x; task < tasks; task += gridDim.x) {
        size_t grp = task / g.chunks, b = task - grp * g.chunks, ch, first;
        group_of(g, grp, &ch, &first);
        size_t lo = b * g.chunk_len, hi = lo + g.chunk_len < g.per_group ? lo + g.chunk_len : g.per_group;
        double mean = center ? center[grp] : 0.0, acc = 0.0;
        for (size_t e = lo + threadIdx.x; e < hi; e += blockDim.x) {
            double v = x[group_index(g, ch, first, e)];
            acc = center ? __dadd_rn(acc, __dmul_rn(v - mean, v - mean)) : acc + v;
        }
        double sum = mrb_nn_block_sum(acc, sh);
        if (threadIdx.x == 0) partial[task] = sum;
    }
}

/* Stage 2 of the mean: mean[grp] = (chunk sums in order) / m (norm.c:86-87). */
static __global__ void norm_mean_kernel(norm_geom g, const double *partial, double *mean)
{
    MRB_NN_FOR_EACH(grp, g.groups) {
        double s = 0.0;
        for (size_t b = 0; b < g.chunks; b++) s += partial[grp * g.chunks + b];
        mean[grp] = s / g.m;
    }
}

/* Stage 2 of the variance; the running update (batch norm in training,
 * norm.c:93-97) and the saved statistics (102-104). */
static __global__ void norm_batch_stats_kernel(norm_geom g, const double *partial, const double *mean, double eps,
                                               double momentum, int update_running, float *running_mean,
                                               float *running_var, float *saved_mean, float *saved_invstd)
{
    MRB_NN_FOR_EACH(grp, g.groups) {
        double s2 = 0.0;
        for (size_t b = 0; b < g.chunks; b++) s2 += partial[grp * g.chunks + b];
        double var = s2 / g.m, mu = mean[grp];
        if (update_running) {                 /* batch norm: grp is the channel */
            double unbiased = s2 / (g.m - 1); /* m >= 2, checked by the host (norm.c) */
            running_mean[grp] =
                (float)__dadd_rn(__dmul_rn(1 - momentum, (double)running_mean[grp]), __dmul_rn(momentum, mu));
            running_var[grp] =
                (float)__dadd_rn(__dmul_rn(1 - momentum, (double)running_var[grp]), __dmul_rn(momentum, unbiased));
        }
        saved_invstd[grp] = (float)(1.0 / sqrt(var + eps));
        saved_mean[grp] = (float)mu;
    }
}

/* Evaluation with running statistics (norm.c:99-104); groups are channels. */
static __global__ void norm_running_stats_kernel(size_t channels, double eps, const float *running_mean,
                                                 const float *running_var, float *saved_mean, float *saved_invstd)
{
    MRB_NN_FOR_EACH(ch, channels) {
        double var = running_var[ch];
        saved_invstd[ch] = (float)(1.0 / sqrt(var + eps));
        saved_mean[ch] = running_mean[ch];
    }
}

/* y = (x - mu) inv gamma + beta in float, rounded step by step (norm.c:109).
 * y may equal x. */
static __global__ void norm_apply_kernel(norm_geom g, const float *x, const float *saved_mean,
                                         const float *saved_invstd, const float *gamma, const float *beta, float *y)
{
    MRB_NN_FOR_EACH(idx, g.count) {
        size_t plane = idx / g.sp, ch = plane % g.c, grp = g.instance ? plane : ch;
        float xh = __fmul_rn(__fsub_rn(x[idx], saved_mean[grp]), saved_invstd[grp]);
        y[idx] = __fadd_rn(__fmul_rn(xh, gamma[ch]), beta[ch]);
    }
}

/* Backward stage 1: partial[2 task] = sum dy, partial[2 task + 1] = sum
 * dy (x - mu) inv over the chunk (norm.c:135-141). */
static __global__ void norm_grad_partials_kernel(norm_geom g, const float *x, const float *dy, const float *saved_mean,
                                                 const float *saved_invstd, double *partial)
{
    __shared__ double sh[MRB_CUDA_BLOCK];
    size_t tasks = g.groups * g.chunks;
    for (size_t task = blockIdx.x; task < tasks; task += gridDim.x) {
        size_t grp = task / g.chunks, b = task - grp * g.chunks, ch, first;
        group_of(g, grp, &ch, &first);
        size_t lo = b * g.chunk_len, hi = lo + g.chunk_len < g.per_group ? lo + g.chunk_len : g.per_group;
        float mu = saved_mean[grp], inv = saved_invstd[grp];
        double sdy = 0.0, sdyx = 0.0;
        for (size_t e = lo + threadIdx.x; e < hi; e += blockDim.x) {
            size_t i = group_index(g, ch, first, e);
            float d = dy[i];
            sdy += d;
            sdyx += __fmul_rn(__fmul_rn(d, __fsub_rn(x[i], mu)), inv);
        }
        double s1 = mrb_nn_block_sum(sdy, sh);
        double s2 = mrb_nn_block_sum(sdyx, sh);
        if (threadIdx.x == 0) {
            partial[2 * task] = s1;
            partial[2 * task + 1] = s2;
        }
    }
}

/* Backward stage 2: gsum[2 grp] = sdy, gsum[2 grp + 1] = sdyx. */
static __global__ void norm_grad_sums_kernel(norm_geom g, const double *partial, double *gsum)
{
    MRB_NN_FOR_EACH(grp, g.groups) {
        double sdy = 0.0, sdyx = 0.0;
        for (size_t b = 0; b < g.chunks; b++) {
            sdy += partial[2 * (grp * g.chunks + b)];
            sdyx += partial[2 * (grp * g.chunks + b) + 1];
        }
        gsum[2 * grp] = sdy;
        gsum[2 * grp + 1] = sdyx;
    }
}

/* gamma grad += sdyx, beta grad += sdy per group, in group order (norm.c:159-163:
 * instance norm adds item 0's sums first, then item 1's, ...). */
static __global__ void norm_param_grad_kernel(norm_geom g, const double *gsum, float *gamma_grad, float *beta_grad)
{
    size_t reps = g.instance ? g.n : 1;
    MRB_NN_FOR_EACH(ch, g.c) {
        float gg = gamma_grad[ch], bg = beta_grad[ch];
        for (size_t j = 0; j < reps; j++) {
            size_t grp = j * g.c + ch; /* batch norm: j = 0, grp = ch */
            gg = __fadd_rn(gg, (float)gsum[2 * grp + 1]);
            bg = __fadd_rn(bg, (float)gsum[2 * grp]);
        }
        gamma_grad[ch] = gg;
        beta_grad[ch] = bg;
    }
}

/* dx += ..., norm.c:146-156. */
static __global__ void norm_dx_kernel(norm_geom g, int batch_stats, const float *x, const float *dy,
                                      const float *saved_mean, const float *saved_invstd, const float *gamma,
                                      const double *gsum, float *dx)
{
    MRB_NN_FOR_EACH(idx, g.count) {
        size_t plane = idx / g.sp, ch = plane % g.c, grp = g.instance ? plane : ch;
        float mu = saved_mean[grp], inv = saved_invstd[grp];
        float gi = __fmul_rn(gamma[ch], inv), d = dy[idx];
        if (batch_stats) {
            double xh = __fmul_rn(__fsub_rn(x[idx], mu), inv);
            double sdy = gsum[2 * grp], sdyx = gsum[2 * grp + 1];
            double inner = ((double)d - sdy / g.m) - __dmul_rn(xh, sdyx) / g.m;
            dx[idx] = __fadd_rn(dx[idx], (float)((double)gi * inner));
        } else {
            dx[idx] = __fadd_rn(dx[idx], __fmul_rn(gi, d));
        }
    }
}

/* ------------------------------------------------------------- host side */

/* As check of norm.c:50: x is [N, C, spatial...] with the layer's channels,
 * y has x's shape. */
static mrb_status check(const mrb_cuda_norm *b, const mrb_cuda_tensor *x, const mrb_cuda_tensor *y, const char *layer)
{
    if (!b) return mrb_error(MRB_ERR_INVALID, "%s: the layer is missing (NULL)", layer);
    MRB_TRY(mrb_nn_cuda_check_desc(x, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_desc(y, layer, "y"));
    char xs[64], ys[64];
    mrb_nn_cuda_shape_str(x, xs, sizeof xs);
    if (x->ndim < 3) return mrb_error(MRB_ERR_INVALID, "%s: input x (%s) is not [N, C, spatial...]", layer, xs);
    if (x->shape[1] != b->channels)
        return mrb_error(MRB_ERR_INVALID, "%s: input x (%s) has %zu channels, the layer %zu", layer, xs, x->shape[1],
                         b->channels);
    if (!mrb_nn_cuda_same_shape(x, y))
        return mrb_error(MRB_ERR_INVALID, "%s: output y (%s) differs from input x (%s)", layer,
                         mrb_nn_cuda_shape_str(y, ys, sizeof ys), xs);
    return MRB_OK;
}

static mrb_status check_params(const mrb_cuda_norm *b, const char *layer)
{
    if (!b->d_gamma || !b->d_beta || !b->d_gamma_grad || !b->d_beta_grad || !b->d_running_mean || !b->d_running_var)
        return mrb_error(MRB_ERR_INVALID, "%s: the layer has no device parameters (make it with mrb_cuda_norm_create)",
                         layer);
    return MRB_OK;
}

static norm_geom geometry(const mrb_cuda_norm *b, const mrb_cuda_tensor *x)
{
    norm_geom g;
    memset(&g, 0, sizeof g);
    g.n = x->shape[0];
    g.c = b->channels;
    g.count = mrb_cuda_tensor_count(x);
    g.sp = g.count / (g.n * g.c);
    g.instance = b->instance ? 1 : 0;
    g.groups = g.instance ? g.n * g.c : g.c;
    g.per_group = g.instance ? g.sp : g.n * g.sp;
    g.chunks = mrb_nn_reduce_blocks(g.per_group);
    g.chunk_len = (g.per_group + g.chunks - 1) / g.chunks;
    g.m = (double)g.per_group;
    return g;
}

/* Scratch: stage-1 partials (two per chunk) and two doubles per group. */
static mrb_status ensure_work(mrb_cuda_norm *b, const norm_geom *g)
{
    size_t need = (2 * g->groups * g->chunks + 2 * g->groups) * sizeof(double);
    if (b->work_cap >= need) return MRB_OK;
    mrb_cuda_free(b->d_work);
    b->d_work = NULL;
    b->work_cap = 0;
    MRB_TRY(mrb_cuda_alloc(need, &b->d_work));
    b->work_cap = need;
    return MRB_OK;
}

static mrb_status ensure_saved(mrb_cuda_norm *b, size_t groups)
{
    if (b->saved_cap >= groups) return MRB_OK;
    b->saved_ndim = 0; /* the statistics are lost: no backward until the next forward succeeds (norm.c) */
    mrb_cuda_free(b->d_mean);
    mrb_cuda_free(b->d_invstd);
    b->d_mean = b->d_invstd = NULL;
    b->saved_cap = 0;
    void *p = NULL, *q = NULL;
    mrb_status st = mrb_cuda_alloc(groups * sizeof(float), &p);
    if (st == MRB_OK) st = mrb_cuda_alloc(groups * sizeof(float), &q);
    b->d_mean = (float *)p;
    b->d_invstd = (float *)q;
    if (st == MRB_OK) b->saved_cap = groups;
    return st;
}

mrb_status mrb_cuda_norm_forward(mrb_cuda_norm *b, const mrb_cuda_tensor *x, int train, mrb_cuda_tensor *y)
{
    const char *layer = "cuda norm forward";
    MRB_TRY(check(b, x, y, layer));
    MRB_TRY(check_params(b, layer));
    MRB_TRY(mrb_nn_cuda_check_data(x, 0, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    norm_geom g = geometry(b, x);
    if ((train || b->instance) && g.per_group < 2) { /* as norm.c: statistics of one value */
        char xs[64];
        return mrb_error(MRB_ERR_INVALID, "%s: input x (%s) has one value per %s: its statistics are undefined", layer,
                         mrb_nn_cuda_shape_str(x, xs, sizeof xs), b->instance ? "item and channel" : "channel");
    }
    MRB_TRY(ensure_saved(b, g.groups));
    MRB_TRY(ensure_work(b, &g));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    int batch_stats = train || b->instance; /* norm.c:72 */
    b->saved_train = batch_stats;
    b->saved_ndim = x->ndim;
    memcpy(b->saved_shape, x->shape, sizeof b->saved_shape);
    if (batch_stats) {
        double *partial = (double *)b->d_work, *mean = partial + g.groups * g.chunks;
        unsigned tasks = mrb_nn_task_grid(g.groups * g.chunks);
        norm_moment_partials_kernel<<<tasks, MRB_CUDA_BLOCK, 0, st>>>(g, x->d_data, NULL, partial);
        MRB_TRY(MRB_CUDA_LAUNCH("norm_moment_partials_kernel (mean)"));
        norm_mean_kernel<<<mrb_cuda_grid(g.groups), MRB_CUDA_BLOCK, 0, st>>>(g, partial, mean);
        MRB_TRY(MRB_CUDA_LAUNCH("norm_mean_kernel"));
        norm_moment_partials_kernel<<<tasks, MRB_CUDA_BLOCK, 0, st>>>(g, x->d_data, mean, partial);
        MRB_TRY(MRB_CUDA_LAUNCH("norm_moment_partials_kernel (variance)"));
        norm_batch_stats_kernel<<<mrb_cuda_grid(g.groups), MRB_CUDA_BLOCK, 0, st>>>(
            g, partial, mean, b->eps, b->momentum, train && !b->instance, b->d_running_mean, b->d_running_var,
            b->d_mean, b->d_invstd);
        MRB_TRY(MRB_CUDA_LAUNCH("norm_batch_stats_kernel"));
    } else {
        norm_running_stats_kernel<<<mrb_cuda_grid(g.c), MRB_CUDA_BLOCK, 0, st>>>(
            g.c, b->eps, b->d_running_mean, b->d_running_var, b->d_mean, b->d_invstd);
        MRB_TRY(MRB_CUDA_LAUNCH("norm_running_stats_kernel"));
    }
    norm_apply_kernel<<<mrb_cuda_grid(g.count), MRB_CUDA_BLOCK, 0, st>>>(g, x->d_data, b->d_mean, b->d_invstd,
                                                                         b->d_gamma, b->d_beta, y->d_data);
    return MRB_CUDA_LAUNCH("norm_apply_kernel");
}

mrb_status mrb_cuda_norm_backward(mrb_cuda_norm *b, mrb_cuda_tensor *x, const mrb_cuda_tensor *y)
{
    const char *layer = "cuda norm backward";
    MRB_TRY(check(b, x, y, layer));
    if (!y->d_grad) return mrb_error(MRB_ERR_INVALID, "%s: output y has no gradient (backward needs it)", layer);
    if (b->saved_ndim == 0)
        return mrb_error(MRB_ERR_INVALID, "%s: backward before forward (no saved statistics)", layer);
    int same = b->saved_ndim == x->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = b->saved_shape[i] == x->shape[i];
    if (!same) {
        mrb_cuda_tensor saved;
        memset(&saved, 0, sizeof saved);
        saved.ndim = b->saved_ndim;
        memcpy(saved.shape, b->saved_shape, sizeof saved.shape);
        char xs[64], ss[64];
        return mrb_error(MRB_ERR_INVALID, "%s: input x (%s) is not the shape of the last forward's input (%s)", layer,
                         mrb_nn_cuda_shape_str(x, xs, sizeof xs), mrb_nn_cuda_shape_str(&saved, ss, sizeof ss));
    }
    MRB_TRY(check_params(b, layer));
    MRB_TRY(mrb_nn_cuda_check_data(x, 0, layer, "x"));
    norm_geom g = geometry(b, x);
    if (b->saved_cap < g.groups || !b->d_mean || !b->d_invstd)
        return mrb_error(MRB_ERR_INVALID, "%s: the saved statistics are missing", layer);
    MRB_TRY(ensure_work(b, &g));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    double *partial = (double *)b->d_work, *gsum = partial + 2 * g.groups * g.chunks;
    norm_grad_partials_kernel<<<mrb_nn_task_grid(g.groups * g.chunks), MRB_CUDA_BLOCK, 0, st>>>(
        g, x->d_data, y->d_grad, b->d_mean, b->d_invstd, partial);
    MRB_TRY(MRB_CUDA_LAUNCH("norm_grad_partials_kernel"));
    norm_grad_sums_kernel<<<mrb_cuda_grid(g.groups), MRB_CUDA_BLOCK, 0, st>>>(g, partial, gsum);
    MRB_TRY(MRB_CUDA_LAUNCH("norm_grad_sums_kernel"));
    norm_param_grad_kernel<<<mrb_cuda_grid(g.c), MRB_CUDA_BLOCK, 0, st>>>(g, gsum, b->d_gamma_grad, b->d_beta_grad);
    MRB_TRY(MRB_CUDA_LAUNCH("norm_param_grad_kernel"));
    if (!x->d_grad) return MRB_OK; /* parameter gradients only (norm.c:144) */
    norm_dx_kernel<<<mrb_cuda_grid(g.count), MRB_CUDA_BLOCK, 0, st>>>(
        g, b->saved_train, x->d_data, y->d_grad, b->d_mean, b->d_invstd, b->d_gamma, gsum, x->d_grad);
    return MRB_CUDA_LAUNCH("norm_dx_kernel");
}

/* Host floats of a parameter: NULL uploads zeros (the device buffer is
 * zeroed at allocation). */
static mrb_status upload_floats(float **d, const float *h, size_t n)
{
    void *p = NULL;
    MRB_TRY(mrb_cuda_alloc(n * sizeof(float), &p));
    *d = (float *)p;
    if (h) MRB_TRY(mrb_cuda_upload(p, h, n * sizeof(float)));
    return MRB_OK;
}

static mrb_status check_host_norm(const mrb_norm *h, const char *layer)
{
    if (!h) return mrb_error(MRB_ERR_INVALID, "%s: the CPU layer is missing (NULL)", layer);
    if (h->channels == 0 || !h->gamma || !h->beta || !h->running_mean || !h->running_var ||
        mrb_tensor_count(h->gamma) != h->channels || mrb_tensor_count(h->beta) != h->channels)
        return mrb_error(MRB_ERR_INVALID, "%s: the CPU layer is incomplete (make it with mrb_norm_create)", layer);
    return MRB_OK;
}

mrb_status mrb_cuda_norm_create(const mrb_norm *src, mrb_cuda_norm **out)
{
    const char *layer = "cuda norm create";
    *out = NULL;
    MRB_TRY(check_host_norm(src, layer));
    mrb_cuda_norm *b = (mrb_cuda_norm *)calloc(1, sizeof *b);
    if (!b) return mrb_error(MRB_ERR_NOMEM, "%s: out of host memory", layer);
    size_t c = src->channels;
    b->channels = c;
    b->instance = src->instance ? 1 : 0;
    b->eps = src->eps;
    b->momentum = src->momentum;
    mrb_status st = upload_floats(&b->d_gamma, src->gamma->data, c);
    if (st == MRB_OK) st = upload_floats(&b->d_beta, src->beta->data, c);
    if (st == MRB_OK) st = upload_floats(&b->d_gamma_grad, src->gamma->grad, c);
    if (st == MRB_OK) st = upload_floats(&b->d_beta_grad, src->beta->grad, c);
    if (st == MRB_OK) st = upload_floats(&b->d_running_mean, src->running_mean, c);
    if (st == MRB_OK) st = upload_floats(&b->d_running_var, src->running_var, c);
    if (st != MRB_OK) {
        mrb_cuda_norm_free(b);
        return st;
    }
    *out = b;
    return MRB_OK;
}

void mrb_cuda_norm_free(mrb_cuda_norm *b)
{
    if (!b) return;
    mrb_cuda_free(b->d_gamma);
    mrb_cuda_free(b->d_beta);
    mrb_cuda_free(b->d_gamma_grad);
    mrb_cuda_free(b->d_beta_grad);
    mrb_cuda_free(b->d_running_mean);
    mrb_cuda_free(b->d_running_var);
    mrb_cuda_free(b->d_mean);
    mrb_cuda_free(b->d_invstd);
    mrb_cuda_free(b->d_work);
    free(b);
}

mrb_status mrb_cuda_norm_zero_grad(mrb_cuda_norm *b)
{
    const char *layer = "cuda norm zero_grad";
    if (!b) return mrb_error(MRB_ERR_INVALID, "%s: the layer is missing (NULL)", layer);
    MRB_TRY(check_params(b, layer));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    MRB_TRY(MRB_CUDA_CALL(cudaMemsetAsync(b->d_gamma_grad, 0, b->channels * sizeof(float), st)));
    return MRB_CUDA_CALL(cudaMemsetAsync(b->d_beta_grad, 0, b->channels * sizeof(float), st));
}

mrb_status mrb_cuda_norm_download(const mrb_cuda_norm *b, mrb_norm *dst, int with_grads)
{
    const char *layer = "cuda norm download";
    if (!b) return mrb_error(MRB_ERR_INVALID, "%s: the layer is missing (NULL)", layer);
    MRB_TRY(check_host_norm(dst, layer));
    if (dst->channels != b->channels || (dst->instance ? 1 : 0) != (b->instance ? 1 : 0))
        return mrb_error(
            MRB_ERR_INVALID, "%s: the CPU layer (%zu channels, %s norm) differs from the GPU layer (%zu, %s)", layer,
            dst->channels, dst->instance ? "instance" : "batch", b->channels, b->instance ? "instance" : "batch");
    if (with_grads && (!dst->gamma->grad || !dst->beta->grad))
        return mrb_error(MRB_ERR_INVALID, "%s: the CPU layer's gamma or beta has no gradient", layer);
    MRB_TRY(check_params(b, layer));
    size_t bytes = b->channels * sizeof(float);
    MRB_TRY(mrb_cuda_download(dst->gamma->data, b->d_gamma, bytes));
    MRB_TRY(mrb_cuda_download(dst->beta->data, b->d_beta, bytes));
    MRB_TRY(mrb_cuda_download(dst->running_mean, b->d_running_mean, bytes));
    MRB_TRY(mrb_cuda_download(dst->running_var, b->d_running_var, bytes));
    if (with_grads) {
        MRB_TRY(mrb_cuda_download(dst->gamma->grad, b->d_gamma_grad, bytes));
        MRB_TRY(mrb_cuda_download(dst->beta->grad, b->d_beta_grad, bytes));
    }
    return MRB_OK;
}
