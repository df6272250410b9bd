/* GPU twins of the methods "cascade-2d" and "cascade-2dt"
 * (baselines/recon/cascade/cascade_method.c): the same parameters, weights
 * files and results, on cuDNN and cuFFT (gpu/recon/cascade_cuda.cu).
 *
 * setup (timed apart): reads the weights, uploads them, allocates the
 * activations and lets cuDNN time its algorithms for the input's shape.
 * run: masks the k-space on the host, uploads k-space and mask, reconstructs
 * (2D: the frames as batches; 2D+t: the whole series), downloads the image;
 * it returns when the image is in host memory. Its phases (upload, compute,
 * download) are CUDA-event times on the work stream. */
#include <stdlib.h>
#include <string.h>

#include "mrb_cuda.h"
#include "recon/cascade/cascade_internal.h"

typedef struct cascade_gpu {
    mrb_cascade *net;
    mrb_cuda_cascade *g;
    size_t nx, ny, nt, vol, chunk;
    float *h_y, *h_img;                 /* pinned */
    float *d_y, *d_mask, *d_x0, *d_img; /* device */
    mrb_cuda_timer *timer[3];
    double phase_s[3];
} cascade_gpu;

static const char *const phase_names[3] = {"upload", "compute", "download"};

static void cascade_gpu_teardown(void *state)
{
    cascade_gpu *s = state;
    if (!s) return;
    mrb_cuda_cascade_free(s->g);
    mrb_cascade_free(s->net);
    mrb_cuda_host_free(s->h_y);
    mrb_cuda_host_free(s->h_img);
    mrb_cuda_free(s->d_y);
    mrb_cuda_free(s->d_mask);
    mrb_cuda_free(s->d_x0);
    mrb_cuda_free(s->d_img);
    for (int i = 0; i < 3; i++) mrb_cuda_timer_free(s->timer[i]);
    free(s);
}

/* The largest divisor of nt not above max: every batch has one shape, so
 * cuDNN's algorithms are chosen once. */
static size_t batch_divisor(size_t nt, size_t max)
{
    size_t best = 1;
    for (size_t d = 1; d <= nt && d <= max; d++)
        if (nt % d == 0) best = d;
    return best;
}

static mrb_status cascade_gpu_setup(int temporal, const char *method, const mrb_params *p, const mrb_recon_input *in,
                                    void **state)
{
    *state = NULL;
    cascade_gpu *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "method %s (GPU): out of memory", method);
    mrb_status st = mrb_cascade_method_open(temporal, method, p, in, &s->net);
    const mrb_array *ks = in->kspace;
    s->nx = ks->dims[0];
    s->ny = ks->dims[1];
    s->nt = ks->ndim >= 3 ? ks->dims[2] : 1;
    s->vol = s->nx * s->ny * s->nt;
    if (st == MRB_OK) st = mrb_cuda_cascade_create(s->net, &s->g);
    if (st == MRB_OK) {
        size_t max = mrb_cuda_cascade_chunk(s->g, s->nx, s->ny, s->nt);
        s->chunk = temporal ? 1 : batch_divisor(s->nt, max);
        st = mrb_cuda_cascade_prepare(s->g, s->chunk, s->nx, s->ny, temporal ? s->nt : 1, 0);
    }
    size_t cbytes = 2 * s->vol * sizeof(float);
    size_t xbytes = 2 * (temporal ? s->vol : s->chunk * s->nx * s->ny) * sizeof(float);
    void *ptr;
    if (st == MRB_OK) st = mrb_cuda_host_alloc(cbytes, &ptr), s->h_y = ptr;
    if (st == MRB_OK) st = mrb_cuda_host_alloc(cbytes, &ptr), s->h_img = ptr;
    if (st == MRB_OK) st = mrb_cuda_alloc(cbytes, &ptr), s->d_y = ptr;
    if (st == MRB_OK) st = mrb_cuda_alloc(s->vol * sizeof(float), &ptr), s->d_mask = ptr;
    if (st == MRB_OK) st = mrb_cuda_alloc(xbytes, &ptr), s->d_x0 = ptr;
    if (st == MRB_OK) st = mrb_cuda_alloc(cbytes, &ptr), s->d_img = ptr;
    for (int i = 0; st == MRB_OK && i < 3; i++) st = mrb_cuda_timer_create(&s->timer[i]);
    if (st != MRB_OK) {
        cascade_gpu_teardown(s);
        return mrb_error_context(st, "method %s (GPU)", method);
    }
    *state = s;
    return MRB_OK;
}

