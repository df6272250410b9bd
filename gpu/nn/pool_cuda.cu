/* Max and average pooling and nearest-neighbour upsampling on the GPU (2D and
 * 3D): the CUDA twins of impl/nn/pool.c with its conventions (mrbench/nn.h).
 *
 * Geometry (pool.c:13, 60): the spatial axes are those after N and C, 2D is
 * 3D with depth 1; window k and stride s on every spatial axis (depth too in
 * 3D), no padding, output length (in - k) / s + 1, so trailing inputs that
 * no window reaches get no gradient. Max pooling keeps the FIRST maximum of
 * a window in (d, h, w) order (a later value must be strictly greater,
 * pool.c:76) and routes the whole gradient to it; average pooling divides
 * by the full window volume.
 *
 * Forward passes are one thread per output element. The backward passes
 * gather: one thread per input element adds the contributions of the
 * windows that contain it in increasing output index, the order in which
 * the CPU's scatter loop (pool.c:88, 82, 162) adds them, so overlapping
 * windows need no atomics and both sides round alike. Max pooling's
 * backward first records each window's argmax (as its offset in the window)
 * in a stream-ordered scratch buffer. */
#include <stdint.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "nn/nn_cuda.h"

/* Sizes of one (item, channel) plane in and out and the window. 2D: id =
 * od = 1, kd = sd = 1 (the depth window of pool.c:63 and its stride, 74). */
typedef struct pool_geom {
    size_t planes;     /* N * C */
    size_t id, ih, iw; /* input plane */
    size_t od, oh, ow; /* output plane */
    size_t k, s;       /* window and stride in h and w */
    size_t kd, sd;     /* window and stride in depth */
} pool_geom;

/* Window volume fits the argmax offsets. */
typedef uint32_t window_offset;

static __global__ void pool_forward_kernel(pool_geom g, int is_max, const float *x, float *y, window_offset *argmax)
{
    size_t ivol = g.id * g.ih * g.iw, ovol = g.od * g.oh * g.ow;
    float inv = 1.0f / (float)(g.kd * g.k * g.k);
    MRB_NN_FOR_EACH(t, g.planes * ovol) {
        size_t p = t / ovol, o = t - p * ovol;
        size_t ow = o % g.ow, oh = (o / g.ow) % g.oh, od = o / (g.ow * g.oh);
        const float *xp = x + p * ivol;
        float acc = 0.0f, mx = 0.0f;
        window_offset best = 0, off = 0;
        int first = 1;
        for (size_t a = 0; a < g.kd; a++)
            for (size_t b = 0; b < g.k; b++)
                for (size_t c = 0; c < g.k; c++, off++) {
                    float v = xp[((od * g.sd + a) * g.ih + oh * g.s + b) * g.iw + ow * g.s + c];
                    if (is_max) {
                        /* the first maximum; a NaN wins and stays (pool.c) */
                        if (first || v > mx || (isnan(v) && !isnan(mx))) {
                            mx = v;
                            best = off;
                            first = 0;
                        }
                    } else {
                        acc += v;
                    }
                }
        if (is_max) {
            if (y) y[t] = mx;
            if (argmax) argmax[t] = best;
        } else {
            y[t] = acc * inv;
        }
    }
}

/* Windows (start o * s, length k, n of them) that contain position pos:
 * [*lo, *hi], or 0 when none does. */
static __device__ __forceinline__ int window_range(size_t pos, size_t k, size_t s, size_t n, size_t *lo, size_t *hi)
{
    *lo = pos + 1 >= k ? (pos + 1 - k + s - 1) / s : 0; /* ceil((pos - k + 1) / s) */
    *hi = pos / s;
    if (*hi > n - 1) *hi = n - 1;
    return *lo <= *hi;
}

/* dx += the gradient of every window containing the element, in increasing
 * window index: dy when the element is the window's argmax (max pooling,
 * argmax not NULL), dy / volume otherwise. */
