/* Softmax over channels, softmax cross-entropy and the soft Dice loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"

static mrb_status check_same(const mrb_tensor *a, const mrb_tensor *b, const char *what)
{
    char sa[64], sb[64];
    if (a->ndim < 2 || !mrb_tensor_same_shape(a, b))
        return mrb_error(MRB_ERR_INVALID, "%s: tensors %s and %s differ", what, mrb_tensor_shape_str(a, sa, sizeof sa),
                         mrb_tensor_shape_str(b, sb, sizeof sb));
    return MRB_OK;
}

/* softmax over axis 1 of x at every (item, voxel) into y (may alias nothing). */
static void softmax(const float *x, size_t n, size_t c, size_t sp, float *y)
{
    long total = (long)(n * sp);
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long v = 0; v < total; v++) {
        size_t i = (size_t)v / sp, k = (size_t)v % sp;
        const float *p = x + i * c * sp + k;
        float *q = y + i * c * sp + k;
        float mx = p[0];
        for (size_t ch = 1; ch < c; ch++) mx = p[ch * sp] > mx ? p[ch * sp] : mx;
        double s = 0;
        for (size_t ch = 0; ch < c; ch++) s += exp((double)(p[ch * sp] - mx));
        for (size_t ch = 0; ch < c; ch++) q[ch * sp] = (float)(exp((double)(p[ch * sp] - mx)) / s);
    }
}

mrb_status mrb_nn_softmax_forward(const mrb_tensor *x, mrb_tensor *y)
{
    MRB_TRY(check_same(x, y, "softmax"));
    size_t n = x->shape[0], c = x->shape[1];
    softmax(x->data, n, c, mrb_tensor_count(x) / (n * c), y->data);
    return MRB_OK;
}

mrb_status mrb_nn_softmax_backward(mrb_tensor *x, const mrb_tensor *y)
{
    MRB_TRY(check_same(x, y, "softmax"));
    if (!x->grad || !y->grad) return MRB_OK;
    size_t n = x->shape[0], c = x->shape[1], sp = mrb_tensor_count(x) / (n * c);
    long total = (long)(n * sp);
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long v = 0; v < total; v++) {
        size_t i = (size_t)v / sp, k = (size_t)v % sp, base = i * c * sp + k;
        double dot = 0;
        for (size_t ch = 0; ch < c; ch++) dot += (double)y->grad[base + ch * sp] * y->data[base + ch * sp];
        for (size_t ch = 0; ch < c; ch++)
            x->grad[base + ch * sp] += (float)(y->data[base + ch * sp] * (y->grad[base + ch * sp] - dot));
    }
    return MRB_OK;
}

static mrb_status check_labels(const uint8_t *labels, size_t count, size_t c, const char *what)
{
    for (size_t i = 0; i < count; i++)
        if (labels[i] >= c)
            return mrb_error(MRB_ERR_INVALID, "%s: label %u at voxel %zu is not below the %zu classes", what,
                             (unsigned)labels[i], i, c);
    return MRB_OK;
}

mrb_status mrb_nn_softmax_cross_entropy(mrb_tensor *logits, const uint8_t *labels, double *loss)
{
    if (logits->ndim < 2) return mrb_error(MRB_ERR_INVALID, "cross-entropy: logits need [N, C, ...]");
    size_t n = logits->shape[0], c = logits->shape[1], sp = mrb_tensor_count(logits) / (n * c);
    MRB_TRY(check_labels(labels, n * sp, c, "cross-entropy"));
    float *p = mrb_malloc(mrb_tensor_count(logits) * sizeof(float));
    if (!p) return mrb_error(MRB_ERR_NOMEM, "cross-entropy: out of memory");
    softmax(logits->data, n, c, sp, p);
    double s = 0, m = (double)(n * sp);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sp; k++) {
            size_t lab = labels[i * sp + k], base = i * c * sp + k;
            /* log softmax from the logits, for accuracy at small probabilities */
            float mx = logits->data[base];
            for (size_t ch = 1; ch < c; ch++)
                mx = logits->data[base + ch * sp] > mx ? logits->data[base + ch * sp] : mx;
            double z = 0;
            for (size_t ch = 0; ch < c; ch++) z += exp((double)(logits->data[base + ch * sp] - mx));
            s -= (double)(logits->data[base + lab * sp] - mx) - log(z);
            if (logits->grad)
                for (size_t ch = 0; ch < c; ch++)
                    logits->grad[base + ch * sp] += (float)((p[base + ch * sp] - (ch == lab ? 1.0 : 0.0)) / m);
        }
    mrb_free(p);
    *loss = s / m;
    return MRB_OK;
}

mrb_status mrb_nn_soft_dice_loss(mrb_tensor *prob, const uint8_t *labels, size_t first_class, double smooth,
                                 double *loss)
{
    if (prob->ndim < 2) return mrb_error(MRB_ERR_INVALID, "dice: probabilities need [N, C, ...]");
    size_t n = prob->shape[0], c = prob->shape[1], sp = mrb_tensor_count(prob) / (n * c);
    if (first_class >= c) return mrb_error(MRB_ERR_INVALID, "dice: first class %zu of %zu classes", first_class, c);
    MRB_TRY(check_labels(labels, n * sp, c, "dice"));
    size_t nc = c - first_class;
    /* every class's ratio first: a refused class leaves the gradient untouched */
    double *nd = malloc(2 * nc * sizeof *nd);
    if (!nd) return mrb_error(MRB_ERR_NOMEM, "dice: out of memory");
    double total = 0;
    for (size_t j = 0; j < nc; j++) {
        size_t ch = first_class + j;
        double inter = 0, sp_sum = 0, sg = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < sp; k++) {
                double pv = prob->data[(i * c + ch) * sp + k], g = labels[i * sp + k] == ch;
                inter += pv * g;
                sp_sum += pv;
                sg += g;
            }
        double den = sp_sum + sg + smooth, num = 2 * inter + smooth;
        if (!(den > 0)) {
            free(nd);
            return mrb_error(MRB_ERR_INVALID,
                             "dice: class %zu: the denominator (probabilities + labels + smooth %g) "
                             "is %g (NaN probabilities, or a class in neither with smooth 0)",
                             ch, smooth, den);
        }
        nd[2 * j] = num;
        nd[2 * j + 1] = den;
        total += num / den;
    }
    for (size_t j = 0; prob->grad && j < nc; j++) {
        size_t ch = first_class + j;
        double num = nd[2 * j], den = nd[2 * j + 1];
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < sp; k++) {
                double g = labels[i * sp + k] == ch;
                /* d(num/den)/dp = (2 g den - num) / den^2; loss = 1 - mean */
                prob->grad[(i * c + ch) * sp + k] -= (float)((2 * g * den - num) / (den * den) / (double)nc);
            }
    }
    free(nd);
    *loss = 1.0 - total / (double)nc;
    return MRB_OK;
}
