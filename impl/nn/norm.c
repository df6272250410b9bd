/* Batch and instance normalisation with learnable scale and shift. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"

/* PyTorch BatchNorm / InstanceNorm defaults. */
#define NORM_EPS 1e-5
#define NORM_MOMENTUM 0.1

mrb_status mrb_norm_create(size_t channels, int instance, mrb_norm **out)
{
    *out = NULL;
    if (channels == 0) return mrb_error(MRB_ERR_INVALID, "norm: zero channels");
    mrb_norm *b = calloc(1, sizeof *b);
    if (!b) return mrb_error(MRB_ERR_NOMEM, "norm: out of memory");
    b->channels = channels;
    b->instance = instance ? 1 : 0;
    b->eps = NORM_EPS;
    b->momentum = NORM_MOMENTUM;
    b->gamma = mrb_tensor_create(1, &channels, 1);
    b->beta = mrb_tensor_create(1, &channels, 1);
    b->running_mean = mrb_malloc(channels * sizeof(float));
    b->running_var = mrb_malloc(channels * sizeof(float));
    if (!b->gamma || !b->beta || !b->running_mean || !b->running_var) {
        mrb_norm_free(b);
        return mrb_error(MRB_ERR_NOMEM, "norm: out of memory");
    }
    for (size_t c = 0; c < channels; c++) {
        b->gamma->data[c] = 1.0f;
        b->running_var[c] = 1.0f;
    }
    *out = b;
    return MRB_OK;
}

void mrb_norm_free(mrb_norm *b)
{
    if (!b) return;
    mrb_tensor_free(b->gamma);
    mrb_tensor_free(b->beta);
    mrb_free(b->running_mean);
    mrb_free(b->running_var);
    mrb_free(b->mean);
    mrb_free(b->invstd);
    free(b);
}

static mrb_status check(const mrb_norm *b, const mrb_tensor *x, const mrb_tensor *y)
{
    char buf[64];
    if (x->ndim < 3 || x->shape[1] != b->channels || !mrb_tensor_same_shape(x, y))
        return mrb_error(MRB_ERR_INVALID, "norm: tensor %s does not have %zu channels (or the output differs)",
                         mrb_tensor_shape_str(x, buf, sizeof buf), b->channels);
    return MRB_OK;
}

mrb_status mrb_norm_forward(mrb_norm *b, const mrb_tensor *x, int train, mrb_tensor *y)
{
    MRB_TRY(check(b, x, y));
    size_t n = x->shape[0], c = b->channels, sp = mrb_tensor_count(x) / (n * c);
    size_t groups = b->instance ? n * c : c;
    /* refusals first: the statistics saved for backward stay as they were */
    size_t per_group = (b->instance ? 1 : n) * sp;
    if ((train || b->instance) && per_group < 2) {
        char buf[64];
        return mrb_error(MRB_ERR_INVALID, "norm: input %s has one value per %s: its statistics are undefined",
                         mrb_tensor_shape_str(x, buf, sizeof buf), b->instance ? "item and channel" : "channel");
    }
    if (b->saved_cap < groups) {
        b->saved_ndim = 0; /* the statistics are lost: no backward until the next forward succeeds */
        mrb_free(b->mean);
        mrb_free(b->invstd);
        b->mean = mrb_malloc(groups * sizeof(float));
        b->invstd = mrb_malloc(groups * sizeof(float));
        b->saved_cap = b->mean && b->invstd ? groups : 0;
        if (!b->saved_cap) return mrb_error(MRB_ERR_NOMEM, "norm: out of memory");
    }
    int batch_stats = train || b->instance;
    b->saved_train = batch_stats;
    b->saved_ndim = x->ndim;
    memset(b->saved_shape, 0, sizeof b->saved_shape);
    memcpy(b->saved_shape, x->shape, (size_t)x->ndim * sizeof *x->shape);
    long ng = (long)groups;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long g = 0; g < ng; g++) {
        size_t ch = b->instance ? (size_t)g % c : (size_t)g;
        size_t items = b->instance ? 1 : n, first = b->instance ? (size_t)g / c : 0;
        double mean, var;
        if (batch_stats) {
            double s = 0, s2 = 0;
            for (size_t i = first; i < first + items; i++) {
                const float *p = x->data + (i * c + ch) * sp;
                for (size_t k = 0; k < sp; k++) s += p[k];
            }
            double m = (double)(items * sp);
            mean = s / m;
            for (size_t i = first; i < first + items; i++) {
                const float *p = x->data + (i * c + ch) * sp;
                for (size_t k = 0; k < sp; k++) s2 += (p[k] - mean) * (p[k] - mean);
            }
            var = s2 / m;
            if (train && !b->instance) {
                double unbiased = s2 / (m - 1); /* m >= 2, checked above */
                b->running_mean[ch] = (float)((1 - b->momentum) * b->running_mean[ch] + b->momentum * mean);
                b->running_var[ch] = (float)((1 - b->momentum) * b->running_var[ch] + b->momentum * unbiased);
            }
        } else {
            mean = b->running_mean[ch];
            var = b->running_var[ch];
        }
        float inv = (float)(1.0 / sqrt(var + b->eps)), mu = (float)mean;
        b->mean[g] = mu;
        b->invstd[g] = inv;
        float ga = b->gamma->data[ch], be = b->beta->data[ch];
        for (size_t i = first; i < first + items; i++) {
            const float *p = x->data + (i * c + ch) * sp;
            float *q = y->data + (i * c + ch) * sp;
            for (size_t k = 0; k < sp; k++) q[k] = (p[k] - mu) * inv * ga + be;
        }
    }
    return MRB_OK;
}

