/* Max and average pooling, nearest-neighbour upsampling (2D and 3D). Spatial
 * axes are those after N and C; 2D is 3D with depth 1. Parallel over (item,
 * channel) planes, each owned by one thread. */
#include <math.h>
#include <string.h>

#include "mrbench/nn.h"

typedef struct sp {
    size_t planes;  /* N * C */
    size_t d, h, w; /* spatial */
} sp;

static sp spatial(const mrb_tensor *t)
{
    sp s = {t->shape[0] * t->shape[1], 1, t->shape[t->ndim - 2], t->shape[t->ndim - 1]};
    if (t->ndim == 5) s.d = t->shape[2];
    return s;
}

static mrb_status check_nd(const mrb_tensor *x, const char *what)
{
    char buf[64];
    if (x->ndim != 4 && x->ndim != 5)
        return mrb_error(MRB_ERR_INVALID, "%s: tensor %s is not NCHW or NCDHW", what,
                         mrb_tensor_shape_str(x, buf, sizeof buf));
    return MRB_OK;
}

mrb_status mrb_nn_pool_out_shape(const mrb_tensor *x, size_t k, size_t s, size_t shape[MRB_NN_MAX_DIMS])
{
    MRB_TRY(check_nd(x, "pool"));
    if (k == 0 || s == 0) return mrb_error(MRB_ERR_INVALID, "pool: window and stride must be >= 1");
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    for (int i = 2; i < x->ndim; i++) {
        if (x->shape[i] < k) {
            char buf[64];
            return mrb_error(MRB_ERR_INVALID, "pool: tensor %s is smaller than the %zu window",
                             mrb_tensor_shape_str(x, buf, sizeof buf), k);
        }
        shape[i] = (x->shape[i] - k) / s + 1;
    }
    return MRB_OK;
}

static mrb_status check_pool(const mrb_tensor *x, size_t k, size_t s, const mrb_tensor *y)
{
    size_t want[MRB_NN_MAX_DIMS];
    MRB_TRY(mrb_nn_pool_out_shape(x, k, s, want));
    for (int i = 0; i < x->ndim; i++)
        if (y->ndim != x->ndim || y->shape[i] != want[i]) {
            char buf[64];
            return mrb_error(MRB_ERR_INVALID, "pool: output tensor %s has the wrong shape",
                             mrb_tensor_shape_str(y, buf, sizeof buf));
        }
    return MRB_OK;
}

/* One window: index of the first maximum (max) or the mean (avg). */
static void pool_plane(mrb_pool_kind kind, const float *x, sp in, sp out, size_t k, size_t s, float *y, const float *dy,
                       float *dx)
{
    size_t kd = in.d == 1 ? 1 : k;
    float inv = 1.0f / (float)(kd * k * k);
    for (size_t od = 0; od < out.d; od++)
        for (size_t oh = 0; oh < out.h; oh++)
            for (size_t ow = 0; ow < out.w; ow++) {
                size_t o = (od * out.h + oh) * out.w + ow, best = 0;
                float acc = 0.0f, mx = 0.0f;
                int first = 1;
                for (size_t a = 0; a < kd; a++)
                    for (size_t b = 0; b < k; b++)
                        for (size_t c = 0; c < k; c++) {
                            size_t i = ((od * (in.d == 1 ? 1 : s) + a) * in.h + oh * s + b) * in.w + ow * s + c;
                            if (kind == MRB_POOL_MAX) {
                                /* the first maximum; a NaN wins and stays (PyTorch propagates NaN) */
                                if (first || x[i] > mx || (isnan(x[i]) && !isnan(mx))) {
                                    mx = x[i];
                                    best = i;
                                    first = 0;
                                }
                            } else {
                                if (dx) dx[i] += dy[o] * inv;
                                acc += x[i];
                            }
                        }
                if (kind == MRB_POOL_MAX) {
                    if (y) y[o] = mx;
                    if (dx) dx[best] += dy[o];
                } else if (y) {
                    y[o] = acc * inv;
                }
            }
}

static mrb_status pool_run(mrb_pool_kind kind, const mrb_tensor *x, size_t k, size_t s, const mrb_tensor *y,
                           float *yout, float *dx)
{
    MRB_TRY(check_pool(x, k, s, y));
    sp in = spatial(x), out = spatial(y);
    size_t ivol = in.d * in.h * in.w, ovol = out.d * out.h * out.w;
    long planes = (long)in.planes;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long p = 0; p < planes; p++)
        pool_plane(kind, x->data + (size_t)p * ivol, in, out, k, s, yout ? yout + (size_t)p * ovol : NULL,
                   dx ? y->grad + (size_t)p * ovol : NULL, dx ? dx + (size_t)p * ivol : NULL);
    return MRB_OK;
}

mrb_status mrb_nn_pool_forward(mrb_pool_kind kind, const mrb_tensor *x, size_t k, size_t s, mrb_tensor *y)
{
    return pool_run(kind, x, k, s, y, y->data, NULL);
}

mrb_status mrb_nn_pool_backward(mrb_pool_kind kind, mrb_tensor *x, size_t k, size_t s, const mrb_tensor *y)
{
    if (!x->grad || !y->grad) return check_pool(x, k, s, y);
    return pool_run(kind, x, k, s, y, NULL, x->grad);
}

static mrb_status check_up(const mrb_tensor *x, size_t f, const mrb_tensor *y)
{
    MRB_TRY(check_nd(x, "upsample"));
    int ok = f >= 1 && y->ndim == x->ndim && y->shape[0] == x->shape[0] && y->shape[1] == x->shape[1];
    for (int i = 2; ok && i < x->ndim; i++) ok = y->shape[i] == x->shape[i] * f;
    if (!ok) {
        char a[64], b[64];
        return mrb_error(MRB_ERR_INVALID, "upsample: %s is not %s upsampled by %zu",
                         mrb_tensor_shape_str(y, b, sizeof b), mrb_tensor_shape_str(x, a, sizeof a), f);
    }
    return MRB_OK;
}

static size_t up_src(sp in, size_t f, size_t fd, size_t o, sp out)
{
    size_t ow = o % out.w, oh = (o / out.w) % out.h, od = o / (out.w * out.h);
    return ((od / fd) * in.h + oh / f) * in.w + ow / f;
}

mrb_status mrb_nn_upsample_forward(const mrb_tensor *x, size_t factor, mrb_tensor *y)
{
    MRB_TRY(check_up(x, factor, y));
    sp in = spatial(x), out = spatial(y);
    size_t fd = x->ndim == 5 ? factor : 1, ivol = in.d * in.h * in.w, ovol = out.d * out.h * out.w;
    long planes = (long)in.planes;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long p = 0; p < planes; p++)
        for (size_t o = 0; o < ovol; o++)
            y->data[(size_t)p * ovol + o] = x->data[(size_t)p * ivol + up_src(in, factor, fd, o, out)];
    return MRB_OK;
}

mrb_status mrb_nn_upsample_backward(mrb_tensor *x, size_t factor, const mrb_tensor *y)
{
    MRB_TRY(check_up(x, factor, y));
    if (!x->grad || !y->grad) return MRB_OK;
    sp in = spatial(x), out = spatial(y);
    size_t fd = x->ndim == 5 ? factor : 1, ivol = in.d * in.h * in.w, ovol = out.d * out.h * out.w;
    long planes = (long)in.planes;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long p = 0; p < planes; p++)
        for (size_t o = 0; o < ovol; o++)
            x->grad[(size_t)p * ivol + up_src(in, factor, fd, o, out)] += y->grad[(size_t)p * ovol + o];
    return MRB_OK;
}