static __global__ void pool_backward_kernel(pool_geom g, const window_offset *argmax, const float *dy, float *dx)
{
    size_t ivol = g.id * g.ih * g.iw, ovol = g.od * g.oh * g.ow;
    float inv = 1.0f / (float)(g.kd * g.k * g.k);
    MRB_NN_FOR_EACH(t, g.planes * ivol) {
        size_t p = t / ivol, i = t - p * ivol;
        size_t iw = i % g.iw, ih = (i / g.iw) % g.ih, id = i / (g.iw * g.ih);
        size_t d0, d1, h0, h1, w0, w1;
        if (!window_range(id, g.kd, g.sd, g.od, &d0, &d1) || !window_range(ih, g.k, g.s, g.oh, &h0, &h1) ||
            !window_range(iw, g.k, g.s, g.ow, &w0, &w1))
            continue;
        const float *dyp = dy + p * ovol;
        const window_offset *bp = argmax ? argmax + p * ovol : NULL;
        float acc = dx[t];
        for (size_t od = d0; od <= d1; od++)
            for (size_t oh = h0; oh <= h1; oh++)
                for (size_t ow = w0; ow <= w1; ow++) {
                    size_t o = (od * g.oh + oh) * g.ow + ow;
                    if (bp) {
                        size_t off = ((id - od * g.sd) * g.k + (ih - oh * g.s)) * g.k + (iw - ow * g.s);
                        if (bp[o] == (window_offset)off) acc = __fadd_rn(acc, dyp[o]);
                    } else {
                        acc = __fadd_rn(acc, __fmul_rn(dyp[o], inv));
                    }
                }
        dx[t] = acc;
    }
}

/* Nearest upsampling by f (fd in depth: f in 3D, 1 in 2D): output element
 * (od, oh, ow) reads input (od / fd, oh / f, ow / f) (pool.c:133). */
static __global__ void upsample_forward_kernel(pool_geom g, size_t f, size_t fd, const float *x, float *y)
{
    size_t ivol = g.id * g.ih * g.iw, ovol = g.od * g.oh * g.ow;
    MRB_NN_FOR_EACH(t, g.planes * ovol) {
        size_t p = t / ovol, o = t - p * ovol;
        size_t ow = o % g.ow, oh = (o / g.ow) % g.oh, od = o / (g.ow * g.oh);
        y[t] = x[p * ivol + ((od / fd) * g.ih + oh / f) * g.iw + ow / f];
    }
}

/* dx += the output gradients of the element's fd x f x f copies, in
 * increasing output index. */
static __global__ void upsample_backward_kernel(pool_geom g, size_t f, size_t fd, const float *dy, float *dx)
{
    size_t ivol = g.id * g.ih * g.iw, ovol = g.od * g.oh * g.ow;
    MRB_NN_FOR_EACH(t, g.planes * ivol) {
        size_t p = t / ivol, i = t - p * ivol;
        size_t iw = i % g.iw, ih = (i / g.iw) % g.ih, id = i / (g.iw * g.ih);
        const float *dyp = dy + p * ovol;
        float acc = dx[t];
        for (size_t a = 0; a < fd; a++)
            for (size_t b = 0; b < f; b++)
                for (size_t c = 0; c < f; c++)
                    acc = __fadd_rn(acc, dyp[((id * fd + a) * g.oh + ih * f + b) * g.ow + iw * f + c]);
        dx[t] = acc;
    }
}

/* ------------------------------------------------------------- host side */

/* NCHW or NCDHW (pool.c:20). */
static mrb_status check_nd(const mrb_cuda_tensor *x, const char *layer, const char *name)
{
    MRB_TRY(mrb_nn_cuda_check_desc(x, layer, name));
    char buf[64];
    if (x->ndim != 4 && x->ndim != 5)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor %s (%s) is not NCHW or NCDHW", layer, name,
                         mrb_nn_cuda_shape_str(x, buf, sizeof buf));
    return MRB_OK;
}

