/* nn tensors, threads and weight initialisation. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/nn.h"

static int nn_threads = 1;

void mrb_nn_set_threads(int nthreads)
{
    nn_threads = nthreads > 0 ? nthreads : 1;
    openblas_set_num_threads(nn_threads);
}

int mrb_nn_threads(void)
{
    return nn_threads;
}

mrb_tensor *mrb_tensor_create(int ndim, const size_t *shape, int with_grad)
{
    if (ndim < 1 || ndim > MRB_NN_MAX_DIMS) {
        mrb_error(MRB_ERR_INVALID, "tensor: %d dimensions (expected 1..%d)", ndim, MRB_NN_MAX_DIMS);
        return NULL;
    }
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0 || count > SIZE_MAX / sizeof(float) / shape[i]) {
            mrb_error(MRB_ERR_INVALID, "tensor: invalid or too large dimension %d (%zu)", i, shape[i]);
            return NULL;
        }
        count *= shape[i];
    }
    mrb_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        mrb_error(MRB_ERR_NOMEM, "tensor: out of memory");
        return NULL;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->data = mrb_malloc(count * sizeof(float));
    if (with_grad) t->grad = mrb_malloc(count * sizeof(float));
    if (!t->data || (with_grad && !t->grad)) {
        mrb_tensor_free(t);
        mrb_error(MRB_ERR_NOMEM, "tensor: out of memory for %zu floats", count);
        return NULL;
    }
    return t;
}

mrb_tensor *mrb_tensor_create4(size_t n, size_t c, size_t h, size_t w, int with_grad)
{
    size_t s[4] = {n, c, h, w};
    return mrb_tensor_create(4, s, with_grad);
}

mrb_tensor *mrb_tensor_create5(size_t n, size_t c, size_t d, size_t h, size_t w, int with_grad)
{
    size_t s[5] = {n, c, d, h, w};
    return mrb_tensor_create(5, s, with_grad);
}

void mrb_tensor_free(mrb_tensor *t)
{
    if (!t) return;
    mrb_free(t->data);
    mrb_free(t->grad);
    free(t);
}

size_t mrb_tensor_count(const mrb_tensor *t)
{
    size_t c = 1;
    for (int i = 0; i < t->ndim; i++) c *= t->shape[i];
    return c;
}

void mrb_tensor_zero_grad(mrb_tensor *t)
{
    if (t && t->grad) memset(t->grad, 0, mrb_tensor_count(t) * sizeof(float));
}

int mrb_tensor_same_shape(const mrb_tensor *a, const mrb_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *mrb_tensor_shape_str(const mrb_tensor *t, char *buf, size_t len)
{
    size_t pos = 0;
    if (len == 0) return buf;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && pos < len; i++) {
        int k = snprintf(buf + pos, len - pos, i ? "x%zu" : "%zu", t->shape[i]);
        if (k < 0) break;
        pos += (size_t)k;
    }
    return buf;
}

void mrb_nn_init_he_normal(mrb_tensor *w, size_t fan_in, mrb_rng *rng)
{
    double sd = sqrt(2.0 / (double)(fan_in ? fan_in : 1));
    size_t n = mrb_tensor_count(w);
    for (size_t i = 0; i < n; i++) w->data[i] = (float)(sd * mrb_rng_normal(rng));
}

void mrb_nn_init_xavier_uniform(mrb_tensor *w, size_t fan_in, size_t fan_out, mrb_rng *rng)
{
    double a = sqrt(6.0 / (double)(fan_in + fan_out ? fan_in + fan_out : 1));
    size_t n = mrb_tensor_count(w);
    for (size_t i = 0; i < n; i++) w->data[i] = (float)(a * (2.0 * mrb_rng_uniform(rng) - 1.0));
}

void mrb_nn_complex_to_tensor(const float *cplx, mrb_tensor *t)
{
    /* t: [N, 2, (nt,) ny, nx]; cplx: N x [nx, ny, nt] interleaved. */
    size_t n = t->shape[0], plane = mrb_tensor_count(t) / (n * 2);
    for (size_t b = 0; b < n; b++) {
        float *re = t->data + (b * 2) * plane, *im = re + plane;
        const float *src = cplx + 2 * b * plane;
        for (size_t i = 0; i < plane; i++) {
            re[i] = src[2 * i];
            im[i] = src[2 * i + 1];
        }
    }
}

void mrb_nn_tensor_to_complex(const mrb_tensor *t, float *cplx)
{
    size_t n = t->shape[0], plane = mrb_tensor_count(t) / (n * 2);
    for (size_t b = 0; b < n; b++) {
        const float *re = t->data + (b * 2) * plane, *im = re + plane;
        float *dst = cplx + 2 * b * plane;
        for (size_t i = 0; i < plane; i++) {
            dst[2 * i] = re[i];
            dst[2 * i + 1] = im[i];
        }
    }
}
