/* The Deep Cascade's training steps on the GPU: the device behind
 * `mrbench train --device gpu` (mrb_cascade_train_opts.device). The CPU
 * training loop (baselines/recon/cascade/cascade_train.c) keeps everything
 * else: sample order, masks, minibatch assembly, checkpoints and resume.
 * Per step it uploads the minibatch's images and masks; the GPU derives the
 * masked k-space, zero-filled input and target (cuFFT), and runs forward,
 * loss, backward and the Adam step
 * (gpu/recon/cascade_cuda.cu, checked against the CPU engine by
 * tests/gpu/test_cuda_cascade.c and tests/gpu/test_cuda_train.c). Validation
 * items are reconstructed on the GPU with the current weights, through the
 * training's own buffers and plans. Weights and Adam moments go back to the
 * host at sync (each epoch, for the checkpoint) and come up at open (a
 * resumed run's state). */
#include <stdlib.h>
#include <string.h>

#include "mrb_cuda.h"
#include "recon/cascade/cascade_internal.h"

typedef struct train_gpu {
    mrb_cuda_cascade *g;
    mrb_adam_cfg adam;
    size_t batch, nx, ny, snt;
    size_t values; /* complex values per minibatch: batch x nx x ny x snt */
    float *d_images, *d_x0, *d_target, *d_ks, *d_mask, *d_dout;
    float *h_ks, *h_mask; /* validation staging: one minibatch, zero-padded */
} train_gpu;

static void train_gpu_close(void *state)
{
    train_gpu *s = state;
    if (!s) return;
    mrb_cuda_cascade_free(s->g);
    mrb_cuda_free(s->d_images);
    mrb_cuda_free(s->d_x0);
    mrb_cuda_free(s->d_target);
    mrb_cuda_free(s->d_ks);
    mrb_cuda_free(s->d_mask);
    mrb_cuda_free(s->d_dout);
    free(s->h_ks);
    free(s->h_mask);
    free(s);
}

/* The optimiser's moment buffers of tensor i (first moments at i, second at
 * n + i, as mrb_optim_state numbers them) as two pointer lists. */
static mrb_status moment_lists(mrb_optim *opt, float ***m, float ***v, size_t *n)
{
    size_t ns = mrb_optim_nstate(opt);
    *n = ns / 2;
    *m = calloc(*n ? *n : 1, sizeof **m);
    *v = calloc(*n ? *n : 1, sizeof **v);
    if (!*m || !*v) return mrb_error(MRB_ERR_NOMEM, "cascade training (GPU): out of memory");
    for (size_t i = 0; i < *n; i++) {
        size_t cnt;
        (*m)[i] = mrb_optim_state(opt, i, &cnt);
        (*v)[i] = mrb_optim_state(opt, *n + i, &cnt);
    }
    return MRB_OK;
}

static mrb_status transfer_moments(mrb_cuda_cascade *g, mrb_optim *opt, int to_device)
{
    float **m = NULL, **v = NULL;
    size_t n = 0;
    mrb_status st = moment_lists(opt, &m, &v, &n);
    if (st == MRB_OK) st = mrb_cuda_cascade_moments(g, m, v, n, to_device);
    free(m);
    free(v);
    return st;
}

static mrb_status train_gpu_open(mrb_cascade *net, mrb_optim *opt, const mrb_adam_cfg *adam, size_t batch, size_t nx,
                                 size_t ny, size_t snt, void **state)
{
    *state = NULL;
    train_gpu *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "cascade training (GPU): out of memory");
    s->adam = *adam;
    s->batch = batch;
    s->nx = nx;
    s->ny = ny;
    s->snt = snt;
    s->values = batch * nx * ny * snt;
    mrb_status st = mrb_cuda_cascade_create(net, &s->g);
    if (st == MRB_OK) st = mrb_cuda_cascade_prepare(s->g, batch, nx, ny, snt, 1);
    if (st == MRB_OK) st = transfer_moments(s->g, opt, 1);
    void *p;
    size_t planar = 2 * s->values * sizeof(float);
    if (st == MRB_OK) st = mrb_cuda_alloc(planar, &p), s->d_images = p;
    if (st == MRB_OK) st = mrb_cuda_alloc(planar, &p), s->d_x0 = p;
    if (st == MRB_OK) st = mrb_cuda_alloc(planar, &p), s->d_target = p;
    if (st == MRB_OK) st = mrb_cuda_alloc(planar, &p), s->d_ks = p;
    if (st == MRB_OK) st = mrb_cuda_alloc(planar, &p), s->d_dout = p;
    if (st == MRB_OK) st = mrb_cuda_alloc(s->values * sizeof(float), &p), s->d_mask = p;
    if (st == MRB_OK) {
        s->h_ks = malloc(planar);
        s->h_mask = malloc(s->values * sizeof(float));
        if (!s->h_ks || !s->h_mask) st = mrb_error(MRB_ERR_NOMEM, "out of memory");
    }
    if (st != MRB_OK) {
        train_gpu_close(s);
        return mrb_error_context(st, "cascade training (GPU)");
    }
    *state = s;
    return MRB_OK;
}

