/* Element-wise layers: (leaky) ReLU, residual add, channel concatenation; and
 * the MSE and L1 losses. */
#include <math.h>
#include <string.h>

#include "mrbench/nn.h"

static mrb_status check_same(const mrb_tensor *a, const mrb_tensor *b, const char *what)
{
    if (mrb_tensor_same_shape(a, b)) return MRB_OK;
    char sa[64], sb[64];
    return mrb_error(MRB_ERR_INVALID, "%s: tensor shapes %s and %s differ", what,
                     mrb_tensor_shape_str(a, sa, sizeof sa), mrb_tensor_shape_str(b, sb, sizeof sb));
}

mrb_status mrb_nn_leaky_relu_forward(const mrb_tensor *x, mrb_tensor *y, float leak)
{
    MRB_TRY(check_same(x, y, "relu"));
    long n = (long)mrb_tensor_count(x);
    const float *xs = x->data;
    float *ys = y->data;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long i = 0; i < n; i++) ys[i] = xs[i] > 0.0f ? xs[i] : leak * xs[i];
    return MRB_OK;
}

mrb_status mrb_nn_leaky_relu_backward(mrb_tensor *x, const mrb_tensor *y, float leak)
{
    MRB_TRY(check_same(x, y, "relu"));
    if (!x->grad || !y->grad) return MRB_OK;
    long n = (long)mrb_tensor_count(x);
    const float *ys = y->data, *dy = y->grad;
    float *dx = x->grad;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long i = 0; i < n; i++) dx[i] += ys[i] > 0.0f ? dy[i] : leak * dy[i];
    return MRB_OK;
}

mrb_status mrb_nn_add_forward(const mrb_tensor *a, const mrb_tensor *b, mrb_tensor *y)
{
    MRB_TRY(check_same(a, b, "add"));
    MRB_TRY(check_same(a, y, "add"));
    long n = (long)mrb_tensor_count(a);
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long i = 0; i < n; i++) y->data[i] = a->data[i] + b->data[i];
    return MRB_OK;
}

mrb_status mrb_nn_add_backward(mrb_tensor *a, mrb_tensor *b, const mrb_tensor *y)
{
    MRB_TRY(check_same(a, b, "add"));
    MRB_TRY(check_same(a, y, "add"));
    if (!y->grad) return MRB_OK;
    long n = (long)mrb_tensor_count(a);
    for (int k = 0; k < 2; k++) {
        float *d = k ? b->grad : a->grad;
        if (!d) continue;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
        for (long i = 0; i < n; i++) d[i] += y->grad[i];
    }
    return MRB_OK;
}

static mrb_status concat_check(const mrb_tensor *const *xs, size_t n, const mrb_tensor *y, size_t *inner)
{
    size_t csum = 0;
    char buf[64];
    for (size_t k = 0; k < n; k++) {
        if (xs[k]->ndim != y->ndim || xs[k]->ndim < 2 || xs[k]->shape[0] != y->shape[0])
            return mrb_error(MRB_ERR_INVALID, "concat: input %zu (%s) does not match the output", k,
                             mrb_tensor_shape_str(xs[k], buf, sizeof buf));
        for (int i = 2; i < y->ndim; i++)
            if (xs[k]->shape[i] != y->shape[i])
                return mrb_error(MRB_ERR_INVALID, "concat: input %zu (%s) differs in a spatial axis", k,
                                 mrb_tensor_shape_str(xs[k], buf, sizeof buf));
        csum += xs[k]->shape[1];
    }
    if (csum != y->shape[1])
        return mrb_error(MRB_ERR_INVALID, "concat: %zu input channels for an output of %zu", csum, y->shape[1]);
    *inner = 1;
    for (int i = 2; i < y->ndim; i++) *inner *= y->shape[i];
    return MRB_OK;
}

mrb_status mrb_nn_concat_forward(const mrb_tensor *const *xs, size_t n, mrb_tensor *y)
{
    size_t inner;
    MRB_TRY(concat_check(xs, n, y, &inner));
    size_t ytot = y->shape[1] * inner;
    for (size_t b = 0; b < y->shape[0]; b++) {
        size_t off = 0;
        for (size_t k = 0; k < n; k++) {
            size_t len = xs[k]->shape[1] * inner;
            memcpy(y->data + b * ytot + off, xs[k]->data + b * len, len * sizeof(float));
            off += len;
        }
    }
    return MRB_OK;
}

mrb_status mrb_nn_concat_backward(mrb_tensor *const *xs, size_t n, const mrb_tensor *y)
{
    size_t inner;
    MRB_TRY(concat_check((const mrb_tensor *const *)xs, n, y, &inner));
    if (!y->grad) return MRB_OK;
    size_t ytot = y->shape[1] * inner;
    for (size_t b = 0; b < y->shape[0]; b++) {
        size_t off = 0;
        for (size_t k = 0; k < n; k++) {
            size_t len = xs[k]->shape[1] * inner;
            if (xs[k]->grad) {
                float *d = xs[k]->grad + b * len;
                const float *s = y->grad + b * ytot + off;
                for (size_t i = 0; i < len; i++) d[i] += s[i];
            }
            off += len;
        }
    }
    return MRB_OK;
}

mrb_status mrb_nn_mse_loss(mrb_tensor *pred, const mrb_tensor *target, float scale, double *loss)
{
    MRB_TRY(check_same(pred, target, "mse loss"));
    size_t n = mrb_tensor_count(pred);
    double s = 0.0;
    double g = 2.0 * scale / (double)n;
    for (size_t i = 0; i < n; i++) {
        double e = (double)pred->data[i] - (double)target->data[i];
        s += e * e;
        if (pred->grad) pred->grad[i] += (float)(g * e);
    }
    *loss = scale * s / (double)n;
    return MRB_OK;
}

mrb_status mrb_nn_l1_loss(mrb_tensor *pred, const mrb_tensor *target, double *loss)
{
    MRB_TRY(check_same(pred, target, "l1 loss"));
    size_t n = mrb_tensor_count(pred);
    double s = 0.0;
    float g = (float)(1.0 / (double)n);
    for (size_t i = 0; i < n; i++) {
        float e = pred->data[i] - target->data[i];
        s += fabs((double)e);
        if (pred->grad) pred->grad[i] += e > 0.0f ? g : (e < 0.0f ? -g : 0.0f);
    }
    *loss = s / (double)n;
    return MRB_OK;
}