static mrb_status out_shape(const mrb_cuda_tensor *x, size_t k, size_t s, const char *layer,
                            size_t shape[MRB_NN_MAX_DIMS])
{
    MRB_TRY(check_nd(x, layer, "x"));
    if (k == 0 || s == 0)
        return mrb_error(MRB_ERR_INVALID, "%s: window (%zu) and stride (%zu) must be >= 1", layer, k, s);
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    for (int i = 2; i < x->ndim; i++) {
        if (x->shape[i] < k) {
            char buf[64];
            return mrb_error(MRB_ERR_INVALID, "%s: input x (%s) is smaller than the window %zu in axis %d", layer,
                             mrb_nn_cuda_shape_str(x, buf, sizeof buf), k, i);
        }
        shape[i] = (x->shape[i] - k) / s + 1;
    }
    return MRB_OK;
}

mrb_status mrb_cuda_nn_pool_out_shape(const mrb_cuda_tensor *x, size_t k, size_t s, size_t shape[MRB_NN_MAX_DIMS])
{
    return out_shape(x, k, s, "cuda pool", shape);
}

static pool_geom geometry(const mrb_cuda_tensor *x, const mrb_cuda_tensor *y)
{
    pool_geom g;
    memset(&g, 0, sizeof g);
    int nd = x->ndim;
    g.planes = x->shape[0] * x->shape[1];
    g.id = nd == 5 ? x->shape[2] : 1;
    g.ih = x->shape[nd - 2];
    g.iw = x->shape[nd - 1];
    g.od = nd == 5 ? y->shape[2] : 1;
    g.oh = y->shape[nd - 2];
    g.ow = y->shape[nd - 1];
    return g;
}

/* As check_pool (pool.c:46) plus the window's offsets fitting 32 bits. */
static mrb_status check_pool(const mrb_cuda_tensor *x, size_t k, size_t s, const mrb_cuda_tensor *y, const char *layer,
                             pool_geom *g)
{
    size_t want[MRB_NN_MAX_DIMS];
    MRB_TRY(out_shape(x, k, s, layer, want));
    MRB_TRY(mrb_nn_cuda_check_desc(y, layer, "y"));
    int ok = y->ndim == x->ndim;
    for (int i = 0; ok && i < x->ndim; i++) ok = y->shape[i] == want[i];
    if (!ok) {
        mrb_cuda_tensor w = *y;
        w.ndim = x->ndim;
        memcpy(w.shape, want, sizeof want);
        char buf[64], wbuf[64];
        return mrb_error(MRB_ERR_INVALID, "%s: output y (%s) has the wrong shape (window %zu stride %zu: %s)", layer,
                         mrb_nn_cuda_shape_str(y, buf, sizeof buf), k, s, mrb_nn_cuda_shape_str(&w, wbuf, sizeof wbuf));
    }
    *g = geometry(x, y);
    g->k = k;
    g->s = s;
    g->kd = g->id == 1 ? 1 : k;
    g->sd = g->id == 1 ? 1 : s;
    if (g->kd * k * k > (size_t)UINT32_MAX)
        return mrb_error(MRB_ERR_INVALID, "%s: window %zu has more than 2^32 elements", layer, k);
    return MRB_OK;
}