static mrb_status cascade_2d_gpu_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    return cascade_gpu_setup(0, "cascade-2d", p, in, state);
}

static mrb_status cascade_2dt_gpu_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    return cascade_gpu_setup(1, "cascade-2dt", p, in, state);
}

static mrb_status cascade_gpu_run(void *state, const mrb_recon_input *in, mrb_array *out)
{
    cascade_gpu *s = state;
    char b1[64];
    if (out->dtype != MRB_C64 || mrb_array_count(out) != s->vol || mrb_array_count(in->kspace) != s->vol)
        return mrb_error(MRB_ERR_INVALID,
                         "cascade (GPU): output %s or k-space does not hold the %zux%zux%zu "
                         "complex pixels of set-up",
                         mrb_array_shape_str(out, b1, sizeof b1), s->nx, s->ny, s->nt);
    const float *m = in->mask->data;
    mrb_cascade_mask_kspace(in->kspace->data, m, s->vol, s->h_y);
    size_t cbytes = 2 * s->vol * sizeof(float);
    MRB_TRY(mrb_cuda_timer_start(s->timer[0]));
    MRB_TRY(mrb_cuda_upload_async(s->d_y, s->h_y, cbytes));
    MRB_TRY(mrb_cuda_upload_async(s->d_mask, m, s->vol * sizeof(float)));
    MRB_TRY(mrb_cuda_timer_stop(s->timer[0]));
    MRB_TRY(mrb_cuda_timer_start(s->timer[1]));
    int temporal = mrb_cascade_get_arch(s->net)->temporal;
    size_t per = temporal ? s->vol : s->chunk * s->nx * s->ny;
    for (size_t off = 0; off < s->vol; off += per)
        MRB_TRY(
            mrb_cuda_cascade_reconstruct_device(s->g, s->d_y + 2 * off, s->d_mask + off, s->d_x0, s->d_img + 2 * off));
    MRB_TRY(mrb_cuda_timer_stop(s->timer[1]));
    MRB_TRY(mrb_cuda_timer_start(s->timer[2]));
    MRB_TRY(mrb_cuda_download_async(s->h_img, s->d_img, cbytes));
    MRB_TRY(mrb_cuda_timer_stop(s->timer[2]));
    for (int i = 0; i < 3; i++) {
        double host;
        MRB_TRY(mrb_cuda_timer_elapsed(s->timer[i], &s->phase_s[i], &host));
    }
    memcpy(out->data, s->h_img, cbytes);
    return MRB_OK;
}

static size_t cascade_gpu_phases(void *state, const char **names, double *seconds, size_t max)
{
    cascade_gpu *s = state;
    size_t n = max < 3 ? max : 3;
    for (size_t i = 0; i < n; i++) {
        names[i] = phase_names[i];
        seconds[i] = s->phase_s[i];
    }
    return n;
}

const mrb_method_desc mrb_method_cascade_2d_cuda = {
    .name = "cascade-2d",
    .description = "Deep Cascade of CNNs, 2D, on the GPU (cuDNN, cuFFT; frames batched)",
    .params = mrb_cascade_method_params,
    .nparams = MRB_CASCADE_METHOD_NPARAMS,
    .setup = cascade_2d_gpu_setup,
    .run = cascade_gpu_run,
    .teardown = cascade_gpu_teardown,
    .phases = cascade_gpu_phases,
};

const mrb_method_desc mrb_method_cascade_2dt_cuda = {
    .name = "cascade-2dt",
    .description = "Deep Cascade of CNNs, 2D+t, on the GPU (cuDNN 3D convolutions, cuFFT data sharing)",
    .params = mrb_cascade_method_params,
    .nparams = MRB_CASCADE_METHOD_NPARAMS,
    .setup = cascade_2dt_gpu_setup,
    .run = cascade_gpu_run,
    .teardown = cascade_gpu_teardown,
    .phases = cascade_gpu_phases,
};