static mrb_status train_gpu_step(void *state, const float *images, const float *mask, uint64_t t, double *mse,
                                 double *weight_norm2)
{
    train_gpu *s = state;
    MRB_TRY(mrb_cuda_upload_async(s->d_images, images, 2 * s->values * sizeof(float)));
    MRB_TRY(mrb_cuda_upload_async(s->d_mask, mask, s->values * sizeof(float)));
    MRB_TRY(mrb_cuda_cascade_inputs(s->g, s->d_images, s->d_mask, s->d_ks, s->d_x0, s->d_target));
    const float *d_out;
    MRB_TRY(mrb_cuda_cascade_zero_grad(s->g));
    MRB_TRY(mrb_cuda_cascade_forward(s->g, s->d_x0, s->d_ks, s->d_mask, &d_out));
    /* mean over complex pixels of |e|^2 = 2 x the mean over the real entries (as the CPU step) */
    MRB_TRY(mrb_cuda_cascade_mse(s->g, d_out, s->d_target, 2.0f, s->d_dout, mse));
    MRB_TRY(mrb_cuda_cascade_backward(s->g, s->d_ks, s->d_mask, s->d_dout));
    MRB_TRY(mrb_cuda_cascade_adam(s->g, &s->adam, t));
    return mrb_cuda_cascade_weight_norm2(s->g, weight_norm2);
}

static mrb_status train_gpu_sync(void *state, mrb_cascade *net, mrb_optim *opt)
{
    train_gpu *s = state;
    MRB_TRY(mrb_cuda_cascade_download(s->g, net, 0));
    return transfer_moments(s->g, opt, 0);
}

/* One validation item on the training's network, buffers and plans: units
 * of nx x ny x snt values (2D: the item's frames; 2D+t: the series) go
 * through in minibatches, the last one padded with unsampled (zero) units
 * whose outputs are dropped; the cascade treats the samples of a minibatch
 * independently. The next step overwrites these buffers anyway. */
static mrb_status train_gpu_reconstruct(void *state, const mrb_array *kspace, const mrb_array *mask, mrb_array *image)
{
    train_gpu *s = state;
    char b1[64], b2[64];
    size_t unit = s->nx * s->ny * s->snt, vol = mrb_array_count(kspace);
    size_t frames = vol / (s->nx * s->ny);
    if (kspace->dtype != MRB_C64 || mask->dtype != MRB_F32 || image->dtype != MRB_C64 || kspace->ndim < 2 ||
        mask->ndim < 2 || kspace->dims[0] != s->nx || kspace->dims[1] != s->ny || mask->dims[0] != s->nx ||
        mask->dims[1] != s->ny || vol % unit || (s->snt > 1 && frames != s->snt) || mrb_array_count(mask) != vol ||
        mrb_array_count(image) != vol)
        return mrb_error(MRB_ERR_INVALID,
                         "cascade training (GPU): validation k-space %s and mask %s do not come in units of "
                         "%zux%zux%zu",
                         mrb_array_shape_str(kspace, b1, sizeof b1), mrb_array_shape_str(mask, b2, sizeof b2), s->nx,
                         s->ny, s->snt);
    const float *ks = kspace->data, *m = mask->data;
    float *img = image->data;
    for (size_t off = 0; off < vol; off += s->values) {
        size_t n = vol - off < s->values ? vol - off : s->values;
        mrb_cascade_mask_kspace(ks + 2 * off, m + off, n, s->h_ks);
        memcpy(s->h_mask, m + off, n * sizeof(float));
        memset(s->h_ks + 2 * n, 0, 2 * (s->values - n) * sizeof(float));
        memset(s->h_mask + n, 0, (s->values - n) * sizeof(float));
        MRB_TRY(mrb_cuda_upload(s->d_ks, s->h_ks, 2 * s->values * sizeof(float)));
        MRB_TRY(mrb_cuda_upload(s->d_mask, s->h_mask, s->values * sizeof(float)));
        MRB_TRY(mrb_cuda_cascade_reconstruct_device(s->g, s->d_ks, s->d_mask, s->d_x0, s->d_dout));
        MRB_TRY(mrb_cuda_download(img + 2 * off, s->d_dout, 2 * n * sizeof(float)));
    }
    return MRB_OK;
}

const mrb_cascade_train_device mrb_cuda_cascade_train_device = {
    .name = "cuda",
    .open = train_gpu_open,
    .step = train_gpu_step,
    .sync = train_gpu_sync,
    .reconstruct = train_gpu_reconstruct,
    .close = train_gpu_close,
};