mrb_status mrb_cuda_nn_pool_forward(mrb_pool_kind kind, const mrb_cuda_tensor *x, size_t k, size_t s,
                                    mrb_cuda_tensor *y)
{
    const char *layer = "cuda pool forward";
    pool_geom g;
    MRB_TRY(check_pool(x, k, s, y, layer, &g));
    MRB_TRY(mrb_nn_cuda_check_data(x, 0, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    size_t n = mrb_cuda_tensor_count(y);
    pool_forward_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(g, kind == MRB_POOL_MAX, x->d_data, y->d_data,
                                                                     NULL);
    return MRB_CUDA_LAUNCH("pool_forward_kernel");
}

mrb_status mrb_cuda_nn_pool_backward(mrb_pool_kind kind, mrb_cuda_tensor *x, size_t k, size_t s,
                                     const mrb_cuda_tensor *y)
{
    const char *layer = "cuda pool backward";
    pool_geom g;
    MRB_TRY(check_pool(x, k, s, y, layer, &g));
    if (!x->d_grad || !y->d_grad) return MRB_OK; /* nothing to propagate (pool.c:116) */
    MRB_TRY(mrb_nn_cuda_check_data(x, 1, layer, "x"));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    size_t nin = mrb_cuda_tensor_count(x), nout = mrb_cuda_tensor_count(y);
    if (kind != MRB_POOL_MAX) {
        pool_backward_kernel<<<mrb_cuda_grid(nin), MRB_CUDA_BLOCK, 0, st>>>(g, NULL, y->d_grad, x->d_grad);
        return MRB_CUDA_LAUNCH("pool_backward_kernel");
    }
    window_offset *argmax = NULL;
    MRB_TRY(MRB_CUDA_CALL(cudaMallocAsync((void **)&argmax, nout * sizeof *argmax, st)));
    pool_forward_kernel<<<mrb_cuda_grid(nout), MRB_CUDA_BLOCK, 0, st>>>(g, 1, x->d_data, NULL, argmax);
    mrb_status rc = MRB_CUDA_LAUNCH("pool_forward_kernel (argmax)");
    if (rc == MRB_OK) {
        pool_backward_kernel<<<mrb_cuda_grid(nin), MRB_CUDA_BLOCK, 0, st>>>(g, argmax, y->d_grad, x->d_grad);
        rc = MRB_CUDA_LAUNCH("pool_backward_kernel");
    }
    mrb_status rf = MRB_CUDA_CALL(cudaFreeAsync(argmax, st));
    return rc != MRB_OK ? rc : rf;
}

/* As check_up (pool.c:120). */
static mrb_status check_up(const mrb_cuda_tensor *x, size_t f, const mrb_cuda_tensor *y, const char *layer,
                           pool_geom *g)
{
    MRB_TRY(check_nd(x, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_desc(y, layer, "y"));
    if (f < 1) return mrb_error(MRB_ERR_INVALID, "%s: factor must be >= 1", layer);
    int ok = y->ndim == x->ndim && y->shape[0] == x->shape[0] && y->shape[1] == x->shape[1];
    for (int i = 2; ok && i < x->ndim; i++) ok = x->shape[i] <= SIZE_MAX / f && y->shape[i] == x->shape[i] * f;
    if (!ok) {
        char a[64], b[64];
        return mrb_error(MRB_ERR_INVALID, "%s: output y (%s) is not input x (%s) upsampled by %zu", layer,
                         mrb_nn_cuda_shape_str(y, b, sizeof b), mrb_nn_cuda_shape_str(x, a, sizeof a), f);
    }
    *g = geometry(x, y);
    return MRB_OK;
}

mrb_status mrb_cuda_nn_upsample_forward(const mrb_cuda_tensor *x, size_t factor, mrb_cuda_tensor *y)
{
    const char *layer = "cuda upsample forward";
    pool_geom g;
    MRB_TRY(check_up(x, factor, y, layer, &g));
    MRB_TRY(mrb_nn_cuda_check_data(x, 0, layer, "x"));
    MRB_TRY(mrb_nn_cuda_check_data(y, 0, layer, "y"));
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    size_t fd = x->ndim == 5 ? factor : 1, n = mrb_cuda_tensor_count(y);
    upsample_forward_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(g, factor, fd, x->d_data, y->d_data);
    return MRB_CUDA_LAUNCH("upsample_forward_kernel");
}

mrb_status mrb_cuda_nn_upsample_backward(mrb_cuda_tensor *x, size_t factor, const mrb_cuda_tensor *y)
{
    const char *layer = "cuda upsample backward";
    pool_geom g;
    MRB_TRY(check_up(x, factor, y, layer, &g));
    if (!x->d_grad || !y->d_grad) return MRB_OK; /* pool.c:155 */
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    size_t fd = x->ndim == 5 ? factor : 1, n = mrb_cuda_tensor_count(x);
    upsample_backward_kernel<<<mrb_cuda_grid(n), MRB_CUDA_BLOCK, 0, st>>>(g, factor, fd, y->d_grad, x->d_grad);
    return MRB_CUDA_LAUNCH("upsample_backward_kernel");
}