mrb_status mrb_norm_backward(mrb_norm *b, mrb_tensor *x, const mrb_tensor *y)
{
    MRB_TRY(check(b, x, y));
    if (!y->grad) return mrb_error(MRB_ERR_INVALID, "norm: backward needs the output gradient");
    if (!b->saved_cap) return mrb_error(MRB_ERR_INVALID, "norm: backward before forward");
    int same = x->ndim == b->saved_ndim;
    for (int i = 0; same && i < x->ndim; i++) same = x->shape[i] == b->saved_shape[i];
    if (!same) {
        char buf[64];
        return mrb_error(MRB_ERR_INVALID, "norm: backward input %s is not the shape of the last forward's input",
                         mrb_tensor_shape_str(x, buf, sizeof buf));
    }
    size_t n = x->shape[0], c = b->channels, sp = mrb_tensor_count(x) / (n * c);
    size_t groups = b->instance ? n * c : c;
    double *dgam = calloc(groups, sizeof *dgam), *dbet = calloc(groups, sizeof *dbet);
    if (!dgam || !dbet) {
        free(dgam);
        free(dbet);
        return mrb_error(MRB_ERR_NOMEM, "norm: out of memory");
    }
    long ng = (long)groups;
#pragma omp parallel for schedule(static) num_threads(mrb_nn_threads())
    for (long g = 0; g < ng; g++) {
        size_t ch = b->instance ? (size_t)g % c : (size_t)g;
        size_t items = b->instance ? 1 : n, first = b->instance ? (size_t)g / c : 0;
        float mu = b->mean[g], inv = b->invstd[g], ga = b->gamma->data[ch];
        double sdy = 0, sdyx = 0;
        for (size_t i = first; i < first + items; i++) {
            const float *p = x->data + (i * c + ch) * sp, *dy = y->grad + (i * c + ch) * sp;
            for (size_t k = 0; k < sp; k++) {
                sdy += dy[k];
                sdyx += dy[k] * (p[k] - mu) * inv;
            }
        }
        dgam[g] = sdyx;
        dbet[g] = sdy;
        if (!x->grad) continue;
        double m = (double)(items * sp);
        for (size_t i = first; i < first + items; i++) {
            const float *p = x->data + (i * c + ch) * sp, *dy = y->grad + (i * c + ch) * sp;
            float *dx = x->grad + (i * c + ch) * sp;
            for (size_t k = 0; k < sp; k++) {
                if (b->saved_train) {
                    double xh = (p[k] - mu) * inv;
                    dx[k] += (float)(ga * inv * (dy[k] - sdy / m - xh * sdyx / m));
                } else {
                    dx[k] += ga * inv * dy[k];
                }
            }
        }
    }
    for (size_t g = 0; g < groups; g++) {
        size_t ch = b->instance ? g % c : g;
        b->gamma->grad[ch] += (float)dgam[g];
        b->beta->grad[ch] += (float)dbet[g];
    }
    free(dgam);
    free(dbet);
    return MRB_OK;
}
