/* Device tensors for the nn layers on the GPU: the twin of the tensor part of
 * impl/nn/tensor.c (create, free, count, zero_grad) plus the copies between
 * host and device tensors (host code; no kernels). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda_check.h"
#include "mrb_cuda.h"
#include "mrbench/nn.h"
#include "nn/nn_cuda.h"

size_t mrb_cuda_tensor_count(const mrb_cuda_tensor *t)
{
    size_t c = 1;
    for (int i = 0; i < t->ndim; i++) c *= t->shape[i];
    return c;
}

mrb_status mrb_cuda_tensor_create(int ndim, const size_t *shape, int with_grad, mrb_cuda_tensor **out)
{
    *out = NULL;
    if (ndim < 1 || ndim > MRB_NN_MAX_DIMS)
        return mrb_error(MRB_ERR_INVALID, "cuda tensor: %d dimensions (expected 1..%d)", ndim, MRB_NN_MAX_DIMS);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0 || count > SIZE_MAX / sizeof(float) / shape[i])
            return mrb_error(MRB_ERR_INVALID, "cuda tensor: invalid or too large dimension %d (%zu)", i, shape[i]);
        count *= shape[i];
    }
    mrb_cuda_tensor *t = (mrb_cuda_tensor *)calloc(1, sizeof *t);
    if (!t) return mrb_error(MRB_ERR_NOMEM, "cuda tensor: out of host memory");
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    void *p = NULL;
    mrb_status st = mrb_cuda_alloc(count * sizeof(float), &p);
    t->d_data = (float *)p;
    if (st == MRB_OK && with_grad) {
        st = mrb_cuda_alloc(count * sizeof(float), &p);
        t->d_grad = (float *)p;
    }
    if (st != MRB_OK) {
        mrb_cuda_tensor_free(t);
        return st;
    }
    *out = t;
    return MRB_OK;
}

void mrb_cuda_tensor_free(mrb_cuda_tensor *t)
{
    if (!t) return;
    mrb_cuda_free(t->d_data);
    mrb_cuda_free(t->d_grad);
    free(t);
}

static mrb_status check_pair(const mrb_tensor *h, const mrb_cuda_tensor *d, int with_grad, const char *what)
{
    mrb_tensor dv = mrb_nn_cuda_shape_view(d);
    char a[64], b[64];
    if (!mrb_tensor_same_shape(h, &dv))
        return mrb_error(MRB_ERR_INVALID, "cuda tensor %s: host tensor %s and device tensor %s differ", what,
                         mrb_tensor_shape_str(h, a, sizeof a), mrb_tensor_shape_str(&dv, b, sizeof b));
    if (!h->data || !d->d_data)
        return mrb_error(MRB_ERR_INVALID, "cuda tensor %s: a %s tensor has no data", what, h->data ? "device" : "host");
    if (with_grad && (!h->grad || !d->d_grad))
        return mrb_error(MRB_ERR_INVALID, "cuda tensor %s: the %s tensor %s has no gradient", what,
                         h->grad ? "device" : "host", mrb_tensor_shape_str(h, a, sizeof a));
    return MRB_OK;
}

mrb_status mrb_cuda_tensor_upload(mrb_cuda_tensor *dst, const mrb_tensor *src, int with_grad)
{
    MRB_TRY(check_pair(src, dst, with_grad, "upload"));
    size_t bytes = mrb_tensor_count(src) * sizeof(float);
    MRB_TRY(mrb_cuda_upload(dst->d_data, src->data, bytes));
    if (with_grad) MRB_TRY(mrb_cuda_upload(dst->d_grad, src->grad, bytes));
    return MRB_OK;
}

mrb_status mrb_cuda_tensor_download(mrb_tensor *dst, const mrb_cuda_tensor *src, int with_grad)
{
    MRB_TRY(check_pair(dst, src, with_grad, "download"));
    size_t bytes = mrb_tensor_count(dst) * sizeof(float);
    MRB_TRY(mrb_cuda_download(dst->data, src->d_data, bytes));
    if (with_grad) MRB_TRY(mrb_cuda_download(dst->grad, src->d_grad, bytes));
    return MRB_OK;
}

mrb_status mrb_cuda_tensor_zero_grad(mrb_cuda_tensor *t)
{
    if (!t || !t->d_grad) return MRB_OK;
    cudaStream_t st;
    MRB_TRY(mrb_cuda_work_stream(&st));
    return MRB_CUDA_CALL(cudaMemsetAsync(t->d_grad, 0, mrb_cuda_tensor_count(t) * sizeof(float), st));
}
